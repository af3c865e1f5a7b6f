#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real-libvirtd soak: many start/destroy cycles with the hook
# installed, then nothing left behind.
#
# Same setup as test-libvirt.sh (libvirt-env.sh: demo host, simulated
# kernel, hook wrapper in /etc/libvirt/hooks/qemu.d, libvirtd restarted).
# This machine has no /dev/kvm, so a start with a <hostdev> fails after the
# prepare hook; the cycles mix
#   - domains naming a resource (an L40S-24Q vGPU, a whole A10, a T4 mdev):
#     the start runs prepare, QEMU setup fails, libvirt runs release;
#   - domains without a named device that really start under TCG and are
#     destroyed (the hook is called at every step and does nothing).
# Every cycle checks that the host is back to what it was; at the end: no
# lease but the reservations of the defined domains, the devices (drivers,
# profiles, mdevs) as before, the hook ran prepare and release for every
# start, no hook process left, the lease lock free, libvirtd's open files
# as before, and libvirtd still answers.
#
#   make soak      (VH_SOAK_CYCLES=200 by default; VH_SOAK_TRACE=1 prints
#                   the time at each cycle)
#   top_builddir=_build tests/integration/soak.sh
# Needs root, libvirtd and virsh; otherwise it says so and exits 77.
set -uo pipefail

cycles=${VH_SOAK_CYCLES:-200}
# shellcheck source=tests/integration/libvirt-env.sh
. "$(dirname "$0")/libvirt-env.sh"
vh_env_init "real-libvirtd soak" vh-soak-
started=$SECONDS

calls=$work/calls
vh_env_install_hook "$HOOK_DIR/50-vgpu-hook-soak"
# Counts what libvirtd asks of the hooks, per domain and operation.
cat > "$HOOK_DIR/60-vgpu-hook-soak-count" <<WRAP
#!/bin/sh
cat > /dev/null
echo "\$1 \$2" >> $calls
WRAP
chmod 755 "$HOOK_DIR/60-vgpu-hook-soak-count"
hooks+=("$HOOK_DIR/60-vgpu-hook-soak-count")
vh_env_restart_libvirtd || exit 1

failed=0
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# The devices as the host sees them (drivers, profiles, mdevs).
host_state() {
    (cd "$sys" &&
     stat -c '%N' bus/pci/devices/*/driver 2>/dev/null &&
     grep -H . bus/pci/devices/*/driver_override bus/pci/devices/*/nvidia/current_vgpu_type &&
     ls bus/mdev/devices 2>/dev/null)
}
host_state > "$work/pristine.state"
clean() { host_state | cmp -s - "$work/pristine.state"; }
active_leases() { grep -ls '^state=active' "$work"/state/leases/* 2>/dev/null; }

# Domains: three naming a resource (through vgpuctl define), one plain.
make_named() { # NAME RESOURCE [mdev]
    sed "s|@NAME@|$1|; s|@RESOURCE@|$2|" "$top_srcdir/tests/integration/vm-named.xml.in" > "$work/$1.xml"
    [ "${3:-}" = mdev ] && sed -i "s|type='pci' managed='no'|type='mdev' model='vfio-pci'|" "$work/$1.xml"
    domains+=("$1")
    vgpuctl define -c $URI "$work/$1.xml" >/dev/null || bad "vgpuctl define $1"
}
make_named vh-soak-vgpu nvidia.com/L40S-24Q
make_named vh-soak-gpu nvidia.com/GA102GL_A10
make_named vh-soak-mdev nvidia.com/GRID_T4-1Q mdev
sed -e "s|@NAME@|vh-soak-tcg|" -e '/<metadata>/,/<\/metadata>/d' -e '/<hostdev/,/<\/hostdev>/d' \
    -e "s|machine='q35'|machine='pc'|" \
    "$top_srcdir/tests/integration/vm-named.xml.in" > "$work/vh-soak-tcg.xml"
virsh -c $URI define "$work/vh-soak-tcg.xml" >/dev/null || bad "define vh-soak-tcg"
domains+=(vh-soak-tcg)

libvirtd_fds() { ls "/proc/$(pgrep -xo libvirtd)/fd" | wc -l; }
fds_before=$(libvirtd_fds)
named=0 plain=0
loop_started=$SECONDS
for i in $(seq "$cycles"); do
    [ -z "${VH_SOAK_TRACE:-}" ] || echo "cycle $i at $((SECONDS - loop_started))s"
    # One real start in eight: a TCG start + destroy costs about 3 s, a
    # start that fails after prepare under 1 s.
    case $((i % 8)) in
    0) d=vh-soak-tcg ;;
    1|4|7) d=vh-soak-vgpu ;;
    2|5) d=vh-soak-gpu ;;
    3|6) d=vh-soak-mdev ;;
    esac
    if [ $d = vh-soak-tcg ]; then
        plain=$((plain + 1))
        out=$(virsh -c $URI start $d 2>&1) || bad "cycle $i: $d did not start: $out"
        out=$(virsh -c $URI destroy $d 2>&1) || bad "cycle $i: $d did not stop: $out"
    else
        named=$((named + 1))
        if out=$(virsh -c $URI start $d 2>&1); then
            bad "cycle $i: $d started, but this host cannot pass devices through"
            virsh -c $URI destroy $d >/dev/null 2>&1
        fi
        # Our hook must not be the reason (it prepared; QEMU setup failed).
        grep -q '50-vgpu-hook-soak\|vgpu-hook: ' <<<"$out" && bad "cycle $i: $d: the hook failed: $out"
    fi
    clean || { bad "cycle $i: $d left the devices changed"; host_state | diff "$work/pristine.state" - | head -5; }
    [ -z "$(active_leases)" ] || bad "cycle $i: $d left an active lease: $(active_leases)"
    [ "$failed" -lt 10 ] || { echo "too many failures, stopping at cycle $i"; break; }
done
duration=$((SECONDS - started))

prepares=$(grep -c '^vh-soak-\(vgpu\|gpu\|mdev\) prepare$' "$calls")
releases=$(grep -c '^vh-soak-\(vgpu\|gpu\|mdev\) release$' "$calls")
[ "$prepares" = "$named" ] || bad "the hook ran prepare $prepares times for $named starts of named domains"
[ "$releases" = "$named" ] || bad "the hook ran release $releases times for $named starts of named domains"
[ "$(grep -c '^vh-soak-tcg release$' "$calls")" = "$plain" ] || bad "the TCG domain was not released $plain times"
clean || bad "the devices differ from before the soak"
for f in "$work"/state/leases/*; do
    [ -e "$f" ] || continue
    state=$(sed -n 's/^state=//p' "$f")
    dom=$(sed -n 's/^domain=//p' "$f")
    [ "$state" = reserved ] && virsh -c $URI domuuid "$dom" >/dev/null 2>&1 ||
        bad "lease ${f##*/} is $state for domain $dom (only reservations of defined domains may stay)"
done
ls "$work/state/leases" | grep -v '^[0-9a-f:.-]*$' | grep -q . && bad "temporary lease files left"
pgrep -f "$top_builddir/vgpu-hook" >/dev/null && bad "a vgpu-hook process is still running"
flock -n "$work/state/lock" true || bad "the lease lock is still held"
fds_after=$(libvirtd_fds)
[ "$fds_after" -le $((fds_before + 2)) ] || bad "libvirtd has $fds_after open files, $fds_before before the soak"
virsh -c $URI version >/dev/null 2>&1 || bad "libvirtd does not answer"
# Undefined domains' reservations go with leases --prune.
for d in "${domains[@]}"; do virsh -c $URI undefine "$d" >/dev/null 2>&1; done
vgpuctl leases --prune -c $URI >/dev/null || bad "leases --prune failed"
[ -z "$(ls -A "$work/state/leases")" ] || bad "leases left after undefine + prune: $(ls "$work/state/leases")"

echo "soak: $cycles cycles ($named starts naming a device, $plain TCG start/destroy) in ${duration}s," \
     "$(awk "BEGIN { printf \"%.2f\", $duration / $cycles }") s/cycle; libvirtd fds $fds_before -> $fds_after"
echo "$failed failures"
[ "$failed" -eq 0 ]

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-faults: kill the hook (and vgpuctl) at every fault point and check
# that both recovery paths restore a consistent host ("Faults" in README.md).
#
#   top_builddir=_build-fi tests/test-faults.sh     (make check sets it)
#
# Needs a build configured with --enable-fault-injection (plugin/vh-fault.h):
# other builds have no fault points, and the test exits 77 saying so.
#
# On a simulated host (tests/vh-fakehost + tests/libsimkernel.so), for
#   passthrough  a whole A10 with its HDMI audio function (IOMMU group 20),
#   vgpu         two L40S-24Q VFs of one GPU,
#   mdev         a GRID T4-16Q mdev,
# it runs prepare once with VH_FAULT_LIST to enumerate the points it passes
# (NAME, and NAME:N for the Nth pass), then for each one:
#   1. prepares again with VH_FAULT_KILL_AT=NAME:N (the hook dies by SIGKILL);
#   2. recovery (i): `vgpuctl reconcile` exits 0, says what it fixed when the
#      kill left anything behind (and "consistent" when not), and the host is
#      clean: devices as before the prepare, no active lease;
#   3. recovery (ii), from the same killed state: prepare of the same domain
#      succeeds and prepares everything, and its release leaves the host
#      clean; the same for another domain that wants the same devices.
# Then the same for a prepare of another domain that takes over the devices
# of a domain that died prepared (killed while undoing its changes), for
# release (killed half-way through its undo), for
# `vgpuctl prepare`, `vgpuctl bind` (reconcile leaves no half-bound group)
# and `vgpuctl apply-profiles` (reconcile never touches its static profiles;
# a second run completes them).
set -u

builddir=$(cd "${top_builddir:-.}" && pwd)
HOOK=$builddir/vgpu-hook
VGPUCTL=$builddir/vgpuctl
FAKEHOST=$builddir/tests/vh-fakehost
SHIM=$builddir/tests/.libs/libsimkernel.so

if ! grep -q '^#define VH_FAULT_INJECTION 1' "$builddir/config.h" 2>/dev/null; then
    echo "SKIP: test-faults: this build has no fault points. The fault tests need a test build:"
    echo "SKIP:   ./configure --enable-fault-injection && make check TESTS=tests/test-faults.sh"
    echo "SKIP: (scripts/test.sh configures its sanitizer build that way)"
    exit 77
fi
for f in "$HOOK" "$VGPUCTL" "$FAKEHOST" "$SHIM"; do
    [ -e "$f" ] || { echo "test-faults: $f is missing: build first (make check)" >&2; exit 99; }
done
# The programs themselves rather than libtool's wrapper scripts (what
# `libtool --mode=execute` runs): the test starts about a thousand of them.
# The hook's fault points are in its worker module, which the front end
# ($builddir/vgpu-hook, a program of its own: no wrapper script) loads for
# every domain here (each names devices).
LIBPATH=${LD_LIBRARY_PATH:-}
if [ -x "$builddir/.libs/vgpuctl" ]; then
    VGPUCTL=$builddir/.libs/vgpuctl
    LIBPATH=$builddir/plugin/.libs${LIBPATH:+:$LIBPATH}
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-faults.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
live=$tmp/live           # sys, dev, state, run: what the tools see
pristine=$tmp/pristine   # the host before any prepare
killed=$tmp/killed       # the host right after a kill
conf=$tmp/vgpu-hook.conf
out=$tmp/out
err=$tmp/err

printf '10de  NVIDIA Corporation\n\t1aef  GA102 High Definition Audio Controller\n\t2236  GA102GL [A10]\n' \
    >"$tmp/pci.ids"
mkdir -p "$pristine/dev/vfio" "$pristine/run" "$pristine/state"
srcdir=${top_srcdir:-$(dirname "$0")/..}
"$FAKEHOST" "$srcdir/tests/fault-host.ini" "$pristine/sys" || exit 99
cat >"$conf" <<EOF
[host]
sysfs_root=$live/sys
state_dir=$live/state
cache_dir=$live/cache
pci_ids=$tmp/pci.ids
use_hwdb=false
vfio_dir=$live/dev/vfio
libvirt_run_dir=$live/run
lease_grace_seconds=0
reset_retries=1
reset_retry_ms=10
EOF

check_quiet=1
# shellcheck source=tests/check.sh
. "$srcdir/tests/check.sh"

restore() { rm -rf "$live" && cp -a "$1" "$live"; }

# run TOOL ARGS...: a tool on the live host with the simulated kernel; $rc.
# (In a subshell, so that the kills are not reported as "Killed" lines.)
run() {
    (LD_LIBRARY_PATH=$LIBPATH LD_PRELOAD=$SHIM VH_SIM_SYSFS_ROOT=$live/sys VH_SIM_DEV_DIR=$live/dev "$@" >"$out" 2>"$err"
     rc=$?; exit $rc) 2>/dev/null
    rc=$?
}
hook() { local xml=$1; shift; run "$HOOK" --config "$conf" "$@" <"$xml"; }
ctl() { run "$VGPUCTL" --config "$conf" "$@"; }

# What a device looks like to the host: driver, driver_override, profile;
# and the mdevs. Leases are compared separately.
host_state() {
    local root=$1
    (cd "$root/sys" &&
     stat -c '%N' bus/pci/devices/*/driver 2>/dev/null |
        sed -E "s|^'bus/pci/devices/([^/]*)/driver' -> '.*/([^/]*)'\$|\1 driver \2|" &&
     grep -H . bus/pci/devices/*/driver_override bus/pci/devices/*/nvidia/current_vgpu_type |
        sed -E 's|^bus/pci/devices/([^/]*)/(nvidia/)?([a-z_]*):|\1 \3 |' &&
     ls bus/mdev/devices 2>/dev/null | sed 's/^/mdev /')
}
host_state "$pristine" >"$tmp/pristine.state"

same_as() { host_state "$live" | cmp -s - "$1"; }
active_leases() { grep -ls '^state=active' "$live"/state/leases/* 2>/dev/null; }

# Clean: the devices as before any prepare, no active lease.
clean() {
    host_state "$live" | cmp -s - "$tmp/pristine.state" && [ -z "$(active_leases)" ]
}
# Consistent: every IOMMU group all on vfio-pci or all on host drivers, no
# vfio-pci driver_override on a function that is not on vfio-pci.
consistent() {
    local g d drv vfio host
    for g in "$live"/sys/kernel/iommu_groups/*; do
        vfio=0 host=0
        for d in "$g"/devices/*; do
            [ -e "$d/driver_override" ] || continue
            drv=$(basename "$(readlink "$d/driver" 2>/dev/null)")
            [ "$(cat "$d/driver_override")" = vfio-pci ] && [ "$drv" != vfio-pci ] && return 1
            case $drv in vfio-pci) vfio=1 ;; '') ;; *) host=1 ;; esac
        done
        [ $vfio = 1 ] && [ $host = 1 ] && return 1
    done
    return 0
}
show_diff() {
    echo "    host now vs before the prepare:"
    host_state "$live" | diff "$tmp/pristine.state" - | sed 's/^/    /' | head -10
    active_leases | sed 's/^/    active lease: /'
}

# domain NAME N KIND: domain XML (UUID ...N) with the scenario's devices.
hostdev_pci() {
    local a=$1 alias=$2
    echo "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000'" \
         "bus='0x${a:5:2}' slot='0x${a:8:2}' function='0x${a:11:1}'/></source><alias name='$alias'/></hostdev>"
}
domain() {
    local name=$1 n=$2 kind=$3 meta devs
    case $kind in
    passthrough)
        meta='<vgpu:device alias="ua-gpu0" resource="nvidia.com/GA102GL_A10"/>'
        devs=$(hostdev_pci 0000:3b:00.0 ua-gpu0) ;;
    vgpu)
        meta='<vgpu:device alias="ua-gpu0" resource="nvidia.com/L40S-24Q"/><vgpu:device alias="ua-gpu1" resource="nvidia.com/L40S-24Q"/>'
        devs="$(hostdev_pci 0000:41:00.4 ua-gpu0)$(hostdev_pci 0000:41:00.5 ua-gpu1)" ;;
    mdev)
        meta='<vgpu:device alias="ua-gpu0" resource="nvidia.com/GRID_T4-16Q"/>'
        devs="<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address uuid='5b0e6f2a-0c1d-4e8f-9a7b-3c2d1e0f4a5b'/></source><alias name='ua-gpu0'/></hostdev>" ;;
    esac
    cat <<EOF
<domain type='kvm'><name>$name</name><uuid>00000000-0000-4000-8000-00000000000$n</uuid>
<metadata><vgpu:devices xmlns:vgpu="urn:vgpu-hook:1">$meta</vgpu:devices></metadata>
<memory unit='GiB'>4</memory><devices>$devs</devices></domain>
EOF
}

# prepared KIND: the scenario's devices are ready for a domain.
prepared() {
    local s=$live/sys/bus/pci/devices
    case $1 in
    passthrough) [ "$(basename "$(readlink "$s/0000:3b:00.0/driver")")" = vfio-pci ] &&
                 [ "$(basename "$(readlink "$s/0000:3b:00.1/driver")")" = vfio-pci ] &&
                 [ -e "$live/dev/vfio/20" ] ;;
    vgpu) [ "$(cat "$s/0000:41:00.4/nvidia/current_vgpu_type")" = 1161 ] &&
          [ "$(cat "$s/0000:41:00.5/nvidia/current_vgpu_type")" = 1161 ] ;;
    mdev) [ -d "$live/sys/bus/mdev/devices/5b0e6f2a-0c1d-4e8f-9a7b-3c2d1e0f4a5b" ] ;;
    esac
}

# points FILE: "NAME:N" for every pass through every point listed in FILE.
points() { awk '{ n[$0]++; print $0 ":" n[$0] }' "$1"; }

# enumerate FROM WHAT TOOL ARGS...: run once on host FROM with the fault
# list on; the points passed are in $tmp/list.
enumerate() {
    local from=$1 what=$2; shift 2
    restore "$from"
    rm -f "$tmp/list"
    VH_FAULT_LIST=$tmp/list "$@"
    check "$what without a fault succeeds (rc $rc)" test "$rc" = 0
    check "$what: the fault list names points" test -s "$tmp/list"
}

# kill_at FROM POINT WHAT TOOL ARGS...: run on host FROM, killed at POINT;
# the host it leaves is kept in $killed.
kill_at() {
    local from=$1 point=$2 what=$3; shift 3
    restore "$from"
    VH_FAULT_KILL_AT=$point "$@"
    check "$what @ $point: killed (rc $rc)" test "$rc" = 137
    rm -rf "$killed" && cp -a "$live" "$killed"
}

reconcile_recovers() { # WHAT DIRTY
    local what=$1 dirty=$2
    ctl reconcile --offline
    check "$what: reconcile exits 0 (rc $rc)" test "$rc" = 0
    if [ "$dirty" = yes ]; then
        check "$what: reconcile says what it fixed" \
            bash -c '[ -s "$1" ] && ! grep -q "^consistent" "$1"' _ "$out"
    else
        check "$what: reconcile finds nothing to fix" grep -q '^consistent: nothing to fix' "$out"
    fi
    if ! clean; then fail "$what: reconcile left the host unclean"; show_diff; else pass; fi
}

next_prepare_recovers() { # WHAT KIND XML
    local what=$1 kind=$2 xml=$3
    hook "$xml" "$(sed -n 's/.*<name>\(.*\)<\/name>.*/\1/p' "$xml")" prepare begin -
    check "$what: prepare succeeds (rc $rc)" test "$rc" = 0
    check "$what: the devices are prepared" prepared "$kind"
    hook "$xml" x release end -
    check "$what: its release succeeds (rc $rc)" test "$rc" = 0
    if ! clean; then fail "$what: host unclean after prepare + release"; show_diff; else pass; fi
}

# kill_prepare KIND FROM VICTIM OTHER LABEL: every fault point of the hook's
# prepare of domain VICTIM (vm-a or vm-b) on host FROM; OTHER is the other
# domain wanting the same devices.
kill_prepare() {
    local kind=$1 from=$2 v=$tmp/$1-$3.xml o=$tmp/$1-$4.xml label=$5 p dirty n=0
    enumerate "$from" "$kind: $label" hook "$v" "$3" prepare begin -
    for p in $(points "$tmp/list"); do
        n=$((n + 1))
        kill_at "$from" "$p" "$kind $label" hook "$v" "$3" prepare begin -
        dirty=yes
        clean && dirty=no
        reconcile_recovers "$kind $label @ $p (i)" "$dirty"
        restore "$killed"
        next_prepare_recovers "$kind $label @ $p (ii, same domain)" "$kind" "$v"
        restore "$killed"
        next_prepare_recovers "$kind $label @ $p (ii, another domain)" "$kind" "$o"
    done
    echo "$kind: $n kill points of $label ($(sort -u "$tmp/list" | tr '\n' ' '))"
}

# kill_takeover KIND: prepare of vm-b over the stale lease of vm-a, which
# died prepared: killed half-way through undoing vm-a's changes.
kill_takeover() {
    local kind=$1
    restore "$pristine"
    hook "$tmp/$kind-vm-a.xml" vm-a prepare begin -
    rm -rf "$tmp/stale" && cp -a "$live" "$tmp/stale"
    kill_prepare "$kind" "$tmp/stale" vm-b vm-a "takeover"
}

# kill_release KIND: every fault point of release after a good prepare.
kill_release() {
    local kind=$1 a=$tmp/$1-vm-a.xml p n=0
    restore "$pristine"
    hook "$a" vm-a prepare begin -
    rm -rf "$tmp/prepared" && cp -a "$live" "$tmp/prepared"
    enumerate "$tmp/prepared" "$kind: release" hook "$a" vm-a release end -
    for p in $(points "$tmp/list"); do
        n=$((n + 1))
        kill_at "$tmp/prepared" "$p" "$kind release" hook "$a" vm-a release end -
        reconcile_recovers "$kind release @ $p (i)" yes
        restore "$killed"
        hook "$a" vm-a release end -
        check "$kind release @ $p (ii): release again succeeds (rc $rc)" test "$rc" = 0
        if ! clean; then fail "$kind release @ $p (ii): unclean"; show_diff; else pass; fi
    done
    echo "$kind: $n kill points of release"
}

# VH_TEST_FAULT_KINDS="vgpu" runs only that scenario (and skips the vgpuctl
# parts): a quicker loop while changing one back end.
for kind in ${VH_TEST_FAULT_KINDS:-passthrough vgpu mdev}; do
    domain vm-a 1 "$kind" >"$tmp/$kind-vm-a.xml"
    domain vm-b 2 "$kind" >"$tmp/$kind-vm-b.xml"
    kill_prepare "$kind" "$pristine" vm-a vm-b prepare
    kill_release "$kind"
    kill_takeover "$kind"
done
if [ -n "${VH_TEST_FAULT_KINDS:-}" ]; then
    echo "$passed passed, $failed failed (only $VH_TEST_FAULT_KINDS)"
    [ "$failed" -eq 0 ]
    exit
fi

# Reconcile while domains run: their devices, and static profiles and mdevs
# nobody leased, are left alone.
restore "$pristine"
for kind in passthrough vgpu mdev; do
    hook "$tmp/$kind-vm-a.xml" vm-a prepare begin -
    check "running: prepare $kind (rc $rc)" test "$rc" = 0
done
touch "$live/run/vm-a.pid"  # libvirt's pid file: vm-a runs
printf '0000:42:00.4=L40S-24Q\n' >"$tmp/static"
ctl apply-profiles "$tmp/static"
# an mdev made by hand, without a lease:
(LD_PRELOAD=$SHIM VH_SIM_SYSFS_ROOT=$live/sys sh -c 'echo 0a0e6f2a-0c1d-4e8f-9a7b-3c2d1e0f4a5b > "$1"' _ \
    "$live/sys/bus/pci/devices/0000:b0:00.0/mdev_supported_types/nvidia-230/create") 2>/dev/null
host_state "$live" >"$tmp/running.state"
grep -q '^mdev 0a0e6f2a' "$tmp/running.state" || fail "running: the hand-made mdev was not created"
ctl reconcile --offline
check "running: reconcile finds nothing to fix" grep -q '^consistent: nothing to fix' "$out"
check "running: reconcile touched nothing" same_as "$tmp/running.state"
check "running: the static profile is there" grep -q '^0000:42:00.4 current_vgpu_type 1161$' "$tmp/running.state"
check "running: the leases stay active" test "$(active_leases | wc -l)" = 4
rm "$live/run/vm-a.pid"

# --dry-run and --json of reconcile, on a GPU killed half-way through binding
# its group (the GPU on vfio-pci, its audio function not yet).
kill_at "$pristine" vfio:probed:1 "dry run" hook "$tmp/passthrough-vm-a.xml" vm-a prepare begin -
host_state "$live" >"$tmp/killed.state"
ctl reconcile --offline --dry-run
check "reconcile --dry-run exits 0 (rc $rc)" test "$rc" = 0
check "reconcile --dry-run says what it would do" \
    grep -q "^would release 0000:3b:00.0 (domain 'vm-a' is not running): give 0000:3b:00.1 back to snd_hda_intel, give 0000:3b:00.0 back to nvidia; lease kept as a reservation" "$out"
check "reconcile --dry-run changes nothing" same_as "$tmp/killed.state"
check "reconcile --dry-run keeps the active lease" test -n "$(active_leases)"
ctl reconcile --offline --json
check "reconcile --json exits 0 (rc $rc)" test "$rc" = 0
check "reconcile --json reports the fix" /usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
f = r["fixes"]
assert r["consistent"] is False and r["dry_run"] is False, r
assert len(f) == 1 and f[0]["subject"] == "0000:3b:00.0" and f[0]["fixed"] is True, f
assert "0000:3b:00.0 back to nvidia" in f[0]["message"], f' "$out"
check "reconcile --json: clean afterwards" clean
ctl reconcile --offline --json
check "reconcile --json when consistent" grep -q '"consistent" : true' "$out"

# vgpuctl prepare runs the hook's code: killed the same way, reconcile fixes.
enumerate "$pristine" "vgpuctl prepare" ctl prepare "$tmp/vgpu-vm-a.xml"
n=0
for p in $(points "$tmp/list"); do
    n=$((n + 1))
    kill_at "$pristine" "$p" "vgpuctl prepare" ctl prepare "$tmp/vgpu-vm-a.xml"
    dirty=yes; clean && dirty=no
    reconcile_recovers "vgpuctl prepare @ $p" "$dirty"
done
echo "vgpuctl prepare: $n kill points"

# vgpuctl bind: no lease; a half-bound group is given back to the host.
enumerate "$pristine" "vgpuctl bind" ctl bind 0000:3b:00.0
n=0
for p in $(points "$tmp/list"); do
    n=$((n + 1))
    kill_at "$pristine" "$p" "vgpuctl bind" ctl bind 0000:3b:00.0
    half=no; consistent || half=yes
    ctl reconcile --offline
    check "vgpuctl bind @ $p: reconcile exits 0 (rc $rc)" test "$rc" = 0
    if [ $half = yes ]; then
        check "vgpuctl bind @ $p: reconcile names the group" grep -q 'IOMMU group 20' "$out"
        check "vgpuctl bind @ $p: group back on host drivers" clean
    fi
    if ! consistent; then fail "vgpuctl bind @ $p: still half-bound"; show_diff; else pass; fi
done
echo "vgpuctl bind: $n kill points"

# apply-profiles: its profiles are static (no lease); reconcile leaves them.
printf '0000:41:00.4=L40S-24Q\n0000:41:00.5=L40S-24Q\n' >"$tmp/profiles"
enumerate "$pristine" "apply-profiles" ctl apply-profiles "$tmp/profiles"
n=0
for p in $(points "$tmp/list"); do
    n=$((n + 1))
    kill_at "$pristine" "$p" "apply-profiles" ctl apply-profiles "$tmp/profiles"
    host_state "$live" >"$tmp/static.state"
    ctl reconcile --offline
    check "apply-profiles @ $p: reconcile finds nothing to fix" grep -q '^consistent' "$out"
    check "apply-profiles @ $p: reconcile kept the static profiles" same_as "$tmp/static.state"
    ctl apply-profiles "$tmp/profiles"
    check "apply-profiles @ $p: a second run completes (rc $rc)" prepared vgpu
done
echo "apply-profiles: $n kill points"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

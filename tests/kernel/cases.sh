#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The real-kernel tier's cases, run inside the guest by tests/kernel/init
# (chrooted into the host's root, mounted read-only over 9p). Argument: the
# work directory, shared read-write with the host; $WORK/env names the build
# and source directories. Prints "PASS: ..." / "FAIL: ..." lines and ends
# with "DONE"; tests/kernel/run.sh counts them.
#
# The guest (see run.sh): q35 with an emulated Intel IOMMU,
#   00:05.0 edu + 00:05.1 ich9-intel-hda   a "GPU + HDMI audio" pair, one group
#   a lone edu behind a pcie-root-port      a GPU in a slot of its own
#   an NVMe controller with sriov_max_vfs   an SR-IOV PF (VFs share its ids)
set -u
WORK=${1:?usage: cases.sh WORKDIR}
# shellcheck source=/dev/null
. "$WORK/env"
B=$VHK_BUILDDIR
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
SYS=/sys/bus/pci/devices
T=/tmp/vhk
mkdir -p $T/run
passed=0
failed=0

ok() { echo "PASS: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
note() { echo "   $*"; }
section() { echo "== $*"; }

# The built tools, without the libtool wrapper script (a shell script that
# costs seconds per run under TCG).
tool() {
    local name=$1
    shift
    if [ -x "$B/.libs/$name" ]; then
        LD_LIBRARY_PATH="$B/plugin/.libs" "$B/.libs/$name" "$@"
    else
        "$B/$name" "$@"
    fi
}
vgpuctl() { tool vgpuctl --config "${CONF:-$T/vgpu-hook.conf}" "$@"; }
hook() { tool vgpu-hook --config "${CONF:-$T/vgpu-hook.conf}" "$@"; }
vfio_open() { "$B/tests/kernel/vfio-open" /dev/vfio "$@"; }

# Sysfs through shell builtins only (every exec costs ~0.15 s under TCG):
# REPLY = the last component of the link's target, or "none".
link_name() {
    local here=$PWD
    if cd -P "$1" 2>/dev/null; then REPLY=${PWD##*/}; else REPLY=none; fi
    cd "$here" || return
}
driver_of() { link_name "$SYS/$1/driver"; echo "$REPLY"; }
group_of() { link_name "$SYS/$1/iommu_group"; echo "$REPLY"; }
attr() { local v; read -r v < "$SYS/$1/$2" && echo "$v"; }
# Every PCI function's driver and driver_override, one line each.
snapshot() {
    local d o
    for d in "$SYS"/*; do
        link_name "$d/driver"
        o=
        [ -r "$d/driver_override" ] && read -r o < "$d/driver_override"
        echo "${d##*/} driver=$REPLY override=$o"
    done
}
same_state() { # LABEL SNAPSHOT-BEFORE
    local now
    now=$(snapshot)
    if [ "$now" = "$2" ]; then
        ok "$1"
    else
        bad "$1"
        diff <(echo "$2") <(echo "$now") | sed 's/^/   /'
    fi
}
is_on() { [ "$(driver_of "$1")" = "$2" ]; }
find_dev() { # VENDOR DEVICE [sriov] -> first matching BDF not in slot 00:05
    local d v dv
    for d in "$SYS"/*; do
        read -r v < "$d/vendor"
        read -r dv < "$d/device"
        [ "$v:$dv" = "0x$1:0x$2" ] || continue
        [ -e "$d/physfn" ] && continue
        case ${d##*/} in 0000:00:05.*) continue ;; esac
        [ "${3:-}" = sriov ] && [ ! -e "$d/sriov_totalvfs" ] && continue
        echo "${d##*/}"
        return 0
    done
    return 1
}
run_out() { # FILE CMD... : run, stdout+stderr to FILE, return the exit code
    local file=$1
    shift
    "$@" > "$file" 2>&1
}
show() { sed 's/^/   | /' "$1"; }

GPU=0000:00:05.0
AUDIO=0000:00:05.1
LONE=$(find_dev 1234 11e8) || LONE=
PF=$(find_dev 1b36 0010 sriov) || PF=

write_config() { # FILE [deny]
    cat > "$1" <<CONF
[host]
sysfs_root=/sys
state_dir=$T/state
cache_dir=$T/cache
vfio_dir=/dev/vfio
libvirt_run_dir=$T/run
lease_grace_seconds=0
reset_retries=2
reset_retry_ms=100
deny=${2:-}

[resource "example.com/gpu-with-audio"]
kind=passthrough
selector=1234:11e8
address=$GPU

[resource "example.com/gpu"]
kind=passthrough
selector=1234:11e8
address=$LONE

[resource "example.com/nvme"]
kind=passthrough
selector=1b36:0010
CONF
}
# A domain naming resources: ALIAS=RESOURCE[@BDF] ... (with @BDF the
# <hostdev> has its <source> already, as after 'vgpuctl define').
write_domain() { # FILE NAME UUID SPEC...
    local file=$1 name=$2 uuid=$3 spec alias res bdf b s f
    shift 3
    {
        echo "<domain type='qemu'>"
        echo "  <name>$name</name>"
        echo "  <uuid>$uuid</uuid>"
        echo "  <metadata><vgpu:devices xmlns:vgpu=\"urn:vgpu-hook:1\">"
        for spec; do
            alias=${spec%%=*} res=${spec#*=}
            echo "    <vgpu:device alias=\"$alias\" resource=\"${res%@*}\"/>"
        done
        echo "  </vgpu:devices></metadata>"
        echo "  <memory unit='MiB'>64</memory><os><type arch='x86_64' machine='q35'>hvm</type></os>"
        echo "  <devices>"
        for spec; do
            alias=${spec%%=*} res=${spec#*=}
            echo "    <hostdev mode='subsystem' type='pci' managed='no'>"
            if [ "$res" != "${res%@*}" ]; then
                bdf=${res#*@}
                b=${bdf:5:2} s=${bdf:8:2} f=${bdf:11:1}
                echo "      <source><address domain='0x0000' bus='0x$b' slot='0x$s' function='0x$f'/></source>"
            fi
            echo "      <alias name='$alias'/>"
            echo "    </hostdev>"
        done
        echo "  </devices>"
        echo "</domain>"
    } > "$file"
}
lease_field_in() { # STATE_DIR KEY FIELD -> its value in the lease file, or "none"
    local line
    if [ -f "$1/leases/$2" ]; then
        while read -r line; do
            case $line in "$3="*) echo "${line#"$3="}"; return ;; esac
        done < "$1/leases/$2"
    fi
    echo none
}
lease_field() { lease_field_in "$T/state" "$@"; }
lease_state() { lease_field "$1" state; } # active|reserved|none

echo "== guest: $(uname -r); build: $B"
CONF=$T/vgpu-hook.conf
write_config "$CONF"

section "the guest's PCI topology"
G=$(group_of $GPU)
check "IOMMU on: $GPU is in IOMMU group $G" test "$G" != none
check "$AUDIO shares group $G (a GPU + HDMI audio pair)" test "$(group_of $AUDIO)" = "$G"
check "$AUDIO has a host driver (snd_hda_intel)" is_on $AUDIO snd_hda_intel
check "$GPU has no driver" is_on $GPU none
check "a lone edu behind a root port: $LONE" test -n "$LONE"
check "an SR-IOV capable NVMe PF: $PF" test -n "$PF"
check "vfio-pci is loaded" test -d /sys/bus/pci/drivers/vfio-pci
BOOT=$(snapshot)

section "vgpuctl validate before binding"
run_out $T/validate.txt vgpuctl validate
rc=$?
show $T/validate.txt
check "validate exits 0 (host ready)" test $rc -eq 0
check "validate: group $G viable once $AUDIO is bound" \
    grep -qi "^ok *$GPU .*IOMMU group $G viable once bound to vfio-pci: $AUDIO (snd_hda_intel)" $T/validate.txt

section "vgpuctl bind / unbind of the pair"
run_out $T/out.txt vgpuctl bind $GPU
rc=$?
show $T/out.txt
check "bind $GPU exits 0" test $rc -eq 0
check "$GPU on vfio-pci" is_on $GPU vfio-pci
check "$AUDIO on vfio-pci (companion)" is_on $AUDIO vfio-pci
check "/dev/vfio/$G exists" test -c /dev/vfio/$G
run_out $T/out.txt vfio_open "$G" $GPU $AUDIO
rc=$?
show $T/out.txt
check "the kernel: group $G viable, both functions open through VFIO" test $rc -eq 0
run_out $T/validate.txt vgpuctl validate
show $T/validate.txt
check "validate: group $G viable (all on vfio-pci)" \
    grep -qi "^ok *$GPU .*IOMMU group $G viable (all on vfio-pci)" $T/validate.txt
run_out $T/out.txt vgpuctl bind $GPU
rc=$?
show $T/out.txt
check "bind again: exit 0, nothing to do" test $rc -eq 0 -a "$(driver_of $AUDIO)" = vfio-pci
run_out $T/out.txt vgpuctl unbind $GPU
rc=$?
show $T/out.txt
check "unbind $GPU exits 0" test $rc -eq 0
same_state "unbind restored every driver exactly ($AUDIO snd_hda_intel, $GPU none)" "$BOOT"
check "/dev/vfio/$G is gone" test ! -e /dev/vfio/$G

section "vgpuctl bind / unbind of a lone GPU behind a root port"
if [ -n "$LONE" ]; then
    LG=$(group_of "$LONE")
    run_out $T/out.txt vgpuctl bind "$LONE"
    rc=$?
    show $T/out.txt
    check "bind $LONE exits 0" test $rc -eq 0
    check "$LONE on vfio-pci, /dev/vfio/$LG exists" test "$(driver_of "$LONE")" = vfio-pci -a -c /dev/vfio/$LG
    run_out $T/out.txt vfio_open "$LG" "$LONE"
    rc=$?
    show $T/out.txt
    check "the kernel: group $LG viable, $LONE opens through VFIO" test $rc -eq 0
    run_out $T/out.txt vgpuctl unbind "$LONE"
    rc=$?
    check "unbind $LONE exits 0" test $rc -eq 0
    same_state "unbind restored every driver exactly" "$BOOT"
fi

section "a group with a denied device: refused, nothing changed"
DENY_CONF=$T/deny.conf
write_config "$DENY_CONF" "$AUDIO"
CONF=$DENY_CONF run_out $T/out.txt vgpuctl bind $GPU
rc=$?
show $T/out.txt
check "bind $GPU refused (exit $rc)" test $rc -ne 0
check "the refusal names $AUDIO and the deny list" grep -q "deny.* lists $AUDIO" $T/out.txt
same_state "nothing changed after the refused bind" "$BOOT"
write_domain $T/deny-vm.xml vhk-deny 6f1f6c52-0d6a-4c1e-9a57-000000000001 "ua-gpu0=example.com/gpu-with-audio@$GPU"
CONF=$DENY_CONF run_out $T/out.txt vgpuctl prepare $T/deny-vm.xml
rc=$?
show $T/out.txt
check "prepare refused (exit $rc), naming $AUDIO" test $rc -ne 0 -a -n "$(grep "$AUDIO" $T/out.txt)"
same_state "nothing changed after the refused prepare" "$BOOT"
check "no lease left active for $GPU" test "$(lease_state $GPU)" != active
CONF=$DENY_CONF run_out $T/out.txt vgpuctl release $T/deny-vm.xml
rc=$?
check "release after the refused prepare exits 0" test $rc -eq 0
same_state "nothing changed after that release" "$BOOT"

section "the hook's prepare / release on the pair (vgpuctl prepare/release)"
write_domain $T/vm-template.xml vhk-vm 6f1f6c52-0d6a-4c1e-9a57-000000000002 "ua-gpu0=example.com/gpu-with-audio"
run_out $T/vm.xml vgpuctl rewrite $T/vm-template.xml
rc=$?
check "rewrite exits 0" test $rc -eq 0
SOURCE="<address domain=.0x0000. bus=.0x00. slot=.0x05. function=.0x0./>"
check "rewrite filled in <source> $GPU" grep -q "$SOURCE" $T/vm.xml
grep -q "$SOURCE" $T/vm.xml || show $T/vm.xml
for round in 1 2; do
    run_out $T/out.txt vgpuctl prepare $T/vm.xml
    rc=$?
    show $T/out.txt
    check "prepare #$round exits 0" test $rc -eq 0
    check "prepare #$round: $GPU and $AUDIO on vfio-pci" \
        test "$(driver_of $GPU) $(driver_of $AUDIO)" = "vfio-pci vfio-pci"
    check "prepare #$round: /dev/vfio/$G exists, lease active" \
        test -c /dev/vfio/$G -a "$(lease_state $GPU)" = active
done
run_out $T/out.txt vfio_open "$G" $GPU $AUDIO
rc=$?
show $T/out.txt
check "the kernel: group $G viable after prepare, both functions open" test $rc -eq 0
for round in 1 2; do
    run_out $T/out.txt vgpuctl release $T/vm.xml
    rc=$?
    show $T/out.txt
    check "release #$round exits 0" test $rc -eq 0
    same_state "release #$round: every driver as at boot" "$BOOT"
    check "release #$round: lease reserved, /dev/vfio/$G gone" \
        test "$(lease_state $GPU)" = reserved -a ! -e /dev/vfio/$G
done

section "the vgpu-hook executable: prepare begin / release end"
hook vhk-vm prepare begin - < $T/vm.xml > $T/out.txt 2>&1
rc=$?
show $T/out.txt
check "vgpu-hook prepare begin exits 0" test $rc -eq 0
check "vgpu-hook prepare: pair on vfio-pci, /dev/vfio/$G exists" \
    test "$(driver_of $GPU) $(driver_of $AUDIO)" = "vfio-pci vfio-pci" -a -c /dev/vfio/$G
hook vhk-vm release end - < $T/vm.xml > $T/out.txt 2>&1
rc=$?
show $T/out.txt
check "vgpu-hook release end exits 0" test $rc -eq 0
same_state "vgpu-hook release: every driver as at boot" "$BOOT"

section "a prepare that fails half-way is undone; release after it"
FAIL_CONF=$T/fail.conf
write_config "$FAIL_CONF" "$LONE"
write_domain $T/fail-vm.xml vhk-fail 6f1f6c52-0d6a-4c1e-9a57-000000000003 \
    "ua-gpu0=example.com/gpu-with-audio@$GPU" "ua-gpu1=example.com/gpu@$LONE"
CONF=$FAIL_CONF run_out $T/out.txt vgpuctl prepare $T/fail-vm.xml
rc=$?
show $T/out.txt
check "prepare fails on the second device (exit $rc, names $LONE)" \
    test $rc -ne 0 -a -n "$(grep "$LONE" $T/out.txt)"
same_state "the first device's binding was undone" "$BOOT"
check "no lease active after the failed prepare" \
    test "$(lease_state $GPU)" != active -a "$(lease_state "$LONE")" != active
check "the reservation it took over is back (vhk-vm, reserved)" \
    test "$(lease_field $GPU domain) $(lease_state $GPU)" = "vhk-vm reserved"
CONF=$FAIL_CONF run_out $T/out.txt vgpuctl release $T/fail-vm.xml
rc=$?
show $T/out.txt
check "release after the failed prepare exits 0" test $rc -eq 0
same_state "release after the failed prepare changed nothing" "$BOOT"

section "SR-IOV: VFs of the NVMe PF"
if [ -n "$PF" ]; then
    P=$SYS/$PF
    NVME=
    for d in "$P"/nvme/nvme*; do [ -e "$d" ] && NVME=/dev/${d##*/}; done
    # QEMU's NVMe VFs are secondary controllers that start offline: give
    # each queues and an interrupt and bring it online (nvme-cli) before
    # the PF's driver probes them, as a vGPU manager readies its VFs.
    echo 0 > "$P/sriov_drivers_autoprobe"
    echo 2 > "$P/sriov_numvfs"
    check "sriov_numvfs=2 on $PF" test "$(attr "$PF" sriov_numvfs)" = 2
    VFS=()
    for n in 0 1; do link_name "$P/virtfn$n"; VFS+=("$REPLY"); done
    if command -v nvme > /dev/null && [ -n "$NVME" ]; then
        for n in 1 2; do
            nvme virt-mgmt "$NVME" -c $n -r 0 -a 8 -n 2 > /dev/null &&
                nvme virt-mgmt "$NVME" -c $n -r 1 -a 8 -n 1 > /dev/null &&
                nvme virt-mgmt "$NVME" -c $n -a 9 > /dev/null ||
                note "nvme virt-mgmt of secondary controller $n failed"
        done
    else
        note "nvme-cli missing: the VFs stay offline and get no driver"
    fi
    echo 1 > "$P/sriov_drivers_autoprobe"
    for vf in "${VFS[@]}"; do echo "$vf" > /sys/bus/pci/drivers_probe; done
    for vf in "${VFS[@]}"; do
        check "VF $vf: physfn -> $PF, ids of the PF" \
            test "$(link_name "$SYS/$vf/physfn"; echo "$REPLY")" = "$PF" -a \
                 "$(attr "$vf" vendor):$(attr "$vf" device)" = "0x1b36:0x0010"
        command -v nvme > /dev/null &&
            check "VF $vf bound to the PF's driver (nvme)" is_on "$vf" nvme
    done
    SRIOV_BOOT=$(snapshot)

    # What vgpuctl list reports against what the kernel shows.
    run_out $T/list.json vgpuctl list --json --all
    rc=$?
    check "list --json --all exits 0" test $rc -eq 0
    jq -r '.[] | "\(.address) physfn=\(.physfn // "-") virtfns=\(.virtfns | join(",")) group=\(.iommu_group // "-") driver=\(.driver // "-") ids=\(.vendor):\(.device)"' \
        $T/list.json | sort > $T/list-tool.txt
    for d in "$SYS"/*; do
        a=${d##*/}
        link_name "$d/physfn"; pf=$REPLY; [ "$pf" = none ] && pf=-
        vfs=
        for n in 0 1 2 3 4 5 6 7; do
            [ -e "$d/virtfn$n" ] || continue
            link_name "$d/virtfn$n"; vfs+=${vfs:+,}$REPLY
        done
        link_name "$d/iommu_group"; g=$REPLY; [ "$g" = none ] && g=-
        link_name "$d/driver"; drv=$REPLY; [ "$drv" = none ] && drv=-
        read -r v < "$d/vendor"; read -r dv < "$d/device"
        echo "$a physfn=$pf virtfns=$vfs group=$g driver=$drv ids=${v#0x}:${dv#0x}"
    done | sort > $T/list-kernel.txt
    if cmp -s $T/list-kernel.txt $T/list-tool.txt; then
        ok "list --json --all: every function's physfn, virtfns, IOMMU group, driver and ids as sysfs has them ($(wc -l < $T/list-kernel.txt) functions)"
    else
        bad "list --json --all differs from sysfs (< kernel, > vgpuctl)"
        diff $T/list-kernel.txt $T/list-tool.txt | sed 's/^/   /'
    fi
    grep -E "^($PF|${VFS[0]}|${VFS[1]}) " $T/list-tool.txt | sed 's/^/   | /'

    VF=${VFS[1]}
    VG=$(group_of "$VF")
    VF_DRV=$(driver_of "$VF")
    run_out $T/out.txt vgpuctl bind "$VF"
    rc=$?
    show $T/out.txt
    check "bind VF $VF exits 0" test $rc -eq 0
    check "VF $VF on vfio-pci, /dev/vfio/$VG exists" \
        test "$(driver_of "$VF")" = vfio-pci -a -c /dev/vfio/$VG
    check "the PF and the other VF are untouched" \
        test "$(driver_of "$PF") $(driver_of "${VFS[0]}")" = "nvme $(echo "$SRIOV_BOOT" | sed -n "s/^${VFS[0]} driver=\([^ ]*\).*/\1/p")"
    run_out $T/out.txt vfio_open "$VG" "$VF"
    rc=$?
    show $T/out.txt
    check "the kernel: VF group $VG viable, $VF opens through VFIO" test $rc -eq 0
    run_out $T/out.txt vgpuctl unbind "$VF"
    rc=$?
    show $T/out.txt
    check "unbind VF $VF exits 0" test $rc -eq 0
    check "VF $VF back on $VF_DRV" is_on "$VF" "$VF_DRV"
    same_state "unbind restored every driver exactly" "$SRIOV_BOOT"

    section "SR-IOV: binding the PF while its VFs are enabled"
    # vfio-pci refuses such a PF ("Cannot bind to PF with SR-IOV enabled"),
    # and only after it was taken from its driver: the tool must refuse first.
    removed_before=$(dmesg | grep -c "$PF: driver left SR-IOV enabled after remove")
    run_out $T/out.txt vgpuctl bind "$PF"
    rc=$?
    show $T/out.txt
    check "bind PF $PF refused (exit $rc): VFs enabled" \
        test $rc -ne 0 -a -n "$(grep "SR-IOV PF with 2 VFs enabled" $T/out.txt)"
    dmesg | grep "$PF" | grep -i "vfio\|SR-IOV" | sed 's/^/   kernel: /'
    check "the PF was never taken from its driver" \
        test "$(dmesg | grep -c "$PF: driver left SR-IOV enabled after remove")" = "$removed_before"
    same_state "the PF and its VFs are as they were" "$SRIOV_BOOT"

    section "binding when vfio-pci is not loaded fails cleanly"
    if rmmod vfio_pci; then
        run_out $T/out.txt vgpuctl bind "$VF"
        rc=$?
        show $T/out.txt
        check "bind VF $VF without vfio-pci fails (exit $rc): module not loaded" \
            test $rc -ne 0 -a -n "$(grep "vfio-pci module is not loaded" $T/out.txt)"
        same_state "VF $VF is back on $VF_DRV, nothing else changed" "$SRIOV_BOOT"
        modprobe vfio-pci || bad "cannot load vfio-pci again"
    else
        bad "cannot unload vfio-pci for the no-vfio-pci case"
    fi

    section "vgpuctl setup: VFs enabled by a stand-in sriov-manage"
    # tests/kernel/sriov-manage does what NVIDIA's tool does in the respects
    # setup relies on (idempotent, sriov_numvfs = sriov_totalvfs, VFs bound
    # to the PF's driver); setup itself must never write sriov_numvfs.
    STANDIN=$VHK_SRCDIR/tests/kernel/sriov-manage
    export VHK_SRIOV_MANAGE_LOG=$T/sriov-manage.log
    write_setup_config() { # FILE SRIOV_MANAGE
        printf '[host]\nsysfs_root=/sys\nstate_dir=%s\ncache_dir=%s\nvfio_dir=/dev/vfio\nlibvirt_run_dir=%s\nsriov_manage=%s\n\n[gpu "%s"]\nvfs=enabled\n' \
            "$T/setup-state" "$T/setup-cache" "$T/run" "$2" "$PF" > "$1"
    }
    setup_step() { # JSON STEP -> "DEVICE RESULT DETAIL" of that step
        jq -r --arg s "$2" '.steps[] | select(.step == $s) | "\(.device) \(.result) \(.detail)"' "$1"
    }
    run_out $T/out.txt "$STANDIN" -d "$PF"
    rc=$?
    show $T/out.txt
    check "the stand-in's -d disabled the VFs of $PF (exit $rc)" \
        test $rc -eq 0 -a "$(attr "$PF" sriov_numvfs)" = 0 -a ! -e "$P/virtfn0"
    TOTAL=$(attr "$PF" sriov_totalvfs)
    : > "$VHK_SRIOV_MANAGE_LOG"
    SETUP_BOOT=$(snapshot)
    write_setup_config $T/setup.conf "$STANDIN"

    CONF=$T/setup.conf vgpuctl setup --dry-run --json --profiles $T/no-profiles > $T/setup.json 2> $T/err.txt
    rc=$?
    show $T/setup.json
    show $T/err.txt
    check "setup --dry-run exits 0" test $rc -eq 0
    check "setup --dry-run: enable-vfs $PF skipped, would run the stand-in" \
        test "$(setup_step $T/setup.json enable-vfs)" = "$PF skipped dry run: would run $STANDIN -e $PF"
    check "setup --dry-run: the stand-in not run, sriov_numvfs still 0" \
        test ! -s "$VHK_SRIOV_MANAGE_LOG" -a "$(attr "$PF" sriov_numvfs)" = 0
    same_state "setup --dry-run: every driver as before" "$SETUP_BOOT"

    CONF=$T/setup.conf run_out $T/out.txt vgpuctl setup --profiles $T/no-profiles
    rc=$?
    show $T/out.txt
    check "setup exits 0" test $rc -eq 0
    check "setup: enable-vfs $PF done, $TOTAL VFs" \
        grep -q "^enable-vfs  *$PF  *done  *$STANDIN -e $PF: $TOTAL VFs\$" $T/out.txt
    check "setup: the stand-in ran once, with -e $PF" test "$(cat "$VHK_SRIOV_MANAGE_LOG")" = "-e $PF"
    check "sriov_numvfs = sriov_totalvfs = $TOTAL" test "$(attr "$PF" sriov_numvfs)" = "$TOTAL"
    for ((n = 0; n < TOTAL; n++)); do
        link_name "$P/virtfn$n"
        vf=$REPLY
        check "virtfn$n -> $vf: physfn -> $PF, in IOMMU group $(group_of "$vf")" \
            test "$vf" != none -a "$(link_name "$SYS/$vf/physfn"; echo "$REPLY")" = "$PF" -a \
                 "$(group_of "$vf")" != none
        command -v nvme > /dev/null &&
            check "VF $vf bound to the PF's driver (nvme), as sriov-manage binds VFs to nvidia" \
                is_on "$vf" nvme
    done
    check "every VF in an IOMMU group of its own" \
        test "$(for ((n = 0; n < TOTAL; n++)); do link_name "$P/virtfn$n/iommu_group"; echo "$REPLY"; done | sort -u | wc -l)" = "$TOTAL"
    SETUP_DONE=$(snapshot)

    CONF=$T/setup.conf vgpuctl setup --json --profiles $T/no-profiles > $T/setup.json 2> $T/err.txt
    rc=$?
    show $T/setup.json
    check "setup again exits 0" test $rc -eq 0
    check "setup again: enable-vfs $PF already, $TOTAL VFs enabled" \
        test "$(setup_step $T/setup.json enable-vfs)" = "$PF already $TOTAL VFs enabled"
    check "setup again: the stand-in not run again" test "$(wc -l < "$VHK_SRIOV_MANAGE_LOG")" = 1
    same_state "setup again: every driver as after the first" "$SETUP_DONE"
    CONF=$T/setup.conf vgpuctl setup --dry-run --json --profiles $T/no-profiles > $T/setup.json 2> $T/err.txt
    check "setup --dry-run with VFs enabled: already, nothing run" \
        test "$(setup_step $T/setup.json enable-vfs)" = "$PF already $TOTAL VFs enabled" -a \
             "$(wc -l < "$VHK_SRIOV_MANAGE_LOG")" = 1

    # A failing sriov-manage: setup says so with the tool's last line, exits
    # 1, and does not fall back to writing sriov_numvfs.
    run_out $T/out.txt "$STANDIN" -d "$PF"
    printf '#!/bin/sh\necho "Enabling VFs on $2"\necho "stand-in: the vGPU manager refused $2" >&2\nexit 1\n' > $T/sriov-manage-fails
    chmod 755 $T/sriov-manage-fails
    write_setup_config $T/setup-fail.conf $T/sriov-manage-fails
    CONF=$T/setup-fail.conf vgpuctl setup --json --profiles $T/no-profiles > $T/setup.json 2> $T/err.txt
    rc=$?
    show $T/setup.json
    show $T/err.txt
    check "setup with a failing sriov-manage exits 1" test $rc -eq 1
    setup_step $T/setup.json enable-vfs > $T/step.txt
    check "enable-vfs $PF failed, the detail ends with the tool's own line" \
        grep -q "^$PF failed .*: stand-in: the vGPU manager refused $PF\$" $T/step.txt
    check "setup did not write sriov_numvfs itself: still 0" test "$(attr "$PF" sriov_numvfs)" = 0
    check "the later steps still ran (reconcile)" test -n "$(setup_step $T/setup.json reconcile)"
    unset VHK_SRIOV_MANAGE_LOG
fi

section "libvirtd in the guest: vgpuctl define, virsh start with the hook"
# libvirtd's state on tmpfs; the hook installed into a tmpfs over
# /etc/libvirt/hooks. QEMU's private /dev namespace is off: libvirt fills it
# by setns() into QEMU's mount namespace, which lands at that namespace's
# real root (the initramfs), not in this chroot.
if command -v libvirtd > /dev/null && command -v virsh > /dev/null; then
    LV_BOOT=$(snapshot)
    LV_CONF=$T/libvirt.conf
    LV_STATE=$T/lv-state
    URI=qemu:///system
    for dir in /var/lib/libvirt /var/cache/libvirt /var/log /etc/libvirt/hooks /etc/libvirt/qemu; do
        mount -t tmpfs tmpfs "$dir" || bad "cannot put a tmpfs on $dir"
    done
    mkdir -p /etc/libvirt/hooks/qemu.d /var/log/libvirt/qemu
    printf 'namespaces = []\nstdio_handler = "file"\n' > $T/qemu.conf
    mount -o bind $T/qemu.conf /etc/libvirt/qemu.conf
    cat > "$LV_CONF" <<CONF
[host]
state_dir=$LV_STATE
cache_dir=$LV_STATE.cache
lease_grace_seconds=0

[resource "example.com/gpu-with-audio"]
kind=passthrough
selector=1234:11e8
address=$GPU
CONF
    # the front end (libc only) loads its worker module next to it
    hook_exec="LD_LIBRARY_PATH=$B/plugin/.libs exec $B/vgpu-hook"
    cat > /etc/libvirt/hooks/qemu.d/50-vgpu-hook <<HOOK
#!/bin/sh
$(grep -E '^export ' "$WORK/env")
$hook_exec --config $LV_CONF "\$@"
HOOK
    chmod 755 /etc/libvirt/hooks/qemu.d/50-vgpu-hook
    libvirtd -d
    for _ in $(seq 120); do virsh -c $URI version > /dev/null 2>&1 && break; sleep 0.5; done
    check "libvirtd runs in the guest" run_out $T/out.txt virsh -c $URI version
    write_domain $T/lv-vm.xml vhk-libvirt 6f1f6c52-0d6a-4c1e-9a57-000000000010 "ua-gpu0=example.com/gpu-with-audio"
    sed -i "s|</devices>|  <emulator>/usr/bin/qemu-system-x86_64</emulator>\n  </devices>|; s|<memory unit='MiB'>64</memory>|&<vcpu>1</vcpu>|" $T/lv-vm.xml
    CONF=$LV_CONF run_out $T/out.txt vgpuctl define -c $URI $T/lv-vm.xml
    rc=$?
    show $T/out.txt
    check "vgpuctl define exits 0" test $rc -eq 0
    run_out $T/out.txt timeout 120 virsh -c $URI start vhk-libvirt
    rc=$?
    show $T/out.txt
    check "virsh start vhk-libvirt exits 0" test $rc -eq 0
    check "the hook bound $GPU and $AUDIO to vfio-pci" \
        test "$(driver_of $GPU) $(driver_of $AUDIO)" = "vfio-pci vfio-pci"
    pid=
    [ -r /run/libvirt/qemu/vhk-libvirt.pid ] && read -r pid < /run/libvirt/qemu/vhk-libvirt.pid
    fds=$(ls -l /proc/"${pid:-0}"/fd 2> /dev/null)
    check "QEMU (pid ${pid:-none}) holds /dev/vfio/$G and a VFIO device" \
        test -n "$(grep " /dev/vfio/$G\$" <<< "$fds")" -a -n "$(grep "vfio-device" <<< "$fds")"
    check "the lease of $GPU is active for vhk-libvirt" \
        test "$(lease_field_in "$LV_STATE" $GPU domain) $(lease_field_in "$LV_STATE" $GPU state)" = "vhk-libvirt active"
    run_out $T/out.txt timeout 60 virsh -c $URI destroy vhk-libvirt
    rc=$?
    show $T/out.txt
    check "virsh destroy exits 0" test $rc -eq 0
    same_state "release (hook) restored every driver" "$LV_BOOT"
    check "the lease of $GPU is reserved again" \
        test "$(lease_field_in "$LV_STATE" $GPU state)" = reserved
    grep -h "vgpu-hook\|vfio" /var/log/libvirt/qemu/vhk-libvirt.log 2> /dev/null | tail -n 5 | sed 's/^/   qemu log: /'

    # vgpuctl attach/detach: libvirt runs no hook for a hot-plug. The edu
    # device is conventional PCI: libvirt plugs it into the PCIe-to-PCI
    # bridge (SHPC hot-plug); spare root ports for the rest.
    echo "== vgpuctl attach/detach on a running domain (hot-plug, no hook)"
    virsh -c $URI undefine vhk-libvirt > /dev/null 2>&1
    CONF=$LV_CONF vgpuctl leases --prune -c $URI > /dev/null 2>&1
    cat > $T/lv-plain.xml <<XML
<domain type='qemu'><name>vhk-plain</name><uuid>6f1f6c52-0d6a-4c1e-9a57-000000000011</uuid>
<memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='q35'>hvm</type></os>
<devices><emulator>/usr/bin/qemu-system-x86_64</emulator>
<controller type='pci' model='pcie-root'/><controller type='usb' model='none'/>
<controller type='pci' model='pcie-root-port'/><controller type='pci' model='pcie-root-port'/>
<controller type='pci' model='pcie-root-port'/><controller type='pci' model='pcie-to-pci-bridge'/>
<memballoon model='none'/></devices></domain>
XML
    virsh -c $URI define $T/lv-plain.xml > /dev/null
    run_out $T/out.txt timeout 120 virsh -c $URI start vhk-plain
    check "a domain without devices starts" test $? -eq 0
    CONF=$LV_CONF run_out $T/out.txt vgpuctl attach -c $URI vhk-plain example.com/gpu-with-audio
    rc=$?
    show $T/out.txt
    check "vgpuctl attach exits 0" test $rc -eq 0
    check "attach bound $GPU and $AUDIO to vfio-pci" \
        test "$(driver_of $GPU) $(driver_of $AUDIO)" = "vfio-pci vfio-pci"
    pid=
    [ -r /run/libvirt/qemu/vhk-plain.pid ] && read -r pid < /run/libvirt/qemu/vhk-plain.pid
    fds=$(ls -l /proc/"${pid:-0}"/fd 2> /dev/null)
    check "QEMU (pid ${pid:-none}) opened /dev/vfio/$G after the hot-plug" \
        test -n "$(grep " /dev/vfio/$G\$" <<< "$fds")"
    check "the lease of $GPU is active for vhk-plain" \
        test "$(lease_field_in "$LV_STATE" $GPU domain) $(lease_field_in "$LV_STATE" $GPU state)" = "vhk-plain active"
    virsh -c $URI dumpxml vhk-plain > $T/plain-live.xml
    check "the live XML has the hostdev and its <vgpu:device>" \
        grep -q 'vgpu:device alias="ua-gpu0" resource="example.com/gpu-with-audio"' $T/plain-live.xml
    # The domain has no OS to answer the PCIe unplug request: libvirt may
    # never confirm, and then the device must stay leased and bound.
    CONF=$LV_CONF run_out $T/out.txt vgpuctl detach -c $URI --timeout 10 vhk-plain ua-gpu0
    rc=$?
    show $T/out.txt
    if [ $rc -eq 0 ]; then
        check "detach confirmed: the lease is dropped" test "$(lease_field_in "$LV_STATE" $GPU state)" = none
        check "detach gave $GPU back" test "$(driver_of $GPU)" != vfio-pci
    else
        check "detach unconfirmed: one line saying so" grep -q "has not confirmed the removal of 'ua-gpu0'" $T/out.txt
        check "the lease stays active" test "$(lease_field_in "$LV_STATE" $GPU state)" = active
        check "$GPU stays on vfio-pci, QEMU holding it" test "$(driver_of $GPU)" = vfio-pci
        virsh -c $URI dumpxml --inactive vhk-plain > $T/plain-config.xml
        check "the configuration names the device nowhere (hostdev and <vgpu:device> gone)" \
            test -z "$(grep -e ua-gpu0 -e vgpu-hook $T/plain-config.xml)"
        check "the live XML still has both" test "$(virsh -c $URI dumpxml vhk-plain | grep -c ua-gpu0)" = 2
    fi
    run_out $T/out.txt timeout 60 virsh -c $URI destroy vhk-plain
    check "virsh destroy vhk-plain exits 0" test $? -eq 0
    same_state "after destroy every driver is restored" "$LV_BOOT"
else
    echo "SKIP: libvirtd section: libvirtd or virsh not installed (apt-get install libvirt-daemon-system libvirt-clients)"
fi

echo "guest finished: $passed PASS, $failed FAIL lines"
echo DONE

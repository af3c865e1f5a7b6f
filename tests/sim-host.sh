# SPDX-License-Identifier: GPL-2.0-or-later
# sim-host.sh: the fake host and helpers of the shell tests that drive the
# built tools with the simulated kernel preloaded (tests/sim-kernel.c):
# tests/test-hook.sh and tests/test-metrics.sh. Source it with
# TEST_NAME set; it needs top_builddir (make check sets it) and sets
#
#   builddir HOOK CTL FAKEHOST SHIM   the built programs
#   tmp                               a private directory, removed at exit
#                                     (after the test's own test_cleanup, if
#                                     it defines one)
#   sys dev run state conf            the fake /sys, /dev, /run/libvirt/qemu,
#                                     state directory and configuration
#   out err rc                        what the last hook/ctl call printed and
#                                     returned
#
# The host: an A10 (0000:3b:00.0) with its HDMI audio function in IOMMU
# group 20, two L40S (0000:41:00.0, 0000:42:00.0, 48 GB) with four SR-IOV
# vGPU VFs each (.4 to .7), a T4 mdev parent (0000:af:00.0). Leases have no
# grace period: a domain runs while $run/NAME.pid exists.
# shellcheck shell=bash
# shellcheck disable=SC2034 # the variables are for the test that sources this

builddir=$(cd "${top_builddir:-.}" && pwd)
HOOK=$builddir/vgpu-hook
CTL=$builddir/vgpuctl
FAKEHOST=$builddir/tests/vh-fakehost
SHIM=$builddir/tests/.libs/libsimkernel.so

for f in "$HOOK" "$CTL" "$FAKEHOST" "$SHIM"; do
    if [ ! -e "$f" ]; then
        echo "$TEST_NAME: $f is missing: run 'make check' (or build it) first" >&2
        exit 99
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/$TEST_NAME.XXXXXX") || exit 99
sim_cleanup() {
    if declare -F test_cleanup >/dev/null; then
        test_cleanup
    fi
    rm -rf "$tmp"
}
trap sim_cleanup EXIT

sys=$tmp/sys
dev=$tmp/dev
run=$tmp/run
state=$tmp/state
conf=$tmp/vgpu-hook.conf
out=$tmp/out
err=$tmp/err
mkdir -p "$dev/vfio" "$run"

cat >"$tmp/host.ini" <<'EOF'
[vgpu-family L40S]
framebuffer_gb=48
types=1155:NVIDIA L40S-1Q;1156:NVIDIA L40S-2Q;1157:NVIDIA L40S-4Q;1158:NVIDIA L40S-6Q;1159:NVIDIA L40S-8Q;1160:NVIDIA L40S-12Q;1161:NVIDIA L40S-24Q;1162:NVIDIA L40S-48Q
[mdev-family T4]
types=nvidia-230:GRID T4-1Q:16;nvidia-231:GRID T4-2Q:8
[device 0000:3b:00.0]
ids=10de:2236
subsystem=10de:1482
class=0x030200
driver=nvidia
iommu_group=20
[device 0000:3b:00.1]
ids=10de:1aef
class=0x040300
driver=snd_hda_intel
iommu_group=20
[device 0000:41:00.0]
ids=10de:26b9
class=0x030200
driver=nvidia
iommu_group=30
sriov_totalvfs=4
sriov_numvfs=4
vgpu_family=L40S
[device 0000:42:00.0]
ids=10de:26b9
class=0x030200
driver=nvidia
iommu_group=40
sriov_totalvfs=4
sriov_numvfs=4
vgpu_family=L40S
[device 0000:af:00.0]
ids=10de:1eb8
class=0x030200
driver=nvidia
iommu_group=50
mdev_family=T4
EOF
printf '10de  NVIDIA Corporation\n\t1aef  GA102 High Definition Audio Controller\n\t1eb8  TU104GL [Tesla T4]\n\t2236  GA102GL [A10]\n' \
    >"$tmp/pci.ids"
"$FAKEHOST" "$tmp/host.ini" "$sys" || exit 99
cat >"$conf" <<EOF
[host]
sysfs_root=$sys
state_dir=$state
cache_dir=$tmp/cache
pci_ids=$tmp/pci.ids
use_hwdb=false
vfio_dir=$dev/vfio
libvirt_run_dir=$run
lease_grace_seconds=0
reset_retries=2
reset_retry_ms=10
EOF

# shellcheck source=tests/check.sh
. "${top_srcdir:-$(dirname "${BASH_SOURCE[0]}")/..}/tests/check.sh"

# sim COMMAND...: run COMMAND on the fake host.
sim() {
    LD_PRELOAD=$SHIM VH_SIM_SYSFS_ROOT=$sys VH_SIM_DEV_DIR=$dev timeout 60 "$@"
}

# hook ARGS... < XML: run the hook on the fake host; status in $rc.
# VH_TEST_HOOK_RUNNER, when set, is put in front of it (e.g. valgrind).
hook() {
    # shellcheck disable=SC2086
    sim ${VH_TEST_HOOK_RUNNER:-} "$HOOK" --config "$conf" "$@" >"$out" 2>"$err"
    rc=$?
}

# ctl ARGS...: vgpuctl on the fake host; status in $rc.
ctl() {
    sim "$CTL" --config "$conf" "$@" >"$out" 2>"$err"
    rc=$?
}

# domain NAME N SOURCE [RESOURCE]: a domain with one named device at SOURCE
# (a PCI address); UUID ...000N.
domain() {
    local name=$1 n=$2 addr=$3 resource=${4:-nvidia.com/L40S-24Q}
    local bus=${addr:5:2} slot=${addr:8:2} fn=${addr:11:1}
    cat <<EOF
<domain type='kvm'>
  <name>$name</name>
  <uuid>00000000-0000-4000-8000-00000000000$n</uuid>
  <metadata>
    <vgpu:devices xmlns:vgpu="urn:vgpu-hook:1">
      <vgpu:device alias="ua-gpu0" resource="$resource"/>
    </vgpu:devices>
  </metadata>
  <memory unit='GiB'>4</memory>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <source><address domain='0x0000' bus='0x$bus' slot='0x$slot' function='0x$fn'/></source>
      <alias name='ua-gpu0'/>
    </hostdev>
  </devices>
</domain>
EOF
}

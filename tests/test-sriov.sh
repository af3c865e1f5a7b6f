#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-sriov: an NVIDIA SR-IOV vGPU host as drivers 17-19 run it, through
# the built vgpuctl and the simulated kernel (tests/sim-kernel.c): the type
# table cache that survives a lost /run, reading commands that write
# nothing, and a held id nobody can name.
#
#   top_builddir=_build tests/test-sriov.sh     (make check sets top_builddir)
set -u

TEST_NAME=test-sriov
# shellcheck source=tests/sim-host.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/sim-host.sh"

# A host of its own: one L40S with four VFs and a known driver version.
sys=$tmp/l40s
cache=$tmp/cache
cat >"$tmp/l40s.ini" <<'INI'
[host]
nvidia_version=550.90.05
[vgpu-family L40S]
framebuffer_gb=48
types=1155:NVIDIA L40S-1Q;1156:NVIDIA L40S-2Q;1157:NVIDIA L40S-4Q;1158:NVIDIA L40S-6Q;1159:NVIDIA L40S-8Q;1160:NVIDIA L40S-12Q;1161:NVIDIA L40S-24Q;1162:NVIDIA L40S-48Q
[device 0000:41:00.0]
ids=10de:26b9
class=0x030200
driver=nvidia
iommu_group=30
sriov_totalvfs=4
sriov_numvfs=4
vgpu_family=L40S
INI
"$FAKEHOST" "$tmp/l40s.ini" "$sys" || exit 99
conf=$tmp/l40s.conf
cat >"$conf" <<CONF
[host]
sysfs_root=$sys
state_dir=$state
cache_dir=$cache
use_hwdb=false
vfio_dir=$dev/vfio
libvirt_run_dir=$run
lease_grace_seconds=0
reset_retries=2
reset_retry_ms=10
CONF

current() {
    tr -d '\n' <"$sys/bus/pci/devices/$1/nvidia/current_vgpu_type"
}

# resource_line NAME: the line of 'vgpuctl resources' for NAME, squeezed.
resource_line() {
    ctl resources
    awk -v n="$1" '$1 == n { $1 = $1; print }' "$out"
}

# ---- reading writes nothing ------------------------------------------------
for cmd in list resources "export kubevirt" metrics validate; do
    # shellcheck disable=SC2086
    ctl $cmd
done
check "list, resources, export, metrics, validate: no cache written" test ! -e "$cache"

# ---- the lost-/run case -----------------------------------------------------
printf '0000:41:00.4=L40S-24Q\n0000:41:00.5=L40S-24Q\n' >"$tmp/profiles"
ctl apply-profiles "$tmp/profiles"
check "apply-profiles: two VFs hold L40S-24Q" \
    test "$rc" -eq 0 -a "$(current 0000:41:00.4),$(current 0000:41:00.5)" = "1161,1161"
table=$cache/types/550.90.05/10de-26b9.types
check "apply-profiles remembered the whole table by driver version and device id" \
    grep -qx '1155 : NVIDIA L40S-1Q' "$table"
check "the table has all eight types" test "$(wc -l <"$table")" -eq 8

rm -rf "$state" # a reboot: /run is empty, the VFs keep their profiles
check "state lost: resources lists nvidia.com/L40S-24Q with capacity 2" \
    test "$(resource_line nvidia.com/L40S-24Q)" = "nvidia.com/L40S-24Q sriov-vgpu 2 2 0 4"
ctl list
check "state lost: list names the held profile" grep -q '0000:41:00.4 .*L40S-24Q' "$out"
ctl validate
check "state lost: validate does not call the vGPU manager broken" \
    eval '! grep -q "not working" "$out" "$err"'
domain pinned 1 0000:41:00.4 >"$tmp/pinned.xml"
ctl prepare "$tmp/pinned.xml"
check "state lost: the domain pinned to VF 0000:41:00.4 is prepared" test "$rc" -eq 0
check "state lost: its VF still holds 1161" test "$(current 0000:41:00.4)" = 1161
ctl release "$tmp/pinned.xml"

# ---- a driver update: the table of the old version names nothing ----------
rm -rf "$state"
printf '555.42.02\n' >"$sys/module/nvidia/version"
ctl list
check "new driver, busy GPU: list shows 'unknown type 1161'" \
    grep -q '0000:41:00.4 .*unknown type 1161' "$out"
ctl export kubevirt
check "new driver: export leaves the GPU out, saying how to fix it" \
    eval 'test "$rc" -eq 3 && grep -q "holds vGPU type 1161, which neither .*driver 555.42.02.* then run vgpuctl apply-profiles" "$err"'
ctl prepare "$tmp/pinned.xml"
check "new driver: the pinned domain is refused with the fix, in one line" \
    eval 'test "$rc" -ne 0 && test "$(wc -l <"$err")" -eq 1 && grep -q "holds vGPU type 1161, which neither" "$err"'

echo "test-sriov: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

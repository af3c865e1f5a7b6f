#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-sriov: an NVIDIA SR-IOV vGPU host as drivers 17-19 run it, through
# the built vgpuctl and the simulated kernel (tests/sim-kernel.c): the type
# table cache that survives a lost /run, reading commands that write
# nothing, and a held id nobody can name.
#
#   top_builddir=_build tests/test-sriov.sh     (make check sets top_builddir)
# shellcheck disable=SC2016 # check ... eval '...': expanded when the check runs
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

# ---- both driver dialects: every errno in the operator's words -------------
sys=$tmp/dialects
cat >"$tmp/dialects.ini" <<'INI'
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
vgpu_dialect=proprietary
[device 0000:42:00.0]
ids=10de:26b9
class=0x030200
driver=nvidia
iommu_group=40
sriov_totalvfs=4
sriov_numvfs=4
vgpu_family=L40S
vgpu_dialect=upstream
INI
"$FAKEHOST" "$tmp/dialects.ini" "$sys" || exit 99
sed -i "s|^sysfs_root=.*|sysfs_root=$sys|" "$conf"
rm -rf "$state" "$cache"

# apply LINE: apply-profiles of one line; output in $out/$err, status in $rc.
apply() {
    printf '%s\n' "$1" >"$tmp/profiles"
    ctl apply-profiles "$tmp/profiles"
}
# stale_list VF IDS...: the VF's list as a racing reader saw it a moment ago.
stale_list() {
    local vf=$1 id
    shift
    {
        echo 'ID    : vGPU Name'
        for id in "$@"; do printf '%-6s: NVIDIA L40S-%s\n' "$id" "$([ "$id" = 1161 ] && echo 24Q || echo 12Q)"; done
    } >"$sys/bus/pci/devices/$vf/nvidia/creatable_vgpu_types"
}
said() { grep -q -- "$1" "$out" "$err"; }

for gpu in 41 42; do
    apply "0000:$gpu:00.4=L40S-24Q"
    apply "0000:$gpu:00.5=L40S-24Q"
done
ctl list
check "proprietary: a VF holding a type still lists the GPU's list (header only: full)" \
    test "$(cat "$sys/bus/pci/devices/0000:41:00.4/nvidia/creatable_vgpu_types")" = "ID    : vGPU Name"
check "upstream: a VF holding a type lists nothing" \
    test ! -s "$sys/bus/pci/devices/0000:42:00.4/nvidia/creatable_vgpu_types"
ctl resources
check "both dialects: resources counts 2 L40S-24Q per GPU, both in use by profiles" \
    test "$(resource_line nvidia.com/L40S-24Q)" = "nvidia.com/L40S-24Q sriov-vgpu 4 4 0 8"

stale_list 0000:41:00.6 1161
apply "0000:41:00.6=L40S-24Q"
check "proprietary EIO: refused now on that VF, what the GPU holds, dmesg" \
    said "the NVIDIA driver refused L40S-24Q (id 1161) on VF 0000:41:00.6 now (EIO); GPU 0000:41:00.0: VF 0000:41:00.4 holds L40S-24Q, VF 0000:41:00.5 holds L40S-24Q. 'dmesg' shows NVRM's reason"
check "proprietary EIO: nothing written" test "$(current 0000:41:00.6)" = 0

stale_list 0000:42:00.6 1161
apply "0000:42:00.6=L40S-24Q"
check "upstream ENOSPC: no room, what the GPU holds" \
    said "GPU 0000:42:00.0 has no room for L40S-24Q on VF 0000:42:00.6 (ENOSPC): VF 0000:42:00.4 holds L40S-24Q, VF 0000:42:00.5 holds L40S-24Q"

sim sh -c "printf 0 > $sys/bus/pci/devices/0000:42:00.5/nvidia/current_vgpu_type"
stale_list 0000:42:00.6 1160
apply "0000:42:00.6=L40S-12Q"
check "upstream EINVAL: one size at a time, what the GPU holds" \
    said "the driver rejected L40S-12Q (id 1160) on VF 0000:42:00.6 (EINVAL): in equal-size mode every vGPU of GPU 0000:42:00.0 must have one size, and VF 0000:42:00.4 holds L40S-24Q"

mkdir -p "$sys/.fake-host/held"
touch "$sys/.fake-host/held/0000:42:00.7"
stale_list 0000:42:00.7 1161
apply "0000:42:00.7=L40S-24Q"
check "upstream EBUSY: a VM still has the VF open" \
    said "VF 0000:42:00.7 is busy (EBUSY): a VM still has it open"
rm -f "$sys/.fake-host/held/0000:42:00.7"

stale_list 0000:42:00.7 1161 9999
sed -i 's/^9999 .*/9999  : NVIDIA L40S-99Q/' "$sys/bus/pci/devices/0000:42:00.7/nvidia/creatable_vgpu_types"
apply "0000:42:00.7=L40S-99Q"
check "upstream ENODEV: the driver does not know the type" \
    said "the driver does not know type 9999 (L40S-99Q) on VF 0000:42:00.7 (ENODEV)"

# ---- export: one pciVendorSelector, one entry ------------------------------
# GPU 41 holds 24Q, GPU 42 (same model, same vendor:device) 8Q: KubeVirt
# keys pciHostDevices by selector, so neither may be printed.
sim sh -c "printf 0 > $sys/bus/pci/devices/0000:42:00.4/nvidia/current_vgpu_type"
apply "0000:42:00.4=L40S-8Q"
ctl export kubevirt
check "export: two profiles on one vendor:device: exit 3" test "$rc" -eq 3
check "export: the shared pciVendorSelector is not printed at all" \
    test "$(grep -c '10DE:26B9' "$out")" -eq 0
check "export: both left out, saying why and what KubeVirt would do" \
    eval 'grep -q "nvidia.com/L40S-24Q not exported: nvidia.com/L40S-8Q shares pciVendorSelector \"10DE:26B9\" with it, and KubeVirt keys pciHostDevices by selector" "$err" &&
          grep -q "nvidia.com/L40S-8Q not exported: nvidia.com/L40S-24Q shares" "$err"'

# ---- list --all: kinds as they are ------------------------------------------
sys=$tmp/kinds
cat >"$tmp/kinds.ini" <<'INI'
[device 0000:00:00.0]
ids=8086:0e00
class=0x060000
iommu_group=1
[device 0000:3b:00.0]
ids=10de:2236
class=0x030200
driver=nvidia
iommu_group=20
[device 0000:3b:00.1]
ids=10de:1aef
class=0x040300
driver=snd_hda_intel
iommu_group=20
[device 0000:5e:00.0]
ids=8086:1572
class=0x020000
driver=i40e
iommu_group=21
INI
"$FAKEHOST" "$tmp/kinds.ini" "$sys" || exit 99
sed -i "s|^sysfs_root=.*|sysfs_root=$sys|" "$conf"
ctl list --all
kind_of() { awk -v a="$1" '$1 == a { for (i = 2; i <= NF; i++) if ($i ~ /^(companion|network|bridge|passthrough|multimedia|other|gpu)$/) { print $i; exit } }' "$out"; }
check "list --all: the GPU's audio function is its companion" test "$(kind_of 0000:3b:00.1)" = companion
check "list --all: a NIC is a network device, no companion" test "$(kind_of 0000:5e:00.0)" = network
check "list --all: a host bridge is a bridge, no companion" test "$(kind_of 0000:00:00.0)" = bridge

# ---- vgpuctl setup ----------------------------------------------------------
# GPU 41: VFs not enabled yet (boot), equal-size; GPU 42: VFs enabled,
# mixed-size wanted; 0000:99:00.0: configured, but not on this host.
sys=$tmp/setup
cat >"$tmp/setup.ini" <<'INI'
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
vgpu_family=L40S
[device 0000:42:00.0]
ids=10de:26b9
class=0x030200
driver=nvidia
iommu_group=40
sriov_totalvfs=4
sriov_numvfs=4
vgpu_family=L40S
INI
"$FAKEHOST" "$tmp/setup.ini" "$sys" || exit 99
rm -rf "$state" "$cache"
sed -i "s|^sysfs_root=.*|sysfs_root=$sys|" "$conf"
cat >>"$conf" <<CONF
sriov_manage=$(cd "$(dirname "$0")" && pwd)/sriov-manage-sim
[gpu "0000:41:00.0"]
vfs=enabled
vgpu_mode=equal
[gpu "0000:42:00.0"]
vfs=enabled
vgpu_mode=mixed
[gpu "0000:99:00.0"]
vfs=enabled
CONF
printf '0000:41:00.4=L40S-24Q\n' >"$tmp/boot-profiles"
export VH_SIM_HOST_INI=$tmp/setup.ini VH_FAKEHOST=$FAKEHOST VH_SIM_MANAGE_LOG=$tmp/manage.log
# steps: STEP DEVICE RESULT, one per line, from setup --json.
steps() {
    python3 -c 'import json,sys; [print(s["step"], s["device"], s["result"]) for s in json.load(open(sys.argv[1]))["steps"]]' "$out"
}

ctl setup --dry-run --json --profiles "$tmp/boot-profiles"
check "setup --dry-run: nothing run, nothing written" \
    eval 'test ! -e "$tmp/manage.log" && test "$(cat "$sys/bus/pci/devices/0000:41:00.0/sriov_numvfs")" = 0 && test ! -e "$cache"'
check "setup --dry-run: the steps it would run, in NVIDIA's order" \
    test "$(steps | tr '\n' '|')" = "enable-vfs 0000:41:00.0 skipped|enable-vfs 0000:42:00.0 already|enable-vfs 0000:99:00.0 failed|vgpu-mode 0000:41:00.0 skipped|vgpu-mode 0000:42:00.0 skipped|profile 0000:41:00.4 skipped|reconcile - already|"

ctl validate
check "validate: VFs of a GPU configured for vGPU not enabled" \
    grep -q "0000:41:00.0.*configured for vGPU (vfs=enabled) but its VFs are not enabled: run 'vgpuctl setup'" "$out" "$err"
check "validate: a configured GPU missing from the host" \
    grep -q '\[gpu "0000:99:00.0"\] in the configuration, but no such device' "$out" "$err"

ctl setup --json --profiles "$tmp/boot-profiles"
check "setup: a failed GPU fails the run (exit 1) ..." test "$rc" -eq 1
check "... but not the other GPUs: steps in order" \
    test "$(steps | tr '\n' '|')" = "enable-vfs 0000:41:00.0 done|enable-vfs 0000:42:00.0 already|enable-vfs 0000:99:00.0 failed|vgpu-mode 0000:41:00.0 already|vgpu-mode 0000:42:00.0 skipped|profile 0000:41:00.4 done|reconcile - already|"
check "setup: sriov-manage -e ran once, for GPU 41 only" test "$(cat "$tmp/manage.log")" = "-e 0000:41:00.0"
check "setup: GPU 41 has its four VFs" test "$(cat "$sys/bus/pci/devices/0000:41:00.0/sriov_numvfs")" = 4
check "setup: the static profile is assigned" test "$(current 0000:41:00.4)" = 1161
check "setup: the type table was remembered while idle" \
    test -s "$cache/types/550.90.05/10de-26b9.types"
check "setup: the mixed-size step says what to run without NVML" \
    grep -q "nvidia-smi vgpu -shm 1 -i N" "$out"

sed -i '/^\[gpu "0000:99:00.0"\]/,$d' "$conf"
ctl setup --json --profiles "$tmp/boot-profiles"
check "setup again: exit 0, every step already (mixed mode still needs NVML)" \
    test "$rc" -eq 0 -a "$(steps | tr '\n' '|')" = "enable-vfs 0000:41:00.0 already|enable-vfs 0000:42:00.0 already|vgpu-mode 0000:41:00.0 already|vgpu-mode 0000:42:00.0 skipped|profile 0000:41:00.4 already|reconcile - already|"
check "setup again: sriov-manage not run again" test "$(wc -l <"$tmp/manage.log")" -eq 1
ctl setup
check "setup: text output, one line per step" test "$(wc -l <"$out")" -eq 6
ctl validate
check "validate: no complaint about VFs or the cache after setup" \
    eval '! grep -q "VFs are not enabled\|differs from the driver" "$out" "$err"'
printf '555.42.02\n' >"$sys/module/nvidia/version"
ctl validate
check "validate: the driver differs from the cached type table's" \
    grep -q "driver 555.42.02 differs from the driver of the cached type table (550.90.05)" "$out" "$err"

# ---- vgpuctl setup with NVML: the mode set through it ------------------------
# GPU 41 holds L40S-24Q on 0000:41:00.4 (the static profile), equal-size;
# GPU 42 is idle, configured mixed, its driver still equal-size.
printf '%s\n' "[nvml]" "[gpu 0000:41:00.0]" "model=L40S" "heterogeneous=0" \
    "[gpu 0000:42:00.0]" "model=L40S" "heterogeneous=0" >"$sys/.fake-host/nvml.ini"
export VH_NVML_LIBRARY=$builddir/tests/sim-nvml/libnvidia-ml.so.1
driver_mode() { sed -n 's/^mode=//p' "$sys/.fake-host/vgpu/$1.ini"; }
mode_step() { steps | awk -v d="$1" '$1 == "vgpu-mode" && $2 == d { print $3 }'; }
ctl setup --dry-run --json --profiles "$tmp/boot-profiles"
check "setup --dry-run with NVML: GPU 42 would be set, GPU 41 already equal-size" \
    test "$(mode_step 0000:42:00.0) $(mode_step 0000:41:00.0) $(driver_mode 0000:42:00.0)" = "skipped already equal"
ctl setup --json --profiles "$tmp/boot-profiles"
check "setup with NVML: mixed-size set on GPU 42 (exit 0)" \
    test "$rc" -eq 0 -a "$(mode_step 0000:42:00.0)" = done
check "setup with NVML: the driver runs GPU 42 mixed-size, NVML says so" \
    eval 'test "$(driver_mode 0000:42:00.0)" = mixed && grep -A3 "0000:42:00.0" "$sys/.fake-host/nvml.ini" | grep -q heterogeneous=1'
ctl setup --json --profiles "$tmp/boot-profiles"
check "setup with NVML again: GPU 42 already mixed-size" test "$(mode_step 0000:42:00.0)" = already
ctl validate
check "validate with NVML: no mode differs from the configuration" \
    eval '! grep -q "size mode but vgpu_mode" "$out" "$err"'
sed -i '/^\[gpu "0000:41:00.0"\]/,/^vgpu_mode=/s/^vgpu_mode=equal/vgpu_mode=mixed/' "$conf"
ctl validate
check "validate with NVML: GPU 41's driver runs equal-size, the configuration says mixed" \
    grep -q "0000:41:00.0 .*the GPU runs equal-size mode but vgpu_mode = mixed in the configuration" "$out" "$err"
ctl setup --json --profiles "$tmp/boot-profiles"
check "setup with NVML: mixed-size on GPU 41 refused while a VF holds a type (exit 1)" \
    test "$rc" -eq 1 -a "$(mode_step 0000:41:00.0)" = failed
check "... naming the VF and what it holds, nothing changed" \
    eval 'grep -q "VF 0000:41:00.4 holds L40S-24Q" "$out" && test "$(driver_mode 0000:41:00.0)" = equal'
unset VH_NVML_LIBRARY

echo "test-sriov: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

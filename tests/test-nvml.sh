#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-nvml: `vgpuctl nvml` (the read-only NVML probe) on the test NVML
# (tests/sim-nvml/libnvidia-ml.so.1 over ROOT/.fake-host/nvml.ini): the
# text and JSON forms, every call's result or error sentence, --gpu, no
# NVML at all; and that the test NVML's H200 profile table agrees with the
# fixture of a real H200 (tests/fixtures/h200-mig-profiles.json), which
# vgpuctl nvml --json output from real hardware can replace as it is.
#
#   top_srcdir=. top_builddir=_build tests/test-nvml.sh   (make check sets both)
# shellcheck disable=SC2034,SC2154 # rc is read in check's evals; the counts come from check.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${top_srcdir:-$here/..}" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
VGPUCTL=$builddir/vgpuctl
HOOK=$builddir/vgpu-hook
FAKEHOST=$builddir/tests/vh-fakehost
SIMCTL=$builddir/tests/sim-nvml-ctl
SIMNVML=$builddir/tests/sim-nvml/libnvidia-ml.so.1
FIXTURE=$top_srcdir/tests/fixtures/h200-mig-profiles.json
PY=/usr/bin/python3

for f in "$VGPUCTL" "$HOOK" "$FAKEHOST" "$SIMNVML" "$SIMCTL" "$PY"; do
    if [ ! -e "$f" ]; then
        echo "test-nvml: $f is missing: run 'make check' (or build it) first" >&2
        exit 99
    fi
done
# shellcheck source=tests/check.sh
. "$here/check.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-nvml.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
err=$tmp/err
root=$tmp/sys
mkdir -p "$root/.fake-host"
cat >"$root/.fake-host/nvml.ini" <<'EOF'
[nvml]
driver_version=580.159.04
[gpu 0000:41:00.0]
model=H200
mig=0
virtualization=pass-through
[gpu 0000:c1:00.0]
model=A100-40GB
mig=1
instances=1:9:4:4;2:19:0:1
vgpu_types=700:NVIDIA A100-1-5C:5120;701:NVIDIA A100-3-20C:20480
heterogeneous=1
EOF

run() {
    VH_SIM_SYSFS_ROOT=$root VH_NVML_LIBRARY=$SIMNVML "$VGPUCTL" nvml "$@" >"$out" 2>"$err"
    rc=$?
}

# JSON field at a python expression over the document j.
jq_py() {
    "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); print($1)" "$out"
}

run --json
check "--json: exit 0, nothing on stderr" eval 'test $rc -eq 0 -a ! -s "$err"'
check "driver version and two GPUs, in address order" \
    eval 'test "$(jq_py "j[\"driver_version\"], j[\"device_count\"], [g[\"address\"] for g in j[\"gpus\"]]")" = "580.159.04 2 ['"'"'0000:41:00.0'"'"', '"'"'0000:c1:00.0'"'"']"'
check "H200: name, ids, pass-through, MIG off" \
    eval 'test "$(jq_py "j[\"gpus\"][0][\"name\"], j[\"gpus\"][0][\"pci_ids\"], j[\"gpus\"][0][\"virtualization_mode\"], j[\"gpus\"][0][\"mig_mode\"][\"current\"]")" = "NVIDIA H200 10de:2335 pass-through False"'
check "H200 with MIG off: instances and vGPU queries carry NVML's sentence" \
    eval 'jq_py "j[\"gpus\"][0][\"gpu_instances_error\"]" | grep -q "nvmlDeviceGetGpuInstances on 0000:41:00.0: NVML_ERROR_NOT_SUPPORTED (3)" &&
          jq_py "j[\"gpus\"][0][\"supported_vgpu_types_error\"]" | grep -q "NVML_ERROR_NOT_SUPPORTED" &&
          jq_py "j[\"gpus\"][0][\"vgpu_heterogeneous_mode_error\"]" | grep -q "NVML_ERROR_NOT_SUPPORTED"'
check "H200: the driver's profiles match the built-in MIG table" \
    eval 'test "$(jq_py "j[\"gpus\"][0][\"builtin_mig_table\"], j[\"gpus\"][0][\"builtin_mig_table_check\"]")" = "H200 matches"'
check "A100 with MIG on: its two instances, remaining capacity per profile" \
    eval 'test "$(jq_py "[(i[\"id\"], i[\"profile\"], i[\"placement\"]) for i in j[\"gpus\"][1][\"gpu_instances\"]], {p[\"name\"]: p[\"remaining\"] for p in j[\"gpus\"][1][\"gpu_instance_profiles\"]}")" = "[(1, '"'"'3g.20gb'"'"', '"'"'4:4'"'"'), (2, '"'"'1g.5gb'"'"', '"'"'0:1'"'"')] {'"'"'1g.5gb'"'"': 3, '"'"'2g.10gb'"'"': 1, '"'"'3g.20gb'"'"': 0, '"'"'4g.20gb'"'"': 0, '"'"'7g.40gb'"'"': 0, '"'"'1g.5gb+me'"'"': 1, '"'"'1g.10gb'"'"': 1}"'
check "A100: supported vGPU types with framebuffer, heterogeneous mode on, none creatable (no VFs)" \
    eval 'test "$(jq_py "[(t[\"id\"], t[\"name\"], t[\"framebuffer_mb\"]) for t in j[\"gpus\"][1][\"supported_vgpu_types\"]], j[\"gpus\"][1][\"vgpu_heterogeneous_mode\"], j[\"gpus\"][1][\"creatable_vgpu_types\"]")" = "[(700, '"'"'NVIDIA A100-1-5C'"'"', 5120), (701, '"'"'NVIDIA A100-3-20C'"'"', 20480)] True []"'

check "--json names the library it loaded" eval 'test "$(jq_py "j[\"library\"]")" = "$SIMNVML"'
# The default name, libnvidia-ml.so.1, found by the dynamic loader.
cp "$out" "$tmp/probe.json"
VH_SIM_SYSFS_ROOT=$root LD_LIBRARY_PATH=$builddir/tests/sim-nvml "$VGPUCTL" nvml --json >"$out" 2>"$err"
check "without VH_NVML_LIBRARY: libnvidia-ml.so.1 from the loader's path" \
    eval 'test "$(jq_py "j[\"library\"], j[\"device_count\"]")" = "$builddir/tests/sim-nvml/libnvidia-ml.so.1 2"'
cp "$tmp/probe.json" "$out"

# The test NVML against the real H200's table.
cp "$out" "$tmp/probe.json"
check "the test NVML's H200 profiles equal the real H200's (fixture): ids, names, slices, counts, memory, placements" \
    "$PY" - "$FIXTURE" "$tmp/probe.json" <<'EOF'
import json, sys
keys = ("id", "name", "slices", "instance_count", "memory_mb", "placements")
def table(path):
    doc = json.load(open(path))
    gpu = next(g for g in doc["gpus"] if g.get("pci_ids") == "10de:2335")
    return sorted(tuple(json.dumps(p[k]) for k in keys) for p in gpu["gpu_instance_profiles"])
want, got = table(sys.argv[1]), table(sys.argv[2])
if want != got:
    print("fixture:", want, "\ntest NVML:", got)
    sys.exit(1)
EOF

run
check "text: exit 0 and one block per GPU" \
    eval 'test $rc -eq 0 && test "$(grep -c "^GPU " "$out")" -eq 2'
check "text: profiles with placements, MIG mode, instances, the built-in table check" \
    eval 'grep -qF "    14  2g.35gb      2 slices, max 3, 33280 MiB, placements 0:2 2:2 4:2" "$out" &&
          grep -qF "  MIG mode: off (pending off)" "$out" &&
          grep -qF "    GPU instance 1: 3g.20gb at 4:4" "$out" &&
          grep -qF "  built-in MIG table H200: matches" "$out" &&
          grep -qF "  GPU instances: error: nvmlDeviceGetGpuInstances on 0000:41:00.0: NVML_ERROR_NOT_SUPPORTED (3)" "$out"'

run --gpu 0000:C1:00.0 --json
check "--gpu: only that GPU (address normalised)" \
    eval 'test $rc -eq 0 && test "$(jq_py "[g[\"address\"] for g in j[\"gpus\"]]")" = "['"'"'0000:c1:00.0'"'"']"'
run --gpu 0000:99:00.0
check "--gpu of a GPU NVML does not know: its calls fail with NVML_ERROR_NOT_FOUND, exit 0" \
    eval 'test $rc -eq 0 && grep -qF "name: error: nvmlDeviceGetHandleByPciBusId_v2 on 0000:99:00.0: NVML_ERROR_NOT_FOUND" "$out"'
# sriov-manage rebinds the A100: its instances are gone, MIG stays on.
"$SIMCTL" "$root" rebind 0000:c1:00.0
run --gpu 0000:c1:00.0 --json
check "after a rebind: no GPU instance, MIG still on, every 1g.5gb placeable again" \
    eval 'test "$(jq_py "j[\"gpus\"][0][\"gpu_instances\"], j[\"gpus\"][0][\"mig_mode\"][\"current\"], j[\"gpus\"][0][\"gpu_instance_profiles\"][0][\"remaining\"]")" = "[] True 7"'
"$SIMCTL" "$root" set 0000:c1:00.0 instances "1:9:4:4;2:19:0:1"
check "sim-nvml-ctl set/get round trip" eval 'test "$("$SIMCTL" "$root" get 0000:c1:00.0 instances)" = "1:9:4:4;2:19:0:1"'

run --gpu nonsense
check "--gpu nonsense: exit 1, one line" eval 'test $rc -eq 1 && test "$(wc -l <"$err")" -eq 1'

# The state file gone: libnvidia-ml is there, the driver is not.
mv "$root/.fake-host/nvml.ini" "$root/.fake-host/nvml.ini.off"
run
check "no driver: exit 1, one line: NVML not available, NVML_ERROR_DRIVER_NOT_LOADED" \
    eval 'test $rc -eq 1 -a ! -s "$out" && test "$(wc -l <"$err")" -eq 1 &&
          grep -qF "vgpuctl: nvml: NVML not available: nvmlInit_v2: NVML_ERROR_DRIVER_NOT_LOADED (9)" "$err"'
run --json
check "no driver, --json: available false and the sentence" \
    eval 'test $rc -eq 1 && test "$(jq_py "j[\"available\"]")" = False'
mv "$root/.fake-host/nvml.ini.off" "$root/.fake-host/nvml.ini"

# No library at all (a host without NVIDIA's driver): --library wins over nothing.
VH_SIM_SYSFS_ROOT=$root "$VGPUCTL" nvml --library "$tmp/none/libnvidia-ml.so.1" >"$out" 2>"$err"
rc=$?
check "no library: exit 1, one line naming the file and what still works" \
    eval 'test $rc -eq 1 -a ! -s "$out" && test "$(wc -l <"$err")" -eq 1 &&
          grep -qF "NVML not available: cannot load $tmp/none/libnvidia-ml.so.1" "$err" &&
          grep -qF "what sysfs shows still works" "$err"'

# NVML is loaded on first use only: the hook, list, resources and validate
# never map it (ld.so's file trace names every object it loads).
"$FAKEHOST" "$top_srcdir/demo/demo-host.ini" "$tmp/demo-sys" >/dev/null 2>&1 || fail "demo host"
printf '[host]\nsysfs_root=%s\nstate_dir=%s\nuse_hwdb=false\n' "$tmp/demo-sys" "$tmp/state" >"$tmp/demo.conf"
traced() {
    LD_DEBUG=files VH_NVML_LIBRARY=$SIMNVML VH_SIM_SYSFS_ROOT=$root "$@" >"$out" 2>"$err"
}
loads_nvml() { grep -q 'file=.*libnvidia-ml' "$err"; }
for cmd in list resources validate; do
    traced "$VGPUCTL" --config "$tmp/demo.conf" "$cmd"
    check "vgpuctl $cmd does not load NVML" eval '! loads_nvml'
done
printf '<domain type="kvm"><name>plain</name></domain>\n' >"$tmp/plain.xml"
traced "$HOOK" --config "$tmp/demo.conf" plain prepare begin - <"$tmp/plain.xml"
rc=$?
check "the hook's prepare of a domain without named devices: exit 0, NVML not loaded" \
    eval 'test $rc -eq 0 && ! loads_nvml'
traced "$VGPUCTL" nvml
check "vgpuctl nvml does load it (the trace would show it)" loads_nvml

# validate on a host with an H200: MIG state through NVML, or what is missing.
cat >"$tmp/h200-host.ini" <<'EOF2'
[device 0000:41:00.0]
ids=10de:2335
class=0x030200
driver=nvidia
iommu_group=30
EOF2
"$FAKEHOST" "$tmp/h200-host.ini" "$tmp/h200-sys" >/dev/null 2>&1 || fail "H200 host"
printf '[host]\nsysfs_root=%s\nstate_dir=%s\nuse_hwdb=false\n' "$tmp/h200-sys" "$tmp/state" >"$tmp/h200.conf"
VH_SIM_SYSFS_ROOT=$root VH_NVML_LIBRARY=$SIMNVML "$VGPUCTL" --config "$tmp/h200.conf" validate >"$out" 2>"$err"
check "validate, H200 with NVML: MIG mode off and how to turn it on" \
    grep -qF "ok   0000:41:00.0   MIG-capable H200: MIG mode off (MIG-backed vGPU types need 'nvidia-smi -i 0000:41:00.0 -mig 1' before sriov-manage -e)" "$out"
VH_SIM_SYSFS_ROOT=$root VH_NVML_LIBRARY=$tmp/none.so "$VGPUCTL" --config "$tmp/h200.conf" validate >"$out" 2>"$err"
check "validate, H200 without NVML: a warning saying what cannot be checked" \
    grep -qF "warn 0000:41:00.0   MIG-capable H200, but NVML not available: cannot load $tmp/none.so" "$out"
check "validate, H200 without NVML: MIG-backed types only where sysfs lists them" \
    grep -qF "MIG-backed vGPU types are offered only where sysfs lists them creatable" "$out"

# The model on an SR-IOV H200 with MIG on and two 2g.35gb instances (0:2,
# 4:2): resources counts GPU instances (NVML), or MIG's counts from the
# built-in table without NVML; the hook maps NVML only for a domain that
# names a MIG-backed type.
cat >"$tmp/h200v-host.ini" <<'EOF2'
[vgpu-family H200X]
framebuffer_gb=141
types=1072:NVIDIA H200X-1-18C;1073:NVIDIA H200X-2-35C;1077:NVIDIA H200X-141C
[device 0000:41:00.0]
ids=10de:2335
class=0x030200
driver=nvidia
iommu_group=30
sriov_totalvfs=4
sriov_numvfs=4
vgpu_family=H200X
EOF2
v=$tmp/h200v-sys
"$FAKEHOST" "$tmp/h200v-host.ini" "$v" >/dev/null 2>&1 || fail "H200 vGPU host"
printf '[nvml]\n[gpu 0000:41:00.0]\nmodel=H200\nmig=1\ninstances=1:14:0:2;2:14:4:2\n' \
    >"$v/.fake-host/nvml.ini"
printf '[host]\nsysfs_root=%s\nstate_dir=%s\nuse_hwdb=false\n' "$v" "$tmp/h200v-state" >"$tmp/h200v.conf"
counts() {
    jq_py "[(r[\"name\"], r[\"capacity\"], r[\"allocatable\"]) for r in j if \"H200X\" in r[\"name\"]]"
}
VH_SIM_SYSFS_ROOT=$v VH_NVML_LIBRARY=$SIMNVML "$VGPUCTL" --config "$tmp/h200v.conf" resources --json >"$out" 2>"$err"
check "resources, H200 MIG on with two 2g.35gb instances: capacity from instances" \
    eval 'test "$(counts)" = "[('"'"'nvidia.com/H200X-1-18C'"'"', 0, 0), ('"'"'nvidia.com/H200X-141C'"'"', 1, 1), ('"'"'nvidia.com/H200X-2-35C'"'"', 2, 2)]"'
check "resources --json: a MIG-backed resource names its GPU-instance profile" \
    eval 'test "$(jq_py "[r.get(\"gpu_instance_profile\") for r in j if \"H200X\" in r[\"name\"]]")" = "['"'"'1g.18gb'"'"', None, '"'"'2g.35gb'"'"']"'
VH_SIM_SYSFS_ROOT=$v VH_NVML_LIBRARY=$SIMNVML "$VGPUCTL" --config "$tmp/h200v.conf" resources >"$out" 2>"$err"
check "resources: the GPU's instance layout under the table" \
    grep -qxF "GPU 0000:41:00.0: MIG on, GPU instances: instance 1 (2g.35gb at 0:2), instance 2 (2g.35gb at 4:2)" "$out"
VH_SIM_SYSFS_ROOT=$v VH_NVML_LIBRARY=$tmp/none.so "$VGPUCTL" --config "$tmp/h200v.conf" resources --json >"$out" 2>"$err"
VH_SIM_SYSFS_ROOT=$v VH_NVML_LIBRARY=$tmp/none.so "$VGPUCTL" --config "$tmp/h200v.conf" resources >"$tmp/out2" 2>"$err"
check "resources without NVML: the layout line says the built-in table and why" \
    grep -qF "GPU 0000:41:00.0: built-in H200 MIG table (NVML not available: cannot load $tmp/none.so" "$tmp/out2"
check "resources, H200 without NVML: MIG's counts from the built-in table (3, not 141/35)" \
    eval 'test "$(counts)" = "[('"'"'nvidia.com/H200X-1-18C'"'"', 4, 4), ('"'"'nvidia.com/H200X-141C'"'"', 1, 1), ('"'"'nvidia.com/H200X-2-35C'"'"', 3, 3)]"'
# domain_xml NAME N RESOURCE FUNCTION: a domain with one device, VF 0000:41:00.FUNCTION.
domain_xml() {
    printf '<domain type="kvm"><name>%s</name><uuid>00000000-0000-4000-8000-00000000000%s</uuid>' "$1" "$2"
    printf '<metadata><vgpu:devices xmlns:vgpu="urn:vgpu-hook:1"><vgpu:device alias="ua-gpu0" resource="%s"/></vgpu:devices></metadata>' "$3"
    printf '<devices><hostdev mode="subsystem" type="pci" managed="no"><source><address domain="0x0000" bus="0x41" slot="0x00" function="0x%s"/></source><alias name="ua-gpu0"/></hostdev></devices></domain>\n' "$4"
}
hook_traced() {
    LD_DEBUG=files VH_NVML_LIBRARY=$SIMNVML VH_SIM_SYSFS_ROOT=$v "$HOOK" --config "$tmp/h200v.conf" "$1" prepare begin - <"$tmp/$1.xml" >"$out" 2>"$err"
}
domain_xml ts 1 nvidia.com/H200X-141C 7 >"$tmp/ts.xml"
hook_traced ts
rc=$?
check "the hook's prepare of a time-sliced H200X-141C on an H200: exit 0, NVML not loaded" \
    eval 'test $rc -eq 0 && ! loads_nvml && test "$(cat "$v/bus/pci/devices/0000:41:00.7/nvidia/current_vgpu_type")" = 1077'
# Domains m1 and m2 take both 2g.35gb instances (VFs .4, .5); then VF .6's
# list lacks 2-35C, as the driver's would.
domain_xml m1 2 nvidia.com/H200X-2-35C 4 >"$tmp/m1.xml"
domain_xml m2 3 nvidia.com/H200X-2-35C 5 >"$tmp/m2.xml"
hook_traced m1 && hook_traced m2 || fail "m1, m2: $(grep -v '^ *[0-9]*:' "$err")"
printf 'ID    : vGPU Name\n1072  : NVIDIA H200X-1-18C\n' >"$v/bus/pci/devices/0000:41:00.6/nvidia/creatable_vgpu_types"
domain_xml m3 4 nvidia.com/H200X-2-35C 6 >"$tmp/m3.xml"
hook_traced m3
rc=$?
check "the hook's refusal of a MIG-backed H200X-2-35C asks NVML and names the instances, VFs and domains" \
    eval 'test $rc -ne 0 && loads_nvml &&
          grep -v "^ *[0-9]*:" "$err" | grep -qF "GPU 0000:41:00.0 has no free 2g.35gb GPU instance for H200X-2-35C: VF 0000:41:00.4 holds H200X-2-35C (domain '"'m1'"'), VF 0000:41:00.5 holds H200X-2-35C (domain '"'m2'"') (GPU instances: instance 1 (2g.35gb at 0:2), instance 2 (2g.35gb at 4:2))"'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-mig-show: what vgpuctl shows of MIG GPUs' GPU instances, on a fake H200
# with the simulated kernel and the test NVML: `list` (text and --json),
# `leases` (text and --json), `metrics` (the mig families, checked by promtool
# where installed) and `export kubevirt` (MIG-backed types under the names
# NVIDIA's KubeVirt GPU device plugin offers them by). The simulated driver
# writes each VF's nvidia/gpu_instance_id and picks the highest free instance,
# so a model that guessed (the lowest) would show other instances than these.
#
#   top_builddir=_build tests/test-mig-show.sh     (make check sets top_builddir)
set -u

TEST_NAME=test-mig-show
# shellcheck source=tests/sim-host.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/sim-host.sh"
PY=/usr/bin/python3
SIMNVML=$builddir/tests/sim-nvml/libnvidia-ml.so.1
if [ ! -e "$SIMNVML" ]; then
    echo "$TEST_NAME: $SIMNVML is missing: run 'make check' first" >&2
    exit 99
fi
export VH_NVML_LIBRARY=$SIMNVML

# The H200 replaces sim-host.sh's host. H200X-1-9C stands for a type that
# time-slices inside an instance (two share a 1g.18gb).
cat >"$tmp/h200.ini" <<'EOF'
[vgpu-family H200X]
framebuffer_gb=141
types=1071:NVIDIA H200X-1-9C;1072:NVIDIA H200X-1-18C;1073:NVIDIA H200X-2-35C;1074:NVIDIA H200X-3-71C
[device 0000:41:00.0]
ids=10de:2335
class=0x030200
driver=nvidia
iommu_group=30
sriov_totalvfs=6
sriov_numvfs=6
vgpu_family=H200X
vgpu_mode=mixed
gpu_instances=1071:19x2;1072:19;1073:14;1074:9
EOF
rm -rf "$sys"
"$FAKEHOST" "$tmp/h200.ini" "$sys" || exit 99
cat >"$sys/.fake-host/nvml.ini" <<'EOF'
[nvml]
[gpu 0000:41:00.0]
model=H200
mig=1
EOF
# The instances, made as an operator would: the driver's lists follow.
"$builddir/tests/sim-nvml-ctl" "$sys" set 0000:41:00.0 instances '1:14:0:2;2:19:4:1;3:19:5:1;4:19:6:1' ||
    exit 99

jq_py() {
    "$PY" -c "import json,sys; j=json.load(open(sys.argv[1])); print($1)" "$out"
}

# value SERIES: the value of the metrics sample SERIES in $out
value() {
    SERIES=$1 awk '{ v = $NF; $NF = ""; sub(/ $/, ""); if ($0 == ENVIRON["SERIES"]) print v }' "$out"
}

gi_of() {
    cat "$sys/bus/pci/devices/$1/nvidia/gpu_instance_id"
}

# ---- four domains: two 1-9C share an instance, a 2-35C, a 1-18C ------------
domain a 1 0000:41:00.4 nvidia.com/H200X-1-9C >"$tmp/a.xml"
domain b 2 0000:41:00.5 nvidia.com/H200X-1-9C >"$tmp/b.xml"
domain c 3 0000:41:00.6 nvidia.com/H200X-2-35C >"$tmp/c.xml"
domain d 4 0000:41:00.7 nvidia.com/H200X-1-18C >"$tmp/d.xml"
for d in a b c d; do
    ctl prepare "$tmp/$d.xml"
    check "prepare $d" test "$rc" -eq 0
    touch "$run/$d.pid"
done
check "the driver seated them: 1-9C x2 in 4, 2-35C in 1, 1-18C in 3" \
    test "$(gi_of 0000:41:00.4) $(gi_of 0000:41:00.5) $(gi_of 0000:41:00.6) $(gi_of 0000:41:00.7)" = "4 4 1 3"

# ---- list ----------------------------------------------------------------------
ctl list
check "list: exit 0" test "$rc" -eq 0
check "list: heading from NVML" grep -qx 'GPU 0000:41:00.0: MIG on, 4 GPU instances (NVML)' "$out"
check "list: the two 1-9C time-slice in instance 4" grep -qxF \
    '  instance 4 (1g.18gb at 6:1): H200X-1-9C, 2 of 2: VF 0000:41:00.4 (a (active)), VF 0000:41:00.5 (b (active))' "$out"
check "list: the 1-18C where the driver put it (3, not the first free 2)" grep -qxF \
    '  instance 3 (1g.18gb at 5:1): H200X-1-18C, 1 of 1: VF 0000:41:00.7 (d (active))' "$out"
check "list: instance 2 free" grep -qxF '  instance 2 (1g.18gb at 4:1): free' "$out"

ctl --json list
check "list --json: exit 0" test "$rc" -eq 0
check "list --json: the PF's mig member" eval 'test "$(jq_py "[(m[\"mode\"], m[\"source\"], m[\"table\"], [i[\"id\"] for i in m[\"instances\"]]) for m in [j[0][\"mig\"]]]")" = "[('"'"'on'"'"', '"'"'nvml'"'"', '"'"'NVIDIA H200'"'"', [1, 2, 3, 4])]"'
check "list --json: instance 4 holds two of two, with their leases" eval 'test "$(jq_py "[(i[\"type\"], i[\"slots\"], i[\"free\"], [(v[\"vf\"], v[\"leased_by\"]) for v in i[\"vgpus\"]]) for i in j[0][\"mig\"][\"instances\"] if i[\"id\"] == 4]")" = "[('"'"'H200X-1-9C'"'"', 2, False, [('"'"'0000:41:00.4'"'"', '"'"'a (active)'"'"'), ('"'"'0000:41:00.5'"'"', '"'"'b (active)'"'"')])]"'
check "list --json: a free instance" eval 'test "$(jq_py "[(i[\"type\"], i[\"slots\"], i[\"free\"], i[\"vgpus\"]) for i in j[0][\"mig\"][\"instances\"] if i[\"id\"] == 2]")" = "[(None, None, True, [])]"'
check "list --json: each VF's gpu_instance" eval 'test "$(jq_py "[r[\"vgpu\"][\"gpu_instance\"] for r in j[1:]]")" = "[4, 4, 1, 3, None, None]"'
check "list --json: VFs have no mig member" eval 'test "$(jq_py "[\"mig\" in r for r in j[1:]]")" = "[False, False, False, False, False, False]"'

# ---- leases --------------------------------------------------------------------
ctl leases
check "leases: exit 0, a GPU-INSTANCE column" eval 'test $rc -eq 0 && head -1 "$out" | grep -q "GPU-INSTANCE$"'
check "leases: d sits in instance 3" grep -q '^0000:41:00.7 .* d  *3 (1g.18gb at 5:1)$' "$out"
ctl --json leases
check "leases --json: the instances of a, b, c, d" eval 'test "$(jq_py "sorted((l[\"domain\"], l[\"gpu_instance\"][\"id\"], l[\"gpu_instance\"][\"profile\"], l[\"gpu_instance\"][\"placement\"]) for l in j)")" = "[('"'"'a'"'"', 4, '"'"'1g.18gb'"'"', '"'"'6:1'"'"'), ('"'"'b'"'"', 4, '"'"'1g.18gb'"'"', '"'"'6:1'"'"'), ('"'"'c'"'"', 1, '"'"'2g.35gb'"'"', '"'"'0:2'"'"'), ('"'"'d'"'"', 3, '"'"'1g.18gb'"'"', '"'"'5:1'"'"')]"'

# ---- capacity and refusals -------------------------------------------------------
ctl --json resources
check "resources: 1-9C 6 (3 instances x 2), 2 free; 1-18C 3, 1 free" eval 'test "$(jq_py "sorted((r[\"name\"], r[\"capacity\"], r[\"allocatable\"]) for r in (j[\"resources\"] if isinstance(j, dict) else j) if \"1-\" in r[\"name\"])")" = "[('"'"'nvidia.com/H200X-1-18C'"'"', 3, 1), ('"'"'nvidia.com/H200X-1-9C'"'"', 6, 2)]"'
domain e 5 0000:41:01.0 nvidia.com/H200X-1-9C >"$tmp/e.xml"
domain f 6 0000:41:01.1 nvidia.com/H200X-1-18C >"$tmp/f.xml"
ctl prepare "$tmp/e.xml"
check "prepare e: a 1-9C takes the free instance 2" eval 'test $rc -eq 0 && test "$(gi_of 0000:41:01.0)" = 2'
touch "$run/e.pid"
ctl prepare "$tmp/f.xml"
check "prepare f: refused in one line naming the instances and domains" \
    eval 'test $rc -ne 0 && test "$(wc -l <"$err")" -eq 1 && test -z "$(gi_of 0000:41:01.1)" &&
          grep -q "no free 1g.18gb GPU instance for H200X-1-18C" "$err" &&
          grep -q "VF 0000:41:00.7 holds H200X-1-18C in instance 3 (domain .d.)" "$err" &&
          grep -q "VF 0000:41:01.0 holds H200X-1-9C in instance 2 (domain .e.)" "$err"'

# ---- metrics ---------------------------------------------------------------------
ctl metrics
check "metrics: exit 0" test "$rc" -eq 0
check "metrics: MIG on" test "$(value 'vgpu_hook_mig_mode{gpu="0000:41:00.0"}')" = 1
check "metrics: 1g.18gb used 3, free 0; 2g.35gb used 1" test \
    "$(value 'vgpu_hook_mig_instances{gpu="0000:41:00.0",profile="1g.18gb",state="used"}') $(value 'vgpu_hook_mig_instances{gpu="0000:41:00.0",profile="1g.18gb",state="free"}') $(value 'vgpu_hook_mig_instances{gpu="0000:41:00.0",profile="2g.35gb",state="used"}')" = "3 0 1"
check "metrics: instance 4 holds 2 vGPUs of 2 slots" test \
    "$(value 'vgpu_hook_mig_instance_vgpus{gpu="0000:41:00.0",instance="4",profile="1g.18gb",placement="6:1",type="H200X-1-9C"}') $(value 'vgpu_hook_mig_instance_slots{gpu="0000:41:00.0",instance="4",profile="1g.18gb",placement="6:1",type="H200X-1-9C"}')" = "2 2"
check "metrics: instance 2 holds 1 of 2" test \
    "$(value 'vgpu_hook_mig_instance_vgpus{gpu="0000:41:00.0",instance="2",profile="1g.18gb",placement="4:1",type="H200X-1-9C"}')" = 1
if command -v promtool >/dev/null; then
    check "metrics: promtool check metrics" eval 'promtool check metrics <"$out" >/dev/null 2>&1'
else
    echo "(promtool not installed: its check not run)"
fi

# ---- export kubevirt ---------------------------------------------------------------
ctl export kubevirt
check "export: default names share a selector: left out (3), naming the plugin's names" \
    eval 'test $rc -eq 3 && grep -q "declare the resource as nvidia.com/NVIDIA_H200X-1-9C" "$err"'
cp "$conf" "$tmp/declared.conf"
for t in H200X-1-9C H200X-1-18C H200X-2-35C; do
    printf '[resource "nvidia.com/NVIDIA_%s"]\nkind=sriov-vgpu\nselector=10de:2335\nprofile=%s\n' "$t" "$t" \
        >>"$tmp/declared.conf"
done
sim "$CTL" --config "$tmp/declared.conf" --json export kubevirt >"$out" 2>"$err"
rc=$?
check "export: declared under the plugin's names: one external entry per type" \
    eval 'test $rc -eq 0 && test "$(jq_py "[(e[\"resourceName\"], e[\"pciVendorSelector\"], e.get(\"externalResourceProvider\")) for e in j[\"spec\"][\"configuration\"][\"permittedHostDevices\"][\"pciHostDevices\"]]")" = "[('"'"'nvidia.com/NVIDIA_H200X-1-18C'"'"', '"'"'10DE:2335'"'"', True), ('"'"'nvidia.com/NVIDIA_H200X-1-9C'"'"', '"'"'10DE:2335'"'"', True), ('"'"'nvidia.com/NVIDIA_H200X-2-35C'"'"', '"'"'10DE:2335'"'"', True)]"'

# ---- without NVML: the built-in table, instance ids from gpu_instance_id ----------
VH_NVML_LIBRARY=$tmp/no-such-libnvidia-ml.so.1 ctl list
check "no NVML: built-in table named, with the reason" \
    grep -q '^GPU 0000:41:00.0: MIG mode unknown, built-in H200 MIG table (NVML not available' "$out"
check "no NVML: the driver's instance ids still group the VFs" grep -qxF \
    '  instance 4 (1g.18gb at 6:1): H200X-1-9C, 2 of 2: VF 0000:41:00.4 (a (active)), VF 0000:41:00.5 (b (active))' "$out"
VH_NVML_LIBRARY=$tmp/no-such-libnvidia-ml.so.1 ctl metrics
check "no NVML: no mig_mode sample, no free count" \
    eval '! grep -q "^vgpu_hook_mig_mode{" "$out" && ! grep -q "state=\"free\"" "$out" && grep -q "^vgpu_hook_mig_instances{.*state=\"used\"} " "$out"'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

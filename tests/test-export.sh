#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-export: `vgpuctl export kubevirt` on fake hosts (tests/vh-fakehost),
# its output read back by real parsers (Debian's python3-yaml, python's json)
# and compared with the KubeVirt CR snippets of the seed
# (cozystack-gpu-passthrough-and-vgpu.txt): the A10 passthrough block and the
# L40S-24Q SR-IOV vGPU block. Also the full demo host (all three kinds), --json
# against the YAML, resources KubeVirt cannot express (left out with a
# warning, exit 3), and usage errors (exit 2).
#
#   top_srcdir=. top_builddir=_build tests/test-export.sh   (make check sets both)
#
# VH_TEST_EXPORT_RUNNER, when set, is put in front of vgpuctl, e.g. valgrind
# (libtool runs the real binary, not its wrapper script):
#   VH_TEST_EXPORT_RUNNER="_build/libtool --mode=execute valgrind -q --error-exitcode=9
#       --leak-check=full --errors-for-leak-kinds=definite" ...
# Exit 77 (SKIP) when /usr/bin/python3 cannot import yaml (python3-yaml).
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${top_srcdir:-$here/..}" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
VGPUCTL=$builddir/vgpuctl
FAKEHOST=$builddir/tests/vh-fakehost
SHIM=$builddir/tests/.libs/libsimkernel.so
PY=/usr/bin/python3

if ! "$PY" -c 'import yaml' 2>/dev/null; then
    echo "SKIP: $PY cannot import yaml; install python3-yaml (scripts/deps.sh) to parse the export" >&2
    echo "SKIP: $PY cannot import yaml; install python3-yaml (scripts/deps.sh) to parse the export"
    exit 77
fi
for f in "$VGPUCTL" "$FAKEHOST" "$SHIM"; do
    if [ ! -e "$f" ]; then
        echo "test-export: $f is missing: run 'make check' (or build it) first" >&2
        exit 99
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-export.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT

out=$tmp/out
err=$tmp/err
check_show_lines=40
# shellcheck source=tests/check.sh
. "$top_srcdir/tests/check.sh"

# The seed's two snippets, as the seed prints them (its comment included).
cat >"$tmp/seed-a10.yaml" <<'EOF'
spec:
  configuration:
    permittedHostDevices:
      pciHostDevices:
      - externalResourceProvider: true
        pciVendorSelector: 10DE:2236
        resourceName: nvidia.com/GA102GL_A10
EOF
cat >"$tmp/seed-l40s.yaml" <<'EOF'
spec:
  configuration:
    permittedHostDevices:
      pciHostDevices:
        - pciVendorSelector: "10DE:26B9" # L40S — same tuple for PF and VF
          resourceName: nvidia.com/L40S-24Q
EOF

# same_data KIND ACTUAL EXPECTED: ACTUAL (yaml or json) parses to exactly the
# data of EXPECTED (yaml); every mapping's keys are in kubectl's (sorted) order.
same_data() {
    "$PY" - "$@" <<'EOF'
import json, sys, yaml
kind, actual_path, expected_path = sys.argv[1:4]
with open(actual_path, encoding="utf-8") as f:
    actual = json.load(f) if kind == "json" else yaml.safe_load(f)
with open(expected_path, encoding="utf-8") as f:
    expected = yaml.safe_load(f)
def unsorted(node, path="/"):
    if isinstance(node, dict):
        if list(node) != sorted(node):
            return "%s: keys %s" % (path, list(node))
        return next((u for k, v in node.items() if (u := unsorted(v, path + k + "/"))), None)
    if isinstance(node, list):
        return next((u for i, v in enumerate(node) if (u := unsorted(v, "%s%d/" % (path, i)))), None)
    return None
if actual != expected:
    print("    got:      %s\n    expected: %s" % (json.dumps(actual), json.dumps(expected)))
    sys.exit(1)
if (u := unsorted(actual)):
    print("    not in kubectl's key order at " + u)
    sys.exit(1)
EOF
}

# export CONF SYS STATE [ARGS...]: vgpuctl export kubevirt; status in $rc.
export_run() {
    local conf=$1 sys=$2 state=$3
    shift 3
    # shellcheck disable=SC2086
    ${VH_TEST_EXPORT_RUNNER:-} "$VGPUCTL" export --config "$conf" --sysfs-root "$sys" \
        --state-dir "$state" --cache-dir "${EXPORT_CACHE:-$state.cache}" "$@" >"$out" 2>"$err"
    rc=$?
}

# apply_profiles CONF SYS STATE LINES: boot-time profiles through the simulated
# kernel, as an operator assigns them before moving a host to KubeVirt.
apply_profiles() {
    printf '%s\n' "$4" >"$tmp/profiles"
    LD_PRELOAD=$SHIM VH_SIM_SYSFS_ROOT=$2 VH_SIM_DEV_DIR=$tmp/dev \
        "$VGPUCTL" apply-profiles --config "$1" --sysfs-root "$2" --state-dir "$3" \
        --cache-dir "$3.cache" "$tmp/profiles" >"$tmp/apply.log" 2>&1
}

build_host() { # INI DIR
    if ! "$FAKEHOST" "$1" "$2" >"$tmp/fakehost.log" 2>&1; then
        echo "test-export: cannot build the fake host $1:" >&2
        cat "$tmp/fakehost.log" >&2
        exit 99
    fi
}

mkdir -p "$tmp/dev/vfio"
# A private PCI IDs file: the names do not depend on the machine's database.
printf '10de  NVIDIA Corporation\n\t1aef  GA102 High Definition Audio Controller\n\t2236  GA102GL [A10]\n\t26b9  AD102GL [L40S]\n' \
    >"$tmp/pci.ids"
cat >"$tmp/plain.conf" <<EOF
[host]
pci_ids=$tmp/pci.ids
use_hwdb=false
EOF

# ---- 1. two A10 on vfio-pci (the seed's passthrough host) -> the seed's block
cat >"$tmp/a10.ini" <<'EOF'
[device 0000:3b:00.0]
ids=10de:2236
subsystem=10de:1482
class=0x030200
driver=vfio-pci
iommu_group=20
[device 0000:3b:00.1]
ids=10de:1aef
subsystem=10de:1482
class=0x040300
driver=vfio-pci
iommu_group=20
[device 0000:86:00.0]
ids=10de:2236
subsystem=10de:1482
class=0x030200
driver=vfio-pci
iommu_group=21
[device 0000:86:00.1]
ids=10de:1aef
subsystem=10de:1482
class=0x040300
driver=vfio-pci
iommu_group=21
EOF
build_host "$tmp/a10.ini" "$tmp/a10"
export_run "$tmp/plain.conf" "$tmp/a10" "$tmp/a10-state" kubevirt
check "A10 host: exit 0, nothing on stderr" test "$rc" -eq 0 -a ! -s "$err"
cp "$out" "$tmp/a10.yaml"
check "A10 host: YAML equals the seed's A10 passthrough block" \
    same_data yaml "$tmp/a10.yaml" "$tmp/seed-a10.yaml"
check "A10 host: YAML comes from libyaml's emitter (quoted selector, no document marker)" \
    grep -qx '        pciVendorSelector: "10DE:2236"' "$tmp/a10.yaml"
export_run "$tmp/plain.conf" "$tmp/a10" "$tmp/a10-state" kubevirt --json
check "A10 host: --json equals the seed's block too" same_data json "$out" "$tmp/seed-a10.yaml"

# ---- 2. an L40S whose VFs hold L40S-24Q -> the seed's vGPU block ------------
cat >"$tmp/l40s.ini" <<'EOF'
[vgpu-family L40S]
framebuffer_gb=48
types=1155:NVIDIA L40S-1Q;1156:NVIDIA L40S-2Q;1157:NVIDIA L40S-4Q;1158:NVIDIA L40S-6Q;1159:NVIDIA L40S-8Q;1160:NVIDIA L40S-12Q;1161:NVIDIA L40S-24Q;1162:NVIDIA L40S-48Q
[device 0000:41:00.0]
ids=10de:26b9
subsystem=10de:1851
class=0x030200
driver=nvidia
iommu_group=30
sriov_totalvfs=32
sriov_numvfs=16
vgpu_family=L40S
EOF
build_host "$tmp/l40s.ini" "$tmp/l40s"
# Before any profile: KubeVirt would offer nothing; say so.
export_run "$tmp/plain.conf" "$tmp/l40s" "$tmp/l40s-state" kubevirt
check "idle L40S: exit 3 (printed, something left out)" test "$rc" -eq 3
check "idle L40S: one warning naming the GPU and the fix" \
    test "$(cat "$err")" = "vgpuctl: warning: export: GPU 0000:41:00.0 not exported: no VF holds a vGPU profile and KubeVirt does not assign profiles; assign them first (vgpuctl apply-profiles)"
printf 'spec: {configuration: {permittedHostDevices: {}}}\n' >"$tmp/empty.yaml"
check "idle L40S: an empty permittedHostDevices" same_data yaml "$out" "$tmp/empty.yaml"

if apply_profiles "$tmp/plain.conf" "$tmp/l40s" "$tmp/l40s-state" \
    $'0000:41:00.4=L40S-24Q\n0000:41:00.5=L40S-24Q'; then
    pass "L40S: apply-profiles gives two VFs L40S-24Q"
else
    fail "L40S: apply-profiles gives two VFs L40S-24Q: $(cat "$tmp/apply.log")"
fi
export_run "$tmp/plain.conf" "$tmp/l40s" "$tmp/l40s-state" kubevirt
check "L40S-24Q host: exit 0, nothing on stderr" test "$rc" -eq 0 -a ! -s "$err"
cp "$out" "$tmp/l40s.yaml"
check "L40S-24Q host: YAML equals the seed's L40S-24Q block (no externalResourceProvider)" \
    same_data yaml "$tmp/l40s.yaml" "$tmp/seed-l40s.yaml"
export_run "$tmp/plain.conf" "$tmp/l40s" "$tmp/l40s-state" kubevirt --json
check "L40S-24Q host: --json equals it too" same_data json "$out" "$tmp/seed-l40s.yaml"

# The state directory lost (it lives in /run: a reboot): the type cache
# outside it still names type 1161.
EXPORT_CACHE=$tmp/l40s-state.cache export_run "$tmp/plain.conf" "$tmp/l40s" "$tmp/l40s-fresh-state" kubevirt
check "busy L40S, state lost, cache kept: exit 0, same YAML" \
    test "$rc" -eq 0 -a ! -s "$err"
check "busy L40S, state lost, cache kept: YAML equals the seed's block" \
    same_data yaml "$out" "$tmp/seed-l40s.yaml"
# Cache lost too: type 1161 has no name it could export under.
export_run "$tmp/plain.conf" "$tmp/l40s" "$tmp/l40s-fresh-state" kubevirt
check "busy L40S, state and cache lost: exit 3, the unnamed type and the fix said" \
    test "$rc" -eq 3 -a "$(cat "$err")" = "vgpuctl: warning: export: GPU 0000:41:00.0 not exported: VF 0000:41:00.4 holds vGPU type 1161, which neither the driver's lists nor the type cache ($tmp/l40s-fresh-state.cache, driver unknown) name: stop its domains, write 0 to nvidia/current_vgpu_type of every VF of GPU 0000:41:00.0, then run vgpuctl apply-profiles, which remembers the whole table"
check "export wrote nothing: no cache appeared" test ! -e "$tmp/l40s-fresh-state.cache"

# ---- 3. the full demo host: all three kinds ---------------------------------
build_host "$top_srcdir/demo/demo-host.ini" "$tmp/demo"
demo_conf=$top_srcdir/demo/demo.conf
cat >"$tmp/demo-expected.yaml" <<'EOF'
spec:
  configuration:
    permittedHostDevices:
      mediatedDevices:
      - {mdevNameSelector: GRID T4-16Q, resourceName: nvidia.com/GRID_T4-16Q}
      - {mdevNameSelector: GRID T4-1B, resourceName: nvidia.com/GRID_T4-1B}
      - {mdevNameSelector: GRID T4-1Q, resourceName: nvidia.com/GRID_T4-1Q}
      - {mdevNameSelector: GRID T4-2B, resourceName: nvidia.com/GRID_T4-2B}
      - {mdevNameSelector: GRID T4-2Q, resourceName: nvidia.com/GRID_T4-2Q}
      - {mdevNameSelector: GRID T4-4Q, resourceName: nvidia.com/GRID_T4-4Q}
      - {mdevNameSelector: GRID T4-8Q, resourceName: nvidia.com/GRID_T4-8Q}
      pciHostDevices:
      - {externalResourceProvider: true, pciVendorSelector: "10DE:2236", resourceName: nvidia.com/GA102GL_A10}
      - {pciVendorSelector: "10DE:26B9", resourceName: nvidia.com/L40S-24Q}
EOF
if apply_profiles "$demo_conf" "$tmp/demo" "$tmp/demo-state" \
    $'0000:41:00.4=L40S-24Q\n0000:41:00.5=L40S-24Q'; then
    pass "demo host: apply-profiles"
else
    fail "demo host: apply-profiles: $(cat "$tmp/apply.log")"
fi
export_run "$demo_conf" "$tmp/demo" "$tmp/demo-state" kubevirt
check "demo host: exit 0, nothing on stderr" test "$rc" -eq 0 -a ! -s "$err"
cp "$out" "$tmp/demo.yaml"
check "demo host: passthrough A10, SR-IOV L40S-24Q and the T4 mdev types" \
    same_data yaml "$tmp/demo.yaml" "$tmp/demo-expected.yaml"
export_run "$demo_conf" "$tmp/demo" "$tmp/demo-state" kubevirt --json
check "demo host: --json parses to the same data as the YAML" same_data json "$out" "$tmp/demo.yaml"
export_run "$demo_conf" "$tmp/demo" "$tmp/demo-state" --json kubevirt
check "demo host: --json before the format works too" same_data json "$out" "$tmp/demo.yaml"

# ---- 4. resources KubeVirt cannot express: left out, one warning each -------
# demo_with NAME CONFIG-TAIL: the demo config plus declarations.
demo_with() {
    { cat "$demo_conf"; printf '%s\n' "$2"; } >"$tmp/$1.conf"
}
demo_with custom '
[resource "example.com/a10"]
kind=passthrough
selector=10de:2236
[resource "example.com/l40s-half"]
kind=sriov-vgpu
selector=10de:26b9
profile=L40S-24Q
[resource "example.com/t4-1q"]
kind=mdev
selector=10de:1eb8
profile=GRID T4-1Q
[resource "example.com/nic"]
kind=passthrough
selector=14e4:165f
[resource "example.com/none"]
kind=passthrough
selector=10de:ffff'
export_run "$tmp/custom.conf" "$tmp/demo" "$tmp/demo-state" kubevirt
check "custom names: exit 3" test "$rc" -eq 3
cat >"$tmp/custom-expected.txt" <<'EOF'
vgpuctl: warning: export: example.com/a10 not exported: NVIDIA's sandbox device plugin offers these GPUs to KubeVirt as nvidia.com/GA102GL_A10 and KubeVirt cannot rename them; name the resource nvidia.com/GA102GL_A10
vgpuctl: warning: export: example.com/l40s-half not exported: KubeVirt tells the profiles of a GPU apart by resource name only, which must be nvidia.com/L40S-24Q
vgpuctl: warning: export: example.com/none not exported: no device of this host belongs to it
EOF
check "custom names: a renamed GPU, a renamed vGPU profile and an empty resource warned about, nothing else" \
    cmp -s "$err" "$tmp/custom-expected.txt"
cat >"$tmp/custom-expected.yaml" <<'EOF'
spec:
  configuration:
    permittedHostDevices:
      mediatedDevices:
      - {mdevNameSelector: GRID T4-1Q, resourceName: example.com/t4-1q}
      - {mdevNameSelector: GRID T4-16Q, resourceName: nvidia.com/GRID_T4-16Q}
      - {mdevNameSelector: GRID T4-1B, resourceName: nvidia.com/GRID_T4-1B}
      - {mdevNameSelector: GRID T4-2B, resourceName: nvidia.com/GRID_T4-2B}
      - {mdevNameSelector: GRID T4-2Q, resourceName: nvidia.com/GRID_T4-2Q}
      - {mdevNameSelector: GRID T4-4Q, resourceName: nvidia.com/GRID_T4-4Q}
      - {mdevNameSelector: GRID T4-8Q, resourceName: nvidia.com/GRID_T4-8Q}
      pciHostDevices:
      - {pciVendorSelector: "14E4:165F", resourceName: example.com/nic}
EOF
check "custom names: an mdev type under its own name and a non-NVIDIA device (KubeVirt's plugin) exported" \
    same_data yaml "$out" "$tmp/custom-expected.yaml"

demo_with address '
[resource "example.com/a10-left"]
kind=passthrough
selector=10de:2236
address=0000:3b:00.0'
export_run "$tmp/address.conf" "$tmp/demo" "$tmp/demo-state" kubevirt
cat >"$tmp/address-expected.txt" <<'EOF'
vgpuctl: warning: export: example.com/a10-left not exported: KubeVirt selects by vendor:device only and would also offer 0000:86:00.0, which is not in it (address=, subsystem= or deny)
vgpuctl: warning: export: nvidia.com/GA102GL_A10 not exported: KubeVirt selects by vendor:device only and would also offer 0000:3b:00.0, which is not in it (address=, subsystem= or deny)
EOF
check "address=: both A10 resources left out, exit 3" \
    test "$rc" -eq 3 -a "$(cat "$err")" = "$(cat "$tmp/address-expected.txt")"
check "address=: the rest is still exported" \
    "$PY" -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1]))["spec"]["configuration"]["permittedHostDevices"]; sys.exit(not (len(d["mediatedDevices"]) == 7 and [e["resourceName"] for e in d["pciHostDevices"]] == ["nvidia.com/L40S-24Q"]))' "$out"

# A denied A10 is never offered here, but KubeVirt would see it.
sed 's/^deny=.*/deny=0000:03:00.0;0000:86:00.0/' "$demo_conf" >"$tmp/deny.conf"
export_run "$tmp/deny.conf" "$tmp/demo" "$tmp/demo-state" kubevirt
check "deny: the A10 resource with a denied twin left out" \
    test "$rc" -eq 3 -a "$(cat "$err")" = "vgpuctl: warning: export: nvidia.com/GA102GL_A10 not exported: KubeVirt selects by vendor:device only and would also offer 0000:86:00.0, which is not in it (address=, subsystem= or deny)"

# One VF's L40S-24Q under a name of its own: KubeVirt cannot split the VFs
# holding one profile, so neither part is exported.
demo_with vfaddr '
[resource "example.com/l40s-24q-one"]
kind=sriov-vgpu
selector=10de:26b9
profile=L40S-24Q
address=0000:41:00.4'
export_run "$tmp/vfaddr.conf" "$tmp/demo" "$tmp/demo-state" kubevirt
cat >"$tmp/vfaddr-expected.txt" <<'EOF'
vgpuctl: warning: export: example.com/l40s-24q-one not exported: VF 0000:41:00.5 holds L40S-24Q too but is not in it, and KubeVirt selects by vendor:device and profile only
vgpuctl: warning: export: nvidia.com/L40S-24Q not exported: VF 0000:41:00.4 holds L40S-24Q too but is not in it, and KubeVirt selects by vendor:device and profile only
EOF
check "address= on VFs: both L40S-24Q parts left out, each naming the other's VF" \
    test "$rc" -eq 3 -a "$(cat "$err")" = "$(cat "$tmp/vfaddr-expected.txt")"

# A garbled mdev type name from the driver: left out, the rest still valid.
build_host "$top_srcdir/demo/demo-host.ini" "$tmp/garbled"
printf 'GRID T4-1Q\377\n' >"$tmp/garbled/devices/pci0000:00/0000:af:00.0/mdev_supported_types/nvidia-230/name"
export_run "$demo_conf" "$tmp/garbled" "$tmp/garbled-state" kubevirt
check "garbled mdev name: exit 3, the resource named after the type id" \
    grep -qxF "vgpuctl: warning: export: nvidia.com/nvidia-230 not exported: the driver's name of its mdev type is not valid UTF-8" "$err"
check "garbled mdev name: the YAML is still valid, without it" \
    "$PY" -c 'import sys, yaml; d = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))["spec"]["configuration"]["permittedHostDevices"]; sys.exit(not (len(d["mediatedDevices"]) == 6 and sys.argv[2] == "3"))' "$out" "$rc"
export_run "$demo_conf" "$tmp/garbled" "$tmp/garbled-state" kubevirt --json
check "garbled mdev name: the JSON is valid UTF-8 JSON" \
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1], encoding="utf-8")); sys.exit(len(d["spec"]["configuration"]["permittedHostDevices"]["mediatedDevices"]) != 6)' "$out"

# ---- 5. usage and failures ----------------------------------------------------
usage() { # WHAT EXPECTED-MESSAGE ARGS...
    local what=$1 msg=$2
    shift 2
    ${VH_TEST_EXPORT_RUNNER:-} "$VGPUCTL" export "$@" >"$out" 2>"$err"
    rc=$?
    check "$what: exit 2, one line" test "$rc" -eq 2 -a ! -s "$out" -a "$(cat "$err")" = "$msg"
}
usage "no format" "vgpuctl: export: expected kubevirt (try 'vgpuctl export --help')"
usage "unknown format" \
    "vgpuctl: export: unknown format 'foo': the only one is kubevirt (try 'vgpuctl export --help')" foo
usage "two formats" "vgpuctl: export: expected kubevirt, got more (try 'vgpuctl export --help')" \
    kubevirt kubevirt
usage "unknown option" \
    "vgpuctl: export: Unknown option --yaml (try 'vgpuctl export --help')" --yaml kubevirt

"$VGPUCTL" export --help >"$out" 2>"$err"
rc=$?
check "export --help: exit 0, describes the block, the kinds and the exit status" \
    eval 'test $rc -eq 0 && grep -q "vgpuctl export \[OPTION…\] kubevirt" "$out" && grep -q permittedHostDevices "$out" &&
          grep -q externalResourceProvider "$out" && grep -q mediatedDevices "$out" &&
          grep -q "Exit status: 0" "$out"'
"$VGPUCTL" --help >"$out" 2>"$err"
check "vgpuctl --help lists export" grep -q '^  export  *print the permittedHostDevices block' "$out"

export_run "$tmp/missing.conf" "$tmp/demo" "$tmp/demo-state" kubevirt
check "missing --config file: exit 1, one line naming it, no output" \
    eval 'test $rc -eq 1 -a ! -s "$out" && test "$(wc -l <"$err")" -eq 1 && grep -qF "$tmp/missing.conf" "$err"'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-mig-demand: GPU instances for MIG-backed vGPUs on a simulated H200,
# with the simulated kernel (tests/libsimkernel.so) and the test NVML
# (tests/sim-nvml/libnvidia-ml.so.1) sharing one GPU state:
#   on demand  ([gpu] mig = on-demand): prepare creates the instance a
#              type needs (best fit: a larger profile still fits after
#              small ones), records it in the lease (gpu_instance=), release
#              destroys it; a refusal is one line naming instances and
#              holders and changes nothing; two prepares racing for the last
#              room: exactly one wins;
#   faults     a hook killed at every fault point of the on-demand prepare
#              and release, then `vgpuctl reconcile`: no orphan instance,
#              no active lease, no profile left;
#   layouts    (mig = 1g.18gb*4,3g.71gb) `vgpuctl setup` creates them,
#              says "already" the second time, --dry-run and --json, a
#              change that would destroy a held instance is refused naming
#              the holder, free instances not in the layout are destroyed,
#              a profile the GPU lacks names file, line and key, MIG off
#              names the command to run.
#
#   top_srcdir=. top_builddir=_build tests/test-mig-demand.sh   (make check sets both)
# shellcheck disable=SC2016,SC2034,SC2154 # evals expand later; rc is read in them; counts come from check.sh
set -u

here=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
HOOK=$builddir/vgpu-hook
CTL=$builddir/vgpuctl
FAKEHOST=$builddir/tests/vh-fakehost
SHIM=$builddir/tests/.libs/libsimkernel.so
SIMNVML=$builddir/tests/sim-nvml/libnvidia-ml.so.1
for f in "$HOOK" "$CTL" "$FAKEHOST" "$SHIM" "$SIMNVML"; do
    if [ ! -e "$f" ]; then
        echo "test-mig-demand: $f is missing: run 'make check' (or build it) first" >&2
        exit 99
    fi
done
# shellcheck source=tests/check.sh
. "$here/check.sh"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-mig-demand.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
err=$tmp/err
GPU=0000:41:00.0   # mig = on-demand
LGPU=0000:42:00.0  # mig = layout

# A fresh host: two H200 with 8 vGPU VFs each, MIG on, no instance.
new_host() {
    rm -rf "${tmp:?}/sys" "${tmp:?}/state" "${tmp:?}/run" "${tmp:?}/dev"
    mkdir -p "$tmp/run" "$tmp/dev/vfio"
    sys=$tmp/sys
    "$FAKEHOST" "$tmp/host.ini" "$sys" || exit 99
    cat >"$sys/.fake-host/nvml.ini" <<EOF
[nvml]
[gpu $GPU]
model=H200
mig=1
instances=
[gpu $LGPU]
model=H200
mig=1
instances=
EOF
}

cat >"$tmp/host.ini" <<EOF
[host]
nvidia_version=580.159.04
[vgpu-family H200X]
framebuffer_gb=141
types=1072:NVIDIA H200X-1-18C;1073:NVIDIA H200X-2-35C;1074:NVIDIA H200X-3-71C;1076:NVIDIA H200X-7-141C;1077:NVIDIA H200X-141C
[device $GPU]
ids=10de:2335
class=0x030200
driver=nvidia
iommu_group=30
sriov_totalvfs=8
sriov_numvfs=8
vgpu_family=H200X
[device $LGPU]
ids=10de:2335
class=0x030200
driver=nvidia
iommu_group=60
sriov_totalvfs=8
sriov_numvfs=8
vgpu_family=H200X
EOF

write_conf() { # LAYOUT
    cat >"$tmp/conf" <<EOF
[host]
sysfs_root=$tmp/sys
state_dir=$tmp/state
cache_dir=$tmp/cache
use_hwdb=false
vfio_dir=$tmp/dev/vfio
libvirt_run_dir=$tmp/run
lease_grace_seconds=0
reset_retries=1
reset_retry_ms=10

[gpu "$GPU"]
mig = on-demand

[gpu "$LGPU"]
mig = $1
EOF
}

sim() {
    LD_PRELOAD=$SHIM VH_SIM_SYSFS_ROOT=$sys VH_SIM_DEV_DIR=$tmp/dev VH_NVML_LIBRARY=$SIMNVML \
        timeout 60 "$@"
}
hook() { sim "$HOOK" --config "$tmp/conf" "$@" >"$out" 2>"$err"; rc=$?; }
ctl() { sim "$CTL" --config "$tmp/conf" "$@" >"$out" 2>"$err"; rc=$?; }

# domain NAME N VF PROFILE: a domain with one vGPU at VF; UUID ...00N.
domain() {
    local fn=${3:11:1} slot=${3:8:2} bus=${3:5:2}
    cat >"$tmp/$1.xml" <<EOF
<domain type='kvm'>
  <name>$1</name>
  <uuid>00000000-0000-4000-8000-0000000000$2</uuid>
  <metadata>
    <vgpu:devices xmlns:vgpu="urn:vgpu-hook:1">
      <vgpu:device alias="ua-gpu0" resource="nvidia.com/$4"/>
    </vgpu:devices>
  </metadata>
  <devices>
    <hostdev mode='subsystem' type='pci' managed='no'>
      <source><address domain='0x0000' bus='0x$bus' slot='0x$slot' function='0x$fn'/></source>
      <alias name='ua-gpu0'/>
    </hostdev>
  </devices>
</domain>
EOF
}
prepare() { hook "$1" prepare begin - <"$tmp/$1.xml"; }
release() { hook "$1" release end - <"$tmp/$1.xml"; }

instances() { # GPU: the instances= line of the test NVML's state
    sed -n "/^\[gpu $1\]/,/^\[/s/^instances=//p" "$sys/.fake-host/nvml.ini"
}
vf_instance() { cat "$sys/bus/pci/devices/$1/nvidia/gpu_instance_id" 2>/dev/null; }
vf_type() { cat "$sys/bus/pci/devices/$1/nvidia/current_vgpu_type"; }
lease_key() { sed -n "s/^$2=//p" "$tmp/state/leases/$1" 2>/dev/null; }
active_leases() { grep -l '^state=active' "$tmp/state/leases/"* 2>/dev/null | wc -l; }

VF0=0000:41:00.4 VF1=0000:41:00.5 VF2=0000:41:00.6 VF3=0000:41:00.7 VF4=0000:41:01.0

# ---- on demand -----------------------------------------------------------------
write_conf "1g.18gb*4,3g.71gb"
new_host
ctl resources --json
res_py='import json,sys; r={x["name"]: (x["capacity"], x["allocatable"]) for x in json.load(open(sys.argv[1]))}; print(r["nvidia.com/H200X-3-71C"], r["nvidia.com/H200X-1-18C"])'
check "on demand: capacity counts what an empty H200 holds (2 x 3g.71gb, 7 x 1g.18gb; the layout GPU has no instance yet)" \
    eval 'test "$(python3 -c "$res_py" "$out")" = "(2, 2) (7, 7)"'
domain big 01 $VF0 H200X-3-71C
prepare big
check "on demand: prepare of H200X-3-71C succeeds" eval 'test $rc -eq 0'
check "on demand: one 3g.71gb instance (id 9) created, at 4:4 (best fit: ties keep low slices free)" \
    eval 'test "$(instances $GPU)" = "1:9:4:4"'
check "on demand: the driver gave the VF that instance (gpu_instance_id)" eval 'test "$(vf_instance $VF0)" = 1'
check "on demand: the lease records the instance as created (gpu_instance=1)" \
    eval 'test "$(lease_key $VF0 gpu_instance) $(lease_key $VF0 gpu_instance_created) $(lease_key $VF0 gpu_instance_profile) $(lease_key $VF0 gpu_instance_placement)" = "1 true 3g.71gb 4:4"'
release big
check "on demand: release succeeds" eval 'test $rc -eq 0'
check "on demand: release destroyed the instance, reset the VF" \
    eval 'test -z "$(instances $GPU)" && test "$(vf_type $VF0)" = 0 && test -z "$(vf_instance $VF0)"'
check "on demand: the lease is a reservation without instance fields" \
    eval 'test "$(lease_key $VF0 state)" = reserved && ! grep -q gpu_instance "$tmp/state/leases/$VF0"'

# A domain naming a time-sliced type on the on-demand GPU: the hook never
# maps NVML for it (ld.so's file trace names every object loaded).
domain ts 02 $VF1 H200X-141C
LD_DEBUG=files sim "$HOOK" --config "$tmp/conf" ts prepare begin - <"$tmp/ts.xml" >"$out" 2>"$err"
check "on demand: the hook does not load NVML for a domain that names no MIG-backed type" \
    eval '! grep -q "file=.*libnvidia-ml" "$err"'
LD_DEBUG=files sim "$HOOK" --config "$tmp/conf" big prepare begin - <"$tmp/big.xml" >"$out" 2>"$err"
check "on demand: it does for one that names a MIG-backed type (the trace would show it)" \
    eval 'grep -q "file=.*libnvidia-ml" "$err"'
release big
rm -f "$tmp/state/leases/$VF1"

# Best fit: three 1g.18gb leave room for a 3g.71gb; then nothing more fits.
domain s1 11 $VF0 H200X-1-18C
domain s2 12 $VF1 H200X-1-18C
domain s3 13 $VF2 H200X-1-18C
domain b4 14 $VF3 H200X-3-71C
domain s5 15 $VF4 H200X-1-18C
for d in s1 s2 s3; do prepare $d; [ $rc -eq 0 ] || break; done
check "fragmentation: three H200X-1-18C prepared" eval 'test $rc -eq 0'
check "fragmentation: their instances sit at the top (6, 5, 4), the 0:4 run stays whole" \
    eval 'test "$(instances $GPU)" = "1:19:6:1;2:19:5:1;3:19:4:1"'
prepare b4
check "fragmentation: a H200X-3-71C still fits after them (best fit)" \
    eval 'test $rc -eq 0 && test "$(instances $GPU)" = "1:19:6:1;2:19:5:1;3:19:4:1;4:9:0:4"'
cp "$sys/.fake-host/nvml.ini" "$tmp/nvml.before"
prepare s5
check "full GPU: another H200X-1-18C is refused, exit 1" eval 'test $rc -eq 1'
check "full GPU: the refusal is one line naming domain, instances and holders" \
    eval 'test "$(wc -l <"$err")" -eq 1 && grep -q "domain '"'"'s5'"'"'" "$err" &&
          grep -q "instance 4 (3g.71gb at 0:4) held by VF 0000:41:00.7 (domain '"'"'b4'"'"')" "$err" &&
          grep -q "instance 1 (1g.18gb at 6:1) held by VF 0000:41:00.4 (domain '"'"'s1'"'"')" "$err"'
check "full GPU: the refusal changed nothing (instances, VF, no lease)" \
    eval 'cmp -s "$tmp/nvml.before" "$sys/.fake-host/nvml.ini" && test "$(vf_type $VF4)" = 0 &&
          test ! -e "$tmp/state/leases/$VF4"'
for d in s1 s2 s3 b4; do release $d; done
check "all released: no instance, no active lease" eval 'test -z "$(instances $GPU)" && test "$(active_leases)" -eq 0'

# Concurrency: one 3g.71gb taken, two prepares race for the last room.
domain c0 20 $VF0 H200X-3-71C
domain c1 21 $VF1 H200X-3-71C
domain c2 22 $VF2 H200X-3-71C
prepare c0
race_ok=0
for round in 1 2 3; do
    (sim "$HOOK" --config "$tmp/conf" c1 prepare begin - <"$tmp/c1.xml" >"$tmp/o1" 2>"$tmp/e1"; echo $? >"$tmp/r1") &
    (sim "$HOOK" --config "$tmp/conf" c2 prepare begin - <"$tmp/c2.xml" >"$tmp/o2" 2>"$tmp/e2"; echo $? >"$tmp/r2") &
    wait
    r1=$(cat "$tmp/r1") r2=$(cat "$tmp/r2")
    loser=$tmp/e2; [ "$r1" = 1 ] && loser=$tmp/e1
    if [ $((r1 + r2)) -eq 1 ] && [ "$(wc -l <"$loser")" -eq 1 ] &&
        grep -q "held by VF" "$loser" && [ "$(instances $GPU | tr ';' '\n' | wc -l)" -eq 2 ]; then
        race_ok=$((race_ok + 1))
    fi
    release c1; release c2
done
check "concurrency: 3 rounds of two prepares for the last 3g.71gb room: exactly one wins, the other gets one line naming the holders" \
    eval 'test $race_ok -eq 3'
release c0
check "concurrency: all released, no instance left" eval 'test -z "$(instances $GPU)"'

# ---- faults ---------------------------------------------------------------------
if grep -q '^#define VH_FAULT_INJECTION 1' "$builddir/config.h" 2>/dev/null; then
    new_host
    domain f1 31 $VF0 H200X-2-35C
    : >"$tmp/points"
    VH_FAULT_LIST=$tmp/points sim "$HOOK" --config "$tmp/conf" f1 prepare begin - <"$tmp/f1.xml" >"$out" 2>"$err"
    VH_FAULT_LIST=$tmp/points sim "$HOOK" --config "$tmp/conf" f1 release end - <"$tmp/f1.xml" >"$out" 2>"$err"
    check "faults: the on-demand path passes the mig:* points" \
        eval 'grep -q "^mig:recorded$" "$tmp/points" && grep -q "^mig:created$" "$tmp/points" && grep -q "^mig:id-recorded$" "$tmp/points"'
    bad=""
    while read -r point; do
        for op in prepare release; do
            new_host
            rm -rf "$tmp/state"
            if [ $op = release ]; then prepare f1; fi
            hook_op=(f1 prepare begin -)
            [ $op = release ] && hook_op=(f1 release end -)
            VH_FAULT_KILL_AT=$point sim "$HOOK" --config "$tmp/conf" "${hook_op[@]}" <"$tmp/f1.xml" >"$out" 2>"$err"
            ctl reconcile --offline
            if [ $rc -ne 0 ] || [ -n "$(instances $GPU)" ] || [ "$(active_leases)" -ne 0 ] ||
                [ "$(vf_type $VF0)" != 0 ]; then
                bad="$bad $op@$point(rc=$rc,instances=$(instances $GPU),active=$(active_leases),type=$(vf_type $VF0))"
            fi
        done
    done < <(sort -u "$tmp/points")
    check "faults: a kill at every point of prepare and release, then reconcile: no orphan instance, no active lease, no profile ($(sort -u "$tmp/points" | wc -l) points)" \
        eval 'test -z "$bad"'
    [ -z "$bad" ] || echo "    failed at:$bad"
    # reconcile --dry-run names the instance and changes nothing
    new_host
    rm -rf "$tmp/state"
    VH_FAULT_KILL_AT=mig:id-recorded sim "$HOOK" --config "$tmp/conf" f1 prepare begin - <"$tmp/f1.xml" >"$out" 2>"$err"
    before=$(instances $GPU)
    ctl reconcile --offline --dry-run
    check "faults: reconcile --dry-run after a kill says it would destroy the instance, and does not" \
        eval 'grep -q "would release $VF0 .*destroy GPU instance 1 (2g.35gb) it created" "$out" &&
              test -n "$before" && test "$(instances $GPU)" = "$before"'
    ctl reconcile --offline
    check "faults: reconcile then says what it destroyed" \
        eval 'grep -q "released $VF0 .*GPU instance 1 (2g.35gb) destroyed" "$out" && test -z "$(instances $GPU)"'
    # The other way back: the same domain's next prepare finishes the work
    # (its record may name an instance never made), and its release cleans.
    bad=""
    while read -r point; do
        new_host
        rm -rf "$tmp/state"
        VH_FAULT_KILL_AT=$point sim "$HOOK" --config "$tmp/conf" f1 prepare begin - <"$tmp/f1.xml" >"$out" 2>"$err"
        prepare f1
        prc=$rc
        n=$(instances $GPU | tr ';' '\n' | grep -c .)
        release f1
        if [ $prc -ne 0 ] || [ "$n" -ne 1 ] || [ $rc -ne 0 ] || [ -n "$(instances $GPU)" ] ||
            [ "$(active_leases)" -ne 0 ]; then
            bad="$bad $point(prepare=$prc,instances=$n,release=$rc,left=$(instances $GPU))"
        fi
    done < <(grep -v '^release' "$tmp/points" | sort -u)
    check "faults: after a kill at every prepare point, the same domain's prepare succeeds with one instance and its release leaves none" \
        eval 'test -z "$bad"'
    [ -z "$bad" ] || echo "    failed at:$bad"
else
    echo "SKIP: test-mig-demand: faults need a build configured with --enable-fault-injection"
fi

# ---- layouts ----------------------------------------------------------------------
new_host
write_conf "1g.18gb*4,3g.71gb"
ctl setup --dry-run --profiles "$tmp/none"
check "layout --dry-run: says what it would create, creates nothing" \
    eval 'grep -q "^mig *$LGPU *skipped *dry run: layout 1g.18gb\*4,3g.71gb: would create 3g.71gb at" "$out" && test -z "$(instances $LGPU)"'
ctl setup --profiles "$tmp/none"
check "layout: setup creates the 3g.71gb and four 1g.18gb" \
    eval 'grep -q "^mig *$LGPU *done" "$out" && test "$(instances $LGPU | tr ";" "\n" | cut -d: -f2 | sort | tr "\n" " ")" = "19 19 19 19 9 "'
check "layout: the on-demand GPU is checked (MIG on), not changed" \
    eval 'grep -q "^mig *$GPU *already *mig = on-demand" "$out" && test -z "$(instances $GPU)"'
ctl setup --json --profiles "$tmp/none"
check "layout: a second setup says already (--json, step mig)" \
    eval 'python3 -c "import json,sys; s=[x for x in json.load(open(sys.argv[1]))[\"steps\"] if x[\"step\"]==\"mig\" and x[\"device\"]==sys.argv[2]]; sys.exit(0 if s and s[0][\"result\"]==\"already\" else 1)" "$out" $LGPU'
# A VF takes a 1g.18gb instance; a layout without it is refused, naming it.
domain l1 41 0000:42:00.4 H200X-1-18C
prepare l1
held=$(vf_instance 0000:42:00.4)
check "layout: a domain's vGPU runs on a layout instance" eval 'test $rc -eq 0 && test -n "$held"'
before=$(instances $LGPU)
write_conf "3g.71gb*2"
ctl setup --profiles "$tmp/none"
check "layout change that would destroy a held instance: failed, naming VF and domain" \
    eval 'test $rc -eq 1 && grep -q "^mig *$LGPU *failed .*instance $held held by VF 0000:42:00.4 (domain '"'"'l1'"'"')" "$out"'
check "layout change refused: nothing changed" eval 'test "$(instances $LGPU)" = "$before"'
release l1
write_conf "1g.18gb*2,3g.71gb"
ctl setup --profiles "$tmp/none"
check "layout: two free 1g.18gb not in the layout are destroyed" \
    eval 'grep -q "^mig *$LGPU *done .*destroyed instance" "$out" && test "$(instances $LGPU | tr ";" "\n" | wc -l)" -eq 3'
write_conf "1g.20gb*2"
ctl setup --profiles "$tmp/none"
check "layout: a profile the H200 lacks names file, line and key" \
    eval 'grep -q "^mig *$LGPU *failed *$tmp/conf:16: key '"'"'mig'"'"' in \[gpu \"$LGPU\"\]: MIG layout" "$out"'
write_conf "1g.18gb"
"$builddir/tests/sim-nvml-ctl" "$sys" set $LGPU mig 0
ctl setup --profiles "$tmp/none"
check "MIG off: the mig step fails with the command to run" \
    eval 'grep -q "^mig *$LGPU *failed .*nvidia-smi -i $LGPU -mig 1" "$out"'

echo "test-mig-demand: $passed passed, $failed failed"
[ "$failed" -eq 0 ]

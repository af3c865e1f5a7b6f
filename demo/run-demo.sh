#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# run-demo.sh [BUILDDIR]: vgpu-hook on the demo host.
#
# Builds the fake host described by demo/demo-host.ini (two A10 with their
# audio functions, an L40S with SR-IOV vGPU VFs, a T4 with mdev types, a
# few ordinary devices) with tests/vh-fakehost into a fresh demo/out/sys,
# then runs vgpuctl on it with demo/demo.conf, printing each step.
#
# BUILDDIR is a build directory holding ./vgpuctl and tests/vh-fakehost;
# default: the current directory if it has ./vgpuctl, else _build, else the
# source tree. VH_DEMO_OUT overrides the output directory (demo/out).
# `make demo` runs this script for its build directory.
#
# To add a step: write a function and add it to STEPS at the end. A step
# runs commands through `show` (prints the command, fails the demo when it
# fails) or `show_rc CODES...` (accepts the listed exit codes too).
set -euo pipefail

demo_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
top=$(dirname "$demo_dir")

find_build_dir() {
    if [ -n "${1:-}" ]; then
        printf '%s\n' "$1"
    elif [ -x ./vgpuctl ]; then
        pwd
    elif [ -x "$top/_build/vgpuctl" ]; then
        printf '%s\n' "$top/_build"
    else
        printf '%s\n' "$top"
    fi
}

build=$(cd "$(find_build_dir "${1:-}")" && pwd)
out=${VH_DEMO_OUT:-$demo_dir/out}
host_ini=$demo_dir/demo-host.ini
conf=$demo_dir/demo.conf

for prog in vgpuctl tests/vh-fakehost; do
    if [ ! -x "$build/$prog" ]; then
        echo "run-demo: $build/$prog not found: build first (make), or pass the build directory" >&2
        exit 1
    fi
done

header() {
    printf '\n==== %s ====\n' "$*"
}

# show CMD...: print the command as a user would type it, run it.
show() {
    show_rc 0 -- "$@"
}

# show_rc CODE... -- CMD...: like show, also accepting the exit CODEs.
show_rc() {
    local ok=() rc=0 code
    while [ "$1" != "--" ]; do ok+=("$1"); shift; done
    shift
    printf '$ %s\n' "$*" | sed "s|$out|demo/out|g; s|$demo_dir|demo|g; s|$build/||g; s|vgpuctl_sim|vgpuctl|g"
    "$@" || rc=$?
    for code in "${ok[@]}"; do
        [ "$rc" -eq "$code" ] && { [ "$rc" -eq 0 ] || echo "(exit status $rc)"; return 0; }
    done
    echo "run-demo: '$*' failed with exit status $rc" >&2
    exit 1
}

# vgpuctl COMMAND ARGS...: the built vgpuctl on the demo host.
vgpuctl() {
    local cmd=$1; shift
    "$build/vgpuctl" "$cmd" --config "$conf" --sysfs-root "$out/sys" \
        --state-dir "$out/state" --cache-dir "$out/cache" "$@"
}

step_build_host() {
    header "demo host: demo/demo-host.ini -> demo/out/sys"
    rm -rf "$out"
    mkdir -p "$out/state"
    show "$build/tests/vh-fakehost" "$host_ini" "$out/sys"
    echo "built $(find "$out/sys/bus/pci/devices" -mindepth 1 -maxdepth 1 | wc -l) PCI functions"
    echo
    echo "Below, 'vgpuctl COMMAND' stands for:"
    echo "  vgpuctl COMMAND --config demo/demo.conf --sysfs-root demo/out/sys --state-dir demo/out/state"
}

step_list() {
    header "vgpuctl list: GPUs and what they offer"
    show vgpuctl list
}

step_resources() {
    header "vgpuctl resources: capacity per resource name"
    show vgpuctl resources
}

step_validate() {
    header "vgpuctl validate: is the host ready?"
    show vgpuctl validate
}

# The domain's side: the simulated kernel (tests/libsimkernel.so) plays the
# kernel and NVIDIA's driver for the writes prepare and release make, so the
# fake tree behaves as a real host would.
shim=$build/tests/.libs/libsimkernel.so
sim() {
    LD_PRELOAD=$shim VH_SIM_SYSFS_ROOT=$out/sys VH_SIM_DEV_DIR=$out/dev "$@"
}
vgpuctl_sim() {
    local cmd=$1; shift
    sim "$build/vgpuctl" "$cmd" --config "$out/demo.conf" "$@"
}
# show_to FILE CMD...: like show, the command's output going to FILE.
show_to() {
    local file=$1; shift
    printf '$ %s > %s\n' "$*" "$file" | sed "s|$out|demo/out|g; s|$demo_dir|demo|g; s|$build/||g; s|vgpuctl_sim|vgpuctl|g"
    "$@" > "$file" || { echo "run-demo: '$*' failed" >&2; exit 1; }
}
vm_xml() { # NAME TEMPLATE: the template under another name
    sed "s|<name>[^<]*</name>|<name>$1</name>|" "$top/xml-templates/$2" > "$out/$1.template.xml"
}
vf_state() {
    local vf
    for vf in 0000:41:00.4 0000:41:00.5 0000:41:00.6; do
        printf '%s current_vgpu_type=%s creatable: %s\n' "$vf" \
            "$(cat "$out/sys/bus/pci/devices/$vf/nvidia/current_vgpu_type")" \
            "$(tail -n +2 "$out/sys/bus/pci/devices/$vf/nvidia/creatable_vgpu_types" | awk -F': ' '{print $2}' | sed 's/NVIDIA //' | paste -sd' ')"
    done
}

step_define() {
    [ -f "$shim" ] || { echo "run-demo: $shim not built (make tests/libsimkernel.la)" >&2; exit 1; }
    # demo.conf with every path inside demo/out (and /dev/vfio as the simulated kernel's)
    mkdir -p "$out/dev" "$out/run"
    sed -e "s|^sysfs_root=.*|sysfs_root=$out/sys|" \
        -e "s|^state_dir=.*|state_dir=$out/state\ncache_dir=$out/cache\nvfio_dir=$out/dev/vfio\nlibvirt_run_dir=$out/run|" \
        "$conf" > "$out/demo.conf"
    header "vgpuctl rewrite --reserve: a template naming nvidia.com/L40S-24Q becomes a concrete domain"
    echo "(vgpuctl define does the same and defines it in libvirt; the demo needs no libvirtd)"
    vm_xml vm1 vgpu-smoke-l40s.xml
    vm_xml vm2 vgpu-smoke-l40s.xml
    show_to "$out/vm1.xml" vgpuctl_sim rewrite --reserve "$out/vm1.template.xml"
    grep -A3 '<hostdev' "$out/vm1.xml"
    show_to "$out/vm2.xml" vgpuctl_sim rewrite --reserve "$out/vm2.template.xml"
    grep -A1 '<hostdev' "$out/vm2.xml" | tail -1
}

step_prepare() {
    header "prepare (what the hook does at 'prepare begin'): the VFs get their profile"
    show vgpuctl_sim prepare "$out/vm1.xml"
    show vgpuctl_sim prepare "$out/vm2.xml"
    vf_state
    echo "(after two 24Q the GPU's 48 GB are taken: the third VF lists nothing creatable)"
    show vgpuctl resources
}

step_refuse() {
    header "a third L40S-24Q: the GPU (48 GB) has none left"
    vm_xml vm3 vgpu-smoke-l40s.xml
    show_rc 1 -- vgpuctl_sim rewrite "$out/vm3.template.xml"
    echo "and a hand-pinned third VF is refused by the hook, saying why:"
    sed 's|slot="0x00" function="0x[45]"|slot="0x00" function="0x6"|; s|<name>vm1</name>|<name>vm3</name>|;
         s|<uuid>.*</uuid>|<uuid>33333333-3333-4333-8333-333333333333</uuid>|' "$out/vm1.xml" > "$out/vm3.xml"
    show_rc 1 -- vgpuctl_sim prepare "$out/vm3.xml"
}

step_passthrough() {
    header "a whole A10: its IOMMU group (GPU + HDMI audio) goes to vfio-pci"
    vm_xml gpu1 passthrough-a10.xml
    show_to "$out/gpu1.xml" vgpuctl_sim rewrite --reserve "$out/gpu1.template.xml"
    show vgpuctl_sim prepare "$out/gpu1.xml"
    show vgpuctl list
    echo "/dev/vfio (simulated): $(ls "$out/dev/vfio" | paste -sd' ')"
}

step_release() {
    header "release (what the hook does at 'release end'): everything given back"
    show vgpuctl_sim release "$out/vm1.xml"
    show vgpuctl_sim release "$out/vm2.xml"
    show vgpuctl_sim release "$out/gpu1.xml"
    vf_state
    show vgpuctl leases
}

STEPS=(
    step_build_host
    step_list
    step_resources
    step_validate
    step_define
    step_prepare
    step_refuse
    step_passthrough
    step_release
)

for step in "${STEPS[@]}"; do
    "$step"
done
printf '\ndemo done; the fake host is in %s\n' "$out"

#!/bin/bash
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
    printf '$ %s\n' "$*" | sed "s|$out|demo/out|g; s|$demo_dir|demo|g; s|$build/||g"
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
        --state-dir "$out/state" "$@"
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

STEPS=(
    step_build_host
    step_list
    step_resources
    step_validate
)

for step in "${STEPS[@]}"; do
    "$step"
done
printf '\ndemo done; the fake host is in %s\n' "$out"

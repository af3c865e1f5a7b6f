#!/bin/bash
# deps.sh: the Debian 12 packages vgpu-hook needs to build, test and demo.
#
# The one list of packages, used by scripts/test.sh (and so .ci/run),
# scripts/demo.sh and the README. Source it for the functions, or run it:
#   scripts/deps.sh            install what is missing (as root)
#   scripts/deps.sh --list     print the packages, one a line
#   scripts/deps.sh --missing  print the packages not installed
# Later tiers add their packages to VH_DEPS below, nowhere else.

VH_DEPS=(
    # build
    build-essential autoconf automake libtool pkg-config
    libglib2.0-dev libxml2-dev libpci-dev libjson-glib-dev libvirt-dev
    # unit tests
    libcmocka-dev valgrind
    # tools the tests and the demo call
    pciutils libxml2-utils
    # real libvirtd tier
    libvirt-clients libvirt-daemon-system qemu-system-x86 qemu-utils
    # real-kernel tier (tests/kernel/run.sh): the guest's kernel and initramfs,
    # jq for vgpuctl list --json, nvme-cli to bring the NVMe VFs online
    linux-image-amd64 busybox-static kmod cpio jq nvme-cli
    # fuzzing (fuzz/run.sh): clang with libFuzzer and the sanitizer runtimes
    clang libclang-rt-14-dev
    # benchmarks (make bench, bench/run.sh; also valgrind, jq, pciutils above)
    hyperfine strace
)

# Print the packages of VH_DEPS that dpkg does not have installed.
vh_deps_missing() {
    local pkg
    for pkg in "${VH_DEPS[@]}"; do
        if [ "$(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null)" != "ii " ]; then
            printf '%s\n' "$pkg"
        fi
    done
}

# Install what is missing. Needs root when anything is; otherwise says
# which command to run and fails.
vh_deps_install() {
    local missing
    mapfile -t missing < <(vh_deps_missing)
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "deps: all ${#VH_DEPS[@]} packages installed"
        return 0
    fi
    echo "deps: missing: ${missing[*]}"
    if [ "$(id -u)" -ne 0 ]; then
        echo "deps: not root; run as root: apt-get install ${missing[*]}" >&2
        return 1
    fi
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
    "") vh_deps_install ;;
    --list) printf '%s\n' "${VH_DEPS[@]}" ;;
    --missing) vh_deps_missing ;;
    *) echo "usage: $0 [--list|--missing]" >&2; exit 2 ;;
    esac
fi

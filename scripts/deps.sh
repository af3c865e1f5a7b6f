#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
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
    # vgpuctl export kubevirt: libyaml's emitter; its test parses with python3-yaml
    libyaml-dev python3-yaml
    # metrics (tests/test-metrics.sh): promtool, the node exporter as a real
    # client, the Prometheus Python client to parse what it serves
    prometheus prometheus-node-exporter python3-prometheus-client
    # Debian package tier (tests/package/run.sh), unit checks (tests/test-units.sh:
    # systemd-analyze) and the bash completion (tests/test-docs.sh)
    debhelper dpkg-dev lintian fakeroot bash-completion systemd man-db
    # vgpuctl license: the seed ISO (cloud-localds, genisoimage), its checks
    # (cloud-init schema; isoinfo from genisoimage)
    cloud-image-utils genisoimage cloud-init
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
    vh_deps_apt_install "${missing[@]}"
}

# apt-get install without starting services when systemd is not PID 1 (CI
# containers): the postinst of prometheus and prometheus-node-exporter then
# runs their init scripts through invoke-rc.d, which would leave both daemons
# running (on ports 9090 and 9100). invoke-rc.d asks /usr/sbin/policy-rc.d
# first; exit 101 means "action forbidden", so packages install without
# starting anything. An existing policy-rc.d (Docker images have one) is used
# as it is.
vh_deps_apt_install() {
    local policy=/usr/sbin/policy-rc.d added='' rc=0
    if [ ! -d /run/systemd/system ] && [ ! -e "$policy" ]; then
        printf '#!/bin/sh\n# vgpu-hook scripts/deps.sh: no service starts during apt-get\nexit 101\n' \
            >"$policy" && chmod 755 "$policy" && added=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@" || rc=$?
    if [ -n "$added" ]; then
        rm -f "$policy"
    fi
    return "$rc"
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

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# h200-probe: a READ-ONLY look at a host with a real NVIDIA driver (an H200),
# from a bundle made by tests/device/bundle.sh on the build host (no build
# tools or network needed here).
#
#   tests/device/h200-probe.sh BUNDLE      BUNDLE: the folder or its .tar.xz
#
# Writes everything into $OUT (default ./h200-probe-out), with GPU UUIDs and
# serial numbers removed: per step NAME.out, NAME.err and NAME.rc, a SUMMARY
# of every step's exit status, and h200-mig-profiles.json, the fixture for
# tests/fixtures/ (vgpuctl nvml --json of the H200, with its source noted).
#
# What it runs: vgpuctl list --json --all, resources, validate and nvml
# (--json and text) against the real /sys with a private configuration and
# state directory under a temporary folder; nvidia-smi -q, -L, mig -lgip,
# mig -lgipp, mig -lgi, vgpu, vgpu -s; the sysfs attributes of NVIDIA's PCI
# functions (cat, readlink, ls). It never writes sysfs, never enables or
# disables MIG, never creates or destroys a GPU instance, never binds,
# unbinds or resets anything: every command above is a query. As a second
# guard, when it runs as root with unshare(1), the vgpuctl commands run in a
# private mount namespace where /sys is remounted read-only. Before and
# after, it records the MIG mode, GPU instances and NVIDIA's sysfs
# attributes and compares them (state-unchanged in SUMMARY). The
# vgpuctl-nvml-debug step runs outside that namespace (with the library's
# debug trace), in case NVML itself behaves differently with /sys read-only.
set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 BUNDLE   (a folder or .tar.xz from tests/device/bundle.sh)" >&2
    exit 2
fi
OUT=${OUT:-$PWD/h200-probe-out}
mkdir -p "$OUT" || exit 1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/h200-probe.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

bundle=$1
if [ -f "$bundle" ]; then
    tar -C "$tmp" -xJf "$bundle" || { echo "h200-probe: cannot unpack $bundle" >&2; exit 1; }
    bundle=$(ls -d "$tmp"/*/ | head -1)
fi
bundle=$(cd "$bundle" && pwd)
VGPUCTL=$bundle/bin/vgpuctl
[ -x "$VGPUCTL" ] || { echo "h200-probe: $VGPUCTL missing: not a bundle" >&2; exit 1; }

# Identifiers that must not leave the machine.
sanitize() {
    sed -E -e 's/(GPU|MIG)-[0-9a-fA-F]{8}-[0-9a-fA-F-]{27}/\1-UUID-REMOVED/g' \
        -e 's/[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}/UUID-REMOVED/g' \
        -e 's/^([[:space:]]*(Serial Number|GPU UUID|Board Part Number|GPU Part Number|Module ID|Inforom Image Version|Chassis Serial Number)[[:space:]]*:).*/\1 REMOVED/' \
        -e 's/("(serial|uuid)"[[:space:]]*:[[:space:]]*)"[^"]*"/\1"REMOVED"/g'
}

: >"$OUT/SUMMARY"
# step NAME COMMAND...: run with a time limit, keep stdout/stderr/rc.
step() {
    local name=$1 rc
    shift
    # bash -c: timeout(1) runs programs, and some steps are functions.
    timeout 120 bash -c '"$@"' step "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    rc=$?
    sanitize <"$tmp/out" >"$OUT/$name.out"
    sanitize <"$tmp/err" >"$OUT/$name.err"
    echo "$rc" >"$OUT/$name.rc"
    printf '%-28s rc=%-3s %s\n' "$name" "$rc" "$*" >>"$OUT/SUMMARY"
}

# The vgpuctl commands: bundle's libraries, private config and state dir.
state=$tmp/state
pci_ids=/usr/share/misc/pci.ids
[ -r "$pci_ids" ] || pci_ids=/usr/share/hwdata/pci.ids
[ -r "$pci_ids" ] || pci_ids=$bundle/share/pci.ids
cat >"$tmp/probe.conf" <<EOF
[host]
sysfs_root=/sys
state_dir=$state
pci_ids=$pci_ids
use_hwdb=true
EOF
ro_sys=no
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
    unshare -m --propagation private sh -c 'mount -o remount,bind,ro /sys 2>/dev/null || mount -o bind,ro /sys /sys' 2>/dev/null; then
    ro_sys=yes
fi
vgpuctl() {
    if [ "$ro_sys" = yes ]; then
        unshare -m --propagation private sh -c \
            'mount -o remount,bind,ro /sys 2>/dev/null || mount -o bind,ro /sys /sys || exit 125; exec "$@"' \
            sh env LD_LIBRARY_PATH="$bundle/lib" "$VGPUCTL" --config "$tmp/probe.conf" "$@"
    else
        env LD_LIBRARY_PATH="$bundle/lib" "$VGPUCTL" --config "$tmp/probe.conf" "$@"
    fi
}

# NVIDIA's PCI functions and the read-only state to compare before/after.
nvidia_functions() {
    for d in /sys/bus/pci/devices/*; do
        [ "$(cat "$d/vendor" 2>/dev/null)" = 0x10de ] && echo "$d"
    done
}
sysfs_view() {
    local d f
    for d in $(nvidia_functions); do
        echo "== $d"
        for f in vendor device subsystem_vendor subsystem_device class numa_node \
            sriov_totalvfs sriov_numvfs driver_override; do
            [ -e "$d/$f" ] && echo "$f: $(cat "$d/$f" 2>&1)"
        done
        for f in driver iommu_group physfn; do
            [ -e "$d/$f" ] && echo "$f -> $(readlink "$d/$f")"
        done
        for f in "$d"/virtfn*; do [ -e "$f" ] && printf '%s ' "${f##*/}"; done
        echo
        if [ -d "$d/nvidia" ]; then
            for f in "$d"/nvidia/*; do
                [ -f "$f" ] && [ -r "$f" ] && echo "nvidia/${f##*/}: $(head -c 4096 "$f" 2>&1)"
            done
        fi
        [ -d "/sys/class/mdev_bus/${d##*/}" ] && echo "mdev parent: yes"
    done
}
gpu_state() {
    sysfs_view
    command -v nvidia-smi >/dev/null && {
        nvidia-smi --query-gpu=pci.bus_id,mig.mode.current,mig.mode.pending --format=csv 2>&1
        nvidia-smi mig -lgi 2>&1
    }
}

export -f vgpuctl sysfs_view nvidia_functions
export bundle VGPUCTL tmp ro_sys

gpu_state >"$tmp/before" 2>&1
echo "sys mounted read-only for vgpuctl: $ro_sys" >>"$OUT/SUMMARY"

step host-uname uname -a
step host-os-release cat /etc/os-release
step host-driver-version cat /proc/driver/nvidia/version
step host-cmdline cat /proc/cmdline
step bundle-manifest cat "$bundle/MANIFEST"
step bundle-ldd env LD_LIBRARY_PATH="$bundle/lib" ldd "$VGPUCTL"
step vgpuctl-version vgpuctl --version
step vgpuctl-list-json vgpuctl list --json --all
step vgpuctl-list vgpuctl list --all
step vgpuctl-resources vgpuctl resources
step vgpuctl-resources-json vgpuctl resources --json
step vgpuctl-validate vgpuctl validate
step vgpuctl-validate-json vgpuctl validate --json
step vgpuctl-nvml-json vgpuctl nvml --json
step vgpuctl-nvml vgpuctl nvml
step vgpuctl-nvml-debug env G_MESSAGES_DEBUG=all LD_LIBRARY_PATH="$bundle/lib" "$VGPUCTL" \
    --config "$tmp/probe.conf" nvml
if command -v nvidia-smi >/dev/null; then
    step nvidia-smi-q nvidia-smi -q
    step nvidia-smi-L nvidia-smi -L
    step nvidia-smi-mig-lgip nvidia-smi mig -lgip
    step nvidia-smi-mig-lgipp nvidia-smi mig -lgipp
    step nvidia-smi-mig-lgi nvidia-smi mig -lgi
    step nvidia-smi-vgpu nvidia-smi vgpu
    step nvidia-smi-vgpu-s nvidia-smi vgpu -s
else
    echo "nvidia-smi: not found" >>"$OUT/SUMMARY"
fi
command -v lspci >/dev/null && step lspci-nvidia lspci -nnk -d 10de:
step sysfs-nvidia sysfs_view

gpu_state >"$tmp/after" 2>&1
if cmp -s "$tmp/before" "$tmp/after"; then
    echo "state-unchanged: yes (MIG mode, GPU instances, NVIDIA sysfs attributes)" >>"$OUT/SUMMARY"
else
    echo "state-unchanged: NO, see state.diff" >>"$OUT/SUMMARY"
    diff "$tmp/before" "$tmp/after" | sanitize >"$OUT/state.diff"
fi

# The fixture: vgpuctl nvml --json of the H200s, with where it came from.
if command -v python3 >/dev/null && [ -s "$OUT/vgpuctl-nvml-json.out" ]; then
    python3 - "$OUT/vgpuctl-nvml-json.out" "$OUT/h200-mig-profiles.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
gpus = [g for g in doc.get("gpus", []) if g.get("pci_ids") == "10de:2335"]
if not gpus:
    print("fixture: no H200 in vgpuctl nvml --json; none written")
    sys.exit(0)
fixture = {
    "source": "vgpuctl nvml --json on a real H200 (tests/device/h200-probe.sh), "
              "driver %s; serial numbers and UUIDs removed" % doc.get("driver_version", "?"),
    "driver_version": doc.get("driver_version"),
    "gpus": gpus,
}
json.dump(fixture, open(sys.argv[2], "w"), indent=2, sort_keys=False)
print("fixture: %d H200 GPU(s)" % len(gpus))
EOF
fi
cat "$OUT/SUMMARY"

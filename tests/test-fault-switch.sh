#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-fault-switch: fault points exist only in a build configured with
# --enable-fault-injection; a release build carries no trace of them.
#
#   top_builddir=_build tests/test-fault-switch.sh   (make check sets it)
#
# Release build: neither the library nor the programs contain a fault-point
# name or the VH_FAULT_* variables, and VH_FAULT_KILL_AT does not kill.
# Fault-injection build: they do, VH_FAULT_LIST lists points, and
# VH_FAULT_KILL_AT kills (tests/test-faults.sh uses them).
set -u

builddir=$(cd "${top_builddir:-.}" && pwd)
files=("$builddir"/plugin/.libs/libvgpuhook.so.* "$builddir/.libs/vgpu-hook-worker.so" "$builddir/.libs/vgpuctl")
for f in "${files[@]}"; do
    [ -e "$f" ] || { echo "test-fault-switch: $f is missing: build first" >&2; exit 99; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-fault-switch.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failed=0
fail() { echo "FAIL: $*"; failed=1; }

markers="VH_FAULT_KILL_AT VH_FAULT_LIST vfio:unbound vgpu:written mdev:created lease:written"
found=
for f in "${files[@]}"; do
    for m in $markers; do
        grep -qa "$m" "$f" && found="$found ${f##*/}:$m"
    done
done
# Any hook run that passes a fault point: prepare of a domain that names a
# device on an empty host fails after taking the lock.
cat >"$tmp/d.xml" <<'XML'
<domain type='kvm'><name>t</name><uuid>00000000-0000-4000-8000-000000000001</uuid>
<metadata><vgpu:devices xmlns:vgpu="urn:vgpu-hook:1"><vgpu:device alias="ua-gpu0" resource="nvidia.com/x"/></vgpu:devices></metadata>
<devices><hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/></source><alias name='ua-gpu0'/></hostdev></devices></domain>
XML
printf '[host]\nsysfs_root=%s/sys\nstate_dir=%s/state\ncache_dir=%s/cache\n' "$tmp" "$tmp" "$tmp" >"$tmp/conf"
mkdir -p "$tmp/sys"
(VH_FAULT_LIST=$tmp/list VH_FAULT_KILL_AT=prepare:locked LD_LIBRARY_PATH=$builddir/plugin/.libs \
    "$builddir/vgpu-hook" --config "$tmp/conf" t prepare begin - <"$tmp/d.xml" >/dev/null 2>&1
 rc=$?; exit $rc) 2>/dev/null
rc=$?

if grep -q '^#define VH_FAULT_INJECTION 1' "$builddir/config.h"; then
    echo "fault-injection build: checking that the fault points work"
    [ -n "$found" ] || fail "no fault-point names in the binaries of a --enable-fault-injection build"
    [ "$rc" = 137 ] || fail "VH_FAULT_KILL_AT=prepare:locked did not kill the hook (exit $rc)"
    grep -qx 'prepare:locked' "$tmp/list" 2>/dev/null || fail "VH_FAULT_LIST did not list prepare:locked"
else
    echo "release build: checking that no fault point is compiled in"
    [ -z "$found" ] || fail "fault-injection strings in a release build:$found"
    [ "$rc" != 137 ] || fail "VH_FAULT_KILL_AT killed the hook of a release build"
    [ ! -e "$tmp/list" ] || fail "VH_FAULT_LIST wrote a list in a release build"
fi
[ $failed = 0 ] && echo "PASS: fault switch"
exit $failed

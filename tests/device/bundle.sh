#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bundle: the built vgpuctl and libvgpuhook with the Debian shared libraries
# they need, in one folder that runs on another x86-64 Linux host without
# build tools or network (an Ubuntu 24.04-like GPU machine), for the
# read-only probe tests/device/h200-probe.sh.
#
#   tests/device/bundle.sh [BUILDDIR [OUT]]     default: _build and _bundle
#
# OUT/bin/vgpuctl          the real binary (not libtool's wrapper)
# OUT/lib/                 libvgpuhook, libpci (loaded on first use, so not in
#                          ldd's list) and every library ldd names for them,
#                          except glibc's own (libc, libm, ld-linux, ...): the
#                          host's newer glibc runs Debian 12's binaries, and
#                          mixing two glibcs in one process does not work
# OUT/share/pci.ids        Debian's PCI IDs database (the probe uses the
#                          host's when it has one)
# OUT/MANIFEST             what was built (git commit), ldd's view, sizes
# OUT.tar.xz               the same folder compressed: the unpacked libraries
#                          (libicudata alone is 30 MB) may be too large to carry
#
# Run it as: LD_LIBRARY_PATH=OUT/lib OUT/bin/vgpuctl ... (h200-probe.sh
# does). NVIDIA's libnvidia-ml.so.1 is never bundled: the host's own is the
# one to check.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "$here/../.." && pwd)
builddir=$(cd "${1:-$top_srcdir/_build}" && pwd)
out=${2:-$top_srcdir/_bundle}

vgpuctl=$builddir/.libs/vgpuctl
[ -x "$vgpuctl" ] || vgpuctl=$builddir/vgpuctl
libhook=$(ls "$builddir"/plugin/.libs/libvgpuhook.so.0.* 2>/dev/null | head -1)
for f in "$vgpuctl" "$libhook"; do
    if [ ! -e "$f" ]; then
        echo "bundle: ${f:-libvgpuhook.so.0.*} not built: build $builddir first" >&2
        exit 1
    fi
done
if file -b "$vgpuctl" | grep -q 'shell script'; then
    echo "bundle: $vgpuctl is libtool's wrapper, not the binary" >&2
    exit 1
fi

rm -rf "$out" "$out.tar.xz"
mkdir -p "$out/bin" "$out/lib" "$out/share"
cp "$vgpuctl" "$out/bin/vgpuctl"
cp "$libhook" "$out/lib/libvgpuhook.so.0"
libpci=$(ldconfig -p | awk '/libpci\.so\.3 .*x86-64/ { print $NF; exit }')
[ -n "$libpci" ] && cp -L "$libpci" "$out/lib/libpci.so.3"

# glibc's libraries come from the host that runs the bundle.
is_glibc() {
    case $1 in
    libc.so.* | libm.so.* | libdl.so.* | libpthread.so.* | librt.so.* | libresolv.so.* | \
        libutil.so.* | libanl.so.* | libnss_*.so.* | ld-linux*.so.* | linux-vdso.so.*) return 0 ;;
    esac
    return 1
}

# ldd's closure of everything bundled so far, resolved on this (build) host.
for obj in "$out/bin/vgpuctl" "$out"/lib/*; do
    LD_LIBRARY_PATH=$out/lib ldd "$obj" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'
done | sort -u | while read -r soname path; do
    is_glibc "$soname" && continue
    [ -e "$out/lib/$soname" ] || cp -L "$path" "$out/lib/$soname"
done

[ -r /usr/share/misc/pci.ids ] && cp -L /usr/share/misc/pci.ids "$out/share/pci.ids"
cp "$here/h200-probe.sh" "$out/h200-probe.sh"

missing=$(LD_LIBRARY_PATH=$out/lib ldd "$out/bin/vgpuctl" "$out"/lib/* 2>&1 | grep -c 'not found' || true)
{
    echo "vgpu-hook bundle for tests/device/h200-probe.sh"
    echo "commit: $(git -C "$top_srcdir" rev-parse HEAD 2>/dev/null || echo unknown)"
    echo "built on: $(. /etc/os-release && echo "$PRETTY_NAME"), $(uname -m)"
    echo "glibc needed: $(objdump -T "$out/bin/vgpuctl" "$out"/lib/* 2>/dev/null |
        grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
    echo "libraries not found: $missing"
    if grep -q '^#define VH_FAULT_INJECTION' "$builddir/config.h" 2>/dev/null; then
        echo "fault injection: compiled in (inert unless VH_FAULT_KILL_AT/VH_FAULT_LIST are set)"
    else
        echo "fault injection: not compiled in"
    fi
    echo
    echo "ldd bin/vgpuctl (LD_LIBRARY_PATH=lib):"
    LD_LIBRARY_PATH=$out/lib ldd "$out/bin/vgpuctl"
    echo
    (cd "$out" && du -sh bin lib share && ls -l lib)
} >"$out/MANIFEST"
if [ "$missing" -ne 0 ]; then
    echo "bundle: $missing libraries not found; see $out/MANIFEST" >&2
    exit 1
fi
tar -C "$(dirname "$out")" -cJf "$out.tar.xz" "$(basename "$out")"
echo "bundle: $out ($(du -sh "$out" | cut -f1)), $out.tar.xz ($(du -sh "$out.tar.xz" | cut -f1))"

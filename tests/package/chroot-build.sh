#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# chroot-build.sh SRCDIR OUTDIR [DEB_BUILD_OPTIONS]: builds the Debian package
# of SRCDIR in a clean Debian 12 chroot that has nothing but debootstrap's
# buildd set (build-essential, apt) and the build dependencies debian/control
# declares (apt-get build-dep), then copies the .deb, .changes and .buildinfo
# into OUTDIR. A build dependency missing from debian/control fails here,
# as it would on a buildd, sbuild or pbuilder; the test machine's own
# packages cannot hide it.
#
# Cache (VH_CHROOT_CACHE, default /var/cache/vgpu-hook-test), so that a rerun
# only unpacks a tarball:
#   bookworm-buildd.tar.zst   debootstrap --variant=buildd bookworm (once);
#   bookworm-deps-HASH.tar.zst  the same with the build dependencies
#                             installed, HASH of the Build-Depends fields.
# VH_CHROOT_REFRESH=1 drops the cache first (newer packages from the
# archive). VH_DEBIAN_MIRROR changes the archive (default deb.debian.org).
# Exit status: 0 built; 1 the package build failed (its log's end is
# printed); 2 no chroot (debootstrap or apt-get failed: the message says why).
# Needs root, debootstrap, zstd, unshare (util-linux) and the archive.
set -uo pipefail

src=$(cd "${1:?usage: chroot-build.sh SRCDIR OUTDIR [DEB_BUILD_OPTIONS]}" && pwd) || exit 2
out=${2:?usage: chroot-build.sh SRCDIR OUTDIR [DEB_BUILD_OPTIONS]}
build_options=${3-"parallel=$(nproc)"}
cache=${VH_CHROOT_CACHE:-/var/cache/vgpu-hook-test}
mirror=${VH_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm

die() { echo "chroot-build: $*" >&2; exit 2; }
say() { echo "chroot-build: $*"; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot)"
for tool in debootstrap zstd unshare; do
    command -v $tool >/dev/null || die "$tool not found: apt-get install debootstrap zstd util-linux"
done
[ -f "$src/debian/control" ] || die "$src has no debian/control"
mkdir -p "$cache" "$out" || die "cannot create $cache or $out"

work=$(mktemp -d /tmp/vgpu-chroot.XXXXXX) || die "mktemp failed"
root=$work/root
# Every mount lives in a private mount namespace that dies with the command,
# so nothing can be left mounted under $root when it is removed.
cleanup() {
    if findmnt -rn -o TARGET | grep -q "^$root"; then
        echo "chroot-build: $root still has mounts; left in place" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

# in_root CMD...: runs CMD in the chroot, in its own mount and PID namespace
# (every process it starts ends with it), with /proc and /dev.
in_root() {
    unshare --mount --pid --fork --propagation private -- /bin/sh -c '
        r=$1; shift
        mount -t proc proc "$r/proc" && mount --rbind /dev "$r/dev" || exit 2
        exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
            LC_ALL=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"' sh "$root" "$@"
}

# The Build-Depends* fields of the source paragraph, comments dropped.
build_depends() {
    awk '/^$/ { exit } /^#/ { next }
         /^[^ \t]/ { keep = ($0 ~ /^Build-(Depends|Depends-Arch|Depends-Indep|Conflicts):/) }
         keep' "$src/debian/control"
}

unpack() { # TARBALL
    mkdir -p "$root" && zstd -dcq "$1" | tar -xf - -C "$root" ||
        die "cannot unpack $1 (VH_CHROOT_REFRESH=1 makes the cache again)"
    cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
}
pack() { # TARBALL: written atomically (another run may read the cache)
    tar -C "$root" --exclude=./proc/* --exclude=./dev/* -cf - . | zstd -q -T0 -3 -o "$1.tmp.$$" &&
        mv -f "$1.tmp.$$" "$1" || { rm -f "$1.tmp.$$"; die "cannot write $1"; }
}

[ "${VH_CHROOT_REFRESH:-}" != 1 ] || rm -f "$cache"/$suite-*.tar.zst
base=$cache/$suite-buildd.tar.zst
hash=$(build_depends | tr -s ' \t\n' ' ' | sha256sum | cut -c1-16)
deps=$cache/$suite-deps-$hash.tar.zst

if [ ! -f "$deps" ]; then
    if [ ! -f "$base" ]; then
        say "debootstrap --variant=buildd $suite $mirror (once; cached in $base)"
        if ! debootstrap --variant=buildd $suite "$root" "$mirror" > "$work/debootstrap.log" 2>&1; then
            tail -n 15 "$work/debootstrap.log" >&2
            die "debootstrap $suite from $mirror failed (is the archive reachable?)"
        fi
        cat > "$root/etc/apt/sources.list" <<EOF
deb $mirror $suite main
deb $mirror $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
EOF
        # No documentation or recommends: a build needs neither.
        printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
            > "$root/etc/apt/apt.conf.d/90vgpu-hook-test"
        rm -f "$root/var/cache/apt/archives/"*.deb
        pack "$base"
        rm -rf "$root"
    fi
    say "installing the build dependencies into a copy of $base (cached in $deps)"
    unpack "$base"
    mkdir -p "$root/tmp/control/debian" && cp "$src/debian/control" "$root/tmp/control/debian/"
    if ! in_root sh -c 'apt-get update && apt-get -y dist-upgrade && apt-get -y build-dep /tmp/control' \
            > "$work/deps.log" 2>&1; then
        tail -n 20 "$work/deps.log" >&2
        die "apt-get build-dep failed in the chroot (a Build-Depends that bookworm lacks, or no archive)"
    fi
    rm -rf "$root/tmp/control" "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*_*
    pack "$deps"
    rm -rf "$root"
fi

say "building in a clean chroot ($deps; DEB_BUILD_OPTIONS=$build_options)"
unpack "$deps"
mkdir -p "$root/build/vgpu-hook"
tar -C "$src" -cf - . | tar -xf - -C "$root/build/vgpu-hook" || die "cannot copy $src"
# Only what debian/control declares is installed: the check must pass.
in_root sh -c 'cd /build/vgpu-hook && dpkg-checkbuilddeps' ||
    die "dpkg-checkbuilddeps fails in the chroot made for these Build-Depends"
if ! in_root sh -c "cd /build/vgpu-hook && DEB_BUILD_OPTIONS='$build_options' dpkg-buildpackage -us -uc -b" \
        > "$out/chroot-build.log" 2>&1; then
    echo "chroot-build: dpkg-buildpackage failed in the clean chroot; the end of its log ($out/chroot-build.log):"
    tail -n 40 "$out/chroot-build.log"
    exit 1
fi
cp "$root"/build/*.deb "$root"/build/*.changes "$root"/build/*.buildinfo "$out/" ||
    die "the build left no .deb/.changes/.buildinfo"
say "built $(cd "$root/build" && echo *.deb) in the clean chroot"

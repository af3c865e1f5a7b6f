#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Debian package tier: build the .deb, install it, use it, remove it.
#
#  1. copies the sources (a git checkout: its tracked and untracked,
#     not-ignored files; otherwise the tree as it is, e.g. a distcheck's
#     unpacked tarball) and builds with `dpkg-buildpackage -us -uc -b` in a
#     clean Debian 12 chroot that has only the build dependencies
#     debian/control declares (tests/package/chroot-build.sh: debootstrap,
#     apt-get build-dep; cached in /var/cache/vgpu-hook-test, so only the
#     first run downloads), unit tests included: a missing Build-Depends
#     fails here as on a buildd. VH_PACKAGE_CHROOT=host builds on this
#     machine instead, saying loudly that the dependencies are then unproven;
#  2. lintian on the result: no errors;
#  3. under the libvirt lock: installs it (apt-get), checks the installed
#     files and that the postinst restarted libvirtd; configures a demo host
#     in /etc/vgpu-hook/ (a fake sysfs tree of demo/demo-host.ini); defines a
#     domain naming nvidia.com/L40S-24Q with the installed vgpuctl and starts
#     it with virsh: the installed hook sets the VF's profile at prepare (a
#     probe hook records it) and resets it at release (the start itself fails
#     later: no passthrough on this machine);
#  4. removal is refused while a live lease holds a device; then removed
#     (hook gone, no lease left, libvirt no longer calls it) and purged
#     (/etc/vgpu-hook gone).
# libvirtd is left running or stopped as it was. Without root, the build
# tools, libvirtd or virsh it says so and exits 77 (SKIP); VH_PACKAGE_TEST=skip
# skips it. When the chroot cannot be made (debootstrap fails: no archive)
# the tier fails, saying why. VH_PACKAGE_BUILD_OPTIONS replaces the
# DEB_BUILD_OPTIONS of the build (default: parallel=N in the chroot,
# nocheck on the host).
# Run alone: make check TESTS=tests/package/run.sh
set -uo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir/_build}
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
URI=qemu:///system
HOOK_DIR=/etc/libvirt/hooks/qemu.d
HOOK=$HOOK_DIR/vgpu-hook
PROBE=$HOOK_DIR/zz-vgpu-hook-pkgtest-probe
CONF_DIR=/etc/vgpu-hook
DOMAIN=vh-pkgtest
started=$SECONDS

skip() { echo "SKIP: package tier: $*"; exit 77; }
[ "${VH_PACKAGE_TEST:-}" != skip ] ||
    skip "VH_PACKAGE_TEST=skip (scripts/test.sh sets it for distcheck, after the tier ran in the sanitizer build)"
[ "$(id -u)" -eq 0 ] || skip "needs root (it installs a package and restarts libvirtd)"
missing=
for tool in dpkg-buildpackage:dpkg-dev dh:debhelper lintian:lintian fakeroot:fakeroot \
            libvirtd:libvirt-daemon-system virsh:libvirt-clients xmllint:libxml2-utils \
            debootstrap:debootstrap zstd:zstd; do
    command -v "${tool%%:*}" >/dev/null || missing="$missing ${tool#*:}"
done
[ -z "$missing" ] || skip "missing tools; install them: apt-get install$missing (scripts/deps.sh)"
[ -x "$top_builddir/tests/vh-fakehost" ] || skip "$top_builddir/tests/vh-fakehost not built (run make)"
if dpkg-query -W -f='${db:Status-Abbrev}' vgpu-hook 2>/dev/null | grep -q '^[ir]'; then
    skip "the vgpu-hook package is installed here and this tier installs and purges it: apt-get purge vgpu-hook first"
fi
[ ! -e "$CONF_DIR" ] && [ ! -e "$HOOK" ] ||
    skip "$CONF_DIR or $HOOK exists (a make install?); this tier would overwrite it: remove them first"

passed=0
failed=0
ok() { echo "PASS: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }
step() { printf '== [%3ds] %s\n' $((SECONDS - started)) "$*"; }

work=$(mktemp -d /tmp/vgpu-package.XXXXXX)
installed=0
libvirtd_before=
started_libvirtd=0
started_virtlogd=

locked=0

# Only a run that holds the lock touches the system (another run may be
# using /etc/vgpu-hook and the package while this one waits or skips).
cleanup() {
    if [ "$locked" = 0 ]; then
        rm -rf "$work"
        return
    fi
    if [ "$installed" = 1 ]; then
        virsh -c $URI destroy $DOMAIN >/dev/null 2>&1
        virsh -c $URI undefine $DOMAIN >/dev/null 2>&1
        dpkg --purge vgpu-hook >/dev/null 2>&1 9>&-
    fi
    rm -f "$PROBE"
    rm -rf "$CONF_DIR"
    if [ "$started_libvirtd" = 1 ]; then
        # libvirtd did not run before: stop the one this tier (and the postinst) started
        local pid
        if [ -d /run/systemd/system ]; then
            systemctl stop libvirtd
        else
            pid=$(pidof -s libvirtd) && kill "$pid"
            [ -n "$started_virtlogd" ] && kill "$started_virtlogd" 2>/dev/null
        fi
    fi
    rm -rf "$work"
}
trap cleanup EXIT

# Make and the test harness pass their settings on: the package build must not
# see the outer make's job server or variables.
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES DESTDIR

# ---- 1. build ------------------------------------------------------------------
step "copy the sources"
src=$work/src/vgpu-hook
mkdir -p "$src"
if [ "$(git -C "$top_srcdir" rev-parse --show-toplevel 2>/dev/null)" = "$top_srcdir" ]; then
    (cd "$top_srcdir" && git ls-files -co --exclude-standard -z |
        xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' _ |
        tar --null -T - -cf -) | tar -xf - -C "$src"
    echo "git checkout $top_srcdir (working tree files)"
else
    # A tree without git: the unpacked tarball of `make dist(check)`, whose
    # build directories (_build, _inst) live inside it.
    tar -C "$top_srcdir" --exclude=./_build --exclude=./_inst --exclude=./_build-ci \
        --exclude="./$(realpath --relative-to="$top_srcdir" "$top_builddir")" -cf - . |
        tar -xf - -C "$src"
    chmod -R u+w "$src"
    echo "source tree $top_srcdir (no git)"
fi
[ -f "$src/debian/control" ] || { echo "FAIL: no debian/ in the copied sources"; exit 1; }
out=$work/out
mkdir -p "$out"
if [ "${VH_PACKAGE_CHROOT:-}" = host ]; then
    echo "WARNING: VH_PACKAGE_CHROOT=host: building on this machine, whose packages may hide a"
    echo "WARNING: build dependency missing from debian/control (a buildd would fail on it)"
    if ! deps=$(cd "$src" && dpkg-checkbuilddeps 2>&1); then
        skip "build dependencies missing: $deps (scripts/deps.sh installs them)"
    fi
    opts=${VH_PACKAGE_BUILD_OPTIONS-"nocheck parallel=$(nproc)"}
    step "dpkg-buildpackage -us -uc -b on this machine (DEB_BUILD_OPTIONS=$opts)"
    if (cd "$src" && DEB_BUILD_OPTIONS=$opts dpkg-buildpackage -us -uc -b) > "$work/build.log" 2>&1 9>&-; then
        ok "dpkg-buildpackage built $(cd "$work/src" && echo *.deb)"
        mv "$work"/src/vgpu-hook_* "$out/"
    else
        bad "dpkg-buildpackage failed; the end of its log:"
        tail -n 40 "$work/build.log"
        exit 1
    fi
else
    opts=${VH_PACKAGE_BUILD_OPTIONS-"parallel=$(nproc)"}
    step "dpkg-buildpackage -us -uc -b in a clean chroot with only the declared build dependencies (DEB_BUILD_OPTIONS=$opts)"
    "$top_srcdir/tests/package/chroot-build.sh" "$src" "$out" "$opts" 9>&-
    case $? in
    0) ok "the package builds in a clean Debian 12 chroot from debian/control's Build-Depends alone" ;;
    1) bad "the package does not build in a clean chroot with only the declared build dependencies"
       exit 1 ;;
    *) bad "NO CLEAN CHROOT: debootstrap or apt-get could not make one (above); the build dependencies are unproven. Fix the archive access, or set VH_PACKAGE_CHROOT=host to build on this machine"
       exit 1 ;;
    esac
fi
deb=$(echo "$out"/vgpu-hook_*_*.deb)
changes=$(echo "$out"/vgpu-hook_*.changes)
[ -f "$deb" ] || { echo "FAIL: no vgpu-hook .deb in $out"; exit 1; }

# ---- 2. lintian ------------------------------------------------------------------
step "lintian"
lintian --fail-on error --info "$changes" > "$work/lintian.log" 2>&1
lintian_rc=$?
grep -E '^[EW]:' "$work/lintian.log" | sed 's/^/    /'
check "lintian: no errors" test "$lintian_rc" -eq 0 -a -z "$(grep '^E:' "$work/lintian.log")"

# ---- 3. install and use, under the libvirt lock -------------------------------------
# One run at a time: the hook directory and libvirtd are shared with the
# real-libvirtd tier and other checkouts.
exec 9>/run/lock/vgpu-hook-test-libvirt.lock
flock -w 600 9 || skip "another run holds /run/lock/vgpu-hook-test-libvirt.lock"
locked=1
# What another run may have done since the checks at the start.
if dpkg-query -W -f='${db:Status-Abbrev}' vgpu-hook 2>/dev/null | grep -q '^[ir]' ||
   [ -e "$CONF_DIR" ] || [ -e "$HOOK" ]; then
    locked=0
    skip "the vgpu-hook package, $CONF_DIR or $HOOK appeared while this run waited for the lock"
fi

libvirtd_pid() {
    if [ -d /run/systemd/system ]; then
        systemctl show -p MainPID --value libvirtd 2>/dev/null | grep -v '^0$'
    else
        pidof -s libvirtd
    fi
}
wait_libvirtd() {
    for _ in $(seq 75); do virsh -c $URI version >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}
libvirtd_before=$(libvirtd_pid)
if [ -z "$libvirtd_before" ]; then
    # The postinst restarts a running libvirtd; start one to see it do that.
    started_libvirtd=1
    if [ -d /run/systemd/system ]; then
        systemctl start libvirtd
    else
        if ! pidof -s virtlogd >/dev/null; then
            virtlogd -d 9>&-
            started_virtlogd=$(pidof -s virtlogd)
        fi
        libvirtd -d 9>&-
    fi
    wait_libvirtd || { echo "FAIL: libvirtd did not start"; exit 1; }
fi
pid_before=$(libvirtd_pid)

step "apt-get install $(basename "$deb")"
apt_get() { # 9>&-: nothing dpkg starts (libvirtd) may keep the lock
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 -y \
        --no-install-recommends "$@" 9>&-
}
apt_get install "$deb" > "$work/install.log" 2>&1
rc=$?
installed=1
sed -n 's/^vgpu-hook: /    postinst: /p' "$work/install.log"
check "apt-get install succeeded" test "$rc" -eq 0
[ "$rc" -eq 0 ] || { tail -n 30 "$work/install.log"; exit 1; }
check "the postinst said it restarts libvirtd" grep -q '^vgpu-hook: restarting libvirtd' "$work/install.log"
wait_libvirtd
pid_after=$(libvirtd_pid)
check "libvirtd was restarted (pid $pid_before -> $pid_after)" test -n "$pid_after" -a "$pid_after" != "$pid_before"

step "installed files"
check "hook $HOOK is executable" test -x "$HOOK"
check "the hook is the packaged binary" test "$(readlink -f "$HOOK")" = /usr/libexec/vgpu-hook/vgpu-hook
check "/etc/vgpu-hook/vgpu-hook.conf is a conffile" \
    bash -c "dpkg-query -W -f='\${Conffiles}' vgpu-hook | grep -q ' /etc/vgpu-hook/vgpu-hook.conf '"
check "vgpuctl runs (private library found)" /usr/sbin/vgpuctl --version
check "the private library is in /usr/lib/<triplet>/vgpu-hook" \
    bash -c 'dpkg -L vgpu-hook | grep -q "^/usr/lib/[^/]*/vgpu-hook/libvgpuhook\.so\.0$"'
check "no header, .pc, .la or unversioned .so installed (the library is private)" \
    bash -c '! dpkg -L vgpu-hook | grep -E "^/usr/include|\.(h|pc|la)$|/libvgpuhook\.so$"'
for page in man8/vgpuctl.8 man8/vgpu-hook.8 man5/vgpu-hook.conf.5; do
    check "man page $page" test -f "/usr/share/man/$page.gz"
done
shopt -s nullglob
for unit in "$top_srcdir"/data/*.service.in "$top_srcdir"/data/*.service "$top_srcdir"/data/*.timer \
            "$top_srcdir"/data/*.timer.in "$top_srcdir"/data/*.path; do
    unit=$(basename "${unit%.in}")
    check "unit $unit installed" test -f "/lib/systemd/system/$unit" -o -f "/usr/lib/systemd/system/$unit"
done
for unit in vgpu-hook-setup.service vgpu-hook-reconcile.service; do
    check "unit $unit enabled" test -L "/etc/systemd/system/multi-user.target.wants/$unit"
done
check "unit vgpu-hook-metrics.timer not enabled (opt-in)" \
    test ! -e /etc/systemd/system/timers.target.wants/vgpu-hook-metrics.timer
check "ExecStart of the units is the installed vgpuctl" \
    bash -c '! grep -h "^ExecStart=" /lib/systemd/system/vgpu-hook-*.service | grep -v "^ExecStart=/usr/sbin/vgpuctl "'
comp=/usr/share/bash-completion/completions/vgpuctl
check "bash completion installed" test -f $comp
check "the completion completes 'vgpuctl lea' to leases" bash -c '
    . /usr/share/bash-completion/bash_completion 2>/dev/null; . '$comp'
    COMP_WORDS=(vgpuctl lea); COMP_CWORD=1; COMP_LINE="vgpuctl lea"; COMP_POINT=11
    _vgpuctl vgpuctl lea vgpuctl; [ "${COMPREPLY[*]}" = leases ]'

step "demo host in /etc/vgpu-hook, virsh start through the installed hook"
sys=$work/sys
state=$work/vgpu-hook-state
"$top_builddir/tests/vh-fakehost" "$top_srcdir/demo/demo-host.ini" "$sys" >/dev/null ||
    { echo "FAIL: cannot build the demo host"; exit 1; }
cat > $CONF_DIR/vgpu-hook.conf <<CONF
# Written by tests/package/run.sh: the demo host (a fake sysfs tree).
[host]
sysfs_root=$sys
state_dir=$state
cache_dir=$state.cache
vfio_dir=$work/dev/vfio
deny=0000:03:00.0
reset_retries=2
reset_retry_ms=50
CONF
cat > "$PROBE" <<PROBE
#!/bin/sh
# vgpu-hook package tier (removed by the test): the VF profiles at prepare.
cat > /dev/null
[ "\$2" = prepare ] || exit 0
for f in $sys/bus/pci/devices/*/nvidia/current_vgpu_type; do
    t=\$(cat "\$f"); [ "\$t" = 0 ] || echo "\$(basename "\$(dirname "\$(dirname "\$f")")") \$t"
done > $work/probe-\$1.txt
PROBE
chmod 755 "$PROBE"
type_of() { cat "$sys/bus/pci/devices/$1/nvidia/current_vgpu_type"; }
lease_state() { local f=$state/leases/$1; [ -f "$f" ] && sed -n 's/^state=//p' "$f" || echo none; }

sed "s|@NAME@|$DOMAIN|; s|@RESOURCE@|nvidia.com/L40S-24Q|" \
    "$top_srcdir/tests/integration/vm-named.xml.in" > "$work/$DOMAIN.xml"
check "the installed vgpuctl defines $DOMAIN" /usr/sbin/vgpuctl define -c $URI "$work/$DOMAIN.xml"
vf=$(virsh -c $URI dumpxml $DOMAIN | xmllint --xpath \
    'concat(//hostdev/source/address/@bus, " ", //hostdev/source/address/@slot, " ", //hostdev/source/address/@function)' - |
    { read -r b s f; printf '0000:%02x:%02x.%x' "$b" "$s" "$f"; })
check "a VF was reserved for $DOMAIN ($vf)" test "$(lease_state "$vf")" = reserved
out=$(virsh -c $URI start $DOMAIN 2>&1)
echo "    virsh start: $(tr '\n' ' ' <<<"$out")"
check "prepare (installed hook) set L40S-24Q (1161) on $vf" grep -qx "$vf 1161" "$work/probe-$DOMAIN.txt"
check "the start failed after the hook, not in it" bash -c '! grep -q vgpu-hook <<<"$1"' _ "$out"
check "release (installed hook) reset the profile" test "$(type_of "$vf")" = 0
check "release turned the lease back into a reservation" test "$(lease_state "$vf")" = reserved

# ---- 4. remove and purge --------------------------------------------------------------
step "apt-get remove is refused while a live lease holds a device"
virsh -c $URI dumpxml $DOMAIN > "$work/$DOMAIN-dump.xml"
/usr/sbin/vgpuctl prepare "$work/$DOMAIN-dump.xml" >/dev/null 2>&1   # live: within lease_grace_seconds
check "vgpuctl prepare took an active lease" test "$(lease_state "$vf")" = active
apt_get remove vgpu-hook > "$work/refused.log" 2>&1
rc=$?
grep -E '^(vgpu-hook:|  .* held by domain )' "$work/refused.log" | sed 's/^/    prerm: /'
check "apt-get remove failed" test "$rc" -ne 0
check "prerm named the domain and the device" grep -q "$vf (nvidia.com/L40S-24Q) held by domain $DOMAIN" "$work/refused.log"
check "the package is still installed" \
    test "$(dpkg-query -W -f='${db:Status-Abbrev}' vgpu-hook)" = "ii "
/usr/sbin/vgpuctl release "$work/$DOMAIN-dump.xml" >/dev/null 2>&1
check "vgpuctl release gave the VF back" test "$(type_of "$vf")" = 0

step "apt-get remove"
apt_get remove vgpu-hook > "$work/remove.log" 2>&1
rc=$?
grep '^vgpu-hook:' "$work/remove.log" | sed 's/^/    prerm\/postrm: /'
check "apt-get remove succeeded" test "$rc" -eq 0
check "hook gone" test ! -e "$HOOK" -a ! -L "$HOOK"
check "no lease or state left ($state)" test ! -e "$state"
check "no VF holds a profile" bash -c '! grep -qv "^0$" "$1"/bus/pci/devices/*/nvidia/current_vgpu_type' _ "$sys"
check "the configuration stays until purge" test -f $CONF_DIR/vgpu-hook.conf
rm -f "$work/probe-$DOMAIN.txt"
virsh -c $URI start $DOMAIN >/dev/null 2>&1
check "libvirt no longer calls the hook (no profile at prepare)" \
    test -f "$work/probe-$DOMAIN.txt" -a ! -s "$work/probe-$DOMAIN.txt"

step "apt-get purge"
apt_get purge vgpu-hook > "$work/purge.log" 2>&1
check "apt-get purge succeeded" test $? -eq 0
check "/etc/vgpu-hook gone" test ! -e $CONF_DIR
check "the package is gone" bash -c '! dpkg-query -W -f="\${db:Status-Abbrev}" vgpu-hook 2>/dev/null | grep -q "^[ir]"'
check "the units' enable links are gone" \
    test ! -e /etc/systemd/system/multi-user.target.wants/vgpu-hook-reconcile.service
installed=0
virsh -c $URI undefine $DOMAIN >/dev/null 2>&1

step "done"
echo "$passed passed, $failed failed in $((SECONDS - started)) s"
[ "$failed" -eq 0 ]

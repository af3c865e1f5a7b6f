# SPDX-License-Identifier: GPL-2.0-or-later
# libvirt-env.sh: what the real-libvirtd tests share (sourced, not run).
#
#   . "$(dirname "$0")/libvirt-env.sh"
#   vh_env_init NAME PREFIX   # skip (77) without root/libvirtd/virsh/shim,
#                             # take the run lock, remove PREFIX* leftovers,
#                             # build the demo host and its configuration
#   vh_env_install_hook PATH  # a hook wrapper: built vgpu-hook, demo host,
#                             # simulated kernel (removed by vh_env_cleanup)
#   vh_env_restart_libvirtd   # libvirtd only looks for hooks when it starts
#
# Sets top_srcdir, top_builddir, URI, HOOK_DIR, SHIM, work, sys, dev, run,
# conf; defines vgpuctl (the built one, on the demo host); domains+=(NAME)
# and hooks+=(PATH) are undone by the EXIT trap (vh_env_cleanup). libvirtd
# and /etc/libvirt/hooks are shared: everything runs under
# /run/lock/vgpu-hook-test-libvirt.lock, and daemons are started without it
# (9>&-), or they would keep it.

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir/_build}
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
URI=qemu:///system
HOOK_DIR=/etc/libvirt/hooks/qemu.d
SHIM=$top_builddir/tests/.libs/libsimkernel.so
domains=()
hooks=()

vh_env_skip() { echo "SKIP: $VH_ENV_NAME: $*"; exit 77; }

vh_env_restart_libvirtd() {
    if [ -d /run/systemd/system ]; then
        systemctl restart libvirtd
    else
        # 9>&-: the daemons must not inherit (and keep) the test's run lock
        pgrep -x virtlogd >/dev/null || virtlogd -d 9>&-
        pkill -x libvirtd && while pgrep -x libvirtd >/dev/null; do sleep 0.1; done
        libvirtd -d 9>&-
    fi
    for _ in $(seq 50); do virsh -c $URI version >/dev/null 2>&1 && return 0; sleep 0.2; done
    echo "libvirtd did not come back"; return 1
}

vh_env_cleanup() {
    local d
    for d in "${domains[@]}"; do
        virsh -c $URI destroy "$d" >/dev/null 2>&1
        virsh -c $URI undefine "$d" >/dev/null 2>&1
    done
    [ ${#hooks[@]} -eq 0 ] || rm -f "${hooks[@]}"
    vh_env_restart_libvirtd >/dev/null 2>&1
    rm -rf "$work"
}

vh_env_init() {
    local d
    VH_ENV_NAME=$1
    [ "${VH_LIBVIRT_TEST:-}" != skip ] || vh_env_skip "VH_LIBVIRT_TEST=skip (scripts/test.sh sets it for distcheck, after the tier ran in the sanitizer build)"
    [ "$(id -u)" -eq 0 ] || vh_env_skip "needs root (it installs a hook and restarts libvirtd)"
    command -v libvirtd >/dev/null || vh_env_skip "libvirtd not installed (apt-get install libvirt-daemon-system)"
    command -v virsh >/dev/null || vh_env_skip "virsh not installed (apt-get install libvirt-clients)"
    [ -f "$SHIM" ] || vh_env_skip "$SHIM not built (run make check)"

    # One run at a time: the hook directory and libvirtd are shared (parallel
    # make check, distcheck beside a check, two checkouts).
    exec 9>/run/lock/vgpu-hook-test-libvirt.lock
    flock -w 300 9 || vh_env_skip "another run holds /run/lock/vgpu-hook-test-libvirt.lock"

    # Leftovers of an interrupted run would make define fail.
    for d in $(virsh -c $URI list --all --name 2>/dev/null | grep "^$2"); do
        virsh -c $URI destroy "$d" >/dev/null 2>&1
        virsh -c $URI undefine "$d" >/dev/null 2>&1
    done

    work=$(mktemp -d /tmp/vgpu-libvirt.XXXXXX)
    trap vh_env_cleanup EXIT
    sys=$work/sys
    dev=$work/dev
    run=$work/run
    mkdir -p "$dev" "$run"
    "$top_builddir/tests/vh-fakehost" "$top_srcdir/demo/demo-host.ini" "$sys" ||
        { echo "cannot build the demo host"; exit 1; }
    conf=$work/vgpu-hook.conf
    cat > "$conf" <<CONF
[host]
sysfs_root=$sys
state_dir=$work/state
cache_dir=$work/cache
vfio_dir=$dev/vfio
libvirt_run_dir=$run
lease_grace_seconds=0
reset_retries=2
reset_retry_ms=50
deny=0000:03:00.0
CONF
    mkdir -p "$HOOK_DIR"
}

# Only our tools see the simulated kernel; libvirtd itself must not.
vgpuctl() {
    LD_PRELOAD=$SHIM VH_SIM_SYSFS_ROOT=$sys VH_SIM_DEV_DIR=$dev \
        "$top_builddir/vgpuctl" --config "$conf" "$@"
}

vh_env_install_hook() {
    # The hook's front end is a plain program (libc only, no libtool wrapper);
    # it loads the worker module next to it, or execs vgpu-hook-rewrite, whose
    # libtool wrapper finds the library (LD_LIBRARY_PATH too, for a stale
    # wrapper-less build).
    local hook=$top_builddir/vgpu-hook libs=$top_builddir/plugin/.libs
    cat > "$1" <<WRAP
#!/bin/sh
# vgpu-hook test wrapper (removed by the test): demo host + simulated kernel.
# libvirtd clears the environment: pass the sanitizer options of a
# --enable-sanitizers build on (the shim is preloaded before libasan).
export LD_PRELOAD=$SHIM VH_SIM_SYSFS_ROOT=$sys VH_SIM_DEV_DIR=$dev LD_LIBRARY_PATH=$libs
export ASAN_OPTIONS='${ASAN_OPTIONS:-}' UBSAN_OPTIONS='${UBSAN_OPTIONS:-}'
exec "$hook" --config "$conf" "\$@"
WRAP
    chmod 755 "$1"
    hooks+=("$1")
}

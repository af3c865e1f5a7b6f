# SPDX-License-Identifier: GPL-2.0-or-later
# fake-host.sh: sourced by the benchmark scripts.
# bench_fake_host DIR FAKEHOST GEN-ARGS...: a fake host in DIR: DIR/sys (the
# tree, from bench/gen-host.sh GEN-ARGS and tests/vh-fakehost FAKEHOST),
# DIR/{state,dev/vfio,run} and DIR/c.conf, a configuration pointing there.
bench_fake_host() {
    local d=$1 fakehost=$2
    shift 2
    mkdir -p "$d/state" "$d/dev/vfio" "$d/run"
    "$(dirname "${BASH_SOURCE[0]}")/gen-host.sh" "$@" >"$d/host.ini"
    "$fakehost" "$d/host.ini" "$d/sys"
    cat >"$d/c.conf" <<CONF
[host]
sysfs_root=$d/sys
state_dir=$d/state
cache_dir=$d/cache
vfio_dir=$d/dev/vfio
libvirt_run_dir=$d/run
CONF
}

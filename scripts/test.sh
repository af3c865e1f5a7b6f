#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test.sh: build vgpu-hook and run the whole test suite, as CI does.
#
# Usage (from anywhere, on Debian 12; as root it installs what is missing):
#   scripts/test.sh
# Stages, each in a fresh build directory under _build-ci/ (removed first,
# so the script can be re-run):
#   1. packages (scripts/deps.sh)
#   2. ./autogen.sh
#   3. _build-ci/asan: configure --enable-werror --enable-sanitizers
#      --enable-fault-injection (test-only fault points: tests/test-faults.sh
#      kills the hook at each), make, make check, then the demo (make demo)
#      under the sanitizers
#   4. _build-ci/plain: configure --enable-werror, make, make check-valgrind
#      (unit tests under valgrind memcheck), the real-libvirtd soak
#      (tests/integration/soak.sh, as make soak), make distcheck (without the
#      real-kernel and real-libvirtd tiers, see below)
# .ci/run calls this script. Exit status is non-zero at the first failure.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ci_dir="$top/_build-ci"
jobs=$(nproc 2>/dev/null || echo 2)
started=$SECONDS

# shellcheck source=scripts/deps.sh
. "$top/scripts/deps.sh"

stage() {
    printf '\n===== [%s] %s (%ds) =====\n' "$(date +%H:%M:%S)" "$*" $((SECONDS - started))
}

# The logs of the tests that did not pass, after a failed make check.
print_failed_logs() {
    local dir=$1 trs log
    while IFS= read -r trs; do
        if grep -Eq '^:test-result: (FAIL|ERROR|XPASS)' "$trs"; then
            log=${trs%.trs}.log
            printf '\n----- %s -----\n' "${log#"$dir"/}"
            cat "$log" || true
        fi
    done < <(find "$dir" -name '*.trs' | sort)
}

run_check() {
    local dir=$1
    if ! make -C "$dir" -j"$jobs" check; then
        print_failed_logs "$dir"
        echo "make check failed in $dir" >&2
        return 1
    fi
}

fresh_build() {
    local dir=$1; shift
    rm -rf "$dir"
    mkdir -p "$dir"
    (cd "$dir" && "$top/configure" "$@")
    make -C "$dir" -j"$jobs"
}

# Sanitizers: stop at the first error, with a stack; leaks are errors.
# verify_asan_link_order=0: tests LD_PRELOAD the simulated kernel (itself
# built with ASan), which puts libasan after it in the library list.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:verify_asan_link_order=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

stage "packages"
vh_deps_install

stage "autogen"
(cd "$top" && ./autogen.sh)
rm -rf "$ci_dir"
mkdir -p "$ci_dir"

stage "build with sanitizers (_build-ci/asan)"
fresh_build "$ci_dir/asan" --enable-werror --enable-sanitizers --enable-fault-injection

stage "make check with sanitizers"
run_check "$ci_dir/asan"

stage "demo with sanitizers"
VH_DEMO_OUT="$ci_dir/asan/demo-out" make -C "$ci_dir/asan" demo

stage "build without sanitizers (_build-ci/plain)"
fresh_build "$ci_dir/plain" --enable-werror

stage "unit tests under valgrind (make check-valgrind)"
make -C "$ci_dir/plain" check-valgrind

# 200 start/destroy cycles in the real libvirtd (root; skips, 77, without).
stage "soak: real libvirtd, ${VH_SOAK_CYCLES:-200} cycles (make soak)"
soak_started=$SECONDS
soak_rc=0
make -C "$ci_dir/plain" tests/libsimkernel.la tests/vh-fakehost >/dev/null
top_srcdir=$top top_builddir=$ci_dir/plain bash "$top/tests/integration/soak.sh" || soak_rc=$?
case $soak_rc in
0) echo "soak passed in $((SECONDS - soak_started))s" ;;
77) echo "soak skipped (see above)" ;;
*) echo "soak failed" >&2; exit 1 ;;
esac

# The tarball's own make check skips the three slow tiers, which stage 3 ran
# on the same sources: the real kernel (boots a VM), the real libvirtd
# (restarts the daemon, starts domains) and the Debian package (builds,
# installs and purges it); minutes each. Set VH_KERNEL_TEST, VH_LIBVIRT_TEST
# or VH_PACKAGE_TEST to anything else than "skip" to run them here too.
stage "make distcheck"
VH_KERNEL_TEST=${VH_KERNEL_TEST:-skip} VH_LIBVIRT_TEST=${VH_LIBVIRT_TEST:-skip} \
VH_PACKAGE_TEST=${VH_PACKAGE_TEST:-skip} \
    make -C "$ci_dir/plain" -j"$jobs" distcheck

# A short run of every libFuzzer harness (fuzz/README.md: longer campaigns).
stage "fuzzing (${VH_FUZZ_SECONDS:-20}s per harness)"
VH_FUZZ_SECONDS=${VH_FUZZ_SECONDS:-20} bash "$top/fuzz/run.sh" "$ci_dir/fuzz"

stage "all passed in $((SECONDS - started))s"

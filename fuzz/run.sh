#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# fuzz/run.sh: build the libFuzzer harnesses and run each for a while.
#
#   fuzz/run.sh [BUILD_DIR]
#
# Builds fuzz/fuzz-*.c with clang (-fsanitize=fuzzer,address,undefined)
# straight from plugin/*.c (no configure needed) into BUILD_DIR (default: a
# temporary directory), then runs each harness for $VH_FUZZ_SECONDS seconds
# (default 60) on a copy of its seed corpus fuzz/corpus/<harness>/, so a run
# never writes into the repository. One line per harness, then
# "N passed, N failed". Exits non-zero when a harness fails; for a crash it
# prints the saved input's path and its base64.
#
# Environment:
#   VH_FUZZ_SECONDS   seconds per harness (default 60)
#   VH_FUZZ_ONLY      space-separated harness names to build and run (default all)
#   VH_FUZZ_JOBS      harnesses run at the same time (default: number of CPUs)
#   VH_FUZZ_ARGS      extra libFuzzer options, e.g. "-max_len=65536"
#   CC                the compiler (default clang; must support -fsanitize=fuzzer)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${VH_FUZZ_SECONDS:-60}
jobs=${VH_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
cc=${CC:-clang}
pkgs="glib-2.0 gio-2.0 libxml-2.0 libpci json-glib-1.0"

if [ $# -ge 1 ]; then
    build=$1
    mkdir -p "$build"
    build=$(cd "$build" && pwd)
    keep_build=yes
else
    build=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-hook-fuzz.XXXXXX")
    keep_build=no
fi

if [ -n "${VH_FUZZ_ONLY:-}" ]; then
    read -r -a harnesses <<<"$VH_FUZZ_ONLY"
else
    harnesses=()
    for src in "$top"/fuzz/fuzz-*.c; do
        harnesses+=("$(basename "$src" .c)")
    done
fi

start=$(date +%s)
echo "fuzz: building ${#harnesses[@]} harnesses with $cc into $build"
if ! command -v "$cc" >/dev/null; then
    echo "fuzz: $cc not found (scripts/deps.sh installs clang and libclang-rt-14-dev)" >&2
    exit 2
fi
# shellcheck disable=SC2086
pkg_cflags=$(pkg-config --cflags $pkgs)
# shellcheck disable=SC2086
pkg_libs=$(pkg-config --libs $pkgs)
san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
cflags="-g -O1 -std=gnu11 $san -I$top/plugin -I$build $pkg_cflags"

# plugin/vh-pci-names.c includes config.h; it needs nothing from it, but the
# autoconf one only exists in a configured tree.
cat >"$build/config.h" <<'CONFIG'
/* config.h for the fuzz build (fuzz/run.sh); the real one comes from configure. */
#define PACKAGE "vgpu-hook"
#define PACKAGE_NAME "vgpu-hook"
#define VERSION "fuzz"
#define PACKAGE_VERSION "fuzz"
CONFIG

# The library with coverage instrumentation but without libFuzzer's main(),
# as an archive so that each harness links only the objects it needs.
mkdir -p "$build/obj"
rm -f "$build/obj/"*.o "$build/libvh-fuzz.a"
export cc cflags build
# shellcheck disable=SC2016
if ! printf '%s\n' "$top"/plugin/*.c | xargs -P "$jobs" -I{} sh -c \
    '$cc $cflags -fsanitize=fuzzer-no-link -c "$1" -o "$build/obj/$(basename "$1" .c).o"' _ {}; then
    echo "fuzz: building plugin/*.c failed" >&2
    exit 2
fi
ar rcs "$build/libvh-fuzz.a" "$build/obj/"*.o
for h in "${harnesses[@]}"; do
    if [ ! -f "$top/fuzz/$h.c" ]; then
        echo "fuzz: no harness fuzz/$h.c" >&2
        exit 2
    fi
    # shellcheck disable=SC2086
    if ! $cc $cflags -fsanitize=fuzzer "$top/fuzz/$h.c" "$build/libvh-fuzz.a" $pkg_libs \
        -o "$build/$h"; then
        echo "fuzz: building $h failed" >&2
        exit 2
    fi
done
echo "fuzz: built in $(( $(date +%s) - start ))s; running each harness for ${seconds}s"

# Run one harness: a private corpus copy, crash artifacts in $build/<h>.out/.
run_one() {
    local h=$1
    local out="$build/$h.out"
    rm -rf "$out"
    mkdir -p "$out/corpus" "$out/artifacts"
    if [ -d "$top/fuzz/corpus/$h" ]; then
        cp -R "$top/fuzz/corpus/$h/." "$out/corpus/"
    fi
    local dict=() rc
    [ -f "$top/fuzz/$h.dict" ] && dict=("-dict=$top/fuzz/$h.dict")
    # shellcheck disable=SC2086
    (cd "$out" && ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}" \
        UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}" \
        "$build/$h" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/" "${dict[@]}" ${VH_FUZZ_ARGS:-} \
        "$out/corpus" >"$out/log" 2>&1) && rc=0 || rc=$?
    echo "$rc" >"$out/rc"
}

pids=()
running=0
for h in "${harnesses[@]}"; do
    run_one "$h" &
    pids+=($!)
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait || true

passed=0
failed=0
for h in "${harnesses[@]}"; do
    out="$build/$h.out"
    rc=$(cat "$out/rc" 2>/dev/null || echo 99)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -n1)
    execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out/log" | tail -n1)
    cov=$(grep -o 'cov: [0-9]*' "$out/log" | tail -n1 | sed 's/cov: //')
    units=$(find "$out/corpus" -type f | wc -l)
    if [ "$rc" = 0 ]; then
        passed=$((passed + 1))
        printf 'PASS %-18s %8s runs  %6s exec/s  cov %5s  corpus %4s\n' \
            "$h" "${runs:-?}" "${execs:-?}" "${cov:-?}" "$units"
    else
        failed=$((failed + 1))
        printf 'FAIL %-18s exit %s after %s runs; log: %s\n' "$h" "$rc" "${runs:-?}" "$out/log"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz invariant failed|.*runtime error)' "$out/log" |
            head -n 5 | sed 's/^/     /'
        for crash in "$out/artifacts/"*; do
            [ -f "$crash" ] || continue
            echo "     input: $crash"
            echo "     base64: $(base64 -w0 "$crash")"
        done
    fi
done
echo "fuzz: total $(( $(date +%s) - start ))s (build and runs)"
echo "$passed passed, $failed failed"
if [ "$failed" -gt 0 ]; then
    [ "$keep_build" = yes ] || echo "fuzz: keeping $build for the crash inputs"
    exit 1
fi
[ "$keep_build" = yes ] || rm -rf "$build"
exit 0

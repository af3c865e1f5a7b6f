#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# concurrency.sh [BUILDDIR]: 64 concurrent prepares of different domains on
# one host, 100 rounds, each followed by 64 concurrent releases.
#
# Builds the benchmark host (bench/gen-host.sh: 8 SR-IOV L40S with 32 VFs,
# 580 PCI functions) on tmpfs and runs bench/vh-concurrency (bench/concurrency.c)
# on it with the simulated kernel; see that file for the plan and the checks.
# Prints the program's key=value results and, with VH_BENCH_CONC_OUT=FILE,
# also writes them there (bench/run.sh puts them into the report).
# Exits non-zero on any double allocation, lost lease, orphan or unexpected
# refusal. `make bench-concurrency` runs it alone, `make bench` as part of all.
#
# Environment: VH_BENCH_ROUNDS (default 100), VH_BENCH_PROCS (default 64).
set -euo pipefail

bench_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$bench_dir/fake-host.sh"
top=$(dirname "$bench_dir")
build=$(cd "${1:-$top/_build}" && pwd)
rounds=${VH_BENCH_ROUNDS:-100}
procs=${VH_BENCH_PROCS:-64}

make -C "$build" -j"$(nproc)" tests/vh-fakehost tests/libsimkernel.la bench/vh-concurrency >/dev/null
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
    W=$(mktemp -d /dev/shm/vh-conc.XXXXXX)
else
    W=$(mktemp -d "${TMPDIR:-/tmp}/vh-conc.XXXXXX")
fi
trap 'rm -rf "$W"' EXIT
bench_fake_host "$W" "$build/tests/vh-fakehost"
echo "== concurrency: $procs processes x $rounds rounds on $(find "$W/sys/bus/pci/devices" -mindepth 1 -maxdepth 1 | wc -l) PCI functions"
rc=0
"$build/bench/vh-concurrency" "$W/c.conf" "$rounds" "$procs" >"$W/out" || rc=$?
cat "$W/out"
[ -z "${VH_BENCH_CONC_OUT:-}" ] || cp "$W/out" "$VH_BENCH_CONC_OUT"
if [ "$rc" -ne 0 ]; then
    echo "concurrency.sh: FAILED (exit $rc): see the problems above" >&2
    exit 1
fi

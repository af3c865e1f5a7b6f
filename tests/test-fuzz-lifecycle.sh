#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-fuzz-lifecycle: the model-based lifecycle fuzzer (fuzz/lifecycle.py)
# for a bounded time, after replaying every kept case of fuzz/lifecycle-cases/.
#
#   top_builddir=_build tests/test-fuzz-lifecycle.sh    (make check sets it)
#
# Environment:
#   VH_FUZZ_LIFECYCLE_SECONDS     random run after the kept cases (default 60)
#   VH_FUZZ_LIFECYCLE_SEED        seed of the random run (default 1560295497, so that
#                                 make check is repeatable; empty: random; printed)
#   VH_FUZZ_LIFECYCLE_INVARIANTS  invariants checked by the random run
#                                 (default all seven, I1-I7)
#   VH_FUZZ_LIFECYCLE_SAVE        where a found case is written (default
#                                 $top_builddir/fuzz-lifecycle-found)
# A violation prints the seed, the shrunk steps and how to replay them, and
# fails the test. Needs a build configured with --enable-fault-injection
# (the fuzzer kills programs at fault points); others skip (77) saying so.
set -u

builddir=$(cd "${top_builddir:-.}" && pwd)
srcdir=$(cd "${top_srcdir:-$(dirname "$0")/..}" && pwd)
if ! grep -q '^#define VH_FAULT_INJECTION 1' "$builddir/config.h" 2>/dev/null; then
    echo "SKIP: test-fuzz-lifecycle: this build has no fault points; the fuzzer needs a test build:"
    echo "SKIP:   ./configure --enable-fault-injection && make check TESTS=tests/test-fuzz-lifecycle.sh"
    exit 77
fi
export VH_FUZZ_LIFECYCLE_SEED=${VH_FUZZ_LIFECYCLE_SEED-1560295497}
export VH_FUZZ_LIFECYCLE_INVARIANTS=${VH_FUZZ_LIFECYCLE_INVARIANTS:-I1,I2,I3,I4,I5,I6,I7}
exec /usr/bin/python3 "$srcdir/fuzz/lifecycle.py" --builddir "$builddir" \
    --regressions "$srcdir/fuzz/lifecycle-cases" \
    --seconds "${VH_FUZZ_LIFECYCLE_SECONDS:-60}" \
    --save-dir "${VH_FUZZ_LIFECYCLE_SAVE:-$builddir/fuzz-lifecycle-found}" \
    --shrink-seconds "${VH_FUZZ_LIFECYCLE_SHRINK_SECONDS:-60}"

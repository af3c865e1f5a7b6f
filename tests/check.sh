# SPDX-License-Identifier: GPL-2.0-or-later
# check.sh: the pass/fail bookkeeping of the shell tests, sourced.
#
#   check DESCRIPTION COMMAND...   pass when COMMAND succeeds, else fail
#   pass DESCRIPTION / fail DESCRIPTION
#   $passed $failed                the counts, for the test's summary line
#
# A failure prints what the last command wrote to $out and $err (when the
# test sets them), at most $check_show_lines lines of each (default 20).
# check_quiet=1 prints failures only (tests with hundreds of checks).
# shellcheck shell=bash
# shellcheck disable=SC2034 # the counts are for the test that sources this

passed=0
failed=0

pass() {
    passed=$((passed + 1))
    [ "${check_quiet:-0}" = 1 ] || echo "PASS: $1"
}

fail() {
    failed=$((failed + 1))
    echo "FAIL: $1"
    [ -n "${out:-}" ] && [ -s "$out" ] && sed 's/^/    stdout: /' "$out" | head -"${check_show_lines:-20}"
    [ -n "${err:-}" ] && [ -s "$err" ] && sed 's/^/    stderr: /' "$err" | head -20
    return 0
}

check() {
    local what=$1
    shift
    if "$@"; then pass "$what"; else fail "$what"; fi
}

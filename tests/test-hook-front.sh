#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-hook-front: the hook's front end (hooks/vgpu-hook.c) alone: what it
# decides without the worker, and what it hands over.
#
#   top_builddir=_build tests/test-hook-front.sh     (make check sets it)
#
# The built front end is copied into a private directory next to two
# stand-ins that record their arguments and the XML: a worker module
# (tests/hook-worker-standin.c, loaded for prepare, release and reconnect)
# and a rewriter script (exec'd for migrate, restore, options and usage), so
# each case shows whether anything ran, which, and with what. Checks:
# operations the hook ignores exit 0 without reading stdin; a domain that
# names neither the namespace nor (when the configuration may manage plain
# hostdevs) a <hostdev> exits 0 silently, for every operation; anything a
# parser could read differently (character references, a DTD, another
# encoding, the namespace in a comment, an empty document) is handed over,
# byte for byte, with the same argv; oversized, endless and trickling stdin
# is refused in one line (reconnect: exit 0); a missing or broken worker
# module or rewriter is one line. Prints "N passed, N failed".
set -u

builddir=$(cd "${top_builddir:-.}" && pwd)
FRONT=$builddir/vgpu-hook
STANDIN=$builddir/tests/.libs/hook-worker-standin.so
[ -x "$FRONT" ] || { echo "test-hook-front: $FRONT is missing: build first" >&2; exit 99; }
[ -f "$STANDIN" ] || { echo "test-hook-front: $STANDIN is missing: make check builds it" >&2; exit 99; }
if ! head -c 4 "$FRONT" | grep -q ELF; then
    echo "test-hook-front: $FRONT is not a program (a libtool wrapper?): the front end must link libc only" >&2
    exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/test-hook-front.XXXXXX") || exit 99
trap 'exec 3>&- 2>/dev/null; rm -rf "$tmp"' EXIT
out=$tmp/out
err=$tmp/err
# shellcheck source=tests/check.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/check.sh"

mkdir -p "$tmp/bin"
cp "$FRONT" "$tmp/bin/vgpu-hook"
H=$tmp/bin/vgpu-hook
cp "$STANDIN" "$tmp/bin/vgpu-hook-worker.so"
cat >"$tmp/bin/vgpu-hook-rewrite" <<EOF
#!/bin/sh
printf '%s\n' "\$@" >"$tmp/worker.args"
cat >"$tmp/worker.stdin"
echo rewriter >"$tmp/worker.kind"
EOF
chmod 755 "$tmp/bin/vgpu-hook-rewrite"
export VH_STANDIN_DIR=$tmp

# run ARGS... (stdin from the caller): the front end; $rc; did the worker run?
run() {
    rm -f "$tmp/worker.args" "$tmp/worker.stdin" "$tmp/worker.kind"
    timeout 20 "$H" "$@" >"$out" 2>"$err"
    rc=$?
}
# ran_as module|rewriter: which of the two got the call
ran_as() { [ "$(cat "$tmp/worker.kind" 2>/dev/null)" = "$1" ]; }
silent_exit0() { [ "$rc" -eq 0 ] && [ ! -s "$out" ] && [ ! -s "$err" ]; }
worker_ran() { [ -e "$tmp/worker.args" ]; }
not_handed() { silent_exit0 && ! worker_ran; }
# handed FILE ARGS...: the worker got these arguments and FILE's bytes
handed() {
    local file=$1
    shift
    worker_ran && [ "$(cat "$tmp/worker.args")" = "$(printf '%s\n' "$@")" ] &&
        cmp -s "$file" "$tmp/worker.stdin"
}
one_line() {
    [ "$rc" -eq 1 ] && [ "$(wc -l <"$err")" -eq 1 ] && [ "$(head -c 11 "$err")" = "vgpu-hook: " ] &&
        grep -q -- "$1" "$err" && ! worker_ran
}

printf '[host]\nmanage_plain_hostdevs=false\n' >"$tmp/off.conf"
printf '[host]\n  manage_plain_hostdevs = true\n' >"$tmp/on.conf"
printf '[host]\nmanage_plain_hostdevs=perhaps\n' >"$tmp/odd.conf"
printf '[host]\nstate_dir=/nowhere\n' >"$tmp/none.conf"
ns='<metadata><vgpu:devices xmlns:vgpu="urn:vgpu-hook:1"><vgpu:device alias="ua-gpu0" resource="r"/></vgpu:devices></metadata>'
printf '<domain type="kvm"><name>plain</name><devices><disk/></devices></domain>\n' >"$tmp/plain.xml"
printf '<domain type="kvm"><name>nic</name><devices><hostdev mode="subsystem" type="pci"/></devices></domain>\n' >"$tmp/nic.xml"
printf '<domain type="kvm"><name>gpu</name>%s<devices/></domain>\n' "$ns" >"$tmp/ns.xml"
printf '<domain type="kvm"><name>c</name><!-- urn:vgpu-hook:1 --></domain>\n' >"$tmp/comment.xml"
printf '<domain type="kvm" xmlns:v="urn&#58;vgpu-hook:1"><name>r</name></domain>\n' >"$tmp/charref.xml"
printf '<!DOCTYPE domain [<!ENTITY n "urn:vgpu-hook">]><domain><name>d</name></domain>\n' >"$tmp/dtd.xml"
printf '<?xml version="1.0" encoding="ISO-8859-1"?><domain><name>e</name></domain>\n' >"$tmp/enc.xml"
printf '\xff\xfe<\0d\0>\0' >"$tmp/utf16.xml"
: >"$tmp/empty.xml"
printf '<domain><name>cut</name><devices><disk type=' >"$tmp/garbage.xml"
printf 'not XML: may be another encoding' >"$tmp/text.xml"

# ---- operations the hook ignores: exit 0, stdin never read -------------------
mkfifo "$tmp/fifo"
exec 3<>"$tmp/fifo" # a pipe that never ends: reading it would hang
for args in "vm start begin -" "vm started begin -" "vm stopped end -" "vm prepare end -" \
    "vm release begin -" "vm migrate end -" "vm restore end -" "vm reconnect end -" \
    "vm attach begin -" "vm whatever op -"; do
    # shellcheck disable=SC2086
    run --config "$tmp/none.conf" $args <"$tmp/fifo"
    check "ignored '$args': exit 0 at once, nothing printed, no worker" not_handed
done

# ---- no namespace, no hostdev: nothing to do, for every operation ------------
for op in "prepare begin" "release end" "migrate begin" "restore begin" "reconnect begin"; do
    # shellcheck disable=SC2086
    run --config "$tmp/on.conf" plain $op - <"$tmp/plain.xml"
    check "no namespace, no hostdev, '$op': exit 0, stdout empty (unchanged), no worker" not_handed
    # shellcheck disable=SC2086
    run --config "$tmp/on.conf" bad $op - <"$tmp/garbage.xml"
    check "a cut-off document that names nothing, '$op': exit 0, no worker" not_handed
done

# ---- the namespace: handed over with the same argv and bytes -----------------
for op in "prepare begin" "release end" "migrate begin" "restore begin" "reconnect begin"; do
    # shellcheck disable=SC2086
    run --config "$tmp/off.conf" gpu $op - <"$tmp/ns.xml"
    # shellcheck disable=SC2086
    check "namespace, '$op': the worker gets the same argv and the XML as read" \
        handed "$tmp/ns.xml" --config "$tmp/off.conf" gpu $op -
    case $op in
    migrate* | restore*) kind=rewriter ;;
    *) kind=module ;;
    esac
    check "namespace, '$op': handled by the $kind" ran_as $kind
done
run --config="$tmp/off.conf" gpu prepare begin - <"$tmp/ns.xml"
check "--config=FILE is understood (and passed on as given)" \
    handed "$tmp/ns.xml" --config="$tmp/off.conf" gpu prepare begin -
for f in comment charref dtd enc utf16 empty text; do
    run --config "$tmp/off.conf" x prepare begin - <"$tmp/$f.xml"
    check "$f: handed to the parser (a byte scan cannot rule it out)" \
        handed "$tmp/$f.xml" --config "$tmp/off.conf" x prepare begin -
done
big=$tmp/big.xml
{ printf '<domain><name>big</name>%s<!-- ' "$ns"; head -c 3000000 /dev/zero | tr '\0' x; printf ' --></domain>'; } >"$big"
run --config "$tmp/off.conf" big prepare begin - <"$big"
check "a 3 MB document under the limit: handed over whole" \
    handed "$big" --config "$tmp/off.conf" big prepare begin -

# ---- plain PCI hostdevs: prepare hands over when the configuration may manage them
run --config "$tmp/off.conf" nic prepare begin - <"$tmp/nic.xml"
check "hostdev, manage_plain_hostdevs=false: prepare exits 0, no worker" not_handed
run --config "$tmp/none.conf" nic prepare begin - <"$tmp/nic.xml"
check "hostdev, key absent (default false): prepare exits 0, no worker" not_handed
run --config "$tmp/on.conf" nic prepare begin - <"$tmp/nic.xml"
check "hostdev, manage_plain_hostdevs = true: prepare handed over" \
    handed "$tmp/nic.xml" --config "$tmp/on.conf" nic prepare begin -
run --config "$tmp/odd.conf" nic prepare begin - <"$tmp/nic.xml"
check "hostdev, a value the scan does not know: handed over (the worker judges it)" worker_ran
run --config "$tmp/missing.conf" nic prepare begin - <"$tmp/nic.xml"
check "hostdev, --config names a missing file: handed over (the worker says so)" worker_ran
run --config "$tmp" nic prepare begin - <"$tmp/nic.xml"
check "hostdev, --config names a directory: handed over" worker_ran
run --config "$tmp/off.conf" nic release end - <"$tmp/nic.xml"
check "hostdev: release always handed over (leases follow the UUID)" \
    handed "$tmp/nic.xml" --config "$tmp/off.conf" nic release end -
for op in "migrate begin" "reconnect begin"; do
    # shellcheck disable=SC2086
    run --config "$tmp/on.conf" nic $op - <"$tmp/nic.xml"
    check "hostdev without namespace, '$op': nothing to remap or rebuild, no worker" not_handed
done

# ---- stdin bounded in size and time ------------------------------------------
head -c $((4 * 1024 * 1024 + 1)) /dev/zero | tr '\0' x >"$tmp/huge"
run --config "$tmp/off.conf" huge prepare begin - <"$tmp/huge"
check "4 MiB + 1 byte: exit 1, one line, no worker" one_line "larger than 4194304 bytes"
check "... naming the domain" grep -q "domain 'huge'" "$err"
run --config "$tmp/off.conf" pipe prepare begin - < <(head -c $((64 * 1024 * 1024)) /dev/zero)
check "64 MiB through a pipe: refused in one line, not read to the end" one_line "larger than"
start=$(date +%s%N)
VGPU_HOOK_STDIN_TIMEOUT_MS=300 run --config "$tmp/off.conf" slow prepare begin - <"$tmp/fifo"
ms=$((($(date +%s%N) - start) / 1000000))
check "stdin that never ends: exit 1, one line" one_line "within 300 ms"
check "... after about the limit (${ms} ms)" test "$ms" -lt 5000
start=$(date +%s%N)
VGPU_HOOK_STDIN_TIMEOUT_MS=400 run --config "$tmp/off.conf" drip prepare begin - \
    < <(for _ in $(seq 100); do printf x; sleep 0.05; done)
ms=$((($(date +%s%N) - start) / 1000000))
check "stdin trickling a byte every 50 ms: refused at the deadline, not reset by each byte" \
    one_line "within 400 ms"
check "... in under 3 s (${ms} ms; the writer alone takes 5)" test "$ms" -lt 3000
VGPU_HOOK_STDIN_TIMEOUT_MS=300 run --config "$tmp/off.conf" slow reconnect begin - <"$tmp/fifo"
check "reconnect with stdin that never ends: exit 0 (a running domain is never failed)" \
    test "$rc" -eq 0 -a ! -s "$err"
run --config "$tmp/off.conf" huge reconnect begin - <"$tmp/huge"
check "reconnect with oversized stdin: exit 0" test "$rc" -eq 0 -a ! -s "$err"
VGPU_HOOK_STDIN_TIMEOUT_MS=200 run --config "$tmp/off.conf" "$(printf 'a\nb\033')" prepare begin - <"$tmp/fifo"
check "a domain name with control characters stays one line" one_line "domain 'a?b?'"

# ---- options and usage: the full program's to answer -------------------------
run --help </dev/null
check "--help: handed to the rewriter program" handed /dev/null --help
check "... (not the module)" ran_as rewriter
run vm prepare </dev/null
check "too few arguments: handed to the rewriter (its usage line)" handed /dev/null vm prepare
run --verbose vm prepare begin - <"$tmp/plain.xml"
check "an unknown option: handed to the rewriter (stdin unread)" worker_ran

# ---- no worker, a broken worker ------------------------------------------------
printf 'not an ELF file\n' >"$tmp/bin/vgpu-hook-worker.so"
run --config "$tmp/off.conf" gpu prepare begin - <"$tmp/ns.xml"
check "a worker module that is not one: exit 1, one line saying what to do" \
    one_line "cannot load .*vgpu-hook-worker.so.*reinstall"
printf 'int unrelated(void);\nint unrelated(void) { return 0; }\n' >"$tmp/other.c"
if cc -shared -fPIC -o "$tmp/bin/vgpu-hook-worker.so" "$tmp/other.c" 2>/dev/null; then
    run --config "$tmp/off.conf" gpu release end - <"$tmp/ns.xml"
    check "a module without the entry point: exit 1, one line" \
        one_line "cannot load .*vh_hook_worker_run.*reinstall"
else
    fail "cc cannot build a test module"
fi
rm "$tmp/bin/vgpu-hook-worker.so" "$tmp/bin/vgpu-hook-rewrite"
if [ ! -e /usr/libexec/vgpu-hook/vgpu-hook-worker.so ] && [ ! -e /usr/local/libexec/vgpu-hook/vgpu-hook-worker.so ] &&
    [ ! -e /usr/libexec/vgpu-hook/vgpu-hook-rewrite ] && [ ! -e /usr/local/libexec/vgpu-hook/vgpu-hook-rewrite ]; then
    run --config "$tmp/off.conf" gpu prepare begin - <"$tmp/ns.xml"
    check "no worker module: exit 1, one line saying what to do" \
        one_line "cannot load .*vgpu-hook-worker.so.*reinstall"
    run --config "$tmp/off.conf" gpu reconnect begin - <"$tmp/ns.xml"
    check "no worker module at reconnect: exit 0" test "$rc" -eq 0 -a ! -s "$err"
    run --config "$tmp/off.conf" gpu migrate begin - <"$tmp/ns.xml"
    check "no rewriter at migrate: exit 1, one line" one_line "cannot run .*vgpu-hook-rewrite.*reinstall"
else
    fail "an installed vgpu-hook shadows the missing-worker cases: remove it to run this test"
fi
run --config "$tmp/off.conf" plain prepare begin - <"$tmp/plain.xml"
check "no worker, domain without GPUs: still exit 0" not_handed

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

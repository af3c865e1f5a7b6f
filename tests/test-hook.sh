#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-hook: the built vgpu-hook executable, driven as libvirtd drives it
# (argv NAME OPERATION SUBOP EXTRA, domain XML on stdin), on a fake host with
# the simulated kernel preloaded (tests/sim-kernel.c).
#
#   top_builddir=_build tests/test-hook.sh     (make check sets top_builddir)
#
# VH_TEST_HOOK_RUNNER, when set, is put in front of the hook, e.g. to run it
# under valgrind (libtool runs the real binary, not its wrapper script):
#   VH_TEST_HOOK_RUNNER="_build/libtool --mode=execute valgrind -q --error-exitcode=9
#       --leak-check=full --errors-for-leak-kinds=definite" top_builddir=_build tests/test-hook.sh
#
# Checks what libvirt relies on: operations the hook does not handle exit 0
# without reading stdin; a refused prepare prints one line on stderr starting
# with "vgpu-hook: " and exits 1; a malformed document is refused with a clear
# message; reconnect never fails a running domain; migrate/restore print XML
# only when they changed it. Prints "N passed, N failed"; exit 1 on failures.
set -u

TEST_NAME=test-hook
# shellcheck source=tests/sim-host.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/sim-host.sh"
test_cleanup() {
    exec 3>&- 2>/dev/null
}

current() {
    tr -d '\n' <"$sys/bus/pci/devices/$1/nvidia/current_vgpu_type"
}

driver() {
    basename "$(readlink "$sys/bus/pci/devices/$1/driver")"
}

lease_state() {
    sed -n 's/^state=//p' "$state/leases/$1" 2>/dev/null
}

# The failure contract: exit 1, one line on stderr, "vgpu-hook: " first.
refused_with() {
    [ "$rc" -eq 1 ] && [ "$(wc -l <"$err")" -eq 1 ] &&
        [ "$(head -c 11 "$err")" = "vgpu-hook: " ] && grep -q -- "$1" "$err" && [ ! -s "$out" ]
}

succeeded() {
    [ "$rc" -eq 0 ] && [ ! -s "$out" ] && [ ! -s "$err" ]
}

# ---- operations the hook does not handle ----------------------------------
# stdin is a pipe that never ends (we hold its write side): a hook that
# read it would hang until timeout (status 124). The configuration does not
# exist either: nothing is read at all.
mkfifo "$tmp/fifo"
exec 3<>"$tmp/fifo"
for args in "vm1 start begin -" "vm1 started begin -" "vm1 stopped end -" \
    "vm1 prepare end -" "vm1 release begin -" "vm1 migrate end -" "vm1 attach begin -" \
    "vm1 restore end -" "vm1 reconnect end -" "vm1 whatever op -"; do
    # shellcheck disable=SC2086
    LD_PRELOAD=$SHIM VH_SIM_SYSFS_ROOT=$sys VH_SIM_DEV_DIR=$dev \
        timeout 10 "$HOOK" --config "$tmp/missing.conf" $args <&3 >"$out" 2>"$err"
    rc=$?
    check "'$args' exits 0 without reading stdin" succeeded
done
exec 3>&-

hook vm1 prepare </dev/null
check "too few arguments: usage on stderr, exit 2" test "$rc" -eq 2 -a -s "$err"

# ---- prepare and its refusals ----------------------------------------------
domain vm1 1 0000:41:00.4 >"$tmp/vm1.xml"
domain vm2 2 0000:41:00.5 >"$tmp/vm2.xml"
domain vm3 3 0000:41:00.6 >"$tmp/vm3.xml"

hook vm1 prepare begin - <"$tmp/vm1.xml"
check "prepare vm1 (L40S-24Q) exits 0 silently" succeeded
check "vm1's VF holds L40S-24Q (1161)" test "$(current 0000:41:00.4)" = 1161
check "vm1 has an active lease" test "$(lease_state 0000:41:00.4)" = active

hook vm2 prepare begin - <"$tmp/vm2.xml"
check "prepare vm2 (second 24Q on the GPU) exits 0" succeeded

hook vm3 prepare begin - <"$tmp/vm3.xml"
check "third 24Q refused: one 'vgpu-hook: ' line naming the holders" \
    refused_with "VF 0000:41:00.4 holds L40S-24Q"
check "the refusal names the domain and says why" \
    grep -q "domain 'vm3'.*framebuffer" "$err"
check "the refused VF was not touched" test "$(current 0000:41:00.6)" = 0
check "the refused domain holds no lease" test ! -e "$state/leases/0000:41:00.6"

printf '<domain><name>broken</name><devices><hostdev>' >"$tmp/bad.xml"
hook broken prepare begin - <"$tmp/bad.xml"
check "malformed XML: exit 1, one clear line" refused_with "not well formed"

printf '' >"$tmp/empty.xml"
hook empty prepare begin - <"$tmp/empty.xml"
check "empty stdin on prepare: exit 1, one line" refused_with "vgpu-hook: "

# stdin that never ends (we hold the write side of a FIFO) and /dev/zero:
# one line within the time bound (stdin is read before the state lock is taken)
mkfifo "$tmp/stdin-fifo"
exec 3<>"$tmp/stdin-fifo"
start=$(date +%s)
hook vm1 prepare begin - <&3
check "stdin that never ends: one line, refused" refused_with "did not end within 5000 ms"
check "... within the bound, not at the test's timeout" test $(($(date +%s) - start)) -le 8
exec 3>&-
hook vm1 prepare begin - </dev/zero
check "/dev/zero on stdin: refused, read bounded" refused_with "larger than"

printf '<?xml version="1.0"?>\n<!DOCTYPE domain [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<domain><name>&x;</name></domain>\n' >"$tmp/doctype.xml"
hook evil prepare begin - <"$tmp/doctype.xml"
check "a DOCTYPE is refused" refused_with "DOCTYPE"

hook vm1 prepare begin - <"$tmp/vm1.xml"
check "prepare again is idempotent" succeeded

hook vm1 prepare begin - --config "$tmp/missing.conf" <"$tmp/vm1.xml"
check "missing --config file: prepare refused with one line" refused_with "missing.conf"

# ---- passthrough ------------------------------------------------------------
domain pt 5 0000:3b:00.0 nvidia.com/GA102GL_A10 >"$tmp/pt.xml"
hook pt prepare begin - <"$tmp/pt.xml"
check "prepare of a whole A10 exits 0" succeeded
check "the A10 and its audio function are on vfio-pci" \
    test "$(driver 0000:3b:00.0) $(driver 0000:3b:00.1)" = "vfio-pci vfio-pci"
check "/dev/vfio/20 exists" test -e "$dev/vfio/20"
hook pt release end - <"$tmp/pt.xml"
check "release of the A10 exits 0" succeeded
check "the A10 and its audio are back on nvidia and snd_hda_intel" \
    test "$(driver 0000:3b:00.0) $(driver 0000:3b:00.1)" = "nvidia snd_hda_intel"

# ---- reconnect never fails ---------------------------------------------------
hook vm1 reconnect begin - <"$tmp/bad.xml"
check "reconnect with garbage exits 0" test "$rc" -eq 0
hook vm1 reconnect begin - </dev/null
check "reconnect with empty stdin exits 0" test "$rc" -eq 0
LD_PRELOAD=$SHIM timeout 30 "$HOOK" --config "$tmp/missing.conf" vm1 reconnect begin - \
    <"$tmp/vm1.xml" >"$out" 2>"$err"
rc=$?
check "reconnect with a missing config exits 0" test "$rc" -eq 0
hook vm1 reconnect begin - <"$tmp/vm1.xml"
check "reconnect of a prepared domain exits 0 silently" succeeded
check "... and keeps its lease" test "$(lease_state 0000:41:00.4)" = active

# ---- migrate / restore: a filter ---------------------------------------------
touch "$run/vm1.pid" "$run/vm2.pid"
domain vm6 6 0000:42:00.4 >"$tmp/vm6.xml"
hook vm6 migrate begin - <"$tmp/vm6.xml"
check "migrate begin of a domain whose VF is free prints nothing" succeeded
hook vm6 restore begin - <"$tmp/vm6.xml"
check "restore begin of a domain whose VF is free prints nothing" succeeded

domain vm4 4 0000:41:00.5 >"$tmp/vm4.xml" # vm2 runs there
hook vm4 migrate begin - <"$tmp/vm4.xml"
check "migrate begin onto a busy VF exits 0" test "$rc" -eq 0
check "... and prints the rewritten domain" grep -q "<name>vm4</name>" "$out"
check "... pointing at another VF" grep -q "<address domain=\"0x0000\" bus=\"0x42\"" "$out"
check "... keeping the rest of the document" grep -q 'resource="nvidia.com/L40S-24Q"' "$out"
hook vm4 restore begin - <"$tmp/vm4.xml"
check "restore begin onto a busy VF prints the rewritten domain" grep -q "bus=\"0x42\"" "$out"
hook vm4 migrate begin - <"$tmp/bad.xml"
check "migrate begin with garbage: exit 1, one line" refused_with "not well formed"

# ---- release -----------------------------------------------------------------
rm -f "$run/vm1.pid"
hook vm1 release end destroyed <"$tmp/vm1.xml"
check "release end exits 0 silently" succeeded
check "release reset vm1's VF to 0" test "$(current 0000:41:00.4)" = 0
check "vm1's lease is a reservation now" test "$(lease_state 0000:41:00.4)" = reserved
hook vm1 release end destroyed <"$tmp/vm1.xml"
check "release twice is fine" succeeded
hook vm3 release end failed <"$tmp/vm3.xml"
check "release after a refused prepare (reason failed) is fine" succeeded
check "... and leaves no lease" test ! -e "$state/leases/0000:41:00.6"

# a VM still holds the VF: reset fails after retries, reported, re-runnable
rm -f "$run/vm2.pid"
mkdir -p "$sys/.fake-host/held"
touch "$sys/.fake-host/held/0000:41:00.5"
hook vm2 release end destroyed <"$tmp/vm2.xml"
check "release while the driver refuses: exit 1, one line" \
    refused_with "could not reset the vGPU profile of VF 0000:41:00.5"
rm -f "$sys/.fake-host/held/0000:41:00.5"
hook vm2 release end destroyed <"$tmp/vm2.xml"
check "release again once the VM let go" succeeded
check "... reset the VF" test "$(current 0000:41:00.5)" = 0

# ---- reconnect after the state directory was lost -------------------------------
domain vm7 7 0000:42:00.6 >"$tmp/vm7.xml"
hook vm7 prepare begin - <"$tmp/vm7.xml"
check "prepare vm7" succeeded
rm -rf "$state/leases"
hook vm7 reconnect begin - <"$tmp/vm7.xml"
check "reconnect rebuilds the lease from the XML" \
    test "$rc" -eq 0 -a "$(lease_state 0000:42:00.6)" = active
check "... for vm7" grep -q "^domain=vm7$" "$state/leases/0000:42:00.6"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

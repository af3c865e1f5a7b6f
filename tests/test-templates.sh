#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-templates: every domain template in xml-templates/ goes through the
# built `vgpuctl rewrite` on the demo host (demo/demo-host.ini built by
# tests/vh-fakehost), and the result must be a domain libvirt's schema
# accepts (virt-xml-validate), keep the template's vgpu metadata and alias,
# and give each named <hostdev> a <source>. Run by `make check`; by hand:
#   top_srcdir=. top_builddir=_build tests/test-templates.sh
# Exit 77 (automake's SKIP) when virt-xml-validate (libvirt-clients) is missing.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=$(cd "${top_srcdir:-$here/..}" && pwd)
top_builddir=$(cd "${top_builddir:-$top_srcdir}" && pwd)

vgpuctl=$top_builddir/vgpuctl
fakehost=$top_builddir/tests/vh-fakehost
templates=$top_srcdir/xml-templates

if ! command -v virt-xml-validate >/dev/null 2>&1; then
    echo "SKIP: virt-xml-validate not found; install libvirt-clients to validate the templates" >&2
    echo "SKIP: virt-xml-validate not found; install libvirt-clients to validate the templates"
    exit 77
fi
for f in "$vgpuctl" "$fakehost"; do
    if [ ! -x "$f" ]; then
        echo "FAIL: $f is not built (run make first)"
        exit 1
    fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-hook-templates.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT

if ! "$fakehost" "$top_srcdir/demo/demo-host.ini" "$tmp/sys" >"$tmp/fakehost.log" 2>&1; then
    echo "FAIL: cannot build the demo host:"
    cat "$tmp/fakehost.log"
    exit 1
fi

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "PASS: $1"; }
fail() { failed=$((failed + 1)); echo "FAIL: $1"; }

ctl() {
    "$vgpuctl" --config "$top_srcdir/demo/demo.conf" --sysfs-root "$tmp/sys" \
        --state-dir "$tmp/state" --cache-dir "$tmp/cache" "$@"
}

# The rewritten document as one line per element, for grep.
flatten() {
    tr '\n' ' ' <"$1" | sed 's/>[[:space:]]*</>\n</g'
}

# Does the <hostdev> with <alias name=$2/> have a <source><address/>?
has_source() {
    if command -v xmllint >/dev/null 2>&1; then
        xmllint --xpath "//devices/hostdev[alias/@name='$2']/source/address" "$1" \
            >/dev/null 2>&1
    else
        tr '\n' ' ' <"$1" | grep -o '<hostdev [^>]*>.*</hostdev>' |
            sed 's|</hostdev>|&\n|g' | grep -F "<alias name=\"$2\"/>" |
            grep -q '<source><address \(domain\|uuid\)='
    fi
}

check_template() {
    local template=$1 name out err
    name=$(basename "$template" .xml)
    out=$tmp/$name.out.xml
    err=$tmp/$name.err

    if ! ctl rewrite "$template" >"$out" 2>"$err"; then
        fail "$name: vgpuctl rewrite failed: $(cat "$err")"
        return
    fi
    pass "$name: vgpuctl rewrite"

    if virt-xml-validate "$out" domain >"$tmp/$name.validate" 2>&1; then
        pass "$name: virt-xml-validate"
    else
        fail "$name: virt-xml-validate: $(cat "$tmp/$name.validate")"
    fi

    # Every <vgpu:device .../> of the template, attribute for attribute
    # (quotes normalised: the serializer writes double quotes).
    local devices=0 line alias
    while IFS= read -r line; do
        devices=$((devices + 1))
        line=$(printf '%s' "$line" | tr "'" '"')
        if flatten "$out" | grep -qF -- "$line"; then
            pass "$name: metadata kept: $line"
        else
            fail "$name: metadata lost: $line"
        fi
        alias=$(printf '%s' "$line" | sed -n 's/.*alias="\([^"]*\)".*/\1/p')
        # the linked <hostdev>: its <alias> and a filled-in <source>
        if flatten "$out" | grep -qF "<alias name=\"$alias\"/>"; then
            pass "$name: alias $alias kept"
        else
            fail "$name: alias $alias lost"
        fi
        if has_source "$out" "$alias"; then
            pass "$name: hostdev $alias has a <source>"
        else
            fail "$name: hostdev $alias has no <source><address/>"
        fi
    done < <(tr '\n' ' ' <"$template" | grep -o '<vgpu:device [^>]*/>')
    if [ "$devices" -eq 0 ]; then
        fail "$name: the template names no <vgpu:device>"
    fi
    if grep -q '<uuid>' "$out"; then
        pass "$name: has a <uuid>"
    else
        fail "$name: no <uuid> added"
    fi
}

shopt -s nullglob
set -- "$templates"/*.xml
if [ $# -eq 0 ]; then
    fail "no templates in $templates"
fi
for template in "$@"; do
    check_template "$template"
done

# With --reserve, two rewrites of one template get two different devices;
# without it, nothing is reserved.
a10=$templates/passthrough-a10.xml
if [ -f "$a10" ]; then
    if ctl rewrite --reserve "$a10" >"$tmp/r1.xml" 2>"$tmp/r1.err" &&
       ctl rewrite --reserve "$a10" >"$tmp/r2.xml" 2>"$tmp/r2.err"; then
        s1=$(grep -o '<source><address [^>]*>' "$tmp/r1.xml")
        s2=$(grep -o '<source><address [^>]*>' "$tmp/r2.xml")
        if [ -n "$s1" ] && [ "$s1" != "$s2" ]; then
            pass "passthrough-a10: two reserved rewrites get two GPUs"
        else
            fail "passthrough-a10: two reserved rewrites got '$s1' and '$s2'"
        fi
        if ctl rewrite --reserve "$a10" >"$tmp/r3.xml" 2>"$tmp/r3.err"; then
            fail "passthrough-a10: a third GPU was handed out (the demo host has two)"
        elif grep -q "no free device for nvidia.com/GA102GL_A10" "$tmp/r3.err"; then
            pass "passthrough-a10: the third reserved rewrite finds no free GPU"
        else
            fail "passthrough-a10: third rewrite: $(cat "$tmp/r3.err")"
        fi
    else
        fail "passthrough-a10: rewrite --reserve: $(cat "$tmp/r1.err" "$tmp/r2.err" 2>/dev/null)"
    fi
fi

# cloud-init user-data examples: cloud-init's own schema check (offline),
# and the licensing pieces vgpuctl license writes in the same shape.
if ! command -v cloud-init >/dev/null 2>&1; then
    fail "cloud-init not found: install it (scripts/deps.sh) to check the user-data templates"
fi
set -- "$templates"/*.yaml
[ $# -gt 0 ] || fail "no cloud-init templates in $templates"
for yaml in "$@"; do
    name=$(basename "$yaml")
    if out=$(cloud-init schema --config-file "$yaml" 2>&1); then
        pass "$name: cloud-init schema: $out"
    else
        fail "$name: cloud-init schema: $out"
    fi
    head -n 1 "$yaml" | grep -qx '#cloud-config' && pass "$name: starts with #cloud-config" ||
        fail "$name: first line is not #cloud-config"
    for want in 'path: /etc/nvidia/ClientConfigToken/client_configuration_token.tok' \
                'path: /etc/nvidia/gridd.conf' 'FeatureType=' '[systemctl, restart, nvidia-gridd]'; do
        grep -qF -- "$want" "$yaml" && pass "$name: has $want" || fail "$name: lacks $want"
    done
done
# the check fails on a broken document (so a pass above means something)
printf '#cloud-config\nwrite_files: 7\n' > "$tmp/bad.yaml"
if cloud-init schema --config-file "$tmp/bad.yaml" >/dev/null 2>&1; then
    fail "cloud-init schema accepts write_files: 7"
else
    pass "cloud-init schema refuses write_files: 7"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

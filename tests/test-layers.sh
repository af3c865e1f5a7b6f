#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The library's layering, enforced: plugin/vgpuhook.h lists the modules
# lowest first, and a module of plugin/ may include only its own header and
# the headers of modules listed before it. An include that goes up a layer,
# or a module missing from the list, fails. tools/ and hooks/ are front ends
# and may include anything from plugin/; plugin/ never includes them.
set -uo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_srcdir=$(cd "$top_srcdir" && pwd)
# shellcheck source=tests/check.sh
. "$top_srcdir/tests/check.sh"
umbrella=$top_srcdir/plugin/vgpuhook.h

# The layer list: the "vh-NAME  what" lines of the comment that opens vgpuhook.h.
layers() { # HEADER
    awk '/Layers, lowest first/ { on = 1 } on && /\*\// { exit }
         on && /^ \*   vh-[a-z0-9-]+ / { print $2 }' "$1"
}

# One line per violation ("FILE: includes X.h (layer N) above its own (layer M)").
violations() { # HEADER PLUGIN-DIR
    local -A rank
    local i=0 name f mod inc
    while read -r name; do rank[$name]=$((i += 1)); done < <(layers "$1")
    for f in "$2"/vh-*.[ch]; do
        mod=$(basename "${f%.[ch]}")
        if [ -z "${rank[$mod]:-}" ]; then
            echo "$f: module $mod is not in the layer list of $(basename "$1")"
            continue
        fi
        while read -r inc; do
            inc=${inc%.h}
            if [ -z "${rank[$inc]:-}" ]; then
                echo "$f: includes $inc.h, which is not in the layer list of $(basename "$1")"
            elif [ "${rank[$inc]}" -gt "${rank[$mod]}" ]; then
                echo "$f: includes $inc.h (layer ${rank[$inc]}) above its own module $mod (layer ${rank[$mod]})"
            fi
        done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\(vh-[a-z0-9-]*\.h\)".*/\1/p' "$f")
        grep -Hn '^[[:space:]]*#[[:space:]]*include[[:space:]]*"\(vgpuhook\.h\|vgpuctl[a-z-]*\.h\|\.\./\)' "$f" |
            sed 's/$/  <- plugin\/ includes a front end or the umbrella header/'
    done
}

mapfile -t order < <(layers "$umbrella")
check "vgpuhook.h lists the layers (${#order[@]}: ${order[*]})" test "${#order[@]}" -ge 10
check "every layer is listed once" test "$(printf '%s\n' "${order[@]}" | sort | uniq -d | wc -l)" -eq 0
out=$(violations "$umbrella" "$top_srcdir/plugin")
check "no include in plugin/ goes up a layer" test -z "$out"
[ -z "$out" ] || sed 's/^/    /' <<<"$out"

# The hook's worker module links the core (plugin/libvhcore.la) without libxml2:
# no core module may include it (Makefile.am lists the core's sources).
core=$(sed -n '/^plugin_libvhcore_la_SOURCES = /,/^[^[:space:]]/p' "$top_srcdir/Makefile.am" |
    grep -o 'plugin/vh-[a-z0-9-]*\.c')
check "Makefile.am lists the core library's modules" test "$(wc -w <<<"$core")" -ge 20
xmlcore=$(cd "$top_srcdir" && grep -l '^[[:space:]]*#[[:space:]]*include[[:space:]]*<libxml/' $core)
check "no module of the core includes libxml2${xmlcore:+ (}${xmlcore//$'\n'/ }${xmlcore:+)}" test -z "$xmlcore"
check "the libxml2 reader is not in the core" test -z "$(grep -x 'plugin/vh-domain-xml.c' <<<"$core")"

# The check catches what it is meant to, on a copy of plugin/ with faults.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$top_srcdir"/plugin/vh-*.[ch] "$umbrella" "$tmp/"
echo '#include "vh-lifecycle.h"' >> "$tmp/vh-sysfs.c"
echo '/* vh-nobody: a module nobody listed */' > "$tmp/vh-nobody.c"
echo '#include "vgpuctl.h"' >> "$tmp/vh-lease.c"
out=$(violations "$tmp/vgpuhook.h" "$tmp")
check "it catches vh-sysfs.c including vh-lifecycle.h" grep -q 'vh-sysfs.c: includes vh-lifecycle.h (layer' <<<"$out"
check "it catches a module missing from the list" grep -q 'module vh-nobody is not in the layer list' <<<"$out"
check "it catches plugin/ including a front end" grep -q 'vh-lease.c:.*vgpuctl.h.*front end' <<<"$out"
check "it reports nothing else" test "$(wc -l <<<"$out")" -eq 3

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# systemd-analyze verify on every unit in data/ (*.service.in, *.service,
# *.timer, ...), with the paths filled in as `make install` does, except that
# @sbindir@ points at the freshly built tools (verify checks that ExecStart
# binaries exist) and the man pages of Documentation= are looked up in man/.
# Works without systemd as PID 1: verify loads the units offline.
# Skips (77) without systemd-analyze (apt-get install systemd).
set -uo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir/_build}
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)

command -v systemd-analyze >/dev/null ||
    { echo "SKIP: systemd-analyze not installed (apt-get install systemd)"; exit 77; }
[ -x "$top_builddir/vgpuctl" ] || { echo "FAIL: $top_builddir/vgpuctl not built"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-units.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/units" "$work/man/man5" "$work/man/man8"
cp "$top_srcdir"/man/*.5 "$work/man/man5/"
cp "$top_srcdir"/man/*.8 "$work/man/man8/"

shopt -s nullglob
units=()
for src in "$top_srcdir"/data/*.service.in "$top_srcdir"/data/*.timer.in \
           "$top_srcdir"/data/*.service "$top_srcdir"/data/*.timer \
           "$top_srcdir"/data/*.path "$top_srcdir"/data/*.socket; do
    name=$(basename "${src%.in}")
    sed -e "s|@sbindir@|$top_builddir|g" -e "s|@sysconfdir@|/etc|g" \
        -e "s|@localstatedir@|/var|g" -e "s|@bindir@|$top_builddir|g" "$src" > "$work/units/$name"
    units+=("$work/units/$name")
done
[ "${#units[@]}" -gt 0 ] || { echo "FAIL: no units in $top_srcdir/data"; exit 1; }

# Documentation=man:... pages are looked up with man(1), in man/ only.
man_check=yes
if ! command -v man >/dev/null; then
    man_check=no
    echo "NOTE: man not installed (apt-get install man-db): Documentation= pages not checked"
fi

failed=0
for unit in "${units[@]}"; do
    if out=$(cd "$work/units" && MANPATH="$work/man" SYSTEMD_LOG_LEVEL=notice \
             systemd-analyze verify --man=$man_check "$unit" 2>&1) && [ -z "$out" ]; then
        echo "PASS: systemd-analyze verify $(basename "$unit")"
    else
        echo "FAIL: systemd-analyze verify $(basename "$unit"):"
        printf '%s\n' "$out" | sed 's/^/    /'
        failed=$((failed + 1))
    fi
done
[ "$failed" -eq 0 ] && echo "${#units[@]} units verified"
[ "$failed" -eq 0 ]

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# The source tree stands on its own:
#  - every source file carries "SPDX-License-Identifier: GPL-2.0-or-later"
#    in its first five lines; the exceptions are data read or compared byte
#    for byte (below, each with its reason);
#  - no file cites a document outside the repository (the design notes the
#    project started from, a ../shared directory): what a reader needs is in
#    README.md, HACKING.md and docs/;
#  - no file cites an issue-tracker number ("issue 6", "#4"): the tracker is
#    not part of the sources; a comment says what the thing is instead.
# The files are git's tracked and untracked, not ignored ones in a checkout,
# every file of the tree in a tarball (make distcheck).
set -uo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_srcdir=$(cd "$top_srcdir" && pwd)
cd "$top_srcdir" || exit 1
# shellcheck source=tests/check.sh
. "$top_srcdir/tests/check.sh"

if [ "$(git rev-parse --show-toplevel 2>/dev/null)" = "$top_srcdir" ]; then
    mapfile -t files < <(git ls-files -co --exclude-standard | while read -r f; do
        [ -f "$f" ] && [ ! -L "$f" ] && printf '%s\n' "$f"; done)
else
    mapfile -t files < <(find . -type f ! -path './_*' ! -path './autom4te.cache/*' \
        ! -path './build-aux/*' ! -path './m4/*' ! -name Makefile.in ! -name configure \
        ! -name aclocal.m4 ! -name config.h.in ! -name '*~' | sed 's|^\./||' | sort)
fi
check "found the source files (${#files[@]})" test "${#files[@]}" -gt 100

# Data without a comment syntax, or compared byte for byte, and files whose
# format dpkg defines: no SPDX line (debian/copyright states the licence).
exempt() {
    case $1 in
    COPYING) ;;                                  # the licence text itself
    debian/changelog | debian/copyright | debian/source/format) ;;
    tests/golden/*) ;;                           # expected outputs, compared as they are
    fuzz/corpus/*) ;;                            # fuzzer seed inputs
    tests/bad-inputs/pci.ids) ;;                 # a PCI IDs database, parsed by libpci
    tests/bad-inputs/cases/*/*.sh) return 1 ;;   # a case's scripts are code
    tests/bad-inputs/cases/*) ;;                 # a case's inputs and expected output
    bench/REPORT.md) ;;                          # written by bench/run.sh
    tests/fixtures/*.json | tests/fixtures/*/*.txt | tests/fixtures/*/*.json) ;; # recorded on hardware
    fuzz/lifecycle-cases/*.json) ;;              # cases the lifecycle fuzzer found, replayed as written
    # What configure, autoreconf and the build write in a tarball's tree.
    config.* | libtool | stamp-h1 | Makefile | INSTALL | compile | depcomp | install-sh | \
        ltmain.sh | missing | test-driver | config.guess | config.sub | ar-lib) ;;
    *) return 1 ;;
    esac
}

missing=()
for f in "${files[@]}"; do
    exempt "$f" && continue
    head -n 5 "$f" | grep -q 'SPDX-License-Identifier: GPL-2.0-or-later' || missing+=("$f")
done
check "every source file has an SPDX line in its first 5 lines (missing: ${missing[*]:-none})" \
    test "${#missing[@]}" -eq 0

# This file names the patterns, so it is left out of the search.
outside='DESIGN\.md|\.\./shared'
issue='\<[Ii]ssues? #?[0-9]+|(^|[[:space:](])#[0-9]+\>'
others() { printf '%s\0' "${files[@]}" | grep -zvx 'tests/test-sources\.sh'; }
cites=$(others | xargs -0 grep -nE "$outside" -- 2>/dev/null)
check "no file cites a document outside the repository" test -z "$cites"
[ -z "$cites" ] || sed 's/^/    /' <<<"$cites"
cites=$(others | grep -zv '^fuzz/corpus/\|^tests/bad-inputs/cases/\|^tests/fixtures/h200-run/' |
    xargs -0 grep -nE "$issue" -- 2>/dev/null)
check "no file cites an issue-tracker number" test -z "$cites"
[ -z "$cites" ] || sed 's/^/    /' <<<"$cites"

# The checks themselves: each pattern catches what it is meant to.
check "the outside-reference pattern matches 'see DESIGN.md'" grep -qE "$outside" <<<"see DESIGN.md"
check "the issue pattern matches 'issue 6', '(issue #4)' and ' #12'" \
    bash -c 'for s in "issue 6" "(issue #4)" "sections #12"; do grep -qE "$1" <<<"$s" || exit 1; done' _ "$issue"
check "the issue pattern leaves '&#10;' and '0x#1' alone" \
    bash -c '! grep -qE "$1" <<<"a &#10; b 0x#1"' _ "$issue"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

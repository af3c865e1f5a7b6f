#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# demo.sh: build vgpu-hook and run it on the demo host (demo/run-demo.sh).
#
# Usage (from anywhere, on Debian 12; as root it installs what is missing):
#   scripts/demo.sh [BUILDDIR]
# BUILDDIR defaults to _build in the source tree; it is configured when it
# has no Makefile yet and reused (rebuilt incrementally) otherwise.
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$top/_build}
jobs=$(nproc 2>/dev/null || echo 2)

# shellcheck source=scripts/deps.sh
. "$top/scripts/deps.sh"

echo "===== packages ====="
vh_deps_install
if [ ! -f "$build/Makefile" ]; then
    echo "===== configure ($build) ====="
    [ -x "$top/configure" ] || (cd "$top" && ./autogen.sh)
    mkdir -p "$build"
    (cd "$build" && "$top/configure")
fi
echo "===== build ====="
make -C "$build" -j"$jobs"
make -C "$build" --no-print-directory demo

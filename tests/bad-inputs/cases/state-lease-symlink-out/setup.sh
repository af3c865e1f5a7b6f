# SPDX-License-Identifier: GPL-2.0-or-later
mkdir -p "$state/leases"; echo "secret=1" >"$work/secret"; ln -s "$work/secret" "$state/leases/0000:41:00.4"

# SPDX-License-Identifier: GPL-2.0-or-later
echo keep >"$work/victim"; ln -s "$work/victim" "$state/lock"

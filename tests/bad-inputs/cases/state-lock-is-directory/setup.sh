# SPDX-License-Identifier: GPL-2.0-or-later
mkdir -p "$state/lock"

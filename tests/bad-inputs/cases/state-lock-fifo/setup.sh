# SPDX-License-Identifier: GPL-2.0-or-later
mkfifo "$state/lock"

# SPDX-License-Identifier: GPL-2.0-or-later
rm -f "$work/vgpu-hook.conf"; mkfifo "$work/vgpu-hook.conf"

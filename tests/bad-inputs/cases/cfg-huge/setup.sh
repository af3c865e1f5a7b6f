# SPDX-License-Identifier: GPL-2.0-or-later
head -c 2097152 /dev/zero | tr "\0" "#" >>"$work/vgpu-hook.conf"

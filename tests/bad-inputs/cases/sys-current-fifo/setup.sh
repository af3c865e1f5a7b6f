# SPDX-License-Identifier: GPL-2.0-or-later
f="$sys/devices/pci0000:00/0000:41:00.4/nvidia/current_vgpu_type"; rm -f "$f"; mkfifo "$f"

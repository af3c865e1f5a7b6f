# SPDX-License-Identifier: GPL-2.0-or-later
printf 'ID : vGPU Name\nxyzzy\n: : :\n99999999999999999999 : NVIDIA L40S-24Q\n' >"$sys/devices/pci0000:00/0000:41:00.4/nvidia/creatable_vgpu_types"

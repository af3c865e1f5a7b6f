# SPDX-License-Identifier: GPL-2.0-or-later
printf 'ID    : vGPU Name\n1161  : NVIDIA L40S-24Q\n1161  : NVIDIA L40S-12Q\n' \
    >"$sys/devices/pci0000:00/0000:41:00.4/nvidia/creatable_vgpu_types"

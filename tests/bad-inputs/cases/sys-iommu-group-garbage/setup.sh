# SPDX-License-Identifier: GPL-2.0-or-later
ln -s ../../../../devices/pci0000:00/0000:3b:00.7 "$sys/kernel/iommu_groups/20/devices/0000:3b:00.7"

# SPDX-License-Identifier: GPL-2.0-or-later
rm "$sys/devices/pci0000:00/0000:3b:00.0/iommu_group"; ln -s iommu_group "$sys/devices/pci0000:00/0000:3b:00.0/iommu_group"

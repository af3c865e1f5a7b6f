# SPDX-License-Identifier: GPL-2.0-or-later
rm -rf "$sys/bus/pci/drivers/vfio-pci"

# SPDX-License-Identifier: GPL-2.0-or-later
rm -rf "$sys/bus/pci/devices"; ln -s devices "$sys/bus/pci/devices"

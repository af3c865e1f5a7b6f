# SPDX-License-Identifier: GPL-2.0-or-later
rm -rf "$sys/devices/pci0000:00/0000:41:00.4"

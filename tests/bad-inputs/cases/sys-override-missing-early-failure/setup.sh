# SPDX-License-Identifier: GPL-2.0-or-later
rm -f "$sys/devices/pci0000:00/0000:3b:00.0/driver_override"

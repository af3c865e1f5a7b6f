# SPDX-License-Identifier: GPL-2.0-or-later
echo 0 >"$sys/devices/pci0000:00/0000:41:00.0/sriov_numvfs"

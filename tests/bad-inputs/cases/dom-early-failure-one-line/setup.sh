# SPDX-License-Identifier: GPL-2.0-or-later
# the VF refuses every write of current_vgpu_type (the simulator's "held"):
# the profile is never written, so there is nothing to undo
mkdir -p "$sys/.fake-host/held"
touch "$sys/.fake-host/held/0000:41:00.4"

# SPDX-License-Identifier: GPL-2.0-or-later
# the VF refuses every write of current_vgpu_type (the simulator's marker of
# a vGPU plugin task that has not exited: EBUSY): the profile is never
# written, so there is nothing to undo
mkdir -p "$sys/.fake-host/plugin"
touch "$sys/.fake-host/plugin/0000:41:00.4"

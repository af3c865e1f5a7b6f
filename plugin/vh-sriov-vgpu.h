/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-sriov-vgpu: assigning NVIDIA vGPU profiles to SR-IOV VFs.
 *
 * The profile is written as a numeric id resolved by name through the VF's
 * own creatable_vgpu_types (ids change between driver versions), read first
 * and written only when it differs (the driver rejects writes while a VM
 * holds the VF), without a trailing newline (some drivers reject one).
 * Reset writes 0; right after QEMU exits the driver may refuse for a moment,
 * so reset retries a bounded number of times, as Proxmox VE does. */
#pragma once

#include <glib.h>
#include "vh-host.h"

G_BEGIN_DECLS

/* Make @vf hold @profile ("L40S-24Q" or "NVIDIA L40S-24Q"). *@written tells
 * whether this call changed anything (for undo). */
gboolean vh_sriov_vgpu_set_profile(VhHost *host, const char *vf, const char *profile,
                                   gboolean *written, GError **error);

/* Would @vf take @profile once it holds nothing, given what the other VFs
 * of its GPU hold now (equal-size rule, framebuffer, slots, MIG instances)?
 * Writes nothing: asked before a stale lease on @vf is undone, so that a
 * prepare refused for this reason refuses before it changes anything. TRUE
 * when @vf is not a vGPU VF of a GPU the model knows (the driver decides). */
gboolean vh_sriov_vgpu_check_fits(VhHost *host, const char *vf, const char *profile,
                                  GError **error);

/* Write 0, retrying @retries times @delay_ms apart while the driver is busy. */
gboolean vh_sriov_vgpu_reset(VhHost *host, const char *vf, guint retries, guint delay_ms,
                             GError **error);

/* "VF 0000:41:00.4 holds L40S-24Q, VF ... holds ..." for every VF of @vf's
 * GPU that holds a type, resolved by name where the GPU lists it. */
char *vh_sriov_vgpu_describe_gpu(VhHost *host, const char *vf);

G_END_DECLS

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-vgpu-cache: the full vGPU type table of an SR-IOV GPU, remembered.
 *
 * A VF's creatable_vgpu_types shows the whole table only while no VF of the
 * GPU holds a type; once VMs run, the held types vanish from every list (a
 * full GPU lists nothing). Whoever sees the GPU idle writes the table to
 * STATE/gpus/<pf>.types (creatable_vgpu_types format) so that held ids keep
 * their names and the GPU its framebuffer size. The state directory lives in
 * /run, so a reboot (and with it a driver update) starts afresh. Best
 * effort: a state directory we cannot write only loses this knowledge. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The remembered table of GPU @pf, or NULL. */
GPtrArray *vh_vgpu_cache_load(const char *state_dir, const char *pf);
gboolean vh_vgpu_cache_exists(const char *state_dir, const char *pf);
/* Remember @types (VhVgpuType) for @pf; nothing is written when unchanged. */
void vh_vgpu_cache_save(const char *state_dir, const char *pf, GPtrArray *types);

G_END_DECLS

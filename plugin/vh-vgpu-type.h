/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-vgpu-type: NVIDIA vGPU types as the SR-IOV driver lists them.
 *
 * On Ada/Hopper/Blackwell with vGPU 17+, every VF has
 * nvidia/creatable_vgpu_types: an optional header line ("ID : vGPU Name") and
 * one "ID : NVIDIA NAME" line per type the VF can take *now* (the list shrinks
 * as other VFs of the same GPU take profiles and framebuffer runs out).
 * Numeric ids change between driver versions, so the library always keeps the
 * name and resolves ids on the host. The framebuffer of a type is encoded in
 * its name: L40S-24Q has 24 GB, H200X-1-18C (MIG-backed) 18 GB. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    guint id;       /* driver-specific numeric id, never 0 */
    char *name;     /* as the driver spells it: "NVIDIA L40S-24Q" */
} VhVgpuType;

void vh_vgpu_type_free(VhVgpuType *type);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhVgpuType, vh_vgpu_type_free)

/* Parse the contents of creatable_vgpu_types into VhVgpuType elements.
 * Garbage is an error naming the line, not something to guess around. */
GPtrArray *vh_vgpu_types_parse(const char *text, GError **error);

/* The profile part of a type name: "NVIDIA L40S-24Q" -> "L40S-24Q". */
const char *vh_vgpu_type_profile(const char *type_name);

/* Framebuffer of a profile in GB from its name, 0 if the name has none. */
guint vh_vgpu_profile_framebuffer_gb(const char *profile);

/* Find a type by id or by profile/type name ("L40S-24Q" or "NVIDIA L40S-24Q"). */
const VhVgpuType *vh_vgpu_types_find_id(GPtrArray *types, guint id);
const VhVgpuType *vh_vgpu_types_find_name(GPtrArray *types, const char *name);

G_END_DECLS

G_BEGIN_DECLS
/* Add a copy of (@id, @name) unless @types has that id or name already. */
void vh_vgpu_types_add_unique(GPtrArray *types, guint id, const char *name);
G_END_DECLS

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-vgpu-cache: the full vGPU type table of an SR-IOV GPU model, remembered.
 *
 * A VF's creatable_vgpu_types shows the whole table only while no VF of the
 * GPU holds a type; once VMs run, the held types vanish from every list (a
 * full GPU lists nothing). Whoever sees the GPU idle before writing a type
 * keeps the table in CACHE/types/<driver version>/<vendor>-<device>.types
 * (creatable_vgpu_types format). The cache directory (/var/cache/vgpu-hook,
 * [host] cache_dir) survives reboots and a lost /run; type ids change only
 * with the driver, hence the key. Best effort: a cache we cannot write only
 * loses this knowledge. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The remembered table for (@driver_version, @vendor:@device), or NULL.
 * @driver_version NULL: the driver did not say (module/nvidia/version). */
GPtrArray *vh_vgpu_cache_load(const char *cache_dir, const char *driver_version, guint vendor,
                              guint device);
/* Remember @types (VhVgpuType); nothing is written when unchanged. */
void vh_vgpu_cache_save(const char *cache_dir, const char *driver_version, guint vendor,
                        guint device, GPtrArray *types);
/* Driver versions that have a table for @vendor:@device, sorted by name;
 * NULL when none. */
GStrv vh_vgpu_cache_versions(const char *cache_dir, guint vendor, guint device);

G_END_DECLS

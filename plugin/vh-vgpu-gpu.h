/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-vgpu-gpu: one NVIDIA SR-IOV vGPU GPU (a PF whose VFs carry nvidia/
 * vGPU files), the only place that works out what such a GPU is and holds.
 *
 * It owns:
 *  - the type table: every (id, "NVIDIA NAME") the GPU offers, merged from
 *    its VFs' creatable_vgpu_types (header line and "NVIDIA " prefix handled
 *    by vh-vgpu-type) and from the persistent cache (vh-vgpu-cache), keyed
 *    by driver version and device id, so held ids keep their names after a
 *    reboot or a lost /run. An id that neither names is "unknown type N";
 *  - the type each VF holds (vh_vgpu_gpu_held_profile/_text);
 *  - framebuffer accounting (the largest type is the GPU's size) and the
 *    capacity of a profile;
 *  - the mode (equal-size by default; mixed-size per [gpu "ADDR"]
 *    vgpu_mode). In mixed mode no one-size rule applies and a type takes
 *    placement slots; without NVML (nvmlDeviceGetVgpuTypeCreatablePlacements,
 *    to be plugged in by the NVML binding) a slot is 1 GB of framebuffer and
 *    the driver's creatable list has the last word;
 *  - the words of every refusal (vh_vgpu_gpu_admits, _not_creatable_error,
 *    _write_error for each errno of both driver dialects).
 *
 * Building reads sysfs and the cache and writes nothing: list, resources,
 * export, metrics and validate stay read-only. Whoever is about to write a
 * type (prepare, apply-profiles, setup) calls vh_vgpu_gpu_remember() first.
 *
 * Hook for NVML (libnvidia-ml): vh_vgpu_gpu_set_namer() installs a function
 * that names an id the table lacks (nvmlVgpuTypeGetName); names it returns
 * are added to the table as if a VF had listed them. Without one, only sysfs
 * and the cache name types. The MIG model is meant to build on this struct
 * (one VhVgpuGpu per PF; add per-GPU-instance data beside `mode`). */
#pragma once

#include <glib.h>
#include "vh-host.h"
#include "vh-vgpu-type.h"

G_BEGIN_DECLS

typedef struct {
    VhPciDevice *pf;
    GPtrArray *vfs;            /* VhPciDevice (borrowed), not denied, with vGPU files */
    GPtrArray *types;          /* VhVgpuType: every type the GPU is known to offer */
    guint framebuffer_gb;      /* 0 when unknown */
    gboolean complete;         /* types is the whole table (seen idle, or cached) */
    gboolean idle;             /* no VF holds a type */
    VhVgpuMode mode;
    char *driver_version;      /* module/nvidia/version, NULL when absent */
    char *cache_dir;           /* where the table is remembered */
} VhVgpuGpu;

/* Names an id the table lacks; returns a newly allocated "NVIDIA NAME" or
 * NULL. The NVML binding installs one. */
typedef char *(*VhVgpuTypeNamer)(const VhVgpuGpu *gpu, guint type_id, gpointer data);
void vh_vgpu_gpu_set_namer(VhVgpuTypeNamer namer, gpointer data);

/* The GPU @pf as its VFs (loaded through @host) and the cache show it. */
VhVgpuGpu *vh_vgpu_gpu_new(VhHost *host, VhPciDevice *pf);
/* The GPU of VF @vf_address, or NULL when it is not an SR-IOV vGPU VF. */
VhVgpuGpu *vh_vgpu_gpu_of_vf(VhHost *host, const char *vf_address);
void vh_vgpu_gpu_free(VhVgpuGpu *gpu);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhVgpuGpu, vh_vgpu_gpu_free)

/* Write the table to the cache when the GPU is idle (the lists then show
 * it whole). Best effort: the cache only saves knowledge. */
void vh_vgpu_gpu_remember(const VhVgpuGpu *gpu);

/* "NVIDIA L40S-24Q" for @id, or NULL. */
const char *vh_vgpu_gpu_type_name(const VhVgpuGpu *gpu, guint id);
/* The profile @vf holds ("L40S-24Q"), NULL when none or unknown. */
const char *vh_vgpu_gpu_held_profile(const VhVgpuGpu *gpu, const VhPciDevice *vf);
/* "L40S-24Q", "unknown type 1161" or NULL when it holds none. */
char *vh_vgpu_gpu_held_text(const VhVgpuGpu *gpu, const VhPciDevice *vf);
/* How to get a name for a held id nobody can name (one sentence). */
char *vh_vgpu_gpu_unknown_fix(const VhVgpuGpu *gpu, const VhPciDevice *vf);
/* "VF A holds L40S-24Q, VF B holds unknown type 1161", "" when none. */
char *vh_vgpu_gpu_describe_holders(const VhVgpuGpu *gpu);

/* Size in GB of @profile ("L40S-24Q"), 0 unknown. */
guint vh_vgpu_gpu_profile_size(const char *profile);
/* How many of @profile the GPU could run alone: VFs capped by framebuffer. */
guint vh_vgpu_gpu_capacity(const VhVgpuGpu *gpu, const char *profile);

/* Can VF @vf (a member of gpu->vfs) take @profile, given @claims: for each
 * VF in gpu->vfs order, the profile it holds or is promised ("L40S-24Q"),
 * "" for a held id nobody names, NULL when free. */
gboolean vh_vgpu_gpu_admits(const VhVgpuGpu *gpu, const char *const *claims,
                            const VhPciDevice *vf, const char *profile, GError **error);

/* The driver's mode, read and set through NVML
 * (nvmlDeviceGetVgpuHeterogeneousMode / ...Set...): the NVML binding
 * installs these; without them the mode cannot be read or changed here. */
typedef struct {
    gboolean (*get_mode)(const VhVgpuGpu *gpu, VhVgpuMode *mode, gpointer data);
    gboolean (*set_mode)(const VhVgpuGpu *gpu, VhVgpuMode mode, gpointer data, GError **error);
    gpointer data;
} VhVgpuModeOps;
void vh_vgpu_gpu_set_mode_ops(const VhVgpuModeOps *ops);
/* The mode the driver runs now; FALSE when nobody can tell. */
gboolean vh_vgpu_gpu_driver_mode(const VhVgpuGpu *gpu, VhVgpuMode *mode);
/* Set the driver's mode: refused (BUSY, naming the VFs) while a VF holds a
 * type, UNSUPPORTED (saying what to run) without mode ops. */
gboolean vh_vgpu_gpu_set_driver_mode(const VhVgpuGpu *gpu, VhVgpuMode mode, GError **error);

/* May the GPU change to @mode now? Refused, naming the VFs and what they
 * hold, while any VF holds a type (NVIDIA's driver answers "in use"). */
gboolean vh_vgpu_gpu_check_mode_change(const VhVgpuGpu *gpu, VhVgpuMode mode, GError **error);

/* Why the driver does not list @profile on @vf now, in the operator's
 * words (what the GPU holds, what to do). */
void vh_vgpu_gpu_not_creatable_error(const VhVgpuGpu *gpu, const VhPciDevice *vf,
                                     const char *profile, GError **error);

/* The sentence for a failed write of @profile (id @id) to @vf's
 * current_vgpu_type that failed with @err (an errno), in either driver
 * dialect. */
void vh_vgpu_gpu_write_error(const VhVgpuGpu *gpu, const VhPciDevice *vf, const char *profile,
                             guint id, int err, GError **error);

G_END_DECLS

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
 *  - the mode: for a GPU with [gpu "ADDR"] vgpu_mode, the driver's, read
 *    through NVML on first use (nvmlDeviceGetVgpuHeterogeneousMode), else
 *    the configuration's (equal-size by default); a GPU the configuration
 *    does not name never loads NVML for this. In mixed mode no
 *    one-size rule applies and a type takes placement slots: with NVML,
 *    its mixed-size placements (nvmlDeviceGetVgpuTypeSupportedPlacements:
 *    slots per placement and where they start; each VF's type sits in the
 *    first free placement of its type, in VF order, as the driver places
 *    them), so capacity is the number of its placements; without NVML a
 *    slot is 1 GB of framebuffer. Either way the driver's creatable list
 *    has the last word;
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
 * and the cache name types.
 *
 * MIG-backed types ("H200X-2-35C": the middle field is the GPU-instance
 * slice count, vh_mig maps the name to its instance profile) need a GPU
 * instance of their profile each, not framebuffer: capacity and what still
 * fits come from instances, and no one-size rule applies between different
 * instance profiles. The first question about such a type (never before:
 * other domains never load NVML) asks NVML for the GPU's MIG mode, profile
 * table and instances: MIG on, a type gets only existing free instances of
 * its profile (none exist: nothing is creatable); MIG off: none. Without
 * NVML (or a GPU NVML does not know) the built-in table of vh_mig says what
 * an empty GPU holds and where the VFs' claims leave room, and the driver's
 * creatable lists have the last word.
 *
 * A MIG-backed type smaller than its instance time-slices inside it
 * (vh_mig_profile_in_table: "-1-9C" in a 1g.18gb, 2 per instance); an
 * instance runs one type, so capacity is instances x slots and a claim
 * fills an instance that runs its type before it takes a free one. Which
 * instance a VF's vGPU sits in comes from its nvidia/gpu_instance_id
 * (newer drivers) and is otherwise assumed as the driver picks
 * (vh_vgpu_gpu_mig_layout). */
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
    VhVgpuMode mode;           /* the configuration's */
    gboolean mode_configured;  /* [gpu "ADDR"] vgpu_mode is set: NVML is asked */
    char *driver_version;      /* module/nvidia/version, NULL when absent */
    char *cache_dir;           /* where the table is remembered */
    struct _VhVgpuMig *mig;    /* MIG view, filled on the first MIG-backed question */
    struct _VhVgpuSlots *slots; /* NVML's mode and placements, asked on first use */
    gboolean mig_on_demand;    /* [gpu] mig = on-demand: prepare creates instances */
} VhVgpuGpu;

/* Names an id the table lacks; returns a newly allocated "NVIDIA NAME" or
 * NULL. The NVML binding installs one. */
typedef char *(*VhVgpuTypeNamer)(const VhVgpuGpu *gpu, guint type_id, gpointer data);
void vh_vgpu_gpu_set_namer(VhVgpuTypeNamer namer, gpointer data);

/* Names the domain that holds VF @vf_address (newly allocated), or NULL;
 * refusals add it beside the VF. The hook installs one over its leases. */
typedef char *(*VhVgpuOwnerLookup)(const char *vf_address, gpointer data);
void vh_vgpu_gpu_set_owner_lookup(VhVgpuOwnerLookup lookup, gpointer data);

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

/* FALSE: MIG questions never load NVML and use the built-in tables (the
 * hook, for a domain that names no MIG-backed type). Default TRUE. */
void vh_vgpu_gpu_set_nvml_allowed(gboolean allowed);
/* Is @profile ("H200X-2-35C") MIG-backed? */
gboolean vh_vgpu_gpu_is_mig_backed(const char *profile);
/* Do GPU instances decide where @profile fits on @gpu (MIG-backed, and
 * NVML or a built-in table knows the GPU)? Asks NVML on first use. */
gboolean vh_vgpu_gpu_uses_mig(const VhVgpuGpu *gpu, const char *profile);
/* How many more of MIG-backed @profile GPU instances allow next to
 * @claims (as for vh_vgpu_gpu_admits, @vf's own claim left out; @vf may be
 * NULL). */
guint vh_vgpu_gpu_mig_room(const VhVgpuGpu *gpu, const char *const *claims,
                           const VhPciDevice *vf, const char *profile);
/* "instance 1 (2g.35gb at 0:2), instance 2 (1g.18gb at 4:1)" as NVML
 * reports them, "" when unknown or none. */
char *vh_vgpu_gpu_describe_instances(const VhVgpuGpu *gpu);

/* How many more of @profile fit next to @claims (as for
 * vh_vgpu_gpu_admits) on NVML's mixed-size placements; -1 when the GPU
 * does not run mixed-size mode or NVML cannot place them (the caller then
 * counts framebuffer). */
gint vh_vgpu_gpu_placement_room(const VhVgpuGpu *gpu, const char *const *claims,
                                const char *profile);

/* The GPU's MIG state in one line ("MIG on, GPU instances: instance 1
 * (2g.35gb at 0:2)", "MIG off", "MIG on, no GPU instance", "built-in H200
 * MIG table (NVML not available: ...)"), or NULL when no MIG-backed type
 * was asked about (NVML is not loaded for this). */
char *vh_vgpu_gpu_mig_summary(const VhVgpuGpu *gpu);

/* One GPU instance as the model sees it: NVML's (or, without NVML, where
 * vh_mig would have placed an instance for what the VFs hold). */
typedef struct {
    guint id;             /* GPU instance id, when id_known */
    gboolean id_known;    /* from NVML or a VF's nvidia/gpu_instance_id */
    const char *profile;  /* "2g.35gb" (borrowed from the GPU's MIG table) */
    guint start;          /* placement, memory slices */
    guint size;
    const char *type;     /* the vGPU type its vGPUs have ("H200X-2-35C"), NULL when free */
    guint slots;          /* how many vGPUs of @type it holds (time-sliced when > 1) */
    GPtrArray *vfs;       /* VhPciDevice (borrowed) whose vGPU sits in it */
} VhVgpuMigInstance;

typedef struct {
    gboolean nvml;        /* instances and mig_on are the driver's */
    gboolean mig_on;      /* meaningful with nvml */
    const char *model;    /* the MIG table's model ("H200") */
    const char *why;      /* why NVML was not used, NULL when it was */
    GPtrArray *instances; /* VhVgpuMigInstance, NVML's order, then planned ones */
    guint unplaced;       /* held MIG-backed vGPUs no instance could take */
} VhVgpuMigLayout;

void vh_vgpu_mig_layout_free(VhVgpuMigLayout *layout);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhVgpuMigLayout, vh_vgpu_mig_layout_free)

/* Which instance holds each VF's MIG-backed vGPU: the VF's
 * nvidia/gpu_instance_id where the driver has it, else a guess (the first
 * instance of the type's profile with a free slot, as the driver picks).
 * NULL when the GPU offers no MIG-backed type (NVML is then not loaded) or
 * vgpu-hook knows no MIG table for it. */
VhVgpuMigLayout *vh_vgpu_gpu_mig_layout(const VhVgpuGpu *gpu);
/* The instance @vf's vGPU sits in, or NULL. */
const VhVgpuMigInstance *vh_vgpu_mig_layout_instance_of(const VhVgpuMigLayout *layout,
                                                        const VhPciDevice *vf);
/* "1g.18gb", "2g.35gb" ...: how many vGPUs of MIG-backed @profile one of
 * its GPU instances holds on @gpu (1: a whole instance; more: time-sliced
 * inside it), 0 when not MIG-backed or unknown there. */
guint vh_vgpu_gpu_mig_slots(const VhVgpuGpu *gpu, const char *profile);

/* Can VF @vf (a member of gpu->vfs) take @profile, given @claims: for each
 * VF in gpu->vfs order, the profile it holds or is promised ("L40S-24Q"),
 * "" for a held id nobody names, NULL when free. */
gboolean vh_vgpu_gpu_admits(const VhVgpuGpu *gpu, const char *const *claims,
                            const VhPciDevice *vf, const char *profile, GError **error);

/* The mode the driver runs now, read through NVML
 * (nvmlDeviceGetVgpuHeterogeneousMode) on first use; FALSE when nobody can
 * tell (no NVML, NVML not consulted, a driver without the query). */
gboolean vh_vgpu_gpu_driver_mode(const VhVgpuGpu *gpu, VhVgpuMode *mode);
/* Set the driver's mode through NVML (nvmlDeviceSetVgpuHeterogeneousMode):
 * refused (BUSY, naming the VFs) while a VF holds a type; UNSUPPORTED,
 * saying what to run instead, without NVML. */
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

/* Whether VFs of @gpu hold types of two sizes (it then runs mixed-size). */
gboolean vh_vgpu_gpu_holds_mixed_sizes(const VhVgpuGpu *gpu);

G_END_DECLS

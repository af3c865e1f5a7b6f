/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-mig-instance: GPU instances made and unmade for MIG-backed vGPUs, for
 * a GPU with `mig = on-demand` ([gpu "ADDR"]) and for `vgpuctl setup`'s
 * layouts, through NVML.
 *
 * NVIDIA's driver picks the GPU instance a VF's MIG-backed type runs on
 * (any free instance of the type's profile; none: the write fails with
 * EIO). So a prepare creates an instance only when no free one of the
 * profile exists, at the best-fit placement (vh_mig_best_placement), so
 * that larger profiles stay possible. Which instance a VF holds is read
 * back from its nvidia/gpu_instance_id (newer drivers), else taken from
 * its lease. An instance is free when no VF holds it and no live lease of
 * another VF records it; a VF that holds a type of the profile with no
 * known instance counts as holding one of that profile.
 *
 * Placements recorded by other live leases before their create (a prepare
 * killed between record and create, or still running) count as taken, so
 * that two records never name one placement. Destroying looks for the
 * instance by id (checking that profile and placement still match), else
 * by profile and placement; an instance already gone is success; NVML
 * refuses one that a vGPU holds (NVML_ERROR_IN_USE).
 *
 * NVML is loaded by these calls only: the hook reaches them for a domain
 * that names a MIG-backed type on a GPU with MIG settings. */
#pragma once

#include <glib.h>
#include "vh-host.h"
#include "vh-lease.h"
#include "vh-mig.h"

G_BEGIN_DECLS

typedef struct {
    char *gpu;                 /* PF address */
    char *profile;             /* "2g.35gb" */
    guint profile_id;
    gboolean create;           /* FALSE: a free instance exists, the driver takes it */
    VhMigPlacement placement;  /* where to create, when @create */
} VhMigDemand;

void vh_mig_demand_clear(VhMigDemand *demand);

/* The PF of VF @vf_address ("0000:41:00.0"), or NULL. */
char *vh_mig_instance_gpu_of_vf(VhHost *host, const char *vf_address);

/* What VF @vf_address needs for MIG-backed @vgpu_profile ("H200X-2-35C"),
 * next to the other VFs of its GPU and their leases in @store (held by
 * domain @uuid's own leases: not counted as another's). VH_ERROR_BUSY in one
 * line naming the GPU's instances and their holders when no instance is
 * free and none fits; VH_ERROR_BUSY too with MIG off (what to run). */
gboolean vh_mig_instance_plan(VhHost *host, VhLeaseStore *store, const char *vf_address,
                              const char *vgpu_profile, VhMigDemand *out, GError **error);

/* Create the instance @demand names; its id in @id. */
gboolean vh_mig_instance_create(const VhMigDemand *demand, guint *id, GError **error);

/* Destroy the instance of @profile ("2g.35gb") on GPU @gpu: @id when
 * @has_id, else the one at @placement ("START:SIZE"). Gone already: TRUE,
 * *@destroyed FALSE. */
gboolean vh_mig_instance_destroy(const char *gpu, const char *profile, gboolean has_id, guint id,
                                 const char *placement, gboolean *destroyed, GError **error);

/* Is the instance a lease recorded (as for destroy) there? FALSE on an
 * NVML error; MIG off: none is. */
gboolean vh_mig_instance_exists(const char *gpu, const char *profile, gboolean has_id, guint id,
                                const char *placement, gboolean *exists, GError **error);

/* The GPU instance VF @vf_address runs on, from nvidia/gpu_instance_id;
 * FALSE when the driver has no such file or it reads no number. */
gboolean vh_mig_instance_of_vf(VhHost *host, const char *vf_address, guint *id);

/* "instance 1 (2g.35gb at 0:2) held by VF A (domain 'x'), instance 2
 * (1g.18gb at 4:1) free" for GPU @gpu, as a one-line refusal uses it. */
char *vh_mig_instance_describe(VhHost *host, VhLeaseStore *store, const char *gpu);

/* ---- layouts (vgpuctl setup) ------------------------------------------------- */

typedef struct {
    guint n_created;
    guint n_destroyed;
    gboolean already;          /* the layout was there: nothing changed */
    char *detail;              /* what was (or would be) done, one line */
} VhMigLayoutResult;

void vh_mig_layout_result_clear(VhMigLayoutResult *result);

/* Make GPU @gpu's instances @layout ("1g.18gb*4,3g.71gb"): MIG mode must
 * be on (else VH_ERROR_BUSY saying what to run); the layout is checked
 * against the GPU's profile table (VH_ERROR_CONFIG); instances not in the
 * layout are destroyed when free, and an instance a VF or lease holds
 * that would have to go refuses the whole change (VH_ERROR_BUSY naming the
 * holders: nothing is changed); missing instances are created at their
 * best-fit placements. @dry_run: only say what would be done. */
gboolean vh_mig_instance_apply_layout(VhHost *host, VhLeaseStore *store, const char *gpu,
                                      const char *layout, gboolean dry_run,
                                      VhMigLayoutResult *result, GError **error);

/* MIG mode of @gpu is on (VH_ERROR_BUSY with the command to run when off,
 * VH_ERROR_UNSUPPORTED without NVML). */
gboolean vh_mig_instance_check_mode(const char *gpu, GError **error);

G_END_DECLS

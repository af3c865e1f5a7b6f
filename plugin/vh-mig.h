/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-mig: MIG arithmetic (no I/O): GPU-instance profiles, placements,
 * best-fit placement, what still fits, layouts such as "1g.18gb*4,3g.71gb".
 *
 * A MIG GPU (A100, H100, H200) has 7 compute slices and 8 memory slices. A
 * GPU instance of a profile takes the profile's compute slices and a
 * placement: a run of memory slices "start:size" out of the profile's
 * placement list (H200 2g.35gb: 0:2, 2:2, 4:2). Instances may not share a
 * memory slice, their compute slices add up to at most 7, and a profile
 * has at most instance_count instances (1g.18gb+me: 1). That is what
 * NVIDIA's driver enforces (NVML_ERROR_INSUFFICIENT_RESOURCES otherwise).
 *
 * A MIG-backed vGPU type needs a GPU instance of its profile: H200X-2-35C
 * needs a 2g.35gb, so an empty H200 holds 3 of them, not the 4 that 141 GB
 * divided by 35 GB would suggest, and a 2-35C and a 1-18C can run side by
 * side on different instances.
 *
 * Tables: built in for A100 40GB, H100 80GB and H200 (NVIDIA's MIG user
 * guide; the H200's checked against a real one), or built from what NVML
 * reports (vh_mig_table_new() + vh_mig_table_add_profile()). Memory sizes
 * of the built-in tables are nominal (the GB of the name). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    guint start; /* first memory slice */
    guint size;  /* memory slices */
} VhMigPlacement;

typedef struct {
    guint id;             /* NVML's profile id (H200 1g.18gb: 19) */
    char *name;           /* "1g.18gb" */
    guint slices;         /* compute slices */
    guint instance_count; /* most instances on one GPU */
    guint64 memory_mb;
    GArray *placements;   /* of VhMigPlacement */
} VhMigProfile;

/* An existing (or planned) GPU instance. */
typedef struct {
    guint id;         /* GPU instance id; planned instances count from 0 */
    guint profile_id;
    guint start;
    guint size;
} VhMigInstance;

typedef struct _VhMigTable VhMigTable;

VhMigTable *vh_mig_table_new(const char *model, guint compute_slices, guint memory_slices);
void vh_mig_table_free(VhMigTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhMigTable, vh_mig_table_free)
void vh_mig_table_add_profile(VhMigTable *table, guint id, const char *name, guint slices,
                              guint instance_count, guint64 memory_mb,
                              const VhMigPlacement *placements, guint n_placements);

/* The built-in table of a GPU named @gpu_name ("NVIDIA H200", "GH100 [H200
 * SXM 141GB]", "H200X", "A100-SXM4-40GB", ...), or NULL. */
VhMigTable *vh_mig_table_builtin_for_name(const char *gpu_name);
/* The same by NVIDIA PCI device id (0x2335 H200 SXM), or NULL. */
VhMigTable *vh_mig_table_builtin_for_device(guint device_id);

const char *vh_mig_table_model(const VhMigTable *table);
guint vh_mig_table_n_profiles(const VhMigTable *table);
const VhMigProfile *vh_mig_table_profile(const VhMigTable *table, guint i);
const VhMigProfile *vh_mig_table_find(const VhMigTable *table, const char *name);
const VhMigProfile *vh_mig_table_find_id(const VhMigTable *table, guint id);

/* How many more instances of @profile fit next to @existing. */
guint vh_mig_free_count(const VhMigTable *table, const VhMigProfile *profile,
                        const VhMigInstance *existing, guint n_existing);

/* The placement for one more instance of @profile that keeps the most room
 * for larger profiles (best fit); VH_ERROR_BUSY naming what is in the way
 * when none is free. */
gboolean vh_mig_best_placement(const VhMigTable *table, const VhMigProfile *profile,
                               const VhMigInstance *existing, guint n_existing,
                               VhMigPlacement *placement, GError **error);

/* Parse a layout "PROFILE[*COUNT],..." and place it on an empty GPU:
 * GArray of VhMigInstance (ids 0..), larger profiles first, each at its
 * best-fit placement. VH_ERROR_CONFIG naming the layout and the reason for
 * an unknown profile, a bad count, or a layout that does not fit. */
GArray *vh_mig_layout_plan(const VhMigTable *table, const char *layout, GError **error);

/* The GPU-instance profile a MIG-backed vGPU type needs ("H200X-2-35C" or
 * "NVIDIA H200X-2-35C" -> "2g.35gb", "...-1-18CME" -> "1g.18gb+me"), or
 * NULL for a time-sliced type ("L40S-24Q", "H200X-141C"). */
char *vh_mig_profile_for_vgpu_type(const char *vgpu_type);

/* The instance profile of MIG-backed @vgpu_type in @table, and in *@slots
 * (may be NULL) how many vGPUs of the type one instance holds. A type whose
 * "-SLICES-GB" names a profile of the table takes a whole instance (1
 * slot). One whose GB is smaller than every profile of its slice count
 * ("-1-9C" next to 1g.18gb) time-slices inside the smallest such instance
 * that holds it: slots = instance GB / type GB (18 / 9 = 2), unless a table
 * of known exceptions in vh-mig.c says otherwise (it is empty: NVIDIA's
 * documentation read so far names no per-type count). NULL when the type
 * is not MIG-backed or no profile fits it. */
const VhMigProfile *vh_mig_profile_in_table(const VhMigTable *table, const char *vgpu_type,
                                            guint *slots);

typedef struct {
    guint capacity;       /* instances of the profile on an empty GPU */
    guint free_instances; /* existing instances of it that no vGPU holds */
    guint placeable;      /* more instances that could still be created */
    guint slots;          /* vGPUs of the type one instance holds (time-sliced when > 1) */
} VhMigTypeCapacity;

/* What a MIG-backed vGPU type can get on a GPU with @existing instances, of
 * which the ids in @held hold a vGPU: counts of instances, its profile
 * found as vh_mig_profile_in_table() does. VH_ERROR_UNSUPPORTED when the
 * type is not MIG-backed or the table lacks its profile. */
gboolean vh_mig_vgpu_type_capacity(const VhMigTable *table, const char *vgpu_type,
                                   const VhMigInstance *existing, guint n_existing,
                                   const guint *held, guint n_held, VhMigTypeCapacity *out,
                                   GError **error);

G_END_DECLS

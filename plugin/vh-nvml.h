/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-nvml: the few NVML calls vgpu-hook needs (MIG, vGPU types, modes).
 *
 * NVML (libnvidia-ml.so.1) ships with NVIDIA's driver, not with Debian, and
 * has no Debian header: this module declares the documented functions and
 * structures it uses itself (vh-nvml-abi.h) and loads the library with
 * dlopen() the first time vh_nvml_open() is called, never before: a domain
 * that needs no MIG or NVML never maps it. VH_NVML_LIBRARY (environment) or
 * vh_nvml_set_library() names another file (the test NVML of tests/).
 *
 * Devices are named by PCI address ("0000:41:00.0", lower case), as in the
 * rest of the library; NVML's own bus ids ("00000000:41:00.0") are converted.
 * Every failing NVML call becomes a GError whose message names the call, the
 * device and a sentence for the operator (vh_nvml_return_sentence()); the
 * NVML return code is kept in vh_nvml_last_return() style through the
 * GError code mapping below. Without the library, vh_nvml_open() fails with
 * VH_ERROR_UNSUPPORTED and "NVML not available: ...": callers then work from
 * sysfs alone. */
#pragma once

#include <glib.h>
#include "vh-mig.h"

G_BEGIN_DECLS

typedef struct _VhNvml VhNvml;

/* GPU virtualization mode (nvmlGpuVirtualizationMode_t). */
typedef enum {
    VH_NVML_VIRT_NONE = 0,
    VH_NVML_VIRT_PASSTHROUGH = 1,
    VH_NVML_VIRT_VGPU = 2,      /* a vGPU, seen from inside a guest */
    VH_NVML_VIRT_HOST_VGPU = 3, /* the host runs NVIDIA's vGPU manager */
    VH_NVML_VIRT_HOST_VSGA = 4,
} VhNvmlVirtMode;

typedef struct {
    guint start; /* first memory slice */
    guint size;  /* memory slices */
} VhNvmlPlacement;

/* One GPU-instance profile as the driver reports it. */
typedef struct {
    guint index;          /* NVML_GPU_INSTANCE_PROFILE_* used to ask */
    guint id;             /* the profile id (19 = 1g.18gb on an H200) */
    char *name;           /* "1g.18gb"; built from slices and memory on old drivers */
    guint slices;         /* compute slices */
    guint instance_count; /* most instances of this profile */
    guint64 memory_mb;
    GArray *placements;   /* of VhNvmlPlacement; NULL when the call failed */
    char *placements_error; /* that call's sentence, else NULL */
} VhNvmlGiProfile;

typedef struct {
    guint id;         /* GPU instance id */
    guint profile_id;
    guint start;
    guint size;
} VhNvmlGpuInstance;

typedef struct {
    guint id;           /* numeric vGPU type id of this driver */
    char *name;         /* "NVIDIA H200X-1-18C" */
    guint64 framebuffer_mb;
} VhNvmlVgpuType;

void vh_nvml_gi_profile_free(VhNvmlGiProfile *profile);
void vh_nvml_vgpu_type_free(VhNvmlVgpuType *type);

/* Use @path instead of libnvidia-ml.so.1 (NULL: back to the default; the
 * environment variable VH_NVML_LIBRARY wins over both). Takes effect for
 * the next vh_nvml_open() of a process that has not loaded NVML yet. */
void vh_nvml_set_library(const char *path);

/* Load NVML (first call only) and nvmlInit_v2(). VH_ERROR_UNSUPPORTED with
 * "NVML not available: ..." when the library or its symbols are missing. */
VhNvml *vh_nvml_open(GError **error);
/* The file that was loaded (a full path where the loader knows it). */
const char *vh_nvml_library(VhNvml *nvml);
/* nvmlShutdown(); the library stays mapped. */
void vh_nvml_close(VhNvml *nvml);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhNvml, vh_nvml_close)

/* The operator's sentence for an nvmlReturn_t (never NULL). */
const char *vh_nvml_return_sentence(int nvml_return);
/* NVML's own name for it ("NVML_ERROR_IN_USE"), or "NVML error N". */
const char *vh_nvml_return_name(int nvml_return);

char *vh_nvml_driver_version(VhNvml *nvml, GError **error);
gboolean vh_nvml_device_count(VhNvml *nvml, guint *count, GError **error);
/* The PCI address of device @index, lower case "DDDD:BB:SS.F". */
char *vh_nvml_device_address(VhNvml *nvml, guint index, GError **error);
char *vh_nvml_device_name(VhNvml *nvml, const char *addr, GError **error);
gboolean vh_nvml_device_pci_ids(VhNvml *nvml, const char *addr, guint *vendor,
                                guint *device, GError **error);
gboolean vh_nvml_virtualization_mode(VhNvml *nvml, const char *addr,
                                     VhNvmlVirtMode *mode, GError **error);
const char *vh_nvml_virt_mode_name(VhNvmlVirtMode mode);
gboolean vh_nvml_mig_mode(VhNvml *nvml, const char *addr, gboolean *current,
                          gboolean *pending, GError **error);
gboolean vh_nvml_heterogeneous_mode(VhNvml *nvml, const char *addr,
                                    gboolean *enabled, GError **error);
/* Mixed-size (heterogeneous) mode on or off: NVML_ERROR_IN_USE's sentence
 * while any vGPU exists on the GPU. */
gboolean vh_nvml_set_heterogeneous_mode(VhNvml *nvml, const char *addr, gboolean enabled,
                                        GError **error);
/* Placement ids of vGPU type @type_id on GPU @addr: every one the type may
 * take in mixed (@mixed) or equal-size mode, or (@creatable) those free
 * now; *@placement_size = the slots one takes. GArray of guint. */
GArray *vh_nvml_vgpu_placements(VhNvml *nvml, const char *addr, guint type_id,
                                gboolean creatable, gboolean mixed, guint *placement_size,
                                GError **error);

/* Every GPU-instance profile the GPU supports (profiles it does not are
 * left out), with their placements. An empty array on a GPU without MIG. */
GPtrArray *vh_nvml_gi_profiles(VhNvml *nvml, const char *addr, GError **error);
/* Placements of profile @profile_id (a profile id, not an index). */
GArray *vh_nvml_gi_placements(VhNvml *nvml, const char *addr, guint profile_id,
                              GError **error);
gboolean vh_nvml_gi_remaining(VhNvml *nvml, const char *addr, guint profile_id,
                              guint *count, GError **error);
/* Existing GPU instances of every profile in @profiles (VhNvmlGiProfile),
 * sorted by id. */
GArray *vh_nvml_gi_list(VhNvml *nvml, const char *addr, GPtrArray *profiles,
                        GError **error);
gboolean vh_nvml_gi_create(VhNvml *nvml, const char *addr, guint profile_id,
                           const VhNvmlPlacement *placement, guint *instance_id,
                           GError **error);
/* Destroy GPU instance @instance_id of profile @profile_id. */
gboolean vh_nvml_gi_destroy(VhNvml *nvml, const char *addr, guint profile_id,
                            guint instance_id, GError **error);

/* vGPU types the GPU supports, or (@creatable) can create now: GPtrArray of
 * VhNvmlVgpuType. */
GPtrArray *vh_nvml_vgpu_types(VhNvml *nvml, const char *addr, gboolean creatable,
                              GError **error);

/* ---- MIG through NVML, for the vGPU model ------------------------------- */

/* GPU @addr's MIG profile table as its driver reports it (ids, names,
 * slices, counts, placements); VH_ERROR_UNSUPPORTED for a GPU without MIG
 * profiles. */
VhMigTable *vh_nvml_mig_table(VhNvml *nvml, const char *addr, GError **error);
/* Its GPU instances (MIG on), as VhMigInstance. */
GArray *vh_nvml_mig_instances(VhNvml *nvml, const char *addr, const VhMigTable *table,
                              GError **error);
/* One call for the model: what MIG-backed @vgpu_type can get on GPU @addr
 * (its instances that no vGPU holds, those whose ids are in @held being
 * taken, and how many more could be created), from NVML's own profile
 * table and instance list. Without NVML or with MIG off this
 * fails (VH_ERROR_UNSUPPORTED; the message says which), and the caller
 * offers the type only where sysfs lists it creatable. */
gboolean vh_nvml_mig_type_capacity(const char *addr, const char *vgpu_type, const guint *held,
                                   guint n_held, VhMigTypeCapacity *out, GError **error);

G_END_DECLS

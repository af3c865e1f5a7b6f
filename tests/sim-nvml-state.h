/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sim-nvml-state: the simulated NVIDIA GPU state shared by the test NVML
 * (tests/sim-nvml.c, built as libnvidia-ml.so.1) and whoever plays the
 * driver elsewhere (the simulated kernel, a test, sriov-manage).
 *
 * The state is one GKeyFile, ROOT/.fake-host/nvml.ini next to the fake
 * sysfs tree ROOT (no real sysfs has .fake-host/). Without it, the test
 * NVML's nvmlInit_v2() fails with NVML_ERROR_DRIVER_NOT_LOADED, as the real
 * one does on a host without NVIDIA's driver. Format:
 *
 *   [nvml]
 *     driver_version=580.159.04     default 580.159.04
 *   [gpu DDDD:BB:SS.F]              one per GPU NVML sees, lower-case hex
 *     model=H200|H100-80GB|A100-40GB   required: the MIG profile table
 *     name=NVIDIA H200              default "NVIDIA " + model
 *     device_id=0x2335              default by model
 *     mig=0|1                       MIG mode, current = pending; default 0
 *     virtualization=none|pass-through|host-vgpu   default host-vgpu
 *     heterogeneous=0|1             absent: the query is NOT_SUPPORTED; on
 *                                   a GPU the simulated kernel drives, the
 *                                   kernel's mode wins (set writes both)
 *     no_placements=1               vGPU placement queries NOT_SUPPORTED
 *                                   (an older driver)
 *     vgpu_types=ID:NAME:FB_MB;...  supported vGPU types (host-vgpu only);
 *                                   creatable = those listed in some VF's
 *                                   nvidia/creatable_vgpu_types under ROOT
 *     instances=GI:PROFILE:START:SIZE;...  existing GPU instances
 *     in_use=GI;...                 instances a vGPU or process holds
 *                                   (destroy: NVML_ERROR_IN_USE)
 *
 * Writers take an flock() on ROOT/.fake-host/nvml.lock around a read,
 * change and rewrite (sim_nvml_state_lock()). Shell tests change it with
 * tests/sim-nvml-ctl (rebind, set, get). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    guint id, profile_id, start, size;
} SimNvmlInstance;

/* GPU-instance profiles of NVIDIA's MIG user guide, written out apart from
 * plugin/vh-mig.c on purpose (the tests compare two sources); shared by
 * the test NVML and the simulated driver (tests/fake-host.c). */
typedef struct {
    unsigned int index, id, slices, count;
    const char *name;
    unsigned long long memory_mb;
    const char *placements; /* "START,START,...:SIZE" */
} SimProfile;

typedef struct {
    const char *model;
    unsigned int device_id;
    SimProfile profiles[7];
} SimModel;

/* The table of @model ("H200", "H100-80GB", "A100-40GB"), or NULL. */
const SimModel *sim_nvml_model_find(const char *model);
/* The model of GPU @addr when the state says its MIG mode is on, else NULL. */
const SimModel *sim_nvml_state_mig_model(GKeyFile *state, const char *addr);
/* Instance ids of GPU @addr that a vGPU or process holds (in_use=). */
GArray *sim_nvml_state_in_use(GKeyFile *state, const char *addr);
void sim_nvml_state_set_in_use(GKeyFile *state, const char *addr, GArray *ids);

/* ROOT/.fake-host/nvml.ini */
char *sim_nvml_state_path(const char *root);
/* Load it; NULL (no error) when the file does not exist. */
GKeyFile *sim_nvml_state_load(const char *root, GError **error);
gboolean sim_nvml_state_save(GKeyFile *state, const char *root, GError **error);
/* Exclusive lock; returns the fd to pass to sim_nvml_state_unlock(). */
int sim_nvml_state_lock(const char *root);
void sim_nvml_state_unlock(int fd);

/* The instances of GPU @addr (group "gpu ADDR"), sorted by id. */
GArray *sim_nvml_state_instances(GKeyFile *state, const char *addr);
void sim_nvml_state_set_instances(GKeyFile *state, const char *addr, GArray *instances);

/* What sriov-manage -e/-d does to MIG: it rebinds the GPU, which destroys
 * every GPU instance (MIG mode survives). Locks, loads, saves. */
gboolean sim_nvml_state_rebind(const char *root, const char *addr, GError **error);

G_END_DECLS

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sim-nvml: a test NVML (libnvidia-ml.so.1) over the simulated GPU state.
 *
 * Built for `make check` only, never installed: tests point vgpu-hook at it
 * with VH_NVML_LIBRARY=$builddir/tests/sim-nvml/libnvidia-ml.so.1 (or put
 * that directory in LD_LIBRARY_PATH) and name the fake sysfs root with
 * VH_SIM_SYSFS_ROOT, as for the simulated kernel. The GPUs, their MIG mode
 * and GPU instances live in ROOT/.fake-host/nvml.ini (tests/sim-nvml-state.h
 * has the format), read at every call, so processes agree with each other
 * and with the simulated kernel.
 *
 * GPU-instance profiles and placements are those of NVIDIA's MIG user guide
 * for A100 40GB, H100 80GB and H200 (this table is written out separately
 * from plugin/vh-mig.c's on purpose, so that the tests compare two sources).
 * Return codes follow NVML's API reference: profiles and placements are
 * listed whether MIG is on or not; creating, listing and counting GPU
 * instances need MIG on (NVML_ERROR_NOT_SUPPORTED); a placement outside the
 * profile's list is NVML_ERROR_INVALID_ARGUMENT, one that overlaps, exceeds
 * the 7 compute slices or the profile's instance count is
 * NVML_ERROR_INSUFFICIENT_RESOURCES; destroying an instance a vGPU holds is
 * NVML_ERROR_IN_USE. GPU instance ids are the lowest free from 1.
 * Mixed-size mode and vGPU placements of a GPU that the simulated kernel
 * drives (ROOT/.fake-host/vgpu/ADDR.ini) are the simulated kernel's own
 * (fake-host.h: 1 GB slots, a type takes its size rounded up to even at a
 * multiple of that in mixed mode, its size in equal-size mode); setting the
 * mode is NVML_ERROR_IN_USE while a VF holds a type. A GPU the kernel does
 * not drive reads "heterogeneous" from the state and has no placements.
 * VH_SIM_NVML_PROFILE_INFO=2 or =1 plays an older driver (see
 * nvmlDeviceGetGpuInstanceProfileInfoV). */
#include "fake-host.h"
#include "sim-nvml-state.h"
#include "fake-host.h"
#include "vh-nvml-abi.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* The exported entry points, typed by our ABI declarations: a signature
 * that differs from vh-nvml-abi.h does not compile. */
#define SIM_DECLARE(name) __typeof__(*(name##_fn)0) name
SIM_DECLARE(nvmlInit_v2);
SIM_DECLARE(nvmlShutdown);
SIM_DECLARE(nvmlErrorString);
SIM_DECLARE(nvmlSystemGetDriverVersion);
SIM_DECLARE(nvmlDeviceGetCount_v2);
SIM_DECLARE(nvmlDeviceGetHandleByIndex_v2);
SIM_DECLARE(nvmlDeviceGetHandleByPciBusId_v2);
SIM_DECLARE(nvmlDeviceGetName);
SIM_DECLARE(nvmlDeviceGetPciInfo_v3);
SIM_DECLARE(nvmlDeviceGetMigMode);
SIM_DECLARE(nvmlDeviceGetGpuInstanceProfileInfo);
SIM_DECLARE(nvmlDeviceGetGpuInstanceProfileInfoV);
SIM_DECLARE(nvmlDeviceGetGpuInstancePossiblePlacements_v2);
SIM_DECLARE(nvmlDeviceGetGpuInstanceRemainingCapacity);
SIM_DECLARE(nvmlDeviceGetGpuInstances);
SIM_DECLARE(nvmlDeviceCreateGpuInstanceWithPlacement);
SIM_DECLARE(nvmlGpuInstanceDestroy);
SIM_DECLARE(nvmlGpuInstanceGetInfo);
SIM_DECLARE(nvmlDeviceGetVirtualizationMode);
SIM_DECLARE(nvmlDeviceGetVgpuHeterogeneousMode);
SIM_DECLARE(nvmlDeviceSetVgpuHeterogeneousMode);
SIM_DECLARE(nvmlDeviceGetVgpuTypeSupportedPlacements);
SIM_DECLARE(nvmlDeviceGetVgpuTypeCreatablePlacements);
SIM_DECLARE(nvmlDeviceGetSupportedVgpus);
SIM_DECLARE(nvmlDeviceGetCreatableVgpus);
SIM_DECLARE(nvmlVgpuTypeGetName);
SIM_DECLARE(nvmlVgpuTypeGetFramebufferSize);

#define SIM_MAX_GPUS 16
#define SIM_MAX_GI 8

/* ---- the MIG user guide's tables: sim-nvml-state.c ---------------------------- */

static unsigned int
profile_placements(const SimProfile *p, nvmlGpuInstancePlacement_t *out, unsigned int max)
{
    const char *colon = strchr(p->placements, ':');
    unsigned int size = (unsigned int)atoi(colon + 1), n = 0;

    for (const char *s = p->placements; s < colon && n < max; s = strchr(s, ',') + 1) {
        out[n++] = (nvmlGpuInstancePlacement_t){ (unsigned int)atoi(s), size };
        if (strchr(s, ',') == NULL || strchr(s, ',') > colon)
            break;
    }
    return n;
}

/* ---- devices ------------------------------------------------------------------ */

struct nvmlDevice_st {
    char addr[16];
};
struct nvmlGpuInstance_st {
    unsigned int gpu;
    unsigned int id;
};

static struct nvmlDevice_st sim_devices[SIM_MAX_GPUS];
static struct nvmlGpuInstance_st sim_instances[SIM_MAX_GPUS][SIM_MAX_GI + 1];
static int sim_initialised;

static const char *
sim_root(void)
{
    const char *root = getenv("VH_SIM_SYSFS_ROOT");

    return root && root[0] == '/' ? root : NULL;
}

static GKeyFile *
sim_state(void)
{
    return sim_root() ? sim_nvml_state_load(sim_root(), NULL) : NULL;
}

static gint
str_compare(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The GPU addresses of the state, sorted: NVML's index order. */
static GPtrArray *
sim_gpus(GKeyFile *state)
{
    g_auto(GStrv) groups = g_key_file_get_groups(state, NULL);
    GPtrArray *gpus = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; groups[i] && gpus->len < SIM_MAX_GPUS; i++)
        if (g_str_has_prefix(groups[i], "gpu "))
            g_ptr_array_add(gpus, g_strdup(groups[i] + 4));
    g_ptr_array_sort(gpus, str_compare);
    return gpus;
}

static char *
gpu_get(GKeyFile *state, nvmlDevice_t device, const char *key)
{
    g_autofree char *group = g_strdup_printf("gpu %s", device->addr);

    return g_key_file_get_string(state, group, key, NULL);
}

static const SimModel *
gpu_model(GKeyFile *state, nvmlDevice_t device)
{
    g_autofree char *model = gpu_get(state, device, "model");

    return model ? sim_nvml_model_find(model) : NULL;
}

static gboolean
gpu_flag(GKeyFile *state, nvmlDevice_t device, const char *key)
{
    g_autofree char *value = gpu_get(state, device, key);

    return value && strcmp(value, "1") == 0;
}

static unsigned int
device_index(nvmlDevice_t device)
{
    return (unsigned int)(device - sim_devices);
}

/* Every entry point: initialised, state readable, handle valid. */
#define SIM_ENTER(state)                                            \
    g_autoptr(GKeyFile) state = NULL;                               \
    if (!sim_initialised)                                           \
        return NVML_ERROR_UNINITIALIZED;                            \
    state = sim_state();                                            \
    if (state == NULL)                                              \
        return NVML_ERROR_DRIVER_NOT_LOADED

#define SIM_DEVICE(state, device)                                   \
    SIM_ENTER(state);                                               \
    if ((device) == NULL || device_index(device) >= SIM_MAX_GPUS || \
        (device)->addr[0] == '\0')                                  \
        return NVML_ERROR_INVALID_ARGUMENT

/* ---- init, system, devices ------------------------------------------------------ */

nvmlReturn_t
nvmlInit_v2(void)
{
    g_autoptr(GKeyFile) state = sim_state();

    if (state == NULL)
        return NVML_ERROR_DRIVER_NOT_LOADED;
    sim_initialised++;
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlShutdown(void)
{
    if (!sim_initialised)
        return NVML_ERROR_UNINITIALIZED;
    sim_initialised--;
    return NVML_SUCCESS;
}

const char *
nvmlErrorString(nvmlReturn_t result)
{
    return result == NVML_SUCCESS ? "Success" : "Simulated NVML error";
}

static nvmlReturn_t
copy_string(const char *value, char *buf, unsigned int length)
{
    if (buf == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(value) + 1 > length)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(buf, value, strlen(value) + 1);
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlSystemGetDriverVersion(char *version, unsigned int length)
{
    g_autofree char *value = NULL;

    SIM_ENTER(state);
    value = g_key_file_get_string(state, "nvml", "driver_version", NULL);
    return copy_string(value ? value : "580.159.04", version, length);
}

nvmlReturn_t
nvmlDeviceGetCount_v2(unsigned int *count)
{
    g_autoptr(GPtrArray) gpus = NULL;

    SIM_ENTER(state);
    gpus = sim_gpus(state);
    *count = gpus->len;
    return NVML_SUCCESS;
}

static nvmlReturn_t
device_at(GPtrArray *gpus, unsigned int i, nvmlDevice_t *device)
{
    g_strlcpy(sim_devices[i].addr, g_ptr_array_index(gpus, i), sizeof(sim_devices[i].addr));
    *device = &sim_devices[i];
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetHandleByIndex_v2(unsigned int index, nvmlDevice_t *device)
{
    g_autoptr(GPtrArray) gpus = NULL;

    SIM_ENTER(state);
    gpus = sim_gpus(state);
    if (index >= gpus->len || device == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    return device_at(gpus, index, device);
}

nvmlReturn_t
nvmlDeviceGetHandleByPciBusId_v2(const char *bus_id, nvmlDevice_t *device)
{
    g_autoptr(GPtrArray) gpus = NULL;
    unsigned int domain, bus, slot, function;
    char addr[32];

    SIM_ENTER(state);
    if (bus_id == NULL || device == NULL ||
        sscanf(bus_id, "%x:%x:%x.%x", &domain, &bus, &slot, &function) != 4)
        return NVML_ERROR_INVALID_ARGUMENT;
    snprintf(addr, sizeof(addr), "%04x:%02x:%02x.%x", domain, bus, slot, function);
    gpus = sim_gpus(state);
    for (guint i = 0; i < gpus->len; i++)
        if (strcmp(g_ptr_array_index(gpus, i), addr) == 0)
            return device_at(gpus, i, device);
    return NVML_ERROR_NOT_FOUND;
}

nvmlReturn_t
nvmlDeviceGetName(nvmlDevice_t device, char *name, unsigned int length)
{
    g_autofree char *value = NULL;
    g_autofree char *fallback = NULL;

    SIM_DEVICE(state, device);
    value = gpu_get(state, device, "name");
    if (value == NULL) {
        g_autofree char *model = gpu_get(state, device, "model");
        fallback = g_strdup_printf("NVIDIA %s", model ? model : "GPU");
    }
    return copy_string(value ? value : fallback, name, length);
}

nvmlReturn_t
nvmlDeviceGetPciInfo_v3(nvmlDevice_t device, nvmlPciInfo_t *pci)
{
    const SimModel *model;
    g_autofree char *id_text = NULL;
    unsigned int domain = 0, bus = 0, slot = 0, function = 0, device_id;

    SIM_DEVICE(state, device);
    if (pci == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    model = gpu_model(state, device);
    id_text = gpu_get(state, device, "device_id");
    device_id = id_text ? (unsigned int)strtoul(id_text, NULL, 16) : model ? model->device_id : 0;
    sscanf(device->addr, "%x:%x:%x.%x", &domain, &bus, &slot, &function);
    memset(pci, 0, sizeof(*pci));
    pci->domain = domain;
    pci->bus = bus;
    pci->device = slot;
    pci->pciDeviceId = device_id << 16 | 0x10de;
    snprintf(pci->busId, sizeof(pci->busId), "%08X:%02X:%02X.%X", domain, bus, slot, function);
    snprintf(pci->busIdLegacy, sizeof(pci->busIdLegacy), "%04X:%02X:%02X.%X", domain, bus, slot,
             function);
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetMigMode(nvmlDevice_t device, unsigned int *current, unsigned int *pending)
{
    SIM_DEVICE(state, device);
    if (gpu_model(state, device) == NULL)
        return NVML_ERROR_NOT_SUPPORTED;
    *current = *pending = gpu_flag(state, device, "mig") ? NVML_DEVICE_MIG_ENABLE
                                                          : NVML_DEVICE_MIG_DISABLE;
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetVirtualizationMode(nvmlDevice_t device, nvmlGpuVirtualizationMode_t *mode)
{
    g_autofree char *value = NULL;

    SIM_DEVICE(state, device);
    value = gpu_get(state, device, "virtualization");
    if (value == NULL || strcmp(value, "host-vgpu") == 0)
        *mode = NVML_GPU_VIRTUALIZATION_MODE_HOST_VGPU;
    else if (strcmp(value, "pass-through") == 0)
        *mode = NVML_GPU_VIRTUALIZATION_MODE_PASSTHROUGH;
    else
        *mode = NVML_GPU_VIRTUALIZATION_MODE_NONE;
    return NVML_SUCCESS;
}

/* Does the simulated kernel drive this GPU's vGPUs (tests/fake-host.h)?
 * Then its mode and placements are the kernel's, so both agree. */
static gboolean
fake_vgpu(nvmlDevice_t device)
{
    g_autofree char *path = g_strdup_printf("%s/.fake-host/vgpu/%s.ini", sim_root(),
                                            device->addr);

    return g_file_test(path, G_FILE_TEST_IS_REGULAR);
}

nvmlReturn_t
nvmlDeviceGetVgpuHeterogeneousMode(nvmlDevice_t device, nvmlVgpuHeterogeneousMode_v1_t *mode)
{
    g_autofree char *value = NULL;

    SIM_DEVICE(state, device);
    if (mode == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (mode->version != nvmlVgpuHeterogeneousMode_v1)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    value = gpu_get(state, device, "heterogeneous");
    if (value == NULL)
        return NVML_ERROR_NOT_SUPPORTED;
    mode->mode = fake_vgpu(device) ? fake_host_nvidia_is_mixed(sim_root(), device->addr)
                                   : strcmp(value, "1") == 0;
    return NVML_SUCCESS;
}

/* As nvidia-smi vgpu -shm: NVML_ERROR_IN_USE while a VF holds a type. */
nvmlReturn_t
nvmlDeviceSetVgpuHeterogeneousMode(nvmlDevice_t device, const nvmlVgpuHeterogeneousMode_v1_t *mode)
{
    g_autofree char *value = NULL;
    g_autofree char *group = NULL;
    g_autoptr(GError) error = NULL;
    nvmlReturn_t ret = NVML_SUCCESS;
    int fd;

    SIM_DEVICE(state, device);
    if (mode == NULL || mode->mode > 1)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (mode->version != nvmlVgpuHeterogeneousMode_v1)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    value = gpu_get(state, device, "heterogeneous");
    if (value == NULL)
        return NVML_ERROR_NOT_SUPPORTED;
    if (fake_vgpu(device) &&
        !fake_host_nvidia_set_mixed(sim_root(), device->addr, mode->mode == 1, &error))
        return g_error_matches(error, FAKE_HOST_ERROR, FAKE_HOST_ERROR_STATE)
                   ? NVML_ERROR_IN_USE : NVML_ERROR_UNKNOWN;
    fd = sim_nvml_state_lock(sim_root());
    g_clear_pointer(&state, g_key_file_unref);
    state = sim_state();
    group = g_strdup_printf("gpu %s", device->addr);
    g_key_file_set_string(state, group, "heterogeneous", mode->mode ? "1" : "0");
    if (!sim_nvml_state_save(state, sim_root(), NULL))
        ret = NVML_ERROR_UNKNOWN;
    sim_nvml_state_unlock(fd);
    return ret;
}

/* Placements from the simulated kernel (1 GB slots; fake-host.h). */
static nvmlReturn_t
placements(nvmlDevice_t device, nvmlVgpuTypeId_t type, void *list, gboolean creatable)
{
    nvmlVgpuPlacementList_v2_t *v2 = list;
    g_autoptr(GArray) ids = NULL;
    gboolean mixed;
    guint size = 0;

    SIM_DEVICE(state, device);
    if (list == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (v2->version != nvmlVgpuPlacementList_v1 && v2->version != nvmlVgpuPlacementList_v2)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (!fake_vgpu(device) || gpu_flag(state, device, "no_placements"))
        return NVML_ERROR_NOT_SUPPORTED;
    mixed = v2->version == nvmlVgpuPlacementList_v2
                ? v2->mode == NVML_VGPU_PGPU_HETEROGENEOUS_MODE
                : fake_host_nvidia_is_mixed(sim_root(), device->addr);
    ids = fake_host_nvidia_placements(sim_root(), device->addr, type, mixed, creatable, &size);
    if (ids == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    v2->placementSize = size;
    if (ids->len > v2->count || (ids->len && v2->placementIds == NULL)) {
        v2->count = ids->len;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    v2->count = ids->len;
    memcpy(v2->placementIds, ids->data, ids->len * sizeof(guint));
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetVgpuTypeSupportedPlacements(nvmlDevice_t device, nvmlVgpuTypeId_t type, void *list)
{
    return placements(device, type, list, FALSE);
}

nvmlReturn_t
nvmlDeviceGetVgpuTypeCreatablePlacements(nvmlDevice_t device, nvmlVgpuTypeId_t type, void *list)
{
    return placements(device, type, list, TRUE);
}

/* ---- GPU-instance profiles ------------------------------------------------------------ */

static const SimProfile *
profile_by_index(const SimModel *model, unsigned int index)
{
    for (guint i = 0; model && i < G_N_ELEMENTS(model->profiles); i++)
        if (model->profiles[i].index == index)
            return &model->profiles[i];
    return NULL;
}

static const SimProfile *
profile_by_id(const SimModel *model, unsigned int id)
{
    for (guint i = 0; model && i < G_N_ELEMENTS(model->profiles); i++)
        if (model->profiles[i].id == id)
            return &model->profiles[i];
    return NULL;
}

nvmlReturn_t
nvmlDeviceGetGpuInstanceProfileInfo(nvmlDevice_t device, unsigned int index,
                                    nvmlGpuInstanceProfileInfo_t *info)
{
    const SimProfile *p;

    SIM_DEVICE(state, device);
    if (index >= NVML_GPU_INSTANCE_PROFILE_COUNT || info == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    p = profile_by_index(gpu_model(state, device), index);
    if (p == NULL)
        return NVML_ERROR_NOT_SUPPORTED;
    memset(info, 0, sizeof(*info));
    *info = (nvmlGpuInstanceProfileInfo_t){ .id = p->id, .sliceCount = p->slices,
                                            .instanceCount = p->count,
                                            .multiprocessorCount = p->slices * 16,
                                            .memorySizeMB = p->memory_mb };
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetGpuInstanceProfileInfoV(nvmlDevice_t device, unsigned int index, void *info)
{
    nvmlGpuInstanceProfileInfo_t v1;
    nvmlReturn_t ret;
    unsigned int version = info ? *(unsigned int *)info : 0;
    /* VH_SIM_NVML_PROFILE_INFO=2: a driver that knows only v2; =1: one
     * without the V call (it answers NVML_ERROR_FUNCTION_NOT_FOUND). */
    const char *newest = getenv("VH_SIM_NVML_PROFILE_INFO");

    if (newest && strcmp(newest, "1") == 0)
        return NVML_ERROR_FUNCTION_NOT_FOUND;
    if (newest && strcmp(newest, "2") == 0 && version == nvmlGpuInstanceProfileInfo_v3)
        return NVML_ERROR_ARGUMENT_VERSION_MISMATCH;
    if (version != nvmlGpuInstanceProfileInfo_v2 && version != nvmlGpuInstanceProfileInfo_v3)
        return info ? NVML_ERROR_ARGUMENT_VERSION_MISMATCH : NVML_ERROR_INVALID_ARGUMENT;
    ret = nvmlDeviceGetGpuInstanceProfileInfo(device, index, &v1);
    if (ret != NVML_SUCCESS)
        return ret;
    {
        g_autoptr(GKeyFile) state = sim_state();
        const SimProfile *p = profile_by_index(gpu_model(state, device), index);

        if (version == nvmlGpuInstanceProfileInfo_v2) {
            nvmlGpuInstanceProfileInfo_v2_t *v2 = info;
            *v2 = (nvmlGpuInstanceProfileInfo_v2_t){ version, v1.id, 0, v1.sliceCount,
                                                     v1.instanceCount, v1.multiprocessorCount,
                                                     0, 0, 0, 0, 0, v1.memorySizeMB, "" };
            g_snprintf(v2->name, sizeof(v2->name), "MIG %s", p->name);
        } else {
            nvmlGpuInstanceProfileInfo_v3_t *v3 = info;
            *v3 = (nvmlGpuInstanceProfileInfo_v3_t){ version, v1.id, v1.sliceCount,
                                                     v1.instanceCount, v1.multiprocessorCount,
                                                     0, 0, 0, 0, 0, v1.memorySizeMB, "", 0 };
            /* as driver 580.159.04 on a real H200: v3 leaves the name empty */
            (void)p;
        }
    }
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetGpuInstancePossiblePlacements_v2(nvmlDevice_t device, unsigned int profile_id,
                                              nvmlGpuInstancePlacement_t *placements,
                                              unsigned int *count)
{
    const SimProfile *p;
    nvmlGpuInstancePlacement_t all[SIM_MAX_GI];
    unsigned int n;

    SIM_DEVICE(state, device);
    if (count == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    p = profile_by_id(gpu_model(state, device), profile_id);
    if (p == NULL)
        return NVML_ERROR_NOT_SUPPORTED;
    n = profile_placements(p, all, SIM_MAX_GI);
    if (placements == NULL) {
        *count = n;
        return NVML_SUCCESS;
    }
    if (*count < n)
        return NVML_ERROR_INSUFFICIENT_SIZE;
    memcpy(placements, all, n * sizeof(*all));
    *count = n;
    return NVML_SUCCESS;
}

/* ---- GPU instances ------------------------------------------------------------------ */

/* Can one more instance of @p go at @where next to @existing? */
static nvmlReturn_t
instance_fits(const SimModel *model, GArray *existing, const SimProfile *p,
              const nvmlGpuInstancePlacement_t *where)
{
    unsigned int compute = p->slices, same = 0;

    for (guint i = 0; i < existing->len; i++) {
        const SimNvmlInstance *gi = &g_array_index(existing, SimNvmlInstance, i);
        const SimProfile *q = profile_by_id(model, gi->profile_id);

        compute += q ? q->slices : gi->size;
        same += gi->profile_id == p->id;
        if (where->start < gi->start + gi->size && gi->start < where->start + where->size)
            return NVML_ERROR_INSUFFICIENT_RESOURCES;
    }
    return compute > 7 || same >= p->count ? NVML_ERROR_INSUFFICIENT_RESOURCES : NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetGpuInstanceRemainingCapacity(nvmlDevice_t device, unsigned int profile_id,
                                          unsigned int *count)
{
    const SimModel *model;
    const SimProfile *p;
    nvmlGpuInstancePlacement_t all[SIM_MAX_GI];
    g_autoptr(GArray) existing = NULL;
    unsigned int n;

    SIM_DEVICE(state, device);
    model = gpu_model(state, device);
    p = profile_by_id(model, profile_id);
    if (p == NULL || count == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!gpu_flag(state, device, "mig"))
        return NVML_ERROR_NOT_SUPPORTED;
    existing = sim_nvml_state_instances(state, device->addr);
    n = profile_placements(p, all, SIM_MAX_GI);
    *count = 0;
    for (unsigned int i = 0; i < n; i++) {
        if (instance_fits(model, existing, p, &all[i]) == NVML_SUCCESS) {
            SimNvmlInstance gi = { 0, p->id, all[i].start, all[i].size };
            g_array_append_val(existing, gi);
            (*count)++;
        }
    }
    return NVML_SUCCESS;
}

static nvmlGpuInstance_t
instance_handle(nvmlDevice_t device, unsigned int id)
{
    struct nvmlGpuInstance_st *h = &sim_instances[device_index(device)][MIN(id, SIM_MAX_GI)];

    h->gpu = device_index(device);
    h->id = id;
    return h;
}

nvmlReturn_t
nvmlDeviceGetGpuInstances(nvmlDevice_t device, unsigned int profile_id,
                          nvmlGpuInstance_t *instances, unsigned int *count)
{
    g_autoptr(GArray) existing = NULL;
    unsigned int n = 0;

    SIM_DEVICE(state, device);
    if (count == NULL || profile_by_id(gpu_model(state, device), profile_id) == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!gpu_flag(state, device, "mig"))
        return NVML_ERROR_NOT_SUPPORTED;
    existing = sim_nvml_state_instances(state, device->addr);
    for (guint i = 0; i < existing->len; i++) {
        const SimNvmlInstance *gi = &g_array_index(existing, SimNvmlInstance, i);
        if (gi->profile_id == profile_id && instances)
            instances[n++] = instance_handle(device, gi->id);
    }
    *count = n;
    return NVML_SUCCESS;
}

static unsigned int
lowest_free_id(GArray *existing)
{
    for (unsigned int id = 1;; id++) {
        gboolean used = FALSE;
        for (guint i = 0; i < existing->len; i++)
            used = used || g_array_index(existing, SimNvmlInstance, i).id == id;
        if (!used)
            return id;
    }
}

static gboolean
placement_listed(const SimProfile *p, const nvmlGpuInstancePlacement_t *where)
{
    nvmlGpuInstancePlacement_t all[SIM_MAX_GI];
    unsigned int n = profile_placements(p, all, SIM_MAX_GI);

    for (unsigned int i = 0; i < n; i++)
        if (all[i].start == where->start && all[i].size == where->size)
            return TRUE;
    return FALSE;
}

/* The vGPU manager's view follows: the VFs' creatable lists of a GPU with
 * vGPU files in the fake sysfs tree (others have none to update). */
static void
driver_sees_instances(nvmlDevice_t device)
{
    g_autofree char *state = g_strdup_printf("%s/.fake-host/vgpu/%s.ini", sim_root(),
                                             device->addr);

    if (g_file_test(state, G_FILE_TEST_EXISTS))
        fake_host_nvidia_recompute(sim_root(), device->addr, NULL);
}

/* Called with the state lock held. */
static nvmlReturn_t
create_locked(GKeyFile *state, nvmlDevice_t device, unsigned int profile_id,
              const nvmlGpuInstancePlacement_t *where, nvmlGpuInstance_t *instance)
{
    const SimModel *model = gpu_model(state, device);
    const SimProfile *p = profile_by_id(model, profile_id);
    g_autoptr(GArray) existing = NULL;
    SimNvmlInstance gi;
    nvmlReturn_t ret;

    if (p == NULL || where == NULL || instance == NULL || !placement_listed(p, where))
        return NVML_ERROR_INVALID_ARGUMENT;
    if (!gpu_flag(state, device, "mig"))
        return NVML_ERROR_NOT_SUPPORTED;
    existing = sim_nvml_state_instances(state, device->addr);
    ret = instance_fits(model, existing, p, where);
    if (ret != NVML_SUCCESS)
        return ret;
    gi = (SimNvmlInstance){ lowest_free_id(existing), p->id, where->start, where->size };
    g_array_append_val(existing, gi);
    sim_nvml_state_set_instances(state, device->addr, existing);
    if (!sim_nvml_state_save(state, sim_root(), NULL))
        return NVML_ERROR_UNKNOWN;
    *instance = instance_handle(device, gi.id);
    return NVML_SUCCESS;
}

static nvmlReturn_t
create_checked(nvmlDevice_t device, unsigned int profile_id,
               const nvmlGpuInstancePlacement_t *where, nvmlGpuInstance_t *instance)
{
    SIM_DEVICE(state, device);
    return create_locked(state, device, profile_id, where, instance);
}

nvmlReturn_t
nvmlDeviceCreateGpuInstanceWithPlacement(nvmlDevice_t device, unsigned int profile_id,
                                         const nvmlGpuInstancePlacement_t *where,
                                         nvmlGpuInstance_t *instance)
{
    int fd;
    nvmlReturn_t ret;

    if (!sim_initialised)
        return NVML_ERROR_UNINITIALIZED;
    if (sim_root() == NULL)
        return NVML_ERROR_DRIVER_NOT_LOADED;
    fd = sim_nvml_state_lock(sim_root());
    ret = create_checked(device, profile_id, where, instance);
    sim_nvml_state_unlock(fd);
    if (ret == NVML_SUCCESS)
        driver_sees_instances(device);
    return ret;
}

/* The state's record of instance @h, or NULL when it is gone. */
static const SimNvmlInstance *
instance_find(GArray *existing, nvmlGpuInstance_t h, guint *at)
{
    for (guint i = 0; i < existing->len; i++)
        if (g_array_index(existing, SimNvmlInstance, i).id == h->id) {
            if (at)
                *at = i;
            return &g_array_index(existing, SimNvmlInstance, i);
        }
    return NULL;
}

nvmlReturn_t
nvmlGpuInstanceGetInfo(nvmlGpuInstance_t h, nvmlGpuInstanceInfo_t *info)
{
    nvmlDevice_t device = h ? &sim_devices[h->gpu] : NULL;
    g_autoptr(GArray) existing = NULL;
    const SimNvmlInstance *gi;

    SIM_DEVICE(state, device);
    if (info == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    existing = sim_nvml_state_instances(state, device->addr);
    gi = instance_find(existing, h, NULL);
    if (gi == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    *info = (nvmlGpuInstanceInfo_t){ device, gi->id, gi->profile_id, { gi->start, gi->size } };
    return NVML_SUCCESS;
}

static gboolean
instance_in_use(GKeyFile *state, nvmlDevice_t device, unsigned int id)
{
    g_autofree char *value = gpu_get(state, device, "in_use");
    g_auto(GStrv) ids = g_strsplit(value ? value : "", ";", -1);

    for (guint i = 0; ids[i]; i++)
        if (*ids[i] && (unsigned int)atoi(ids[i]) == id)
            return TRUE;
    return FALSE;
}

static nvmlReturn_t
destroy_locked(GKeyFile *state, nvmlDevice_t device, nvmlGpuInstance_t h)
{
    g_autoptr(GArray) existing = sim_nvml_state_instances(state, device->addr);
    guint at;

    if (instance_find(existing, h, &at) == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (instance_in_use(state, device, h->id))
        return NVML_ERROR_IN_USE;
    g_array_remove_index(existing, at);
    sim_nvml_state_set_instances(state, device->addr, existing);
    return sim_nvml_state_save(state, sim_root(), NULL) ? NVML_SUCCESS : NVML_ERROR_UNKNOWN;
}

static nvmlReturn_t
destroy_checked(nvmlDevice_t device, nvmlGpuInstance_t h)
{
    SIM_DEVICE(state, device);
    return destroy_locked(state, device, h);
}

nvmlReturn_t
nvmlGpuInstanceDestroy(nvmlGpuInstance_t h)
{
    nvmlDevice_t device = h ? &sim_devices[h->gpu] : NULL;
    int fd;
    nvmlReturn_t ret;

    if (!sim_initialised)
        return NVML_ERROR_UNINITIALIZED;
    if (sim_root() == NULL)
        return NVML_ERROR_DRIVER_NOT_LOADED;
    fd = sim_nvml_state_lock(sim_root());
    ret = destroy_checked(device, h);
    sim_nvml_state_unlock(fd);
    if (ret == NVML_SUCCESS)
        driver_sees_instances(device);
    return ret;
}

/* ---- vGPU types ------------------------------------------------------------------------ */

typedef struct {
    unsigned int id;
    char *name;
    unsigned long long fb_mb;
} SimVgpuType;

static void
vgpu_type_clear(gpointer data)
{
    g_free(((SimVgpuType *)data)->name);
}

/* Every [gpu] group's vgpu_types, as one table: NVML's type ids are global. */
static GArray *
vgpu_types_all(GKeyFile *state, const char *only_addr)
{
    g_autoptr(GPtrArray) gpus = sim_gpus(state);
    GArray *out = g_array_new(FALSE, TRUE, sizeof(SimVgpuType));

    g_array_set_clear_func(out, vgpu_type_clear);

    for (guint g = 0; g < gpus->len; g++) {
        const char *addr = g_ptr_array_index(gpus, g);
        g_autofree char *group = g_strdup_printf("gpu %s", addr);
        g_autofree char *text = g_key_file_get_string(state, group, "vgpu_types", NULL);
        g_auto(GStrv) items = g_strsplit(text ? text : "", ";", -1);

        if (only_addr && strcmp(addr, only_addr) != 0)
            continue;
        for (guint i = 0; items[i]; i++) {
            g_auto(GStrv) f = g_strsplit(items[i], ":", 3);
            SimVgpuType t;

            if (g_strv_length(f) != 3)
                continue;
            t = (SimVgpuType){ (unsigned int)atoi(f[0]), g_strdup(f[1]),
                               g_ascii_strtoull(f[2], NULL, 10) };
            g_array_append_val(out, t);
        }
    }
    return out;
}


/* Is @name listed in some VF's nvidia/creatable_vgpu_types of GPU @addr? */
static gboolean
creatable_in_sysfs(const char *addr, const char *name)
{
    g_autofree char *dir = g_build_filename(sim_root(), "bus/pci/devices", addr, NULL);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *entry;

    while (d && (entry = g_dir_read_name(d))) {
        g_autofree char *path = NULL, *text = NULL;

        if (!g_str_has_prefix(entry, "virtfn"))
            continue;
        path = g_build_filename(dir, entry, "nvidia", "creatable_vgpu_types", NULL);
        if (g_file_get_contents(path, &text, NULL, NULL) && strstr(text, name))
            return TRUE;
    }
    return FALSE;
}

static nvmlReturn_t
vgpus_list(nvmlDevice_t device, unsigned int *count, nvmlVgpuTypeId_t *ids, gboolean creatable)
{
    g_autoptr(GArray) types = NULL;
    g_autofree char *mode = NULL;
    unsigned int n = 0;

    SIM_DEVICE(state, device);
    if (count == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    mode = gpu_get(state, device, "virtualization");
    if (mode && strcmp(mode, "host-vgpu") != 0)
        return NVML_ERROR_NOT_SUPPORTED;
    types = vgpu_types_all(state, device->addr);
    for (guint i = 0; i < types->len; i++) {
        const SimVgpuType *t = &g_array_index(types, SimVgpuType, i);
        if (creatable && !creatable_in_sysfs(device->addr, t->name))
            continue;
        if (ids && n < *count)
            ids[n] = t->id;
        n++;
    }
    if (n > *count) {
        *count = n;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    *count = n;
    return NVML_SUCCESS;
}

nvmlReturn_t
nvmlDeviceGetSupportedVgpus(nvmlDevice_t device, unsigned int *count, nvmlVgpuTypeId_t *ids)
{
    return vgpus_list(device, count, ids, FALSE);
}

nvmlReturn_t
nvmlDeviceGetCreatableVgpus(nvmlDevice_t device, unsigned int *count, nvmlVgpuTypeId_t *ids)
{
    return vgpus_list(device, count, ids, TRUE);
}

static const SimVgpuType *
vgpu_type_find(GArray *types, nvmlVgpuTypeId_t id)
{
    for (guint i = 0; i < types->len; i++)
        if (g_array_index(types, SimVgpuType, i).id == id)
            return &g_array_index(types, SimVgpuType, i);
    return NULL;
}

nvmlReturn_t
nvmlVgpuTypeGetName(nvmlVgpuTypeId_t id, char *name, unsigned int *size)
{
    g_autoptr(GArray) types = NULL;
    const SimVgpuType *t;

    SIM_ENTER(state);
    types = vgpu_types_all(state, NULL);
    t = vgpu_type_find(types, id);
    if (t == NULL || size == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    if (strlen(t->name) + 1 > *size) {
        *size = (unsigned int)strlen(t->name) + 1;
        return NVML_ERROR_INSUFFICIENT_SIZE;
    }
    *size = (unsigned int)strlen(t->name) + 1;
    return copy_string(t->name, name, *size);
}

nvmlReturn_t
nvmlVgpuTypeGetFramebufferSize(nvmlVgpuTypeId_t id, unsigned long long *bytes)
{
    g_autoptr(GArray) types = NULL;
    const SimVgpuType *t;

    SIM_ENTER(state);
    types = vgpu_types_all(state, NULL);
    t = vgpu_type_find(types, id);
    if (t == NULL || bytes == NULL)
        return NVML_ERROR_INVALID_ARGUMENT;
    *bytes = t->fb_mb * 1024 * 1024;
    return NVML_SUCCESS;
}

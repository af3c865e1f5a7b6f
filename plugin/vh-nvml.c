/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-nvml: NVML loaded on first use; see the header. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dlinfo() */
#endif
#include "config.h"
#include "vh-nvml.h"
#include "vh-error.h"
#include "vh-nvml-abi.h"
#include "vh-mig.h"

#include <dlfcn.h>
#include <link.h>
#include <stdio.h>
#include <string.h>

#define VH_NVML_SONAME "libnvidia-ml.so.1"

/* The entry points; NULL where this driver's NVML lacks one (old drivers
 * have no heterogeneous mode, for instance): calling it then fails with
 * NVML_ERROR_FUNCTION_NOT_FOUND's sentence. */
typedef struct {
    nvmlInit_v2_fn init;
    nvmlShutdown_fn shutdown;
    nvmlErrorString_fn error_string;
    nvmlSystemGetDriverVersion_fn driver_version;
    nvmlDeviceGetCount_v2_fn count;
    nvmlDeviceGetHandleByIndex_v2_fn by_index;
    nvmlDeviceGetHandleByPciBusId_v2_fn by_bus_id;
    nvmlDeviceGetName_fn name;
    nvmlDeviceGetPciInfo_v3_fn pci_info;
    nvmlDeviceGetMigMode_fn mig_mode;
    nvmlDeviceGetGpuInstanceProfileInfo_fn profile_info;
    nvmlDeviceGetGpuInstanceProfileInfoV_fn profile_info_v;
    nvmlDeviceGetGpuInstancePossiblePlacements_v2_fn placements;
    nvmlDeviceGetGpuInstanceRemainingCapacity_fn remaining;
    nvmlDeviceGetGpuInstances_fn instances;
    nvmlDeviceCreateGpuInstanceWithPlacement_fn create;
    nvmlGpuInstanceDestroy_fn destroy;
    nvmlGpuInstanceGetInfo_fn instance_info;
    nvmlDeviceGetVirtualizationMode_fn virt_mode;
    nvmlDeviceGetVgpuHeterogeneousMode_fn hetero_mode;
    nvmlDeviceSetVgpuHeterogeneousMode_fn set_hetero_mode;
    nvmlDeviceGetVgpuTypeSupportedPlacements_fn supported_placements;
    nvmlDeviceGetVgpuTypeCreatablePlacements_fn creatable_placements;
    nvmlDeviceGetSupportedVgpus_fn supported;
    nvmlDeviceGetCreatableVgpus_fn creatable;
    nvmlVgpuTypeGetName_fn type_name;
    nvmlVgpuTypeGetFramebufferSize_fn type_fb;
} NvmlApi;

struct _VhNvml {
    const NvmlApi *api;
};

static char *library_override;
static char *library_loaded; /* the file dlopen() found, once loaded */

void
vh_nvml_set_library(const char *path)
{
    g_free(library_override);
    library_override = g_strdup(path);
}

static const char *
library_path(void)
{
    const char *env = g_getenv("VH_NVML_LIBRARY");

    if (env && *env)
        return env;
    return library_override ? library_override : VH_NVML_SONAME;
}

#define NVML_SYM(lib, api, field, symbol) \
    ((api)->field = (__typeof__((api)->field))dlsym((lib), (symbol)))

static void
api_resolve(void *lib, NvmlApi *api)
{
    NVML_SYM(lib, api, init, "nvmlInit_v2");
    NVML_SYM(lib, api, shutdown, "nvmlShutdown");
    NVML_SYM(lib, api, error_string, "nvmlErrorString");
    NVML_SYM(lib, api, driver_version, "nvmlSystemGetDriverVersion");
    NVML_SYM(lib, api, count, "nvmlDeviceGetCount_v2");
    NVML_SYM(lib, api, by_index, "nvmlDeviceGetHandleByIndex_v2");
    NVML_SYM(lib, api, by_bus_id, "nvmlDeviceGetHandleByPciBusId_v2");
    NVML_SYM(lib, api, name, "nvmlDeviceGetName");
    NVML_SYM(lib, api, pci_info, "nvmlDeviceGetPciInfo_v3");
    NVML_SYM(lib, api, mig_mode, "nvmlDeviceGetMigMode");
    NVML_SYM(lib, api, profile_info, "nvmlDeviceGetGpuInstanceProfileInfo");
    NVML_SYM(lib, api, profile_info_v, "nvmlDeviceGetGpuInstanceProfileInfoV");
    NVML_SYM(lib, api, placements, "nvmlDeviceGetGpuInstancePossiblePlacements_v2");
    NVML_SYM(lib, api, remaining, "nvmlDeviceGetGpuInstanceRemainingCapacity");
    NVML_SYM(lib, api, instances, "nvmlDeviceGetGpuInstances");
    NVML_SYM(lib, api, create, "nvmlDeviceCreateGpuInstanceWithPlacement");
    NVML_SYM(lib, api, destroy, "nvmlGpuInstanceDestroy");
    NVML_SYM(lib, api, instance_info, "nvmlGpuInstanceGetInfo");
    NVML_SYM(lib, api, virt_mode, "nvmlDeviceGetVirtualizationMode");
    NVML_SYM(lib, api, hetero_mode, "nvmlDeviceGetVgpuHeterogeneousMode");
    NVML_SYM(lib, api, set_hetero_mode, "nvmlDeviceSetVgpuHeterogeneousMode");
    NVML_SYM(lib, api, supported_placements, "nvmlDeviceGetVgpuTypeSupportedPlacements");
    NVML_SYM(lib, api, creatable_placements, "nvmlDeviceGetVgpuTypeCreatablePlacements");
    NVML_SYM(lib, api, supported, "nvmlDeviceGetSupportedVgpus");
    NVML_SYM(lib, api, creatable, "nvmlDeviceGetCreatableVgpus");
    NVML_SYM(lib, api, type_name, "nvmlVgpuTypeGetName");
    NVML_SYM(lib, api, type_fb, "nvmlVgpuTypeGetFramebufferSize");
}

/* Loaded once per process; the reason it failed is kept for every caller. */
static const NvmlApi *
api_load(GError **error)
{
    static gsize loaded;
    static NvmlApi api;
    static char *failure;

    if (g_once_init_enter(&loaded)) {
        const char *path = library_path();
        void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        const char *why = lib ? "loaded" : dlerror(); /* dlerror() clears itself */

        g_debug("nvml: dlopen(%s): %s", path, why);
        if (lib == NULL)
            failure = g_strdup_printf("NVML not available: cannot load %s (%s); MIG and "
                                      "vGPU type queries need NVIDIA's driver (its "
                                      "libnvidia-ml.so.1); what sysfs shows still works",
                                      path, why ? why : "no reason given");
        else {
            struct link_map *map = NULL;

            library_loaded = g_strdup(dlinfo(lib, RTLD_DI_LINKMAP, &map) == 0 && map ? map->l_name
                                                                                   : path);
            api_resolve(lib, &api);
            if (!api.init || !api.shutdown || !api.error_string || !api.by_bus_id)
                failure = g_strdup_printf("NVML not available: %s lacks nvmlInit_v2, "
                                          "nvmlShutdown, nvmlErrorString or "
                                          "nvmlDeviceGetHandleByPciBusId_v2 (a driver "
                                          "older than R450?)", path);
        }
        g_once_init_leave(&loaded, 1);
    }
    if (failure) {
        g_set_error_literal(error, VH_ERROR, VH_ERROR_UNSUPPORTED, failure);
        return NULL;
    }
    return &api;
}

static const struct {
    int code;
    const char *name;
    const char *sentence;
} nvml_returns[] = {
    { NVML_SUCCESS, "NVML_SUCCESS", "success" },
    { NVML_ERROR_UNINITIALIZED, "NVML_ERROR_UNINITIALIZED",
      "NVML was not initialised (a bug in the caller)" },
    { NVML_ERROR_INVALID_ARGUMENT, "NVML_ERROR_INVALID_ARGUMENT",
      "the driver rejected an argument (unknown profile, placement or device)" },
    { NVML_ERROR_NOT_SUPPORTED, "NVML_ERROR_NOT_SUPPORTED",
      "this GPU or driver does not support it (MIG off, no vGPU manager, or a GPU without the feature)" },
    { NVML_ERROR_NO_PERMISSION, "NVML_ERROR_NO_PERMISSION",
      "permission denied: run as root" },
    { NVML_ERROR_ALREADY_INITIALIZED, "NVML_ERROR_ALREADY_INITIALIZED",
      "NVML was already initialised" },
    { NVML_ERROR_NOT_FOUND, "NVML_ERROR_NOT_FOUND",
      "not found: no such GPU, GPU instance or vGPU type" },
    { NVML_ERROR_INSUFFICIENT_SIZE, "NVML_ERROR_INSUFFICIENT_SIZE",
      "a buffer was too small (a bug in the caller)" },
    { NVML_ERROR_INSUFFICIENT_POWER, "NVML_ERROR_INSUFFICIENT_POWER",
      "the GPU's power cables are not connected properly" },
    { NVML_ERROR_DRIVER_NOT_LOADED, "NVML_ERROR_DRIVER_NOT_LOADED",
      "NVIDIA's kernel driver is not loaded: modprobe nvidia (or the vGPU manager)" },
    { NVML_ERROR_TIMEOUT, "NVML_ERROR_TIMEOUT", "the driver timed out: try again" },
    { NVML_ERROR_IRQ_ISSUE, "NVML_ERROR_IRQ_ISSUE",
      "the kernel reported an interrupt problem with the GPU: check dmesg" },
    { NVML_ERROR_LIBRARY_NOT_FOUND, "NVML_ERROR_LIBRARY_NOT_FOUND",
      "a library NVML needs was not found: reinstall NVIDIA's driver" },
    { NVML_ERROR_FUNCTION_NOT_FOUND, "NVML_ERROR_FUNCTION_NOT_FOUND",
      "this driver's NVML lacks the function: a newer driver is needed" },
    { NVML_ERROR_CORRUPTED_INFOROM, "NVML_ERROR_CORRUPTED_INFOROM",
      "the GPU's infoROM is corrupted: contact the vendor" },
    { NVML_ERROR_GPU_IS_LOST, "NVML_ERROR_GPU_IS_LOST",
      "the GPU fell off the bus or is otherwise inaccessible: check dmesg, a reset or reboot is needed" },
    { NVML_ERROR_RESET_REQUIRED, "NVML_ERROR_RESET_REQUIRED",
      "the GPU needs a reset (nvidia-smi -r) or a reboot first" },
    { NVML_ERROR_OPERATING_SYSTEM, "NVML_ERROR_OPERATING_SYSTEM",
      "the operating system refused the call: check dmesg" },
    { NVML_ERROR_LIB_RM_VERSION_MISMATCH, "NVML_ERROR_LIB_RM_VERSION_MISMATCH",
      "libnvidia-ml and the loaded kernel driver are different versions: reboot or reload the driver" },
    { NVML_ERROR_IN_USE, "NVML_ERROR_IN_USE",
      "in use: a process, compute instance or vGPU holds it; stop it first" },
    { NVML_ERROR_MEMORY, "NVML_ERROR_MEMORY", "the driver ran out of memory" },
    { NVML_ERROR_NO_DATA, "NVML_ERROR_NO_DATA", "the driver has no data for this" },
    { NVML_ERROR_VGPU_ECC_NOT_SUPPORTED, "NVML_ERROR_VGPU_ECC_NOT_SUPPORTED",
      "vGPU does not run with ECC on: disable ECC (nvidia-smi -e 0) and reboot" },
    { NVML_ERROR_INSUFFICIENT_RESOURCES, "NVML_ERROR_INSUFFICIENT_RESOURCES",
      "no room on the GPU: the slices are taken by other GPU instances or the profile's limit is reached" },
    { NVML_ERROR_FREQ_NOT_SUPPORTED, "NVML_ERROR_FREQ_NOT_SUPPORTED",
      "the clock frequency is not supported" },
    { NVML_ERROR_ARGUMENT_VERSION_MISMATCH, "NVML_ERROR_ARGUMENT_VERSION_MISMATCH",
      "the driver does not know this structure version (older or newer driver)" },
    { NVML_ERROR_DEPRECATED, "NVML_ERROR_DEPRECATED",
      "the driver no longer supports this call" },
    { NVML_ERROR_NOT_READY, "NVML_ERROR_NOT_READY",
      "the GPU is not ready yet: try again in a moment" },
    { NVML_ERROR_GPU_NOT_FOUND, "NVML_ERROR_GPU_NOT_FOUND",
      "NVML sees no such GPU (not bound to nvidia, or passed to a VM)" },
    { NVML_ERROR_INVALID_STATE, "NVML_ERROR_INVALID_STATE",
      "the GPU is in a state that does not allow it (MIG mode, vGPU mode or a pending reset)" },
    { NVML_ERROR_UNKNOWN, "NVML_ERROR_UNKNOWN", "NVML reported an unknown error: check dmesg" },
};

static guint
return_index(int code)
{
    for (guint i = 0; i < G_N_ELEMENTS(nvml_returns); i++)
        if (nvml_returns[i].code == code)
            return i;
    return G_MAXUINT;
}

const char *
vh_nvml_return_sentence(int nvml_return)
{
    guint i = return_index(nvml_return);

    return i == G_MAXUINT ? "NVML returned a code this tool does not know (a newer driver?)"
                          : nvml_returns[i].sentence;
}

const char *
vh_nvml_return_name(int nvml_return)
{
    guint i = return_index(nvml_return);

    return i == G_MAXUINT ? "NVML error" : nvml_returns[i].name;
}

static VhErrorCode
return_error_code(nvmlReturn_t ret)
{
    switch (ret) {
    case NVML_ERROR_INVALID_ARGUMENT:
        return VH_ERROR_INVALID;
    case NVML_ERROR_NOT_SUPPORTED:
    case NVML_ERROR_FUNCTION_NOT_FOUND:
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH:
        return VH_ERROR_UNSUPPORTED;
    case NVML_ERROR_NOT_FOUND:
    case NVML_ERROR_GPU_NOT_FOUND:
        return VH_ERROR_NOT_FOUND;
    case NVML_ERROR_IN_USE:
        return VH_ERROR_BUSY;
    case NVML_ERROR_INSUFFICIENT_RESOURCES:
        return VH_ERROR_NO_CAPACITY;
    default:
        return VH_ERROR_IO;
    }
}

/* "nvmlX on ADDR: NAME (N): sentence"; ADDR may be NULL. */
static gboolean
nvml_check(nvmlReturn_t ret, const char *call, const char *addr, GError **error)
{
    if (ret == NVML_SUCCESS)
        return TRUE;
    g_debug("nvml: %s(%s) = %d", call, addr ? addr : "", ret);
    g_set_error(error, VH_ERROR, return_error_code(ret), "%s%s%s: %s (%d): %s", call,
                addr ? " on " : "", addr ? addr : "", vh_nvml_return_name(ret), ret,
                vh_nvml_return_sentence(ret));
    return FALSE;
}

/* A missing symbol reads as NVML_ERROR_FUNCTION_NOT_FOUND. */
#define NVML_CALL(fn, ...) ((fn) ? (fn)(__VA_ARGS__) : NVML_ERROR_FUNCTION_NOT_FOUND)

VhNvml *
vh_nvml_open(GError **error)
{
    const NvmlApi *api = api_load(error);
    VhNvml *nvml;

    if (api == NULL)
        return NULL;
    if (!nvml_check(api->init(), "nvmlInit_v2", NULL, error)) {
        g_prefix_error(error, "NVML not available: ");
        return NULL;
    }
    nvml = g_new0(VhNvml, 1);
    nvml->api = api;
    return nvml;
}

const char *
vh_nvml_library(VhNvml *nvml)
{
    (void)nvml;
    return library_loaded;
}

void
vh_nvml_close(VhNvml *nvml)
{
    if (nvml == NULL)
        return;
    nvml->api->shutdown();
    g_free(nvml);
}

void
vh_nvml_gi_profile_free(VhNvmlGiProfile *profile)
{
    if (profile == NULL)
        return;
    g_free(profile->name);
    if (profile->placements)
        g_array_unref(profile->placements);
    g_free(profile->placements_error);
    g_free(profile);
}

void
vh_nvml_vgpu_type_free(VhNvmlVgpuType *type)
{
    if (type == NULL)
        return;
    g_free(type->name);
    g_free(type);
}

char *
vh_nvml_driver_version(VhNvml *nvml, GError **error)
{
    char version[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE] = "";

    if (!nvml_check(NVML_CALL(nvml->api->driver_version, version, sizeof(version)),
                    "nvmlSystemGetDriverVersion", NULL, error))
        return NULL;
    version[sizeof(version) - 1] = '\0';
    return g_strdup(version);
}

gboolean
vh_nvml_device_count(VhNvml *nvml, guint *count, GError **error)
{
    unsigned int n = 0;

    if (!nvml_check(NVML_CALL(nvml->api->count, &n), "nvmlDeviceGetCount_v2", NULL, error))
        return FALSE;
    *count = n;
    return TRUE;
}

/* NVML takes "DDDD:BB:SS.F" with a 4- or 8-digit domain. */
static gboolean
device_handle(VhNvml *nvml, const char *addr, nvmlDevice_t *device, GError **error)
{
    return nvml_check(nvml->api->by_bus_id(addr, device), "nvmlDeviceGetHandleByPciBusId_v2",
                      addr, error);
}

static gboolean
device_pci(VhNvml *nvml, nvmlDevice_t device, const char *what, nvmlPciInfo_t *pci,
           GError **error)
{
    memset(pci, 0, sizeof(*pci));
    return nvml_check(NVML_CALL(nvml->api->pci_info, device, pci), "nvmlDeviceGetPciInfo_v3",
                      what, error);
}

/* NVML's busId "00000000:41:00.0" as the library's "0000:41:00.0". */
static char *
bus_id_to_address(const char *bus_id, GError **error)
{
    unsigned int domain, bus, slot, function;
    char end;

    if (sscanf(bus_id, "%x:%x:%x.%x%c", &domain, &bus, &slot, &function, &end) != 4 ||
        domain > 0xffff || bus > 0xff || slot > 0x1f || function > 7) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "NVML reported PCI bus id '%s', which is not DOMAIN:BUS:SLOT.FUNCTION", bus_id);
        return NULL;
    }
    return g_strdup_printf("%04x:%02x:%02x.%x", domain, bus, slot, function);
}

char *
vh_nvml_device_address(VhNvml *nvml, guint index, GError **error)
{
    nvmlDevice_t device = NULL;
    nvmlPciInfo_t pci;
    g_autofree char *what = g_strdup_printf("GPU index %u", index);

    if (!nvml_check(NVML_CALL(nvml->api->by_index, index, &device),
                    "nvmlDeviceGetHandleByIndex_v2", what, error) ||
        !device_pci(nvml, device, what, &pci, error))
        return NULL;
    pci.busId[sizeof(pci.busId) - 1] = '\0';
    return bus_id_to_address(pci.busId, error);
}

char *
vh_nvml_device_name(VhNvml *nvml, const char *addr, GError **error)
{
    nvmlDevice_t device = NULL;
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE] = "";

    if (!device_handle(nvml, addr, &device, error) ||
        !nvml_check(NVML_CALL(nvml->api->name, device, name, sizeof(name)), "nvmlDeviceGetName",
                    addr, error))
        return NULL;
    name[sizeof(name) - 1] = '\0';
    return g_strdup(name);
}

gboolean
vh_nvml_device_pci_ids(VhNvml *nvml, const char *addr, guint *vendor, guint *device_id,
                       GError **error)
{
    nvmlDevice_t device = NULL;
    nvmlPciInfo_t pci;

    if (!device_handle(nvml, addr, &device, error) || !device_pci(nvml, device, addr, &pci, error))
        return FALSE;
    *vendor = pci.pciDeviceId & 0xffff;
    *device_id = pci.pciDeviceId >> 16;
    return TRUE;
}

gboolean
vh_nvml_virtualization_mode(VhNvml *nvml, const char *addr, VhNvmlVirtMode *mode, GError **error)
{
    nvmlDevice_t device = NULL;
    nvmlGpuVirtualizationMode_t value = NVML_GPU_VIRTUALIZATION_MODE_NONE;

    if (!device_handle(nvml, addr, &device, error) ||
        !nvml_check(NVML_CALL(nvml->api->virt_mode, device, &value),
                    "nvmlDeviceGetVirtualizationMode", addr, error))
        return FALSE;
    *mode = (VhNvmlVirtMode)value;
    return TRUE;
}

const char *
vh_nvml_virt_mode_name(VhNvmlVirtMode mode)
{
    switch (mode) {
    case VH_NVML_VIRT_NONE:
        return "none";
    case VH_NVML_VIRT_PASSTHROUGH:
        return "pass-through";
    case VH_NVML_VIRT_VGPU:
        return "vgpu-guest";
    case VH_NVML_VIRT_HOST_VGPU:
        return "host-vgpu";
    case VH_NVML_VIRT_HOST_VSGA:
        return "host-vsga";
    }
    return "unknown";
}

gboolean
vh_nvml_mig_mode(VhNvml *nvml, const char *addr, gboolean *current, gboolean *pending,
                 GError **error)
{
    nvmlDevice_t device = NULL;
    unsigned int cur = 0, pend = 0;

    if (!device_handle(nvml, addr, &device, error) ||
        !nvml_check(NVML_CALL(nvml->api->mig_mode, device, &cur, &pend), "nvmlDeviceGetMigMode",
                    addr, error))
        return FALSE;
    *current = cur == NVML_DEVICE_MIG_ENABLE;
    if (pending)
        *pending = pend == NVML_DEVICE_MIG_ENABLE;
    return TRUE;
}

gboolean
vh_nvml_heterogeneous_mode(VhNvml *nvml, const char *addr, gboolean *enabled, GError **error)
{
    nvmlDevice_t device = NULL;
    nvmlVgpuHeterogeneousMode_v1_t mode = { .version = nvmlVgpuHeterogeneousMode_v1 };

    if (!device_handle(nvml, addr, &device, error) ||
        !nvml_check(NVML_CALL(nvml->api->hetero_mode, device, &mode),
                    "nvmlDeviceGetVgpuHeterogeneousMode", addr, error))
        return FALSE;
    *enabled = mode.mode != 0;
    return TRUE;
}

gboolean
vh_nvml_set_heterogeneous_mode(VhNvml *nvml, const char *addr, gboolean enabled,
                               GError **error)
{
    nvmlDevice_t device = NULL;
    nvmlVgpuHeterogeneousMode_v1_t mode = { .version = nvmlVgpuHeterogeneousMode_v1,
                                            .mode = enabled ? 1 : 0 };

    g_debug("nvml: %s: nvmlDeviceSetVgpuHeterogeneousMode(%u)", addr, mode.mode);
    return device_handle(nvml, addr, &device, error) &&
           nvml_check(NVML_CALL(nvml->api->set_hetero_mode, device, &mode),
                      "nvmlDeviceSetVgpuHeterogeneousMode", addr, error);
}

/* One placement query with a buffer of @count ids; v2 asks about @mode,
 * a driver that does not know v2 is asked with v1 (its current mode). */
static nvmlReturn_t
placements_call(VhNvml *nvml, nvmlDevice_t device, guint type_id, gboolean creatable,
                gboolean mixed, unsigned int *ids, unsigned int *count, unsigned int *size)
{
    __typeof__(nvml->api->supported_placements) fn =
        creatable ? nvml->api->creatable_placements : nvml->api->supported_placements;
    nvmlVgpuPlacementList_v2_t v2 = {
        .version = nvmlVgpuPlacementList_v2, .count = *count, .placementIds = ids,
        .mode = mixed ? NVML_VGPU_PGPU_HETEROGENEOUS_MODE : NVML_VGPU_PGPU_HOMOGENEOUS_MODE,
    };
    nvmlVgpuPlacementList_v1_t v1 = { .version = nvmlVgpuPlacementList_v1, .count = *count,
                                      .placementIds = ids };
    nvmlReturn_t ret = NVML_CALL(fn, device, type_id, &v2);

    if (ret != NVML_ERROR_ARGUMENT_VERSION_MISMATCH) {
        *count = v2.count;
        *size = v2.placementSize;
        return ret;
    }
    ret = NVML_CALL(fn, device, type_id, &v1);
    *count = v1.count;
    *size = v1.placementSize;
    return ret;
}

GArray *
vh_nvml_vgpu_placements(VhNvml *nvml, const char *addr, guint type_id, gboolean creatable,
                        gboolean mixed, guint *placement_size, GError **error)
{
    nvmlDevice_t device = NULL;
    unsigned int size = 0, count = 64, room = count;
    g_autofree unsigned int *ids = g_new0(unsigned int, room);
    nvmlReturn_t ret;
    GArray *out;

    if (!device_handle(nvml, addr, &device, error))
        return NULL;
    ret = placements_call(nvml, device, type_id, creatable, mixed, ids, &count, &size);
    if (ret == NVML_ERROR_INSUFFICIENT_SIZE && count > 0 && count <= 4096) {
        g_free(ids);
        room = count;
        ids = g_new0(unsigned int, room);
        ret = placements_call(nvml, device, type_id, creatable, mixed, ids, &count, &size);
    }
    if (!nvml_check(ret, creatable ? "nvmlDeviceGetVgpuTypeCreatablePlacements"
                                   : "nvmlDeviceGetVgpuTypeSupportedPlacements", addr, error))
        return NULL;
    out = g_array_sized_new(FALSE, FALSE, sizeof(guint), MIN(count, room));
    g_array_append_vals(out, ids, MIN(count, room));
    *placement_size = size;
    return out;
}

GArray *
vh_nvml_gi_placements(VhNvml *nvml, const char *addr, guint profile_id, GError **error)
{
    nvmlDevice_t device = NULL;
    nvmlGpuInstancePlacement_t placements[32];
    unsigned int count = G_N_ELEMENTS(placements);
    GArray *out;

    if (!device_handle(nvml, addr, &device, error) ||
        !nvml_check(NVML_CALL(nvml->api->placements, device, profile_id, placements, &count),
                    "nvmlDeviceGetGpuInstancePossiblePlacements_v2", addr, error))
        return NULL;
    out = g_array_new(FALSE, FALSE, sizeof(VhNvmlPlacement));
    for (unsigned int i = 0; i < MIN(count, G_N_ELEMENTS(placements)); i++) {
        VhNvmlPlacement p = { placements[i].start, placements[i].size };
        g_array_append_val(out, p);
    }
    return out;
}

/* The driver names a profile "MIG 1g.18gb" (seen on a real H200, driver
 * 580.159.04); nvidia-smi and vGPU type names say "1g.18gb". */
static char *
profile_name(const char *driver_name)
{
    return g_strdup(g_str_has_prefix(driver_name, "MIG ") ? driver_name + 4 : driver_name);
}

/* Profile @index by the newest structure the driver takes: v3, v2 (both
 * have the name), then the unversioned call. FALSE with @ret set. */
static gboolean
profile_info(VhNvml *nvml, nvmlDevice_t device, guint index, VhNvmlGiProfile *out,
             nvmlReturn_t *ret)
{
    nvmlGpuInstanceProfileInfo_v3_t v3 = { .version = nvmlGpuInstanceProfileInfo_v3 };
    nvmlGpuInstanceProfileInfo_v2_t v2 = { .version = nvmlGpuInstanceProfileInfo_v2 };
    nvmlGpuInstanceProfileInfo_t v1 = { 0 };

    *ret = NVML_CALL(nvml->api->profile_info_v, device, index, &v3);
    if (*ret == NVML_SUCCESS) {
        v3.name[sizeof(v3.name) - 1] = '\0';
        /* A real H200 on driver 580.159.04 answers v3 with an empty name and
         * v2 with "MIG 1g.18gb": the name from v2, else from the built-in
         * table (vh_nvml_gi_profiles). */
        if (v3.name[0] == '\0' &&
            NVML_CALL(nvml->api->profile_info_v, device, index, &v2) == NVML_SUCCESS) {
            v2.name[sizeof(v2.name) - 1] = '\0';
            g_strlcpy(v3.name, v2.name, sizeof(v3.name));
        }
        *out = (VhNvmlGiProfile){ index, v3.id, v3.name[0] ? profile_name(v3.name) : NULL,
                                  v3.sliceCount, v3.instanceCount, v3.memorySizeMB, NULL, NULL };
        return TRUE;
    }
    if (*ret == NVML_ERROR_ARGUMENT_VERSION_MISMATCH)
        *ret = NVML_CALL(nvml->api->profile_info_v, device, index, &v2);
    if (*ret == NVML_SUCCESS) {
        v2.name[sizeof(v2.name) - 1] = '\0';
        *out = (VhNvmlGiProfile){ index, v2.id, v2.name[0] ? profile_name(v2.name) : NULL,
                                  v2.sliceCount, v2.instanceCount, v2.memorySizeMB, NULL, NULL };
        return TRUE;
    }
    if (*ret != NVML_ERROR_FUNCTION_NOT_FOUND && *ret != NVML_ERROR_ARGUMENT_VERSION_MISMATCH)
        return FALSE;
    *ret = NVML_CALL(nvml->api->profile_info, device, index, &v1);
    if (*ret != NVML_SUCCESS)
        return FALSE;
    /* Old drivers give no name: vh_nvml_gi_profiles names it from the
     * built-in table, else from slices and GB (NVIDIA's names round memory
     * their own way: 71424 MiB is "71gb"). */
    *out = (VhNvmlGiProfile){ index, v1.id, NULL, v1.sliceCount, v1.instanceCount,
                              v1.memorySizeMB, NULL, NULL };
    return TRUE;
}

static void
name_unnamed_profiles(VhNvml *nvml, const char *addr, GPtrArray *profiles)
{
    g_autoptr(VhMigTable) table = NULL;
    guint vendor = 0, device_id = 0;

    if (vh_nvml_device_pci_ids(nvml, addr, &vendor, &device_id, NULL))
        table = vh_mig_table_builtin_for_device(device_id);
    for (guint i = 0; i < profiles->len; i++) {
        VhNvmlGiProfile *p = g_ptr_array_index(profiles, i);
        const VhMigProfile *known = table ? vh_mig_table_find_id(table, p->id) : NULL;

        if (p->name == NULL)
            p->name = known ? g_strdup(known->name)
                            : g_strdup_printf("%ug.%llugb", p->slices,
                                              (unsigned long long)(p->memory_mb + 1023) / 1024);
    }
}

GPtrArray *
vh_nvml_gi_profiles(VhNvml *nvml, const char *addr, GError **error)
{
    nvmlDevice_t device = NULL;
    g_autoptr(GPtrArray) profiles = g_ptr_array_new_with_free_func(
        (GDestroyNotify)vh_nvml_gi_profile_free);

    if (!device_handle(nvml, addr, &device, error))
        return NULL;
    for (guint index = 0; index < NVML_GPU_INSTANCE_PROFILE_COUNT; index++) {
        VhNvmlGiProfile *profile = g_new0(VhNvmlGiProfile, 1);
        g_autoptr(GError) local = NULL;
        nvmlReturn_t ret;

        if (!profile_info(nvml, device, index, profile, &ret)) {
            g_free(profile);
            /* A profile this GPU lacks; anything else is a real failure. */
            if (ret == NVML_ERROR_NOT_SUPPORTED || ret == NVML_ERROR_INVALID_ARGUMENT)
                continue;
            nvml_check(ret, "nvmlDeviceGetGpuInstanceProfileInfo", addr, error);
            return NULL;
        }
        profile->placements = vh_nvml_gi_placements(nvml, addr, profile->id, &local);
        if (local)
            profile->placements_error = g_strdup(local->message);
        g_ptr_array_add(profiles, profile);
    }
    name_unnamed_profiles(nvml, addr, profiles);
    return g_steal_pointer(&profiles);
}

gboolean
vh_nvml_gi_remaining(VhNvml *nvml, const char *addr, guint profile_id, guint *count,
                     GError **error)
{
    nvmlDevice_t device = NULL;
    unsigned int n = 0;

    if (!device_handle(nvml, addr, &device, error) ||
        !nvml_check(NVML_CALL(nvml->api->remaining, device, profile_id, &n),
                    "nvmlDeviceGetGpuInstanceRemainingCapacity", addr, error))
        return FALSE;
    *count = n;
    return TRUE;
}

/* The instance handles of one profile (at most 8: 8 memory slices). */
static gboolean
profile_instances(VhNvml *nvml, nvmlDevice_t device, const char *addr, guint profile_id,
                  nvmlGpuInstance_t *handles, unsigned int *count, GError **error)
{
    *count = 0;
    return nvml_check(NVML_CALL(nvml->api->instances, device, profile_id, handles, count),
                      "nvmlDeviceGetGpuInstances", addr, error);
}

static gint
instance_compare(gconstpointer a, gconstpointer b)
{
    const VhNvmlGpuInstance *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
}

GArray *
vh_nvml_gi_list(VhNvml *nvml, const char *addr, GPtrArray *profiles, GError **error)
{
    nvmlDevice_t device = NULL;
    g_autoptr(GArray) out = g_array_new(FALSE, FALSE, sizeof(VhNvmlGpuInstance));

    if (!device_handle(nvml, addr, &device, error))
        return NULL;
    for (guint p = 0; p < profiles->len; p++) {
        const VhNvmlGiProfile *profile = g_ptr_array_index(profiles, p);
        nvmlGpuInstance_t handles[8];
        unsigned int count;

        if (!profile_instances(nvml, device, addr, profile->id, handles, &count, error))
            return NULL;
        for (unsigned int i = 0; i < MIN(count, G_N_ELEMENTS(handles)); i++) {
            nvmlGpuInstanceInfo_t info = { 0 };
            VhNvmlGpuInstance gi;

            if (!nvml_check(NVML_CALL(nvml->api->instance_info, handles[i], &info),
                            "nvmlGpuInstanceGetInfo", addr, error))
                return NULL;
            gi = (VhNvmlGpuInstance){ info.id, info.profileId, info.placement.start,
                                      info.placement.size };
            g_array_append_val(out, gi);
        }
    }
    g_array_sort(out, instance_compare);
    return g_steal_pointer(&out);
}

gboolean
vh_nvml_gi_create(VhNvml *nvml, const char *addr, guint profile_id,
                  const VhNvmlPlacement *placement, guint *instance_id, GError **error)
{
    nvmlDevice_t device = NULL;
    nvmlGpuInstancePlacement_t where = { placement->start, placement->size };
    nvmlGpuInstance_t instance = NULL;
    nvmlGpuInstanceInfo_t info = { 0 };

    g_debug("nvml: create GPU instance of profile %u at %u:%u on %s", profile_id,
            placement->start, placement->size, addr);
    if (!device_handle(nvml, addr, &device, error) ||
        !nvml_check(NVML_CALL(nvml->api->create, device, profile_id, &where, &instance),
                    "nvmlDeviceCreateGpuInstanceWithPlacement", addr, error) ||
        !nvml_check(NVML_CALL(nvml->api->instance_info, instance, &info),
                    "nvmlGpuInstanceGetInfo", addr, error))
        return FALSE;
    if (instance_id)
        *instance_id = info.id;
    return TRUE;
}

gboolean
vh_nvml_gi_destroy(VhNvml *nvml, const char *addr, guint profile_id, guint instance_id,
                   GError **error)
{
    nvmlDevice_t device = NULL;
    nvmlGpuInstance_t handles[8];
    unsigned int count;

    g_debug("nvml: destroy GPU instance %u (profile %u) on %s", instance_id, profile_id, addr);
    if (!device_handle(nvml, addr, &device, error) ||
        !profile_instances(nvml, device, addr, profile_id, handles, &count, error))
        return FALSE;
    for (unsigned int i = 0; i < MIN(count, G_N_ELEMENTS(handles)); i++) {
        nvmlGpuInstanceInfo_t info = { 0 };

        if (!nvml_check(NVML_CALL(nvml->api->instance_info, handles[i], &info),
                        "nvmlGpuInstanceGetInfo", addr, error))
            return FALSE;
        if (info.id == instance_id)
            return nvml_check(NVML_CALL(nvml->api->destroy, handles[i]), "nvmlGpuInstanceDestroy",
                              addr, error);
    }
    g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND,
                "GPU %s has no GPU instance %u of profile %u (destroyed already, or lost when "
                "sriov-manage rebound the GPU)", addr, instance_id, profile_id);
    return FALSE;
}

static VhNvmlVgpuType *
vgpu_type_read(VhNvml *nvml, nvmlVgpuTypeId_t id, const char *addr, GError **error)
{
    char name[NVML_VGPU_NAME_BUFFER_SIZE] = "";
    unsigned int size = sizeof(name);
    unsigned long long bytes = 0;
    VhNvmlVgpuType *type;

    if (!nvml_check(NVML_CALL(nvml->api->type_name, id, name, &size), "nvmlVgpuTypeGetName", addr,
                    error) ||
        !nvml_check(NVML_CALL(nvml->api->type_fb, id, &bytes), "nvmlVgpuTypeGetFramebufferSize",
                    addr, error))
        return NULL;
    name[sizeof(name) - 1] = '\0';
    type = g_new0(VhNvmlVgpuType, 1);
    type->id = id;
    type->name = g_strdup(name);
    type->framebuffer_mb = bytes / (1024 * 1024);
    return type;
}

GPtrArray *
vh_nvml_vgpu_types(VhNvml *nvml, const char *addr, gboolean creatable, GError **error)
{
    nvmlDevice_t device = NULL;
    nvmlVgpuTypeId_t ids[256];
    unsigned int count = G_N_ELEMENTS(ids);
    nvmlReturn_t ret;
    g_autoptr(GPtrArray) types = g_ptr_array_new_with_free_func(
        (GDestroyNotify)vh_nvml_vgpu_type_free);

    if (!device_handle(nvml, addr, &device, error))
        return NULL;
    ret = creatable ? NVML_CALL(nvml->api->creatable, device, &count, ids)
                    : NVML_CALL(nvml->api->supported, device, &count, ids);
    if (!nvml_check(ret, creatable ? "nvmlDeviceGetCreatableVgpus" : "nvmlDeviceGetSupportedVgpus",
                    addr, error))
        return NULL;
    for (unsigned int i = 0; i < MIN(count, G_N_ELEMENTS(ids)); i++) {
        VhNvmlVgpuType *type = vgpu_type_read(nvml, ids[i], addr, error);

        if (type == NULL)
            return NULL;
        g_ptr_array_add(types, type);
    }
    return g_steal_pointer(&types);
}

/* ---- MIG through NVML ------------------------------------------------------------ */

VhMigTable *
vh_nvml_mig_table(VhNvml *nvml, const char *addr, GError **error)
{
    g_autoptr(GPtrArray) profiles = vh_nvml_gi_profiles(nvml, addr, error);
    g_autofree char *name = NULL;
    g_autoptr(VhMigTable) table = NULL;

    if (profiles == NULL)
        return NULL;
    if (profiles->len == 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "GPU %s has no MIG GPU-instance profiles (not a MIG GPU)", addr);
        return NULL;
    }
    name = vh_nvml_device_name(nvml, addr, NULL);
    /* Every MIG GPU so far: 7 compute, 8 memory slices. */
    table = vh_mig_table_new(name ? name : addr, 7, 8);
    for (guint i = 0; i < profiles->len; i++) {
        const VhNvmlGiProfile *p = g_ptr_array_index(profiles, i);
        g_autoptr(GArray) where = g_array_new(FALSE, FALSE, sizeof(VhMigPlacement));

        for (guint j = 0; p->placements && j < p->placements->len; j++) {
            const VhNvmlPlacement *pl = &g_array_index(p->placements, VhNvmlPlacement, j);
            VhMigPlacement mp = { pl->start, pl->size };
            g_array_append_val(where, mp);
        }
        vh_mig_table_add_profile(table, p->id, p->name, p->slices, p->instance_count,
                                 p->memory_mb, (const VhMigPlacement *)where->data, where->len);
    }
    return g_steal_pointer(&table);
}

GArray *
vh_nvml_mig_instances(VhNvml *nvml, const char *addr, const VhMigTable *table, GError **error)
{
    g_autoptr(GPtrArray) profiles = g_ptr_array_new_with_free_func(
        (GDestroyNotify)vh_nvml_gi_profile_free);
    g_autoptr(GArray) list = NULL;
    GArray *out;

    /* vh_nvml_gi_list() needs only the profile ids. */
    for (guint i = 0; i < vh_mig_table_n_profiles(table); i++) {
        VhNvmlGiProfile *p = g_new0(VhNvmlGiProfile, 1);
        p->id = vh_mig_table_profile(table, i)->id;
        g_ptr_array_add(profiles, p);
    }
    list = vh_nvml_gi_list(nvml, addr, profiles, error);
    if (list == NULL)
        return NULL;
    out = g_array_sized_new(FALSE, FALSE, sizeof(VhMigInstance), list->len);
    for (guint i = 0; i < list->len; i++) {
        const VhNvmlGpuInstance *gi = &g_array_index(list, VhNvmlGpuInstance, i);
        VhMigInstance mi = { gi->id, gi->profile_id, gi->start, gi->size };
        g_array_append_val(out, mi);
    }
    return out;
}

gboolean
vh_nvml_mig_type_capacity(const char *addr, const char *vgpu_type, const guint *held,
                          guint n_held, VhMigTypeCapacity *out, GError **error)
{
    g_autoptr(VhNvml) nvml = vh_nvml_open(error);
    g_autoptr(VhMigTable) table = NULL;
    g_autoptr(GArray) instances = NULL;
    gboolean mig = FALSE;

    if (nvml == NULL || !vh_nvml_mig_mode(nvml, addr, &mig, NULL, error))
        return FALSE;
    if (!mig) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "GPU %s runs with MIG off: MIG-backed type %s needs MIG mode on "
                    "(nvidia-smi -i %s -mig 1, before sriov-manage -e)", addr, vgpu_type, addr);
        return FALSE;
    }
    table = vh_nvml_mig_table(nvml, addr, error);
    if (table == NULL)
        return FALSE;
    instances = vh_nvml_mig_instances(nvml, addr, table, error);
    if (instances == NULL)
        return FALSE;
    return vh_mig_vgpu_type_capacity(table, vgpu_type, (const VhMigInstance *)instances->data,
                                     instances->len, held, n_held, out, error);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-nvml-abi: our declarations of the NVML functions, structures and
 * constants vgpu-hook uses, written from NVIDIA's NVML API reference (the
 * library's ABI: field order, sizes, version macros). Debian has no NVML
 * header, and these are all we need. Used by plugin/vh-nvml.c (through
 * dlsym) and by the test NVML (tests/sim-nvml.c), which defines them. */
#pragma once

#include <stddef.h>

typedef int nvmlReturn_t;
enum {
    NVML_SUCCESS = 0,
    NVML_ERROR_UNINITIALIZED = 1,
    NVML_ERROR_INVALID_ARGUMENT = 2,
    NVML_ERROR_NOT_SUPPORTED = 3,
    NVML_ERROR_NO_PERMISSION = 4,
    NVML_ERROR_ALREADY_INITIALIZED = 5,
    NVML_ERROR_NOT_FOUND = 6,
    NVML_ERROR_INSUFFICIENT_SIZE = 7,
    NVML_ERROR_INSUFFICIENT_POWER = 8,
    NVML_ERROR_DRIVER_NOT_LOADED = 9,
    NVML_ERROR_TIMEOUT = 10,
    NVML_ERROR_IRQ_ISSUE = 11,
    NVML_ERROR_LIBRARY_NOT_FOUND = 12,
    NVML_ERROR_FUNCTION_NOT_FOUND = 13,
    NVML_ERROR_CORRUPTED_INFOROM = 14,
    NVML_ERROR_GPU_IS_LOST = 15,
    NVML_ERROR_RESET_REQUIRED = 16,
    NVML_ERROR_OPERATING_SYSTEM = 17,
    NVML_ERROR_LIB_RM_VERSION_MISMATCH = 18,
    NVML_ERROR_IN_USE = 19,
    NVML_ERROR_MEMORY = 20,
    NVML_ERROR_NO_DATA = 21,
    NVML_ERROR_VGPU_ECC_NOT_SUPPORTED = 22,
    NVML_ERROR_INSUFFICIENT_RESOURCES = 23,
    NVML_ERROR_FREQ_NOT_SUPPORTED = 24,
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25,
    NVML_ERROR_DEPRECATED = 26,
    NVML_ERROR_NOT_READY = 27,
    NVML_ERROR_GPU_NOT_FOUND = 28,
    NVML_ERROR_INVALID_STATE = 29,
    NVML_ERROR_UNKNOWN = 999,
};

typedef struct nvmlDevice_st *nvmlDevice_t;
typedef struct nvmlGpuInstance_st *nvmlGpuInstance_t;
typedef unsigned int nvmlVgpuTypeId_t;

#define NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE 80
#define NVML_DEVICE_NAME_V2_BUFFER_SIZE 96
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE 32
#define NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE 16
#define NVML_VGPU_NAME_BUFFER_SIZE 64

/* Versioned structures carry sizeof | version << 24 in their first field. */
#define VH_NVML_STRUCT_VERSION(type, ver) ((unsigned int)(sizeof(type) | ((ver) << 24U)))

/* nvmlDeviceGetPciInfo_v3 */
typedef struct {
    char busIdLegacy[NVML_DEVICE_PCI_BUS_ID_BUFFER_V2_SIZE];
    unsigned int domain;
    unsigned int bus;
    unsigned int device;
    unsigned int pciDeviceId;    /* device << 16 | vendor */
    unsigned int pciSubSystemId;
    char busId[NVML_DEVICE_PCI_BUS_ID_BUFFER_SIZE];
} nvmlPciInfo_t;

#define NVML_DEVICE_MIG_DISABLE 0x0
#define NVML_DEVICE_MIG_ENABLE 0x1

/* GPU-instance profile indices (the argument of ...ProfileInfo). */
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE 0x0
#define NVML_GPU_INSTANCE_PROFILE_2_SLICE 0x1
#define NVML_GPU_INSTANCE_PROFILE_3_SLICE 0x2
#define NVML_GPU_INSTANCE_PROFILE_4_SLICE 0x3
#define NVML_GPU_INSTANCE_PROFILE_7_SLICE 0x4
#define NVML_GPU_INSTANCE_PROFILE_8_SLICE 0x5
#define NVML_GPU_INSTANCE_PROFILE_6_SLICE 0x6
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1 0x7 /* +me */
#define NVML_GPU_INSTANCE_PROFILE_2_SLICE_REV1 0x8
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2 0x9 /* twice the memory */
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_GFX 0xA
#define NVML_GPU_INSTANCE_PROFILE_2_SLICE_GFX 0xB
#define NVML_GPU_INSTANCE_PROFILE_4_SLICE_GFX 0xC
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_NO_ME 0xD
#define NVML_GPU_INSTANCE_PROFILE_2_SLICE_NO_ME 0xE
#define NVML_GPU_INSTANCE_PROFILE_1_SLICE_ALL_ME 0xF
#define NVML_GPU_INSTANCE_PROFILE_2_SLICE_ALL_ME 0x10
#define NVML_GPU_INSTANCE_PROFILE_COUNT 0x11

typedef struct {
    unsigned int start;
    unsigned int size;
} nvmlGpuInstancePlacement_t;

/* nvmlDeviceGetGpuInstanceProfileInfo (no version field, no name). */
typedef struct {
    unsigned int id;
    unsigned int isP2pSupported;
    unsigned int sliceCount;
    unsigned int instanceCount;
    unsigned int multiprocessorCount;
    unsigned int copyEngineCount;
    unsigned int decoderCount;
    unsigned int encoderCount;
    unsigned int jpegCount;
    unsigned int ofaCount;
    unsigned long long memorySizeMB;
} nvmlGpuInstanceProfileInfo_t;

/* nvmlDeviceGetGpuInstanceProfileInfoV, version 2: a version first, the
 * name last. */
typedef struct {
    unsigned int version;
    unsigned int id;
    unsigned int isP2pSupported;
    unsigned int sliceCount;
    unsigned int instanceCount;
    unsigned int multiprocessorCount;
    unsigned int copyEngineCount;
    unsigned int decoderCount;
    unsigned int encoderCount;
    unsigned int jpegCount;
    unsigned int ofaCount;
    unsigned long long memorySizeMB;
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
} nvmlGpuInstanceProfileInfo_v2_t;
#define nvmlGpuInstanceProfileInfo_v2 VH_NVML_STRUCT_VERSION(nvmlGpuInstanceProfileInfo_v2_t, 2)

/* Version 3: no isP2pSupported, capabilities after the name. */
typedef struct {
    unsigned int version;
    unsigned int id;
    unsigned int sliceCount;
    unsigned int instanceCount;
    unsigned int multiprocessorCount;
    unsigned int copyEngineCount;
    unsigned int decoderCount;
    unsigned int encoderCount;
    unsigned int jpegCount;
    unsigned int ofaCount;
    unsigned long long memorySizeMB;
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE];
    unsigned int capabilities;
} nvmlGpuInstanceProfileInfo_v3_t;
#define nvmlGpuInstanceProfileInfo_v3 VH_NVML_STRUCT_VERSION(nvmlGpuInstanceProfileInfo_v3_t, 3)

typedef struct {
    nvmlDevice_t device;
    unsigned int id;
    unsigned int profileId;
    nvmlGpuInstancePlacement_t placement;
} nvmlGpuInstanceInfo_t;

typedef enum {
    NVML_GPU_VIRTUALIZATION_MODE_NONE = 0,
    NVML_GPU_VIRTUALIZATION_MODE_PASSTHROUGH = 1,
    NVML_GPU_VIRTUALIZATION_MODE_VGPU = 2,
    NVML_GPU_VIRTUALIZATION_MODE_HOST_VGPU = 3,
    NVML_GPU_VIRTUALIZATION_MODE_HOST_VSGA = 4,
} nvmlGpuVirtualizationMode_t;

typedef struct {
    unsigned int version;
    unsigned int mode; /* 0 disabled, 1 enabled */
} nvmlVgpuHeterogeneousMode_v1_t;
#define nvmlVgpuHeterogeneousMode_v1 VH_NVML_STRUCT_VERSION(nvmlVgpuHeterogeneousMode_v1_t, 1)

/* vGPU placements (R550+): a GPU in mixed-size mode is a row of slots; a
 * type takes placementSize slots at one of its placement ids (the first
 * slot). Version 2 adds the mode to ask about (IN); version 1 answers for
 * the mode the GPU runs. */
#define NVML_VGPU_PGPU_HETEROGENEOUS_MODE 0
#define NVML_VGPU_PGPU_HOMOGENEOUS_MODE 1
typedef struct {
    unsigned int version;
    unsigned int placementSize; /* OUT */
    unsigned int count;         /* IN: entries of placementIds; OUT: ids returned */
    unsigned int *placementIds;
} nvmlVgpuPlacementList_v1_t;
#define nvmlVgpuPlacementList_v1 VH_NVML_STRUCT_VERSION(nvmlVgpuPlacementList_v1_t, 1)
typedef struct {
    unsigned int version;
    unsigned int placementSize;
    unsigned int count;
    unsigned int *placementIds;
    unsigned int mode;          /* IN: NVML_VGPU_PGPU_*_MODE */
} nvmlVgpuPlacementList_v2_t;
#define nvmlVgpuPlacementList_v2 VH_NVML_STRUCT_VERSION(nvmlVgpuPlacementList_v2_t, 2)

/* The functions, as the library exports them. */
typedef nvmlReturn_t (*nvmlInit_v2_fn)(void);
typedef nvmlReturn_t (*nvmlShutdown_fn)(void);
typedef const char *(*nvmlErrorString_fn)(nvmlReturn_t result);
typedef nvmlReturn_t (*nvmlSystemGetDriverVersion_fn)(char *version, unsigned int length);
typedef nvmlReturn_t (*nvmlDeviceGetCount_v2_fn)(unsigned int *count);
typedef nvmlReturn_t (*nvmlDeviceGetHandleByIndex_v2_fn)(unsigned int index, nvmlDevice_t *device);
typedef nvmlReturn_t (*nvmlDeviceGetHandleByPciBusId_v2_fn)(const char *bus_id, nvmlDevice_t *device);
typedef nvmlReturn_t (*nvmlDeviceGetName_fn)(nvmlDevice_t device, char *name, unsigned int length);
typedef nvmlReturn_t (*nvmlDeviceGetPciInfo_v3_fn)(nvmlDevice_t device, nvmlPciInfo_t *pci);
typedef nvmlReturn_t (*nvmlDeviceGetMigMode_fn)(nvmlDevice_t device, unsigned int *current,
                                               unsigned int *pending);
typedef nvmlReturn_t (*nvmlDeviceGetGpuInstanceProfileInfo_fn)(nvmlDevice_t device, unsigned int profile,
                                                              nvmlGpuInstanceProfileInfo_t *info);
/* The V variant takes a versioned structure (v2 or v3) through a void
 * pointer here, since the version field says which. */
typedef nvmlReturn_t (*nvmlDeviceGetGpuInstanceProfileInfoV_fn)(nvmlDevice_t device, unsigned int profile,
                                                               void *info);
typedef nvmlReturn_t (*nvmlDeviceGetGpuInstancePossiblePlacements_v2_fn)(
    nvmlDevice_t device, unsigned int profile_id, nvmlGpuInstancePlacement_t *placements,
    unsigned int *count);
typedef nvmlReturn_t (*nvmlDeviceGetGpuInstanceRemainingCapacity_fn)(nvmlDevice_t device,
                                                                    unsigned int profile_id,
                                                                    unsigned int *count);
typedef nvmlReturn_t (*nvmlDeviceGetGpuInstances_fn)(nvmlDevice_t device, unsigned int profile_id,
                                                    nvmlGpuInstance_t *instances, unsigned int *count);
typedef nvmlReturn_t (*nvmlDeviceCreateGpuInstanceWithPlacement_fn)(
    nvmlDevice_t device, unsigned int profile_id, const nvmlGpuInstancePlacement_t *placement,
    nvmlGpuInstance_t *instance);
typedef nvmlReturn_t (*nvmlGpuInstanceDestroy_fn)(nvmlGpuInstance_t instance);
typedef nvmlReturn_t (*nvmlGpuInstanceGetInfo_fn)(nvmlGpuInstance_t instance, nvmlGpuInstanceInfo_t *info);
typedef nvmlReturn_t (*nvmlDeviceGetVirtualizationMode_fn)(nvmlDevice_t device,
                                                          nvmlGpuVirtualizationMode_t *mode);
typedef nvmlReturn_t (*nvmlDeviceGetVgpuHeterogeneousMode_fn)(nvmlDevice_t device,
                                                             nvmlVgpuHeterogeneousMode_v1_t *mode);
typedef nvmlReturn_t (*nvmlDeviceSetVgpuHeterogeneousMode_fn)(
    nvmlDevice_t device, const nvmlVgpuHeterogeneousMode_v1_t *mode);
/* The placement list is versioned (v1 or v2) through a void pointer, as
 * for the profile info above. */
typedef nvmlReturn_t (*nvmlDeviceGetVgpuTypeSupportedPlacements_fn)(nvmlDevice_t device,
                                                                  nvmlVgpuTypeId_t type,
                                                                  void *list);
typedef nvmlReturn_t (*nvmlDeviceGetVgpuTypeCreatablePlacements_fn)(nvmlDevice_t device,
                                                                  nvmlVgpuTypeId_t type,
                                                                  void *list);
typedef nvmlReturn_t (*nvmlDeviceGetSupportedVgpus_fn)(nvmlDevice_t device, unsigned int *count,
                                                      nvmlVgpuTypeId_t *ids);
typedef nvmlReturn_t (*nvmlDeviceGetCreatableVgpus_fn)(nvmlDevice_t device, unsigned int *count,
                                                      nvmlVgpuTypeId_t *ids);
typedef nvmlReturn_t (*nvmlVgpuTypeGetName_fn)(nvmlVgpuTypeId_t id, char *name, unsigned int *size);
typedef nvmlReturn_t (*nvmlVgpuTypeGetFramebufferSize_fn)(nvmlVgpuTypeId_t id, unsigned long long *bytes);

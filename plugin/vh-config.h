/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-config: the configuration file (GLib key file).
 *
 *   [host]
 *   sysfs_root=/sys            state_dir=/run/vgpu-hook
 *   pci_ids=/usr/share/misc/pci.ids   use_hwdb=true
 *   deny=0000:03:00.0;         addresses never touched (console GPU)
 *   vfio_dir=/dev/vfio         libvirt_run_dir=/run/libvirt/qemu
 *   allocation=pack|spread     release_driver=restore|vfio-pci
 *   lease_grace_seconds=120
 *   reset_retries=10  reset_retry_ms=1000   (undo of profiles and mdevs)
 *   manage_plain_hostdevs=false  (also prepare <hostdev>s of managed GPUs
 *                                 that no <vgpu:device> names)
 *   debug=false                (the debug trace, see vh-log.h; a loaded
 *                               file with debug=true turns it on)
 *
 *   cache_dir=/var/cache/vgpu-hook  (vGPU type tables, kept across reboots)
 *   sriov_manage=/usr/lib/nvidia/sriov-manage  (run by vgpuctl setup)
 *
 *   [gpu "0000:41:00.0"]       per SR-IOV vGPU GPU (vgpuctl setup)
 *   vfs=enabled|disabled       enable its VFs with sriov-manage -e at setup
 *   vgpu_mode=equal|mixed      equal-size (NVIDIA's default) or mixed-size
 *   mig=1g.18gb*4,3g.71gb      GPU instances setup creates (MIG mode on), or
 *   mig=on-demand              the hook creates one per MIG-backed vGPU at
 *                              prepare and destroys it at release
 *
 *   [resource "nvidia.com/A10"]
 *   kind=passthrough|sriov-vgpu|mdev
 *   selector=10de:2236         subsystem=10de:1482 (optional)
 *   address=0000:3b:00.0;...   (optional: only these devices)
 *   profile=L40S-24Q           (sriov-vgpu, mdev: the type name)
 *
 * Unknown groups and keys and malformed values are errors that name the
 * file, the line and the key: a typo in a hook's config must not silently
 * change which device a VM gets. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VH_DEFAULT_STATE_DIR "/run/vgpu-hook"
#define VH_DEFAULT_VFIO_DIR "/dev/vfio"
#define VH_DEFAULT_LIBVIRT_RUN_DIR "/run/libvirt/qemu"
#define VH_DEFAULT_CACHE_DIR "/var/cache/vgpu-hook"
#define VH_DEFAULT_SRIOV_MANAGE "/usr/lib/nvidia/sriov-manage"

typedef enum {
    VH_VGPU_MODE_EQUAL, /* NVIDIA's default: one type size at a time */
    VH_VGPU_MODE_MIXED, /* heterogeneous: placement slots, sizes may mix */
} VhVgpuMode;

const char *vh_vgpu_mode_to_string(VhVgpuMode mode);
gboolean vh_vgpu_mode_from_string(const char *text, VhVgpuMode *mode);

typedef struct {
    char *address;            /* canonical PF address */
    gboolean enable_vfs;      /* vfs=enabled */
    gboolean has_mode;        /* vgpu_mode= given */
    VhVgpuMode mode;
    char *mig_layout;         /* mig=PROFILE[*COUNT],...: checked for form only here */
    gboolean mig_on_demand;   /* mig=on-demand */
    char *mig_origin;         /* "FILE:LINE: key 'mig' in [gpu \"ADDR\"]" for later errors */
} VhGpuDecl;

typedef enum {
    VH_RESOURCE_KIND_PASSTHROUGH,
    VH_RESOURCE_KIND_SRIOV_VGPU,
    VH_RESOURCE_KIND_MDEV,
} VhResourceKind;

const char *vh_resource_kind_to_string(VhResourceKind kind);
gboolean vh_resource_kind_from_string(const char *text, VhResourceKind *kind);

typedef enum {
    VH_ALLOCATION_PACK,   /* fill GPUs already running the profile first */
    VH_ALLOCATION_SPREAD, /* prefer the least used GPU */
} VhAllocationPolicy;

typedef struct {
    char *name;               /* "nvidia.com/A10" */
    VhResourceKind kind;
    guint vendor, device;     /* selector */
    gboolean has_subsystem;
    guint subsystem_vendor, subsystem_device;
    GStrv addresses;          /* canonical addresses, or NULL for any */
    char *profile;            /* type name for sriov-vgpu and mdev */
} VhResourceDecl;

typedef struct {
    char *path;               /* file it came from, NULL for defaults */
    char *sysfs_root;
    char *state_dir;
    char *pci_ids;            /* NULL: system database */
    gboolean use_hwdb;
    GStrv deny;               /* canonical addresses */
    char *vfio_dir;
    char *libvirt_run_dir;
    VhAllocationPolicy allocation;
    gboolean release_restores_driver;
    guint lease_grace_seconds;
    guint reset_retries;
    guint reset_retry_ms;
    gboolean manage_plain_hostdevs;
    gboolean debug;
    GPtrArray *resources;     /* VhResourceDecl */
    char *cache_dir;
    char *sriov_manage;
    GPtrArray *gpus;          /* VhGpuDecl */
} VhConfig;

VhConfig *vh_config_new_default(void);
/* Parse @data (from @path, used in messages). */
VhConfig *vh_config_load_data(const char *data, gsize len, const char *path, GError **error);
/* A missing file at the default path is not an error when @optional. */
VhConfig *vh_config_load_file(const char *path, gboolean optional, GError **error);
void vh_config_free(VhConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhConfig, vh_config_free)

/* The one rule for directory options, in the file and on command lines:
 * absolute, without "..". (An empty or relative path would act on the
 * current directory or, for sysfs, fall back to the real /sys.) */
gboolean vh_config_path_is_valid(const char *path);

gboolean vh_config_is_denied(const VhConfig *config, const char *address);
/* The [gpu "ADDR"] section of @address, or NULL. */
const VhGpuDecl *vh_config_gpu(const VhConfig *config, const char *address);
/* Its configured vgpu_mode, equal when none. */
VhVgpuMode vh_config_gpu_mode(const VhConfig *config, const char *address);
/* Does GPU @address (a PF) have mig = on-demand? */
gboolean vh_config_gpu_mig_on_demand(const VhConfig *config, const char *address);
/* The profile resource @name stands for: its [resource] declaration's
 * (NULL for a declared passthrough one), else the name behind "nvidia.com/". */
const char *vh_config_resource_profile(const VhConfig *config, const char *name);

G_END_DECLS

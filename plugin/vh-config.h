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
    GPtrArray *resources;     /* VhResourceDecl */
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

G_END_DECLS

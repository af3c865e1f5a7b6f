/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-catalog: named resources built from the host model and the config.
 *
 * Which devices count: NVIDIA display/3D controllers (class 0x03) by
 * default, as whole GPUs (passthrough) unless they run vGPU (SR-IOV VFs with
 * nvidia/ files, or mdev types), in which case each vGPU profile they offer
 * is a resource; anything else only when the configuration declares it. A
 * declared resource takes its devices (and profile) away from the automatic
 * name, so declaring renames. Denied addresses never appear.
 *
 * Counting follows NVIDIA's rules for SR-IOV vGPU: a GPU runs one profile
 * size at a time (homogeneous mode) and its framebuffer caps the instances:
 * an L40S (48 GB) has 16+ VFs but offers two L40S-24Q. The framebuffer of a
 * GPU is the largest profile it lists when idle; it is remembered in the
 * state directory so that it is known while the GPU is busy too. */
#pragma once

#include <glib.h>
#include "vh-host.h"
#include "vh-vgpu-type.h"

G_BEGIN_DECLS

typedef struct {
    VhPciDevice *pf;
    GPtrArray *vfs;            /* VhPciDevice (borrowed) with vGPU files */
    GPtrArray *types;          /* VhVgpuType: every type the GPU is known to offer */
    guint framebuffer_gb;      /* 0 when unknown */
} VhVgpuGpu;

typedef struct {
    VhPciDevice *device;       /* the GPU, the VF, or the mdev parent */
    VhVgpuGpu *gpu;            /* SR-IOV: the VF's physical GPU */
    const char *mdev_type_id;  /* mdev: "nvidia-230" */
} VhResourceMember;

typedef struct {
    char *name;
    VhResourceKind kind;
    char *profile;             /* type name for vGPU kinds ("NVIDIA L40S-24Q") */
    gboolean declared;         /* from the configuration */
    gboolean name_from_fallback; /* not in the PCI IDs database: bare device id */
    GPtrArray *members;        /* VhResourceMember */
    guint capacity;
    guint allocatable;
    guint in_use;
} VhResource;

/* What leases say: device key (address, or mdev UUID) -> resource name. */
typedef GHashTable VhHolders;

typedef struct {
    VhHost *host;              /* borrowed, scanned */
    GPtrArray *resources;      /* VhResource, sorted by name */
    GHashTable *by_name;
    GHashTable *by_device;     /* address -> VhResource, built on first use */
    GPtrArray *gpus;           /* VhVgpuGpu */
} VhCatalog;

/* Build from a scanned host. @holders may be NULL (nothing leased). */
VhCatalog *vh_catalog_build(VhHost *host, VhHolders *holders, GError **error);
void vh_catalog_free(VhCatalog *catalog);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhCatalog, vh_catalog_free)

VhResource *vh_catalog_lookup(VhCatalog *catalog, const char *name);
/* The SR-IOV GPU a VF belongs to, or NULL. */
VhVgpuGpu *vh_catalog_gpu_of_vf(VhCatalog *catalog, const char *vf_address);
/* Name of the type a VF holds now (resolved GPU-wide), or NULL. */
const char *vh_catalog_vf_profile(VhCatalog *catalog, const VhPciDevice *vf);
/* The resource a device belongs to as a whole GPU or by its current profile. */
const VhResource *vh_catalog_resource_of_device(VhCatalog *catalog, const char *address);
/* Can @vf take @profile now, given what the GPU's VFs hold and @holders? */
gboolean vh_vgpu_gpu_can_take(const VhVgpuGpu *gpu, const VhPciDevice *vf,
                              const char *profile, VhHolders *holders,
                              VhCatalog *catalog, GError **error);

/* The one kind rule (hook and rewrite): an mdev resource is given by a
 * type='mdev' hostdev, the other kinds by a type='pci' one. */
gboolean vh_resource_check_hostdev_kind(const VhResource *res, gboolean mdev_hostdev,
                                        const char *source, GError **error);

G_END_DECLS

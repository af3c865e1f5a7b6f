/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-pci-device: one PCI function as sysfs shows it.
 *
 * Built from a validated address by reading bus/pci/devices/<addr>/: ids,
 * class, the bound driver and driver_override, the IOMMU group, NUMA node,
 * SR-IOV relations (physfn on a VF, virtfnN and sriov_* on a PF), NVIDIA
 * SR-IOV vGPU state (nvidia/creatable_vgpu_types, nvidia/current_vgpu_type,
 * nvidia/gpu_instance_id where the driver has it)
 * and mdev parent types. A device reads only its own directory; groups and
 * whole-host views are built by VhHost. */
#pragma once

#include <glib.h>
#include "vh-pci-address.h"
#include "vh-sysfs.h"

G_BEGIN_DECLS

#define VH_PCI_VENDOR_NVIDIA 0x10de

typedef struct {
    char address[VH_PCI_ADDRESS_STRLEN];
    guint vendor;
    guint device;
    guint subsystem_vendor;
    guint subsystem_device;
    guint class_code;           /* 24 bits: 0x030200 */
    char *driver;               /* NULL when no driver is bound */
    char *driver_override;      /* NULL when unset ("(null)" in sysfs) */
    gint iommu_group;           /* -1 without IOMMU */
    gint numa_node;             /* -1 when unknown */

    char *physfn;               /* PF address on a VF, else NULL */
    GPtrArray *virtfns;         /* VF addresses on a PF, by VF index */
    gint sriov_totalvfs;        /* -1 when not SR-IOV capable */
    gint sriov_numvfs;

    gboolean has_vgpu;          /* nvidia/creatable_vgpu_types exists */
    GPtrArray *creatable_types; /* VhVgpuType, what this VF can take now */
    guint current_vgpu_type;    /* 0 = none */
    gint gpu_instance_id;       /* nvidia/gpu_instance_id: the MIG GPU instance its
                                 * vGPU sits in (newer drivers; the driver picks it
                                 * when a type is set, ENXIO before); -1 unknown */
    char *vgpu_error;           /* why the vGPU files could not be read */

    GPtrArray *mdev_types;      /* VhMdevType when an mdev parent, else NULL */
    char *mdev_error;

    gboolean partial;           /* only the vGPU attributes were read
                                 * (vh_pci_device_load_vgpu_state) */
} VhPciDevice;

void vh_pci_device_free(VhPciDevice *dev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhPciDevice, vh_pci_device_free)

/* Load the device at @address (any case; canonicalised). */
VhPciDevice *vh_pci_device_load(VhSysfs *sysfs, const char *address, GError **error);

/* Only the SR-IOV vGPU attributes of the VF at @address (has_vgpu,
 * creatable_types, current_vgpu_type, gpu_instance_id; @partial is set):
 * what a GPU's other VFs are asked on the hook's start path, a third of the
 * reads of a whole device. */
VhPciDevice *vh_pci_device_load_vgpu_state(VhSysfs *sysfs, const char *address,
                                           GError **error);
/* Read the rest of a partial device, in place (pointers to it stay valid). */
gboolean vh_pci_device_complete(VhPciDevice *dev, VhSysfs *sysfs, GError **error);

/* Re-read only the vGPU attributes (after a profile write). */
gboolean vh_pci_device_reload_vgpu(VhPciDevice *dev, VhSysfs *sysfs, GError **error);

gboolean vh_pci_device_is_display(const VhPciDevice *dev);   /* class 0x03xxxx */
gboolean vh_pci_device_is_bridge(const VhPciDevice *dev);    /* class 0x0604xx */
gboolean vh_pci_device_is_vf(const VhPciDevice *dev);
gboolean vh_pci_device_is_pf(const VhPciDevice *dev);        /* has VFs enabled */

G_END_DECLS

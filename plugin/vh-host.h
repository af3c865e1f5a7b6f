/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-host: the host's PCI devices as one model.
 *
 * A VhHost joins a configuration with a sysfs root. Devices are loaded on
 * demand (the hook touches only the devices of one domain and their IOMMU
 * group), or all at once by vh_host_scan() for list/resources/validate. The
 * PCI IDs database is opened on the first name lookup only. */
#pragma once

#include <glib.h>
#include "vh-config.h"
#include "vh-pci-device.h"
#include "vh-pci-names.h"
#include "vh-sysfs.h"

G_BEGIN_DECLS

typedef struct {
    VhConfig *config;           /* borrowed: outlives the host */
    VhSysfs *sysfs;
    GPtrArray *devices;         /* VhPciDevice, sorted by address after a scan */
    GHashTable *by_address;     /* address -> VhPciDevice (owned by devices) */
    gboolean scanned;
    VhPciNames *names;          /* lazy */
    GPtrArray *retired;         /* partial devices a scan could not read: kept
                                 * alive for the VhVgpuGpu that may point at them */
} VhHost;

VhHost *vh_host_new(VhConfig *config);
void vh_host_free(VhHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhHost, vh_host_free)

/* Load every device under bus/pci/devices. Devices that cannot be read
 * (vanished mid-scan, garbage ids) are skipped with a warning. */
gboolean vh_host_scan(VhHost *host, GError **error);

/* The device at @address, loading it if needed (all of it). */
VhPciDevice *vh_host_get_device(VhHost *host, const char *address, GError **error);
/* The VF at @address, loaded at least with its vGPU attributes (a device
 * already loaded whole is returned as it is; see vh_pci_device_load_vgpu_state).
 * vh_host_get_device() and vh_host_scan() complete such a device in place. */
VhPciDevice *vh_host_get_vgpu_state(VhHost *host, const char *address, GError **error);
/* The device at @address with its vGPU attributes read again (after a
 * profile write, or to see the driver's current view): loaded whole if it was
 * not yet; what a profile write cannot change (ids, driver, group) is not
 * read again. */
VhPciDevice *vh_host_refresh_vgpu(VhHost *host, const char *address, GError **error);
/* Forget a cached device so the next get re-reads sysfs (after a change). */
void vh_host_invalidate(VhHost *host, const char *address);

/* Addresses in IOMMU group @group, sorted. */
GPtrArray *vh_host_iommu_group_members(VhHost *host, gint group, GError **error);
gboolean vh_host_iommu_enabled(VhHost *host);

VhPciNames *vh_host_get_names(VhHost *host);

/* Is @address out of bounds by [host] deny: listed itself, or its PF, or a
 * member of its IOMMU group? Every path that writes asks this. */
/* The deny-listed address that makes @address denied (itself, its PF or a
 * member of its IOMMU group), or NULL. */
const char *vh_host_denied_by(VhHost *host, const char *address);
gboolean vh_host_is_denied(VhHost *host, const char *address);

G_END_DECLS

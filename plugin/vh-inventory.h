/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-inventory: the host, its leases and its resources, read together.
 *
 * What `vgpuctl` listings, `define`, `rewrite`, `attach` and the hook's
 * remap all need before they show or pick anything: the host scanned, the
 * leases of the state directory read (under the lease lock, waiting at most
 * VH_LOCK_TIMEOUT_MS, when the caller is about to write), and the catalogue
 * built with what those leases hold. Leases of the domain the inventory is
 * read for (@domain_uuid) do not count as held: a domain keeps its devices.
 *
 * Also the lease questions the front ends ask (the state a lease shows, the
 * devices nobody may touch) and the one rule for a device's kind. */
#pragma once

#include <glib.h>
#include "vh-allocate.h"
#include "vh-catalog.h"
#include "vh-host.h"
#include "vh-lease.h"

G_BEGIN_DECLS

typedef enum {
    VH_INVENTORY_LOCK = 1 << 0,           /* take the lease lock, held until freed */
    /* a state directory that cannot be read is a warning ("leases not
     * shown"), and the inventory shows nothing leased */
    VH_INVENTORY_LEASES_OPTIONAL = 1 << 1,
} VhInventoryFlags;

typedef struct {
    VhHost *host;            /* borrowed, scanned */
    char *domain_uuid;       /* read for this domain, or NULL */
    VhLeaseStore *store;     /* NULL only with LEASES_OPTIONAL, when unreadable */
    GPtrArray *leases;       /* VhLease; empty when none could be read */
    VhHolders *holders;      /* what the leases hold (not @domain_uuid's) */
    VhCatalog *catalog;
    GPtrArray *warnings;     /* one line each, for the operator */
} VhInventory;

VhInventory *vh_inventory_open(VhHost *host, const char *domain_uuid, VhInventoryFlags flags,
                               GError **error);
void vh_inventory_free(VhInventory *inv);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhInventory, vh_inventory_free)

/* An allocator for the inventory's domain (borrows the inventory). */
VhAllocator *vh_inventory_allocator(VhInventory *inv);

/* The lease with @key (a PCI address or an mdev UUID), or NULL. */
const VhLease *vh_inventory_lease(VhInventory *inv, const char *key);
/* "active", "reserved", or "stale": an active lease of a domain that no
 * longer runs (vh_lease_is_live). */
const char *vh_inventory_lease_state(VhInventory *inv, const VhLease *lease);

/* A device's role: "sriov-vf", "sriov-pf", "mdev-parent", its resource's
 * kind ("passthrough", ...), "companion" (shares a whole GPU's IOMMU
 * group), else its PCI class ("gpu", "network", "other"...). */
const char *vh_inventory_device_kind(VhInventory *inv, const VhPciDevice *dev);
/* Does @dev share an IOMMU group with a whole GPU of a resource? */
gboolean vh_inventory_in_gpu_group(VhInventory *inv, const VhPciDevice *dev);

/* Devices nobody may touch by hand: address -> domain, for live active
 * leases and for what a running domain's libvirt status file names. The
 * lease lock is taken into *@locked, held until the caller frees it. */
GHashTable *vh_inventory_busy_devices(VhConfig *config, VhLeaseStore **locked, GError **error);

G_END_DECLS

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-allocate: turning resource names into concrete devices.
 *
 * For each named device of a domain, pick a member of the resource that
 * nobody else holds (leases and reservations of other domains), that is not
 * denied, and that can take the profile now (SR-IOV: one profile size per
 * GPU, framebuffer left; mdev: instances left). A device the domain already
 * points at is kept when it is still free (a defined domain keeps its GPU).
 * Then prefer the requested NUMA node, then apply the policy:
 *   pack   (default) vGPU: the GPU that already runs most of this profile,
 *          so other GPUs stay free for other profile sizes;
 *   spread vGPU: the GPU with the most framebuffer left.
 * Ties go to the lowest address, so results are reproducible. */
#pragma once

#include <glib.h>
#include "vh-catalog.h"
#include "vh-domain.h"
#include "vh-lease.h"

G_BEGIN_DECLS

typedef struct {
    VhCatalog *catalog;
    GHashTable *holders;    /* key -> resource: what others hold (modified as we pick) */
    GHashTable *who;        /* key -> domain name, for messages */
    GHashTable *running;    /* PCI address -> running domain whose libvirt status
                             * file names it (a holder no lease may show) */
    const char *for_domain; /* the domain being allocated for (borrowed) */
} VhAllocator;

VhAllocator *vh_allocator_new(VhCatalog *catalog, VhLeaseStore *store, GPtrArray *leases,
                              const char *domain_uuid);
void vh_allocator_free(VhAllocator *alloc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhAllocator, vh_allocator_free)

/* Fill in every named <hostdev> of @domain. When @store is not NULL,
 * reservations are written for the picks (the caller holds the lock).
 * On error nothing is reserved. */
gboolean vh_allocate_domain(VhAllocator *alloc, VhDomain *domain, VhLeaseStore *store,
                            GError **error);

G_END_DECLS

G_BEGIN_DECLS
/* Fill in the one <hostdev> of @dev (vgpuctl attach) and, when @store is not
 * NULL, write its reservation, leaving the domain's others as they are. */
gboolean vh_allocate_device(VhAllocator *alloc, VhDomain *domain, VhDomainDevice *dev,
                            VhLeaseStore *store, GError **error);
G_END_DECLS

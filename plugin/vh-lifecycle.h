/* vh-lifecycle: what the hook does around a domain's life.
 *
 *   prepare: for each named device: take its lease for this domain (refusing
 *            a device a running domain holds), then make it usable: a whole
 *            GPU and its IOMMU-group companions on vfio-pci, the profile on
 *            an SR-IOV VF, the mdev created. Any failure undoes everything
 *            this call did and frees its leases.
 *   release: undo what prepare recorded in the leases (reset the profile
 *            with retries, remove the mdev, give functions back to their
 *            drivers) and turn the active leases back into reservations, so
 *            the domain keeps its devices unless another one starts on them.
 *            Works after a failed or half-done start, and twice.
 *   remap:   migrate/restore: point named devices at free local devices.
 *   reconnect: rebuild active leases for a running domain, never failing.
 *
 * Prepare touches only the domain's devices and their IOMMU groups; it
 * neither scans the host nor opens the PCI IDs database. */
#pragma once

#include <glib.h>
#include "vh-config.h"
#include "vh-domain.h"

G_BEGIN_DECLS

gboolean vh_lifecycle_prepare(VhConfig *config, VhDomain *domain, GError **error);
gboolean vh_lifecycle_release(VhConfig *config, VhDomain *domain, GError **error);
/* Returns the rewritten XML, or NULL with no error when nothing changed. */
char *vh_lifecycle_remap(VhConfig *config, VhDomain *domain, GError **error);
gboolean vh_lifecycle_reconnect(VhConfig *config, VhDomain *domain, GError **error);

G_END_DECLS

G_BEGIN_DECLS
/* Clear what dead domains left: active leases whose domain no longer runs
 * are undone (profile reset, mdev removed, drivers restored) and removed;
 * reservations of domains not in @defined_uuids (when not NULL: the UUIDs
 * libvirt knows) are removed. One line per action is added to @report. */
gboolean vh_lifecycle_reclaim(VhConfig *config, GHashTable *defined_uuids, GPtrArray *report,
                              GError **error);
G_END_DECLS

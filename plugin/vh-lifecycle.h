/* SPDX-License-Identifier: GPL-2.0-or-later */
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
#include "vh-host.h"
#include "vh-lease.h"

G_BEGIN_DECLS

gboolean vh_lifecycle_prepare(VhConfig *config, VhDomain *domain, GError **error);
gboolean vh_lifecycle_release(VhConfig *config, VhDomain *domain, GError **error);
/* Returns the rewritten XML, or NULL with no error when nothing changed. */
char *vh_lifecycle_remap(VhConfig *config, VhDomain *domain, GError **error);
gboolean vh_lifecycle_reconnect(VhConfig *config, VhDomain *domain, GError **error);

G_END_DECLS

G_BEGIN_DECLS
/* Undo what an active @lease recorded (profile reset, mdev removed, drivers
 * per the release_driver policy), as release does; one phrase per step done
 * goes to @done ("profile L40S-24Q cleared"), failures to @why. Used by
 * vh-reconcile for the leases of dead domains. */
gboolean vh_lifecycle_undo_lease(VhConfig *config, VhHost *host, const VhLease *lease,
                                 GString *done, GString *why);
G_END_DECLS

G_BEGIN_DECLS
/* vgpuctl attach/detach: one device of a domain, while it runs.
 *
 * prepare_device: what prepare does, for the <vgpu:device> @alias of
 * @domain only (its <hostdev> filled in); any failure undoes what this call
 * did and puts back the lease it replaced.
 * release_device: undo the changes the active lease @key of domain @uuid
 * records (functions back to their drivers when @restore_driver) and then
 * drop the lease, or keep it as a reservation when @keep_reservation. A
 * reservation is dropped as it is. Refused, changing nothing, when the lease
 * is another domain's; when an undo step fails the lease stays as it is. */
gboolean vh_lifecycle_prepare_device(VhConfig *config, VhDomain *domain, const char *alias,
                                     GError **error);
gboolean vh_lifecycle_release_device(VhConfig *config, const char *uuid, const char *key,
                                     gboolean restore_driver, gboolean keep_reservation,
                                     GError **error);
G_END_DECLS

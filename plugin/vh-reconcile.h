/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-reconcile: bring the state directory and the host back to a
 * consistent state after a hook or vgpuctl was killed, a domain died
 * without release, or the host rebooted.
 *
 * Consistent means: no active lease of a domain that is not running (its
 * changes are undone from the lease's undo record; the lease becomes a
 * reservation, or is dropped when libvirt no longer knows the domain), no
 * reservation of a domain libvirt no longer knows, no temporary lease file
 * of an interrupted write, and no IOMMU group that nobody holds and that is
 * half-bound (some functions on vfio-pci, others on host drivers, or a
 * driver_override of vfio-pci left on a function that is not on it).
 *
 * Profiles and mdevs are the hook's only when a lease says so: prepare
 * records "profile written" / "mdev created" in the lease before it writes,
 * so every profile or mdev the hook made is covered by a lease until it is
 * undone. A profile or mdev without a lease (apply-profiles, by hand) is
 * static and never touched. Devices of live leases (running or starting
 * domains) are never touched. Everything runs under the lease lock the hook
 * takes. */
#pragma once

#include <glib.h>
#include "vh-config.h"

G_BEGIN_DECLS

typedef enum {
    VH_RECONCILE_LEASES = 1 << 0,   /* leases and reservations (leases --prune) */
    VH_RECONCILE_DEVICES = 1 << 1,  /* IOMMU groups nobody holds */
    VH_RECONCILE_ALL = VH_RECONCILE_LEASES | VH_RECONCILE_DEVICES,
} VhReconcileScope;

/* What libvirt says, taken before the lock (asking libvirt while holding
 * it could wait on a domain whose start waits on the lock). */
typedef struct {
    GHashTable *defined;    /* UUIDs of defined domains; NULL: unknown, keep reservations */
    GHashTable *running;    /* UUIDs of active domains; NULL: unknown, use pid file + grace */
    gint64 taken_at;        /* unix seconds when @running was listed */
} VhDomainsView;

typedef struct {
    char *subject;          /* lease key, address or "group N" */
    char *message;          /* one line: what was (or would be) fixed, or why not */
    gboolean failed;
} VhReconcileFix;

void vh_reconcile_fix_free(VhReconcileFix *fix);

/* Appends one VhReconcileFix per fix (or failure) to @fixes; nothing
 * appended means consistent. With @dry_run nothing is changed and the
 * messages say what would be done. FALSE only when the state directory
 * cannot be locked or read. */
gboolean vh_reconcile(VhConfig *config, const VhDomainsView *view, VhReconcileScope scope,
                      gboolean dry_run, GPtrArray *fixes, GError **error);

G_END_DECLS

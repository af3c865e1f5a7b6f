/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-lease: who holds which device, kept in the state directory.
 *
 * One file per device under STATE/leases/ (named by the PCI address, or the
 * mdev UUID), written atomically (temporary file + rename) while holding an
 * exclusive flock on STATE/lock, so two commands or hooks running at once
 * never hand out one device twice.
 *
 * A lease is either
 *   reserved: taken by `vgpuctl define` so that the next define picks another
 *             device; the domain keeps it across restarts unless another
 *             domain starts on it first (the hook may take over a reservation
 *             of a domain that is not running);
 *   active:   taken by the hook at prepare, for a running domain; it carries
 *             what prepare changed (original drivers, profile written, mdev
 *             created) so that release can undo exactly that.
 * A lease records the boot it was taken in (/proc/sys/kernel/random/boot_id):
 * an active lease of another boot is never live (its domain died with the
 * host), whatever its age. Otherwise an active lease is live while libvirt's
 * /run/libvirt/qemu/<name>.pid
 * exists (libvirtd keeps it exactly while the domain runs), or for a grace
 * period after it was taken (the domain is still starting). A dead active
 * lease is stale: ignored when allocating, cleared by `vgpuctl reconcile`. */
#pragma once

#include <glib.h>
#include "vh-config.h"
#include "vh-ident.h"
#include "vh-lock.h"

G_BEGIN_DECLS

typedef enum {
    VH_LEASE_RESERVED,
    VH_LEASE_ACTIVE,
} VhLeaseState;

typedef struct {
    char *key;              /* device address or mdev UUID: the file name */
    char *device;           /* PCI address (the VF, GPU or mdev parent) */
    char *mdev_uuid;        /* mdev only */
    char *mdev_type;        /* mdev only: type id it was created from */
    char *resource;
    char *domain;           /* domain name */
    char *uuid;             /* domain UUID */
    VhLeaseState state;
    gint64 since;           /* unix seconds */
    char *boot_id;          /* the kernel's boot_id when taken; NULL in old leases */
    /* undo record (active leases) */
    char *original_driver;  /* driver before binding to vfio-pci, "" = none */
    GStrv companions;       /* "ADDR=driver" entries bound along with the GPU */
    gboolean profile_written;
    gboolean mdev_created;
    /* MIG (vGPU VFs of a GPU with mig = on-demand, or read back): the GPU
     * instance the vGPU runs on. gpu_instance_created: prepare creates it
     * (recorded with profile and placement before the create, the id
     * after), so undo destroys it; otherwise the instance is not ours. */
    gboolean has_gpu_instance;
    guint gpu_instance;           /* gpu_instance=ID, as NVML and gpu_instance_id number it */
    char *gpu_instance_profile;   /* "2g.35gb" */
    char *gpu_instance_placement; /* "START:SIZE" in memory slices */
    gboolean gpu_instance_created;
} VhLease;

VhLease *vh_lease_new(const char *key, const char *device, const char *resource,
                      const char *domain, const char *uuid, VhLeaseState state);
void vh_lease_free(VhLease *lease);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhLease, vh_lease_free)
const char *vh_lease_state_to_string(VhLeaseState state);

typedef struct _VhLeaseStore VhLeaseStore;

/* Open (creating if needed, mode 0700) the state directory. */
VhLeaseStore *vh_lease_store_open(const VhConfig *config, GError **error);
void vh_lease_store_free(VhLeaseStore *store);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhLeaseStore, vh_lease_store_free)

/* Exclusive lock, waiting at most @timeout_ms (VH_LOCK_TIMEOUT_MS, tests
 * less). Released by unlock or free. */
gboolean vh_lease_store_lock(VhLeaseStore *store, guint timeout_ms, GError **error);
void vh_lease_store_unlock(VhLeaseStore *store);

/* All leases. A file that cannot be parsed is reported in @warnings (if not
 * NULL) and counted as held by nobody we know: its device is treated as
 * taken until an operator removes it. */
GPtrArray *vh_lease_store_load(VhLeaseStore *store, GPtrArray *warnings, GError **error);
VhLease *vh_lease_store_get(VhLeaseStore *store, const char *key, GError **error);
gboolean vh_lease_store_put(VhLeaseStore *store, const VhLease *lease, GError **error);
gboolean vh_lease_store_remove(VhLeaseStore *store, const char *key, GError **error);
/* Remove every reservation of domain @uuid (its active leases stay). */
gboolean vh_lease_store_drop_reservations(VhLeaseStore *store, const char *uuid, GError **error);

/* This boot's id (read once; NULL when unreadable). VH_BOOT_ID_FILE, for
 * tests only, names another file to read it from. */
const char *vh_lease_current_boot_id(void);
/* Was @lease taken in an earlier boot? (A lease without boot_id: unknown, no.) */
gboolean vh_lease_is_from_other_boot(const VhLease *lease);

/* Is the domain of @lease running (or still starting)? */
gboolean vh_lease_is_live(VhLeaseStore *store, const VhLease *lease);
/* Does libvirt keep the pid file of @lease's domain (it runs)? */
gboolean vh_lease_domain_has_pidfile(VhLeaseStore *store, const VhLease *lease);

/* After an undo: the device stays reserved for the domain, with no undo
 * record left (what release does). */
void vh_lease_make_reservation(VhLease *lease);
/* Forget the GPU-instance fields (after the instance was destroyed). */
void vh_lease_clear_gpu_instance(VhLease *lease);

/* Files in the lease directory that are not leases: temporary files of a
 * write that was killed before its rename (names only). */
GPtrArray *vh_lease_store_debris(VhLeaseStore *store);
gboolean vh_lease_store_remove_debris(VhLeaseStore *store, const char *name, GError **error);

/* Key -> resource for every lease that blocks allocation for @domain_uuid:
 * live active leases and reservations of other domains. */
GHashTable *vh_lease_holders(VhLeaseStore *store, GPtrArray *leases, const char *domain_uuid);


G_END_DECLS

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-reconcile: fix what killed or dead processes left; see the header. */
#include "vh-reconcile.h"
#include "vh-error.h"
#include "vh-host.h"
#include "vh-lease.h"
#include "vh-lifecycle.h"
#include "vh-metrics.h"
#include "vh-pci-address.h"
#include "vh-vfio.h"

#include <stdarg.h>
#include <string.h>


typedef struct {
    VhConfig *config;
    const VhDomainsView *view;
    gboolean dry_run;
    VhLeaseStore *store;
    VhHost *host;
    GPtrArray *fixes;
    guint undo_failed;          /* devices left changed, counted once at the end */
} Reconcile;

void
vh_reconcile_fix_free(VhReconcileFix *fix)
{
    if (fix == NULL)
        return;
    g_free(fix->subject);
    g_free(fix->message);
    g_free(fix);
}

static void add_fix(Reconcile *r, const char *subject, gboolean failed, const char *fmt, ...)
    G_GNUC_PRINTF(4, 5);

static void
add_fix(Reconcile *r, const char *subject, gboolean failed, const char *fmt, ...)
{
    VhReconcileFix *fix = g_new0(VhReconcileFix, 1);
    va_list args;

    va_start(args, fmt);
    fix->subject = g_strdup(subject);
    fix->message = g_strdup_vprintf(fmt, args);
    fix->failed = failed;
    va_end(args);
    g_ptr_array_add(r->fixes, fix);
}

/* Running or starting: libvirt lists it (or listed it before a lease newer
 * than the listing was taken), or libvirt keeps its pid file; without
 * libvirt's view, the hook's own rule (pid file, grace period). */
static gboolean
lease_is_live(Reconcile *r, const VhLease *lease)
{
    const VhDomainsView *view = r->view;

    if (lease->state != VH_LEASE_ACTIVE)
        return TRUE;
    if (view == NULL || view->running == NULL || lease->since == G_MAXINT64)
        return vh_lease_is_live(r->store, lease);
    if (vh_lease_is_from_other_boot(lease))
        return FALSE;
    return lease->since >= view->taken_at || g_hash_table_contains(view->running, lease->uuid) ||
           vh_lease_domain_has_pidfile(r->store, lease);
}

static gboolean
domain_is_defined(Reconcile *r, const VhLease *lease)
{
    return r->view == NULL || r->view->defined == NULL ||
           g_hash_table_contains(r->view->defined, lease->uuid);
}

/* What an undo record would undo, for --dry-run. */
static char *
describe_record(const VhLease *lease)
{
    GString *out = g_string_new(NULL);

    if (lease->mdev_uuid && lease->mdev_created)
        g_string_append_printf(out, "remove mdev %s", lease->mdev_uuid);
    if (!lease->mdev_uuid && lease->profile_written)
        g_string_append_printf(out, "%sreset the profile of %s", out->len ? ", " : "",
                               lease->device);
    if (lease->gpu_instance_created && lease->has_gpu_instance)
        g_string_append_printf(out, "%sdestroy GPU instance %u (%s) it created",
                               out->len ? ", " : "", lease->gpu_instance,
                               lease->gpu_instance_profile);
    else if (lease->gpu_instance_created)
        g_string_append_printf(out, "%sdestroy the %s GPU instance at %s it was creating",
                               out->len ? ", " : "", lease->gpu_instance_profile,
                               lease->gpu_instance_placement);
    for (guint i = 0; lease->companions && lease->companions[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(lease->companions[i], "=", 2);
        g_string_append_printf(out, "%sgive %s back to %s", out->len ? ", " : "", kv[0],
                               kv[1] && *kv[1] ? kv[1] : "no driver");
    }
    if (lease->original_driver)
        g_string_append_printf(out, "%sgive %s back to %s", out->len ? ", " : "", lease->device,
                               *lease->original_driver ? lease->original_driver : "no driver");
    if (out->len == 0)
        g_string_append(out, "nothing to undo");
    return g_string_free(out, FALSE);
}

static void
release_dead_lease(Reconcile *r, VhLease *lease)
{
    g_autoptr(GString) done = g_string_new(NULL);
    g_autoptr(GString) why = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    gboolean keep = domain_is_defined(r, lease);
    const char *after = keep ? "kept as a reservation" : "dropped (libvirt no longer knows the domain)";

    /* nothing denied is written, not even to undo */
    if (vh_host_is_denied(r->host, lease->device)) {
        add_fix(r, lease->key, FALSE, "%s: domain '%s' is not running, but %s is denied: left "
                "alone (undo by hand, then remove the lease)", lease->key, lease->domain,
                lease->device);
        return;
    }
    if (r->dry_run) {
        g_autofree char *plan = describe_record(lease);
        add_fix(r, lease->key, FALSE, "would release %s (domain '%s' is not running): %s; lease %s",
                lease->key, lease->domain, plan, after);
        return;
    }
    if (!vh_lifecycle_undo_lease(r->config, r->host, lease, done, why)) {
        r->undo_failed++;
        add_fix(r, lease->key, TRUE,
                "%s: undoing what domain '%s' (not running) left failed: %s; the lease is kept: "
                "fix the cause and run 'vgpuctl reconcile' again", lease->key, lease->domain,
                why->str);
        return;
    }
    if (keep) {
        vh_lease_make_reservation(lease);
        if (!vh_lease_store_put(r->store, lease, &error))
            keep = FALSE; /* a device must not stay claimed by a lease nobody can fix */
    }
    if (!keep)
        vh_lease_store_remove(r->store, lease->key, NULL);
    add_fix(r, lease->key, FALSE, "released %s (domain '%s' is not running): %s; lease %s",
            lease->key, lease->domain, done->len ? done->str : "nothing to undo", after);
}

static void
reconcile_leases(Reconcile *r)
{
    g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) debris = vh_lease_store_debris(r->store);
    g_autoptr(GPtrArray) leases = vh_lease_store_load(r->store, warnings, NULL);

    for (guint i = 0; i < debris->len; i++) {
        const char *name = g_ptr_array_index(debris, i);
        g_autoptr(GError) error = NULL;
        if (!r->dry_run && !vh_lease_store_remove_debris(r->store, name, &error))
            add_fix(r, name, TRUE, "%s", error->message);
        else
            add_fix(r, name, FALSE, "%s the temporary lease file %s of an interrupted write",
                    r->dry_run ? "would remove" : "removed", name);
    }
    for (guint i = 0; i < warnings->len; i++)
        add_fix(r, "lease", TRUE, "%s", (const char *)g_ptr_array_index(warnings, i));
    for (guint i = 0; leases && i < leases->len; i++) {
        VhLease *lease = g_ptr_array_index(leases, i);
        if (!vh_uuid_is_valid(lease->uuid))
            continue; /* a damaged file: reported above */
        if (lease->state == VH_LEASE_ACTIVE && !lease_is_live(r, lease)) {
            release_dead_lease(r, lease);
        } else if (lease->state == VH_LEASE_RESERVED && !domain_is_defined(r, lease)) {
            if (!r->dry_run)
                vh_lease_store_remove(r->store, lease->key, NULL);
            add_fix(r, lease->key, FALSE, "%s the reservation of %s for domain '%s', which "
                    "libvirt no longer knows", r->dry_run ? "would drop" : "dropped", lease->key,
                    lease->domain);
        }
    }
}

/* Addresses of every function a live lease holds (its device and the
 * companions bound with it). */
static GHashTable *
held_devices(Reconcile *r)
{
    GHashTable *held = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GPtrArray) leases = vh_lease_store_load(r->store, NULL, NULL);

    for (guint i = 0; leases && i < leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(leases, i);
        if (lease->state != VH_LEASE_ACTIVE || !lease_is_live(r, lease))
            continue;
        g_hash_table_add(held, g_strdup(lease->device));
        for (guint c = 0; lease->companions && lease->companions[c]; c++) {
            g_auto(GStrv) kv = g_strsplit(lease->companions[c], "=", 2);
            g_hash_table_add(held, g_strdup(kv[0]));
        }
    }
    return held;
}

static gboolean
stuck_override(const VhPciDevice *dev)
{
    return g_strcmp0(dev->driver_override, VH_VFIO_DRIVER) == 0 &&
           g_strcmp0(dev->driver, VH_VFIO_DRIVER) != 0;
}

/* "0000:3b:00.0 on vfio-pci, 0000:3b:00.1 on snd_hda_intel" */
static char *
describe_group(GPtrArray *members)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < members->len; i++) {
        const VhPciDevice *dev = g_ptr_array_index(members, i);
        g_string_append_printf(out, "%s%s on %s%s", i ? ", " : "", dev->address,
                               dev->driver ? dev->driver : "no driver",
                               stuck_override(dev) ? " (driver_override vfio-pci)" : "");
    }
    return g_string_free(out, FALSE);
}

/* A group half on vfio-pci: a bind (prepare, vgpuctl bind) or an unbind
 * was cut short with no lease to undo it. The release_driver policy says
 * where an idle group belongs: back on host drivers (the kernel picks them)
 * or all on vfio-pci. */
static void
fix_group(Reconcile *r, gint group, GPtrArray *members)
{
    g_autofree char *state = describe_group(members);
    g_autofree char *subject = g_strdup_printf("group %d", group);
    gboolean to_host = r->config->release_restores_driver;
    g_autoptr(GString) done = g_string_new(NULL);
    g_autoptr(GString) why = g_string_new(NULL);
    g_autoptr(GPtrArray) moved = g_ptr_array_new_with_free_func((GDestroyNotify)vh_vfio_binding_free);
    g_autoptr(GPtrArray) addresses = g_ptr_array_new_with_free_func(g_free);

    if (r->dry_run) {
        add_fix(r, subject, FALSE, "would %s IOMMU group %d, which nobody holds and which is "
                "half-bound (%s)", to_host ? "give back to host drivers" : "bind to vfio-pci",
                group, state);
        return;
    }
    for (guint i = 0; i < members->len; i++)
        g_ptr_array_add(addresses, g_strdup(((VhPciDevice *)g_ptr_array_index(members, i))->address));
    /* @members is invalidated by the first sysfs write: use the copies */
    for (guint i = 0; to_host && i < addresses->len; i++) {
        const char *addr = g_ptr_array_index(addresses, i);
        VhPciDevice *dev = vh_host_get_device(r->host, addr, NULL);
        g_autoptr(GError) error = NULL;
        if (dev == NULL || (g_strcmp0(dev->driver, VH_VFIO_DRIVER) != 0 && !stuck_override(dev)))
            continue;
        if (vh_vfio_unbind_device(r->host, addr, "probe", &error))
            g_string_append_printf(done, "%s%s back to its host driver", done->len ? ", " : "", addr);
        else
            g_string_append_printf(why, "%s%s", why->len ? "; " : "", error->message);
    }
    if (!to_host) {
        g_autoptr(GError) error = NULL;
        if (vh_vfio_bind_group(r->host, g_ptr_array_index(addresses, 0), moved, &error))
            g_string_append_printf(done, "%u function(s) bound to vfio-pci", moved->len);
        else
            g_string_append(why, error->message);
    }
    if (why->len)
        add_fix(r, subject, TRUE, "IOMMU group %d is half-bound (%s) and could not be fixed: %s",
                group, state, why->str);
    else
        add_fix(r, subject, FALSE, "fixed IOMMU group %d, which nobody holds and which was "
                "half-bound (%s): %s", group, state, done->str);
}

static gboolean
group_is_half_bound(GPtrArray *members)
{
    gboolean on_vfio = FALSE, on_host = FALSE;

    for (guint i = 0; i < members->len; i++) {
        const VhPciDevice *dev = g_ptr_array_index(members, i);
        if (stuck_override(dev))
            return TRUE;
        if (g_strcmp0(dev->driver, VH_VFIO_DRIVER) == 0)
            on_vfio = TRUE;
        else if (dev->driver)
            on_host = TRUE;
    }
    return on_vfio && on_host;
}

static gint
compare_groups(gconstpointer a, gconstpointer b)
{
    return GPOINTER_TO_INT(a) - GPOINTER_TO_INT(b);
}

static gboolean
reconcile_groups(Reconcile *r, GError **error)
{
    g_autoptr(GHashTable) held = held_devices(r);
    g_autoptr(GHashTable) groups = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                                         (GDestroyNotify)g_ptr_array_unref);
    g_autoptr(GList) keys = NULL;

    if (!vh_host_scan(r->host, error))
        return FALSE;
    for (guint i = 0; i < r->host->devices->len; i++) {
        VhPciDevice *dev = g_ptr_array_index(r->host->devices, i);
        GPtrArray *members;
        if (dev->iommu_group < 0)
            continue;
        members = g_hash_table_lookup(groups, GINT_TO_POINTER(dev->iommu_group));
        if (members == NULL) {
            members = g_ptr_array_new();
            g_hash_table_insert(groups, GINT_TO_POINTER(dev->iommu_group), members);
        }
        g_ptr_array_add(members, dev);
    }
    keys = g_list_sort(g_hash_table_get_keys(groups), compare_groups);
    for (GList *l = keys; l; l = l->next) {
        GPtrArray *members = g_hash_table_lookup(groups, l->data);
        gboolean is_held = FALSE;
        /* a group with a denied member is left alone like a held one */
        for (guint i = 0; i < members->len && !is_held; i++) {
            const char *addr = ((VhPciDevice *)g_ptr_array_index(members, i))->address;
            is_held = g_hash_table_contains(held, addr) || vh_host_is_denied(r->host, addr);
        }
        if (!is_held && group_is_half_bound(members))
            fix_group(r, GPOINTER_TO_INT(l->data), members);
    }
    return TRUE;
}

gboolean
vh_reconcile(VhConfig *config, const VhDomainsView *view, VhReconcileScope scope, gboolean dry_run,
             GPtrArray *fixes, GError **error)
{
    g_autoptr(VhLeaseStore) store = vh_lease_store_open(config, error);
    g_autoptr(VhHost) host = NULL;
    Reconcile r = { config, view, dry_run, NULL, NULL, fixes, 0 };
    gboolean ok;

    if (store == NULL || !vh_lease_store_lock(store, VH_LOCK_TIMEOUT_MS, error))
        return FALSE;
    host = vh_host_new(config);
    r.store = store;
    r.host = host;
    if (scope & VH_RECONCILE_LEASES)
        reconcile_leases(&r);
    ok = !(scope & VH_RECONCILE_DEVICES) || reconcile_groups(&r, error);
    /* counted once the lease lock is given back: hooks wait on it */
    g_clear_pointer(&store, vh_lease_store_free);
    if (r.undo_failed > 0)
        vh_metrics_count_undo_failed(config->state_dir, r.undo_failed, NULL);
    return ok;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-allocate: picking devices for a domain; see the header. */
#include "vh-allocate.h"
#include "vh-error.h"
#include "vh-mdev.h"

#include <string.h>

VhAllocator *
vh_allocator_new(VhCatalog *catalog, VhLeaseStore *store, GPtrArray *leases, const char *domain_uuid)
{
    VhAllocator *alloc = g_new0(VhAllocator, 1);

    alloc->catalog = catalog;
    alloc->holders = store ? vh_lease_holders(store, leases, domain_uuid)
                           : g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    alloc->who = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    /* a running domain whose lease was lost or damaged still holds its
     * devices: the prepare would refuse them, so nothing reserves them */
    alloc->running = vh_domain_running_pci_holders(catalog->host->config->libvirt_run_dir, NULL);
    for (guint i = 0; leases && i < leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(leases, i);
        if (g_hash_table_contains(alloc->holders, lease->key))
            g_hash_table_insert(alloc->who, g_strdup(lease->key),
                                g_strdup_printf("'%s' (%s)", lease->domain,
                                                vh_lease_state_to_string(lease->state)));
    }
    return alloc;
}

void
vh_allocator_free(VhAllocator *alloc)
{
    if (alloc == NULL)
        return;
    g_hash_table_unref(alloc->holders);
    g_hash_table_unref(alloc->who);
    g_hash_table_unref(alloc->running);
    g_free(alloc);
}

/* Instances of @member's type still free on its parent, minus leases on it. */
static gint
mdev_free_instances(VhAllocator *alloc, const VhResource *res, const VhResourceMember *m)
{
    gint64 avail = 0;
    GHashTableIter iter;
    gpointer key, value;

    for (guint t = 0; t < m->device->mdev_types->len; t++) {
        const VhMdevType *type = g_ptr_array_index(m->device->mdev_types, t);
        if (strcmp(type->type_id, m->mdev_type_id) == 0)
            avail = type->available_instances;
    }
    /* Leased UUIDs that do not exist yet still need an instance. */
    g_hash_table_iter_init(&iter, alloc->holders);
    while (g_hash_table_iter_next(&iter, &key, &value)) {
        if (strcmp(value, res->name) != 0 || !vh_mdev_uuid_is_valid(key))
            continue;
        if (!vh_mdev_instance_exists(alloc->catalog->host->sysfs, key))
            avail--;
    }
    return (gint)MAX(avail, 0);
}

static gboolean
member_is_free(VhAllocator *alloc, const VhResource *res, const VhResourceMember *m, GError **error)
{
    const char *holder = g_hash_table_lookup(alloc->who, m->device->address);
    const char *runner = g_hash_table_lookup(alloc->running, m->device->address);

    if (res->kind == VH_RESOURCE_KIND_MDEV) {
        if (mdev_free_instances(alloc, res, m) > 0)
            return TRUE;
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY, "%s has no %s instance left",
                    m->device->address, res->profile);
        return FALSE;
    }
    if (g_hash_table_contains(alloc->holders, m->device->address)) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY, "%s is held by %s", m->device->address,
                    holder ? holder : "another domain");
        return FALSE;
    }
    if (runner && g_strcmp0(runner, alloc->for_domain) != 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "%s is held by running domain '%s' (libvirt's status file names it, "
                    "though no lease does)", m->device->address, runner);
        return FALSE;
    }
    if (res->kind == VH_RESOURCE_KIND_SRIOV_VGPU)
        return vh_vgpu_gpu_can_take(m->gpu, m->device, res->profile, alloc->holders,
                                    alloc->catalog, error);
    return TRUE;
}

/* Framebuffer in use on a member's GPU (vGPU) or instances used (mdev):
 * the quantity pack maximises and spread minimises. */
static gint
member_load(VhAllocator *alloc, const VhResource *res, const VhResourceMember *m)
{
    gint load = 0;

    if (res->kind == VH_RESOURCE_KIND_MDEV)
        return -mdev_free_instances(alloc, res, m);
    if (res->kind != VH_RESOURCE_KIND_SRIOV_VGPU)
        return 0;
    for (guint i = 0; i < m->gpu->vfs->len; i++) {
        const VhPciDevice *vf = g_ptr_array_index(m->gpu->vfs, i);
        load += vf->current_vgpu_type != 0 || g_hash_table_contains(alloc->holders, vf->address);
    }
    return load;
}

static const VhResourceMember *
choose(VhAllocator *alloc, const VhResource *res, GPtrArray *free_members, gint numa)
{
    const VhResourceMember *best = NULL;
    gint best_load = 0;
    gboolean spread = alloc->catalog->host->config->allocation == VH_ALLOCATION_SPREAD;
    gboolean numa_match = FALSE;

    for (guint i = 0; i < free_members->len; i++) {
        const VhResourceMember *m = g_ptr_array_index(free_members, i);
        numa_match |= numa >= 0 && m->device->numa_node == numa;
    }
    for (guint i = 0; i < free_members->len; i++) {
        const VhResourceMember *m = g_ptr_array_index(free_members, i);
        gint load = member_load(alloc, res, m);
        if (numa_match && m->device->numa_node != numa)
            continue;
        if (best == NULL || (spread ? load < best_load : load > best_load)) {
            best = m;
            best_load = load;
        }
    }
    return best;
}

static char *
known_resources(VhCatalog *catalog)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < catalog->resources->len && i < 12; i++)
        g_string_append_printf(out, "%s%s", i ? ", " : "",
                               ((const VhResource *)g_ptr_array_index(catalog->resources, i))->name);
    if (catalog->resources->len > 12)
        g_string_append(out, ", ...");
    return g_string_free(out, FALSE);
}

static const VhResourceMember *
find_member(const VhResource *res, const char *address)
{
    for (guint i = 0; address && i < res->members->len; i++) {
        const VhResourceMember *m = g_ptr_array_index(res->members, i);
        if (strcmp(m->device->address, address) == 0)
            return m;
    }
    return NULL;
}

static const VhResourceMember *
pick_member(VhAllocator *alloc, const VhDomain *domain, const VhDomainDevice *dev,
            const VhResource *res, const char *current, GError **error)
{
    g_autoptr(GPtrArray) free_members = g_ptr_array_new();
    g_autoptr(GString) why = g_string_new(NULL);
    const VhResourceMember *m;

    if (dev->want_address) {
        g_autoptr(GError) local = NULL;
        m = find_member(res, dev->want_address);
        if (m == NULL) {
            g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND,
                        "domain '%s', alias '%s': address %s is not a device of %s "
                        "(see vgpuctl resources --json)", domain->name, dev->alias,
                        dev->want_address, res->name);
            return NULL;
        }
        if (!member_is_free(alloc, res, m, &local)) {
            /* held (BUSY) or full (NO_CAPACITY), as the member says */
            g_set_error(error, VH_ERROR, local->code, "domain '%s', alias '%s' (%s): %s",
                        domain->name, dev->alias, res->name, local->message);
            return NULL;
        }
        g_debug("allocate: domain '%s', alias '%s': %s, the address it asks for", domain->name,
                dev->alias, m->device->address);
        return m;
    }
    m = find_member(res, current);
    if (m && member_is_free(alloc, res, m, NULL)) {
        g_debug("allocate: domain '%s', alias '%s': keeps %s (%s)", domain->name, dev->alias,
                m->device->address, res->name);
        return m; /* sticky: keep what the domain had */
    }
    for (guint i = 0; i < res->members->len; i++) {
        g_autoptr(GError) local = NULL;
        m = g_ptr_array_index(res->members, i);
        if (member_is_free(alloc, res, m, &local))
            g_ptr_array_add(free_members, (gpointer)m);
        else if (why->len < 600 && strstr(why->str, local->message) == NULL)
            g_string_append_printf(why, "%s%s", why->len ? "; " : "", local->message);
    }
    m = choose(alloc, res, free_members, dev->want_numa);
    if (m)
        g_debug("allocate: domain '%s', alias '%s': %s for %s, %u of %u free (%s%s)",
                domain->name, dev->alias, m->device->address, res->name, free_members->len,
                res->members->len,
                alloc->catalog->host->config->allocation == VH_ALLOCATION_SPREAD ? "spread" : "pack",
                dev->want_numa >= 0 ? ", NUMA node asked" : "");
    if (m == NULL)
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                    "domain '%s', alias '%s': no free device for %s (%u on this host): %s",
                    domain->name, dev->alias, res->name, res->members->len,
                    why->len ? why->str : "no devices");
    return m;
}

static gboolean
allocate_one(VhAllocator *alloc, VhDomain *domain, VhDomainDevice *dev, GPtrArray *picks,
             GError **error)
{
    VhResource *res = vh_catalog_lookup(alloc->catalog, dev->resource);
    g_autofree char *current = NULL;
    const VhResourceMember *m;
    VhLease *lease;

    if (res == NULL) {
        g_autofree char *known = known_resources(alloc->catalog);
        g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND,
                    "domain '%s', alias '%s': unknown resource '%s' on this host (known: %s; "
                    "see 'vgpuctl resources')", domain->name, dev->alias, dev->resource,
                    *known ? known : "none");
        return FALSE;
    }
    if (dev->display && res->kind != VH_RESOURCE_KIND_MDEV) {
        /* libvirt has display='on' for mdev hostdevs only: dropping it would
         * give a domain that asked for a display none, without a word. */
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "domain '%s', alias '%s': display='on' needs an mdev vGPU, and %s is %s "
                    "(a PCI hostdev, which libvirt gives no display): remove display= and add "
                    "a <graphics> device, or use an mdev resource", domain->name, dev->alias,
                    res->name, res->kind == VH_RESOURCE_KIND_SRIOV_VGPU
                                   ? "an SR-IOV vGPU" : "a whole GPU");
        return FALSE;
    }
    current = res->kind == VH_RESOURCE_KIND_MDEV ? NULL : vh_domain_device_pci_address(dev);
    m = pick_member(alloc, domain, dev, res, current, error);
    if (m == NULL)
        return FALSE;
    if (res->kind == VH_RESOURCE_KIND_MDEV) {
        g_autofree char *uuid = vh_domain_device_mdev_uuid(dev);
        /* Keep the UUID the domain has, unless someone else holds it: a
         * template copied from a defined domain must not share its mdev. */
        if (uuid == NULL || g_hash_table_contains(alloc->holders, uuid)) {
            g_free(uuid);
            uuid = g_uuid_string_random();
        }
        vh_domain_device_set_mdev(dev, uuid, dev->display);
        lease = vh_lease_new(uuid, m->device->address, res->name, domain->name, domain->uuid,
                             VH_LEASE_RESERVED);
        lease->mdev_uuid = g_strdup(uuid);
        lease->mdev_type = g_strdup(m->mdev_type_id);
    } else {
        /* Both kinds stay unmanaged: the hook binds whole GPUs (and their
         * group companions) itself, and vGPU VFs stay on nvidia. */
        vh_domain_device_set_pci(dev, m->device->address, FALSE);
        lease = vh_lease_new(m->device->address, m->device->address, res->name, domain->name,
                             domain->uuid, VH_LEASE_RESERVED);
    }
    g_hash_table_insert(alloc->holders, g_strdup(lease->key), g_strdup(res->name));
    g_hash_table_insert(alloc->who, g_strdup(lease->key), g_strdup_printf("'%s'", domain->name));
    g_ptr_array_add(picks, lease);
    return TRUE;
}

static gboolean
write_reservations(VhLeaseStore *store, const VhDomain *domain, GPtrArray *picks, GError **error)
{
    g_autoptr(GPtrArray) leases = vh_lease_store_load(store, NULL, error);

    if (leases == NULL)
        return FALSE;
    /* Drop this domain's reservations it no longer uses (re-define). */
    for (guint i = 0; i < leases->len; i++) {
        const VhLease *old = g_ptr_array_index(leases, i);
        gboolean kept = FALSE;
        if (old->state != VH_LEASE_RESERVED || g_strcmp0(old->uuid, domain->uuid) != 0)
            continue;
        for (guint j = 0; j < picks->len; j++)
            kept |= strcmp(((const VhLease *)g_ptr_array_index(picks, j))->key, old->key) == 0;
        if (!kept && !vh_lease_store_remove(store, old->key, error))
            return FALSE;
    }
    for (guint i = 0; i < picks->len; i++) {
        const VhLease *pick = g_ptr_array_index(picks, i);
        g_autoptr(VhLease) existing = vh_lease_store_get(store, pick->key, NULL);
        /* An active lease, ours or a stopped domain's, carries an undo record
         * that a reservation would lose; the hook takes it over at prepare
         * (undoing a stopped domain's changes first). */
        if (existing && existing->state == VH_LEASE_ACTIVE)
            continue;
        if (!vh_lease_store_put(store, pick, error))
            return FALSE;
    }
    return TRUE;
}

gboolean
vh_allocate_domain(VhAllocator *alloc, VhDomain *domain, VhLeaseStore *store, GError **error)
{
    g_autoptr(GPtrArray) picks = g_ptr_array_new_with_free_func((GDestroyNotify)vh_lease_free);

    vh_domain_ensure_uuid(domain);
    alloc->for_domain = domain->name;
    for (guint i = 0; i < domain->devices->len; i++) {
        if (!allocate_one(alloc, domain, g_ptr_array_index(domain->devices, i), picks, error))
            return FALSE;
    }
    if (!vh_domain_check_distinct_sources(domain, error))
        return FALSE;
    return store == NULL || write_reservations(store, domain, picks, error);
}

gboolean
vh_allocate_device(VhAllocator *alloc, VhDomain *domain, VhDomainDevice *dev,
                   VhLeaseStore *store, GError **error)
{
    g_autoptr(GPtrArray) picks = g_ptr_array_new_with_free_func((GDestroyNotify)vh_lease_free);

    vh_domain_ensure_uuid(domain);
    alloc->for_domain = domain->name;
    if (!allocate_one(alloc, domain, dev, picks, error))
        return FALSE;
    return store == NULL || vh_lease_store_put(store, g_ptr_array_index(picks, 0), error);
}

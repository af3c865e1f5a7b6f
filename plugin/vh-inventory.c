/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-inventory: the host, its leases and its resources; see the header. */
#include "vh-inventory.h"
#include "vh-domain.h"
#include "vh-error.h"
#include "vh-lock.h"

#include <string.h>

void
vh_inventory_free(VhInventory *inv)
{
    if (inv == NULL)
        return;
    g_clear_pointer(&inv->catalog, vh_catalog_free);
    g_clear_pointer(&inv->holders, g_hash_table_unref);
    g_clear_pointer(&inv->leases, g_ptr_array_unref);
    g_clear_pointer(&inv->store, vh_lease_store_free);
    g_clear_pointer(&inv->warnings, g_ptr_array_unref);
    g_free(inv->domain_uuid);
    g_free(inv);
}

/* The leases, or with LEASES_OPTIONAL none and a warning. */
static gboolean
read_leases(VhInventory *inv, VhInventoryFlags flags, GError **error)
{
    g_autoptr(GError) local = NULL;

    inv->store = vh_lease_store_open(inv->host->config, &local);
    if (inv->store && (flags & VH_INVENTORY_LOCK) &&
        !vh_lease_store_lock(inv->store, VH_LOCK_TIMEOUT_MS, &local))
        g_clear_pointer(&inv->store, vh_lease_store_free);
    if (inv->store)
        inv->leases = vh_lease_store_load(inv->store, inv->warnings, &local);
    if (inv->leases) {
        inv->holders = vh_lease_holders(inv->store, inv->leases, inv->domain_uuid);
        return TRUE;
    }
    if (!(flags & VH_INVENTORY_LEASES_OPTIONAL) || (flags & VH_INVENTORY_LOCK)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    g_ptr_array_add(inv->warnings, g_strdup_printf("leases not shown: %s", local->message));
    g_clear_pointer(&inv->store, vh_lease_store_free);
    inv->leases = g_ptr_array_new_with_free_func((GDestroyNotify)vh_lease_free);
    return TRUE;
}

VhInventory *
vh_inventory_open(VhHost *host, const char *domain_uuid, VhInventoryFlags flags, GError **error)
{
    g_autoptr(VhInventory) inv = g_new0(VhInventory, 1);

    inv->host = host;
    inv->domain_uuid = g_strdup(domain_uuid);
    inv->warnings = g_ptr_array_new_with_free_func(g_free);
    /* the lock first: what is scanned then cannot change under a writer */
    if (!read_leases(inv, flags, error) || (!host->scanned && !vh_host_scan(host, error)))
        return NULL;
    inv->catalog = vh_catalog_build(host, inv->holders, error);
    if (inv->catalog == NULL)
        return NULL;
    return g_steal_pointer(&inv);
}

VhAllocator *
vh_inventory_allocator(VhInventory *inv)
{
    return vh_allocator_new(inv->catalog, inv->store, inv->leases, inv->domain_uuid);
}

const VhLease *
vh_inventory_lease(VhInventory *inv, const char *key)
{
    for (guint i = 0; i < inv->leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(inv->leases, i);
        if (strcmp(lease->key, key) == 0)
            return lease;
    }
    return NULL;
}

const char *
vh_inventory_lease_state(VhInventory *inv, const VhLease *lease)
{
    if (lease->state == VH_LEASE_ACTIVE && inv->store && !vh_lease_is_live(inv->store, lease))
        return "stale";
    return vh_lease_state_to_string(lease->state);
}

/* What a device that plays no GPU role is, by its PCI base class. */
static const char *
class_kind(const VhPciDevice *dev)
{
    switch (dev->class_code >> 16) {
    case 0x01: return "storage";
    case 0x02: return "network";
    case 0x03: return "gpu";
    case 0x04: return "multimedia";
    case 0x06: return "bridge";
    case 0x0c: return "serial-bus";
    default: return "other";
    }
}

gboolean
vh_inventory_in_gpu_group(VhInventory *inv, const VhPciDevice *dev)
{
    for (guint i = 0; dev->iommu_group >= 0 && i < inv->catalog->resources->len; i++) {
        const VhResource *res = g_ptr_array_index(inv->catalog->resources, i);
        if (res->kind != VH_RESOURCE_KIND_PASSTHROUGH)
            continue;
        for (guint j = 0; j < res->members->len; j++) {
            const VhResourceMember *m = g_ptr_array_index(res->members, j);
            if (m->device->iommu_group == dev->iommu_group)
                return TRUE;
        }
    }
    return FALSE;
}

const char *
vh_inventory_device_kind(VhInventory *inv, const VhPciDevice *dev)
{
    const VhResource *res;

    if (dev->has_vgpu)
        return "sriov-vf";
    for (guint i = 0; i < inv->catalog->gpus->len; i++) {
        if (((const VhVgpuGpu *)g_ptr_array_index(inv->catalog->gpus, i))->pf == dev)
            return "sriov-pf";
    }
    if (dev->mdev_types)
        return "mdev-parent";
    if ((res = vh_catalog_resource_of_device(inv->catalog, dev->address)) != NULL)
        return vh_resource_kind_to_string(res->kind);
    /* Only a function that shares a GPU's IOMMU group goes to vfio-pci
     * with it; a NIC or a host bridge elsewhere is no companion. */
    if (vh_inventory_in_gpu_group(inv, dev))
        return "companion";
    return class_kind(dev);
}

GHashTable *
vh_inventory_busy_devices(VhConfig *config, VhLeaseStore **locked, GError **error)
{
    g_autoptr(VhLeaseStore) store = vh_lease_store_open(config, error);
    g_autoptr(GPtrArray) leases = NULL;
    g_autoptr(GHashTable) running = NULL;
    GHashTable *busy;
    GHashTableIter iter;
    gpointer address, name;

    if (store == NULL || !vh_lease_store_lock(store, VH_LOCK_TIMEOUT_MS, error) ||
        (leases = vh_lease_store_load(store, NULL, error)) == NULL)
        return NULL;
    busy = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (guint i = 0; i < leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(leases, i);
        if (lease->state == VH_LEASE_ACTIVE && vh_lease_is_live(store, lease))
            g_hash_table_insert(busy, g_strdup(lease->device), g_strdup(lease->domain));
    }
    running = vh_domain_running_pci_holders(config->libvirt_run_dir, NULL);
    g_hash_table_iter_init(&iter, running);
    while (g_hash_table_iter_next(&iter, &address, &name))
        if (!g_hash_table_contains(busy, address))
            g_hash_table_insert(busy, g_strdup(address), g_strdup(name));
    *locked = g_steal_pointer(&store);
    return busy;
}

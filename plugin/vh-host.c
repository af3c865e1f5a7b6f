/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-host: device discovery and lookup; see the header. */
#include "vh-host.h"
#include "vh-error.h"

#include <string.h>

VhHost *
vh_host_new(VhConfig *config)
{
    VhHost *host = g_new0(VhHost, 1);

    host->config = config;
    host->sysfs = vh_sysfs_new(config->sysfs_root);
    host->devices = g_ptr_array_new_with_free_func((GDestroyNotify)vh_pci_device_free);
    host->by_address = g_hash_table_new(g_str_hash, g_str_equal);
    host->retired = g_ptr_array_new_with_free_func((GDestroyNotify)vh_pci_device_free);
    return host;
}

void
vh_host_free(VhHost *host)
{
    if (host == NULL)
        return;
    g_hash_table_unref(host->by_address);
    g_ptr_array_unref(host->devices);
    g_ptr_array_unref(host->retired);
    vh_sysfs_unref(host->sysfs);
    vh_pci_names_free(host->names);
    g_free(host);
}

static gint
compare_devices(gconstpointer a, gconstpointer b)
{
    const VhPciDevice *da = *(const VhPciDevice *const *)a;
    const VhPciDevice *db = *(const VhPciDevice *const *)b;

    return strcmp(da->address, db->address);
}

static void
add_device(VhHost *host, VhPciDevice *dev)
{
    g_ptr_array_add(host->devices, dev);
    g_hash_table_insert(host->by_address, dev->address, dev);
}

gboolean
vh_host_scan(VhHost *host, GError **error)
{
    g_autoptr(GPtrArray) names = vh_sysfs_list_dir(host->sysfs, "bus/pci/devices", error);

    if (names == NULL) {
        g_prefix_error(error, "cannot list PCI devices (is %s a sysfs tree?): ",
                       vh_sysfs_get_root(host->sysfs));
        return FALSE;
    }
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        g_autoptr(GError) local = NULL;
        VhPciDevice *dev = g_hash_table_lookup(host->by_address, name);

        guint index;

        if (dev && !vh_pci_device_complete(dev, host->sysfs, &local)) {
            g_warning("skipping PCI device %s: %s", name, local->message);
            g_hash_table_remove(host->by_address, name);
            if (g_ptr_array_find(host->devices, dev, &index))
                g_ptr_array_add(host->retired, g_ptr_array_steal_index(host->devices, index));
        }
        if (dev)
            continue;
        if (!vh_pci_address_is_valid(name)) {
            g_warning("ignoring %s/bus/pci/devices/%s: not a PCI address",
                      vh_sysfs_get_root(host->sysfs), name);
            continue;
        }
        dev = vh_pci_device_load(host->sysfs, name, &local);
        if (dev == NULL) {
            g_warning("skipping PCI device %s: %s", name, local->message);
            continue;
        }
        add_device(host, dev);
    }
    g_ptr_array_sort(host->devices, compare_devices);
    host->scanned = TRUE;
    return TRUE;
}

/* @address validated (before any path is built from it) into @canon. */
static gboolean
canonical(const char *address, char canon[VH_PCI_ADDRESS_STRLEN], GError **error)
{
    VhPciAddress addr;

    if (!vh_pci_address_parse(address, &addr, error))
        return FALSE;
    vh_pci_address_format(&addr, canon);
    return TRUE;
}

/* The device at @address: cached, or read now; @whole: all of it, else at
 * least its vGPU files. */
static VhPciDevice *
get(VhHost *host, const char *address, gboolean whole, GError **error)
{
    char canon[VH_PCI_ADDRESS_STRLEN];
    VhPciDevice *dev;

    if (!canonical(address, canon, error))
        return NULL;
    dev = g_hash_table_lookup(host->by_address, canon);
    if (dev)
        return !whole || vh_pci_device_complete(dev, host->sysfs, error) ? dev : NULL;
    dev = whole ? vh_pci_device_load(host->sysfs, canon, error)
                : vh_pci_device_load_vgpu_state(host->sysfs, canon, error);
    if (dev)
        add_device(host, dev);
    return dev;
}

VhPciDevice *
vh_host_get_device(VhHost *host, const char *address, GError **error)
{
    return get(host, address, TRUE, error);
}

VhPciDevice *
vh_host_get_vgpu_state(VhHost *host, const char *address, GError **error)
{
    return get(host, address, FALSE, error);
}

VhPciDevice *
vh_host_refresh_vgpu(VhHost *host, const char *address, GError **error)
{
    char canon[VH_PCI_ADDRESS_STRLEN];
    VhPciDevice *dev;

    if (!canonical(address, canon, error))
        return NULL;
    dev = g_hash_table_lookup(host->by_address, canon);
    if (dev == NULL || dev->partial)
        return get(host, canon, TRUE, error); /* read now, whole */
    vh_pci_device_reload_vgpu(dev, host->sysfs, NULL); /* (a failure: dev->vgpu_error) */
    return dev;
}

void
vh_host_invalidate(VhHost *host, const char *address)
{
    VhPciDevice *dev = g_hash_table_lookup(host->by_address, address);

    if (dev == NULL)
        return;
    g_hash_table_remove(host->by_address, address);
    g_ptr_array_remove(host->devices, dev);
}

GPtrArray *
vh_host_iommu_group_members(VhHost *host, gint group, GError **error)
{
    g_autofree char *rel = g_strdup_printf("kernel/iommu_groups/%d/devices", group);
    GPtrArray *members;

    if (group < 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED, "device has no IOMMU group");
        return NULL;
    }
    members = vh_sysfs_list_dir(host->sysfs, rel, error);
    if (members == NULL)
        return NULL;
    for (guint i = members->len; i > 0; i--) {
        if (!vh_pci_address_is_valid(g_ptr_array_index(members, i - 1)))
            g_ptr_array_remove_index(members, i - 1);
    }
    return members;
}

gboolean
vh_host_iommu_enabled(VhHost *host)
{
    g_autoptr(GPtrArray) groups = vh_sysfs_list_dir(host->sysfs, "kernel/iommu_groups", NULL);

    return groups && groups->len > 0;
}

VhPciNames *
vh_host_get_names(VhHost *host)
{
    if (host->names == NULL) {
        g_autofree char *cache = g_build_filename(host->config->state_dir, VH_PCI_NAMES_CACHE,
                                                  NULL);
        host->names = vh_pci_names_new(host->config->pci_ids, host->config->use_hwdb);
        vh_pci_names_set_cache(host->names, cache);
    }
    return host->names;
}

/* The one deny rule, for every path that may write: a device is denied when
 * the configuration lists it, its PF (a VF of a denied GPU), or a member of
 * its IOMMU group (a denied GPU's audio function, a GPU whose companion is
 * denied). An mdev is checked by its parent. A device that cannot be read
 * is judged by its address alone. */
const char *
vh_host_denied_by(VhHost *host, const char *address)
{
    const VhConfig *config = host->config;
    g_autoptr(GPtrArray) members = NULL;
    VhPciDevice *dev;

    if (config->deny == NULL || config->deny[0] == NULL)
        return NULL;
    if (vh_config_is_denied(config, address))
        return address;
    dev = vh_host_get_device(host, address, NULL);
    if (dev == NULL)
        return NULL;
    if (dev->physfn && vh_config_is_denied(config, dev->physfn))
        return dev->physfn;
    members = dev->iommu_group >= 0 ? vh_host_iommu_group_members(host, dev->iommu_group, NULL)
                                    : NULL;
    for (guint i = 0; members && i < members->len; i++) {
        const char *member = g_ptr_array_index(members, i);
        if (vh_config_is_denied(config, member)) {
            /* the string lives in the host's device table */
            VhPciDevice *denied = vh_host_get_device(host, member, NULL);
            return denied ? denied->address : dev->address;
        }
    }
    return NULL;
}

gboolean
vh_host_is_denied(VhHost *host, const char *address)
{
    return vh_host_denied_by(host, address) != NULL;
}

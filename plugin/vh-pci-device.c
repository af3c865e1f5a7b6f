/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-pci-device: reading one device directory; see the header. */
#include "vh-pci-device.h"
#include "vh-error.h"
#include "vh-mdev.h"
#include "vh-vgpu-type.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

void
vh_pci_device_free(VhPciDevice *dev)
{
    if (dev == NULL)
        return;
    g_free(dev->driver);
    g_free(dev->driver_override);
    g_free(dev->physfn);
    if (dev->virtfns)
        g_ptr_array_unref(dev->virtfns);
    if (dev->creatable_types)
        g_ptr_array_unref(dev->creatable_types);
    g_free(dev->vgpu_error);
    if (dev->mdev_types)
        g_ptr_array_unref(dev->mdev_types);
    g_free(dev->mdev_error);
    g_free(dev);
}

#define DEVICES_DIR "bus/pci/devices/"

/* A path relative to the sysfs root, on the stack: every attribute of every
 * device of a scan is read. An attribute is one of ours or a name the
 * device directory lists (at most NAME_MAX). */
typedef char AttrPath[sizeof(DEVICES_DIR) + VH_PCI_ADDRESS_STRLEN + NAME_MAX + 1];

/* "bus/pci/devices/ADDRESS/ATTR", or the device directory when @attr is NULL. */
static const char *
attr_path(const VhPciDevice *dev, const char *attr, AttrPath buf)
{
    gsize len = strlen(dev->address);
    char *p = buf + sizeof(DEVICES_DIR) - 1;

    memcpy(buf, DEVICES_DIR, sizeof(DEVICES_DIR) - 1);
    memcpy(p, dev->address, len + 1);
    if (attr) {
        p[len] = '/';
        g_strlcpy(p + len + 1, attr, sizeof(AttrPath) - (gsize)(p + len + 1 - buf));
    }
    return buf;
}

/* The device directory's entries, sorted (vh_sysfs_list_dir): an optional
 * attribute that is not listed is not read, as a read could only fail. */
static gint
compare_entry(gconstpointer key, gconstpointer entry)
{
    return strcmp(key, *(const char *const *)entry);
}

static gboolean
has_entry(GPtrArray *entries, const char *name)
{
    return bsearch(name, entries->pdata, entries->len, sizeof(gpointer), compare_entry) != NULL;
}

static gboolean
read_hex_attr(VhSysfs *sysfs, VhPciDevice *dev, const char *attr, gboolean required,
              guint *out, GError **error)
{
    AttrPath buf;
    const char *rel = attr_path(dev, attr, buf);
    GError *local = NULL;

    if (vh_sysfs_read_hex(sysfs, rel, out, &local))
        return TRUE;
    if (!required && g_error_matches(local, VH_ERROR, VH_ERROR_NOT_FOUND)) {
        g_error_free(local);
        *out = 0;
        return TRUE;
    }
    g_propagate_prefixed_error(error, local, "PCI device %s: ", dev->address);
    return FALSE;
}

static gint
read_optional_int(VhSysfs *sysfs, VhPciDevice *dev, const char *attr, gint fallback)
{
    AttrPath buf;
    const char *rel = attr_path(dev, attr, buf);
    gint64 value;

    return vh_sysfs_read_int(sysfs, rel, &value, NULL) ? (gint)value : fallback;
}

static char *
read_optional_link(VhSysfs *sysfs, VhPciDevice *dev, const char *attr)
{
    AttrPath buf;
    const char *rel = attr_path(dev, attr, buf);

    return vh_sysfs_read_link_name(sysfs, rel, NULL);
}

static void
load_driver(VhSysfs *sysfs, VhPciDevice *dev, GPtrArray *entries)
{
    AttrPath buf;
    const char *rel = attr_path(dev, "driver_override", buf);
    g_autofree char *override = has_entry(entries, "driver_override")
                                    ? vh_sysfs_read_string(sysfs, rel, NULL) : NULL;

    if (has_entry(entries, "driver"))
        dev->driver = read_optional_link(sysfs, dev, "driver");
    if (override && *override && strcmp(override, "(null)") != 0)
        dev->driver_override = g_steal_pointer(&override);
}

static void
load_iommu_group(VhSysfs *sysfs, VhPciDevice *dev, GPtrArray *entries)
{
    g_autofree char *group = has_entry(entries, "iommu_group")
                                 ? read_optional_link(sysfs, dev, "iommu_group") : NULL;
    guint64 number;

    dev->iommu_group = -1;
    if (group && g_ascii_string_to_unsigned(group, 10, 0, G_MAXINT32, &number, NULL))
        dev->iommu_group = (gint)number;
}

static gint
compare_virtfn(gconstpointer a, gconstpointer b)
{
    const char *na = *(const char *const *)a + strlen("virtfn");
    const char *nb = *(const char *const *)b + strlen("virtfn");

    return (gint)(g_ascii_strtoull(na, NULL, 10) - g_ascii_strtoull(nb, NULL, 10));
}

static void
load_sriov(VhSysfs *sysfs, VhPciDevice *dev, GPtrArray *entries)
{
    g_autoptr(GPtrArray) links = g_ptr_array_new();
    gint numvfs_fallback;

    if (has_entry(entries, "physfn"))
        dev->physfn = read_optional_link(sysfs, dev, "physfn");
    if (dev->physfn && !vh_pci_address_is_valid(dev->physfn))
        g_clear_pointer(&dev->physfn, g_free);
    dev->sriov_totalvfs = has_entry(entries, "sriov_totalvfs")
                              ? read_optional_int(sysfs, dev, "sriov_totalvfs", -1) : -1;
    numvfs_fallback = dev->sriov_totalvfs >= 0 ? 0 : -1;
    dev->sriov_numvfs = has_entry(entries, "sriov_numvfs")
                            ? read_optional_int(sysfs, dev, "sriov_numvfs", numvfs_fallback)
                            : numvfs_fallback;
    dev->virtfns = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < entries->len; i++) {
        const char *name = g_ptr_array_index(entries, i);
        if (strncmp(name, "virtfn", 6) == 0 && g_ascii_isdigit(name[6]))
            g_ptr_array_add(links, (gpointer)name);
    }
    g_ptr_array_sort(links, compare_virtfn);
    for (guint i = 0; i < links->len; i++) {
        char *vf = read_optional_link(sysfs, dev, g_ptr_array_index(links, i));
        if (vf && vh_pci_address_is_valid(vf))
            g_ptr_array_add(dev->virtfns, vf);
        else
            g_free(vf);
    }
}

/* Older drivers lack the file, newer ones answer ENXIO until a type is
 * set: either way the instance is unknown (-1), never an error. */
static gint
read_gpu_instance_id(const VhPciDevice *dev, VhSysfs *sysfs)
{
    AttrPath buf;
    const char *rel = attr_path(dev, "nvidia/gpu_instance_id", buf);
    gint64 id = -1;

    if (dev->current_vgpu_type == 0 || !vh_sysfs_exists(sysfs, rel) ||
        !vh_sysfs_read_int(sysfs, rel, &id, NULL) || id < 0 || id > G_MAXINT)
        return -1;
    return (gint)id;
}

gboolean
vh_pci_device_reload_vgpu(VhPciDevice *dev, VhSysfs *sysfs, GError **error)
{
    AttrPath types_buf, current_buf;
    const char *types_rel = attr_path(dev, "nvidia/creatable_vgpu_types", types_buf);
    const char *current_rel = attr_path(dev, "nvidia/current_vgpu_type", current_buf);
    g_autofree char *text = NULL;
    gint64 current;
    GError *local = NULL;

    g_clear_pointer(&dev->creatable_types, g_ptr_array_unref);
    g_clear_pointer(&dev->vgpu_error, g_free);
    dev->current_vgpu_type = 0;
    dev->gpu_instance_id = -1;
    /* (read at once: an access() first would only add a system call per VF) */
    text = vh_sysfs_read_string(sysfs, types_rel, &local);
    dev->has_vgpu = text != NULL || (!g_error_matches(local, VH_ERROR, VH_ERROR_NOT_FOUND) &&
                                     vh_sysfs_exists(sysfs, types_rel));
    if (!dev->has_vgpu) {
        g_clear_error(&local);
        return TRUE;
    }
    if (text)
        dev->creatable_types = vh_vgpu_types_parse(text, &local);
    if (dev->creatable_types && !vh_sysfs_read_int(sysfs, current_rel, &current, &local))
        g_clear_pointer(&dev->creatable_types, g_ptr_array_unref);
    else if (dev->creatable_types && current < 0)
        g_set_error(&local, VH_ERROR, VH_ERROR_IO, "current_vgpu_type is negative");
    if (local != NULL) {
        dev->vgpu_error = g_strdup_printf("VF %s: %s", dev->address, local->message);
        g_propagate_prefixed_error(error, local, "VF %s: ", dev->address);
        g_clear_pointer(&dev->creatable_types, g_ptr_array_unref);
        return FALSE;
    }
    dev->current_vgpu_type = (guint)current;
    dev->gpu_instance_id = read_gpu_instance_id(dev, sysfs);
    return TRUE;
}

static void
load_mdev(VhSysfs *sysfs, VhPciDevice *dev)
{
    GError *local = NULL;

    if (!vh_mdev_is_parent(sysfs, dev->address))
        return;
    dev->mdev_types = vh_mdev_types_load(sysfs, dev->address, &local);
    if (dev->mdev_types == NULL) {
        dev->mdev_error = g_strdup_printf("mdev parent %s: %s", dev->address, local->message);
        g_error_free(local);
    }
}

VhPciDevice *
vh_pci_device_load(VhSysfs *sysfs, const char *address, GError **error)
{
    g_autoptr(VhPciDevice) dev = g_new0(VhPciDevice, 1);
    g_autoptr(GPtrArray) entries = NULL;
    AttrPath dir_buf;
    const char *dir;
    GError *local = NULL;
    VhPciAddress addr;

    if (!vh_pci_address_parse(address, &addr, error))
        return NULL;
    vh_pci_address_format(&addr, dev->address);
    dev->gpu_instance_id = -1;
    dir = attr_path(dev, NULL, dir_buf);
    entries = vh_sysfs_list_dir(sysfs, dir, &local);
    if (entries == NULL) {
        if (vh_sysfs_is_dir(sysfs, dir)) {
            g_propagate_prefixed_error(error, local, "PCI device %s: ", dev->address);
            return NULL;
        }
        g_error_free(local);
        g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND,
                    "no PCI device %s on this host (%s/%s does not exist)",
                    dev->address, vh_sysfs_get_root(sysfs), dir);
        return NULL;
    }
    if (!read_hex_attr(sysfs, dev, "vendor", TRUE, &dev->vendor, error) ||
        !read_hex_attr(sysfs, dev, "device", TRUE, &dev->device, error) ||
        !read_hex_attr(sysfs, dev, "class", TRUE, &dev->class_code, error) ||
        !read_hex_attr(sysfs, dev, "subsystem_vendor", FALSE, &dev->subsystem_vendor, error) ||
        !read_hex_attr(sysfs, dev, "subsystem_device", FALSE, &dev->subsystem_device, error))
        return NULL;
    dev->numa_node = has_entry(entries, "numa_node")
                         ? read_optional_int(sysfs, dev, "numa_node", -1) : -1;
    load_driver(sysfs, dev, entries);
    load_iommu_group(sysfs, dev, entries);
    load_sriov(sysfs, dev, entries);
    if (has_entry(entries, "nvidia"))
        vh_pci_device_reload_vgpu(dev, sysfs, NULL);
    if (has_entry(entries, "mdev_supported_types"))
        load_mdev(sysfs, dev);
    return g_steal_pointer(&dev);
}

VhPciDevice *
vh_pci_device_load_vgpu_state(VhSysfs *sysfs, const char *address, GError **error)
{
    VhPciDevice *dev;
    VhPciAddress addr;

    if (!vh_pci_address_parse(address, &addr, error))
        return NULL;
    dev = g_new0(VhPciDevice, 1);
    vh_pci_address_format(&addr, dev->address);
    dev->partial = TRUE;
    dev->iommu_group = -1;
    dev->numa_node = -1;
    dev->sriov_totalvfs = -1;
    dev->sriov_numvfs = -1;
    vh_pci_device_reload_vgpu(dev, sysfs, NULL);
    return dev;
}

gboolean
vh_pci_device_complete(VhPciDevice *dev, VhSysfs *sysfs, GError **error)
{
    g_autoptr(VhPciDevice) full = NULL;
    VhPciDevice partial;

    if (!dev->partial)
        return TRUE;
    full = vh_pci_device_load(sysfs, dev->address, error);
    if (full == NULL)
        return FALSE;
    partial = *dev;
    *dev = *full;
    *full = partial; /* freed with what the partial read held */
    return TRUE;
}

gboolean
vh_pci_device_is_display(const VhPciDevice *dev)
{
    return (dev->class_code >> 16) == 0x03;
}

gboolean
vh_pci_device_is_bridge(const VhPciDevice *dev)
{
    return (dev->class_code >> 8) == 0x0604 || (dev->class_code >> 8) == 0x0600;
}

gboolean
vh_pci_device_is_vf(const VhPciDevice *dev)
{
    return dev->physfn != NULL;
}

gboolean
vh_pci_device_is_pf(const VhPciDevice *dev)
{
    return dev->virtfns && dev->virtfns->len > 0;
}

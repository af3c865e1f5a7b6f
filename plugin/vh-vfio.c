/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-vfio: vfio-pci binding steps; see the header. */
#include "vh-vfio.h"
#include "vh-error.h"
#include "vh-fault.h"

#include <string.h>

void
vh_vfio_binding_free(VhVfioBinding *binding)
{
    if (binding == NULL)
        return;
    g_free(binding->address);
    g_free(binding->driver);
    g_free(binding);
}

static gboolean
write_attr(VhHost *host, const char *address, const char *rel, const char *value,
           const char *what, GError **error)
{
    g_autoptr(GError) local = NULL;

    if (vh_sysfs_write(host->sysfs, rel, value, &local))
        return TRUE;
    g_set_error(error, VH_ERROR, local->code, "failed to %s PCI device %s: %s", what, address,
                local->message);
    return FALSE;
}

static gboolean
set_driver_override(VhHost *host, const char *address, const char *driver, GError **error)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/driver_override", address);

    return write_attr(host, address, rel, driver ? driver : "\n",
                      driver ? "set driver_override of" : "clear driver_override of", error);
}

static gboolean
unbind_from(VhHost *host, const char *address, const char *driver, GError **error)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/drivers/%s/unbind", driver);
    g_autofree char *what = g_strdup_printf("unbind from %s", driver);

    return write_attr(host, address, rel, address, what, error);
}

static gboolean
probe(VhHost *host, const char *address, GError **error)
{
    return write_attr(host, address, "bus/pci/drivers_probe", address, "probe drivers for", error);
}

static char *
current_driver(VhHost *host, const char *address)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/driver", address);

    return vh_sysfs_read_link_name(host->sysfs, rel, NULL);
}

gboolean
vh_vfio_bind_device(VhHost *host, const char *address, GError **error)
{
    g_autofree char *driver = current_driver(host, address);
    g_autofree char *after = NULL;

    if (g_strcmp0(driver, VH_VFIO_DRIVER) == 0)
        return TRUE;
    if (!set_driver_override(host, address, VH_VFIO_DRIVER, error))
        return FALSE;
    VH_FAULT_POINT("vfio:override-set");
    if (driver && !unbind_from(host, address, driver, error))
        goto undo_override;
    VH_FAULT_POINT("vfio:unbound");
    if (!probe(host, address, error))
        goto undo_override;
    VH_FAULT_POINT("vfio:probed");
    after = current_driver(host, address);
    vh_host_invalidate(host, address);
    if (g_strcmp0(after, VH_VFIO_DRIVER) != 0) {
        if (after)
            g_set_error(error, VH_ERROR, VH_ERROR_FAILED,
                        "PCI device %s did not bind to vfio-pci: driver %s took it", address,
                        after);
        else if (vh_sysfs_is_dir(host->sysfs, "bus/pci/drivers/" VH_VFIO_DRIVER))
            g_set_error(error, VH_ERROR, VH_ERROR_FAILED,
                        "PCI device %s did not bind to vfio-pci: the driver refused it (the "
                        "kernel log says why: dmesg | grep %s)", address, address);
        else
            g_set_error(error, VH_ERROR, VH_ERROR_FAILED,
                        "PCI device %s did not bind to vfio-pci: the vfio-pci module is not "
                        "loaded (modprobe vfio-pci)", address);
        goto undo_override;
    }
    return TRUE;

undo_override:
    set_driver_override(host, address, NULL, NULL);
    if (driver) {
        g_autofree char *now = current_driver(host, address);
        if (now == NULL)
            probe(host, address, NULL);
    }
    return FALSE;
}

gboolean
vh_vfio_unbind_device(VhHost *host, const char *address, const char *original_driver,
                      GError **error)
{
    g_autofree char *driver = current_driver(host, address);

    vh_host_invalidate(host, address);
    if (g_strcmp0(driver, VH_VFIO_DRIVER) == 0 && !unbind_from(host, address, driver, error))
        return FALSE;
    VH_FAULT_POINT("vfio:released");
    if (!set_driver_override(host, address, NULL, error))
        return FALSE;
    VH_FAULT_POINT("vfio:override-cleared");
    if (original_driver && *original_driver && !probe(host, address, error))
        return FALSE;
    return TRUE;
}

/* Can @member be taken along with @gpu? */
static gboolean
check_companion(VhHost *host, const char *gpu, VhPciDevice *member, GError **error)
{
    if (vh_pci_device_is_bridge(member)) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "IOMMU group %d of GPU %s contains bridge %s: the GPU cannot be assigned "
                    "alone; use another slot", member->iommu_group, gpu, member->address);
        return FALSE;
    }
    if (vh_host_is_denied(host, member->address)) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "IOMMU group %d of GPU %s contains %s, which is on the deny list",
                    member->iommu_group, gpu, member->address);
        return FALSE;
    }
    /* The kernel's vfio-pci refuses a PF with VFs enabled ("Cannot bind to
     * PF with SR-IOV enabled"), and only after the PF has been taken from
     * its driver: refuse before touching anything. */
    /* A PF is a PF by its virtfn* links, whatever sriov_numvfs says. */
    if (member->sriov_numvfs > 0 || vh_pci_device_is_pf(member)) {
        g_autofree char *where = strcmp(member->address, gpu) == 0
            ? g_strdup("")
            : g_strdup_printf(" (in IOMMU group %d of GPU %s)", member->iommu_group, gpu);
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "PCI device %s%s is an SR-IOV PF with %u VFs enabled, which vfio-pci does "
                    "not take: disable them first (echo 0 > /sys/bus/pci/devices/%s/sriov_numvfs)",
                    member->address, where,
                    MAX((guint)MAX(member->sriov_numvfs, 0), member->virtfns->len),
                    member->address);
        return FALSE;
    }
    if (member->driver && strcmp(member->driver, VH_VFIO_DRIVER) != 0 &&
        !vh_pci_address_same_slot(member->address, gpu)) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "IOMMU group %d of GPU %s contains %s, in use by the host (driver %s): "
                    "refusing to take it", member->iommu_group, gpu, member->address,
                    member->driver);
        return FALSE;
    }
    return TRUE;
}

/* Undo the first @count bindings of @plan, last first. */
static void
undo_bindings(VhHost *host, GPtrArray *plan, guint count)
{
    for (guint i = count; i > 0; i--) {
        const VhVfioBinding *b = g_ptr_array_index(plan, i - 1);
        vh_vfio_unbind_device(host, b->address, b->driver, NULL);
    }
}

gboolean
vh_vfio_plan_group(VhHost *host, const char *gpu, GPtrArray *plan, GError **error)
{
    VhPciDevice *dev = vh_host_get_device(host, gpu, error);
    g_autoptr(GPtrArray) members = NULL;
    g_autoptr(GPtrArray) steps = g_ptr_array_new_with_free_func((GDestroyNotify)vh_vfio_binding_free);

    if (dev == NULL)
        return FALSE;
    if (dev->iommu_group < 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "GPU %s has no IOMMU group: enable the IOMMU (intel_iommu=on / amd_iommu=on)",
                    gpu);
        return FALSE;
    }
    members = vh_host_iommu_group_members(host, dev->iommu_group, error);
    if (members == NULL)
        return FALSE;
    /* Check every member before listing anything. */
    for (guint i = 0; i < members->len; i++) {
        VhPciDevice *member = vh_host_get_device(host, g_ptr_array_index(members, i), error);
        VhVfioBinding *b;
        if (member == NULL || !check_companion(host, gpu, member, error))
            return FALSE;
        if (g_strcmp0(member->driver, VH_VFIO_DRIVER) == 0)
            continue;
        b = g_new0(VhVfioBinding, 1);
        b->address = g_strdup(member->address);
        b->driver = g_strdup(member->driver ? member->driver : "");
        g_ptr_array_add(steps, b);
    }
    g_ptr_array_extend_and_steal(plan, g_steal_pointer(&steps));
    return TRUE;
}

gboolean
vh_vfio_bind_planned(VhHost *host, GPtrArray *plan, GError **error)
{
    for (guint i = 0; i < plan->len; i++) {
        const VhVfioBinding *b = g_ptr_array_index(plan, i);
        if (!vh_vfio_bind_device(host, b->address, error)) {
            undo_bindings(host, plan, i);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
vh_vfio_bind_group(VhHost *host, const char *gpu, GPtrArray *done, GError **error)
{
    g_autoptr(GPtrArray) plan = g_ptr_array_new_with_free_func((GDestroyNotify)vh_vfio_binding_free);

    if (!vh_vfio_plan_group(host, gpu, plan, error) || !vh_vfio_bind_planned(host, plan, error))
        return FALSE;
    g_ptr_array_extend_and_steal(done, g_steal_pointer(&plan));
    return TRUE;
}

gboolean
vh_vfio_wait_group_node(VhHost *host, gint group, guint timeout_ms, GError **error)
{
    g_autofree char *path = g_strdup_printf("%s/%d", host->config->vfio_dir, group);
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;

    while (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        if (g_get_monotonic_time() >= deadline) {
            g_set_error(error, VH_ERROR, VH_ERROR_FAILED,
                        "%s did not appear within %u ms after binding the group to vfio-pci",
                        path, timeout_ms);
            return FALSE;
        }
        g_usleep(20 * 1000);
    }
    return TRUE;
}

/* vh-vfio: vfio-pci binding steps; see the header. */
#include "vh-vfio.h"
#include "vh-error.h"

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
    if (driver && !unbind_from(host, address, driver, error))
        goto undo_override;
    if (!probe(host, address, error))
        goto undo_override;
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
    if (!set_driver_override(host, address, NULL, error))
        return FALSE;
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
    if (vh_config_is_denied(host->config, member->address)) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "IOMMU group %d of GPU %s contains %s, which is on the deny list",
                    member->iommu_group, gpu, member->address);
        return FALSE;
    }
    /* The kernel's vfio-pci refuses a PF with VFs enabled ("Cannot bind to
     * PF with SR-IOV enabled"), and only after the PF has been taken from
     * its driver: refuse before touching anything. */
    if (member->sriov_numvfs > 0) {
        g_autofree char *where = strcmp(member->address, gpu) == 0
            ? g_strdup("")
            : g_strdup_printf(" (in IOMMU group %d of GPU %s)", member->iommu_group, gpu);
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "PCI device %s%s is an SR-IOV PF with %d VFs enabled, which vfio-pci does "
                    "not take: disable them first (echo 0 > /sys/bus/pci/devices/%s/sriov_numvfs)",
                    member->address, where, member->sriov_numvfs, member->address);
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

static void
undo_bindings(VhHost *host, GPtrArray *done, guint from)
{
    for (guint i = done->len; i > from; i--) {
        const VhVfioBinding *b = g_ptr_array_index(done, i - 1);
        vh_vfio_unbind_device(host, b->address, b->driver, NULL);
    }
    g_ptr_array_set_size(done, from);
}

gboolean
vh_vfio_bind_group(VhHost *host, const char *gpu, GPtrArray *done, GError **error)
{
    VhPciDevice *dev = vh_host_get_device(host, gpu, error);
    g_autoptr(GPtrArray) members = NULL;
    g_autoptr(GPtrArray) devices = g_ptr_array_new();
    guint start = done->len;

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
    /* Check every member before changing anything. */
    for (guint i = 0; i < members->len; i++) {
        VhPciDevice *member = vh_host_get_device(host, g_ptr_array_index(members, i), error);
        if (member == NULL || !check_companion(host, gpu, member, error))
            return FALSE;
        g_ptr_array_add(devices, member);
    }
    for (guint i = 0; i < devices->len; i++) {
        VhPciDevice *member = g_ptr_array_index(devices, i);
        VhVfioBinding *b;
        g_autofree char *address = g_strdup(member->address);
        g_autofree char *driver = g_strdup(member->driver ? member->driver : "");
        if (g_strcmp0(member->driver, VH_VFIO_DRIVER) == 0)
            continue;
        /* vh_vfio_bind_device invalidates @member: use the copies. */
        if (!vh_vfio_bind_device(host, address, error)) {
            undo_bindings(host, done, start);
            return FALSE;
        }
        b = g_new0(VhVfioBinding, 1);
        b->address = g_steal_pointer(&address);
        b->driver = g_steal_pointer(&driver);
        g_ptr_array_add(done, b);
    }
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

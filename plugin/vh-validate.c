/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-validate: host readiness findings; see the header. */
#include "vh-validate.h"
#include "vh-mdev.h"
#include "vh-mig.h"
#include "vh-nvml.h"
#include "vh-vgpu-cache.h"

#include <string.h>

void
vh_finding_free(VhFinding *finding)
{
    if (finding == NULL)
        return;
    g_free(finding->subject);
    g_free(finding->message);
    g_free(finding);
}

const char *
vh_finding_level_to_string(VhFindingLevel level)
{
    switch (level) {
    case VH_FINDING_OK: return "ok";
    case VH_FINDING_WARN: return "warn";
    case VH_FINDING_FAIL: return "FAIL";
    }
    return "?";
}

static void add_finding(GPtrArray *findings, VhFindingLevel level, const char *subject,
                        const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static void
add_finding(GPtrArray *findings, VhFindingLevel level, const char *subject, const char *fmt, ...)
{
    VhFinding *f = g_new0(VhFinding, 1);
    va_list args;

    va_start(args, fmt);
    f->level = level;
    f->subject = g_strdup(subject);
    f->message = g_strdup_vprintf(fmt, args);
    va_end(args);
    g_ptr_array_add(findings, f);
}

static gboolean
has_kind(VhCatalog *catalog, VhResourceKind kind)
{
    for (guint i = 0; i < catalog->resources->len; i++) {
        const VhResource *res = g_ptr_array_index(catalog->resources, i);
        if (res->kind == kind && res->members->len > 0)
            return TRUE;
    }
    return FALSE;
}

static void
check_iommu(VhCatalog *catalog, GPtrArray *findings)
{
    g_autoptr(GPtrArray) groups = vh_sysfs_list_dir(catalog->host->sysfs, "kernel/iommu_groups", NULL);

    if (groups && groups->len > 0)
        add_finding(findings, VH_FINDING_OK, "host", "IOMMU enabled (%u groups)", groups->len);
    else
        add_finding(findings, VH_FINDING_FAIL, "host",
                    "no IOMMU groups: enable VT-d/AMD-Vi in the firmware and boot with "
                    "intel_iommu=on iommu=pt (Intel) or amd_iommu=on (AMD)");
}

static void
check_vfio(VhCatalog *catalog, GPtrArray *findings)
{
    gboolean loaded = vh_sysfs_is_dir(catalog->host->sysfs, "bus/pci/drivers/vfio-pci");

    if (loaded)
        add_finding(findings, VH_FINDING_OK, "host", "vfio-pci driver available");
    else if (has_kind(catalog, VH_RESOURCE_KIND_PASSTHROUGH))
        add_finding(findings, VH_FINDING_FAIL, "host",
                    "vfio-pci is not loaded: run 'modprobe vfio-pci' and add vfio-pci to "
                    "/etc/modules-load.d/vfio.conf");
    else
        add_finding(findings, VH_FINDING_WARN, "host",
                    "vfio-pci is not loaded (needed only for whole-GPU passthrough)");
}

static void
check_group(VhCatalog *catalog, const VhPciDevice *gpu, GPtrArray *findings)
{
    VhHost *host = catalog->host;
    g_autoptr(GPtrArray) members = NULL;
    g_autoptr(GString) to_bind = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    gboolean blocked = FALSE;
    guint driverless = 0;

    if (gpu->iommu_group < 0) {
        add_finding(findings, VH_FINDING_FAIL, gpu->address,
                    "no IOMMU group: the GPU cannot be passed through until the IOMMU is on");
        return;
    }
    members = vh_host_iommu_group_members(host, gpu->iommu_group, &error);
    if (members == NULL) {
        add_finding(findings, VH_FINDING_FAIL, gpu->address, "IOMMU group %d unreadable: %s",
                    gpu->iommu_group, error->message);
        return;
    }
    for (guint i = 0; i < members->len; i++) {
        const char *addr = g_ptr_array_index(members, i);
        VhPciDevice *dev = g_hash_table_lookup(host->by_address, addr);
        if (dev == NULL)
            continue;
        driverless += dev->driver == NULL;
        if (vh_pci_device_is_bridge(dev)) {
            add_finding(findings, VH_FINDING_FAIL, gpu->address,
                        "IOMMU group %d contains bridge %s: the GPU cannot be assigned alone; "
                        "use another slot or a platform with ACS", gpu->iommu_group, addr);
            blocked = TRUE;
        } else if (vh_config_is_denied(host->config, addr) && dev != gpu) {
            add_finding(findings, VH_FINDING_FAIL, gpu->address,
                        "IOMMU group %d contains denied device %s: remove it from [host] deny "
                        "or do not offer this GPU", gpu->iommu_group, addr);
            blocked = TRUE;
        } else if (dev->driver && strcmp(dev->driver, "vfio-pci") != 0) {
            if (dev != gpu && !vh_pci_address_same_slot(addr, gpu->address)) {
                add_finding(findings, VH_FINDING_FAIL, gpu->address,
                            "IOMMU group %d contains %s, in use by the host (driver %s): "
                            "the group is not viable", gpu->iommu_group, addr, dev->driver);
                blocked = TRUE;
            } else {
                g_string_append_printf(to_bind, "%s%s (%s)", to_bind->len ? ", " : "", addr,
                                       dev->driver);
            }
        }
    }
    if (blocked)
        return;
    if (to_bind->len)
        add_finding(findings, VH_FINDING_OK, gpu->address,
                    "IOMMU group %d viable once bound to vfio-pci: %s (done at VM start, or "
                    "'vgpuctl bind %s')", gpu->iommu_group, to_bind->str, gpu->address);
    else if (driverless > 0)
        add_finding(findings, VH_FINDING_OK, gpu->address,
                    "IOMMU group %d viable (%u on vfio-pci, %u without a driver)",
                    gpu->iommu_group, members->len - driverless, driverless);
    else
        add_finding(findings, VH_FINDING_OK, gpu->address, "IOMMU group %d viable (all on vfio-pci)",
                    gpu->iommu_group);
}

static void
check_passthrough(VhCatalog *catalog, GPtrArray *findings)
{
    for (guint i = 0; i < catalog->resources->len; i++) {
        const VhResource *res = g_ptr_array_index(catalog->resources, i);
        if (res->kind != VH_RESOURCE_KIND_PASSTHROUGH)
            continue;
        for (guint j = 0; j < res->members->len; j++)
            check_group(catalog, ((const VhResourceMember *)g_ptr_array_index(res->members, j))->device,
                        findings);
    }
}

static void
check_sriov_gpu(VhCatalog *catalog, const VhVgpuGpu *gpu, GPtrArray *findings)
{
    guint size = 0;
    gboolean mixed = FALSE;

    for (guint i = 0; i < gpu->vfs->len; i++) {
        const VhPciDevice *vf = g_ptr_array_index(gpu->vfs, i);
        const char *held;
        guint held_size;
        if (vf->vgpu_error) {
            add_finding(findings, VH_FINDING_FAIL, vf->address,
                        "%s: check the vGPU manager (nvidia-smi vgpu, journalctl -k)", vf->vgpu_error);
            continue;
        }
        if (vf->current_vgpu_type == 0)
            continue;
        held = vh_catalog_vf_profile(catalog, vf);
        if (held == NULL) {
            g_autofree char *fix = vh_vgpu_gpu_unknown_fix(gpu, vf);
            add_finding(findings, VH_FINDING_WARN, vf->address, "%s", fix);
            continue;
        }
        held_size = vh_vgpu_profile_framebuffer_gb(vh_vgpu_type_profile(held));
        mixed |= size && held_size != size;
        size = held_size;
    }
    if (mixed)
        add_finding(findings, VH_FINDING_WARN, gpu->pf->address,
                    "VFs hold profiles of different sizes; in the default homogeneous mode new "
                    "profiles will be refused until they agree");
    if (gpu->pf->driver == NULL || strcmp(gpu->pf->driver, "nvidia") != 0)
        add_finding(findings, VH_FINDING_WARN, gpu->pf->address,
                    "SR-IOV GPU is bound to %s, not nvidia: is the vGPU manager loaded?",
                    gpu->pf->driver ? gpu->pf->driver : "no driver");
    add_finding(findings, VH_FINDING_OK, gpu->pf->address,
                "SR-IOV vGPU: %u VFs, %u types, %u GB framebuffer", gpu->vfs->len,
                gpu->types->len, gpu->framebuffer_gb);
    if (gpu->types->len == 0)
        add_finding(findings, VH_FINDING_FAIL, gpu->pf->address,
                    "no VF lists a creatable vGPU type: the GPU is full or the vGPU manager "
                    "is not working (nvidia-smi vgpu -c)");
}

static gboolean
is_catalogued_gpu(VhCatalog *catalog, const VhPciDevice *dev)
{
    for (guint i = 0; i < catalog->gpus->len; i++) {
        if (((const VhVgpuGpu *)g_ptr_array_index(catalog->gpus, i))->pf == dev)
            return TRUE;
    }
    return FALSE;
}

static void
check_vgpu(VhCatalog *catalog, GPtrArray *findings)
{
    VhHost *host = catalog->host;

    for (guint i = 0; i < catalog->gpus->len; i++)
        check_sriov_gpu(catalog, g_ptr_array_index(catalog->gpus, i), findings);
    for (guint i = 0; i < host->devices->len; i++) {
        const VhPciDevice *dev = g_ptr_array_index(host->devices, i);
        if (dev->vendor != VH_PCI_VENDOR_NVIDIA || !vh_pci_device_is_display(dev) ||
            vh_host_is_denied(host, dev->address))
            continue;
        if (dev->sriov_totalvfs > 0 && dev->sriov_numvfs == 0 && !dev->mdev_types &&
            !vh_pci_device_is_pf(dev))
            add_finding(findings, VH_FINDING_WARN, dev->address,
                        "SR-IOV capable GPU without VFs: for vGPU run "
                        "'/usr/lib/nvidia/sriov-manage -e %s' (passthrough works as is)",
                        dev->address);
        else if (vh_pci_device_is_pf(dev) && !is_catalogued_gpu(catalog, dev))
            add_finding(findings, VH_FINDING_FAIL, dev->address,
                        "VFs enabled but they have no nvidia/ vGPU files: load the NVIDIA vGPU "
                        "manager (vgpu-kvm driver) or disable the VFs");
        if (dev->mdev_error)
            add_finding(findings, VH_FINDING_FAIL, dev->address, "%s", dev->mdev_error);
        else if (dev->mdev_types)
            add_finding(findings, VH_FINDING_OK, dev->address, "mdev vGPU parent with %u types",
                        dev->mdev_types->len);
    }
}

/* A MIG GPU's state through NVML (loaded only when the host has one):
 * without NVML, MIG-backed vGPU types are offered only where sysfs lists
 * them creatable, and this says so. */
static void
check_mig_gpu(const VhPciDevice *dev, const char *model, VhNvml **nvml, GError **nvml_error,
              GPtrArray *findings)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) profiles = NULL;
    gboolean mig = FALSE;

    if (*nvml == NULL && *nvml_error == NULL)
        *nvml = vh_nvml_open(nvml_error);
    if (*nvml == NULL) {
        add_finding(findings, VH_FINDING_WARN, dev->address,
                    "MIG-capable %s, but %s: MIG mode and GPU instances cannot be checked, and "
                    "MIG-backed vGPU types are offered only where sysfs lists them creatable",
                    model, (*nvml_error)->message);
        return;
    }
    if (!vh_nvml_mig_mode(*nvml, dev->address, &mig, NULL, &error)) {
        add_finding(findings, VH_FINDING_WARN, dev->address, "MIG-capable %s: %s", model,
                    error->message);
        return;
    }
    if (!mig) {
        add_finding(findings, VH_FINDING_OK, dev->address,
                    "MIG-capable %s: MIG mode off (MIG-backed vGPU types need "
                    "'nvidia-smi -i %s -mig 1' before sriov-manage -e)", model, dev->address);
        return;
    }
    profiles = vh_nvml_gi_profiles(*nvml, dev->address, NULL);
    add_finding(findings, VH_FINDING_OK, dev->address,
                "MIG-capable %s: MIG mode on, %u GPU-instance profiles", model,
                profiles ? profiles->len : 0);
}

static void
check_mig(VhCatalog *catalog, GPtrArray *findings)
{
    VhHost *host = catalog->host;
    g_autoptr(VhNvml) nvml = NULL;
    g_autoptr(GError) nvml_error = NULL;

    for (guint i = 0; i < host->devices->len; i++) {
        const VhPciDevice *dev = g_ptr_array_index(host->devices, i);
        g_autoptr(VhMigTable) table = NULL;

        if (dev->vendor != VH_PCI_VENDOR_NVIDIA || !vh_pci_device_is_display(dev) ||
            vh_pci_device_is_vf(dev) || vh_config_is_denied(host->config, dev->address))
            continue;
        table = vh_mig_table_builtin_for_device(dev->device);
        if (table)
            check_mig_gpu(dev, vh_mig_table_model(table), &nvml, &nvml_error, findings);
    }
}

/* The type table cached for another driver version only: a driver update,
 * whose ids may differ; the next idle writer (setup) records the new one. */
static void
check_cached_version(const VhVgpuGpu *gpu, GPtrArray *findings)
{
    g_auto(GStrv) versions = vh_vgpu_cache_versions(gpu->cache_dir, gpu->pf->vendor,
                                                    gpu->pf->device);
    g_autofree char *mine = g_strdup(gpu->driver_version ? gpu->driver_version : "unknown");
    g_autofree char *list = NULL;

    g_strcanon(mine, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", '_');
    if (versions == NULL || g_strv_contains((const char *const *)versions, mine))
        return;
    list = g_strjoinv(", ", versions);
    add_finding(findings, VH_FINDING_WARN, gpu->pf->address,
                "driver %s differs from the driver of the cached type table (%s): type ids may "
                "have changed; run 'vgpuctl setup' while the GPU is idle to record the new table",
                mine, list);
}

/* [gpu "ADDR"] against the host: VFs enabled, mode as configured. */
static void
check_gpu_decls(VhCatalog *catalog, GPtrArray *findings)
{
    const VhConfig *config = catalog->host->config;

    for (guint i = 0; i < config->gpus->len; i++) {
        const VhGpuDecl *decl = g_ptr_array_index(config->gpus, i);
        const VhPciDevice *dev = vh_host_get_device(catalog->host, decl->address, NULL);
        const VhVgpuGpu *gpu = NULL;
        VhVgpuMode have;
        for (guint g = 0; dev && g < catalog->gpus->len; g++) {
            const VhVgpuGpu *c = g_ptr_array_index(catalog->gpus, g);
            gpu = c->pf == dev ? c : gpu;
        }
        if (dev == NULL) {
            add_finding(findings, VH_FINDING_FAIL, decl->address,
                        "[gpu \"%s\"] in the configuration, but no such device on this host",
                        decl->address);
            continue;
        }
        if (decl->enable_vfs && dev->sriov_numvfs == 0)
            add_finding(findings, VH_FINDING_FAIL, decl->address,
                        "configured for vGPU (vfs=enabled) but its VFs are not enabled: run "
                        "'vgpuctl setup' (it runs sriov-manage -e %s)", decl->address);
        if (gpu == NULL)
            continue;
        if (vh_vgpu_gpu_driver_mode(gpu, &have) ? have != gpu->mode
                                                : gpu->mode == VH_VGPU_MODE_EQUAL &&
                                                      vh_vgpu_gpu_holds_mixed_sizes(gpu))
            add_finding(findings, VH_FINDING_WARN, decl->address,
                        "the GPU runs %s-size mode but vgpu_mode = %s in the configuration: "
                        "release its VFs and run 'vgpuctl setup'",
                        gpu->mode == VH_VGPU_MODE_EQUAL ? "mixed" : "equal",
                        vh_vgpu_mode_to_string(gpu->mode));
    }
}

GPtrArray *
vh_validate_host(VhCatalog *catalog, gboolean *ready)
{
    GPtrArray *findings = g_ptr_array_new_with_free_func((GDestroyNotify)vh_finding_free);

    check_iommu(catalog, findings);
    check_vfio(catalog, findings);
    if (catalog->resources->len == 0)
        add_finding(findings, VH_FINDING_WARN, "host",
                    "no GPU resources: no NVIDIA GPU found and none declared in the configuration");
    check_passthrough(catalog, findings);
    check_vgpu(catalog, findings);
    check_mig(catalog, findings);
    check_gpu_decls(catalog, findings);
    for (guint i = 0; i < catalog->gpus->len; i++)
        check_cached_version(g_ptr_array_index(catalog->gpus, i), findings);
    *ready = TRUE;
    for (guint i = 0; i < findings->len; i++) {
        if (((const VhFinding *)g_ptr_array_index(findings, i))->level == VH_FINDING_FAIL)
            *ready = FALSE;
    }
    return findings;
}

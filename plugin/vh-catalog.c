/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-catalog: resources, members and counts; see the header. */
#include "vh-catalog.h"
#include "vh-error.h"
#include "vh-mdev.h"
#include "vh-resource-name.h"

#include <string.h>

static void
resource_free(VhResource *res)
{
    g_free(res->name);
    g_free(res->profile);
    g_ptr_array_unref(res->members);
    g_free(res);
}

void
vh_catalog_free(VhCatalog *catalog)
{
    if (catalog == NULL)
        return;
    /* Also called on a catalog whose build failed before these exist. */
    g_clear_pointer(&catalog->by_name, g_hash_table_unref);
    g_clear_pointer(&catalog->by_device, g_hash_table_unref);
    g_clear_pointer(&catalog->resources, g_ptr_array_unref);
    g_clear_pointer(&catalog->gpus, g_ptr_array_unref);
    g_free(catalog);
}

static VhResource *
get_resource(VhCatalog *catalog, const char *name, VhResourceKind kind, const char *profile,
             gboolean declared)
{
    VhResource *res = g_hash_table_lookup(catalog->by_name, name);

    if (res)
        return res;
    res = g_new0(VhResource, 1);
    res->name = g_strdup(name);
    res->kind = kind;
    res->profile = g_strdup(profile);
    res->declared = declared;
    res->members = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(catalog->resources, res);
    g_hash_table_insert(catalog->by_name, res->name, res);
    return res;
}

static void
add_member(VhResource *res, VhPciDevice *dev, VhVgpuGpu *gpu, const char *mdev_type_id)
{
    VhResourceMember *m = g_new0(VhResourceMember, 1);

    m->device = dev;
    m->gpu = gpu;
    m->mdev_type_id = mdev_type_id;
    g_ptr_array_add(res->members, m);
}

/* ---- SR-IOV GPUs ------------------------------------------------------ */

VhVgpuGpu *
vh_catalog_gpu_of_vf(VhCatalog *catalog, const char *vf_address)
{
    for (guint i = 0; i < catalog->gpus->len; i++) {
        VhVgpuGpu *gpu = g_ptr_array_index(catalog->gpus, i);
        for (guint v = 0; v < gpu->vfs->len; v++) {
            const VhPciDevice *vf = g_ptr_array_index(gpu->vfs, v);
            if (strcmp(vf->address, vf_address) == 0)
                return gpu;
        }
    }
    return NULL;
}

static const char *
gpu_type_name(const VhVgpuGpu *gpu, guint id)
{
    return vh_vgpu_gpu_type_name(gpu, id);
}

const char *
vh_catalog_vf_profile(VhCatalog *catalog, const VhPciDevice *vf)
{
    VhVgpuGpu *gpu;

    if (vf->current_vgpu_type == 0 || (gpu = vh_catalog_gpu_of_vf(catalog, vf->address)) == NULL)
        return NULL;
    return gpu_type_name(gpu, vf->current_vgpu_type);
}

/* The profile a VF holds or is promised to (by a lease not yet prepared);
 * NULL when free. *@unknown is set when it holds a type we cannot name. */
static const char *
vf_claimed_profile(VhCatalog *catalog, const VhVgpuGpu *gpu, const VhPciDevice *vf,
                   VhHolders *holders, gboolean *unknown)
{
    *unknown = FALSE;
    if (vf->current_vgpu_type != 0) {
        const char *name = gpu_type_name(gpu, vf->current_vgpu_type);
        *unknown = name == NULL;
        return name;
    }
    if (holders) {
        const char *res_name = g_hash_table_lookup(holders, vf->address);
        const VhResource *res = res_name ? vh_catalog_lookup(catalog, res_name) : NULL;
        if (res && res->profile)
            return res->profile;
    }
    return NULL;
}

/* What each of a GPU's VFs holds or is promised, as vh_vgpu_gpu_admits wants
 * it (a profile, "" for a type nobody names, NULL when free), in the order
 * of gpu->vfs: counting asks whether every VF of the GPU can take each
 * profile, and each answer looks at all the GPU's VFs. */
static const char **
gpu_claims(VhCatalog *catalog, const VhVgpuGpu *gpu, VhHolders *holders)
{
    const char **held = g_new0(const char *, gpu->vfs->len + 1);
    gboolean unknown;

    for (guint i = 0; i < gpu->vfs->len; i++) {
        const char *claim = vf_claimed_profile(catalog, gpu, g_ptr_array_index(gpu->vfs, i),
                                               holders, &unknown);
        held[i] = claim ? vh_vgpu_type_profile(claim) : unknown ? "" : NULL;
    }
    return held;
}

/* Whether free VF @vf may take @wanted next to @held. A free VF's own claim
 * is NULL, so the answer is the same for every free VF of the GPU: counting
 * asks once per GPU and profile and keeps it in *@memo (-1: not asked yet;
 * @memo NULL: ask, with @error). */
static gboolean
free_vf_admits(const VhVgpuGpu *gpu, const char *const *held, const VhPciDevice *vf,
               const char *wanted, gint *memo, GError **error)
{
    if (memo == NULL)
        return vh_vgpu_gpu_admits(gpu, held, vf, wanted, error);
    if (*memo < 0)
        *memo = vh_vgpu_gpu_admits(gpu, held, vf, wanted, NULL);
    return *memo;
}

static gboolean
can_take(const VhVgpuGpu *gpu, const char *const *held, const VhPciDevice *vf,
         const char *profile, VhHolders *holders, VhCatalog *catalog, gint *memo,
         GError **error)
{
    const char *wanted = vh_vgpu_type_profile(profile);
    gboolean unknown;
    const char *own = vf_claimed_profile(catalog, gpu, vf, holders, &unknown);

    if (own && strcmp(vh_vgpu_type_profile(own), wanted) == 0)
        return TRUE;
    if (own || unknown) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY, "VF %s already holds %s", vf->address,
                    own ? vh_vgpu_type_profile(own) : "a type this driver does not list");
        return FALSE;
    }
    if (!free_vf_admits(gpu, held, vf, wanted, memo, error))
        return FALSE;
    /* The driver has the last word for a VF it reports on. */
    if (vf->creatable_types && vf->current_vgpu_type == 0 &&
        vh_vgpu_types_find_name(vf->creatable_types, wanted) == NULL &&
        (holders == NULL || !g_hash_table_contains(holders, vf->address))) {
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                    "the driver does not list %s as creatable on VF %s", wanted, vf->address);
        return FALSE;
    }
    return TRUE;
}

gboolean
vh_vgpu_gpu_can_take(const VhVgpuGpu *gpu, const VhPciDevice *vf, const char *profile,
                     VhHolders *holders, VhCatalog *catalog, GError **error)
{
    g_autofree const char **held = gpu_claims(catalog, gpu, holders);

    return can_take(gpu, held, vf, profile, holders, catalog, NULL, error);
}

/* ---- building ---------------------------------------------------------- */

typedef struct {
    GHashTable *claimed; /* "addr" or "addr|profile" -> TRUE */
    GHashTable *declared; /* "addr" or "addr|profile" -> declared resource name */
    GHashTable *declared_devices; /* "addr" -> a declared resource name */
} Claims;

static char *
claim_key(const char *address, const char *profile)
{
    return profile ? g_strconcat(address, "|", vh_vgpu_type_profile(profile), NULL)
                   : g_strdup(address);
}

static gboolean
decl_matches(const VhResourceDecl *decl, const VhPciDevice *dev)
{
    if (dev->vendor != decl->vendor || dev->device != decl->device)
        return FALSE;
    if (decl->has_subsystem && (dev->subsystem_vendor != decl->subsystem_vendor ||
                                dev->subsystem_device != decl->subsystem_device))
        return FALSE;
    return decl->addresses == NULL ||
           g_strv_contains((const char *const *)decl->addresses, dev->address);
}

/* Two declared resources must not share a device (whole, or with one
 * profile): it would count twice. Different profiles on one vGPU device are
 * alternatives, as the automatic names are. */
static gboolean
declare_claim(Claims *claims, const VhResourceDecl *decl, const char *address,
              const char *profile, GError **error)
{
    g_autofree char *key = claim_key(address, profile);
    const char *other = g_hash_table_lookup(claims->declared, key);

    if (other == NULL && profile == NULL)
        other = g_hash_table_lookup(claims->declared_devices, address);
    if (other == NULL && profile != NULL)
        other = g_hash_table_lookup(claims->declared, address);
    if (other && strcmp(other, decl->name) != 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_CONFIG,
                    "resources \"%s\" and \"%s\" both match device %s%s%s: narrow their "
                    "selectors (addresses=) so that each device has one resource",
                    other, decl->name, address, profile ? " with profile " : "",
                    profile ? profile : "");
        return FALSE;
    }
    g_hash_table_insert(claims->declared, g_strdup(key), decl->name);
    g_hash_table_insert(claims->declared_devices, g_strdup(address), decl->name);
    g_hash_table_add(claims->claimed, g_steal_pointer(&key));
    return TRUE;
}

static gboolean
add_declared(VhCatalog *catalog, const VhResourceDecl *decl, Claims *claims, GError **error)
{
    VhResource *res = get_resource(catalog, decl->name, decl->kind, decl->profile, TRUE);

    for (guint i = 0; i < catalog->host->devices->len; i++) {
        VhPciDevice *dev = g_ptr_array_index(catalog->host->devices, i);
        if (!decl_matches(decl, dev) || vh_host_is_denied(catalog->host, dev->address))
            continue;
        if (decl->kind == VH_RESOURCE_KIND_PASSTHROUGH) {
            /* vfio-pci refuses a PF with VFs enabled, and a VF with vGPU
             * files is a vGPU, not a device to pass through (an L40S's VFs
             * share its vendor:device). */
            if (vh_pci_device_is_pf(dev) || dev->has_vgpu)
                continue;
            if (!declare_claim(claims, decl, dev->address, NULL, error))
                return FALSE;
            add_member(res, dev, NULL, NULL);
        } else if (decl->kind == VH_RESOURCE_KIND_SRIOV_VGPU) {
            VhVgpuGpu *gpu = dev->has_vgpu ? vh_catalog_gpu_of_vf(catalog, dev->address) : NULL;
            /* A profile the GPU does not offer (a typo) takes no VF. */
            if (gpu == NULL || vh_vgpu_types_find_name(gpu->types, decl->profile) == NULL)
                continue;
            if (!declare_claim(claims, decl, dev->address, decl->profile, error))
                return FALSE;
            add_member(res, dev, gpu, NULL);
        } else {
            for (guint t = 0; dev->mdev_types && t < dev->mdev_types->len; t++) {
                const VhMdevType *type = g_ptr_array_index(dev->mdev_types, t);
                if (strcmp(type->name, decl->profile) != 0 &&
                    strcmp(type->type_id, decl->profile) != 0)
                    continue;
                /* Claimed under its name, whichever way it was declared. */
                if (!declare_claim(claims, decl, dev->address, type->name, error))
                    return FALSE;
                add_member(res, dev, NULL, type->type_id);
            }
        }
    }
    return TRUE;
}

static void
add_automatic_gpu(VhCatalog *catalog, VhPciDevice *dev, Claims *claims)
{
    g_autofree char *name = NULL;
    gboolean fallback = FALSE;
    VhResource *res;

    if (g_hash_table_contains(claims->claimed, dev->address))
        return;
    name = vh_resource_name_for_gpu(vh_host_get_names(catalog->host), dev->vendor, dev->device,
                                    &fallback);
    res = get_resource(catalog, name, VH_RESOURCE_KIND_PASSTHROUGH, NULL, FALSE);
    res->name_from_fallback = fallback;
    add_member(res, dev, NULL, NULL);
}

static void
add_automatic_sriov(VhCatalog *catalog, VhVgpuGpu *gpu, Claims *claims)
{
    for (guint t = 0; t < gpu->types->len; t++) {
        const VhVgpuType *type = g_ptr_array_index(gpu->types, t);
        g_autofree char *name = vh_resource_name_for_vgpu_type(type->name);
        VhResource *res = NULL;
        if (!vh_resource_name_is_valid(name)) {
            /* A garbled driver name: the type id names it on this driver. */
            g_free(name);
            name = g_strdup_printf(VH_RESOURCE_PREFIX "vgpu-%u", type->id);
        }
        for (guint v = 0; v < gpu->vfs->len; v++) {
            VhPciDevice *vf = g_ptr_array_index(gpu->vfs, v);
            g_autofree char *key = claim_key(vf->address, type->name);
            if (g_hash_table_contains(claims->claimed, key))
                continue;
            if (res == NULL)
                res = get_resource(catalog, name, VH_RESOURCE_KIND_SRIOV_VGPU, type->name, FALSE);
            add_member(res, vf, gpu, NULL);
        }
    }
}

static void
add_automatic_mdev(VhCatalog *catalog, VhPciDevice *dev, Claims *claims)
{
    for (guint t = 0; t < dev->mdev_types->len; t++) {
        const VhMdevType *type = g_ptr_array_index(dev->mdev_types, t);
        g_autofree char *key = claim_key(dev->address, type->name);
        g_autofree char *name = NULL;
        if (g_hash_table_contains(claims->claimed, key))
            continue;
        name = vh_resource_name_for_mdev_type(type->name);
        if (!vh_resource_name_is_valid(name)) {
            /* A garbled driver name must not become a resource name (it
             * would reach JSON, leases and metrics); the type id is stable. */
            g_free(name);
            name = vh_resource_name_for_mdev_type(type->type_id);
        }
        add_member(get_resource(catalog, name, VH_RESOURCE_KIND_MDEV, type->name, FALSE),
                   dev, NULL, type->type_id);
    }
}

static gboolean
is_vgpu_pf(VhCatalog *catalog, const VhPciDevice *dev)
{
    for (guint i = 0; i < catalog->gpus->len; i++) {
        const VhVgpuGpu *gpu = g_ptr_array_index(catalog->gpus, i);
        if (gpu->pf == dev)
            return TRUE;
    }
    return FALSE;
}

static void
add_automatic(VhCatalog *catalog, Claims *claims)
{
    for (guint i = 0; i < catalog->gpus->len; i++)
        add_automatic_sriov(catalog, g_ptr_array_index(catalog->gpus, i), claims);
    for (guint i = 0; i < catalog->host->devices->len; i++) {
        VhPciDevice *dev = g_ptr_array_index(catalog->host->devices, i);
        if (dev->vendor != VH_PCI_VENDOR_NVIDIA || !vh_pci_device_is_display(dev) ||
            vh_host_is_denied(catalog->host, dev->address) ||
            vh_pci_device_is_vf(dev) || is_vgpu_pf(catalog, dev) ||
            vh_pci_device_is_pf(dev)) /* vfio-pci refuses a PF with VFs enabled */
            continue;
        if (dev->mdev_types && dev->mdev_types->len > 0)
            add_automatic_mdev(catalog, dev, claims);
        else
            add_automatic_gpu(catalog, dev, claims);
    }
}

/* ---- counting ---------------------------------------------------------- */

static gboolean
holder_is(VhHolders *holders, const char *key, const char *resource)
{
    const char *held = holders ? g_hash_table_lookup(holders, key) : NULL;

    return held && (resource == NULL || strcmp(held, resource) == 0);
}

static void
count_passthrough(VhResource *res, VhHolders *holders)
{
    for (guint i = 0; i < res->members->len; i++) {
        const VhResourceMember *m = g_ptr_array_index(res->members, i);
        res->capacity++;
        if (holder_is(holders, m->device->address, NULL))
            res->in_use++;
        else
            res->allocatable++;
    }
}

/* VFs that hold this profile in sysfs but are leased to nobody. */
static guint
count_idle_holders(VhCatalog *catalog, const VhResource *res, const VhVgpuGpu *gpu,
                   VhHolders *holders)
{
    guint count = 0;

    for (guint i = 0; i < res->members->len; i++) {
        const VhResourceMember *m = g_ptr_array_index(res->members, i);
        const char *held;
        if (m->gpu != gpu || m->device->current_vgpu_type == 0 ||
            holder_is(holders, m->device->address, NULL))
            continue;
        held = gpu_type_name(gpu, m->device->current_vgpu_type);
        if (held && strcmp(vh_vgpu_type_profile(held), vh_vgpu_type_profile(res->profile)) == 0)
            count++;
    }
    return count;
}

static guint
gpu_used_framebuffer(VhCatalog *catalog, const VhVgpuGpu *gpu, VhHolders *holders)
{
    guint used = 0;
    gboolean unknown;

    for (guint i = 0; i < gpu->vfs->len; i++) {
        const char *held = vf_claimed_profile(catalog, gpu, g_ptr_array_index(gpu->vfs, i),
                                              holders, &unknown);
        if (held)
            used += vh_vgpu_profile_framebuffer_gb(vh_vgpu_type_profile(held));
    }
    return used;
}

/* Per GPU: capacity is what it could run of this profile alone (VFs, capped
 * by framebuffer); allocatable is what it can still take now. */
static void
count_sriov_gpu(VhCatalog *catalog, VhResource *res, const VhVgpuGpu *gpu, VhHolders *holders)
{
    guint size = vh_vgpu_profile_framebuffer_gb(vh_vgpu_type_profile(res->profile));
    guint vfs = 0, can = 0, in_use = 0;
    gint room, memo = -1;
    g_autofree const char **held = gpu_claims(catalog, gpu, holders);

    for (guint i = 0; i < res->members->len; i++) {
        const VhResourceMember *m = g_ptr_array_index(res->members, i);
        if (m->gpu != gpu)
            continue;
        vfs++;
        if (holder_is(holders, m->device->address, res->name))
            in_use++;
        else if (!holder_is(holders, m->device->address, NULL) &&
                 can_take(gpu, held, m->device, res->profile, holders, catalog, &memo, NULL))
            can++;
    }
    if (vh_vgpu_gpu_uses_mig(gpu, res->profile)) {
        /* GPU instances, not framebuffer: the claims hold theirs. */
        res->capacity += MIN(vfs, vh_vgpu_gpu_capacity(gpu, res->profile));
        can = MIN(can, vh_vgpu_gpu_mig_room(gpu, held, NULL, res->profile) +
                           count_idle_holders(catalog, res, gpu, holders));
    } else if ((room = vh_vgpu_gpu_placement_room(gpu, held, res->profile)) >= 0) {
        /* Mixed-size mode on NVML's placements: slots, not gigabytes. */
        res->capacity += MIN(vfs, vh_vgpu_gpu_capacity(gpu, res->profile));
        can = MIN(can, (guint)room + count_idle_holders(catalog, res, gpu, holders));
    } else if (size && gpu->framebuffer_gb) {
        guint used = gpu_used_framebuffer(catalog, gpu, holders);
        guint slots_left = used >= gpu->framebuffer_gb ? 0 : (gpu->framebuffer_gb - used) / size;
        res->capacity += MIN(vfs, vh_vgpu_gpu_capacity(gpu, res->profile));
        /* A VF that already holds this profile but is not leased needs no
         * new framebuffer; the rest do. */
        can = MIN(can, slots_left + count_idle_holders(catalog, res, gpu, holders));
    } else {
        res->capacity += vfs;
    }
    res->allocatable += can;
    res->in_use += in_use;
}

static void
count_sriov(VhCatalog *catalog, VhResource *res, VhHolders *holders)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(NULL, NULL);

    for (guint i = 0; i < res->members->len; i++) {
        const VhResourceMember *m = g_ptr_array_index(res->members, i);
        if (g_hash_table_contains(seen, m->gpu))
            continue;
        g_hash_table_add(seen, m->gpu);
        count_sriov_gpu(catalog, res, m->gpu, holders);
    }
}

static gboolean
mdev_instance_exists(const VhResource *res, const char *uuid)
{
    for (guint i = 0; i < res->members->len; i++) {
        const VhResourceMember *m = g_ptr_array_index(res->members, i);
        for (guint t = 0; m->device->mdev_types && t < m->device->mdev_types->len; t++) {
            const VhMdevType *type = g_ptr_array_index(m->device->mdev_types, t);
            if (strcmp(type->type_id, m->mdev_type_id) == 0 &&
                g_ptr_array_find_with_equal_func(type->instances, uuid, g_str_equal, NULL))
                return TRUE;
        }
    }
    return FALSE;
}

static void
count_mdev(VhResource *res, VhHolders *holders)
{
    guint pending = 0;

    for (guint i = 0; i < res->members->len; i++) {
        const VhResourceMember *m = g_ptr_array_index(res->members, i);
        for (guint t = 0; m->device->mdev_types && t < m->device->mdev_types->len; t++) {
            const VhMdevType *type = g_ptr_array_index(m->device->mdev_types, t);
            if (strcmp(type->type_id, m->mdev_type_id) != 0)
                continue;
            res->capacity += (guint)MAX(type->available_instances, 0) + type->instances->len;
            res->allocatable += (guint)MAX(type->available_instances, 0);
        }
    }
    if (holders) {
        GHashTableIter iter;
        gpointer key, value;
        g_hash_table_iter_init(&iter, holders);
        while (g_hash_table_iter_next(&iter, &key, &value)) {
            if (strcmp(value, res->name) != 0)
                continue;
            res->in_use++;
            if (!mdev_instance_exists(res, key))
                pending++;
        }
    }
    /* Leased but not yet created instances still take a slot; created ones
     * are already missing from available_instances. */
    res->allocatable -= MIN(res->allocatable, pending);
}

static gint
compare_resources(gconstpointer a, gconstpointer b)
{
    return strcmp((*(const VhResource *const *)a)->name, (*(const VhResource *const *)b)->name);
}

static void
claims_clear(Claims *claims)
{
    g_hash_table_unref(claims->claimed);
    g_hash_table_unref(claims->declared);
    g_hash_table_unref(claims->declared_devices);
}

VhCatalog *
vh_catalog_build(VhHost *host, VhHolders *holders, GError **error)
{
    g_autoptr(VhCatalog) catalog = g_new0(VhCatalog, 1);
    Claims claims = { g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
                      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL),
                      g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL) };
    gboolean ok = TRUE;

    if (!host->scanned && !vh_host_scan(host, error))
        ok = FALSE;
    if (!ok) {
        claims_clear(&claims);
        return NULL;
    }
    catalog->host = host;
    catalog->resources = g_ptr_array_new_with_free_func((GDestroyNotify)resource_free);
    catalog->by_name = g_hash_table_new(g_str_hash, g_str_equal);
    catalog->gpus = g_ptr_array_new_with_free_func((GDestroyNotify)vh_vgpu_gpu_free);
    for (guint i = 0; i < host->devices->len; i++) {
        VhPciDevice *dev = g_ptr_array_index(host->devices, i);
        if (vh_pci_device_is_pf(dev) && !vh_host_is_denied(host, dev->address)) {
            VhVgpuGpu *gpu = vh_vgpu_gpu_new(host, dev);
            if (gpu->vfs->len > 0)
                g_ptr_array_add(catalog->gpus, gpu);
            else
                vh_vgpu_gpu_free(gpu);
        }
    }
    for (guint i = 0; ok && i < host->config->resources->len; i++)
        ok = add_declared(catalog, g_ptr_array_index(host->config->resources, i), &claims, error);
    if (ok)
        add_automatic(catalog, &claims);
    claims_clear(&claims);
    if (!ok)
        return NULL;
    g_ptr_array_sort(catalog->resources, compare_resources);
    for (guint i = 0; i < catalog->resources->len; i++) {
        VhResource *res = g_ptr_array_index(catalog->resources, i);
        if (res->kind == VH_RESOURCE_KIND_PASSTHROUGH)
            count_passthrough(res, holders);
        else if (res->kind == VH_RESOURCE_KIND_SRIOV_VGPU)
            count_sriov(catalog, res, holders);
        else
            count_mdev(res, holders);
    }
    return g_steal_pointer(&catalog);
}

VhResource *
vh_catalog_lookup(VhCatalog *catalog, const char *name)
{
    return g_hash_table_lookup(catalog->by_name, name);
}

/* The resource a member stands for: a whole GPU or mdev parent its one
 * resource (the first, in name order), a VF the profile it holds. */
static gboolean
member_is_device_resource(VhCatalog *catalog, const VhResource *res, const VhResourceMember *m)
{
    const char *held;

    if (res->kind != VH_RESOURCE_KIND_SRIOV_VGPU)
        return TRUE;
    if (m->device->current_vgpu_type == 0)
        return FALSE;
    held = vh_catalog_vf_profile(catalog, m->device);
    return held && strcmp(vh_vgpu_type_profile(held), vh_vgpu_type_profile(res->profile)) == 0;
}

const VhResource *
vh_catalog_resource_of_device(VhCatalog *catalog, const char *address)
{
    /* One pass over all members, once: list asks for every device. */
    if (catalog->by_device == NULL) {
        catalog->by_device = g_hash_table_new(g_str_hash, g_str_equal);
        for (guint i = 0; i < catalog->resources->len; i++) {
            VhResource *res = g_ptr_array_index(catalog->resources, i);
            for (guint j = 0; j < res->members->len; j++) {
                const VhResourceMember *m = g_ptr_array_index(res->members, j);
                if (!g_hash_table_contains(catalog->by_device, m->device->address) &&
                    member_is_device_resource(catalog, res, m))
                    g_hash_table_insert(catalog->by_device, m->device->address, res);
            }
        }
    }
    return g_hash_table_lookup(catalog->by_device, address);
}

gboolean
vh_resource_check_hostdev_kind(const VhResource *res, gboolean mdev_hostdev, const char *source,
                               GError **error)
{
    gboolean fits = mdev_hostdev ? res->kind == VH_RESOURCE_KIND_MDEV
                                 : res->kind != VH_RESOURCE_KIND_MDEV;

    if (!fits)
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "%s is a %s resource but its <hostdev> is type='%s' at %s; refusing to "
                    "touch it (let 'vgpuctl define' write the hostdev)", res->name,
                    vh_resource_kind_to_string(res->kind), mdev_hostdev ? "mdev" : "pci", source);
    return fits;
}

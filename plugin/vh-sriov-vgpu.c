/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-sriov-vgpu: current_vgpu_type writes; see the header. */
#include "vh-sriov-vgpu.h"
#include "vh-error.h"
#include "vh-fault.h"
#include "vh-vgpu-cache.h"
#include "vh-vgpu-type.h"

#include <string.h>

static char *
current_rel(const char *vf)
{
    return g_strdup_printf("bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
}

/* Every type name the VFs of @pf list, to name ids that a VF holds. Sets
 * *@idle when no VF holds a type (the lists then show the full table) and
 * *@complete when the result is the full table (idle, or remembered). */
static GPtrArray *
gpu_types(VhHost *host, VhPciDevice *pf, gboolean *idle, gboolean *complete)
{
    GPtrArray *types = g_ptr_array_new_with_free_func((GDestroyNotify)vh_vgpu_type_free);
    g_autoptr(GPtrArray) cached = NULL;
    gboolean none_held = TRUE;

    for (guint i = 0; pf->virtfns && i < pf->virtfns->len; i++) {
        VhPciDevice *vf = vh_host_get_device(host, g_ptr_array_index(pf->virtfns, i), NULL);
        if (vf == NULL || !vf->has_vgpu)
            continue;
        none_held &= vf->current_vgpu_type == 0;
        for (guint t = 0; vf->creatable_types && t < vf->creatable_types->len; t++) {
            const VhVgpuType *type = g_ptr_array_index(vf->creatable_types, t);
            vh_vgpu_types_add_unique(types, type->id, type->name);
        }
    }
    if (idle)
        *idle = none_held;
    if (complete)
        *complete = none_held && types->len > 0;
    cached = vh_vgpu_cache_load(host->config->state_dir, pf->address);
    if (complete && cached)
        *complete = TRUE;
    for (guint t = 0; cached && t < cached->len; t++) {
        const VhVgpuType *type = g_ptr_array_index(cached, t);
        vh_vgpu_types_add_unique(types, type->id, type->name);
    }
    return types;
}

/* A boot-time loader or a hook may be the first to see the GPU idle:
 * remember its table then (vh-vgpu-cache). Once remembered, the VFs are not
 * read again on this path: the table changes only with the driver, and a
 * driver update comes with a reboot that empties the state directory
 * (vgpuctl list/resources refresh it whenever they see the GPU idle). */
static void
remember_idle_types(VhHost *host, VhPciDevice *pf)
{
    g_autoptr(GPtrArray) types = NULL;
    gboolean idle = FALSE;

    if (vh_vgpu_cache_exists(host->config->state_dir, pf->address))
        return;
    types = gpu_types(host, pf, &idle, NULL);
    if (idle)
        vh_vgpu_cache_save(host->config->state_dir, pf->address, types);
}

/* Who holds what on @pf: "VF A holds L40S-24Q, VF B holds ...". Sets
 * *@mixed when a VF holds a profile other than @wanted (NULL: never) and
 * adds the framebuffer the VFs hold to *@used_gb (may be NULL). */
static char *
describe_holders(VhHost *host, VhPciDevice *pf, GPtrArray *types, const char *wanted,
                 gboolean *mixed, guint *used_gb)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; pf->virtfns && i < pf->virtfns->len; i++) {
        VhPciDevice *other = vh_host_get_device(host, g_ptr_array_index(pf->virtfns, i), NULL);
        const VhVgpuType *t;
        if (other == NULL || other->current_vgpu_type == 0)
            continue;
        t = vh_vgpu_types_find_id(types, other->current_vgpu_type);
        if (out->len)
            g_string_append(out, ", ");
        if (t) {
            const char *held = vh_vgpu_type_profile(t->name);
            g_string_append_printf(out, "VF %s holds %s", other->address, held);
            if (used_gb)
                *used_gb += vh_vgpu_profile_framebuffer_gb(held);
            if (mixed && wanted && strcmp(held, wanted) != 0)
                *mixed = TRUE;
        } else {
            g_string_append_printf(out, "VF %s holds type %u", other->address,
                                   other->current_vgpu_type);
            if (mixed)
                *mixed = TRUE; /* not a type of the wanted size that we know */
        }
    }
    return g_string_free(out, FALSE);
}

char *
vh_sriov_vgpu_describe_gpu(VhHost *host, const char *vf_address)
{
    VhPciDevice *vf = vh_host_get_device(host, vf_address, NULL);
    VhPciDevice *pf = vf && vf->physfn ? vh_host_get_device(host, vf->physfn, NULL) : NULL;
    g_autoptr(GPtrArray) types = NULL;

    if (pf == NULL)
        return g_strdup("");
    types = gpu_types(host, pf, NULL, NULL);
    return describe_holders(host, pf, types, NULL, NULL, NULL);
}

/* The GPU's framebuffer in GB: the largest type of its table, 0 unknown. */
static guint
gpu_framebuffer_gb(GPtrArray *types)
{
    guint gb = 0;

    for (guint i = 0; types && i < types->len; i++) {
        const VhVgpuType *t = g_ptr_array_index(types, i);
        gb = MAX(gb, vh_vgpu_profile_framebuffer_gb(vh_vgpu_type_profile(t->name)));
    }
    return gb;
}

/* Why @vf cannot take @profile now: the GPU runs another profile size
 * (NVIDIA's homogeneous mode), or its framebuffer is used up. */
static void
set_not_creatable_error(VhHost *host, VhPciDevice *vf, const char *profile, GError **error)
{
    VhPciDevice *pf = vf->physfn ? vh_host_get_device(host, vf->physfn, NULL) : NULL;
    gboolean complete = FALSE;
    g_autoptr(GPtrArray) types = pf ? gpu_types(host, pf, NULL, &complete) : NULL;
    g_autofree char *holders = NULL;
    gboolean mixed = FALSE;
    guint used = 0;
    guint total = gpu_framebuffer_gb(types);
    guint size = vh_vgpu_profile_framebuffer_gb(profile);

    if (pf)
        holders = describe_holders(host, pf, types, profile, &mixed, &used);
    if (holders == NULL || *holders == '\0' ||
        (complete && vh_vgpu_types_find_name(types, profile) == NULL)) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "VF %s does not offer %s (not in nvidia/creatable_vgpu_types): check the "
                    "profile name against 'vgpuctl list --json'", vf->address, profile);
    } else if (mixed) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "VF %s cannot take %s now: GPU %s runs one profile size at a time "
                    "(homogeneous vGPU) and %s. Stop those domains or pick another GPU",
                    vf->address, profile, pf->address, holders);
    } else if (complete && total > 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "VF %s cannot take %s now: the framebuffer of GPU %s is used up "
                    "(%u of %u GB, %s needs %u GB): %s. Stop one of those domains or pick "
                    "another GPU", vf->address, profile, pf->address, used, total, profile,
                    size, holders);
    } else {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "VF %s cannot take %s now: the framebuffer of GPU %s is used up (%s needs "
                    "%u GB): %s. Stop one of those domains or pick another GPU",
                    vf->address, profile, pf->address, profile, size, holders);
    }
}

gboolean
vh_sriov_vgpu_set_profile(VhHost *host, const char *vf_address, const char *profile,
                          gboolean *written, GError **error)
{
    VhPciDevice *vf;
    const VhVgpuType *type;
    g_autoptr(GPtrArray) types = NULL;
    g_autofree char *rel = current_rel(vf_address);
    g_autofree char *id = NULL;
    const char *wanted = vh_vgpu_type_profile(profile);

    *written = FALSE;
    vh_host_invalidate(host, vf_address); /* read the driver's current view */
    vf = vh_host_get_device(host, vf_address, error);
    if (vf == NULL)
        return FALSE;
    if (!vf->has_vgpu || vf->creatable_types == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "%s has no NVIDIA vGPU files (%s): is it an SR-IOV VF of a GPU whose vGPU "
                    "manager is loaded?", vf_address, vf->vgpu_error ? vf->vgpu_error : "nvidia/ missing");
        return FALSE;
    }
    if (vf->current_vgpu_type != 0) {
        VhPciDevice *pf = vf->physfn ? vh_host_get_device(host, vf->physfn, NULL) : NULL;
        types = pf ? gpu_types(host, pf, NULL, NULL) : NULL;
        type = vh_vgpu_types_find_id(types, vf->current_vgpu_type);
        if (type && strcmp(vh_vgpu_type_profile(type->name), wanted) == 0) {
            g_debug("vgpu: VF %s holds %s already: nothing to write", vf_address, wanted);
            return TRUE;
        }
        g_autofree char *held = type ? g_strdup(vh_vgpu_type_profile(type->name))
                                     : g_strdup_printf("type %u", vf->current_vgpu_type);
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "VF %s already holds %s; it must be released (current_vgpu_type=0) "
                    "before it can take %s", vf_address, held, wanted);
        return FALSE;
    }
    if (vf->physfn) {
        VhPciDevice *pf = vh_host_get_device(host, vf->physfn, NULL);
        if (pf)
            remember_idle_types(host, pf);
    }
    type = vh_vgpu_types_find_name(vf->creatable_types, wanted);
    if (type == NULL) {
        set_not_creatable_error(host, vf, wanted, error);
        return FALSE;
    }
    id = g_strdup_printf("%u", type->id);
    g_debug("vgpu: VF %s takes profile %s (type id %s)", vf_address, wanted, id);
    if (!vh_sysfs_write(host->sysfs, rel, id, error)) {
        g_prefix_error(error, "cannot assign %s (id %s) to VF %s: ", wanted, id, vf_address);
        return FALSE;
    }
    *written = TRUE;
    VH_FAULT_POINT("vgpu:written");
    vh_host_invalidate(host, vf_address);
    return TRUE;
}

gboolean
vh_sriov_vgpu_reset(VhHost *host, const char *vf, guint retries, guint delay_ms, GError **error)
{
    g_autofree char *rel = current_rel(vf);
    g_autoptr(GError) local = NULL;

    vh_host_invalidate(host, vf);
    for (guint attempt = 0;; attempt++) {
        gint64 current = -1;
        g_clear_error(&local);
        if (vh_sysfs_read_int(host->sysfs, rel, &current, NULL) && current == 0) {
            g_debug("vgpu: VF %s holds no profile: nothing to reset", vf);
            return TRUE;
        }
        g_debug("vgpu: resetting the profile of VF %s (type id %" G_GINT64_FORMAT ", try %u of %u)",
                vf, current, attempt + 1, retries + 1);
        if (vh_sysfs_write(host->sysfs, rel, "0", &local)) {
            VH_FAULT_POINT("vgpu:reset");
            return TRUE;
        }
        if (attempt >= retries)
            break;
        g_usleep((gulong)delay_ms * 1000);
    }
    g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                "could not reset the vGPU profile of VF %s after %u tries: %s", vf, retries + 1,
                local ? local->message : "unknown error");
    return FALSE;
}

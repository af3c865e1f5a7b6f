/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-sriov-vgpu: current_vgpu_type writes; see the header. */
#include "vh-sriov-vgpu.h"
#include "vh-error.h"
#include "vh-fault.h"
#include "vh-vgpu-gpu.h"
#include "vh-vgpu-type.h"

#include <errno.h>
#include <string.h>

static char *
current_rel(const char *vf)
{
    return g_strdup_printf("bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
}

char *
vh_sriov_vgpu_describe_gpu(VhHost *host, const char *vf_address)
{
    g_autoptr(VhVgpuGpu) gpu = vh_vgpu_gpu_of_vf(host, vf_address);

    return gpu ? vh_vgpu_gpu_describe_holders(gpu) : g_strdup("");
}

/* @vf holds a type already: fine when it is @wanted, refused otherwise. */
static gboolean
check_held(VhHost *host, VhPciDevice *vf, const char *wanted, GError **error)
{
    g_autoptr(VhVgpuGpu) gpu = vh_vgpu_gpu_of_vf(host, vf->address);
    g_autofree char *held = gpu ? vh_vgpu_gpu_held_text(gpu, vf)
                                : g_strdup_printf("unknown type %u", vf->current_vgpu_type);
    g_autofree char *fix = NULL;

    if (g_strcmp0(held, wanted) == 0)
        return TRUE; /* already holds it: nothing to write */
    if (gpu && vh_vgpu_gpu_held_profile(gpu, vf) == NULL) {
        fix = vh_vgpu_gpu_unknown_fix(gpu, vf);
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY, "VF %s cannot take %s: %s", vf->address,
                    wanted, fix);
        return FALSE;
    }
    g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                "VF %s already holds %s; it must be released (current_vgpu_type=0) "
                "before it can take %s", vf->address, held, wanted);
    return FALSE;
}

gboolean
vh_sriov_vgpu_check_fits(VhHost *host, const char *vf_address, const char *profile,
                         GError **error)
{
    g_autoptr(VhVgpuGpu) gpu = vh_vgpu_gpu_of_vf(host, vf_address);
    g_autofree const char **claims = NULL;
    const VhPciDevice *vf = NULL;

    if (gpu == NULL)
        return TRUE;
    claims = g_new0(const char *, gpu->vfs->len + 1);
    for (guint i = 0; i < gpu->vfs->len; i++) {
        const VhPciDevice *other = g_ptr_array_index(gpu->vfs, i);
        const char *held = vh_vgpu_gpu_held_profile(gpu, other);
        if (strcmp(other->address, vf_address) == 0)
            vf = other;
        else if (other->current_vgpu_type != 0)
            claims[i] = held ? held : ""; /* "": an id nobody names */
    }
    if (vf == NULL)
        return TRUE;
    if (!vh_vgpu_gpu_admits(gpu, claims, vf, vh_vgpu_type_profile(profile), error)) {
        g_prefix_error(error, "VF %s cannot take %s: ", vf_address, vh_vgpu_type_profile(profile));
        return FALSE;
    }
    return TRUE;
}

gboolean
vh_sriov_vgpu_set_profile(VhHost *host, const char *vf_address, const char *profile,
                          gboolean *written, GError **error)
{
    VhPciDevice *vf;
    const VhVgpuType *type;
    g_autoptr(VhVgpuGpu) gpu = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree char *rel = current_rel(vf_address);
    g_autofree char *id = NULL;
    int err = 0;
    const char *wanted = vh_vgpu_type_profile(profile);

    *written = FALSE;
    vf = vh_host_refresh_vgpu(host, vf_address, error); /* the driver's current view */
    if (vf == NULL)
        return FALSE;
    if (!vf->has_vgpu || vf->creatable_types == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "%s has no NVIDIA vGPU files (%s): is it an SR-IOV VF of a GPU whose vGPU "
                    "manager is loaded?", vf_address, vf->vgpu_error ? vf->vgpu_error : "nvidia/ missing");
        return FALSE;
    }
    if (vf->current_vgpu_type != 0)
        return check_held(host, vf, wanted, error);
    gpu = vh_vgpu_gpu_of_vf(host, vf_address);
    if (gpu)
        vh_vgpu_gpu_remember(gpu); /* the first writer sees the whole table */
    type = vh_vgpu_types_find_name(vf->creatable_types, wanted);
    if (type == NULL) {
        if (gpu)
            vh_vgpu_gpu_not_creatable_error(gpu, vf, wanted, error);
        else
            g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                        "VF %s does not offer %s (not in nvidia/creatable_vgpu_types)",
                        vf_address, wanted);
        return FALSE;
    }
    id = g_strdup_printf("%u", type->id);
    g_debug("vgpu: VF %s takes profile %s (type id %s)", vf_address, wanted, id);
    if (!vh_sysfs_write_errno(host->sysfs, rel, id, &err, &local)) {
        if (gpu && err != 0 && err != ENOENT && err != EACCES)
            vh_vgpu_gpu_write_error(gpu, vf, wanted, type->id, err, error);
        else
            g_propagate_prefixed_error(error, g_steal_pointer(&local),
                                       "cannot assign %s (id %s) to VF %s: ", wanted, id,
                                       vf_address);
        return FALSE;
    }
    *written = TRUE;
    VH_FAULT_POINT("vgpu:written");
    vh_host_refresh_vgpu(host, vf_address, NULL);
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

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-vgpu-gpu: an SR-IOV vGPU GPU; see the header. */
#include "vh-vgpu-gpu.h"
#include "vh-error.h"
#include "vh-vgpu-cache.h"

#include <errno.h>
#include <string.h>

static VhVgpuTypeNamer namer_fn;
static gpointer namer_data;
static VhVgpuModeOps mode_ops;

void
vh_vgpu_gpu_set_mode_ops(const VhVgpuModeOps *ops)
{
    mode_ops = ops ? *ops : (VhVgpuModeOps){ 0 };
}

gboolean
vh_vgpu_gpu_driver_mode(const VhVgpuGpu *gpu, VhVgpuMode *mode)
{
    return mode_ops.get_mode && mode_ops.get_mode(gpu, mode, mode_ops.data);
}

void
vh_vgpu_gpu_set_namer(VhVgpuTypeNamer namer, gpointer data)
{
    namer_fn = namer;
    namer_data = data;
}

void
vh_vgpu_gpu_free(VhVgpuGpu *gpu)
{
    if (gpu == NULL)
        return;
    g_ptr_array_unref(gpu->vfs);
    g_ptr_array_unref(gpu->types);
    g_free(gpu->driver_version);
    g_free(gpu->cache_dir);
    g_free(gpu);
}

guint
vh_vgpu_gpu_profile_size(const char *profile)
{
    return vh_vgpu_profile_framebuffer_gb(vh_vgpu_type_profile(profile));
}

const char *
vh_vgpu_gpu_type_name(const VhVgpuGpu *gpu, guint id)
{
    const VhVgpuType *t = vh_vgpu_types_find_id(gpu->types, id);

    return t ? t->name : NULL;
}

/* Held ids the table lacks: ask the namer (NVML) if one is installed. */
static void
name_held_ids(VhVgpuGpu *gpu)
{
    for (guint i = 0; namer_fn && i < gpu->vfs->len; i++) {
        const VhPciDevice *vf = g_ptr_array_index(gpu->vfs, i);
        g_autofree char *name = NULL;
        if (vf->current_vgpu_type == 0 || vh_vgpu_gpu_type_name(gpu, vf->current_vgpu_type))
            continue;
        name = namer_fn(gpu, vf->current_vgpu_type, namer_data);
        if (name)
            vh_vgpu_types_add_unique(gpu->types, vf->current_vgpu_type, name);
    }
}

static void
compute_framebuffer(VhVgpuGpu *gpu)
{
    for (guint i = 0; i < gpu->types->len; i++) {
        const VhVgpuType *t = g_ptr_array_index(gpu->types, i);
        gpu->framebuffer_gb = MAX(gpu->framebuffer_gb, vh_vgpu_gpu_profile_size(t->name));
    }
    /* Busy and never seen idle: the lists show only what is left, so the
     * largest listed type is not the GPU's size. It has at least what its
     * VFs hold plus that; a lower bound never promises what is not there. */
    for (guint i = 0; !gpu->complete && gpu->framebuffer_gb > 0 && i < gpu->vfs->len; i++) {
        const VhPciDevice *vf = g_ptr_array_index(gpu->vfs, i);
        const char *held = vh_vgpu_gpu_held_profile(gpu, vf);
        gpu->framebuffer_gb += held ? vh_vgpu_gpu_profile_size(held) : 0;
    }
}

VhVgpuGpu *
vh_vgpu_gpu_new(VhHost *host, VhPciDevice *pf)
{
    VhVgpuGpu *gpu = g_new0(VhVgpuGpu, 1);
    g_autoptr(GPtrArray) cached = NULL;

    gpu->pf = pf;
    gpu->vfs = g_ptr_array_new();
    gpu->types = g_ptr_array_new_with_free_func((GDestroyNotify)vh_vgpu_type_free);
    gpu->idle = TRUE;
    gpu->mode = vh_config_gpu_mode(host->config, pf->address);
    gpu->driver_version = vh_sysfs_read_string(host->sysfs, "module/nvidia/version", NULL);
    if (gpu->driver_version)
        g_strstrip(gpu->driver_version);
    gpu->cache_dir = g_strdup(host->config->cache_dir);
    for (guint i = 0; pf->virtfns && i < pf->virtfns->len; i++) {
        VhPciDevice *vf = vh_host_get_device(host, g_ptr_array_index(pf->virtfns, i), NULL);
        if (vf == NULL || !vf->has_vgpu || vh_config_is_denied(host->config, vf->address))
            continue;
        g_ptr_array_add(gpu->vfs, vf);
        gpu->idle &= vf->current_vgpu_type == 0;
        for (guint t = 0; vf->creatable_types && t < vf->creatable_types->len; t++) {
            const VhVgpuType *type = g_ptr_array_index(vf->creatable_types, t);
            vh_vgpu_types_add_unique(gpu->types, type->id, type->name);
        }
    }
    gpu->complete = gpu->idle && gpu->types->len > 0;
    cached = vh_vgpu_cache_load(gpu->cache_dir, gpu->driver_version, pf->vendor, pf->device);
    for (guint t = 0; cached && t < cached->len; t++) {
        const VhVgpuType *type = g_ptr_array_index(cached, t);
        vh_vgpu_types_add_unique(gpu->types, type->id, type->name);
    }
    gpu->complete |= cached != NULL;
    name_held_ids(gpu);
    compute_framebuffer(gpu);
    return gpu;
}

VhVgpuGpu *
vh_vgpu_gpu_of_vf(VhHost *host, const char *vf_address)
{
    VhPciDevice *vf = vh_host_get_device(host, vf_address, NULL);
    VhPciDevice *pf = vf && vf->physfn ? vh_host_get_device(host, vf->physfn, NULL) : NULL;

    return pf && vf->has_vgpu ? vh_vgpu_gpu_new(host, pf) : NULL;
}

void
vh_vgpu_gpu_remember(const VhVgpuGpu *gpu)
{
    if (gpu->idle && gpu->types->len > 0)
        vh_vgpu_cache_save(gpu->cache_dir, gpu->driver_version, gpu->pf->vendor,
                           gpu->pf->device, gpu->types);
}

const char *
vh_vgpu_gpu_held_profile(const VhVgpuGpu *gpu, const VhPciDevice *vf)
{
    const char *name = vf->current_vgpu_type ? vh_vgpu_gpu_type_name(gpu, vf->current_vgpu_type)
                                             : NULL;

    return name ? vh_vgpu_type_profile(name) : NULL;
}

char *
vh_vgpu_gpu_held_text(const VhVgpuGpu *gpu, const VhPciDevice *vf)
{
    const char *held = vh_vgpu_gpu_held_profile(gpu, vf);

    if (vf->current_vgpu_type == 0)
        return NULL;
    return held ? g_strdup(held) : g_strdup_printf("unknown type %u", vf->current_vgpu_type);
}

char *
vh_vgpu_gpu_unknown_fix(const VhVgpuGpu *gpu, const VhPciDevice *vf)
{
    return g_strdup_printf(
        "VF %s holds vGPU type %u, which neither the driver's lists nor the type cache (%s, "
        "driver %s) name: stop its domains, write 0 to nvidia/current_vgpu_type of every VF "
        "of GPU %s, then run vgpuctl apply-profiles, which remembers the whole table",
        vf->address, vf->current_vgpu_type, gpu->cache_dir,
        gpu->driver_version ? gpu->driver_version : "unknown", gpu->pf->address);
}

char *
vh_vgpu_gpu_describe_holders(const VhVgpuGpu *gpu)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < gpu->vfs->len; i++) {
        const VhPciDevice *vf = g_ptr_array_index(gpu->vfs, i);
        g_autofree char *held = vh_vgpu_gpu_held_text(gpu, vf);
        if (held == NULL)
            continue;
        g_string_append_printf(out, "%sVF %s holds %s", out->len ? ", " : "", vf->address, held);
    }
    return g_string_free(out, FALSE);
}

guint
vh_vgpu_gpu_capacity(const VhVgpuGpu *gpu, const char *profile)
{
    guint size = vh_vgpu_gpu_profile_size(profile);

    if (size == 0 || gpu->framebuffer_gb == 0)
        return gpu->vfs->len;
    return MIN(gpu->vfs->len, gpu->framebuffer_gb / size);
}

gboolean
vh_vgpu_gpu_admits(const VhVgpuGpu *gpu, const char *const *claims, const VhPciDevice *vf,
                   const char *profile, GError **error)
{
    const char *wanted = vh_vgpu_type_profile(profile);
    guint size = vh_vgpu_gpu_profile_size(wanted);
    guint used = 0;

    if (vh_vgpu_types_find_name(gpu->types, wanted) == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED, "GPU %s does not offer %s",
                    gpu->pf->address, wanted);
        return FALSE;
    }
    for (guint i = 0; i < gpu->vfs->len; i++) {
        const VhPciDevice *other = g_ptr_array_index(gpu->vfs, i);
        const char *held = claims[i];
        guint held_size;
        if (other == vf || held == NULL)
            continue;
        held_size = *held ? vh_vgpu_gpu_profile_size(held) : 0;
        if (gpu->mode == VH_VGPU_MODE_EQUAL && held_size != size) {
            g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                        "GPU %s runs one profile size at a time and VF %s holds %s "
                        "(equal-size mode)", gpu->pf->address, other->address,
                        *held ? held : "an unknown type");
            return FALSE;
        }
        used += held_size;
    }
    if (gpu->framebuffer_gb > 0 && used + size > gpu->framebuffer_gb) {
        if (gpu->mode == VH_VGPU_MODE_MIXED)
            g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                        "GPU %s (mixed-size mode) has no free placement slots for %s (%u of "
                        "%u slots taken, it needs %u)", gpu->pf->address, wanted, used,
                        gpu->framebuffer_gb, size);
        else
            g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                        "GPU %s has no framebuffer left for %s (%u of %u GB taken)",
                        gpu->pf->address, wanted, used, gpu->framebuffer_gb);
        return FALSE;
    }
    return TRUE;
}

gboolean
vh_vgpu_gpu_check_mode_change(const VhVgpuGpu *gpu, VhVgpuMode mode, GError **error)
{
    g_autofree char *holders = NULL;

    if (mode == gpu->mode || gpu->idle)
        return TRUE;
    holders = vh_vgpu_gpu_describe_holders(gpu);
    g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                "GPU %s cannot change to %s-size mode while its VFs hold types (the driver "
                "refuses: in use): %s. Stop those domains and release the VFs first",
                gpu->pf->address, vh_vgpu_mode_to_string(mode), holders);
    return FALSE;
}

/* Sets *@mixed when a VF holds a type of another size than @wanted (or one
 * nobody names) and adds the GB the VFs hold to *@used. */
static void
held_summary(const VhVgpuGpu *gpu, const char *wanted, gboolean *mixed, guint *used)
{
    guint size = vh_vgpu_gpu_profile_size(wanted);

    for (guint i = 0; i < gpu->vfs->len; i++) {
        const VhPciDevice *vf = g_ptr_array_index(gpu->vfs, i);
        const char *held = vh_vgpu_gpu_held_profile(gpu, vf);
        if (vf->current_vgpu_type == 0)
            continue;
        *used += held ? vh_vgpu_gpu_profile_size(held) : 0;
        *mixed |= held == NULL || vh_vgpu_gpu_profile_size(held) != size;
    }
}

void
vh_vgpu_gpu_not_creatable_error(const VhVgpuGpu *gpu, const VhPciDevice *vf,
                                const char *profile, GError **error)
{
    const char *wanted = vh_vgpu_type_profile(profile);
    g_autofree char *holders = vh_vgpu_gpu_describe_holders(gpu);
    gboolean mixed = FALSE;
    guint used = 0;

    held_summary(gpu, wanted, &mixed, &used);
    if (*holders == '\0' || (gpu->complete && vh_vgpu_types_find_name(gpu->types, wanted) == NULL)) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "VF %s does not offer %s (not in nvidia/creatable_vgpu_types): check the "
                    "profile name against 'vgpuctl list --json'", vf->address, wanted);
    } else if (mixed && gpu->mode == VH_VGPU_MODE_EQUAL) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "VF %s cannot take %s now: GPU %s runs one profile size at a time "
                    "(equal-size mode) and %s. Stop those domains, pick another GPU, or set "
                    "vgpu_mode = mixed for it", vf->address, wanted, gpu->pf->address, holders);
    } else if (gpu->mode == VH_VGPU_MODE_MIXED) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "VF %s cannot take %s now: GPU %s (mixed-size mode) has no free placement "
                    "slot for it: %s. Stop one of those domains or pick another GPU",
                    vf->address, wanted, gpu->pf->address, holders);
    } else if (gpu->complete && gpu->framebuffer_gb > 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "VF %s cannot take %s now: the framebuffer of GPU %s is used up "
                    "(%u of %u GB, %s needs %u GB): %s. Stop one of those domains or pick "
                    "another GPU", vf->address, wanted, gpu->pf->address, used,
                    gpu->framebuffer_gb, wanted, vh_vgpu_gpu_profile_size(wanted), holders);
    } else {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "VF %s cannot take %s now: the framebuffer of GPU %s is used up (%s needs "
                    "%u GB): %s. Stop one of those domains or pick another GPU", vf->address,
                    wanted, gpu->pf->address, wanted, vh_vgpu_gpu_profile_size(wanted), holders);
    }
}

void
vh_vgpu_gpu_write_error(const VhVgpuGpu *gpu, const VhPciDevice *vf, const char *profile,
                        guint id, int err, GError **error)
{
    const char *wanted = vh_vgpu_type_profile(profile);
    g_autofree char *holders = vh_vgpu_gpu_describe_holders(gpu);
    const char *gpu_holds = *holders ? holders : "no VF holds a type";

    switch (err) {
    case EIO:
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "the NVIDIA driver refused %s (id %u) on VF %s now (EIO); GPU %s: %s. "
                    "'dmesg' shows NVRM's reason; free a VF of that GPU or pick another",
                    wanted, id, vf->address, gpu->pf->address, gpu_holds);
        break;
    case EPERM:
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "the NVIDIA driver refused to change VF %s to %s (EPERM): the VF holds a "
                    "type or QEMU has it open; stop the domain using it and release it first",
                    vf->address, wanted);
        break;
    case EBUSY:
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "VF %s is busy (EBUSY): a VM still has it open or its vGPU plugin has not "
                    "exited; wait for the domain to stop, then retry %s", vf->address, wanted);
        break;
    case ENOSPC:
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "GPU %s has no room for %s on VF %s (ENOSPC): %s. Stop one of those "
                    "domains or pick another GPU", gpu->pf->address, wanted, vf->address,
                    gpu_holds);
        break;
    case ENODEV:
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "the driver does not know type %u (%s) on VF %s (ENODEV): the type table "
                    "changed with the driver; run 'vgpuctl list --json' and check the profile",
                    id, wanted, vf->address);
        break;
    case EINVAL:
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "the driver rejected %s (id %u) on VF %s (EINVAL): in equal-size mode "
                    "every vGPU of GPU %s must have one size, and %s", wanted, id, vf->address,
                    gpu->pf->address, gpu_holds);
        break;
    default:
        g_set_error(error, VH_ERROR, VH_ERROR_IO,
                    "cannot assign %s (id %u) to VF %s: %s", wanted, id, vf->address,
                    g_strerror(err));
        break;
    }
}

gboolean
vh_vgpu_gpu_set_driver_mode(const VhVgpuGpu *gpu, VhVgpuMode mode, GError **error)
{
    if (!gpu->idle) {
        g_autofree char *holders = vh_vgpu_gpu_describe_holders(gpu);
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "GPU %s cannot change to %s-size mode while its VFs hold types (the driver "
                    "refuses: in use): %s. Stop those domains and release the VFs first",
                    gpu->pf->address, vh_vgpu_mode_to_string(mode), holders);
        return FALSE;
    }
    if (mode_ops.set_mode == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "setting %s-size mode needs NVML, which this build does not use: run "
                    "'nvidia-smi vgpu -shm %d -i N' for GPU %s before profiles are assigned",
                    vh_vgpu_mode_to_string(mode), mode == VH_VGPU_MODE_MIXED, gpu->pf->address);
        return FALSE;
    }
    return mode_ops.set_mode(gpu, mode, mode_ops.data, error);
}

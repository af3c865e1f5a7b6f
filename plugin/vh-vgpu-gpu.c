/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-vgpu-gpu: an SR-IOV vGPU GPU; see the header. */
#include "vh-vgpu-gpu.h"
#include "vh-error.h"
#include "vh-vgpu-cache.h"
#include "vh-mig.h"
#include "vh-nvml.h"

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

static gboolean nvml_allowed = TRUE;
static VhVgpuOwnerLookup owner_fn;
static gpointer owner_data;

void
vh_vgpu_gpu_set_owner_lookup(VhVgpuOwnerLookup lookup, gpointer data)
{
    owner_fn = lookup;
    owner_data = data;
}

void
vh_vgpu_gpu_set_nvml_allowed(gboolean allowed)
{
    nvml_allowed = allowed;
}

void
vh_vgpu_gpu_set_namer(VhVgpuTypeNamer namer, gpointer data)
{
    namer_fn = namer;
    namer_data = data;
}

/* What the model knows of a GPU's MIG state. */
typedef struct _VhVgpuMig {
    VhMigTable *table;  /* NVML's, else built in; NULL: not a known MIG GPU */
    gboolean nvml;      /* NVML answered: mig_on and instances are the driver's */
    gboolean mig_on;
    GArray *instances;  /* VhMigInstance, NVML with MIG on only */
    char *why;          /* why NVML was not used, NULL when it was */
} VhVgpuMig;

static void
mig_free(VhVgpuMig *mig)
{
    if (mig == NULL)
        return;
    if (mig->table)
        vh_mig_table_free(mig->table);
    if (mig->instances)
        g_array_unref(mig->instances);
    g_free(mig->why);
    g_free(mig);
}

/* Ask NVML; FALSE (mig->why set) when it cannot answer for this GPU. */
static gboolean
mig_from_nvml(VhVgpuMig *mig, const char *addr)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VhNvml) nvml = vh_nvml_open(&error);

    if (nvml == NULL || !vh_nvml_mig_mode(nvml, addr, &mig->mig_on, NULL, &error))
        goto fail;
    if (!mig->mig_on)
        return mig->nvml = TRUE;
    mig->table = vh_nvml_mig_table(nvml, addr, &error);
    if (mig->table == NULL)
        goto fail;
    mig->instances = vh_nvml_mig_instances(nvml, addr, mig->table, &error);
    if (mig->instances == NULL)
        goto fail;
    return mig->nvml = TRUE;
fail:
    g_clear_pointer(&mig->table, vh_mig_table_free);
    mig->why = g_strdup(error->message);
    return FALSE;
}

/* The MIG view of @gpu, built on the first call: NVML loads here only. */
static const VhVgpuMig *
mig_state(const VhVgpuGpu *gpu)
{
    VhVgpuMig *mig;

    if (gpu->mig)
        return gpu->mig;
    mig = g_new0(VhVgpuMig, 1);
    if (!nvml_allowed)
        mig->why = g_strdup("NVML not consulted: this domain names no MIG-backed type");
    if (!nvml_allowed || !mig_from_nvml(mig, gpu->pf->address)) {
        mig->table = vh_mig_table_builtin_for_device(gpu->pf->device);
        for (guint i = 0; mig->table == NULL && i < gpu->types->len; i++)
            mig->table = vh_mig_table_builtin_for_name(
                vh_vgpu_type_profile(((const VhVgpuType *)g_ptr_array_index(gpu->types, i))->name));
    }
    /* A cache of what NVML said; the GPU's observable state is unchanged. */
    ((VhVgpuGpu *)gpu)->mig = mig;
    return mig;
}

gboolean
vh_vgpu_gpu_is_mig_backed(const char *profile)
{
    g_autofree char *gi = vh_mig_profile_for_vgpu_type(vh_vgpu_type_profile(profile));

    return gi != NULL;
}

/* The instance profile of MIG-backed @profile in @mig's table, or NULL. */
static const VhMigProfile *
mig_profile(const VhVgpuMig *mig, const char *profile)
{
    g_autofree char *gi = vh_mig_profile_for_vgpu_type(vh_vgpu_type_profile(profile));

    return gi && mig->table ? vh_mig_table_find(mig->table, gi) : NULL;
}

static guint
mig_instances_of(const VhVgpuMig *mig, guint profile_id)
{
    guint n = 0;

    for (guint i = 0; mig->instances && i < mig->instances->len; i++)
        n += g_array_index(mig->instances, VhMigInstance, i).profile_id == profile_id;
    return n;
}

/* How many of @profile the GPU offers at all, or -1 when MIG does not say
 * (not a known MIG GPU): then framebuffer and VFs count as for any type. */
static gint
mig_capacity(const VhVgpuGpu *gpu, const char *profile)
{
    const VhVgpuMig *mig = mig_state(gpu);
    const VhMigProfile *p = mig_profile(mig, profile);

    if (mig->nvml && !mig->mig_on)
        return 0;
    if (p == NULL)
        return mig->nvml ? 0 : -1;
    if (mig->nvml)
        return (gint)mig_instances_of(mig, p->id);
    return (gint)vh_mig_free_count(mig->table, p, NULL, 0);
}

gboolean
vh_vgpu_gpu_uses_mig(const VhVgpuGpu *gpu, const char *profile)
{
    return vh_vgpu_gpu_is_mig_backed(profile) && mig_capacity(gpu, profile) >= 0;
}

guint
vh_vgpu_gpu_mig_room(const VhVgpuGpu *gpu, const char *const *claims, const VhPciDevice *vf,
                     const char *profile)
{
    const VhVgpuMig *mig = mig_state(gpu);
    const VhMigProfile *p = mig_profile(mig, profile);
    g_autoptr(GArray) placed = g_array_new(FALSE, FALSE, sizeof(VhMigInstance));
    guint same = 0;

    if (p == NULL || (mig->nvml && !mig->mig_on))
        return 0;
    for (guint i = 0; i < gpu->vfs->len; i++) {
        const VhMigProfile *held;
        VhMigPlacement where;
        if (g_ptr_array_index(gpu->vfs, i) == vf || claims[i] == NULL ||
            (held = mig_profile(mig, claims[i])) == NULL)
            continue;
        same += held->id == p->id;
        /* Without NVML: the driver placed each held instance; best fit is
         * where vh_mig would have put it. */
        if (!mig->nvml && vh_mig_best_placement(mig->table, held, (const VhMigInstance *)placed->data,
                                                placed->len, &where, NULL)) {
            VhMigInstance gi = { placed->len, held->id, where.start, where.size };
            g_array_append_val(placed, gi);
        }
    }
    if (mig->nvml) {
        guint n = mig_instances_of(mig, p->id);
        return n > same ? n - same : 0;
    }
    return vh_mig_free_count(mig->table, p, (const VhMigInstance *)placed->data, placed->len);
}

char *
vh_vgpu_gpu_describe_instances(const VhVgpuGpu *gpu)
{
    const VhVgpuMig *mig = mig_state(gpu);
    GString *out = g_string_new(NULL);

    for (guint i = 0; mig->instances && i < mig->instances->len; i++) {
        const VhMigInstance *gi = &g_array_index(mig->instances, VhMigInstance, i);
        const VhMigProfile *p = vh_mig_table_find_id(mig->table, gi->profile_id);
        g_string_append_printf(out, "%sinstance %u (%s at %u:%u)", out->len ? ", " : "", gi->id,
                               p ? p->name : "unknown profile", gi->start, gi->size);
    }
    return g_string_free(out, FALSE);
}

char *
vh_vgpu_gpu_mig_summary(const VhVgpuGpu *gpu)
{
    g_autofree char *instances = NULL;

    if (gpu->mig == NULL || (gpu->mig->table == NULL && !gpu->mig->nvml))
        return NULL;
    if (!gpu->mig->nvml)
        return g_strdup_printf("built-in %s MIG table (%s)", vh_mig_table_model(gpu->mig->table),
                               gpu->mig->why);
    if (!gpu->mig->mig_on)
        return g_strdup("MIG off");
    instances = vh_vgpu_gpu_describe_instances(gpu);
    return *instances ? g_strdup_printf("MIG on, GPU instances: %s", instances)
                      : g_strdup("MIG on, no GPU instance");
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
    mig_free(gpu->mig);
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
    gint mig = vh_vgpu_gpu_is_mig_backed(profile) ? mig_capacity(gpu, profile) : -1;

    if (mig >= 0)
        return MIN(gpu->vfs->len, (guint)mig);

    if (size == 0 || gpu->framebuffer_gb == 0)
        return gpu->vfs->len;
    return MIN(gpu->vfs->len, gpu->framebuffer_gb / size);
}

/* "VF A holds H200X-2-35C, VF B holds H200X-2-35C": the claims of @claims
 * on an instance of @p (any MIG-backed claim when @p is NULL). */
static char *
mig_claimants(const VhVgpuGpu *gpu, const VhVgpuMig *mig, const char *const *claims,
              const VhPciDevice *vf, const VhMigProfile *p)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < gpu->vfs->len; i++) {
        const VhPciDevice *other = g_ptr_array_index(gpu->vfs, i);
        const VhMigProfile *held = claims[i] ? mig_profile(mig, claims[i]) : NULL;
        if (other == vf || held == NULL || (p && held->id != p->id))
            continue;
        g_autofree char *owner = owner_fn ? owner_fn(other->address, owner_data) : NULL;
        g_string_append_printf(out, "%sVF %s holds %s", out->len ? ", " : "", other->address,
                               vh_vgpu_type_profile(claims[i]));
        if (owner)
            g_string_append_printf(out, " (domain '%s')", owner);
    }
    return g_string_free(out, FALSE);
}

/* Why MIG-backed @wanted does not fit on @gpu next to @claims, one line. */
static void
mig_refusal(const VhVgpuGpu *gpu, const char *const *claims, const VhPciDevice *vf,
            const char *wanted, GError **error)
{
    const VhVgpuMig *mig = mig_state(gpu);
    const VhMigProfile *p = mig_profile(mig, wanted);
    g_autofree char *gi = vh_mig_profile_for_vgpu_type(wanted);
    g_autofree char *instances = vh_vgpu_gpu_describe_instances(gpu);
    g_autofree char *holders = mig_claimants(gpu, mig, claims, vf, mig->nvml ? p : NULL);
    const char *addr = gpu->pf->address;

    if (mig->nvml && !mig->mig_on)
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "GPU %s runs with MIG off and %s is MIG-backed: it needs MIG mode on "
                    "(nvidia-smi -i %s -mig 1, before sriov-manage -e) and a %s GPU instance, "
                    "or pick another GPU", addr, wanted, addr, gi);
    else if (p == NULL)
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "GPU %s has no GPU-instance profile %s for %s (%s): pick another GPU or "
                    "profile", addr, gi, wanted,
                    mig->table ? "not in its MIG table" : "not a MIG GPU vgpu-hook knows");
    else if (mig->nvml && mig_instances_of(mig, p->id) == 0)
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                    "GPU %s runs MIG with no %s GPU instance, so %s is not creatable (its "
                    "instances: %s): create one (nvidia-smi mig -i %s -cgi %s) or pick another "
                    "GPU", addr, gi, wanted, *instances ? instances : "none", addr, gi);
    else if (mig->nvml)
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                    "GPU %s has no free %s GPU instance for %s: %s (GPU instances: %s). "
                    "Stop one of those domains, create another %s instance, or pick another "
                    "GPU", addr, gi, wanted, holders, instances, gi);
    else
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                    "GPU %s has no room for another %s GPU instance for %s next to what its "
                    "VFs hold (%s; built-in %s MIG table, %s). Stop one of those domains or "
                    "pick another GPU", addr, gi, wanted, *holders ? holders : "nothing",
                    vh_mig_table_model(mig->table), mig->why ? mig->why : "NVML not used");
}

/* MIG-backed @wanted: a free instance of its profile, no one-size rule
 * between instance profiles (time-sliced or unknown claims keep it). */
static gboolean
mig_admits(const VhVgpuGpu *gpu, const char *const *claims, const VhPciDevice *vf,
           const char *wanted, GError **error)
{
    for (guint i = 0; gpu->mode == VH_VGPU_MODE_EQUAL && i < gpu->vfs->len; i++) {
        const VhPciDevice *other = g_ptr_array_index(gpu->vfs, i);
        if (other == vf || claims[i] == NULL || vh_vgpu_gpu_is_mig_backed(claims[i]))
            continue;
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                    "GPU %s runs one profile size at a time and VF %s holds %s, which is not "
                    "MIG-backed (equal-size mode)", gpu->pf->address, other->address,
                    *claims[i] ? claims[i] : "an unknown type");
        return FALSE;
    }
    if (vh_vgpu_gpu_mig_room(gpu, claims, vf, wanted) > 0)
        return TRUE;
    mig_refusal(gpu, claims, vf, wanted, error);
    return FALSE;
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
    if (vh_vgpu_gpu_uses_mig(gpu, wanted))
        return mig_admits(gpu, claims, vf, wanted, error);
    for (guint i = 0; i < gpu->vfs->len; i++) {
        const VhPciDevice *other = g_ptr_array_index(gpu->vfs, i);
        const char *held = claims[i];
        guint held_size;
        if (other == vf || held == NULL)
            continue;
        held_size = *held ? vh_vgpu_gpu_profile_size(held) : 0;
        if (gpu->mode == VH_VGPU_MODE_EQUAL && held_size != size) {
            g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                        "GPU %s runs one profile size at a time and VF %s holds %s "
                        "(equal-size mode)", gpu->pf->address, other->address,
                        *held ? held : "an unknown type");
            return FALSE;
        }
        used += held_size;
    }
    if (gpu->framebuffer_gb > 0 && used + size > gpu->framebuffer_gb) {
        if (gpu->mode == VH_VGPU_MODE_MIXED)
            g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                        "GPU %s (mixed-size mode) has no free placement slots for %s (%u of "
                        "%u slots taken, it needs %u)", gpu->pf->address, wanted, used,
                        gpu->framebuffer_gb, size);
        else
            g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
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
    if (vh_vgpu_gpu_uses_mig(gpu, wanted) &&
        (!gpu->complete || vh_vgpu_types_find_name(gpu->types, wanted))) {
        g_autofree const char **claims = g_new0(const char *, gpu->vfs->len + 1);
        for (guint i = 0; i < gpu->vfs->len; i++) {
            const VhPciDevice *other = g_ptr_array_index(gpu->vfs, i);
            const char *held = vh_vgpu_gpu_held_profile(gpu, other);
            claims[i] = other->current_vgpu_type == 0 ? NULL : held ? held : "";
        }
        if (vh_vgpu_gpu_mig_room(gpu, claims, vf, wanted) == 0) {
            mig_refusal(gpu, claims, vf, wanted, error);
            return;
        }
    }
    if (*holders == '\0' || (gpu->complete && vh_vgpu_types_find_name(gpu->types, wanted) == NULL)) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "VF %s does not offer %s (not in nvidia/creatable_vgpu_types): check the "
                    "profile name against 'vgpuctl list --json'", vf->address, wanted);
    } else if (mixed && gpu->mode == VH_VGPU_MODE_EQUAL) {
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                    "VF %s cannot take %s now: GPU %s runs one profile size at a time "
                    "(equal-size mode) and %s. Stop those domains, pick another GPU, or set "
                    "vgpu_mode = mixed for it", vf->address, wanted, gpu->pf->address, holders);
    } else if (gpu->mode == VH_VGPU_MODE_MIXED) {
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                    "VF %s cannot take %s now: GPU %s (mixed-size mode) has no free placement "
                    "slot for it: %s. Stop one of those domains or pick another GPU",
                    vf->address, wanted, gpu->pf->address, holders);
    } else if (gpu->complete && gpu->framebuffer_gb > 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                    "VF %s cannot take %s now: the framebuffer of GPU %s is used up "
                    "(%u of %u GB, %s needs %u GB): %s. Stop one of those domains or pick "
                    "another GPU", vf->address, wanted, gpu->pf->address, used,
                    gpu->framebuffer_gb, wanted, vh_vgpu_gpu_profile_size(wanted), holders);
    } else {
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
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
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
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

gboolean
vh_vgpu_gpu_holds_mixed_sizes(const VhVgpuGpu *gpu)
{
    guint size = 0;

    for (guint i = 0; i < gpu->vfs->len; i++) {
        const char *held = vh_vgpu_gpu_held_profile(gpu, g_ptr_array_index(gpu->vfs, i));
        guint s = held ? vh_vgpu_gpu_profile_size(held) : 0;
        if (s && size && s != size)
            return TRUE;
        size = s ? s : size;
    }
    return FALSE;
}

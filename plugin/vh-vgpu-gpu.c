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
static gboolean nvml_allowed = TRUE;
static void slots_free(struct _VhVgpuSlots *slots);
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

/* The instance profile of MIG-backed @profile in @mig's table and in
 * *@slots (may be NULL) the vGPUs one instance holds, or NULL. */
static const VhMigProfile *
mig_profile_slots(const VhVgpuMig *mig, const char *profile, guint *slots)
{
    if (slots)
        *slots = 0;
    return mig->table ? vh_mig_profile_in_table(mig->table, vh_vgpu_type_profile(profile), slots)
                      : NULL;
}

static const VhMigProfile *
mig_profile(const VhVgpuMig *mig, const char *profile)
{
    return mig_profile_slots(mig, profile, NULL);
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
 * (not a known MIG GPU): then framebuffer and VFs count as for any type.
 * Instances of its profile times the vGPUs each holds. */
static gint
mig_capacity(const VhVgpuGpu *gpu, const char *profile)
{
    const VhVgpuMig *mig = mig_state(gpu);
    guint slots;
    const VhMigProfile *p = mig_profile_slots(mig, profile, &slots);

    if (mig->nvml && !mig->mig_on)
        return 0;
    if (p == NULL)
        return mig->nvml ? 0 : -1;
    /* on demand: as many as an empty GPU holds, instances are made at prepare */
    if (mig->nvml && !gpu->mig_on_demand)
        return (gint)(mig_instances_of(mig, p->id) * slots);
    return (gint)(vh_mig_free_count(mig->table, p, NULL, 0) * slots);
}

gboolean
vh_vgpu_gpu_uses_mig(const VhVgpuGpu *gpu, const char *profile)
{
    return vh_vgpu_gpu_is_mig_backed(profile) && mig_capacity(gpu, profile) >= 0;
}

guint
vh_vgpu_gpu_mig_slots(const VhVgpuGpu *gpu, const char *profile)
{
    guint slots;

    if (!vh_vgpu_gpu_is_mig_backed(profile))
        return 0;
    return mig_profile_slots(mig_state(gpu), profile, &slots) ? slots : 0;
}

/* ---- who sits in which instance -------------------------------------------- */

static void
mig_instance_free(VhVgpuMigInstance *gi)
{
    g_ptr_array_unref(gi->vfs);
    g_free(gi);
}

void
vh_vgpu_mig_layout_free(VhVgpuMigLayout *layout)
{
    if (layout == NULL)
        return;
    g_ptr_array_unref(layout->instances);
    g_free(layout);
}

static VhVgpuMigInstance *
layout_add(VhVgpuMigLayout *l, const VhMigProfile *p, guint start, guint size)
{
    VhVgpuMigInstance *gi = g_new0(VhVgpuMigInstance, 1);

    gi->profile = p ? p->name : "unknown profile";
    gi->start = start;
    gi->size = size;
    gi->vfs = g_ptr_array_new();
    g_ptr_array_add(l->instances, gi);
    return gi;
}

/* Without NVML: one more instance of @p where vh_mig would put it, or NULL
 * when none fits next to the planned ones. */
static VhVgpuMigInstance *
layout_plan(VhVgpuMigLayout *l, const VhVgpuMig *mig, const VhMigProfile *p)
{
    g_autoptr(GArray) placed = g_array_new(FALSE, FALSE, sizeof(VhMigInstance));
    VhMigPlacement where;

    for (guint i = 0; i < l->instances->len; i++) {
        const VhVgpuMigInstance *gi = g_ptr_array_index(l->instances, i);
        const VhMigProfile *gp = vh_mig_table_find(mig->table, gi->profile);
        VhMigInstance one = { i, gp ? gp->id : 0, gi->start, gi->size };
        g_array_append_val(placed, one);
    }
    if (!vh_mig_best_placement(mig->table, p, (const VhMigInstance *)placed->data, placed->len,
                               &where, NULL))
        return NULL;
    return layout_add(l, p, where.start, where.size);
}

static gboolean
same_type(const char *a, const char *b)
{
    return a && b && strcmp(vh_vgpu_type_profile(a), vh_vgpu_type_profile(b)) == 0;
}

/* An instance of @p with room for one more @type: one that already runs
 * @type with a free slot first (the driver fills an instance before it
 * opens the next), else a free one; NULL when none. */
static VhVgpuMigInstance *
layout_find_room(const VhVgpuMigLayout *l, const VhMigProfile *p, const char *type)
{
    for (guint pass = 0; pass < 2; pass++) {
        for (guint i = 0; i < l->instances->len; i++) {
            VhVgpuMigInstance *gi = g_ptr_array_index(l->instances, i);
            if (strcmp(gi->profile, p->name) != 0)
                continue;
            if (pass == 0 && same_type(gi->type, type) && gi->vfs->len < gi->slots)
                return gi;
            if (pass == 1 && gi->type == NULL)
                return gi;
        }
    }
    return NULL;
}

static VhVgpuMigInstance *
layout_find_id(const VhVgpuMigLayout *l, guint id)
{
    for (guint i = 0; i < l->instances->len; i++) {
        VhVgpuMigInstance *gi = g_ptr_array_index(l->instances, i);
        if (gi->id_known && gi->id == id)
            return gi;
    }
    return NULL;
}

/* Put VF @vf's claim @type in the instance the driver reports (its
 * gpu_instance_id) or, when it does not (@known FALSE), the one it would
 * pick. FALSE when no instance can take it. */
static gboolean
layout_seat(VhVgpuMigLayout *l, const VhVgpuMig *mig, const VhPciDevice *vf, const char *type,
            gboolean known)
{
    guint slots;
    const VhMigProfile *p = mig_profile_slots(mig, type, &slots);
    VhVgpuMigInstance *gi = known ? layout_find_id(l, (guint)vf->gpu_instance_id) : NULL;

    if (p == NULL)
        return TRUE; /* not a MIG claim on this table */
    if (gi == NULL && known && !mig->nvml && (gi = layout_plan(l, mig, p)) != NULL) {
        gi->id = (guint)vf->gpu_instance_id;
        gi->id_known = TRUE;
    }
    if (gi == NULL && (gi = layout_find_room(l, p, type)) == NULL && !mig->nvml)
        gi = layout_plan(l, mig, p);
    if (gi == NULL)
        return FALSE;
    if (gi->type == NULL) {
        gi->type = vh_vgpu_type_profile(type);
        gi->slots = slots;
    }
    g_ptr_array_add(gi->vfs, (gpointer)vf);
    return TRUE;
}

/* The instances with @claims (one per VF, as for vh_vgpu_gpu_admits) seated,
 * @skip's claim left out. VFs whose driver names their instance first. */
static VhVgpuMigLayout *
mig_occupy(const VhVgpuGpu *gpu, const VhVgpuMig *mig, const char *const *claims,
           const VhPciDevice *skip)
{
    VhVgpuMigLayout *l = g_new0(VhVgpuMigLayout, 1);

    l->nvml = mig->nvml;
    l->mig_on = mig->mig_on;
    l->model = mig->table ? vh_mig_table_model(mig->table) : NULL;
    l->why = mig->why;
    l->instances = g_ptr_array_new_with_free_func((GDestroyNotify)mig_instance_free);
    for (guint i = 0; mig->instances && i < mig->instances->len; i++) {
        const VhMigInstance *mi = &g_array_index(mig->instances, VhMigInstance, i);
        VhVgpuMigInstance *gi = layout_add(l, vh_mig_table_find_id(mig->table, mi->profile_id),
                                           mi->start, mi->size);
        gi->id = mi->id;
        gi->id_known = TRUE;
    }
    for (guint pass = 0; pass < 2; pass++) {
        for (guint i = 0; i < gpu->vfs->len; i++) {
            const VhPciDevice *vf = g_ptr_array_index(gpu->vfs, i);
            gboolean known = vf->gpu_instance_id >= 0;
            if (vf == skip || claims[i] == NULL || *claims[i] == '\0' || known != (pass == 0))
                continue;
            if (!layout_seat(l, mig, vf, claims[i], known))
                l->unplaced++;
        }
    }
    return l;
}

/* What the VFs hold now, as claims. */
static const char **
held_claims(const VhVgpuGpu *gpu)
{
    const char **claims = g_new0(const char *, gpu->vfs->len + 1);

    for (guint i = 0; i < gpu->vfs->len; i++) {
        const VhPciDevice *vf = g_ptr_array_index(gpu->vfs, i);
        const char *held = vh_vgpu_gpu_held_profile(gpu, vf);
        claims[i] = vf->current_vgpu_type == 0 ? NULL : held ? held : "";
    }
    return claims;
}

/* Does the GPU offer a MIG-backed type at all? Only then is NVML asked. */
static gboolean
offers_mig(const VhVgpuGpu *gpu)
{
    for (guint i = 0; i < gpu->types->len; i++)
        if (vh_vgpu_gpu_is_mig_backed(((const VhVgpuType *)g_ptr_array_index(gpu->types, i))->name))
            return TRUE;
    return FALSE;
}

VhVgpuMigLayout *
vh_vgpu_gpu_mig_layout(const VhVgpuGpu *gpu)
{
    const VhVgpuMig *mig;
    g_autofree const char **claims = NULL;

    if (!offers_mig(gpu))
        return NULL;
    mig = mig_state(gpu);
    if (mig->table == NULL && !mig->nvml)
        return NULL;
    claims = held_claims(gpu);
    return mig_occupy(gpu, mig, claims, NULL);
}

const VhVgpuMigInstance *
vh_vgpu_mig_layout_instance_of(const VhVgpuMigLayout *layout, const VhPciDevice *vf)
{
    for (guint i = 0; layout && i < layout->instances->len; i++) {
        const VhVgpuMigInstance *gi = g_ptr_array_index(layout->instances, i);
        for (guint v = 0; v < gi->vfs->len; v++)
            if (g_ptr_array_index(gi->vfs, v) == vf)
                return gi;
    }
    return NULL;
}

guint
vh_vgpu_gpu_mig_room(const VhVgpuGpu *gpu, const char *const *claims, const VhPciDevice *vf,
                     const char *profile)
{
    const VhVgpuMig *mig = mig_state(gpu);
    guint slots;
    const VhMigProfile *p = mig_profile_slots(mig, profile, &slots);
    g_autoptr(VhVgpuMigLayout) l = NULL;
    g_autoptr(GArray) placed = g_array_new(FALSE, FALSE, sizeof(VhMigInstance));
    guint room = 0;

    if (p == NULL || (mig->nvml && !mig->mig_on))
        return 0;
    l = mig_occupy(gpu, mig, claims, vf);
    for (guint i = 0; i < l->instances->len; i++) {
        const VhVgpuMigInstance *gi = g_ptr_array_index(l->instances, i);
        const VhMigProfile *gp = vh_mig_table_find(mig->table, gi->profile);
        VhMigInstance one = { i, gp ? gp->id : 0, gi->start, gi->size };
        g_array_append_val(placed, one);
        if (strcmp(gi->profile, p->name) != 0)
            continue;
        if (gi->type == NULL)
            room += slots;
        else if (same_type(gi->type, profile) && gi->vfs->len < gi->slots)
            room += gi->slots - gi->vfs->len;
    }
    /* Without NVML, or with mig = on-demand: instances that could still be
     * created count too. */
    if (!mig->nvml || gpu->mig_on_demand)
        room += vh_mig_free_count(mig->table, p, (const VhMigInstance *)placed->data,
                                  placed->len) * slots;
    return room;
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
    slots_free(gpu->slots);
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
    gpu->mode_configured = vh_config_gpu(host->config, pf->address) &&
                           vh_config_gpu(host->config, pf->address)->has_mode;
    gpu->mig_on_demand = vh_config_gpu_mig_on_demand(host->config, pf->address);
    gpu->driver_version = vh_sysfs_read_string(host->sysfs, "module/nvidia/version", NULL);
    if (gpu->driver_version)
        g_strstrip(gpu->driver_version);
    gpu->cache_dir = g_strdup(host->config->cache_dir);
    for (guint i = 0; pf->virtfns && i < pf->virtfns->len; i++) {
        VhPciDevice *vf = vh_host_get_vgpu_state(host, g_ptr_array_index(pf->virtfns, i), NULL);
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

/* ---- mode and placement slots through NVML ----------------------------------- */

typedef struct {
    guint size;  /* slots one takes */
    GArray *ids; /* guint: its placement ids (first slot), NVML's order */
} VhVgpuPlacements;

/* What NVML said about the GPU's mode and placements, asked on first use. */
typedef struct _VhVgpuSlots {
    gboolean mode_asked;
    gboolean mode_known;
    VhVgpuMode driver_mode;
    GHashTable *placements; /* type id -> VhVgpuPlacements, NULL: NVML has none */
} VhVgpuSlots;

static void
placements_free(gpointer data)
{
    VhVgpuPlacements *p = data;

    if (p) {
        g_array_unref(p->ids);
        g_free(p);
    }
}

static void
slots_free(VhVgpuSlots *slots)
{
    if (slots) {
        g_hash_table_unref(slots->placements);
        g_free(slots);
    }
}

/* A cache of NVML's answers; the GPU's observable state is unchanged. */
static VhVgpuSlots *
slots_of(const VhVgpuGpu *gpu)
{
    if (gpu->slots == NULL) {
        VhVgpuSlots *slots = g_new0(VhVgpuSlots, 1);
        slots->placements = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
                                                  placements_free);
        ((VhVgpuGpu *)gpu)->slots = slots;
    }
    return gpu->slots;
}

gboolean
vh_vgpu_gpu_driver_mode(const VhVgpuGpu *gpu, VhVgpuMode *mode)
{
    VhVgpuSlots *slots = slots_of(gpu);

    /* Only for a GPU whose mode the configuration names: other commands
     * and domains never load NVML for it. */
    if (!slots->mode_asked && nvml_allowed && gpu->mode_configured) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VhNvml) nvml = vh_nvml_open(&error);
        gboolean mixed = FALSE;

        slots->mode_asked = TRUE;
        slots->mode_known = nvml && vh_nvml_heterogeneous_mode(nvml, gpu->pf->address, &mixed,
                                                               &error);
        slots->driver_mode = mixed ? VH_VGPU_MODE_MIXED : VH_VGPU_MODE_EQUAL;
        g_debug("vgpu: GPU %s: driver mode %s", gpu->pf->address,
                slots->mode_known ? vh_vgpu_mode_to_string(slots->driver_mode) : error->message);
    }
    if (slots->mode_known)
        *mode = slots->driver_mode;
    return slots->mode_known;
}

/* The mode allocation follows: the driver's where NVML says, else the
 * configuration's. */
static VhVgpuMode
run_mode(const VhVgpuGpu *gpu)
{
    VhVgpuMode mode;

    return vh_vgpu_gpu_driver_mode(gpu, &mode) ? mode : gpu->mode;
}

/* NVML's mixed-size placements of @profile, or NULL (no NVML, a driver
 * without placements, a type nobody names). */
static const VhVgpuPlacements *
nvml_placements(const VhVgpuGpu *gpu, const char *profile)
{
    const VhVgpuType *type = *profile ? vh_vgpu_types_find_name(gpu->types, profile) : NULL;
    VhVgpuSlots *slots = slots_of(gpu);
    g_autoptr(GError) error = NULL;
    g_autoptr(VhNvml) nvml = NULL;
    VhVgpuPlacements *p = NULL;
    gpointer cached = NULL;
    GArray *ids = NULL;
    guint size = 0;

    if (type == NULL || !nvml_allowed)
        return NULL;
    if (g_hash_table_lookup_extended(slots->placements, GUINT_TO_POINTER(type->id), NULL,
                                     &cached))
        return cached;
    if ((nvml = vh_nvml_open(&error)) != NULL)
        ids = vh_nvml_vgpu_placements(nvml, gpu->pf->address, type->id, FALSE, TRUE, &size,
                                      &error);
    if (ids && size > 0) {
        p = g_new0(VhVgpuPlacements, 1);
        p->size = size;
        p->ids = ids;
    } else if (ids) {
        g_array_unref(ids);
    }
    g_debug("vgpu: GPU %s: placements of %s: %s", gpu->pf->address, profile,
            p ? "from NVML" : error ? error->message : "none");
    g_hash_table_insert(slots->placements, GUINT_TO_POINTER(type->id), p);
    return p;
}

/* Take the first free placement of @p in @used (@n slots); FALSE when none. */
static gboolean
slots_take(guint8 *used, guint n, const VhVgpuPlacements *p, gboolean take)
{
    for (guint i = 0; i < p->ids->len; i++) {
        guint start = g_array_index(p->ids, guint, i);
        if (start + p->size > n || memchr(used + start, 1, p->size))
            continue;
        if (take)
            memset(used + start, 1, p->size);
        return TRUE;
    }
    return FALSE;
}

static guint
slots_end(const VhVgpuPlacements *p)
{
    guint end = 0;

    for (guint i = 0; i < p->ids->len; i++)
        end = MAX(end, g_array_index(p->ids, guint, i) + p->size);
    return end;
}

/* The slots @claims take (@vf's own left out; @vf may be NULL), each the
 * first free placement of its type in VF order, as the driver places them:
 * *@used has *@n entries, *@taken of them set. FALSE when NVML cannot place
 * @want or a claim. */
static gboolean
slots_fill(const VhVgpuGpu *gpu, const char *const *claims, const VhPciDevice *vf,
           const VhVgpuPlacements *want, guint8 **used, guint *n, guint *taken)
{
    g_autoptr(GPtrArray) placed = g_ptr_array_new();

    *n = slots_end(want);
    *taken = 0;
    for (guint i = 0; i < gpu->vfs->len; i++) {
        const VhVgpuPlacements *p = NULL;
        if (claims[i] == NULL || g_ptr_array_index(gpu->vfs, i) == vf)
            continue;
        if ((p = nvml_placements(gpu, claims[i])) == NULL)
            return FALSE; /* a claim NVML cannot place */
        g_ptr_array_add(placed, (gpointer)p);
        *n = MAX(*n, slots_end(p));
    }
    *used = g_malloc0(*n);
    for (guint i = 0; i < placed->len; i++) {
        const VhVgpuPlacements *p = g_ptr_array_index(placed, i);
        if (slots_take(*used, *n, p, TRUE))
            *taken += p->size;
    }
    return TRUE;
}

/* Mixed-size mode on NVML's placements: @wanted needs a free placement
 * next to the claims. FALSE when NVML cannot tell (*@error unset). */
static gboolean
slots_decide(const VhVgpuGpu *gpu, const char *const *claims, const VhPciDevice *vf,
             const char *wanted, gboolean *fits, GError **error)
{
    const VhVgpuPlacements *want = nvml_placements(gpu, wanted);
    g_autofree guint8 *used = NULL;
    guint n, taken;

    if (want == NULL || !slots_fill(gpu, claims, vf, want, &used, &n, &taken))
        return FALSE;
    *fits = slots_take(used, n, want, FALSE);
    if (!*fits)
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                    "GPU %s (mixed-size mode) has no free placement slots for %s (%u of %u "
                    "slots taken, it needs %u; placements from NVML)", gpu->pf->address, wanted,
                    taken, n, want->size);
    return TRUE;
}

gint
vh_vgpu_gpu_placement_room(const VhVgpuGpu *gpu, const char *const *claims, const char *profile)
{
    const char *wanted = vh_vgpu_type_profile(profile);
    const VhVgpuPlacements *want = NULL;
    g_autofree guint8 *used = NULL;
    guint n, taken;
    gint room = 0;

    if (run_mode(gpu) != VH_VGPU_MODE_MIXED || (want = nvml_placements(gpu, wanted)) == NULL ||
        !slots_fill(gpu, claims, NULL, want, &used, &n, &taken))
        return -1;
    while (slots_take(used, n, want, TRUE))
        room++;
    return room;
}

guint
vh_vgpu_gpu_capacity(const VhVgpuGpu *gpu, const char *profile)
{
    guint size = vh_vgpu_gpu_profile_size(profile);
    gint mig = vh_vgpu_gpu_is_mig_backed(profile) ? mig_capacity(gpu, profile) : -1;

    if (mig >= 0)
        return MIN(gpu->vfs->len, (guint)mig);
    if (run_mode(gpu) == VH_VGPU_MODE_MIXED) {
        const VhVgpuPlacements *p = nvml_placements(gpu, vh_vgpu_type_profile(profile));
        if (p)
            return MIN(gpu->vfs->len, p->ids->len);
    }

    if (size == 0 || gpu->framebuffer_gb == 0)
        return gpu->vfs->len;
    return MIN(gpu->vfs->len, gpu->framebuffer_gb / size);
}

/* "VF A holds H200X-2-35C in instance 1, VF B holds H200X-2-35C": the
 * claims of @claims on an instance of @p (any MIG-backed claim when @p is
 * NULL), with the instance each sits in where the VF's gpu_instance_id
 * says. */
static char *
mig_claimants(const VhVgpuGpu *gpu, const VhVgpuMig *mig, const char *const *claims,
              const VhPciDevice *vf, const VhMigProfile *p)
{
    g_autoptr(VhVgpuMigLayout) layout = mig_occupy(gpu, mig, claims, vf);
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < gpu->vfs->len; i++) {
        const VhPciDevice *other = g_ptr_array_index(gpu->vfs, i);
        const VhMigProfile *held = claims[i] ? mig_profile(mig, claims[i]) : NULL;
        const VhVgpuMigInstance *gi = vh_vgpu_mig_layout_instance_of(layout, other);
        if (other == vf || held == NULL || (p && held->id != p->id))
            continue;
        g_autofree char *owner = owner_fn ? owner_fn(other->address, owner_data) : NULL;
        g_string_append_printf(out, "%sVF %s holds %s", out->len ? ", " : "", other->address,
                               vh_vgpu_type_profile(claims[i]));
        /* only where the driver says so: a guess is no fact for an operator */
        if (gi && gi->id_known && other->gpu_instance_id >= 0)
            g_string_append_printf(out, " in instance %u", gi->id);
        if (owner)
            g_string_append_printf(out, " (domain '%s')", owner);
    }
    return g_string_free(out, FALSE);
}

/* " (2 H200X-1-9C time-slice in one 1g.18gb instance)" for a type that
 * shares its instance, "" for one that takes it whole. */
static char *
mig_slots_note(const VhVgpuMig *mig, const char *wanted)
{
    guint slots;
    const VhMigProfile *p = mig_profile_slots(mig, wanted, &slots);

    if (p == NULL || slots <= 1)
        return g_strdup("");
    return g_strdup_printf(" (%u %s time-slice in one %s instance)", slots, wanted, p->name);
}

/* Why MIG-backed @wanted does not fit on @gpu next to @claims, one line. */
static void
mig_refusal(const VhVgpuGpu *gpu, const char *const *claims, const VhPciDevice *vf,
            const char *wanted, GError **error)
{
    const VhVgpuMig *mig = mig_state(gpu);
    const VhMigProfile *p = mig_profile(mig, wanted);
    g_autofree char *name = vh_mig_profile_for_vgpu_type(wanted);
    const char *gi = p ? p->name : name;
    g_autofree char *instances = vh_vgpu_gpu_describe_instances(gpu);
    g_autofree char *holders = mig_claimants(gpu, mig, claims, vf, mig->nvml ? p : NULL);
    g_autofree char *slots = mig_slots_note(mig, wanted);
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
                    "GPU %s has no free %s GPU instance for %s%s: %s (GPU instances: %s). "
                    "Stop one of those domains, create another %s instance, or pick another "
                    "GPU", addr, gi, wanted, slots, holders, instances, gi);
    else
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                    "GPU %s has no room for another %s GPU instance for %s%s next to what its "
                    "VFs hold (%s; built-in %s MIG table, %s). Stop one of those domains or "
                    "pick another GPU", addr, gi, wanted, slots, *holders ? holders : "nothing",
                    vh_mig_table_model(mig->table), mig->why ? mig->why : "NVML not used");
}

/* MIG-backed @wanted: a free instance of its profile, no one-size rule
 * between instance profiles (time-sliced or unknown claims keep it). */
static gboolean
mig_admits(const VhVgpuGpu *gpu, const char *const *claims, const VhPciDevice *vf,
           const char *wanted, GError **error)
{
    for (guint i = 0; run_mode(gpu) == VH_VGPU_MODE_EQUAL && i < gpu->vfs->len; i++) {
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
    VhVgpuMode mode = run_mode(gpu);
    gboolean fits = FALSE;
    guint used = 0;

    if (vh_vgpu_types_find_name(gpu->types, wanted) == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED, "GPU %s does not offer %s",
                    gpu->pf->address, wanted);
        return FALSE;
    }
    if (vh_vgpu_gpu_uses_mig(gpu, wanted))
        return mig_admits(gpu, claims, vf, wanted, error);
    if (mode == VH_VGPU_MODE_MIXED && slots_decide(gpu, claims, vf, wanted, &fits, error))
        return fits;
    for (guint i = 0; i < gpu->vfs->len; i++) {
        const VhPciDevice *other = g_ptr_array_index(gpu->vfs, i);
        const char *held = claims[i];
        guint held_size;
        if (other == vf || held == NULL)
            continue;
        held_size = *held ? vh_vgpu_gpu_profile_size(held) : 0;
        if (mode == VH_VGPU_MODE_EQUAL && held_size != size) {
            g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                        "GPU %s runs one profile size at a time and VF %s holds %s "
                        "(equal-size mode)", gpu->pf->address, other->address,
                        *held ? held : "an unknown type");
            return FALSE;
        }
        used += held_size;
    }
    if (gpu->framebuffer_gb > 0 && used + size > gpu->framebuffer_gb) {
        if (mode == VH_VGPU_MODE_MIXED)
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

    if (mode == run_mode(gpu) || gpu->idle)
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
    } else if (mixed && run_mode(gpu) == VH_VGPU_MODE_EQUAL) {
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                    "VF %s cannot take %s now: GPU %s runs one profile size at a time "
                    "(equal-size mode) and %s. Stop those domains, pick another GPU, or set "
                    "vgpu_mode = mixed for it", vf->address, wanted, gpu->pf->address, holders);
    } else if (run_mode(gpu) == VH_VGPU_MODE_MIXED) {
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
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
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
    g_autoptr(GError) local = NULL;
    g_autoptr(VhNvml) nvml = NULL;
    VhVgpuSlots *slots;

    if (!gpu->idle) {
        g_autofree char *holders = vh_vgpu_gpu_describe_holders(gpu);
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "GPU %s cannot change to %s-size mode while its VFs hold types (the driver "
                    "refuses: in use): %s. Stop those domains and release the VFs first",
                    gpu->pf->address, vh_vgpu_mode_to_string(mode), holders);
        return FALSE;
    }
    if (!nvml_allowed || (nvml = vh_nvml_open(&local)) == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "setting %s-size mode needs NVML (%s): run 'nvidia-smi vgpu -shm %d -i N' "
                    "for GPU %s before profiles are assigned", vh_vgpu_mode_to_string(mode),
                    local ? local->message : "not consulted here", mode == VH_VGPU_MODE_MIXED,
                    gpu->pf->address);
        return FALSE;
    }
    if (!vh_nvml_set_heterogeneous_mode(nvml, gpu->pf->address, mode == VH_VGPU_MODE_MIXED,
                                        error)) {
        g_prefix_error(error, "GPU %s stays in its mode, %s-size was refused: ", gpu->pf->address,
                       vh_vgpu_mode_to_string(mode));
        return FALSE;
    }
    slots = slots_of(gpu);
    slots->mode_asked = slots->mode_known = TRUE;
    slots->driver_mode = mode;
    g_hash_table_remove_all(slots->placements);
    return TRUE;
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

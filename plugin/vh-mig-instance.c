/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-mig-instance: GPU instances for MIG-backed vGPUs; see the header. */
#include "vh-mig-instance.h"
#include "vh-error.h"
#include "vh-nvml.h"
#include "vh-vgpu-gpu.h"
#include "vh-vgpu-type.h"

#include <stdio.h>
#include <string.h>

void
vh_mig_demand_clear(VhMigDemand *demand)
{
    g_clear_pointer(&demand->gpu, g_free);
    g_clear_pointer(&demand->profile, g_free);
}

void
vh_mig_layout_result_clear(VhMigLayoutResult *result)
{
    g_clear_pointer(&result->detail, g_free);
}

char *
vh_mig_instance_gpu_of_vf(VhHost *host, const char *vf_address)
{
    VhPciDevice *vf = vh_host_get_device(host, vf_address, NULL);

    return vf && vf->physfn ? g_strdup(vf->physfn) : NULL;
}

gboolean
vh_mig_instance_of_vf(VhHost *host, const char *vf_address, guint *id)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/nvidia/gpu_instance_id",
                                           vf_address);
    gint64 value = -1;

    if (!vh_sysfs_read_int(host->sysfs, rel, &value, NULL) || value < 0 || value > G_MAXINT)
        return FALSE;
    *id = (guint)value;
    return TRUE;
}

/* ---- what a GPU's instances are and who holds them ------------------------- */

typedef struct {
    VhMigTable *table;
    GArray *instances;   /* VhMigInstance, as NVML lists them */
    GHashTable *holders; /* instance id -> "VF A (domain 'x')" */
    GHashTable *unknown; /* profile id -> VFs holding one of its instances, which unknown */
    GPtrArray *unknown_text;
    GArray *reserved;    /* VhMigInstance: placements other leases recorded before a create */
    GPtrArray *reserved_text;
} GpuView;

static void
gpu_view_clear(GpuView *v)
{
    g_clear_pointer(&v->table, vh_mig_table_free);
    g_clear_pointer(&v->instances, g_array_unref);
    g_clear_pointer(&v->holders, g_hash_table_unref);
    g_clear_pointer(&v->unknown, g_hash_table_unref);
    g_clear_pointer(&v->unknown_text, g_ptr_array_unref);
    g_clear_pointer(&v->reserved, g_array_unref);
    g_clear_pointer(&v->reserved_text, g_ptr_array_unref);
}

static gboolean
mode_is_on(VhNvml *nvml, const char *gpu, GError **error)
{
    gboolean on = FALSE;

    if (!vh_nvml_mig_mode(nvml, gpu, &on, NULL, error))
        return FALSE;
    if (!on)
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "GPU %s runs with MIG off: turn it on with 'nvidia-smi -i %s -mig 1' (its "
                    "VFs disabled first: sriov-manage -d %s, then -e again), then retry", gpu,
                    gpu, gpu);
    return on;
}

gboolean
vh_mig_instance_check_mode(const char *gpu, GError **error)
{
    g_autoptr(VhNvml) nvml = vh_nvml_open(error);

    return nvml && mode_is_on(nvml, gpu, error);
}

static gboolean
parse_placement(const char *text, guint *start, guint *size)
{
    char tail;

    return text && sscanf(text, "%u:%u%c", start, size, &tail) == 2;
}

static char *
holder_text(const char *vf, const VhLease *lease)
{
    if (lease && lease->state == VH_LEASE_ACTIVE)
        return g_strdup_printf("VF %s (domain '%s')", vf, lease->domain);
    return g_strdup_printf("VF %s", vf);
}

/* What VF @addr holds or has claimed, added to @v. */
static void
gpu_view_add_vf(GpuView *v, VhHost *host, VhLeaseStore *store, VhVgpuGpu *model,
                const char *addr)
{
    g_autoptr(VhLease) lease = vh_lease_store_get(store, addr, NULL);
    gboolean counts = lease && lease->state == VH_LEASE_ACTIVE && vh_lease_is_live(store, lease);
    VhPciDevice *vf;
    const char *held;
    const VhMigProfile *p;
    guint id, start, size;

    vh_host_invalidate(host, addr);
    vf = vh_host_get_device(host, addr, NULL);
    if (vf == NULL)
        return;
    if (vf->current_vgpu_type != 0 && vh_mig_instance_of_vf(host, addr, &id)) {
        g_hash_table_insert(v->holders, GUINT_TO_POINTER(id), holder_text(addr, lease));
        return;
    }
    if (counts && lease->has_gpu_instance) {
        g_hash_table_insert(v->holders, GUINT_TO_POINTER(lease->gpu_instance),
                            holder_text(addr, lease));
        return;
    }
    if (counts && lease->gpu_instance_created &&
        (p = vh_mig_table_find(v->table, lease->gpu_instance_profile)) != NULL &&
        parse_placement(lease->gpu_instance_placement, &start, &size)) {
        VhMigInstance gi = { G_MAXUINT, p->id, start, size };
        g_array_append_val(v->reserved, gi);
        g_ptr_array_add(v->reserved_text,
                        g_strdup_printf("%s at %u:%u recorded by domain '%s' for VF %s", p->name,
                                        start, size, lease->domain, addr));
        if (vf->current_vgpu_type == 0)
            return;
    }
    if (vf->current_vgpu_type == 0)
        return;
    /* holds a type, instance unknown: one instance of its profile is taken */
    held = model ? vh_vgpu_gpu_held_profile(model, vf) : NULL;
    {
        g_autofree char *gi = held ? vh_mig_profile_for_vgpu_type(held) : NULL;
        g_autofree char *who = holder_text(addr, lease);
        p = gi ? vh_mig_table_find(v->table, gi) : NULL;
        if (p == NULL)
            return;
        g_hash_table_insert(v->unknown, GUINT_TO_POINTER(p->id),
                            GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(
                                                 v->unknown, GUINT_TO_POINTER(p->id))) + 1));
        g_ptr_array_add(v->unknown_text, g_strdup_printf("%s holds %s on a %s instance", who,
                                                         held, p->name));
    }
}

/* NVML's view of @gpu (MIG on) with the holders of its instances; @skip_vf
 * (may be NULL) is the VF being prepared. */
static gboolean
gpu_view_load(GpuView *v, VhHost *host, VhLeaseStore *store, const char *gpu,
              const char *skip_vf, GError **error)
{
    g_autoptr(VhNvml) nvml = vh_nvml_open(error);
    g_autoptr(VhVgpuGpu) model = NULL;
    VhPciDevice *pf;

    if (nvml == NULL || !mode_is_on(nvml, gpu, error) ||
        (v->table = vh_nvml_mig_table(nvml, gpu, error)) == NULL ||
        (v->instances = vh_nvml_mig_instances(nvml, gpu, v->table, error)) == NULL)
        return FALSE;
    v->holders = g_hash_table_new_full(NULL, NULL, NULL, g_free);
    v->unknown = g_hash_table_new(NULL, NULL);
    v->unknown_text = g_ptr_array_new_with_free_func(g_free);
    v->reserved = g_array_new(FALSE, FALSE, sizeof(VhMigInstance));
    v->reserved_text = g_ptr_array_new_with_free_func(g_free);
    pf = vh_host_get_device(host, gpu, NULL);
    if (pf == NULL || pf->virtfns == NULL)
        return TRUE;
    model = vh_vgpu_gpu_new(host, pf);
    for (guint i = 0; i < pf->virtfns->len; i++) {
        const char *addr = g_ptr_array_index(pf->virtfns, i);
        if (g_strcmp0(addr, skip_vf) != 0)
            gpu_view_add_vf(v, host, store, model, addr);
    }
    return TRUE;
}

static guint
unknown_of(const GpuView *v, guint profile_id)
{
    return GPOINTER_TO_UINT(g_hash_table_lookup(v->unknown, GUINT_TO_POINTER(profile_id)));
}

/* Instances of @profile_id no VF holds, less those held by VFs whose
 * instance is unknown. */
static guint
free_of(const GpuView *v, guint profile_id)
{
    guint n = 0, unknown = unknown_of(v, profile_id);

    for (guint i = 0; i < v->instances->len; i++) {
        const VhMigInstance *gi = &g_array_index(v->instances, VhMigInstance, i);
        n += gi->profile_id == profile_id &&
             !g_hash_table_contains(v->holders, GUINT_TO_POINTER(gi->id));
    }
    return n > unknown ? n - unknown : 0;
}

static char *
gpu_view_describe(const GpuView *v)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < v->instances->len; i++) {
        const VhMigInstance *gi = &g_array_index(v->instances, VhMigInstance, i);
        const VhMigProfile *p = vh_mig_table_find_id(v->table, gi->profile_id);
        const char *holder = g_hash_table_lookup(v->holders, GUINT_TO_POINTER(gi->id));
        g_string_append_printf(out, "%sinstance %u (%s at %u:%u) %s%s", out->len ? ", " : "",
                               gi->id, p ? p->name : "unknown profile", gi->start, gi->size,
                               holder ? "held by " : "free", holder ? holder : "");
    }
    for (guint i = 0; i < v->unknown_text->len; i++)
        g_string_append_printf(out, "%s%s", out->len ? ", " : "",
                               (const char *)g_ptr_array_index(v->unknown_text, i));
    for (guint i = 0; i < v->reserved_text->len; i++)
        g_string_append_printf(out, "%s%s", out->len ? ", " : "",
                               (const char *)g_ptr_array_index(v->reserved_text, i));
    if (out->len == 0)
        g_string_append(out, "no GPU instance");
    return g_string_free(out, FALSE);
}

char *
vh_mig_instance_describe(VhHost *host, VhLeaseStore *store, const char *gpu)
{
    GpuView v = { 0 };
    g_autoptr(GError) error = NULL;
    char *text;

    if (!gpu_view_load(&v, host, store, gpu, NULL, &error)) {
        gpu_view_clear(&v);
        return g_strdup(error->message);
    }
    text = gpu_view_describe(&v);
    gpu_view_clear(&v);
    return text;
}

/* ---- on demand ----------------------------------------------------------------- */

/* Existing instances and other leases' recorded placements, for placing. */
static GArray *
occupied(const GpuView *v)
{
    GArray *all = g_array_new(FALSE, FALSE, sizeof(VhMigInstance));

    g_array_append_vals(all, v->instances->data, v->instances->len);
    g_array_append_vals(all, v->reserved->data, v->reserved->len);
    return all;
}

static gboolean
plan_in_view(const GpuView *v, const char *gpu, const char *wanted, VhMigDemand *out,
             GError **error)
{
    g_autofree char *name = vh_mig_profile_for_vgpu_type(wanted);
    const VhMigProfile *p = name ? vh_mig_table_find(v->table, name) : NULL;
    g_autoptr(GArray) taken = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree char *state = NULL;

    if (p == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "GPU %s has no GPU-instance profile %s for %s: pick another GPU or profile",
                    gpu, name ? name : "(not MIG-backed)", wanted);
        return FALSE;
    }
    out->gpu = g_strdup(gpu);
    out->profile = g_strdup(p->name);
    out->profile_id = p->id;
    if (free_of(v, p->id) > 0) {
        g_debug("mig: GPU %s has a free %s instance for %s: none created", gpu, p->name, wanted);
        return TRUE;
    }
    taken = occupied(v);
    if (vh_mig_best_placement(v->table, p, (const VhMigInstance *)taken->data, taken->len,
                              &out->placement, &local)) {
        out->create = TRUE;
        g_debug("mig: GPU %s: a %s instance for %s goes to %u:%u (best fit)", gpu, p->name,
                wanted, out->placement.start, out->placement.size);
        return TRUE;
    }
    state = gpu_view_describe(v);
    g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                "GPU %s has no free %s GPU instance for %s and no room to create one (mig = "
                "on-demand; %s): stop one of those domains or pick another GPU", gpu, p->name,
                wanted, state);
    return FALSE;
}

gboolean
vh_mig_instance_plan(VhHost *host, VhLeaseStore *store, const char *vf_address,
                     const char *vgpu_profile, VhMigDemand *out, GError **error)
{
    g_autofree char *gpu = vh_mig_instance_gpu_of_vf(host, vf_address);
    GpuView v = { 0 };
    gboolean ok;

    memset(out, 0, sizeof(*out));
    if (gpu == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND, "%s is not a VF of a GPU", vf_address);
        return FALSE;
    }
    ok = gpu_view_load(&v, host, store, gpu, vf_address, error) &&
         plan_in_view(&v, gpu, vh_vgpu_type_profile(vgpu_profile), out, error);
    gpu_view_clear(&v);
    if (!ok)
        vh_mig_demand_clear(out);
    return ok;
}

gboolean
vh_mig_instance_create(const VhMigDemand *demand, guint *id, GError **error)
{
    g_autoptr(VhNvml) nvml = vh_nvml_open(error);
    VhNvmlPlacement where = { demand->placement.start, demand->placement.size };

    if (nvml == NULL)
        return FALSE;
    g_debug("mig: creating a %s instance on GPU %s at %u:%u", demand->profile, demand->gpu,
            where.start, where.size);
    return vh_nvml_gi_create(nvml, demand->gpu, demand->profile_id, &where, id, error);
}

/* The instance to destroy: by id (profile and placement still matching),
 * else by placement. */
static const VhMigInstance *
find_recorded(GArray *instances, guint profile_id, gboolean has_id, guint id,
              gboolean has_at, guint start, guint size)
{
    for (guint i = 0; i < instances->len; i++) {
        const VhMigInstance *gi = &g_array_index(instances, VhMigInstance, i);
        if (gi->profile_id != profile_id || (has_id && gi->id != id) ||
            (has_at && (gi->start != start || gi->size != size)))
            continue;
        return gi;
    }
    return NULL;
}

gboolean
vh_mig_instance_exists(const char *gpu, const char *profile, gboolean has_id, guint id,
                       const char *placement, gboolean *exists, GError **error)
{
    g_autoptr(VhNvml) nvml = vh_nvml_open(error);
    g_autoptr(VhMigTable) table = NULL;
    g_autoptr(GArray) instances = NULL;
    const VhMigProfile *p;
    guint start = 0, size = 0;
    gboolean has_at = parse_placement(placement, &start, &size);
    gboolean on = FALSE;

    *exists = FALSE;
    if (nvml == NULL || !vh_nvml_mig_mode(nvml, gpu, &on, NULL, error))
        return FALSE;
    if (!on)
        return TRUE;
    if ((table = vh_nvml_mig_table(nvml, gpu, error)) == NULL ||
        (instances = vh_nvml_mig_instances(nvml, gpu, table, error)) == NULL)
        return FALSE;
    p = vh_mig_table_find(table, profile);
    *exists = p && (has_id || has_at) &&
              find_recorded(instances, p->id, has_id, id, has_at, start, size) != NULL;
    return TRUE;
}

gboolean
vh_mig_instance_destroy(const char *gpu, const char *profile, gboolean has_id, guint id,
                        const char *placement, gboolean *destroyed, GError **error)
{
    g_autoptr(VhNvml) nvml = vh_nvml_open(error);
    g_autoptr(VhMigTable) table = NULL;
    g_autoptr(GArray) instances = NULL;
    const VhMigProfile *p;
    const VhMigInstance *gi;
    guint start = 0, size = 0;
    gboolean has_at = parse_placement(placement, &start, &size);

    *destroyed = FALSE;
    if (nvml == NULL || (table = vh_nvml_mig_table(nvml, gpu, error)) == NULL)
        return FALSE;
    p = vh_mig_table_find(table, profile);
    if (p == NULL || (!has_id && !has_at)) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "GPU %s: cannot tell which %s instance to destroy (unknown profile, or no "
                    "id and no placement recorded)", gpu, profile);
        return FALSE;
    }
    instances = vh_nvml_mig_instances(nvml, gpu, table, error);
    if (instances == NULL) {
        /* MIG off (or the GPU rebound): no instance is left to destroy */
        gboolean on = TRUE;
        if (vh_nvml_mig_mode(nvml, gpu, &on, NULL, NULL) && !on) {
            g_clear_error(error);
            return TRUE;
        }
        return FALSE;
    }
    gi = find_recorded(instances, p->id, has_id, id, has_at, start, size);
    if (gi == NULL) {
        g_debug("mig: GPU %s: the %s instance %s%u is gone already", gpu, profile,
                has_id ? "" : "at slice ", has_id ? id : start);
        return TRUE;
    }
    g_debug("mig: destroying instance %u (%s at %u:%u) of GPU %s", gi->id, profile, gi->start,
            gi->size, gpu);
    if (!vh_nvml_gi_destroy(nvml, gpu, p->id, gi->id, error))
        return FALSE;
    *destroyed = TRUE;
    return TRUE;
}

/* ---- layouts ---------------------------------------------------------------------- */

/* Count of @profile_id in @list (VhMigInstance). */
static guint
count_of(GArray *list, guint profile_id)
{
    guint n = 0;

    for (guint i = 0; i < list->len; i++)
        n += g_array_index(list, VhMigInstance, i).profile_id == profile_id;
    return n;
}

static gboolean
is_held(const GpuView *v, const VhMigInstance *gi)
{
    return g_hash_table_contains(v->holders, GUINT_TO_POINTER(gi->id));
}

/* Keep, per profile, at most @want instances: held ones first. Held ones
 * over the count (or unknown-held ones) make @refused. */
static void
layout_split(const GpuView *v, GArray *want, GArray *keep, GArray *drop, GString *refused)
{
    for (guint pass = 0; pass < 2; pass++) {
        for (guint i = 0; i < v->instances->len; i++) {
            const VhMigInstance *gi = &g_array_index(v->instances, VhMigInstance, i);
            gboolean held = is_held(v, gi);
            if ((pass == 0) != held)
                continue;
            if (count_of(keep, gi->profile_id) < count_of(want, gi->profile_id)) {
                g_array_append_val(keep, *gi);
            } else if (held) {
                g_string_append_printf(refused, "%sinstance %u held by %s",
                                       refused->len ? ", " : "", gi->id,
                                       (const char *)g_hash_table_lookup(
                                           v->holders, GUINT_TO_POINTER(gi->id)));
            } else {
                g_array_append_val(drop, *gi);
            }
        }
    }
    /* a VF whose instance is unknown holds one of its profile: none of
     * that profile may go */
    for (guint i = 0; i < drop->len; i++) {
        const VhMigInstance *gi = &g_array_index(drop, VhMigInstance, i);
        if (unknown_of(v, gi->profile_id) > 0)
            g_string_append_printf(refused, "%sinstance %u (a VF holds a type of its profile, "
                                   "which instance is not known)", refused->len ? ", " : "",
                                   gi->id);
    }
}

/* Where the missing instances go next to @keep, larger first (@want is
 * sorted that way by vh_mig_layout_plan). */
static gboolean
layout_place_missing(const VhMigTable *table, GArray *want, GArray *keep, GArray *create)
{
    g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(VhMigInstance));

    g_array_append_vals(all, keep->data, keep->len);
    for (guint i = 0; i < want->len; i++) {
        const VhMigInstance *w = &g_array_index(want, VhMigInstance, i);
        const VhMigProfile *p = vh_mig_table_find_id(table, w->profile_id);
        VhMigPlacement at;
        VhMigInstance gi;
        if (count_of(all, w->profile_id) >= count_of(want, w->profile_id))
            continue;
        if (!vh_mig_best_placement(table, p, (const VhMigInstance *)all->data, all->len, &at,
                                   NULL))
            return FALSE;
        gi = (VhMigInstance){ G_MAXUINT, p->id, at.start, at.size };
        g_array_append_val(all, gi);
        g_array_append_val(create, gi);
    }
    return TRUE;
}

static void
describe_change(const VhMigTable *table, GArray *drop, GArray *create, gboolean dry_run,
                GString *out)
{
    for (guint i = 0; i < drop->len; i++) {
        const VhMigInstance *gi = &g_array_index(drop, VhMigInstance, i);
        const VhMigProfile *p = vh_mig_table_find_id(table, gi->profile_id);
        g_string_append_printf(out, "%s%s instance %u (%s at %u:%u, free, not in the layout)",
                               out->len ? ", " : "", dry_run ? "would destroy" : "destroyed",
                               gi->id, p ? p->name : "?", gi->start, gi->size);
    }
    for (guint i = 0; i < create->len; i++) {
        const VhMigInstance *gi = &g_array_index(create, VhMigInstance, i);
        const VhMigProfile *p = vh_mig_table_find_id(table, gi->profile_id);
        g_string_append_printf(out, "%s%s %s at %u:%u", out->len ? ", " : "",
                               dry_run ? "would create" : "created", p->name, gi->start,
                               gi->size);
    }
}

static gboolean
layout_execute(const char *gpu, GArray *drop, GArray *create, VhMigLayoutResult *result,
               GError **error)
{
    g_autoptr(VhNvml) nvml = vh_nvml_open(error);

    if (nvml == NULL)
        return FALSE;
    for (guint i = 0; i < drop->len; i++) {
        const VhMigInstance *gi = &g_array_index(drop, VhMigInstance, i);
        if (!vh_nvml_gi_destroy(nvml, gpu, gi->profile_id, gi->id, error))
            return FALSE;
        result->n_destroyed++;
    }
    for (guint i = 0; i < create->len; i++) {
        VhMigInstance *gi = &g_array_index(create, VhMigInstance, i);
        VhNvmlPlacement where = { gi->start, gi->size };
        if (!vh_nvml_gi_create(nvml, gpu, gi->profile_id, &where, &gi->id, error))
            return FALSE;
        result->n_created++;
    }
    return TRUE;
}

gboolean
vh_mig_instance_apply_layout(VhHost *host, VhLeaseStore *store, const char *gpu,
                             const char *layout, gboolean dry_run, VhMigLayoutResult *result,
                             GError **error)
{
    GpuView v = { 0 };
    g_autoptr(GArray) want = NULL;
    g_autoptr(GArray) keep = g_array_new(FALSE, FALSE, sizeof(VhMigInstance));
    g_autoptr(GArray) drop = g_array_new(FALSE, FALSE, sizeof(VhMigInstance));
    g_autoptr(GArray) create = g_array_new(FALSE, FALSE, sizeof(VhMigInstance));
    g_autoptr(GString) refused = g_string_new(NULL);
    g_autoptr(GString) done = g_string_new(NULL);
    gboolean ok = FALSE;

    memset(result, 0, sizeof(*result));
    if (!gpu_view_load(&v, host, store, gpu, NULL, error))
        goto out;
    if ((want = vh_mig_layout_plan(v.table, layout, error)) == NULL)
        goto out;
    layout_split(&v, want, keep, drop, refused);
    if (refused->len) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "GPU %s: layout '%s' would destroy GPU instances in use (%s): changed "
                    "nothing; stop those domains first", gpu, layout, refused->str);
        goto out;
    }
    if (!layout_place_missing(v.table, want, keep, create)) {
        /* the free instances kept may be in the way: place around held ones */
        g_autofree char *state = gpu_view_describe(&v);
        g_array_set_size(keep, 0);
        g_array_set_size(drop, 0);
        g_array_set_size(create, 0);
        for (guint i = 0; i < v.instances->len; i++) {
            const VhMigInstance *gi = &g_array_index(v.instances, VhMigInstance, i);
            if (is_held(&v, gi))
                g_array_append_val(keep, *gi);
            else
                g_array_append_val(drop, *gi);
        }
        if (v.unknown_text->len > 0 || !layout_place_missing(v.table, want, keep, create)) {
            g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                        "GPU %s: layout '%s' does not fit next to the GPU instances in use "
                        "(%s): changed nothing; stop those domains first", gpu, layout, state);
            goto out;
        }
    }
    result->already = drop->len == 0 && create->len == 0;
    if (result->already) {
        result->detail = g_strdup_printf("layout %s is there", layout);
        ok = TRUE;
        goto out;
    }
    if (!dry_run && !layout_execute(gpu, drop, create, result, error))
        goto out;
    describe_change(v.table, drop, create, dry_run, done);
    result->detail = g_strdup_printf("layout %s: %s", layout, done->str);
    ok = TRUE;
out:
    gpu_view_clear(&v);
    return ok;
}

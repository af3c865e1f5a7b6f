/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-mig: MIG arithmetic; see the header. */
#include "config.h"
#include "vh-mig.h"
#include "vh-error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _VhMigTable {
    char *model;
    guint compute_slices;
    guint memory_slices;
    GPtrArray *profiles; /* VhMigProfile, in the order added */
};

static void
profile_free(VhMigProfile *profile)
{
    g_free(profile->name);
    g_array_unref(profile->placements);
    g_free(profile);
}

VhMigTable *
vh_mig_table_new(const char *model, guint compute_slices, guint memory_slices)
{
    VhMigTable *table = g_new0(VhMigTable, 1);

    table->model = g_strdup(model);
    table->compute_slices = compute_slices;
    table->memory_slices = MIN(memory_slices, 32); /* slice sets are 32-bit masks */
    table->profiles = g_ptr_array_new_with_free_func((GDestroyNotify)profile_free);
    return table;
}

void
vh_mig_table_free(VhMigTable *table)
{
    if (table == NULL)
        return;
    g_free(table->model);
    g_ptr_array_unref(table->profiles);
    g_free(table);
}

void
vh_mig_table_add_profile(VhMigTable *table, guint id, const char *name, guint slices,
                         guint instance_count, guint64 memory_mb,
                         const VhMigPlacement *placements, guint n_placements)
{
    VhMigProfile *profile = g_new0(VhMigProfile, 1);

    profile->id = id;
    profile->name = g_ascii_strdown(name, -1);
    profile->slices = slices;
    profile->instance_count = instance_count;
    profile->memory_mb = memory_mb;
    profile->placements = g_array_new(FALSE, FALSE, sizeof(VhMigPlacement));
    g_array_append_vals(profile->placements, placements, n_placements);
    g_ptr_array_add(table->profiles, profile);
}

/* ---- built-in tables (NVIDIA MIG user guide) ------------------------------ */

/* The seven profiles of a 7-slice GPU, in the order ids and placements are
 * the same on A100 40GB, H100 80GB and H200; only memory differs. */
typedef struct {
    guint id, slices, count;
    const char *suffix;  /* "" or "+me" */
    guint gb_index;      /* which of the model's memory sizes */
    guint first, step, n, size; /* placements first, first+step, ... */
} BuiltinProfile;

static const BuiltinProfile builtin_profiles[] = {
    { 19, 1, 7, "", 0, 0, 1, 7, 1 },   /* 1g.S */
    { 20, 1, 1, "+me", 0, 0, 1, 7, 1 },/* 1g.S+me */
    { 15, 1, 4, "", 1, 0, 2, 4, 2 },   /* 1g.2S */
    { 14, 2, 3, "", 1, 0, 2, 3, 2 },   /* 2g.2S */
    { 9, 3, 2, "", 2, 0, 4, 2, 4 },    /* 3g.4S */
    { 5, 4, 1, "", 2, 0, 4, 1, 4 },    /* 4g.4S */
    { 0, 7, 1, "", 3, 0, 8, 1, 8 },    /* 7g.all */
};

typedef struct {
    const char *model;
    const char *const *names; /* substrings that identify it, all must match */
    guint device_ids[4];
    guint gb[4];              /* 1-slice, 2-slice, 4-slice, whole GPU */
} BuiltinModel;

static const char *const h200_names[] = { "H200", NULL };
static const char *const h100_names[] = { "H100", "80GB", NULL };
static const char *const a100_names[] = { "A100", "40GB", NULL };

static const BuiltinModel builtin_models[] = {
    { "H200", h200_names, { 0x2335, 0 }, { 18, 35, 71, 141 } },
    { "H100-80GB", h100_names, { 0x2330, 0x2331, 0 }, { 10, 20, 40, 80 } },
    { "A100-40GB", a100_names, { 0x20b0, 0x20f1, 0 }, { 5, 10, 20, 40 } },
};

static VhMigTable *
builtin_table(const BuiltinModel *model)
{
    VhMigTable *table = vh_mig_table_new(model->model, 7, 8);

    for (guint i = 0; i < G_N_ELEMENTS(builtin_profiles); i++) {
        const BuiltinProfile *b = &builtin_profiles[i];
        guint gb = model->gb[b->gb_index];
        g_autofree char *name = g_strdup_printf("%ug.%ugb%s", b->slices, gb, b->suffix);
        VhMigPlacement placements[8];

        for (guint p = 0; p < b->n; p++)
            placements[p] = (VhMigPlacement){ b->first + p * b->step, b->size };
        vh_mig_table_add_profile(table, b->id, name, b->slices, b->count, (guint64)gb * 1024,
                                 placements, b->n);
    }
    return table;
}

static gboolean
name_matches(const char *gpu_name, const char *const *needles)
{
    g_autofree char *upper = g_ascii_strup(gpu_name, -1);

    for (guint i = 0; needles[i]; i++)
        if (strstr(upper, needles[i]) == NULL)
            return FALSE;
    return TRUE;
}

VhMigTable *
vh_mig_table_builtin_for_name(const char *gpu_name)
{
    for (guint i = 0; gpu_name && i < G_N_ELEMENTS(builtin_models); i++)
        if (name_matches(gpu_name, builtin_models[i].names))
            return builtin_table(&builtin_models[i]);
    return NULL;
}

VhMigTable *
vh_mig_table_builtin_for_device(guint device_id)
{
    for (guint i = 0; i < G_N_ELEMENTS(builtin_models); i++)
        for (guint j = 0; builtin_models[i].device_ids[j]; j++)
            if (builtin_models[i].device_ids[j] == device_id)
                return builtin_table(&builtin_models[i]);
    return NULL;
}

const char *
vh_mig_table_model(const VhMigTable *table)
{
    return table->model;
}

guint
vh_mig_table_n_profiles(const VhMigTable *table)
{
    return table->profiles->len;
}

const VhMigProfile *
vh_mig_table_profile(const VhMigTable *table, guint i)
{
    return i < table->profiles->len ? g_ptr_array_index(table->profiles, i) : NULL;
}

const VhMigProfile *
vh_mig_table_find(const VhMigTable *table, const char *name)
{
    for (guint i = 0; i < table->profiles->len; i++) {
        const VhMigProfile *profile = g_ptr_array_index(table->profiles, i);
        if (g_ascii_strcasecmp(profile->name, name) == 0)
            return profile;
    }
    return NULL;
}

const VhMigProfile *
vh_mig_table_find_id(const VhMigTable *table, guint id)
{
    for (guint i = 0; i < table->profiles->len; i++) {
        const VhMigProfile *profile = g_ptr_array_index(table->profiles, i);
        if (profile->id == id)
            return profile;
    }
    return NULL;
}

/* ---- occupancy ------------------------------------------------------------ */

/* What a set of instances takes: memory slices, compute slices, and the
 * number of instances per profile id. */
typedef struct {
    guint32 memory;
    guint compute;
    GHashTable *per_profile; /* id -> count */
} Occupancy;

static guint32
placement_mask(guint start, guint size)
{
    guint64 bits = ((G_GUINT64_CONSTANT(1) << size) - 1) << start;

    return (guint32)bits;
}

static void
occupancy_add(const VhMigTable *table, Occupancy *occ, guint profile_id, guint start, guint size)
{
    const VhMigProfile *profile = vh_mig_table_find_id(table, profile_id);
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(occ->per_profile, GUINT_TO_POINTER(profile_id)));

    occ->memory |= placement_mask(start, size);
    /* An instance of a profile the table lacks: count its memory slices. */
    occ->compute += profile ? profile->slices : MIN(size, table->compute_slices);
    g_hash_table_insert(occ->per_profile, GUINT_TO_POINTER(profile_id), GUINT_TO_POINTER(n + 1));
}

static void
occupancy_remove(const VhMigTable *table, Occupancy *occ, guint profile_id, guint start, guint size)
{
    const VhMigProfile *profile = vh_mig_table_find_id(table, profile_id);
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(occ->per_profile, GUINT_TO_POINTER(profile_id)));

    occ->memory &= ~placement_mask(start, size);
    occ->compute -= profile ? profile->slices : MIN(size, table->compute_slices);
    g_hash_table_insert(occ->per_profile, GUINT_TO_POINTER(profile_id), GUINT_TO_POINTER(n - 1));
}

static void
occupancy_init(const VhMigTable *table, Occupancy *occ, const VhMigInstance *existing, guint n)
{
    occ->memory = 0;
    occ->compute = 0;
    occ->per_profile = g_hash_table_new(NULL, NULL);
    for (guint i = 0; i < n; i++)
        occupancy_add(table, occ, existing[i].profile_id, existing[i].start, existing[i].size);
}

static void
occupancy_clear(Occupancy *occ)
{
    g_clear_pointer(&occ->per_profile, g_hash_table_unref);
}

static gboolean
occupancy_fits(const VhMigTable *table, const Occupancy *occ, const VhMigProfile *profile,
               const VhMigPlacement *p)
{
    guint n = GPOINTER_TO_UINT(g_hash_table_lookup(occ->per_profile, GUINT_TO_POINTER(profile->id)));

    return p->start + p->size <= table->memory_slices &&
           (occ->memory & placement_mask(p->start, p->size)) == 0 &&
           occ->compute + profile->slices <= table->compute_slices && n < profile->instance_count;
}

/* A profile's placements are disjoint runs of one size, so taking every
 * free one in order is the most that fit. */
static guint
occupancy_free_count(const VhMigTable *table, Occupancy *occ, const VhMigProfile *profile)
{
    g_autoptr(GArray) taken = g_array_new(FALSE, FALSE, sizeof(VhMigPlacement));
    guint count = 0;

    for (guint i = 0; i < profile->placements->len; i++) {
        const VhMigPlacement *p = &g_array_index(profile->placements, VhMigPlacement, i);
        if (occupancy_fits(table, occ, profile, p)) {
            occupancy_add(table, occ, profile->id, p->start, p->size);
            g_array_append_val(taken, *p);
            count++;
        }
    }
    for (guint i = 0; i < taken->len; i++) {
        const VhMigPlacement *p = &g_array_index(taken, VhMigPlacement, i);
        occupancy_remove(table, occ, profile->id, p->start, p->size);
    }
    return count;
}

guint
vh_mig_free_count(const VhMigTable *table, const VhMigProfile *profile,
                  const VhMigInstance *existing, guint n_existing)
{
    Occupancy occ;
    guint count;

    occupancy_init(table, &occ, existing, n_existing);
    count = occupancy_free_count(table, &occ, profile);
    occupancy_clear(&occ);
    return count;
}

/* Larger profiles first: compute slices, then memory. */
static gint
profile_compare_larger(gconstpointer a, gconstpointer b)
{
    const VhMigProfile *x = *(VhMigProfile *const *)a, *y = *(VhMigProfile *const *)b;

    if (x->slices != y->slices)
        return x->slices > y->slices ? -1 : 1;
    if (x->memory_mb != y->memory_mb)
        return x->memory_mb > y->memory_mb ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* How much room is left, compared profile by profile from the largest:
 * positive when @a leaves more than @b. */
static gint
room_compare(const guint *a, const guint *b, guint n)
{
    for (guint i = 0; i < n; i++)
        if (a[i] != b[i])
            return a[i] > b[i] ? 1 : -1;
    return 0;
}

/* The best free placement of @profile for @occ; FALSE when none is free. */
static gboolean
occupancy_best(const VhMigTable *table, Occupancy *occ, const VhMigProfile *profile,
               VhMigPlacement *best)
{
    g_autoptr(GPtrArray) order = g_ptr_array_sized_new(table->profiles->len);
    g_autofree guint *room = g_new0(guint, table->profiles->len);
    g_autofree guint *best_room = g_new0(guint, table->profiles->len);
    gboolean found = FALSE;

    for (guint i = 0; i < table->profiles->len; i++)
        g_ptr_array_add(order, g_ptr_array_index(table->profiles, i));
    g_ptr_array_sort(order, profile_compare_larger);
    for (guint i = 0; i < profile->placements->len; i++) {
        const VhMigPlacement *p = &g_array_index(profile->placements, VhMigPlacement, i);

        if (!occupancy_fits(table, occ, profile, p))
            continue;
        occupancy_add(table, occ, profile->id, p->start, p->size);
        for (guint j = 0; j < order->len; j++)
            room[j] = occupancy_free_count(table, occ, g_ptr_array_index(order, j));
        occupancy_remove(table, occ, profile->id, p->start, p->size);
        /* Ties go to the higher start: small instances fill from the top,
         * keeping the low, aligned runs for large ones. */
        if (!found || room_compare(room, best_room, order->len) >= 0) {
            *best = *p;
            memcpy(best_room, room, sizeof(guint) * order->len);
            found = TRUE;
        }
    }
    return found;
}

static char *
instances_describe(const VhMigTable *table, const VhMigInstance *existing, guint n)
{
    GString *text = g_string_new(NULL);

    for (guint i = 0; i < n; i++) {
        const VhMigProfile *profile = vh_mig_table_find_id(table, existing[i].profile_id);
        g_autofree char *fallback = g_strdup_printf("profile %u", existing[i].profile_id);

        g_string_append_printf(text, "%s%s at %u:%u", i ? ", " : "",
                               profile ? profile->name : fallback, existing[i].start,
                               existing[i].size);
    }
    if (n == 0)
        g_string_append(text, "nothing");
    return g_string_free(text, FALSE);
}

gboolean
vh_mig_best_placement(const VhMigTable *table, const VhMigProfile *profile,
                      const VhMigInstance *existing, guint n_existing, VhMigPlacement *placement,
                      GError **error)
{
    Occupancy occ;
    gboolean found;

    occupancy_init(table, &occ, existing, n_existing);
    found = occupancy_best(table, &occ, profile, placement);
    occupancy_clear(&occ);
    if (!found) {
        g_autofree char *held = instances_describe(table, existing, n_existing);
        g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                    "no room for a %s GPU instance on this %s: it holds %s (%u compute, %u "
                    "memory slices in all); destroy an instance or use another GPU",
                    profile->name, table->model, held, table->compute_slices,
                    table->memory_slices);
    }
    return found;
}

/* ---- layouts ------------------------------------------------------------------ */

static gboolean
layout_item_parse(const VhMigTable *table, const char *layout, const char *item,
                  GPtrArray *wanted, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(item, "*", 2);
    const char *name = g_strstrip(parts[0]);
    const VhMigProfile *profile = vh_mig_table_find(table, name);
    guint64 count = 1;

    if (profile == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_CONFIG,
                    "MIG layout '%s': an %s has no GPU-instance profile '%s' (see vgpuctl nvml "
                    "for the profiles)", layout, table->model, name);
        return FALSE;
    }
    if (parts[1] && !g_ascii_string_to_unsigned(g_strstrip(parts[1]), 10, 1, 8, &count, NULL)) {
        g_set_error(error, VH_ERROR, VH_ERROR_CONFIG,
                    "MIG layout '%s': '%s' is not a count from 1 to 8", layout, parts[1]);
        return FALSE;
    }
    for (guint64 i = 0; i < count; i++)
        g_ptr_array_add(wanted, (gpointer)profile);
    return TRUE;
}

/* Place @wanted[from..] on @occ; backtracks over the candidates of each,
 * best fit first, so a layout that fits in any order is found. */
static gboolean
layout_place(const VhMigTable *table, Occupancy *occ, GPtrArray *wanted, guint from, GArray *plan)
{
    const VhMigProfile *profile;
    VhMigPlacement best = { G_MAXUINT, 0 };

    if (from == wanted->len)
        return TRUE;
    profile = g_ptr_array_index(wanted, from);
    if (occupancy_best(table, occ, profile, &best)) {
        VhMigInstance gi = { plan->len, profile->id, best.start, best.size };

        occupancy_add(table, occ, profile->id, best.start, best.size);
        g_array_append_val(plan, gi);
        if (layout_place(table, occ, wanted, from + 1, plan))
            return TRUE;
        g_array_set_size(plan, plan->len - 1);
        occupancy_remove(table, occ, profile->id, best.start, best.size);
    }
    for (guint i = 0; i < profile->placements->len; i++) {
        const VhMigPlacement *p = &g_array_index(profile->placements, VhMigPlacement, i);
        VhMigInstance gi = { plan->len, profile->id, p->start, p->size };

        if (!occupancy_fits(table, occ, profile, p) ||
            (p->start == best.start && p->size == best.size))
            continue;
        occupancy_add(table, occ, profile->id, p->start, p->size);
        g_array_append_val(plan, gi);
        if (layout_place(table, occ, wanted, from + 1, plan))
            return TRUE;
        g_array_set_size(plan, plan->len - 1);
        occupancy_remove(table, occ, profile->id, p->start, p->size);
    }
    return FALSE;
}

GArray *
vh_mig_layout_plan(const VhMigTable *table, const char *layout, GError **error)
{
    g_auto(GStrv) items = g_strsplit(layout, ",", -1);
    g_autoptr(GPtrArray) wanted = g_ptr_array_new();
    g_autoptr(GArray) plan = g_array_new(FALSE, FALSE, sizeof(VhMigInstance));
    Occupancy occ;
    gboolean placed;

    for (guint i = 0; items[i]; i++)
        if (!layout_item_parse(table, layout, items[i], wanted, error))
            return NULL;
    if (wanted->len == 0 || wanted->len > table->memory_slices) {
        g_set_error(error, VH_ERROR, VH_ERROR_CONFIG,
                    "MIG layout '%s': name 1 to %u GPU instances, as PROFILE[*COUNT],...",
                    layout, table->memory_slices);
        return NULL;
    }
    g_ptr_array_sort(wanted, profile_compare_larger);
    occupancy_init(table, &occ, NULL, 0);
    placed = layout_place(table, &occ, wanted, 0, plan);
    occupancy_clear(&occ);
    if (!placed) {
        g_set_error(error, VH_ERROR, VH_ERROR_CONFIG,
                    "MIG layout '%s' does not fit an %s: its instances need more than %u "
                    "compute or %u memory slices, overlap in every placement, or exceed a "
                    "profile's instance count", layout, table->model, table->compute_slices,
                    table->memory_slices);
        return NULL;
    }
    return g_steal_pointer(&plan);
}

/* ---- MIG-backed vGPU types ------------------------------------------------------ */

/* The part of a type's suffix after its class letter (C, Q, A, B). */
static const char *
me_suffix(const char *tail)
{
    if (*tail == '\0')
        return "";
    if (strcmp(tail, "ME") == 0)
        return "+me";
    if (strcmp(tail, "NOME") == 0)
        return "-me";
    if (strcmp(tail, "MEALL") == 0)
        return "+me.all";
    if (strcmp(tail, "GFX") == 0)
        return "+gfx";
    return NULL;
}

char *
vh_mig_profile_for_vgpu_type(const char *vgpu_type)
{
    /* compiled once: this is asked for every VF and type when a catalogue is built */
    static GRegex *re;
    g_autoptr(GMatchInfo) match = NULL;
    g_autofree char *slices = NULL, *gb = NULL, *tail = NULL;
    const char *suffix;
    const char *dash = strchr(vgpu_type, '-');

    /* The pattern needs two dashes: most types ("L40S-24Q") have one, and
     * this is asked for each VF and type, where a match costs more. */
    if (dash == NULL || strchr(dash + 1, '-') == NULL)
        return NULL;
    if (g_once_init_enter(&re))
        g_once_init_leave(&re, g_regex_new("-([0-9]+)-([0-9]+)([A-Z])([A-Z]*)$", 0, 0, NULL));
    if (!g_regex_match(re, vgpu_type, 0, &match))
        return NULL;
    slices = g_match_info_fetch(match, 1);
    gb = g_match_info_fetch(match, 2);
    tail = g_match_info_fetch(match, 4);
    suffix = me_suffix(tail);
    if (suffix == NULL)
        return NULL;
    return g_strdup_printf("%sg.%sgb%s", slices, gb, suffix);
}

/* ---- time-slicing inside a GPU instance ---------------------------------------- */

/* Nominal GB of a profile name ("2g.35gb+me" -> 35), 0 when it has none. */
static guint
profile_name_gb(const char *name)
{
    const char *dot = strchr(name, '.');
    guint gb = 0;

    return dot && sscanf(dot + 1, "%ugb", &gb) == 1 ? gb : 0;
}

/* The tail of a profile name after "Ng.Mgb" ("+me", "" ...). */
static const char *
profile_name_suffix(const char *name)
{
    const char *gb = strstr(name, "gb");

    return gb ? gb + 2 : "";
}

/* Types whose count per GPU instance differs from the default rule
 * (instance GB / type GB). NVIDIA's documentation read so far lists none;
 * an entry is "type without NVIDIA, vGPUs per instance". */
static const struct {
    const char *type;
    guint slots;
} slot_overrides[] = {
    { NULL, 0 },
};

static guint
slot_override(const char *vgpu_type)
{
    const char *name = g_str_has_prefix(vgpu_type, "NVIDIA ") ? vgpu_type + 7 : vgpu_type;

    for (guint i = 0; slot_overrides[i].type; i++)
        if (strcmp(slot_overrides[i].type, name) == 0)
            return slot_overrides[i].slots;
    return 0;
}

const VhMigProfile *
vh_mig_profile_in_table(const VhMigTable *table, const char *vgpu_type, guint *slots)
{
    g_autofree char *name = vh_mig_profile_for_vgpu_type(vgpu_type);
    const VhMigProfile *exact = name ? vh_mig_table_find(table, name) : NULL;
    const VhMigProfile *best = NULL;
    guint slices, gb, want_gb;

    if (slots)
        *slots = 0;
    if (name == NULL || sscanf(name, "%ug.%ugb", &slices, &want_gb) != 2 || want_gb == 0)
        return NULL;
    if (exact) {
        if (slots)
            *slots = MAX(slot_override(vgpu_type), 1);
        return exact;
    }
    /* Time-sliced: the smallest instance of those slices that holds it. */
    for (guint i = 0; i < table->profiles->len; i++) {
        const VhMigProfile *p = g_ptr_array_index(table->profiles, i);
        gb = profile_name_gb(p->name);
        if (p->slices != slices || gb <= want_gb ||
            strcmp(profile_name_suffix(p->name), profile_name_suffix(name)) != 0)
            continue;
        if (best == NULL || gb < profile_name_gb(best->name))
            best = p;
    }
    if (best && slots)
        *slots = slot_override(vgpu_type) ? slot_override(vgpu_type)
                                           : profile_name_gb(best->name) / want_gb;
    return best;
}

gboolean
vh_mig_vgpu_type_capacity(const VhMigTable *table, const char *vgpu_type,
                          const VhMigInstance *existing, guint n_existing, const guint *held,
                          guint n_held, VhMigTypeCapacity *out, GError **error)
{
    g_autofree char *name = vh_mig_profile_for_vgpu_type(vgpu_type);
    guint slots = 0;
    const VhMigProfile *profile = name ? vh_mig_profile_in_table(table, vgpu_type, &slots) : NULL;

    if (name == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "vGPU type %s is not MIG-backed (no -SLICES-GB in its name)", vgpu_type);
        return FALSE;
    }
    if (profile == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "vGPU type %s needs GPU-instance profile %s, which an %s lacks", vgpu_type,
                    name, table->model);
        return FALSE;
    }
    out->slots = slots;
    out->capacity = vh_mig_free_count(table, profile, NULL, 0);
    out->placeable = vh_mig_free_count(table, profile, existing, n_existing);
    out->free_instances = 0;
    for (guint i = 0; i < n_existing; i++) {
        gboolean busy = FALSE;

        for (guint h = 0; h < n_held; h++)
            busy = busy || held[h] == existing[i].id;
        if (existing[i].profile_id == profile->id && !busy)
            out->free_instances++;
    }
    return TRUE;
}

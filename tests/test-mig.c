/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-mig: MIG arithmetic (plugin/vh-mig.c): the built-in tables, what
 * fits, best-fit placement, fragmentation, layouts, MIG-backed vGPU types. */
#include "test-common.h"
#include "vh-mig.h"

static VhMigTable *
h200(void)
{
    VhMigTable *table = vh_mig_table_builtin_for_name("NVIDIA H200");

    assert_non_null(table);
    return table;
}

static const VhMigProfile *
profile(const VhMigTable *table, const char *name)
{
    const VhMigProfile *p = vh_mig_table_find(table, name);

    if (p == NULL)
        fail_msg("no profile %s in %s", name, vh_mig_table_model(table));
    return p;
}

static guint
free_count(const VhMigTable *table, const char *name, const VhMigInstance *gi, guint n)
{
    return vh_mig_free_count(table, profile(table, name), gi, n);
}

/* The H200 table seen on real hardware (nvidia-smi mig -lgip / -lgipp). */
static void
test_h200_table(void **state)
{
    g_autoptr(VhMigTable) t = h200();
    static const struct {
        const char *name;
        guint id, slices, count, n_placements, first_size;
    } want[] = {
        { "1g.18gb", 19, 1, 7, 7, 1 },  { "1g.18gb+me", 20, 1, 1, 7, 1 },
        { "1g.35gb", 15, 1, 4, 4, 2 },  { "2g.35gb", 14, 2, 3, 3, 2 },
        { "3g.71gb", 9, 3, 2, 2, 4 },   { "4g.71gb", 5, 4, 1, 1, 4 },
        { "7g.141gb", 0, 7, 1, 1, 8 },
    };

    (void)state;
    assert_int_equal(vh_mig_table_n_profiles(t), G_N_ELEMENTS(want));
    for (guint i = 0; i < G_N_ELEMENTS(want); i++) {
        const VhMigProfile *p = profile(t, want[i].name);
        assert_int_equal(p->id, want[i].id);
        assert_int_equal(p->slices, want[i].slices);
        assert_int_equal(p->instance_count, want[i].count);
        assert_int_equal(p->placements->len, want[i].n_placements);
        assert_int_equal(g_array_index(p->placements, VhMigPlacement, 0).size, want[i].first_size);
    }
    /* 3g.71gb at 0:4 and 4:4; 1g.35gb at 0,2,4,6 */
    assert_int_equal(g_array_index(profile(t, "3g.71gb")->placements, VhMigPlacement, 1).start, 4);
    assert_int_equal(g_array_index(profile(t, "1g.35gb")->placements, VhMigPlacement, 3).start, 6);
    assert_ptr_equal(vh_mig_table_find_id(t, 14), profile(t, "2g.35gb"));
}

static void
test_builtin_lookup(void **state)
{
    g_autoptr(VhMigTable) by_pci = vh_mig_table_builtin_for_name("GH100 [H200 SXM 141GB]");
    g_autoptr(VhMigTable) by_id = vh_mig_table_builtin_for_device(0x2335);
    g_autoptr(VhMigTable) h100 = vh_mig_table_builtin_for_name("NVIDIA H100 80GB HBM3");
    g_autoptr(VhMigTable) a100 = vh_mig_table_builtin_for_name("NVIDIA A100-SXM4-40GB");
    g_autoptr(VhMigTable) l40s = vh_mig_table_builtin_for_name("NVIDIA L40S");
    g_autoptr(VhMigTable) h100nvl = vh_mig_table_builtin_for_name("NVIDIA H100 NVL");

    (void)state;
    assert_string_equal(vh_mig_table_model(by_pci), "H200");
    assert_string_equal(vh_mig_table_model(by_id), "H200");
    assert_non_null(vh_mig_table_find(h100, "3g.40gb"));
    assert_non_null(vh_mig_table_find(a100, "1g.5gb"));
    assert_null(l40s);
    assert_null(h100nvl); /* 94 GB: a table we do not have */
    assert_null(vh_mig_table_builtin_for_device(0x26b9));
}

/* Empty H200: MIG's real counts, not framebuffer division. */
static void
test_empty_counts(void **state)
{
    g_autoptr(VhMigTable) t = h200();

    (void)state;
    assert_int_equal(free_count(t, "1g.18gb", NULL, 0), 7);
    assert_int_equal(free_count(t, "1g.18gb+me", NULL, 0), 1);
    assert_int_equal(free_count(t, "1g.35gb", NULL, 0), 4);
    assert_int_equal(free_count(t, "2g.35gb", NULL, 0), 3);
    assert_int_equal(free_count(t, "3g.71gb", NULL, 0), 2);
    assert_int_equal(free_count(t, "4g.71gb", NULL, 0), 1);
    assert_int_equal(free_count(t, "7g.141gb", NULL, 0), 1);
}

static void
test_vgpu_type_profile(void **state)
{
    static const struct {
        const char *type, *profile;
    } cases[] = {
        { "H200X-1-18C", "1g.18gb" },       { "NVIDIA H200X-2-35C", "2g.35gb" },
        { "H200X-3-71C", "3g.71gb" },       { "H200X-7-141C", "7g.141gb" },
        { "H200X-1-18CME", "1g.18gb+me" },  { "H100-3-40C", "3g.40gb" },
        { "A100-1-5C", "1g.5gb" },          { "RTX Pro 6000 Blackwell DC-1-24Q", "1g.24gb" },
        { "H200X-141C", NULL },             { "L40S-24Q", NULL },
        { "GRID T4-1Q", NULL },             { "H200X-1-18CXYZ", NULL },
    };

    (void)state;
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *got = vh_mig_profile_for_vgpu_type(cases[i].type);
        if (g_strcmp0(got, cases[i].profile) != 0)
            fail_msg("%s: expected %s, got %s", cases[i].type, cases[i].profile ? cases[i].profile : "NULL",
                     got ? got : "NULL");
    }
}

/* A type names its instance profile, or time-slices inside the smallest
 * instance of its slice count that holds it (same +me/-me tail). */
static void
test_profile_in_table(void **state)
{
    static const struct {
        const char *type, *profile;
        guint slots;
    } cases[] = {
        { "H200X-1-18C", "1g.18gb", 1 },    { "NVIDIA H200X-2-35C", "2g.35gb", 1 },
        { "H200X-1-9C", "1g.18gb", 2 },     { "H200X-1-6C", "1g.18gb", 3 },
        { "H200X-1-20C", "1g.35gb", 1 },    { "H200X-2-17C", "2g.35gb", 2 },
        { "H200X-1-9CME", "1g.18gb+me", 2 }, { "H200X-1-200C", NULL, 0 },
        { "H200X-5-20C", NULL, 0 },         { "H200X-141C", NULL, 0 },
    };
    g_autoptr(VhMigTable) t = vh_mig_table_builtin_for_device(0x2335);

    (void)state;
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        guint slots = 99;
        const VhMigProfile *p = vh_mig_profile_in_table(t, cases[i].type, &slots);
        if (g_strcmp0(p ? p->name : NULL, cases[i].profile) != 0 || slots != cases[i].slots)
            fail_msg("%s: expected %s x%u, got %s x%u", cases[i].type,
                     cases[i].profile ? cases[i].profile : "NULL", cases[i].slots,
                     p ? p->name : "NULL", slots);
    }
}

static VhMigTypeCapacity
type_capacity(const VhMigTable *t, const char *type, const VhMigInstance *gi, guint n,
              const guint *held, guint n_held)
{
    VhMigTypeCapacity cap = { 0 };
    g_autoptr(GError) error = NULL;

    assert_true(vh_mig_vgpu_type_capacity(t, type, gi, n, held, n_held, &cap, &error));
    assert_no_error(error);
    return cap;
}

/* The numbers: 2-35C x3 (not 4), 3-71C x2 (not 1), 1-18C x7. */
static void
test_type_capacity(void **state)
{
    g_autoptr(VhMigTable) t = h200();
    g_autoptr(GError) error = NULL;
    VhMigTypeCapacity cap;
    /* a 2g.35gb at 0:2 holding a vGPU, a free 1g.18gb at 6:1 */
    const VhMigInstance gi[] = { { 3, 14, 0, 2 }, { 9, 19, 6, 1 } };
    const guint held[] = { 3 };

    (void)state;
    assert_int_equal(type_capacity(t, "H200X-2-35C", NULL, 0, NULL, 0).capacity, 3);
    assert_int_equal(type_capacity(t, "H200X-3-71C", NULL, 0, NULL, 0).capacity, 2);
    assert_int_equal(type_capacity(t, "H200X-1-18C", NULL, 0, NULL, 0).capacity, 7);
    assert_int_equal(type_capacity(t, "H200X-7-141C", NULL, 0, NULL, 0).capacity, 1);
    /* A time-sliced type: 7 instances of 1g.18gb, 2 of it in each. */
    assert_int_equal(type_capacity(t, "H200X-1-9C", NULL, 0, NULL, 0).capacity, 7);
    assert_int_equal(type_capacity(t, "H200X-1-9C", NULL, 0, NULL, 0).slots, 2);
    assert_int_equal(type_capacity(t, "H200X-1-18C", NULL, 0, NULL, 0).slots, 1);

    /* mixes: a 2-35C next to a 1-18C */
    cap = type_capacity(t, "H200X-1-18C", gi, 2, held, 1);
    assert_int_equal(cap.free_instances, 1);
    assert_int_equal(cap.placeable, 4); /* slices 2..5 (compute 2+1+4 = 7) */
    cap = type_capacity(t, "H200X-2-35C", gi, 2, held, 1);
    assert_int_equal(cap.free_instances, 0);
    assert_int_equal(cap.placeable, 2); /* 2:2 and 4:2 */
    cap = type_capacity(t, "H200X-3-71C", gi, 2, held, 1);
    assert_int_equal(cap.placeable, 0); /* 0:4 overlaps the 2g, 4:4 the 1g */

    assert_false(vh_mig_vgpu_type_capacity(t, "H200X-141C", NULL, 0, NULL, 0, &cap, &error));
    assert_vh_error(error, VH_ERROR_UNSUPPORTED, "not MIG-backed");
    g_clear_error(&error);
    assert_false(vh_mig_vgpu_type_capacity(t, "H200X-2-40C", NULL, 0, NULL, 0, &cap, &error));
    assert_vh_error(error, VH_ERROR_UNSUPPORTED, "needs GPU-instance profile 2g.40gb");
}

/* Best fit keeps larger profiles possible. */
static void
test_best_fit(void **state)
{
    g_autoptr(VhMigTable) t = h200();
    g_autoptr(GArray) gi = g_array_new(FALSE, FALSE, sizeof(VhMigInstance));
    g_autoptr(GError) error = NULL;
    VhMigPlacement p;

    (void)state;
    /* First 1g on an empty GPU goes to the top: a 4g, a 3g and 3 2g stay possible. */
    assert_true(vh_mig_best_placement(t, profile(t, "1g.18gb"), NULL, 0, &p, &error));
    assert_int_equal(p.start, 6);
    assert_int_equal(p.size, 1);
    /* Seven of them in a row: all placed, then none. */
    for (guint i = 0; i < 7; i++) {
        VhMigInstance next;
        assert_true(vh_mig_best_placement(t, profile(t, "1g.18gb"), (VhMigInstance *)gi->data,
                                          gi->len, &p, &error));
        next = (VhMigInstance){ i + 1, 19, p.start, p.size };
        g_array_append_val(gi, next);
        if (i == 1)
            assert_int_equal(free_count(t, "4g.71gb", (VhMigInstance *)gi->data, gi->len), 1);
        if (i == 2) /* three 1g at 4..6: the 4g at 0:4 still fits */
            assert_int_equal(free_count(t, "4g.71gb", (VhMigInstance *)gi->data, gi->len), 1);
    }
    assert_false(vh_mig_best_placement(t, profile(t, "1g.18gb"), (VhMigInstance *)gi->data,
                                       gi->len, &p, &error));
    assert_vh_error(error, VH_ERROR_NO_CAPACITY, "no room for a 1g.18gb GPU instance on this H200");
    assert_contains(error->message, "1g.18gb at 6:1");
}

/* Fragmentation: naive placement blocks what best fit keeps. */
static void
test_fragmentation(void **state)
{
    g_autoptr(VhMigTable) t = h200();
    g_autoptr(GError) error = NULL;
    /* 1g at 0 and at 4: no 3g and no 4g any more, though 5 slices are free */
    const VhMigInstance naive[] = { { 1, 19, 0, 1 }, { 2, 19, 4, 1 } };
    /* 2g at 2:2 (not 0 or 4): a 3g fits at 4 but the 4g does not */
    const VhMigInstance mid[] = { { 1, 14, 2, 2 } };
    VhMigPlacement p;

    (void)state;
    assert_int_equal(free_count(t, "3g.71gb", naive, 2), 0);
    assert_int_equal(free_count(t, "4g.71gb", naive, 2), 0);
    assert_int_equal(free_count(t, "2g.35gb", naive, 2), 1); /* only 2:2 */
    assert_int_equal(free_count(t, "1g.18gb", naive, 2), 5);
    assert_int_equal(free_count(t, "3g.71gb", mid, 1), 1);
    assert_int_equal(free_count(t, "4g.71gb", mid, 1), 0);
    /* A 2g next to a 3g at 0:4 goes to 4:2, leaving 6:2 for a 1g.35gb... */
    {
        const VhMigInstance three[] = { { 1, 9, 0, 4 } };
        assert_true(vh_mig_best_placement(t, profile(t, "2g.35gb"), three, 1, &p, &error));
        assert_int_equal(p.start, 4);
        /* ...and then compute (3+2 of 7) still allows two 1g but not a second 2g at 6. */
        const VhMigInstance both[] = { { 1, 9, 0, 4 }, { 2, 14, 4, 2 } };
        assert_int_equal(free_count(t, "2g.35gb", both, 2), 0);
        assert_int_equal(free_count(t, "1g.18gb", both, 2), 1); /* only slice 6 */
    }
    /* the +me profile: one per GPU */
    {
        const VhMigInstance me[] = { { 1, 20, 6, 1 } };
        assert_int_equal(free_count(t, "1g.18gb+me", me, 1), 0);
        assert_int_equal(free_count(t, "1g.18gb", me, 1), 6);
    }
    /* the whole GPU */
    {
        const VhMigInstance whole[] = { { 1, 0, 0, 8 } };
        assert_int_equal(free_count(t, "1g.18gb", whole, 1), 0);
    }
}

static void
assert_plan(const VhMigTable *t, const char *layout, const char *want)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) plan = vh_mig_layout_plan(t, layout, &error);
    g_autoptr(GString) got = g_string_new(NULL);

    assert_no_error(error);
    assert_non_null(plan);
    for (guint i = 0; i < plan->len; i++) {
        const VhMigInstance *gi = &g_array_index(plan, VhMigInstance, i);
        g_string_append_printf(got, "%s%s@%u:%u", i ? "," : "",
                               vh_mig_table_find_id(t, gi->profile_id)->name, gi->start, gi->size);
    }
    assert_string_equal(got->str, want);
}

static void
assert_plan_fails(const VhMigTable *t, const char *layout, const char *needle)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) plan = vh_mig_layout_plan(t, layout, &error);

    assert_null(plan);
    assert_vh_error(error, VH_ERROR_CONFIG, needle);
}

static void
test_layouts(void **state)
{
    g_autoptr(VhMigTable) t = h200();

    (void)state;
    /* the 3g goes to 4:4: a 4g could still join it at 0:4 */
    assert_plan(t, "1g.18gb*4,3g.71gb", "3g.71gb@4:4,1g.18gb@3:1,1g.18gb@2:1,1g.18gb@1:1,1g.18gb@0:1");
    assert_plan(t, "3g.71gb*2", "3g.71gb@4:4,3g.71gb@0:4");
    assert_plan(t, "2g.35gb*3,1g.18gb", "2g.35gb@4:2,2g.35gb@2:2,2g.35gb@0:2,1g.18gb@6:1");
    assert_plan(t, " 4g.71gb , 3g.71gb ", "4g.71gb@0:4,3g.71gb@4:4");
    assert_plan(t, "1g.18gb*7", "1g.18gb@6:1,1g.18gb@5:1,1g.18gb@4:1,1g.18gb@3:1,1g.18gb@2:1,"
                                "1g.18gb@1:1,1g.18gb@0:1");
    assert_plan(t, "7g.141gb", "7g.141gb@0:8");
    assert_plan(t, "1g.35gb*4", "1g.35gb@6:2,1g.35gb@4:2,1g.35gb@2:2,1g.35gb@0:2");

    assert_plan_fails(t, "2g.35gb*4", "does not fit an H200");
    assert_plan_fails(t, "4g.71gb*2", "does not fit");
    assert_plan_fails(t, "3g.71gb*2,1g.18gb*2", "does not fit"); /* compute 6+2 > 7 */
    assert_plan_fails(t, "7g.141gb,1g.18gb", "does not fit");
    assert_plan_fails(t, "1g.18gb+me*2", "does not fit");
    assert_plan_fails(t, "1g.20gb", "an H200 has no GPU-instance profile '1g.20gb'");
    assert_plan_fails(t, "1g.18gb*0", "'0' is not a count from 1 to 8");
    assert_plan_fails(t, "1g.18gb*x", "is not a count");
    assert_plan_fails(t, "", "name 1 to 8 GPU instances");
    assert_plan_fails(t, "1g.18gb*8,1g.18gb", "name 1 to 8 GPU instances");
    assert_plan_fails(t, "1g.18gb*8", "does not fit");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_h200_table),
        cmocka_unit_test(test_builtin_lookup),
        cmocka_unit_test(test_empty_counts),
        cmocka_unit_test(test_vgpu_type_profile),
        cmocka_unit_test(test_type_capacity),
        cmocka_unit_test(test_best_fit),
        cmocka_unit_test(test_fragmentation),
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_profile_in_table),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-mig-instance: GPU instances made and unmade (plugin/vh-mig-instance.c)
 * on a fake H200 and the test NVML: a free instance is used, not created;
 * instances VFs hold (by gpu_instance_id, or of their type's profile when
 * the id is unknown) and placements other leases recorded are never
 * planned over; MIG off says what to run; destroy by id or placement,
 * gone is success; layouts apply, are idempotent, drop free extras and
 * refuse to drop held ones. */
#include "test-common.h"
#include "sim-nvml-state.h"
#include "vh-mig-instance.h"
#include "vh-nvml.h"

#define H200 "0000:41:00.0"
#define VF0 "0000:41:00.4"
#define VF1 "0000:41:00.5"

#define HOST_INI                                                                       \
    "[vgpu-family H200X]\n"                                                            \
    "framebuffer_gb=141\n"                                                             \
    "types=1072:NVIDIA H200X-1-18C;1073:NVIDIA H200X-2-35C;1074:NVIDIA H200X-3-71C\n"  \
    "[device " H200 "]\n"                                                              \
    "ids=10de:2335\n"                                                                  \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=30\n"                                                                 \
    "sriov_totalvfs=4\n"                                                               \
    "sriov_numvfs=4\n"                                                                 \
    "vgpu_family=H200X\n"

#define NVML_GPU "[nvml]\n[gpu " H200 "]\nmodel=H200\n"

static TestEnv *
mig_env(const char *nvml_ini)
{
    TestEnv *env = test_env_new(HOST_INI, NULL);
    g_autofree char *path = sim_nvml_state_path(env->sysfs);

    test_write_file(path, nvml_ini);
    g_setenv("VH_SIM_SYSFS_ROOT", env->sysfs, TRUE);
    return env;
}

static char *
instances_of(TestEnv *env)
{
    g_autoptr(GKeyFile) state = sim_nvml_state_load(env->sysfs, NULL);

    return g_key_file_get_string(state, "gpu " H200, "instances", NULL);
}

/* VF @vf holds type @type (and runs on instance @gi when not negative). */
static void
vf_holds(TestEnv *env, const char *vf, guint type, gint gi)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
    g_autofree char *value = g_strdup_printf("%u\n", type);

    test_env_write_sysfs(env, rel, value);
    if (gi >= 0) {
        g_autofree char *gi_rel = g_strdup_printf("bus/pci/devices/%s/nvidia/gpu_instance_id", vf);
        g_autofree char *gi_value = g_strdup_printf("%d\n", gi);
        test_env_write_sysfs(env, gi_rel, gi_value);
    }
    vh_host_invalidate(env->host, vf);
}

static gboolean
plan(TestEnv *env, const char *profile, VhMigDemand *demand, GError **error)
{
    g_autoptr(VhLeaseStore) store = vh_lease_store_open(env->config, NULL);

    return vh_mig_instance_plan(env->host, store, VF0, profile, demand, error);
}

static void
test_free_instance_is_used(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NVML_GPU "mig=1\ninstances=1:14:0:2\n");
    VhMigDemand demand = { 0 };
    g_autoptr(GError) error = NULL;

    (void)state;
    assert_true(plan(env, "H200X-2-35C", &demand, &error));
    assert_no_error(error);
    assert_false(demand.create);
    assert_string_equal(demand.profile, "2g.35gb");
    assert_string_equal(demand.gpu, H200);
    vh_mig_demand_clear(&demand);
}

/* Held by id: the next one goes where a 3g.71gb still fits (2:2). */
static void
test_held_by_id(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NVML_GPU "mig=1\ninstances=1:14:0:2\n");
    VhMigDemand demand = { 0 };
    g_autoptr(GError) error = NULL;

    (void)state;
    vf_holds(env, VF1, 1073, 1);
    assert_true(plan(env, "H200X-2-35C", &demand, &error));
    assert_no_error(error);
    assert_true(demand.create);
    assert_int_equal(demand.profile_id, 14);
    assert_int_equal(demand.placement.start, 2);
    assert_int_equal(demand.placement.size, 2);
    vh_mig_demand_clear(&demand);
}

/* A VF holding a 2-35C without gpu_instance_id and without a lease: one
 * 2g.35gb instance counts as held. */
static void
test_held_unknown(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NVML_GPU "mig=1\ninstances=1:14:0:2\n");
    VhMigDemand demand = { 0 };
    g_autoptr(GError) error = NULL;

    (void)state;
    vf_holds(env, VF1, 1073, -1);
    assert_true(plan(env, "H200X-2-35C", &demand, &error));
    assert_true(demand.create);
    vh_mig_demand_clear(&demand);
}

/* Another live lease recorded a 3g.71gb at 4:4 before its create: the next
 * 3g.71gb goes to 0:4, and a third is refused naming the record. */
static void
test_recorded_placement(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NVML_GPU "mig=1\ninstances=\n");
    g_autoptr(VhLeaseStore) store = vh_lease_store_open(env->config, NULL);
    g_autoptr(VhLease) other = vh_lease_new(VF1, VF1, "nvidia.com/H200X-3-71C", "other",
                                            "00000000-0000-4000-8000-000000000002",
                                            VH_LEASE_ACTIVE);
    VhMigDemand demand = { 0 };
    g_autoptr(GError) error = NULL;

    (void)state;
    other->gpu_instance_created = TRUE;
    other->gpu_instance_profile = g_strdup("3g.71gb");
    other->gpu_instance_placement = g_strdup("4:4");
    assert_true(vh_lease_store_put(store, other, NULL));
    assert_true(plan(env, "H200X-3-71C", &demand, &error));
    assert_true(demand.create);
    assert_int_equal(demand.placement.start, 0);
    vh_mig_demand_clear(&demand);
    /* the other's 3g.71gb exists now (its lease has the id); a third
     * domain recorded 0:4 before its create: nothing is left */
    {
        g_autoptr(GKeyFile) st = sim_nvml_state_load(env->sysfs, NULL);
        g_autoptr(VhLease) third = vh_lease_new("0000:41:00.6", "0000:41:00.6",
                                                "nvidia.com/H200X-3-71C", "third",
                                                "00000000-0000-4000-8000-000000000003",
                                                VH_LEASE_ACTIVE);
        g_key_file_set_string(st, "gpu " H200, "instances", "1:9:4:4");
        assert_true(sim_nvml_state_save(st, env->sysfs, NULL));
        other->has_gpu_instance = TRUE;
        other->gpu_instance = 1;
        assert_true(vh_lease_store_put(store, other, NULL));
        third->gpu_instance_created = TRUE;
        third->gpu_instance_profile = g_strdup("3g.71gb");
        third->gpu_instance_placement = g_strdup("0:4");
        assert_true(vh_lease_store_put(store, third, NULL));
    }
    assert_false(plan(env, "H200X-3-71C", &demand, &error));
    assert_vh_error(error, VH_ERROR_NO_CAPACITY, "no room to create one");
    assert_contains(error->message, "instance 1 (3g.71gb at 4:4) held by VF " VF1
                                    " (domain 'other')");
    assert_contains(error->message, "3g.71gb at 0:4 recorded by domain 'third'");
    assert_null(strchr(error->message, '\n'));
}

static void
test_mig_off(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NVML_GPU "mig=0\n");
    VhMigDemand demand = { 0 };
    g_autoptr(GError) error = NULL;

    (void)state;
    assert_false(plan(env, "H200X-2-35C", &demand, &error));
    assert_vh_error(error, VH_ERROR_BUSY, "nvidia-smi -i " H200 " -mig 1");
    g_clear_error(&error);
    assert_false(vh_mig_instance_check_mode(H200, &error));
    assert_vh_error(error, VH_ERROR_BUSY, "MIG off");
}

static void
test_destroy(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NVML_GPU "mig=1\ninstances=1:14:0:2;2:14:2:2;3:19:6:1\n"
                                              "in_use=3\n");
    g_autoptr(GError) error = NULL;
    g_autofree char *left = NULL;
    gboolean destroyed = TRUE;

    (void)state;
    /* by placement (killed before the id was recorded) */
    assert_true(vh_mig_instance_destroy(H200, "2g.35gb", FALSE, 0, "2:2", &destroyed, &error));
    assert_no_error(error);
    assert_true(destroyed);
    /* gone already: success, nothing destroyed */
    assert_true(vh_mig_instance_destroy(H200, "2g.35gb", FALSE, 0, "2:2", &destroyed, &error));
    assert_false(destroyed);
    /* an id whose placement no longer matches is not ours */
    assert_true(vh_mig_instance_destroy(H200, "2g.35gb", TRUE, 1, "4:2", &destroyed, &error));
    assert_false(destroyed);
    /* a vGPU holds it: NVML refuses */
    assert_false(vh_mig_instance_destroy(H200, "1g.18gb", TRUE, 3, NULL, &destroyed, &error));
    assert_vh_error(error, VH_ERROR_BUSY, "NVML_ERROR_IN_USE");
    left = instances_of(env);
    assert_string_equal(left, "1:14:0:2;3:19:6:1");
}

static void
test_layout(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NVML_GPU "mig=1\ninstances=1:14:0:2\n");
    g_autoptr(VhLeaseStore) store = vh_lease_store_open(env->config, NULL);
    VhMigLayoutResult result = { 0 };
    g_autoptr(GError) error = NULL;
    g_autofree char *after = NULL;

    (void)state;
    /* dry run: the free 2g.35gb would go, three would be made */
    assert_true(vh_mig_instance_apply_layout(env->host, store, H200, "1g.18gb*2,3g.71gb", TRUE,
                                             &result, &error));
    assert_no_error(error);
    assert_false(result.already);
    assert_contains(result.detail, "would destroy instance 1 (2g.35gb at 0:2");
    assert_contains(result.detail, "would create 3g.71gb at");
    vh_mig_layout_result_clear(&result);
    after = instances_of(env);
    assert_string_equal(after, "1:14:0:2");
    g_clear_pointer(&after, g_free);
    assert_true(vh_mig_instance_apply_layout(env->host, store, H200, "1g.18gb*2,3g.71gb", FALSE,
                                             &result, &error));
    assert_int_equal(result.n_destroyed, 1);
    assert_int_equal(result.n_created, 3);
    vh_mig_layout_result_clear(&result);
    assert_true(vh_mig_instance_apply_layout(env->host, store, H200, "3g.71gb,1g.18gb*2", FALSE,
                                             &result, &error));
    assert_true(result.already);
    vh_mig_layout_result_clear(&result);
    /* a VF runs on one 1g.18gb: a layout without 1g.18gb is refused */
    after = instances_of(env);
    {
        g_autoptr(GArray) list = NULL;
        g_autoptr(GKeyFile) st = sim_nvml_state_load(env->sysfs, NULL);
        guint held = G_MAXUINT;
        list = sim_nvml_state_instances(st, H200);
        for (guint i = 0; i < list->len; i++)
            if (g_array_index(list, SimNvmlInstance, i).profile_id == 19)
                held = g_array_index(list, SimNvmlInstance, i).id;
        vf_holds(env, VF1, 1072, (gint)held);
    }
    assert_false(vh_mig_instance_apply_layout(env->host, store, H200, "3g.71gb*2", FALSE,
                                              &result, &error));
    assert_vh_error(error, VH_ERROR_BUSY, "held by VF " VF1);
    assert_contains(error->message, "changed nothing");
    {
        g_autofree char *now = instances_of(env);
        assert_string_equal(now, after);
    }
    g_clear_error(&error);
    assert_false(vh_mig_instance_apply_layout(env->host, store, H200, "1g.20gb", FALSE, &result,
                                              &error));
    assert_vh_error(error, VH_ERROR_CONFIG, "no GPU-instance profile '1g.20gb'");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_instance_is_used),
        cmocka_unit_test(test_held_by_id),
        cmocka_unit_test(test_held_unknown),
        cmocka_unit_test(test_recorded_placement),
        cmocka_unit_test(test_mig_off),
        cmocka_unit_test(test_destroy),
        cmocka_unit_test(test_layout),
    };

    vh_nvml_set_library(g_getenv("VH_TEST_NVML_SO") ? g_getenv("VH_TEST_NVML_SO") : SIM_NVML_SO);
    return cmocka_run_group_tests(tests, NULL, NULL);
}

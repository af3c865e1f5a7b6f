/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-vgpu-mig: MIG-backed vGPU types in the SR-IOV GPU model
 * (plugin/vh-vgpu-gpu.c) and the catalog's counts, on a fake H200 and the
 * test NVML: MIG's real counts from the built-in table without NVML,
 * instances from NVML with MIG on, no one-size rule between instance
 * profiles, fragmentation, refusals naming instances and holders,
 * time-slicing inside an instance and the VFs' nvidia/gpu_instance_id. */
#include "test-common.h"
#include "sim-nvml-state.h"
#include "vh-nvml.h"

#define H200 "0000:41:00.0"
#define VF0 "0000:41:00.4"
#define VF1 "0000:41:00.5"
#define VF2 "0000:41:00.6"
#define VF3 "0000:41:00.7"

#define HOST_INI                                                                       \
    "[vgpu-family H200X]\n"                                                            \
    "framebuffer_gb=141\n"                                                             \
    "types=1071:NVIDIA H200X-1-9C;1072:NVIDIA H200X-1-18C;1073:NVIDIA H200X-2-35C;1074:NVIDIA H200X-3-71C;"   \
    "1076:NVIDIA H200X-7-141C;1077:NVIDIA H200X-141C\n"                                \
    "[device " H200 "]\n"                                                              \
    "ids=10de:2335\n"                                                                  \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=30\n"                                                                 \
    "sriov_totalvfs=16\n"                                                              \
    "sriov_numvfs=16\n"                                                                \
    "vgpu_family=H200X\n"

/* H200X-1-9C is not one of NVIDIA's H200 types: it stands for a type that
 * time-slices inside a GPU instance (its 9 GB is below every 1-slice
 * profile; two share a 1g.18gb). */

#define NVML_GPU "[nvml]\n[gpu " H200 "]\nmodel=H200\n"

/* The fake H200; @nvml_ini: the test NVML's state (NULL: no NVIDIA driver
 * as NVML sees it, NVML_ERROR_DRIVER_NOT_LOADED). */
static TestEnv *
mig_env(const char *nvml_ini)
{
    TestEnv *env = test_env_new(HOST_INI, NULL);

    if (nvml_ini) {
        g_autofree char *path = sim_nvml_state_path(env->sysfs);
        test_write_file(path, nvml_ini);
    }
    g_setenv("VH_SIM_SYSFS_ROOT", env->sysfs, TRUE);
    return env;
}

/* A VF holds a type as the driver left it (creatable lists untouched: the
 * model, not the fake driver, is under test), leased to a domain in
 * env_holders (an unleased holder would count as allocatable). */
static VhHolders *env_holders;

static void
set_vf_type(TestEnv *env, const char *vf, guint type, const char *profile)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
    g_autofree char *value = g_strdup_printf("%u\n", type);

    test_env_write_sysfs(env, rel, value);
    g_hash_table_insert(env_holders, g_strdup(vf), g_strdup_printf("nvidia.com/%s", profile));
}

static int
holders_reset(void **state)
{
    (void)state;
    g_clear_pointer(&env_holders, g_hash_table_unref);
    env_holders = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    return 0;
}

static void
assert_counts(VhCatalog *catalog, const char *profile, guint capacity, guint allocatable)
{
    g_autofree char *name = g_strdup_printf("nvidia.com/%s", profile);
    const VhResource *res = vh_catalog_lookup(catalog, name);

    if (res == NULL)
        fail_msg("no resource %s", name);
    if (res->capacity != capacity || res->allocatable != allocatable)
        fail_msg("%s: capacity %u allocatable %u, expected %u %u", name, res->capacity,
                 res->allocatable, capacity, allocatable);
}

static gboolean
can_take(VhCatalog *catalog, const char *vf_addr, const char *profile, GError **error)
{
    VhPciDevice *vf = g_hash_table_lookup(catalog->host->by_address, vf_addr);

    return vh_vgpu_gpu_can_take(vh_catalog_gpu_of_vf(catalog, vf_addr), vf, profile,
                                env_holders, catalog, error);
}

static void
refused(VhCatalog *catalog, const char *vf_addr, const char *profile, const char *const *parts)
{
    g_autoptr(GError) error = NULL;

    if (can_take(catalog, vf_addr, profile, &error))
        fail_msg("%s took %s", vf_addr, profile);
    assert_null(strchr(error->message, '\n'));
    for (guint i = 0; parts[i]; i++)
        if (strstr(error->message, parts[i]) == NULL)
            fail_msg("'%s' not in: %s", parts[i], error->message);
}

/* No NVML: the built-in H200 table gives MIG's counts, not 141 GB / size. */
static void
test_builtin_counts(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NULL);
    VhCatalog *catalog = test_env_catalog(env, NULL);

    (void)state;
    assert_counts(catalog, "H200X-2-35C", 3, 3);
    assert_counts(catalog, "H200X-3-71C", 2, 2);
    assert_counts(catalog, "H200X-1-18C", 7, 7);
    assert_counts(catalog, "H200X-7-141C", 1, 1);
    /* A time-sliced type keeps the framebuffer rule. */
    assert_counts(catalog, "H200X-141C", 1, 1);
}

/* Different instance profiles run side by side: no equal-size refusal. */
static void
test_builtin_side_by_side(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NULL);
    VhCatalog *catalog;
    g_autoptr(GError) error = NULL;

    (void)state;
    set_vf_type(env, VF0, 1073, "H200X-2-35C"); /* H200X-2-35C */
    catalog = test_env_catalog(env, env_holders);
    assert_true(can_take(catalog, VF1, "H200X-1-18C", &error));
    assert_no_error(error);
    assert_counts(catalog, "H200X-2-35C", 3, 2);
    /* 2 compute slices held: five 1g.18gb instances still fit. */
    assert_counts(catalog, "H200X-1-18C", 7, 5);
    /* A time-sliced type next to a MIG-backed one: still one size. */
    refused(catalog, VF1, "H200X-141C", (const char *const[]){ "one profile size", NULL });
}

/* Fragmentation: three 2g.35gb leave one compute slice, so one 1-18C and
 * no 3-71C; a single 1g.18gb leaves room for one 3g.71gb only. */
static void
test_builtin_fragmentation(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NULL);
    VhCatalog *catalog;

    (void)state;
    set_vf_type(env, VF0, 1072, "H200X-1-18C");
    catalog = test_env_catalog(env, env_holders);
    assert_counts(catalog, "H200X-3-71C", 2, 1);
    assert_counts(catalog, "H200X-7-141C", 1, 0);
    holders_reset(NULL);
    set_vf_type(env, VF0, 1073, "H200X-2-35C");
    set_vf_type(env, VF1, 1073, "H200X-2-35C");
    set_vf_type(env, VF2, 1073, "H200X-2-35C");
    catalog = test_env_catalog(env, env_holders);
    assert_counts(catalog, "H200X-2-35C", 3, 0);
    assert_counts(catalog, "H200X-1-18C", 7, 1);
    assert_counts(catalog, "H200X-3-71C", 2, 0);
    refused(catalog, VF3, "H200X-3-71C",
            (const char *const[]){ "GPU " H200 " has no room for another 3g.71gb GPU instance",
                                   "VF " VF0 " holds H200X-2-35C", "built-in H200 MIG table",
                                   NULL });
}

/* NVML, MIG on, no GPU instance: nothing MIG-backed is creatable. */
static void
test_nvml_no_instances(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NVML_GPU "mig=1\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    (void)state;
    assert_counts(catalog, "H200X-2-35C", 0, 0);
    assert_counts(catalog, "H200X-1-18C", 0, 0);
    refused(catalog, VF0, "H200X-2-35C",
            (const char *const[]){ "runs MIG with no 2g.35gb GPU instance", "instances: none",
                                   "-cgi 2g.35gb", NULL });
}

/* NVML, MIG off: MIG-backed types need it on. */
static void
test_nvml_mig_off(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NVML_GPU "mig=0\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    (void)state;
    assert_counts(catalog, "H200X-1-18C", 0, 0);
    refused(catalog, VF0, "H200X-1-18C",
            (const char *const[]){ "runs with MIG off", "-mig 1", NULL });
}

/* NVML, MIG on: the instances decide; held ones are named in refusals. */
static void
test_nvml_instances(void **state)
{
    g_autoptr(TestEnv) env =
        mig_env(NVML_GPU "mig=1\ninstances=1:14:0:2;2:14:4:2;3:19:6:1\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);
    g_autoptr(GError) error = NULL;

    (void)state;
    assert_counts(catalog, "H200X-2-35C", 2, 2);
    assert_counts(catalog, "H200X-1-18C", 1, 1);
    /* 2:2 is free memory, but no 3g.71gb instance exists. */
    assert_counts(catalog, "H200X-3-71C", 0, 0);
    set_vf_type(env, VF0, 1073, "H200X-2-35C");
    catalog = test_env_catalog(env, env_holders);
    assert_counts(catalog, "H200X-2-35C", 2, 1);
    assert_true(can_take(catalog, VF1, "H200X-1-18C", &error));
    assert_no_error(error);
    set_vf_type(env, VF1, 1073, "H200X-2-35C");
    catalog = test_env_catalog(env, env_holders);
    assert_counts(catalog, "H200X-2-35C", 2, 0);
    assert_counts(catalog, "H200X-1-18C", 1, 1);
    refused(catalog, VF2, "H200X-2-35C",
            (const char *const[]){ "no free 2g.35gb GPU instance for H200X-2-35C",
                                   "instance 1 (2g.35gb at 0:2)", "instance 2 (2g.35gb at 4:2)",
                                   "VF " VF0 " holds H200X-2-35C", "VF " VF1 " holds H200X-2-35C",
                                   NULL });
}

/* NVML present but not for this GPU (nvmlDeviceGetHandleByPciBusId
 * fails): the built-in table, as without NVML. */
static void
test_nvml_unknown_gpu(void **state)
{
    g_autoptr(TestEnv) env = mig_env("[nvml]\n[gpu 0000:c1:00.0]\nmodel=A100-40GB\nmig=1\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    (void)state;
    assert_counts(catalog, "H200X-2-35C", 3, 3);
    assert_counts(catalog, "H200X-3-71C", 2, 2);
}

/* A type smaller than its instance shares one: without NVML, 7 instances
 * of 1g.18gb hold 2 each; a held one leaves its instance half free. */
static void
test_timesliced_builtin(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NULL);
    VhCatalog *catalog = test_env_catalog(env, NULL);

    (void)state;
    assert_counts(catalog, "H200X-1-9C", 14, 14);
    assert_int_equal(vh_vgpu_gpu_mig_slots(vh_catalog_gpu_of_vf(catalog, VF0), "H200X-1-9C"), 2);
    assert_int_equal(vh_vgpu_gpu_mig_slots(vh_catalog_gpu_of_vf(catalog, VF0), "H200X-1-18C"), 1);
    set_vf_type(env, VF0, 1071, "H200X-1-9C");
    catalog = test_env_catalog(env, env_holders);
    assert_counts(catalog, "H200X-1-9C", 14, 13);
    /* One 1g.18gb is taken by the 1-9C: six whole ones left. */
    assert_counts(catalog, "H200X-1-18C", 7, 6);
    set_vf_type(env, VF1, 1071, "H200X-1-9C");
    catalog = test_env_catalog(env, env_holders);
    assert_counts(catalog, "H200X-1-9C", 14, 12);
    assert_counts(catalog, "H200X-1-18C", 7, 6);
}

/* NVML: capacity = instances x slots; an instance runs one type, so a
 * 1-18C does not go where a 1-9C time-slices. */
static void
test_timesliced_nvml(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NVML_GPU "mig=1\ninstances=1:19:0:1;2:19:1:1\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    (void)state;
    assert_counts(catalog, "H200X-1-9C", 4, 4);
    assert_counts(catalog, "H200X-1-18C", 2, 2);
    set_vf_type(env, VF0, 1071, "H200X-1-9C");
    catalog = test_env_catalog(env, env_holders);
    assert_counts(catalog, "H200X-1-9C", 4, 3);
    assert_counts(catalog, "H200X-1-18C", 2, 1);
    set_vf_type(env, VF1, 1072, "H200X-1-18C");
    catalog = test_env_catalog(env, env_holders);
    assert_counts(catalog, "H200X-1-9C", 4, 1);
    assert_counts(catalog, "H200X-1-18C", 2, 0);
    set_vf_type(env, VF2, 1071, "H200X-1-9C");
    catalog = test_env_catalog(env, env_holders);
    assert_counts(catalog, "H200X-1-9C", 4, 0);
    refused(catalog, VF3, "H200X-1-9C",
            (const char *const[]){ "no free 1g.18gb GPU instance for H200X-1-9C (2 H200X-1-9C "
                                   "time-slice in one 1g.18gb instance)",
                                   "VF " VF0 " holds H200X-1-9C,",
                                   "VF " VF2 " holds H200X-1-9C (", NULL });
}

static void
set_vf_instance(TestEnv *env, const char *vf, const char *id)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/nvidia/gpu_instance_id", vf);

    test_env_write_sysfs(env, rel, id);
}

static const VhVgpuMigInstance *
instance_of(const VhVgpuMigLayout *layout, VhCatalog *catalog, const char *vf)
{
    return vh_vgpu_mig_layout_instance_of(layout,
                                          g_hash_table_lookup(catalog->host->by_address, vf));
}

/* A VF's gpu_instance_id says where its vGPU sits: the model follows it
 * rather than its guess (the first free instance), and fills the rest
 * around it. */
static void
test_gpu_instance_id(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NVML_GPU "mig=1\ninstances=1:19:0:1;2:19:1:1;3:19:2:1\n");
    VhCatalog *catalog;
    g_autoptr(VhVgpuMigLayout) guessed = NULL;
    g_autoptr(VhVgpuMigLayout) told = NULL;
    const VhVgpuMigInstance *gi;

    (void)state;
    set_vf_type(env, VF0, 1072, "H200X-1-18C");
    catalog = test_env_catalog(env, env_holders);
    guessed = vh_vgpu_gpu_mig_layout(vh_catalog_gpu_of_vf(catalog, VF0));
    assert_non_null(guessed);
    assert_true(guessed->nvml && guessed->mig_on);
    assert_int_equal(guessed->instances->len, 3);
    gi = instance_of(guessed, catalog, VF0);
    assert_non_null(gi);
    assert_int_equal(gi->id, 1);
    set_vf_instance(env, VF0, "3\n");
    set_vf_type(env, VF1, 1071, "H200X-1-9C");
    set_vf_type(env, VF2, 1071, "H200X-1-9C");
    set_vf_instance(env, VF2, "2\n");
    catalog = test_env_catalog(env, env_holders);
    told = vh_vgpu_gpu_mig_layout(vh_catalog_gpu_of_vf(catalog, VF0));
    assert_int_equal(instance_of(told, catalog, VF0)->id, 3);
    /* VF1 has no id: it joins the 1-9C of instance 2, which has a slot. */
    gi = instance_of(told, catalog, VF1);
    assert_int_equal(gi->id, 2);
    assert_int_equal(gi->vfs->len, 2);
    assert_int_equal(gi->slots, 2);
    assert_string_equal(gi->type, "H200X-1-9C");
    assert_null(((const VhVgpuMigInstance *)g_ptr_array_index(told->instances, 0))->type);
    assert_counts(catalog, "H200X-1-18C", 3, 1);
    assert_counts(catalog, "H200X-1-9C", 6, 2);
}

/* Without NVML the ids still group VFs: two VFs naming one instance share
 * it, so only one instance is planned for them. */
static void
test_gpu_instance_id_builtin(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NULL);
    VhCatalog *catalog;
    g_autoptr(VhVgpuMigLayout) layout = NULL;

    (void)state;
    set_vf_type(env, VF0, 1071, "H200X-1-9C");
    set_vf_type(env, VF1, 1071, "H200X-1-9C");
    set_vf_instance(env, VF0, "5\n");
    set_vf_instance(env, VF1, "5\n");
    catalog = test_env_catalog(env, env_holders);
    layout = vh_vgpu_gpu_mig_layout(vh_catalog_gpu_of_vf(catalog, VF0));
    assert_false(layout->nvml);
    assert_int_equal(layout->instances->len, 1);
    assert_int_equal(instance_of(layout, catalog, VF1)->id, 5);
    assert_counts(catalog, "H200X-1-18C", 7, 6);
}

/* A GPU that offers no MIG-backed type has no layout (NVML not asked). */
static void
test_layout_not_mig(void **state)
{
    g_autoptr(TestEnv) env = test_env_new("[vgpu-family L40S]\nframebuffer_gb=48\n"
                                          "types=1161:NVIDIA L40S-24Q\n"
                                          "[device 0000:02:00.0]\nids=10de:26b9\n"
                                          "class=0x030200\ndriver=nvidia\niommu_group=3\n"
                                          "sriov_totalvfs=4\nsriov_numvfs=4\n"
                                          "vgpu_family=L40S\n", NULL);
    VhCatalog *catalog = test_env_catalog(env, NULL);

    (void)state;
    assert_null(vh_vgpu_gpu_mig_layout(vh_catalog_gpu_of_vf(catalog, "0000:02:00.4")));
}

static int
holders_free(void **state)
{
    (void)state;
    g_clear_pointer(&env_holders, g_hash_table_unref);
    return 0;
}

/* The hook for a domain that names no MIG-backed type: NVML is not asked,
 * the built-in table answers. */
static void
test_nvml_not_allowed(void **state)
{
    g_autoptr(TestEnv) env = mig_env(NVML_GPU "mig=1\n");
    VhCatalog *catalog;

    (void)state;
    vh_vgpu_gpu_set_nvml_allowed(FALSE);
    catalog = test_env_catalog(env, NULL);
    vh_vgpu_gpu_set_nvml_allowed(TRUE);
    assert_counts(catalog, "H200X-2-35C", 3, 3);
    assert_counts(catalog, "H200X-3-71C", 2, 2);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_builtin_counts, holders_reset),
        cmocka_unit_test_setup(test_builtin_side_by_side, holders_reset),
        cmocka_unit_test_setup(test_builtin_fragmentation, holders_reset),
        cmocka_unit_test_setup(test_nvml_no_instances, holders_reset),
        cmocka_unit_test_setup(test_nvml_mig_off, holders_reset),
        cmocka_unit_test_setup(test_nvml_instances, holders_reset),
        cmocka_unit_test_setup(test_nvml_unknown_gpu, holders_reset),
        cmocka_unit_test_setup(test_nvml_not_allowed, holders_reset),
        cmocka_unit_test_setup(test_timesliced_builtin, holders_reset),
        cmocka_unit_test_setup(test_timesliced_nvml, holders_reset),
        cmocka_unit_test_setup(test_gpu_instance_id, holders_reset),
        cmocka_unit_test_setup(test_gpu_instance_id_builtin, holders_reset),
        cmocka_unit_test_setup(test_layout_not_mig, holders_reset),
    };

    vh_nvml_set_library(g_getenv("VH_TEST_NVML_SO") ? g_getenv("VH_TEST_NVML_SO") : SIM_NVML_SO);
    return cmocka_run_group_tests(tests, NULL, holders_free);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-vgpu-mig: MIG-backed vGPU types in the SR-IOV GPU model
 * (plugin/vh-vgpu-gpu.c) and the catalog's counts, on a fake H200 and the
 * test NVML: MIG's real counts from the built-in table without NVML,
 * instances from NVML with MIG on, no one-size rule between instance
 * profiles, fragmentation, refusals naming instances and holders. */
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
    "types=1072:NVIDIA H200X-1-18C;1073:NVIDIA H200X-2-35C;1074:NVIDIA H200X-3-71C;"   \
    "1076:NVIDIA H200X-7-141C;1077:NVIDIA H200X-141C\n"                                \
    "[device " H200 "]\n"                                                              \
    "ids=10de:2335\n"                                                                  \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=30\n"                                                                 \
    "sriov_totalvfs=16\n"                                                              \
    "sriov_numvfs=16\n"                                                                \
    "vgpu_family=H200X\n"

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
    };

    vh_nvml_set_library(g_getenv("VH_TEST_NVML_SO") ? g_getenv("VH_TEST_NVML_SO") : SIM_NVML_SO);
    return cmocka_run_group_tests(tests, NULL, holders_free);
}

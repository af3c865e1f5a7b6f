/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-vgpu-mixed: mixed-size mode in the SR-IOV GPU model
 * (plugin/vh-vgpu-gpu.c) and the catalog's counts, on a fake L40S and the
 * test NVML: the driver's mode read through NVML wins over the
 * configuration's; capacity and allocation follow NVML's placements (a 1Q
 * takes two slots, so 24 of them, not 48); refusals speak of slots; without
 * NVML, 1 GB slots; the mode set through NVML, refused while a VF holds a
 * type, naming it. */
#include "test-common.h"
#include "fake-host.h"
#include "sim-nvml-state.h"
#include "vh-nvml.h"

#define L40S "0000:41:00.0"
#define VF0 "0000:41:00.4"
#define VF1 "0000:41:00.5"
#define VF2 "0000:41:00.6"

#define HOST_INI(mode)                                                                 \
    "[vgpu-family L40S]\n"                                                             \
    "framebuffer_gb=48\n"                                                              \
    "types=1155:NVIDIA L40S-1Q;1159:NVIDIA L40S-8Q;1161:NVIDIA L40S-24Q;1162:NVIDIA L40S-48Q\n" \
    "[device " L40S "]\n"                                                              \
    "ids=10de:26b9\n"                                                                  \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=30\n"                                                                 \
    "sriov_totalvfs=32\n"                                                              \
    "sriov_numvfs=32\n"                                                                \
    "vgpu_family=L40S\n"                                                               \
    "vgpu_mode=" mode "\n"

#define NVML_INI                                                                       \
    "[nvml]\n[gpu " L40S "]\nmodel=L40S\nheterogeneous=0\n"                            \
    "vgpu_types=1155:NVIDIA L40S-1Q:1024;1159:NVIDIA L40S-8Q:8192;"                    \
    "1161:NVIDIA L40S-24Q:24576;1162:NVIDIA L40S-48Q:49152\n"

#define CONFIG(mode) "[gpu \"" L40S "\"]\nvgpu_mode=" mode "\n"

static VhHolders *env_holders;

/* The fake L40S whose driver runs @driver_mode; @nvml_ini NULL: no NVML. */
static TestEnv *
mixed_env(const char *host_ini, const char *config, const char *nvml_ini)
{
    TestEnv *env = test_env_new(host_ini, config);

    if (nvml_ini) {
        g_autofree char *path = sim_nvml_state_path(env->sysfs);
        test_write_file(path, nvml_ini);
    }
    g_setenv("VH_SIM_SYSFS_ROOT", env->sysfs, TRUE);
    return env;
}

/* A VF holds a type, leased; the simulated driver recomputes the lists. */
static void
set_vf_type(TestEnv *env, const char *vf, guint type, const char *profile)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
    g_autofree char *value = g_strdup_printf("%u\n", type);

    test_env_write_sysfs(env, rel, value);
    assert_true(fake_host_nvidia_recompute(env->sysfs, L40S, NULL));
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

static int
holders_free(void **state)
{
    (void)state;
    g_clear_pointer(&env_holders, g_hash_table_unref);
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

/* No NVML: mixed mode from the configuration, a slot is 1 GB. */
static void
test_builtin_slots(void **state)
{
    g_autoptr(TestEnv) env = mixed_env(HOST_INI("mixed"), CONFIG("mixed"), NULL);
    VhCatalog *catalog;
    g_autoptr(GError) error = NULL;
    VhVgpuMode mode;

    (void)state;
    set_vf_type(env, VF0, 1161, "L40S-24Q");
    catalog = test_env_catalog(env, env_holders);
    assert_false(vh_vgpu_gpu_driver_mode(vh_catalog_gpu_of_vf(catalog, VF1), &mode));
    assert_counts(catalog, "L40S-1Q", 32, 24);
    assert_counts(catalog, "L40S-8Q", 6, 3);
    assert_true(can_take(catalog, VF1, "L40S-8Q", &error));
    assert_no_error(error);
}

/* NVML's placements: a 1Q takes two slots; what the VFs hold sits in the
 * first free placement of its type; refusals count slots. */
static void
test_nvml_placements(void **state)
{
    g_autoptr(TestEnv) env = mixed_env(HOST_INI("mixed"), CONFIG("mixed"), NVML_INI);
    VhCatalog *catalog = test_env_catalog(env, env_holders);
    g_autoptr(GError) error = NULL;
    VhVgpuMode mode = VH_VGPU_MODE_EQUAL;

    (void)state;
    assert_true(vh_vgpu_gpu_driver_mode(vh_catalog_gpu_of_vf(catalog, VF0), &mode));
    assert_int_equal(mode, VH_VGPU_MODE_MIXED);
    assert_counts(catalog, "L40S-1Q", 24, 24);
    assert_counts(catalog, "L40S-8Q", 6, 6);
    assert_counts(catalog, "L40S-24Q", 2, 2);

    /* As prepare and setup do before a write: the whole table is cached,
     * so held types keep their names once the lists shrink. */
    vh_vgpu_gpu_remember(vh_catalog_gpu_of_vf(catalog, VF0));
    set_vf_type(env, VF0, 1161, "L40S-24Q"); /* slots 0-23 */
    set_vf_type(env, VF1, 1159, "L40S-8Q");  /* slots 24-31 */
    catalog = test_env_catalog(env, env_holders);
    assert_counts(catalog, "L40S-1Q", 24, 8);
    assert_counts(catalog, "L40S-8Q", 6, 2);
    assert_counts(catalog, "L40S-24Q", 2, 0);
    assert_true(can_take(catalog, VF2, "L40S-1Q", NULL));
    assert_false(can_take(catalog, VF2, "L40S-24Q", &error));
    assert_vh_error(error, VH_ERROR_NO_CAPACITY,
                    "GPU " L40S " (mixed-size mode) has no free placement slots for L40S-24Q "
                    "(32 of 48 slots taken, it needs 24; placements from NVML)");
}

/* The driver's mode wins over the configuration's: configured equal, the
 * driver runs mixed, so two sizes fit side by side. */
static void
test_nvml_mode_wins(void **state)
{
    g_autoptr(TestEnv) env = mixed_env(HOST_INI("mixed"), CONFIG("equal"), NVML_INI);
    g_autoptr(TestEnv) plain = NULL;
    VhCatalog *catalog;
    g_autoptr(GError) error = NULL;

    (void)state;
    set_vf_type(env, VF0, 1161, "L40S-24Q");
    catalog = test_env_catalog(env, env_holders);
    assert_true(can_take(catalog, VF1, "L40S-8Q", &error));
    assert_no_error(error);
    /* Without NVML the configuration's equal-size rule refuses it. */
    holders_reset(NULL);
    plain = mixed_env(HOST_INI("mixed"), CONFIG("equal"), NULL);
    set_vf_type(plain, VF0, 1161, "L40S-24Q");
    catalog = test_env_catalog(plain, env_holders);
    assert_false(can_take(catalog, VF1, "L40S-8Q", &error));
    assert_vh_error(error, VH_ERROR_NO_CAPACITY, "one profile size at a time");
}

/* Setting the mode through NVML: done on an idle GPU (the simulated
 * driver's mode follows), refused naming the VF while one holds a type. */
static void
test_set_mode(void **state)
{
    g_autoptr(TestEnv) env = mixed_env(HOST_INI("equal"), CONFIG("mixed"), NVML_INI);
    VhCatalog *catalog = test_env_catalog(env, NULL);
    VhVgpuGpu *gpu = (VhVgpuGpu *)vh_catalog_gpu_of_vf(catalog, VF0);
    g_autoptr(GError) error = NULL;
    VhVgpuMode mode;

    (void)state;
    assert_true(vh_vgpu_gpu_driver_mode(gpu, &mode));
    assert_int_equal(mode, VH_VGPU_MODE_EQUAL);
    assert_true(vh_vgpu_gpu_set_driver_mode(gpu, VH_VGPU_MODE_MIXED, &error));
    assert_no_error(error);
    assert_true(fake_host_nvidia_is_mixed(env->sysfs, L40S));
    assert_true(vh_vgpu_gpu_driver_mode(gpu, &mode));
    assert_int_equal(mode, VH_VGPU_MODE_MIXED);

    set_vf_type(env, VF1, 1159, "L40S-8Q");
    catalog = test_env_catalog(env, env_holders);
    gpu = (VhVgpuGpu *)vh_catalog_gpu_of_vf(catalog, VF0);
    assert_false(vh_vgpu_gpu_set_driver_mode(gpu, VH_VGPU_MODE_EQUAL, &error));
    assert_vh_error(error, VH_ERROR_BUSY, "VF " VF1 " holds L40S-8Q");
    assert_true(fake_host_nvidia_is_mixed(env->sysfs, L40S));
}

/* A driver without mixed-size mode: NVML refuses, the sentence says so and
 * nothing changes; the configuration's mode counts. */
static void
test_set_mode_unsupported(void **state)
{
    g_autoptr(TestEnv) env = mixed_env(HOST_INI("equal"), CONFIG("mixed"),
                                       "[nvml]\n[gpu " L40S "]\nmodel=L40S\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);
    VhVgpuGpu *gpu = (VhVgpuGpu *)vh_catalog_gpu_of_vf(catalog, VF0);
    g_autoptr(GError) error = NULL;
    VhVgpuMode mode;

    (void)state;
    assert_false(vh_vgpu_gpu_driver_mode(gpu, &mode));
    assert_false(vh_vgpu_gpu_set_driver_mode(gpu, VH_VGPU_MODE_MIXED, &error));
    assert_vh_error(error, VH_ERROR_UNSUPPORTED,
                    "GPU " L40S " stays in its mode, mixed-size was refused: "
                    "nvmlDeviceSetVgpuHeterogeneousMode on " L40S ": NVML_ERROR_NOT_SUPPORTED");
    assert_false(fake_host_nvidia_is_mixed(env->sysfs, L40S));
}

/* A driver whose NVML has no placement queries: 1 GB slots again. */
static void
test_nvml_without_placements(void **state)
{
    g_autoptr(TestEnv) env =
        mixed_env(HOST_INI("mixed"), CONFIG("mixed"), NVML_INI "no_placements=1\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    (void)state;
    assert_counts(catalog, "L40S-1Q", 32, 32);
    assert_counts(catalog, "L40S-8Q", 6, 6);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_builtin_slots, holders_reset),
        cmocka_unit_test_setup(test_nvml_placements, holders_reset),
        cmocka_unit_test_setup(test_nvml_mode_wins, holders_reset),
        cmocka_unit_test_setup(test_set_mode, holders_reset),
        cmocka_unit_test_setup(test_set_mode_unsupported, holders_reset),
        cmocka_unit_test_setup(test_nvml_without_placements, holders_reset),
    };

    vh_nvml_set_library(g_getenv("VH_TEST_NVML_SO") ? g_getenv("VH_TEST_NVML_SO") : SIM_NVML_SO);
    return cmocka_run_group_tests(tests, NULL, holders_free);
}

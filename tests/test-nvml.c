/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-nvml: the NVML binding (plugin/vh-nvml.c) on the test NVML
 * (tests/sim-nvml.c) over a fake sysfs tree and its nvml.ini: discovery,
 * modes, GPU-instance profiles and placements, create and destroy with
 * NVML's return codes and our sentences, instances lost at a rebind, vGPU
 * types as sysfs shows them; and NVML missing altogether. */
#include "test-common.h"
#include "sim-nvml-state.h"
#include "vh-mig.h"
#include "vh-nvml.h"

#include <sys/wait.h>
#include <unistd.h>

#define H200_ADDR "0000:41:00.0"
#define A100_ADDR "0000:c1:00.0"

#define HOST_INI                                                                       \
    "[vgpu-family H200X]\n"                                                            \
    "framebuffer_gb=141\n"                                                             \
    "types=1414:NVIDIA H200X-1-18C;1415:NVIDIA H200X-2-35C\n"                          \
    "[device " H200_ADDR "]\n"                                                         \
    "ids=10de:2335\n"                                                                  \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=30\n"                                                                 \
    "sriov_totalvfs=4\n"                                                               \
    "sriov_numvfs=4\n"                                                                 \
    "vgpu_family=H200X\n"                                                              \
    "[device " A100_ADDR "]\n"                                                         \
    "ids=10de:20b0\n"                                                                  \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=40\n"

#define NVML_INI                                                                       \
    "[nvml]\n"                                                                         \
    "driver_version=580.159.04\n"                                                      \
    "[gpu " H200_ADDR "]\n"                                                            \
    "model=H200\n"                                                                     \
    "mig=0\n"                                                                          \
    "vgpu_types=1414:NVIDIA H200X-1-18C:18432;1415:NVIDIA H200X-2-35C:35840;"          \
    "1420:NVIDIA H200X-141C:144384\n"                                                  \
    "[gpu " A100_ADDR "]\n"                                                            \
    "model=A100-40GB\n"                                                                \
    "name=NVIDIA A100-SXM4-40GB\n"                                                     \
    "mig=1\n"                                                                          \
    "virtualization=pass-through\n"                                                    \
    "heterogeneous=0\n"

static TestEnv *
nvml_env(const char *nvml_ini)
{
    TestEnv *env = test_env_new_empty();

    test_env_build_host(env, HOST_INI);
    if (nvml_ini) {
        g_autofree char *path = sim_nvml_state_path(env->sysfs);
        test_write_file(path, nvml_ini);
    }
    g_setenv("VH_SIM_SYSFS_ROOT", env->sysfs, TRUE);
    return env;
}

static VhNvml *
nvml_open_ok(void)
{
    g_autoptr(GError) error = NULL;
    VhNvml *nvml = vh_nvml_open(&error);

    assert_no_error(error);
    assert_non_null(nvml);
    return nvml;
}

static void
set_mig(TestEnv *env, const char *addr, const char *value)
{
    g_autoptr(GKeyFile) state = sim_nvml_state_load(env->sysfs, NULL);
    g_autofree char *group = g_strdup_printf("gpu %s", addr);

    g_key_file_set_string(state, group, "mig", value);
    assert_true(sim_nvml_state_save(state, env->sysfs, NULL));
}

/* NVML is loaded once per process, so "no library" runs in a child. */
static void
test_library_missing(void **state)
{
    pid_t pid;
    int status = 0;

    (void)state;
    if (g_getenv("VH_VALGRIND")) {
        /* valgrind turns a forked child's exit status into 1 (see Makefile.am) */
        print_message("skipped under valgrind: forks\n");
        skip();
    }
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        g_autoptr(GError) error = NULL;
        VhNvml *nvml;

        g_setenv("VH_NVML_LIBRARY", "/nonexistent/libnvidia-ml.so.1", TRUE);
        nvml = vh_nvml_open(&error);
        _exit(nvml == NULL && error && error->code == VH_ERROR_UNSUPPORTED &&
                      g_str_has_prefix(error->message, "NVML not available: cannot load "
                                                       "/nonexistent/libnvidia-ml.so.1") &&
                      strstr(error->message, "what sysfs shows still works")
                  ? 0
                  : 1);
    }
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The library is there but the driver is not: nvmlInit_v2 fails. */
static void
test_driver_missing(void **state)
{
    g_autoptr(TestEnv) env = nvml_env(NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VhNvml) nvml = NULL;

    (void)state;
    nvml = vh_nvml_open(&error);
    assert_null(nvml);
    assert_vh_error(error, VH_ERROR_IO, "NVML not available: nvmlInit_v2: "
                                        "NVML_ERROR_DRIVER_NOT_LOADED (9): NVIDIA's kernel "
                                        "driver is not loaded");
}

static void
test_devices(void **state)
{
    g_autoptr(TestEnv) env = nvml_env(NVML_INI);
    g_autoptr(VhNvml) nvml = nvml_open_ok();
    g_autoptr(GError) error = NULL;
    g_autofree char *version = vh_nvml_driver_version(nvml, &error);
    g_autofree char *first = NULL, *second = NULL, *name = NULL, *a100 = NULL;
    guint count = 0, vendor = 0, device = 0;
    gboolean mig = TRUE, pending = TRUE, hetero = TRUE;
    VhNvmlVirtMode mode = VH_NVML_VIRT_NONE;

    (void)state;
    assert_string_equal(version, "580.159.04");
    assert_true(vh_nvml_device_count(nvml, &count, &error));
    assert_int_equal(count, 2);
    first = vh_nvml_device_address(nvml, 0, &error);
    second = vh_nvml_device_address(nvml, 1, &error);
    assert_string_equal(first, H200_ADDR);
    assert_string_equal(second, A100_ADDR);
    name = vh_nvml_device_name(nvml, H200_ADDR, &error);
    assert_string_equal(name, "NVIDIA H200");
    a100 = vh_nvml_device_name(nvml, "00000000:C1:00.0", &error); /* NVML's spelling */
    assert_string_equal(a100, "NVIDIA A100-SXM4-40GB");
    assert_true(vh_nvml_device_pci_ids(nvml, H200_ADDR, &vendor, &device, &error));
    assert_int_equal(vendor, 0x10de);
    assert_int_equal(device, 0x2335);
    assert_true(vh_nvml_virtualization_mode(nvml, H200_ADDR, &mode, &error));
    assert_string_equal(vh_nvml_virt_mode_name(mode), "host-vgpu");
    assert_true(vh_nvml_virtualization_mode(nvml, A100_ADDR, &mode, &error));
    assert_string_equal(vh_nvml_virt_mode_name(mode), "pass-through");
    assert_true(vh_nvml_mig_mode(nvml, H200_ADDR, &mig, &pending, &error));
    assert_false(mig);
    assert_false(pending);
    assert_true(vh_nvml_mig_mode(nvml, A100_ADDR, &mig, NULL, &error));
    assert_true(mig);
    assert_true(vh_nvml_heterogeneous_mode(nvml, A100_ADDR, &hetero, &error));
    assert_false(hetero);
    assert_no_error(error);
    assert_false(vh_nvml_heterogeneous_mode(nvml, H200_ADDR, &hetero, &error));
    assert_vh_error(error, VH_ERROR_UNSUPPORTED, "nvmlDeviceGetVgpuHeterogeneousMode on "
                                                 H200_ADDR ": NVML_ERROR_NOT_SUPPORTED (3)");
    g_clear_error(&error);
    assert_null(vh_nvml_device_name(nvml, "0000:99:00.0", &error));
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "nvmlDeviceGetHandleByPciBusId_v2 on 0000:99:00.0: "
                                               "NVML_ERROR_NOT_FOUND");
}

/* Profiles and placements, with MIG off too, equal vh-mig's built-in table. */
static void
test_profiles(void **state)
{
    g_autoptr(TestEnv) env = nvml_env(NVML_INI);
    g_autoptr(VhNvml) nvml = nvml_open_ok();
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) profiles = vh_nvml_gi_profiles(nvml, H200_ADDR, &error);
    g_autoptr(VhMigTable) table = vh_mig_table_builtin_for_device(0x2335);

    (void)state;
    assert_no_error(error);
    assert_int_equal(profiles->len, vh_mig_table_n_profiles(table));
    for (guint i = 0; i < profiles->len; i++) {
        const VhNvmlGiProfile *got = g_ptr_array_index(profiles, i);
        const VhMigProfile *want = vh_mig_table_find_id(table, got->id);

        assert_non_null(want);
        assert_string_equal(got->name, want->name);
        assert_int_equal(got->slices, want->slices);
        assert_int_equal(got->instance_count, want->instance_count);
        assert_null(got->placements_error);
        assert_int_equal(got->placements->len, want->placements->len);
        for (guint p = 0; p < got->placements->len; p++) {
            assert_int_equal(g_array_index(got->placements, VhNvmlPlacement, p).start,
                             g_array_index(want->placements, VhMigPlacement, p).start);
            assert_int_equal(g_array_index(got->placements, VhNvmlPlacement, p).size,
                             g_array_index(want->placements, VhMigPlacement, p).size);
        }
    }
}

/* Older drivers: v2 of the profile structure only, or no V call at all
 * (names then come from slices and memory). */
static void
test_profiles_older_driver(void **state)
{
    g_autoptr(TestEnv) env = nvml_env(NVML_INI);
    g_autoptr(VhNvml) nvml = nvml_open_ok();
    static const char *const newest[] = { "2", "1" };

    (void)state;
    for (guint v = 0; v < G_N_ELEMENTS(newest); v++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(GPtrArray) profiles = NULL;
        const VhNvmlGiProfile *p;

        g_setenv("VH_SIM_NVML_PROFILE_INFO", newest[v], TRUE);
        profiles = vh_nvml_gi_profiles(nvml, H200_ADDR, &error);
        g_unsetenv("VH_SIM_NVML_PROFILE_INFO");
        assert_no_error(error);
        assert_int_equal(profiles->len, 7);
        p = g_ptr_array_index(profiles, 2); /* index 2: 3 slices */
        assert_int_equal(p->id, 9);
        assert_string_equal(p->name, "3g.71gb");
        assert_int_equal(p->instance_count, 2);
        p = g_ptr_array_index(profiles, 5); /* index 7: 1g.18gb+me */
        assert_int_equal(p->id, 20);
        /* v1 has no name: the built-in table of the H200 gives it by id */
        assert_string_equal(p->name, "1g.18gb+me");
    }
}

static void
test_instances(void **state)
{
    g_autoptr(TestEnv) env = nvml_env(NVML_INI);
    g_autoptr(VhNvml) nvml = nvml_open_ok();
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) profiles = vh_nvml_gi_profiles(nvml, H200_ADDR, &error);
    g_autoptr(GArray) list = NULL;
    const VhNvmlPlacement at4 = { 4, 4 }, at0 = { 0, 4 }, at2 = { 2, 4 }, one = { 0, 1 };
    guint id = 0, remaining = 99;

    (void)state;
    /* MIG off: no instances, NVML_ERROR_NOT_SUPPORTED */
    assert_false(vh_nvml_gi_create(nvml, H200_ADDR, 9, &at4, &id, &error));
    assert_vh_error(error, VH_ERROR_UNSUPPORTED,
                    "nvmlDeviceCreateGpuInstanceWithPlacement on " H200_ADDR
                    ": NVML_ERROR_NOT_SUPPORTED (3): this GPU or driver does not support it");
    g_clear_error(&error);
    set_mig(env, H200_ADDR, "1");

    assert_true(vh_nvml_gi_create(nvml, H200_ADDR, 9, &at4, &id, &error));
    assert_int_equal(id, 1);
    assert_true(vh_nvml_gi_create(nvml, H200_ADDR, 9, &at0, &id, &error));
    assert_int_equal(id, 2);
    assert_no_error(error);
    assert_true(vh_nvml_gi_remaining(nvml, H200_ADDR, 19, &remaining, &error));
    assert_int_equal(remaining, 0); /* 1 compute slice left, but every memory slice is taken */
    assert_false(vh_nvml_gi_create(nvml, H200_ADDR, 9, &at4, &id, &error));
    assert_vh_error(error, VH_ERROR_NO_CAPACITY, "NVML_ERROR_INSUFFICIENT_RESOURCES (23): no room on the GPU");
    g_clear_error(&error);
    assert_false(vh_nvml_gi_create(nvml, H200_ADDR, 9, &at2, &id, &error));
    assert_vh_error(error, VH_ERROR_INVALID, "NVML_ERROR_INVALID_ARGUMENT (2)");
    g_clear_error(&error);
    assert_true(vh_nvml_gi_destroy(nvml, H200_ADDR, 9, 2, &error));
    assert_true(vh_nvml_gi_create(nvml, H200_ADDR, 19, &one, &id, &error));
    assert_int_equal(id, 2); /* the lowest free id */

    list = vh_nvml_gi_list(nvml, H200_ADDR, profiles, &error);
    assert_no_error(error);
    assert_int_equal(list->len, 2);
    assert_int_equal(g_array_index(list, VhNvmlGpuInstance, 0).profile_id, 9);
    assert_int_equal(g_array_index(list, VhNvmlGpuInstance, 0).start, 4);
    assert_int_equal(g_array_index(list, VhNvmlGpuInstance, 1).profile_id, 19);
    assert_int_equal(g_array_index(list, VhNvmlGpuInstance, 1).start, 0);
    g_clear_pointer(&list, g_array_unref);

    /* a vGPU holds instance 1: IN_USE */
    {
        g_autoptr(GKeyFile) st = sim_nvml_state_load(env->sysfs, NULL);
        g_key_file_set_string(st, "gpu " H200_ADDR, "in_use", "1");
        assert_true(sim_nvml_state_save(st, env->sysfs, NULL));
    }
    assert_false(vh_nvml_gi_destroy(nvml, H200_ADDR, 9, 1, &error));
    assert_vh_error(error, VH_ERROR_BUSY, "nvmlGpuInstanceDestroy on " H200_ADDR
                                          ": NVML_ERROR_IN_USE (19)");
    g_clear_error(&error);
    assert_true(vh_nvml_gi_destroy(nvml, H200_ADDR, 19, 2, &error));
    assert_no_error(error);

    /* sriov-manage rebinds the GPU: every instance is gone, MIG stays on */
    assert_true(sim_nvml_state_rebind(env->sysfs, H200_ADDR, NULL));
    list = vh_nvml_gi_list(nvml, H200_ADDR, profiles, &error);
    assert_int_equal(list->len, 0);
    assert_false(vh_nvml_gi_destroy(nvml, H200_ADDR, 9, 1, &error));
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "no GPU instance 1 of profile 9");
    g_clear_error(&error);
    {
        gboolean mig = FALSE;
        assert_true(vh_nvml_mig_mode(nvml, H200_ADDR, &mig, NULL, &error));
        assert_true(mig);
    }
}

static void
test_vgpu_types(void **state)
{
    g_autoptr(TestEnv) env = nvml_env(NVML_INI);
    g_autoptr(VhNvml) nvml = nvml_open_ok();
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) supported = vh_nvml_vgpu_types(nvml, H200_ADDR, FALSE, &error);
    g_autoptr(GPtrArray) creatable = vh_nvml_vgpu_types(nvml, H200_ADDR, TRUE, &error);
    g_autoptr(GPtrArray) none = NULL;
    const VhNvmlVgpuType *t;

    (void)state;
    assert_no_error(error);
    assert_int_equal(supported->len, 3);
    t = g_ptr_array_index(supported, 1);
    assert_int_equal(t->id, 1415);
    assert_string_equal(t->name, "NVIDIA H200X-2-35C");
    assert_int_equal(t->framebuffer_mb, 35840);
    /* creatable: what the VFs' creatable_vgpu_types list (not the 141C) */
    assert_int_equal(creatable->len, 2);
    none = vh_nvml_vgpu_types(nvml, A100_ADDR, FALSE, &error);
    assert_null(none);
    assert_vh_error(error, VH_ERROR_UNSUPPORTED, "nvmlDeviceGetSupportedVgpus on " A100_ADDR
                                                 ": NVML_ERROR_NOT_SUPPORTED");
}

#define L40S_ADDR "0000:81:00.0"
#define L40S_HOST                                                                      \
    "[vgpu-family L40S]\n"                                                             \
    "framebuffer_gb=48\n"                                                              \
    "types=1155:NVIDIA L40S-1Q;1159:NVIDIA L40S-8Q;1161:NVIDIA L40S-24Q\n"             \
    "[device " L40S_ADDR "]\n"                                                         \
    "ids=10de:26b9\n"                                                                  \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=50\n"                                                                 \
    "sriov_totalvfs=4\n"                                                               \
    "sriov_numvfs=4\n"                                                                 \
    "vgpu_family=L40S\n"

static void
assert_placements(GArray *ids, guint size, guint want_size, const guint *want, guint n)
{
    assert_non_null(ids);
    assert_int_equal(size, want_size);
    assert_int_equal(ids->len, n);
    for (guint i = 0; i < n; i++)
        assert_int_equal(g_array_index(ids, guint, i), want[i]);
}

/* Mixed-size mode and vGPU placements: what the simulated driver does. */
static void
test_mixed_mode(void **state)
{
    g_autoptr(TestEnv) env = test_env_new_empty();
    g_autofree char *path = NULL;
    g_autoptr(VhNvml) nvml = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) ids = NULL;
    gboolean mixed = TRUE;
    guint size = 0;

    (void)state;
    test_env_build_host(env, L40S_HOST);
    path = sim_nvml_state_path(env->sysfs);
    test_write_file(path, "[nvml]\n[gpu " L40S_ADDR "]\nmodel=L40S\nheterogeneous=0\n"
                          "[gpu " A100_ADDR "]\nmodel=A100-40GB\n");
    g_setenv("VH_SIM_SYSFS_ROOT", env->sysfs, TRUE);
    nvml = nvml_open_ok();
    assert_true(vh_nvml_heterogeneous_mode(nvml, L40S_ADDR, &mixed, &error));
    assert_false(mixed);
    /* Equal-size: a 8Q at every 8 GB; mixed: a 1Q takes two slots. */
    ids = vh_nvml_vgpu_placements(nvml, L40S_ADDR, 1159, FALSE, FALSE, &size, &error);
    assert_placements(ids, size, 8, (const guint[]){ 0, 8, 16, 24, 32, 40 }, 6);
    g_clear_pointer(&ids, g_array_unref);
    ids = vh_nvml_vgpu_placements(nvml, L40S_ADDR, 1155, FALSE, TRUE, &size, &error);
    assert_non_null(ids);
    assert_int_equal(size, 2);
    assert_int_equal(ids->len, 24);
    g_clear_pointer(&ids, g_array_unref);

    assert_true(vh_nvml_set_heterogeneous_mode(nvml, L40S_ADDR, TRUE, &error));
    assert_no_error(error);
    assert_true(vh_nvml_heterogeneous_mode(nvml, L40S_ADDR, &mixed, &error));
    assert_true(mixed);
    /* A 24Q on the first VF takes slots 0-23: of the six 8Q placements,
     * 24, 32 and 40 stay creatable; the mode cannot change now. */
    test_env_write_sysfs(env, "bus/pci/devices/0000:81:00.4/nvidia/current_vgpu_type", "1161\n");
    ids = vh_nvml_vgpu_placements(nvml, L40S_ADDR, 1159, TRUE, TRUE, &size, &error);
    assert_placements(ids, size, 8, (const guint[]){ 24, 32, 40 }, 3);
    assert_false(vh_nvml_set_heterogeneous_mode(nvml, L40S_ADDR, FALSE, &error));
    assert_vh_error(error, VH_ERROR_BUSY, "nvmlDeviceSetVgpuHeterogeneousMode on " L40S_ADDR
                                          ": NVML_ERROR_IN_USE");
    g_clear_error(&error);
    g_clear_pointer(&ids, g_array_unref);
    /* A GPU without vGPU placements (no vGPU manager on it). */
    ids = vh_nvml_vgpu_placements(nvml, A100_ADDR, 1414, FALSE, TRUE, &size, &error);
    assert_null(ids);
    assert_vh_error(error, VH_ERROR_UNSUPPORTED, "nvmlDeviceGetVgpuTypeSupportedPlacements");
}

/* The model's one call: capacity of a MIG-backed type from NVML's table
 * and instances. */
static void
test_mig_type_capacity(void **state)
{
    g_autoptr(TestEnv) env = nvml_env(NVML_INI);
    g_autoptr(GError) error = NULL;
    VhMigTypeCapacity cap = { 0 };
    const guint held[] = { 1 };

    (void)state;
    assert_false(vh_nvml_mig_type_capacity(H200_ADDR, "H200X-2-35C", NULL, 0, &cap, &error));
    assert_vh_error(error, VH_ERROR_UNSUPPORTED, "GPU " H200_ADDR " runs with MIG off");
    g_clear_error(&error);
    set_mig(env, H200_ADDR, "1");
    assert_true(vh_nvml_mig_type_capacity(H200_ADDR, "H200X-2-35C", NULL, 0, &cap, &error));
    assert_no_error(error);
    assert_int_equal(cap.capacity, 3);
    assert_int_equal(cap.free_instances, 0);
    assert_int_equal(cap.placeable, 3);
    /* two 2g.35gb instances, one held by a vGPU; a 1g.18gb at 0 */
    {
        g_autoptr(GKeyFile) st = sim_nvml_state_load(env->sysfs, NULL);
        g_key_file_set_string(st, "gpu " H200_ADDR, "instances", "1:14:4:2;2:14:2:2;3:19:0:1");
        assert_true(sim_nvml_state_save(st, env->sysfs, NULL));
    }
    assert_true(vh_nvml_mig_type_capacity(H200_ADDR, "NVIDIA H200X-2-35C", held, 1, &cap, &error));
    assert_int_equal(cap.free_instances, 1);
    assert_int_equal(cap.placeable, 0); /* 0:2 overlaps the 1g */
    assert_true(vh_nvml_mig_type_capacity(H200_ADDR, "H200X-1-18C", held, 1, &cap, &error));
    assert_int_equal(cap.capacity, 7);
    assert_int_equal(cap.free_instances, 1);
    assert_int_equal(cap.placeable, 2); /* memory slices 1 and 6 (7 is no 1g placement) */
    assert_false(vh_nvml_mig_type_capacity(H200_ADDR, "H200X-141C", NULL, 0, &cap, &error));
    assert_vh_error(error, VH_ERROR_UNSUPPORTED, "not MIG-backed");
}

static void
test_sentences(void **state)
{
    (void)state;
    for (int code = 0; code <= 29; code++) {
        assert_non_null(vh_nvml_return_sentence(code));
        assert_true(g_str_has_prefix(vh_nvml_return_name(code), "NVML_"));
    }
    assert_string_equal(vh_nvml_return_name(999), "NVML_ERROR_UNKNOWN");
    assert_contains(vh_nvml_return_sentence(4242), "does not know");
    assert_contains(vh_nvml_return_sentence(19), "stop it first");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_library_missing),
        cmocka_unit_test(test_driver_missing),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_profiles_older_driver),
        cmocka_unit_test(test_instances),
        cmocka_unit_test(test_vgpu_types),
        cmocka_unit_test(test_mig_type_capacity),
        cmocka_unit_test(test_mixed_mode),
        cmocka_unit_test(test_sentences),
    };

    /* The child of test_library_missing loads its own; here, the test NVML. */
    vh_nvml_set_library(g_getenv("VH_TEST_NVML_SO") ? g_getenv("VH_TEST_NVML_SO") : SIM_NVML_SO);
    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

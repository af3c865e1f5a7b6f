/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-catalog: resource names, members and counts. */
#include "test-common.h"

#define L40S_FAMILY                                                                    \
    "[vgpu-family L40S]\n"                                                             \
    "framebuffer_gb=48\n"                                                              \
    "types=1155:NVIDIA L40S-1Q;1156:NVIDIA L40S-2Q;1157:NVIDIA L40S-4Q;"               \
    "1158:NVIDIA L40S-6Q;1159:NVIDIA L40S-8Q;1160:NVIDIA L40S-12Q;"                    \
    "1161:NVIDIA L40S-24Q;1162:NVIDIA L40S-48Q\n"

/* An L40S with 16 VFs (0000:41:00.4 .. 0000:41:02.3); @extra adds keys to
 * its [device] group (vf_types=...). */
#define L40S_DEVICE(extra)                                                             \
    "[device 0000:41:00.0]\n"                                                          \
    "ids=10de:26b9\n"                                                                  \
    "subsystem=10de:1851\n"                                                            \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=30\n"                                                                 \
    "sriov_totalvfs=32\n"                                                              \
    "sriov_numvfs=16\n"                                                                \
    "vgpu_family=L40S\n" extra

#define VF0 "0000:41:00.4"
#define VF1 "0000:41:00.5"
#define VF2 "0000:41:00.6"
#define VF3 "0000:41:00.7"

#define A10_PAIR                                                                       \
    "[device 0000:3b:00.0]\n"                                                          \
    "ids=10de:2236\n"                                                                  \
    "subsystem=10de:1482\n"                                                            \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=20\n"                                                                 \
    "[device 0000:3b:00.1]\n"                                                          \
    "ids=10de:1aef\n"                                                                  \
    "subsystem=10de:1482\n"                                                            \
    "class=0x040300\n"                                                                 \
    "driver=snd_hda_intel\n"                                                           \
    "iommu_group=20\n"                                                                 \
    "[device 0000:86:00.0]\n"                                                          \
    "ids=10de:2236\n"                                                                  \
    "subsystem=10de:1482\n"                                                            \
    "class=0x030200\n"                                                                 \
    "driver=vfio-pci\n"                                                                \
    "iommu_group=21\n"                                                                 \
    "[device 0000:86:00.1]\n"                                                          \
    "ids=10de:1aef\n"                                                                  \
    "subsystem=10de:1482\n"                                                            \
    "class=0x040300\n"                                                                 \
    "iommu_group=21\n"

#define OTHER_DEVICES                                                                  \
    "[device 0000:00:00.0]\n"                                                          \
    "ids=8086:2020\n"                                                                  \
    "class=0x060000\n"                                                                 \
    "iommu_group=0\n"                                                                  \
    "[device 0000:02:00.0]\n"                                                          \
    "ids=14e4:165f\n"                                                                  \
    "subsystem=1028:1f5b\n"                                                            \
    "class=0x020000\n"                                                                 \
    "driver=tg3\n"                                                                     \
    "iommu_group=2\n"                                                                  \
    "[device 0000:03:00.0]\n"                                                          \
    "ids=102b:0536\n"                                                                  \
    "class=0x030000\n"                                                                 \
    "iommu_group=3\n"

#define T4_FAMILY                                                                      \
    "[mdev-family T4]\n"                                                               \
    "types=nvidia-222:GRID T4-1B:16;nvidia-230:GRID T4-1Q:16;nvidia-231:GRID T4-2Q:8;" \
    "nvidia-234:GRID T4-16Q:1\n"

#define T4_DEVICE                                                                      \
    "[device 0000:af:00.0]\n"                                                          \
    "ids=10de:1eb8\n"                                                                  \
    "subsystem=10de:12a2\n"                                                            \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=50\n"                                                                 \
    "mdev_family=T4\n"

#define UUID_A "6d5b1b8c-1f7e-4a51-9a53-4b0e6d0f4c11"
#define UUID_B "0f0e8a2a-5b3c-4c4d-8e9f-a0b1c2d3e4f5"

static VhResource *
lookup(VhCatalog *catalog, const char *name)
{
    VhResource *res = vh_catalog_lookup(catalog, name);

    if (res == NULL) {
        GString *names = g_string_new(NULL);
        for (guint i = 0; i < catalog->resources->len; i++)
            g_string_append_printf(names, " %s",
                                   ((VhResource *)g_ptr_array_index(catalog->resources, i))->name);
        fail_msg("no resource %s; have:%s", name, names->str);
    }
    return res;
}

static void
assert_counts(VhCatalog *catalog, const char *name, guint capacity, guint allocatable,
              guint in_use)
{
    const VhResource *res = lookup(catalog, name);

    if (res->capacity != capacity || res->allocatable != allocatable || res->in_use != in_use)
        fail_msg("%s: capacity %u allocatable %u in use %u, expected %u %u %u", name,
                 res->capacity, res->allocatable, res->in_use, capacity, allocatable, in_use);
}

static const char *
member_address(const VhResource *res, guint i)
{
    return ((const VhResourceMember *)g_ptr_array_index(res->members, i))->device->address;
}

static VhHolders *
holders_new(void)
{
    return g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

static void
hold(VhHolders *holders, const char *key, const char *resource)
{
    g_hash_table_insert(holders, g_strdup(key), g_strdup(resource));
}

/* A VF takes a type as the driver would: current_vgpu_type, then the
 * vGPU manager recomputes every VF's creatable list. */
static void
set_vf_type(TestEnv *env, const char *vf, guint type)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
    g_autofree char *value = g_strdup_printf("%u\n", type);
    g_autoptr(GError) error = NULL;

    test_env_write_sysfs(env, rel, value);
    if (!fake_host_nvidia_recompute(env->sysfs, "0000:41:00.0", &error))
        fail_msg("recompute: %s", error->message);
}

/* ---- whole GPUs ------------------------------------------------------- */

static void
test_two_a10(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(OTHER_DEVICES A10_PAIR, NULL);
    VhCatalog *catalog = test_env_catalog(env, NULL);
    const VhResource *res;

    /* Only the two GPUs count: no audio function, Matrox VGA, NIC or bridge. */
    assert_int_equal(catalog->resources->len, 1);
    assert_int_equal(catalog->gpus->len, 0);
    res = lookup(catalog, "nvidia.com/GA102GL_A10");
    assert_int_equal(res->kind, VH_RESOURCE_KIND_PASSTHROUGH);
    assert_false(res->declared);
    assert_false(res->name_from_fallback);
    assert_null(res->profile);
    assert_int_equal(res->members->len, 2);
    assert_string_equal(member_address(res, 0), "0000:3b:00.0");
    assert_string_equal(member_address(res, 1), "0000:86:00.0");
    assert_counts(catalog, "nvidia.com/GA102GL_A10", 2, 2, 0);
    assert_ptr_equal(vh_catalog_resource_of_device(catalog, "0000:86:00.0"), res);
    assert_null(vh_catalog_resource_of_device(catalog, "0000:3b:00.1"));
    assert_null(vh_catalog_lookup(catalog, "nvidia.com/A10"));
}

static void
test_passthrough_holders(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR, NULL);
    g_autoptr(GHashTable) holders = holders_new();

    hold(holders, "0000:3b:00.0", "nvidia.com/GA102GL_A10");
    test_env_catalog(env, holders);
    assert_counts(env->catalog, "nvidia.com/GA102GL_A10", 2, 1, 1);
    hold(holders, "0000:86:00.0", "nvidia.com/GA102GL_A10");
    test_env_catalog(env, holders);
    assert_counts(env->catalog, "nvidia.com/GA102GL_A10", 2, 0, 2);
}

static void
test_denied(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR, "deny=0000:86:00.0\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);
    const VhResource *res = lookup(catalog, "nvidia.com/GA102GL_A10");

    assert_int_equal(res->members->len, 1);
    assert_string_equal(member_address(res, 0), "0000:3b:00.0");
    assert_counts(catalog, "nvidia.com/GA102GL_A10", 1, 1, 0);
    assert_null(vh_catalog_resource_of_device(catalog, "0000:86:00.0"));
}

static void
test_denied_everything(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR, "deny=0000:86:00.0;0000:3b:00.0\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    assert_int_equal(catalog->resources->len, 0);
    assert_null(vh_catalog_lookup(catalog, "nvidia.com/GA102GL_A10"));
}

/* deny= covers the IOMMU group: a GPU whose audio function is denied is
 * not offered either (it cannot be assigned without it). */
static void
test_denied_companion(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR, "deny=0000:3b:00.1\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    assert_true(vh_host_is_denied(env->host, "0000:3b:00.0"));
    assert_false(vh_host_is_denied(env->host, "0000:86:00.0"));
    assert_counts(catalog, "nvidia.com/GA102GL_A10", 1, 1, 0);
    assert_null(vh_catalog_resource_of_device(catalog, "0000:3b:00.0"));
}

/* deny= of an SR-IOV GPU covers its VFs. */
static void
test_denied_pf_covers_vfs(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE(""), "deny=0000:41:00.0\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    assert_true(vh_host_is_denied(env->host, VF0));
    assert_int_equal(catalog->gpus->len, 0);
    assert_null(vh_catalog_lookup(catalog, "nvidia.com/L40S-24Q"));
}

/* Two declared resources matching one device would count it twice: an
 * error naming both. */
static void
test_declared_overlap(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR,
                                          "[resource \"example.com/a\"]\n"
                                          "kind=passthrough\n"
                                          "selector=10de:2236\n"
                                          "[resource \"example.com/b\"]\n"
                                          "kind=passthrough\n"
                                          "selector=10de:2236\n"
                                          "address=0000:86:00.0\n");
    g_autoptr(GError) error = NULL;
    g_autoptr(VhHost) host = vh_host_new(env->config);
    g_autoptr(VhCatalog) catalog = vh_catalog_build(host, NULL, &error);

    assert_null(catalog);
    assert_vh_error(error, VH_ERROR_CONFIG, "resources \"example.com/a\" and \"example.com/b\" "
                    "both match device 0000:86:00.0");
}

static void
test_declared_rename(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR,
                                          "[resource \"nvidia.com/A10\"]\n"
                                          "kind=passthrough\n"
                                          "selector=10de:2236\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);
    const VhResource *res = lookup(catalog, "nvidia.com/A10");

    assert_true(res->declared);
    assert_int_equal(res->kind, VH_RESOURCE_KIND_PASSTHROUGH);
    assert_int_equal(res->members->len, 2);
    assert_counts(catalog, "nvidia.com/A10", 2, 2, 0);
    /* The automatic name is gone: the declaration took both GPUs. */
    assert_null(vh_catalog_lookup(catalog, "nvidia.com/GA102GL_A10"));
    assert_int_equal(catalog->resources->len, 1);
    assert_ptr_equal(vh_catalog_resource_of_device(catalog, "0000:3b:00.0"), res);
}

static void
test_declared_address(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR,
                                          "[resource \"nvidia.com/A10-numa0\"]\n"
                                          "kind=passthrough\n"
                                          "selector=10de:2236\n"
                                          "address=0000:3B:00.0\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    assert_counts(catalog, "nvidia.com/A10-numa0", 1, 1, 0);
    assert_string_equal(member_address(lookup(catalog, "nvidia.com/A10-numa0"), 0),
                        "0000:3b:00.0");
    /* The other GPU keeps its automatic name. */
    assert_counts(catalog, "nvidia.com/GA102GL_A10", 1, 1, 0);
    assert_string_equal(member_address(lookup(catalog, "nvidia.com/GA102GL_A10"), 0),
                        "0000:86:00.0");
}

/* A declared passthrough whose selector matches an SR-IOV vGPU GPU (PF and
 * VFs share 10de:26b9) takes a whole L40S without VFs only. */
static void
test_declared_passthrough_skips_sriov(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE("")
                                          "[device 0000:c1:00.0]\n"
                                          "ids=10de:26b9\nclass=0x030200\ndriver=nvidia\n"
                                          "iommu_group=90\n",
                                          "[resource \"example.com/l40s-whole\"]\n"
                                          "kind=passthrough\n"
                                          "selector=10de:26b9\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);
    const VhResource *res = lookup(catalog, "example.com/l40s-whole");

    assert_int_equal(res->members->len, 1);
    assert_string_equal(member_address(res, 0), "0000:c1:00.0");
    /* The SR-IOV GPU still offers its profiles. */
    assert_counts(catalog, "nvidia.com/L40S-24Q", 2, 2, 0);
}

static void
test_declared_subsystem(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR,
                                          "[resource \"nvidia.com/A10-other\"]\n"
                                          "kind=passthrough\n"
                                          "selector=10de:2236\n"
                                          "subsystem=10de:9999\n"
                                          "[resource \"nvidia.com/A10-dell\"]\n"
                                          "kind=passthrough\n"
                                          "selector=10de:2236\n"
                                          "subsystem=10de:1482\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    /* Declared but matching nothing: listed empty, takes nothing. */
    assert_counts(catalog, "nvidia.com/A10-other", 0, 0, 0);
    assert_int_equal(lookup(catalog, "nvidia.com/A10-other")->members->len, 0);
    assert_counts(catalog, "nvidia.com/A10-dell", 2, 2, 0);
    assert_null(vh_catalog_lookup(catalog, "nvidia.com/GA102GL_A10"));
}

static void
test_declared_non_nvidia(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(OTHER_DEVICES A10_PAIR,
                                          "[resource \"broadcom.com/BCM5720\"]\n"
                                          "kind=passthrough\n"
                                          "selector=14e4:165f\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);
    const VhResource *res = lookup(catalog, "broadcom.com/BCM5720");

    assert_true(res->declared);
    assert_int_equal(res->members->len, 1);
    assert_string_equal(member_address(res, 0), "0000:02:00.0");
    assert_counts(catalog, "broadcom.com/BCM5720", 1, 1, 0);
    assert_counts(catalog, "nvidia.com/GA102GL_A10", 2, 2, 0);
    assert_int_equal(catalog->resources->len, 2);
}

/* Not in the PCI IDs database: KubeVirt's bare-id name, flagged. */
static void
test_fallback_name(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR
                                          "[device 0000:c1:00.0]\n"
                                          "ids=10de:2335\n"
                                          "class=0x030200\n"
                                          "iommu_group=60\n",
                                          NULL);
    VhCatalog *catalog = test_env_catalog(env, NULL);
    const VhResource *h200 = lookup(catalog, "nvidia.com/2335");

    assert_true(h200->name_from_fallback);
    assert_int_equal(h200->kind, VH_RESOURCE_KIND_PASSTHROUGH);
    assert_counts(catalog, "nvidia.com/2335", 1, 1, 0);
    assert_false(lookup(catalog, "nvidia.com/GA102GL_A10")->name_from_fallback);
    /* sorted by name */
    assert_string_equal(((VhResource *)g_ptr_array_index(catalog->resources, 0))->name,
                        "nvidia.com/2335");
}

/* ---- SR-IOV vGPU ------------------------------------------------------ */

static void
test_l40s_idle(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE(""), NULL);
    VhCatalog *catalog = test_env_catalog(env, NULL);
    static const struct {
        const char *name;
        guint capacity;
    } table[] = {
        { "nvidia.com/L40S-1Q", 16 }, { "nvidia.com/L40S-2Q", 16 },
        { "nvidia.com/L40S-4Q", 12 }, { "nvidia.com/L40S-6Q", 8 },
        { "nvidia.com/L40S-8Q", 6 },  { "nvidia.com/L40S-12Q", 4 },
        { "nvidia.com/L40S-24Q", 2 }, { "nvidia.com/L40S-48Q", 1 },
    };
    const VhVgpuGpu *gpu;
    const VhResource *res;
    g_autofree char *cache_path = NULL;
    g_autofree char *cache = NULL;

    assert_int_equal(catalog->gpus->len, 1);
    gpu = g_ptr_array_index(catalog->gpus, 0);
    assert_string_equal(gpu->pf->address, "0000:41:00.0");
    assert_int_equal(gpu->vfs->len, 16);
    assert_int_equal(gpu->types->len, 8);
    assert_int_equal(gpu->framebuffer_gb, 48);
    assert_ptr_equal(vh_catalog_gpu_of_vf(catalog, VF0), gpu);
    assert_ptr_equal(vh_catalog_gpu_of_vf(catalog, "0000:41:02.3"), gpu);
    assert_null(vh_catalog_gpu_of_vf(catalog, "0000:41:00.0"));

    /* The PF is not offered whole while it runs vGPU. */
    assert_null(vh_catalog_lookup(catalog, "nvidia.com/26b9"));
    assert_int_equal(catalog->resources->len, G_N_ELEMENTS(table));
    for (guint i = 0; i < G_N_ELEMENTS(table); i++)
        assert_counts(catalog, table[i].name, table[i].capacity, table[i].capacity, 0);
    res = lookup(catalog, "nvidia.com/L40S-24Q");
    assert_int_equal(res->kind, VH_RESOURCE_KIND_SRIOV_VGPU);
    assert_string_equal(res->profile, "NVIDIA L40S-24Q");
    assert_int_equal(res->members->len, 16);
    assert_ptr_equal(((VhResourceMember *)g_ptr_array_index(res->members, 0))->gpu, gpu);
    /* An idle VF belongs to no resource yet. */
    assert_null(vh_catalog_resource_of_device(catalog, VF0));

    /* Reading writes nothing; a writer remembers the full table, keyed by
     * driver version and device id, outside the state directory. */
    cache_path = g_build_filename(env->dir, "cache", "types", "unknown", "10de-26b9.types", NULL);
    assert_false(g_file_test(cache_path, G_FILE_TEST_EXISTS));
    assert_false(g_file_test(env->state, G_FILE_TEST_EXISTS) &&
                 g_file_test(g_build_filename(env->state, "gpus", NULL), G_FILE_TEST_EXISTS));
    test_env_remember_types(env);
    assert_true(g_file_get_contents(cache_path, &cache, NULL, NULL));
    assert_contains(cache, "1155 : NVIDIA L40S-1Q\n");
    assert_contains(cache, "1162 : NVIDIA L40S-48Q\n");
}

/* Busy from the first look, with no remembered table: the VFs list only what
 * is left (24Q), yet the GPU must not be taken for a 24 GB one. */
static void
test_l40s_preset_no_cache(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE("vf_types=0:1161\n"), NULL);
    g_autoptr(GHashTable) holders = holders_new();
    VhCatalog *catalog = test_env_catalog(env, NULL);
    const VhVgpuGpu *gpu = g_ptr_array_index(catalog->gpus, 0);
    g_autoptr(GError) error = NULL;
    VhPciDevice *vf1 = g_hash_table_lookup(env->host->by_address, VF1);

    assert_int_equal(gpu->framebuffer_gb, 48);
    /* VF0 holds 24Q but nobody leases it: it can be handed out, and there
     * is room for one more. */
    assert_counts(catalog, "nvidia.com/L40S-24Q", 2, 2, 0);
    assert_true(vh_vgpu_gpu_can_take(gpu, vf1, "L40S-24Q", NULL, catalog, &error));
    assert_no_error(error);

    hold(holders, VF0, "nvidia.com/L40S-24Q");
    catalog = test_env_catalog(env, holders);
    assert_counts(catalog, "nvidia.com/L40S-24Q", 2, 1, 1);
}

static void
test_l40s_one_24q(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE(""), NULL);
    g_autoptr(GHashTable) holders = holders_new();
    VhCatalog *catalog;
    VhPciDevice *vf0;

    test_env_remember_types(env); /* what a writer does while the GPU is idle */
    set_vf_type(env, VF0, 1161);
    catalog = test_env_catalog(env, NULL);
    vf0 = g_hash_table_lookup(env->host->by_address, VF0);
    assert_int_equal(vf0->current_vgpu_type, 1161);
    assert_string_equal(vh_catalog_vf_profile(catalog, vf0), "NVIDIA L40S-24Q");
    assert_ptr_equal(vh_catalog_resource_of_device(catalog, VF0),
                     lookup(catalog, "nvidia.com/L40S-24Q"));
    assert_int_equal(((VhVgpuGpu *)g_ptr_array_index(catalog->gpus, 0))->types->len, 8);

    /* Unleased, VF0 is itself allocatable (a boot-time profile), plus one
     * more 24Q; homogeneous mode: nothing of another size. */
    assert_counts(catalog, "nvidia.com/L40S-24Q", 2, 2, 0);
    assert_counts(catalog, "nvidia.com/L40S-12Q", 4, 0, 0);
    assert_counts(catalog, "nvidia.com/L40S-1Q", 16, 0, 0);
    assert_counts(catalog, "nvidia.com/L40S-48Q", 1, 0, 0);

    /* Held by a domain: one 24Q left, still no 12Q. */
    hold(holders, VF0, "nvidia.com/L40S-24Q");
    catalog = test_env_catalog(env, holders);
    assert_counts(catalog, "nvidia.com/L40S-24Q", 2, 1, 1);
    assert_counts(catalog, "nvidia.com/L40S-12Q", 4, 0, 0);
}

static void
test_l40s_both_24q(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE(""), NULL);
    g_autoptr(GHashTable) holders = holders_new();
    VhCatalog *catalog;

    test_env_remember_types(env);
    set_vf_type(env, VF0, 1161);
    set_vf_type(env, VF1, 1161);
    catalog = test_env_catalog(env, NULL);
    /* The GPU is full: only the two VFs that hold 24Q can be handed out. */
    assert_counts(catalog, "nvidia.com/L40S-24Q", 2, 2, 0);
    assert_counts(catalog, "nvidia.com/L40S-1Q", 16, 0, 0);

    hold(holders, VF0, "nvidia.com/L40S-24Q");
    hold(holders, VF1, "nvidia.com/L40S-24Q");
    catalog = test_env_catalog(env, holders);
    assert_counts(catalog, "nvidia.com/L40S-24Q", 2, 0, 2);
}

static void
test_l40s_both_24q_leased_only(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE(""), NULL);
    g_autoptr(GHashTable) holders = holders_new();
    VhCatalog *catalog;

    /* Leased, not yet prepared: the VFs hold nothing in sysfs yet. */
    hold(holders, VF0, "nvidia.com/L40S-24Q");
    catalog = test_env_catalog(env, holders);
    assert_counts(catalog, "nvidia.com/L40S-24Q", 2, 1, 1);
    assert_counts(catalog, "nvidia.com/L40S-12Q", 4, 0, 0);
    assert_counts(catalog, "nvidia.com/L40S-48Q", 1, 0, 0);
    hold(holders, VF1, "nvidia.com/L40S-24Q");
    catalog = test_env_catalog(env, holders);
    assert_counts(catalog, "nvidia.com/L40S-24Q", 2, 0, 2);
}

static void
test_l40s_small_profiles(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE(""), NULL);
    g_autoptr(GHashTable) holders = holders_new();
    VhCatalog *catalog;

    test_env_remember_types(env);
    set_vf_type(env, VF0, 1160); /* 12Q */
    set_vf_type(env, VF1, 1160);
    set_vf_type(env, VF2, 1160);
    hold(holders, VF0, "nvidia.com/L40S-12Q");
    catalog = test_env_catalog(env, holders);
    /* 36 of 48 GB used: one more 12Q slot, plus the two unleased holders. */
    assert_counts(catalog, "nvidia.com/L40S-12Q", 4, 3, 1);
    assert_counts(catalog, "nvidia.com/L40S-24Q", 2, 0, 0);
}

static void
test_l40s_denied_vf(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE(""), "deny=" VF0 "\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    assert_int_equal(((VhVgpuGpu *)g_ptr_array_index(catalog->gpus, 0))->vfs->len, 15);
    assert_counts(catalog, "nvidia.com/L40S-1Q", 15, 15, 0);
    assert_counts(catalog, "nvidia.com/L40S-24Q", 2, 2, 0);
    assert_null(vh_catalog_gpu_of_vf(catalog, VF0));
}

static void
test_l40s_denied_pf(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE(""), "deny=0000:41:00.0\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    assert_int_equal(catalog->gpus->len, 0);
    assert_int_equal(catalog->resources->len, 0);
}

static void
test_l40s_declared(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE(""),
                                          "[resource \"nvidia.com/vws-large\"]\n"
                                          "kind=sriov-vgpu\n"
                                          "selector=10de:26b9\n"
                                          "profile=L40S-24Q\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);
    const VhResource *res = lookup(catalog, "nvidia.com/vws-large");

    assert_true(res->declared);
    assert_int_equal(res->kind, VH_RESOURCE_KIND_SRIOV_VGPU);
    assert_int_equal(res->members->len, 16);
    assert_counts(catalog, "nvidia.com/vws-large", 2, 2, 0);
    assert_null(vh_catalog_lookup(catalog, "nvidia.com/L40S-24Q"));
    assert_counts(catalog, "nvidia.com/L40S-12Q", 4, 4, 0);
}

/* A declared profile the GPU does not offer takes no VF. */
static void
test_l40s_declared_unknown_profile(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE(""),
                                          "[resource \"nvidia.com/typo\"]\n"
                                          "kind=sriov-vgpu\n"
                                          "selector=10de:26b9\n"
                                          "profile=L40S-25Q\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    assert_counts(catalog, "nvidia.com/typo", 0, 0, 0);
    assert_counts(catalog, "nvidia.com/L40S-24Q", 2, 2, 0);
}

/* ---- vh_vgpu_gpu_can_take ----------------------------------------------- */

static void
can_take_fails(VhCatalog *catalog, const char *vf_addr, const char *profile,
               VhHolders *holders, gint code, const char *message)
{
    VhPciDevice *vf = g_hash_table_lookup(catalog->host->by_address, vf_addr);
    const VhVgpuGpu *gpu = vh_catalog_gpu_of_vf(catalog, vf_addr);
    g_autoptr(GError) error = NULL;

    assert_non_null(vf);
    assert_non_null(gpu);
    if (vh_vgpu_gpu_can_take(gpu, vf, profile, holders, catalog, &error))
        fail_msg("%s could take %s", vf_addr, profile);
    assert_vh_error(error, code, message);
}

static void
can_take_ok(VhCatalog *catalog, const char *vf_addr, const char *profile, VhHolders *holders)
{
    VhPciDevice *vf = g_hash_table_lookup(catalog->host->by_address, vf_addr);
    g_autoptr(GError) error = NULL;

    if (!vh_vgpu_gpu_can_take(vh_catalog_gpu_of_vf(catalog, vf_addr), vf, profile, holders,
                              catalog, &error))
        fail_msg("%s cannot take %s: %s", vf_addr, profile, error->message);
}

static void
test_can_take(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE(""), NULL);
    g_autoptr(GHashTable) holders = holders_new();
    VhCatalog *catalog;

    test_env_remember_types(env);
    catalog = test_env_catalog(env, NULL);
    can_take_ok(catalog, VF0, "L40S-24Q", NULL);
    can_take_ok(catalog, VF0, "NVIDIA L40S-1Q", NULL);
    can_take_fails(catalog, VF0, "L40S-5Q", NULL, VH_ERROR_UNSUPPORTED,
                   "GPU 0000:41:00.0 does not offer L40S-5Q");

    set_vf_type(env, VF0, 1161);
    catalog = test_env_catalog(env, NULL);
    can_take_ok(catalog, VF0, "L40S-24Q", NULL); /* already holds it */
    can_take_ok(catalog, VF1, "L40S-24Q", NULL);
    can_take_fails(catalog, VF0, "L40S-12Q", NULL, VH_ERROR_BUSY,
                   "VF 0000:41:00.4 already holds L40S-24Q");
    can_take_fails(catalog, VF1, "L40S-12Q", NULL, VH_ERROR_NO_CAPACITY,
                   "GPU 0000:41:00.0 runs one profile size at a time and VF 0000:41:00.4 "
                   "holds L40S-24Q");

    /* A lease counts as holding, before the profile is written. */
    hold(holders, VF1, "nvidia.com/L40S-24Q");
    catalog = test_env_catalog(env, holders);
    can_take_fails(catalog, VF1, "L40S-12Q", holders, VH_ERROR_BUSY,
                   "VF 0000:41:00.5 already holds L40S-24Q");
    can_take_fails(catalog, VF2, "L40S-24Q", holders, VH_ERROR_NO_CAPACITY,
                   "GPU 0000:41:00.0 has no framebuffer left for L40S-24Q (48 of 48 GB taken)");
}

static void
test_can_take_driver_refuses(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE(""), NULL);
    VhCatalog *catalog;

    test_env_remember_types(env);
    /* The driver has the last word on what a VF can take. */
    test_env_write_sysfs(env, "bus/pci/devices/" VF3 "/nvidia/creatable_vgpu_types",
                         "ID    : vGPU Name\n1155  : NVIDIA L40S-1Q\n");
    catalog = test_env_catalog(env, NULL);
    can_take_ok(catalog, VF3, "L40S-1Q", NULL);
    can_take_fails(catalog, VF3, "L40S-24Q", NULL, VH_ERROR_NO_CAPACITY,
                   "the driver does not list L40S-24Q as creatable on VF 0000:41:00.7");
}

/* [gpu "ADDR"] vgpu_mode=mixed: sizes side by side, limited by slots; the
 * mode cannot change while a VF holds a type. */
static void
test_can_take_mixed_mode(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE("vgpu_mode=mixed\n"),
                                          "[gpu \"0000:41:00.0\"]\nvgpu_mode=mixed\n");
    VhCatalog *catalog;
    const VhVgpuGpu *gpu;
    g_autoptr(GError) error = NULL;

    test_env_remember_types(env);
    set_vf_type(env, VF0, 1161); /* 24Q */
    set_vf_type(env, VF1, 1160); /* 12Q */
    catalog = test_env_catalog(env, NULL);
    gpu = g_ptr_array_index(catalog->gpus, 0);
    assert_int_equal(gpu->mode, VH_VGPU_MODE_MIXED);
    can_take_ok(catalog, VF2, "L40S-12Q", NULL);
    can_take_ok(catalog, VF2, "L40S-4Q", NULL);
    can_take_fails(catalog, VF2, "L40S-24Q", NULL, VH_ERROR_NO_CAPACITY,
                   "GPU 0000:41:00.0 (mixed-size mode) has no free placement slots for "
                   "L40S-24Q (36 of 48 slots taken, it needs 24)");
    assert_false(vh_vgpu_gpu_check_mode_change(gpu, VH_VGPU_MODE_EQUAL, &error));
    assert_vh_error(error, VH_ERROR_BUSY, "GPU 0000:41:00.0 cannot change to equal-size mode "
                    "while its VFs hold types");
    assert_contains(error->message, "VF 0000:41:00.4 holds L40S-24Q, VF 0000:41:00.5 holds "
                    "L40S-12Q");
    assert_true(vh_vgpu_gpu_check_mode_change(gpu, VH_VGPU_MODE_MIXED, NULL));
}

static void
test_can_take_unknown_type(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY L40S_DEVICE(""), NULL);
    VhCatalog *catalog;

    test_env_remember_types(env);
    /* A type id no VF and no remembered table knows. */
    test_env_write_sysfs(env, "bus/pci/devices/" VF0 "/nvidia/current_vgpu_type", "4242\n");
    catalog = test_env_catalog(env, NULL);
    can_take_fails(catalog, VF0, "L40S-24Q", NULL, VH_ERROR_BUSY,
                   "VF 0000:41:00.4 already holds a type this driver does not list");
    can_take_fails(catalog, VF1, "L40S-24Q", NULL, VH_ERROR_NO_CAPACITY,
                   "VF 0000:41:00.4 holds an unknown type");
    assert_null(vh_catalog_vf_profile(catalog,
                                      g_hash_table_lookup(env->host->by_address, VF0)));
}

/* ---- mdev ---------------------------------------------------------------- */

static void
test_mdev(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(T4_FAMILY T4_DEVICE, NULL);
    VhCatalog *catalog = test_env_catalog(env, NULL);
    const VhResource *res = lookup(catalog, "nvidia.com/GRID_T4-1Q");
    const VhResourceMember *m;

    assert_int_equal(res->kind, VH_RESOURCE_KIND_MDEV);
    assert_string_equal(res->profile, "GRID T4-1Q");
    assert_int_equal(res->members->len, 1);
    m = g_ptr_array_index(res->members, 0);
    assert_string_equal(m->device->address, "0000:af:00.0");
    assert_string_equal(m->mdev_type_id, "nvidia-230");
    assert_counts(catalog, "nvidia.com/GRID_T4-1Q", 16, 16, 0);
    assert_counts(catalog, "nvidia.com/GRID_T4-1B", 16, 16, 0);
    assert_counts(catalog, "nvidia.com/GRID_T4-2Q", 8, 8, 0);
    assert_counts(catalog, "nvidia.com/GRID_T4-16Q", 1, 1, 0);
    /* An mdev parent is not also offered whole. */
    assert_null(vh_catalog_lookup(catalog, "nvidia.com/TU104GL_TESLA_T4"));
    assert_int_equal(catalog->resources->len, 4);
}

/* A garbled name from the driver is not turned into a resource name: the
 * type is offered under its id instead. */
static void
test_mdev_garbled_name(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(T4_FAMILY T4_DEVICE, NULL);
    VhCatalog *catalog;

    test_env_write_sysfs(env, "devices/pci0000:00/0000:af:00.0/mdev_supported_types/"
                              "nvidia-230/name", "GRID T4-1Q\377\n");
    catalog = test_env_catalog(env, NULL);
    assert_null(vh_catalog_lookup(catalog, "nvidia.com/GRID_T4-1Q"));
    assert_counts(catalog, "nvidia.com/nvidia-230", 16, 16, 0);
    for (guint i = 0; i < catalog->resources->len; i++) {
        const VhResource *res = g_ptr_array_index(catalog->resources, i);
        assert_true(vh_resource_name_is_valid(res->name));
    }
}

static void
test_mdev_instances(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(T4_FAMILY T4_DEVICE, NULL);
    g_autoptr(GHashTable) holders = holders_new();
    g_autofree char *inst = NULL;
    const char *types = "devices/pci0000:00/0000:af:00.0/mdev_supported_types";
    g_autofree char *avail = g_strdup_printf("%s/nvidia-230/available_instances", types);
    g_autofree char *other = g_strdup_printf("%s/nvidia-231/available_instances", types);

    /* One 1Q created (and leased): the driver counts it out of available. */
    inst = g_build_filename(env->sysfs, types, "nvidia-230/devices", UUID_A, NULL);
    assert_int_equal(g_mkdir_with_parents(inst, 0755), 0);
    test_env_write_sysfs(env, avail, "15\n");
    test_env_write_sysfs(env, other, "0\n"); /* one type per GPU at a time */
    test_env_remember_types(env);
    assert_counts(env->catalog, "nvidia.com/GRID_T4-1Q", 16, 15, 0);
    assert_counts(env->catalog, "nvidia.com/GRID_T4-2Q", 0, 0, 0);

    hold(holders, UUID_A, "nvidia.com/GRID_T4-1Q");
    test_env_catalog(env, holders);
    assert_counts(env->catalog, "nvidia.com/GRID_T4-1Q", 16, 15, 1);

    /* A lease whose mdev is not created yet still takes a slot. */
    hold(holders, UUID_B, "nvidia.com/GRID_T4-1Q");
    test_env_catalog(env, holders);
    assert_counts(env->catalog, "nvidia.com/GRID_T4-1Q", 16, 14, 2);
}

static void
test_mdev_declared(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(T4_FAMILY T4_DEVICE,
                                          "[resource \"nvidia.com/t4-small\"]\n"
                                          "kind=mdev\n"
                                          "selector=10de:1eb8\n"
                                          "profile=GRID T4-1Q\n"
                                          "[resource \"nvidia.com/t4-large\"]\n"
                                          "kind=mdev\n"
                                          "selector=10de:1eb8\n"
                                          "profile=nvidia-234\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    assert_counts(catalog, "nvidia.com/t4-small", 16, 16, 0);
    assert_counts(catalog, "nvidia.com/t4-large", 1, 1, 0);
    assert_true(lookup(catalog, "nvidia.com/t4-large")->declared);
    /* Declaring by name or by type id renames: no double listing. */
    assert_null(vh_catalog_lookup(catalog, "nvidia.com/GRID_T4-1Q"));
    assert_null(vh_catalog_lookup(catalog, "nvidia.com/GRID_T4-16Q"));
    assert_counts(catalog, "nvidia.com/GRID_T4-2Q", 8, 8, 0);
}

/* ---- a whole demo-like host ------------------------------------------------ */

static void
test_demo_like(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY T4_FAMILY OTHER_DEVICES A10_PAIR
                                          L40S_DEVICE("") T4_DEVICE,
                                          "deny=0000:03:00.0\n");
    VhCatalog *catalog = test_env_catalog(env, NULL);

    /* 1 whole-GPU name, 8 SR-IOV profiles, 4 mdev types */
    assert_int_equal(catalog->resources->len, 13);
    for (guint i = 1; i < catalog->resources->len; i++) {
        const VhResource *a = g_ptr_array_index(catalog->resources, i - 1);
        const VhResource *b = g_ptr_array_index(catalog->resources, i);
        assert_true(strcmp(a->name, b->name) < 0);
    }
    assert_counts(catalog, "nvidia.com/GA102GL_A10", 2, 2, 0);
    assert_counts(catalog, "nvidia.com/L40S-24Q", 2, 2, 0);
    assert_counts(catalog, "nvidia.com/GRID_T4-1Q", 16, 16, 0);
}

static void
test_build_scans(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VhCatalog) catalog = NULL;
    g_autoptr(TestEnv) empty = test_env_new(NULL, NULL);
    g_autoptr(VhCatalog) none = NULL;

    /* An unscanned host is scanned first. */
    catalog = vh_catalog_build(env->host, NULL, &error);
    assert_no_error(error);
    assert_true(env->host->scanned);
    assert_counts(catalog, "nvidia.com/GA102GL_A10", 2, 2, 0);

    none = vh_catalog_build(empty->host, NULL, &error);
    assert_null(none);
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "cannot list PCI devices");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_a10),
        cmocka_unit_test(test_passthrough_holders),
        cmocka_unit_test(test_declared_passthrough_skips_sriov),
        cmocka_unit_test(test_denied),
        cmocka_unit_test(test_denied_everything),
        cmocka_unit_test(test_denied_companion),
        cmocka_unit_test(test_denied_pf_covers_vfs),
        cmocka_unit_test(test_declared_overlap),
        cmocka_unit_test(test_declared_rename),
        cmocka_unit_test(test_declared_address),
        cmocka_unit_test(test_declared_subsystem),
        cmocka_unit_test(test_declared_non_nvidia),
        cmocka_unit_test(test_fallback_name),
        cmocka_unit_test(test_l40s_idle),
        cmocka_unit_test(test_l40s_preset_no_cache),
        cmocka_unit_test(test_l40s_one_24q),
        cmocka_unit_test(test_l40s_both_24q),
        cmocka_unit_test(test_l40s_both_24q_leased_only),
        cmocka_unit_test(test_l40s_small_profiles),
        cmocka_unit_test(test_l40s_denied_vf),
        cmocka_unit_test(test_l40s_denied_pf),
        cmocka_unit_test(test_l40s_declared),
        cmocka_unit_test(test_l40s_declared_unknown_profile),
        cmocka_unit_test(test_can_take),
        cmocka_unit_test(test_can_take_driver_refuses),
        cmocka_unit_test(test_can_take_unknown_type),
        cmocka_unit_test(test_can_take_mixed_mode),
        cmocka_unit_test(test_mdev),
        cmocka_unit_test(test_mdev_garbled_name),
        cmocka_unit_test(test_mdev_instances),
        cmocka_unit_test(test_mdev_declared),
        cmocka_unit_test(test_demo_like),
        cmocka_unit_test(test_build_scans),
    };

    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

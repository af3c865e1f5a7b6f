/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-host: device discovery on small fake trees. */
#include "test-common.h"

/* Two whole GPUs (one with its audio function), a host bridge, an L40S with
 * twelve VFs (enough to catch virtfn10 sorted before virtfn2) of which VF 1
 * holds a profile, and a T4 mdev parent. */
static const char host_ini[] =
    "[vgpu-family L40S]\n"
    "framebuffer_gb=48\n"
    "types=1155:NVIDIA L40S-1Q;1160:NVIDIA L40S-12Q;1161:NVIDIA L40S-24Q;1162:NVIDIA L40S-48Q\n"
    "\n"
    "[mdev-family T4]\n"
    "types=nvidia-230:GRID T4-1Q:16;nvidia-222:GRID T4-1B:16;nvidia-234:GRID T4-16Q:1\n"
    "\n"
    "[device 0000:00:00.0]\n"
    "ids=8086:2020\n"
    "class=0x060000\n"
    "iommu_group=0\n"
    "\n"
    "[device 0000:3b:00.0]\n"
    "ids=10de:2236\n"
    "subsystem=10de:1482\n"
    "class=0x030200\n"
    "driver=nvidia\n"
    "iommu_group=20\n"
    "numa_node=0\n"
    "\n"
    "[device 0000:3b:00.1]\n"
    "ids=10de:1aef\n"
    "subsystem=10de:1482\n"
    "class=0x040300\n"
    "driver=snd_hda_intel\n"
    "iommu_group=20\n"
    "numa_node=0\n"
    "\n"
    "[device 0000:86:00.0]\n"
    "ids=10de:2236\n"
    "class=0x030200\n"
    "driver=vfio-pci\n"
    "iommu_group=21\n"
    "numa_node=1\n"
    "\n"
    "[device 0000:41:00.0]\n"
    "ids=10de:26b9\n"
    "subsystem=10de:1851\n"
    "class=0x030200\n"
    "driver=nvidia\n"
    "iommu_group=30\n"
    "sriov_totalvfs=32\n"
    "sriov_numvfs=12\n"
    "vgpu_family=L40S\n"
    "vf_types=1:1161\n"
    "\n"
    "[device 0000:af:00.0]\n"
    "ids=10de:1eb8\n"
    "class=0x030200\n"
    "driver=nvidia\n"
    "iommu_group=50\n"
    "mdev_family=T4\n";

/* VF i of 0000:41:00.0 is at devfn 4 + i. */
static const char *const l40s_vfs[] = {
    "0000:41:00.4", "0000:41:00.5", "0000:41:00.6", "0000:41:00.7",
    "0000:41:01.0", "0000:41:01.1", "0000:41:01.2", "0000:41:01.3",
    "0000:41:01.4", "0000:41:01.5", "0000:41:01.6", "0000:41:01.7",
};

static VhPciDevice *
get(TestEnv *env, const char *address)
{
    g_autoptr(GError) error = NULL;
    VhPciDevice *dev = vh_host_get_device(env->host, address, &error);

    if (dev == NULL)
        fail_msg("%s: %s", address, error->message);
    return dev;
}

static void
test_scan(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    static const char *const expected[] = {
        "0000:00:00.0", "0000:3b:00.0", "0000:3b:00.1",
        "0000:41:00.0", "0000:41:00.4", "0000:41:00.5", "0000:41:00.6", "0000:41:00.7",
        "0000:41:01.0", "0000:41:01.1", "0000:41:01.2", "0000:41:01.3",
        "0000:41:01.4", "0000:41:01.5", "0000:41:01.6", "0000:41:01.7",
        "0000:86:00.0", "0000:af:00.0",
    };

    assert_false(env->host->scanned);
    test_env_scan(env);
    assert_true(env->host->scanned);
    assert_int_equal(env->host->devices->len, G_N_ELEMENTS(expected));
    for (guint i = 0; i < G_N_ELEMENTS(expected); i++) {
        const VhPciDevice *dev = g_ptr_array_index(env->host->devices, i);
        assert_string_equal(dev->address, expected[i]);
        assert_ptr_equal(g_hash_table_lookup(env->host->by_address, expected[i]), dev);
    }
    /* A second scan adds nothing twice. */
    test_env_scan(env);
    assert_int_equal(env->host->devices->len, G_N_ELEMENTS(expected));
}

static void
test_identity(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    VhPciDevice *gpu, *audio, *bridge, *vfio;

    test_env_scan(env);
    gpu = get(env, "0000:3b:00.0");
    assert_int_equal(gpu->vendor, 0x10de);
    assert_int_equal(gpu->device, 0x2236);
    assert_int_equal(gpu->subsystem_vendor, 0x10de);
    assert_int_equal(gpu->subsystem_device, 0x1482);
    assert_int_equal(gpu->class_code, 0x030200);
    assert_string_equal(gpu->driver, "nvidia");
    assert_null(gpu->driver_override); /* "(null)" in sysfs */
    assert_int_equal(gpu->iommu_group, 20);
    assert_int_equal(gpu->numa_node, 0);
    assert_true(vh_pci_device_is_display(gpu));
    assert_false(vh_pci_device_is_bridge(gpu));
    assert_false(vh_pci_device_is_vf(gpu));
    assert_false(vh_pci_device_is_pf(gpu));
    assert_int_equal(gpu->sriov_totalvfs, -1);
    assert_int_equal(gpu->sriov_numvfs, -1);
    assert_null(gpu->physfn);
    assert_int_equal(gpu->virtfns->len, 0);
    assert_false(gpu->has_vgpu);
    assert_null(gpu->creatable_types);
    assert_null(gpu->mdev_types);

    audio = get(env, "0000:3b:00.1");
    assert_int_equal(audio->device, 0x1aef);
    assert_int_equal(audio->class_code, 0x040300);
    assert_string_equal(audio->driver, "snd_hda_intel");
    assert_false(vh_pci_device_is_display(audio));

    bridge = get(env, "0000:00:00.0");
    assert_int_equal(bridge->vendor, 0x8086);
    assert_null(bridge->driver);
    assert_int_equal(bridge->subsystem_vendor, 0);
    assert_int_equal(bridge->numa_node, -1);
    assert_true(vh_pci_device_is_bridge(bridge));

    vfio = get(env, "0000:86:00.0");
    assert_string_equal(vfio->driver, "vfio-pci");
    assert_int_equal(vfio->numa_node, 1);
    assert_int_equal(vfio->iommu_group, 21);
}

static void
test_driver_override(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    VhPciDevice *dev;

    test_env_scan(env);
    assert_null(get(env, "0000:3b:00.0")->driver_override);
    test_env_write_sysfs(env, "bus/pci/devices/0000:3b:00.0/driver_override", "vfio-pci\n");
    /* Cached until invalidated. */
    assert_null(get(env, "0000:3b:00.0")->driver_override);
    vh_host_invalidate(env->host, "0000:3b:00.0");
    assert_null(g_hash_table_lookup(env->host->by_address, "0000:3b:00.0"));
    dev = get(env, "0000:3b:00.0");
    assert_string_equal(dev->driver_override, "vfio-pci");
    assert_ptr_equal(g_hash_table_lookup(env->host->by_address, "0000:3b:00.0"), dev);
    /* Invalidating an unknown address is harmless. */
    vh_host_invalidate(env->host, "0000:99:00.0");
}

static void
test_get_device(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(GError) error = NULL;
    VhPciDevice *dev;

    /* Without a scan: loaded on demand, under its canonical address. */
    dev = get(env, "0000:3B:00.0");
    assert_string_equal(dev->address, "0000:3b:00.0");
    assert_int_equal(env->host->devices->len, 1);
    assert_ptr_equal(get(env, "0000:3b:00.0"), dev);
    assert_int_equal(env->host->devices->len, 1);

    assert_null(vh_host_get_device(env->host, "0000:3b:00.7", &error));
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "no PCI device 0000:3b:00.7");
    g_clear_error(&error);
    assert_null(vh_host_get_device(env->host, "0000:3b:00.0/../../x", &error));
    assert_vh_error(error, VH_ERROR_INVALID, "is not a PCI address");
}

static void
test_iommu_groups(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(GPtrArray) g20 = NULL;
    g_autoptr(GPtrArray) g21 = NULL;
    g_autoptr(GPtrArray) none = NULL;
    g_autoptr(GPtrArray) missing = NULL;
    g_autoptr(GError) error = NULL;

    test_env_scan(env);
    assert_true(vh_host_iommu_enabled(env->host));
    g20 = vh_host_iommu_group_members(env->host, 20, &error);
    assert_no_error(error);
    assert_int_equal(g20->len, 2);
    assert_string_equal(g_ptr_array_index(g20, 0), "0000:3b:00.0");
    assert_string_equal(g_ptr_array_index(g20, 1), "0000:3b:00.1");
    g21 = vh_host_iommu_group_members(env->host, 21, &error);
    assert_no_error(error);
    assert_int_equal(g21->len, 1);
    assert_string_equal(g_ptr_array_index(g21, 0), "0000:86:00.0");

    none = vh_host_iommu_group_members(env->host, -1, &error);
    assert_null(none);
    assert_vh_error(error, VH_ERROR_UNSUPPORTED, "no IOMMU group");
    g_clear_error(&error);
    missing = vh_host_iommu_group_members(env->host, 99, &error);
    assert_null(missing);
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "iommu_groups/99");
}

static void
test_no_iommu(void **state)
{
    g_autoptr(TestEnv) env = test_env_new("[host]\n"
                                          "iommu=false\n"
                                          "[device 0000:3b:00.0]\n"
                                          "ids=10de:2236\n"
                                          "class=0x030200\n"
                                          "iommu_group=20\n",
                                          NULL);

    test_env_scan(env);
    assert_false(vh_host_iommu_enabled(env->host));
    assert_int_equal(get(env, "0000:3b:00.0")->iommu_group, -1);
}

static void
test_sriov(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    VhPciDevice *pf;

    test_env_scan(env);
    pf = get(env, "0000:41:00.0");
    assert_true(vh_pci_device_is_pf(pf));
    assert_false(vh_pci_device_is_vf(pf));
    assert_int_equal(pf->sriov_totalvfs, 32);
    assert_int_equal(pf->sriov_numvfs, 12);
    assert_false(pf->has_vgpu);
    /* By VF index: virtfn10 after virtfn9, not after virtfn1. */
    assert_int_equal(pf->virtfns->len, G_N_ELEMENTS(l40s_vfs));
    for (guint i = 0; i < G_N_ELEMENTS(l40s_vfs); i++)
        assert_string_equal(g_ptr_array_index(pf->virtfns, i), l40s_vfs[i]);

    for (guint i = 0; i < G_N_ELEMENTS(l40s_vfs); i++) {
        VhPciDevice *vf = get(env, l40s_vfs[i]);
        assert_true(vh_pci_device_is_vf(vf));
        assert_false(vh_pci_device_is_pf(vf));
        assert_string_equal(vf->physfn, "0000:41:00.0");
        /* VF and PF share the vendor:device tuple. */
        assert_int_equal(vf->vendor, 0x10de);
        assert_int_equal(vf->device, 0x26b9);
        assert_int_equal(vf->iommu_group, 31 + (gint)i);
        assert_int_equal(vf->sriov_totalvfs, -1);
    }
}

static void
test_vgpu_state(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    VhPciDevice *vf0, *vf1, *vf10;

    test_env_scan(env);
    /* VF 1 holds 24Q; every VF lists only 24Q (one slot left): NVIDIA's
     * driver keeps listing on a VF that holds a type. */
    vf1 = get(env, "0000:41:00.5");
    assert_true(vf1->has_vgpu);
    assert_null(vf1->vgpu_error);
    assert_int_equal(vf1->current_vgpu_type, 1161);
    assert_non_null(vf1->creatable_types);
    assert_int_equal(vf1->creatable_types->len, 1);

    vf0 = get(env, "0000:41:00.4");
    assert_true(vf0->has_vgpu);
    assert_int_equal(vf0->current_vgpu_type, 0);
    assert_int_equal(vf0->creatable_types->len, 1);
    assert_int_equal(((VhVgpuType *)g_ptr_array_index(vf0->creatable_types, 0))->id, 1161);
    assert_string_equal(((VhVgpuType *)g_ptr_array_index(vf0->creatable_types, 0))->name,
                        "NVIDIA L40S-24Q");
    vf10 = get(env, "0000:41:01.6");
    assert_int_equal(vf10->creatable_types->len, 1);

    /* Release VF 1 the way the driver would: all types come back. */
    test_env_write_sysfs(env, "bus/pci/devices/0000:41:00.5/nvidia/current_vgpu_type", "0\n");
    {
        g_autoptr(GError) error = NULL;
        assert_true(fake_host_nvidia_recompute(env->sysfs, "0000:41:00.0", &error));
        assert_true(vh_pci_device_reload_vgpu(vf0, env->host->sysfs, &error));
        assert_no_error(error);
    }
    assert_int_equal(vf0->creatable_types->len, 4);
    assert_string_equal(((VhVgpuType *)g_ptr_array_index(vf0->creatable_types, 3))->name,
                        "NVIDIA L40S-48Q");
}

/* The hook's start path reads a GPU's other VFs partially: only their vGPU
 * files. Asked whole later (or by a scan), the same device is completed in
 * place; a refresh re-reads the vGPU files and nothing else. */
static void
test_vgpu_state_partial(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(GError) error = NULL;
    VhPciDevice *vf1, *vf2, *again;

    vf1 = vh_host_get_vgpu_state(env->host, "0000:41:00.5", &error);
    assert_no_error(error);
    assert_non_null(vf1);
    assert_true(vf1->partial);
    assert_true(vf1->has_vgpu);
    assert_int_equal(vf1->current_vgpu_type, 1161);
    assert_int_equal(vf1->creatable_types->len, 1);
    assert_int_equal(vf1->vendor, 0);          /* not read */
    assert_null(vf1->driver);
    assert_null(vf1->physfn);
    assert_int_equal(vf1->iommu_group, -1);
    /* asked again: the same device, not read twice */
    assert_ptr_equal(vh_host_get_vgpu_state(env->host, "0000:41:00.5", NULL), vf1);
    /* asked whole: completed in place, the vGPU state as the files say */
    again = get(env, "0000:41:00.5");
    assert_ptr_equal(again, vf1);
    assert_false(vf1->partial);
    assert_int_equal(vf1->vendor, 0x10de);
    assert_string_equal(vf1->physfn, "0000:41:00.0");
    assert_int_equal(vf1->current_vgpu_type, 1161);
    assert_int_equal(vf1->creatable_types->len, 1);
    /* a device already whole is returned as it is */
    assert_ptr_equal(vh_host_get_vgpu_state(env->host, "0000:41:00.5", NULL), vf1);
    assert_false(vf1->partial);

    /* a scan completes what was read partially, without a second entry */
    vf2 = vh_host_get_vgpu_state(env->host, "0000:41:00.6", NULL);
    assert_true(vf2->partial);
    test_env_scan(env);
    assert_false(vf2->partial);
    assert_int_equal(vf2->device, ((VhPciDevice *)get(env, "0000:41:00.0"))->device);
    assert_ptr_equal(g_hash_table_lookup(env->host->by_address, "0000:41:00.6"), vf2);
    assert_int_equal(env->host->devices->len, 18);

    /* a refresh re-reads current_vgpu_type (what a write changes) and not
     * the ids (which no profile write changes) */
    test_env_write_sysfs(env, "bus/pci/devices/0000:41:00.6/nvidia/current_vgpu_type", "1161\n");
    test_env_write_sysfs(env, "bus/pci/devices/0000:41:00.6/vendor", "0x8086\n");
    assert_ptr_equal(vh_host_refresh_vgpu(env->host, "0000:41:00.6", &error), vf2);
    assert_no_error(error);
    assert_int_equal(vf2->current_vgpu_type, 1161);
    assert_int_equal(vf2->vendor, 0x10de);

    /* a device that is not a VF with vGPU files: read, has_vgpu false */
    vf2 = vh_host_get_vgpu_state(env->host, "0000:3b:00.1", &error);
    assert_no_error(error);
    assert_false(vf2->has_vgpu);
    assert_null(vf2->vgpu_error);
    /* a bad address is refused before any path is built */
    assert_null(vh_host_get_vgpu_state(env->host, "../../etc", &error));
    assert_true(g_error_matches(error, VH_ERROR, VH_ERROR_INVALID));
}

static void
test_vgpu_garbage(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(GError) error = NULL;
    VhPciDevice *vf;

    test_env_write_sysfs(env, "bus/pci/devices/0000:41:00.6/nvidia/creatable_vgpu_types",
                         "ID : vGPU Name\n1161 : NVIDIA L40S-24Q\n%%garbage%%\n");
    test_env_write_sysfs(env, "bus/pci/devices/0000:41:00.7/nvidia/current_vgpu_type", "-3\n");
    test_env_scan(env);
    /* The device is still there; the vGPU part says what is wrong. */
    vf = get(env, "0000:41:00.6");
    assert_true(vf->has_vgpu);
    assert_null(vf->creatable_types);
    assert_contains(vf->vgpu_error, "VF 0000:41:00.6");
    assert_contains(vf->vgpu_error, "line 3");
    assert_false(vh_pci_device_reload_vgpu(vf, env->host->sysfs, &error));
    assert_vh_error(error, VH_ERROR_INVALID, "VF 0000:41:00.6: line 3");

    vf = get(env, "0000:41:00.7");
    assert_null(vf->creatable_types);
    assert_contains(vf->vgpu_error, "current_vgpu_type is negative");
    assert_int_equal(vf->current_vgpu_type, 0);
}

static void
test_mdev_types(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    VhPciDevice *t4;
    const VhMdevType *type;

    test_env_scan(env);
    t4 = get(env, "0000:af:00.0");
    assert_null(t4->mdev_error);
    assert_non_null(t4->mdev_types);
    assert_int_equal(t4->mdev_types->len, 3);
    /* sorted by type id */
    type = g_ptr_array_index(t4->mdev_types, 0);
    assert_string_equal(type->type_id, "nvidia-222");
    assert_string_equal(type->name, "GRID T4-1B");
    type = g_ptr_array_index(t4->mdev_types, 1);
    assert_string_equal(type->type_id, "nvidia-230");
    assert_string_equal(type->name, "GRID T4-1Q");
    assert_string_equal(type->device_api, "vfio-pci");
    assert_int_equal(type->available_instances, 16);
    assert_int_equal(type->instances->len, 0);
    type = g_ptr_array_index(t4->mdev_types, 2);
    assert_string_equal(type->type_id, "nvidia-234");
    assert_int_equal(type->available_instances, 1);
    assert_null(get(env, "0000:3b:00.0")->mdev_types);
}

/* A device whose ids cannot be read is skipped with a warning naming it;
 * the rest of the host is still found. */
static void
test_garbage_vendor(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(TestLogCapture) capture = NULL;
    g_autofree char *log = NULL;

    test_env_write_sysfs(env, "bus/pci/devices/0000:3b:00.0/vendor", "garbage\n");
    test_env_write_sysfs(env, "bus/pci/devices/0000:86:00.0/class", "0x\n");
    capture = test_log_capture_start();
    test_env_scan(env);
    log = test_log_capture_text(capture);
    assert_null(g_hash_table_lookup(env->host->by_address, "0000:3b:00.0"));
    assert_null(g_hash_table_lookup(env->host->by_address, "0000:86:00.0"));
    assert_non_null(g_hash_table_lookup(env->host->by_address, "0000:3b:00.1"));
    assert_non_null(g_hash_table_lookup(env->host->by_address, "0000:41:01.7"));
    assert_int_equal(env->host->devices->len, 16);
    assert_int_equal(capture->messages->len, 2);
    assert_contains(log, "skipping PCI device 0000:3b:00.0");
    /* what sysfs held is not quoted (not our file), where it was is */
    assert_contains(log, "0000:3b:00.0/vendor: expected a hex value like 0x10de, found something else");
    assert_null(strstr(log, "garbage"));
    assert_contains(log, "skipping PCI device 0000:86:00.0");
}

/* Entries that are not PCI addresses are ignored, never turned into paths. */
static void
test_odd_entries(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(TestLogCapture) capture = NULL;
    g_autofree char *odd = g_build_filename(env->sysfs, "bus/pci/devices/not-a-device", NULL);
    g_autofree char *log = NULL;

    assert_int_equal(g_mkdir(odd, 0755), 0);
    capture = test_log_capture_start();
    test_env_scan(env);
    log = test_log_capture_text(capture);
    assert_int_equal(env->host->devices->len, 18);
    assert_contains(log, "not-a-device: not a PCI address");
}

static void
test_missing_root(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(NULL, NULL);
    g_autoptr(GError) error = NULL;

    assert_false(vh_host_scan(env->host, &error));
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "cannot list PCI devices");
    assert_contains(error->message, env->sysfs);
    assert_contains(error->message, "a sysfs tree?");
    assert_false(env->host->scanned);
    assert_false(vh_host_iommu_enabled(env->host));
}

static void
test_names(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    VhPciNames *names;
    g_autofree char *name = NULL;

    assert_null(env->host->names); /* loaded on first use only */
    names = vh_host_get_names(env->host);
    assert_non_null(names);
    assert_ptr_equal(vh_host_get_names(env->host), names);
    name = vh_pci_names_device(names, 0x10de, 0x2236);
    assert_string_equal(name, "GA102GL [A10]");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan),
        cmocka_unit_test(test_identity),
        cmocka_unit_test(test_driver_override),
        cmocka_unit_test(test_get_device),
        cmocka_unit_test(test_iommu_groups),
        cmocka_unit_test(test_no_iommu),
        cmocka_unit_test(test_sriov),
        cmocka_unit_test(test_vgpu_state),
        cmocka_unit_test(test_vgpu_state_partial),
        cmocka_unit_test(test_vgpu_garbage),
        cmocka_unit_test(test_mdev_types),
        cmocka_unit_test(test_garbage_vendor),
        cmocka_unit_test(test_odd_entries),
        cmocka_unit_test(test_missing_root),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

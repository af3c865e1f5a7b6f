/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-pci-device: one device directory read into a VhPciDevice. */
#include "test-common.h"

#include <unistd.h>

static const char host_ini[] =
    "[vgpu-family L40S]\n"
    "framebuffer_gb=48\n"
    "types=1161:NVIDIA L40S-24Q;1162:NVIDIA L40S-48Q\n"
    "[device 0000:3b:00.0]\n"
    "ids=10de:2236\n"
    "subsystem=10de:1482\n"
    "class=0x030200\n"
    "driver=nvidia\n"
    "iommu_group=20\n"
    "numa_node=1\n"
    "[device 0000:00:01.0]\n"
    "ids=8086:2030\n"
    "class=0x060400\n"
    "driver=pcieport\n"
    "[device 0000:41:00.0]\n"
    "ids=10de:26b9\n"
    "class=0x030200\n"
    "driver=nvidia\n"
    "iommu_group=30\n"
    "sriov_totalvfs=32\n"
    "sriov_numvfs=2\n"
    "vgpu_family=L40S\n";

static VhPciDevice *
load(TestEnv *env, const char *address)
{
    g_autoptr(GError) error = NULL;
    VhPciDevice *dev = vh_pci_device_load(env->host->sysfs, address, &error);

    if (dev == NULL)
        fail_msg("%s: %s", address, error->message);
    return dev;
}

static void
load_fails(TestEnv *env, const char *address, gint code, const char *needle)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VhPciDevice) dev = vh_pci_device_load(env->host->sysfs, address, &error);

    assert_null(dev);
    assert_vh_error(error, code, needle);
}

static void
test_load(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(VhPciDevice) gpu = load(env, "0000:3B:00.0");

    assert_string_equal(gpu->address, "0000:3b:00.0");
    assert_int_equal(gpu->vendor, 0x10de);
    assert_int_equal(gpu->device, 0x2236);
    assert_int_equal(gpu->subsystem_vendor, 0x10de);
    assert_int_equal(gpu->subsystem_device, 0x1482);
    assert_int_equal(gpu->class_code, 0x030200);
    assert_string_equal(gpu->driver, "nvidia");
    assert_null(gpu->driver_override);
    assert_int_equal(gpu->iommu_group, 20);
    assert_int_equal(gpu->numa_node, 1);
    assert_false(gpu->has_vgpu);
    assert_int_equal(gpu->current_vgpu_type, 0);
    assert_null(gpu->vgpu_error);
}

static void
test_load_errors(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);

    load_fails(env, "0000:3b:00.7", VH_ERROR_NOT_FOUND, "no PCI device 0000:3b:00.7 on this host");
    load_fails(env, "3b:00.0", VH_ERROR_INVALID, "'3b:00.0' is not a PCI address");
    load_fails(env, "../../../etc", VH_ERROR_INVALID, "is not a PCI address");

    /* Required ids: a missing or garbled one fails the device, named. */
    test_env_write_sysfs(env, "bus/pci/devices/0000:3b:00.0/device", "0xzzzz\n");
    load_fails(env, "0000:3b:00.0", VH_ERROR_IO, "PCI device 0000:3b:00.0: ");
    load_fails(env, "0000:3b:00.0", VH_ERROR_IO, "expected a hex value like 0x10de, found something else");
    {
        g_autofree char *class = g_build_filename(env->sysfs,
                                                  "bus/pci/devices/0000:00:01.0/class", NULL);
        assert_int_equal(g_unlink(class), 0);
        load_fails(env, "0000:00:01.0", VH_ERROR_NOT_FOUND, "PCI device 0000:00:01.0: cannot read");
    }
}

static void
test_optional_attributes(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    const char *dir = "bus/pci/devices/0000:3b:00.0";
    g_autofree char *sub = g_build_filename(env->sysfs, dir, "subsystem_vendor", NULL);
    g_autofree char *numa = g_build_filename(env->sysfs, dir, "numa_node", NULL);
    g_autofree char *group = g_build_filename(env->sysfs, dir, "iommu_group", NULL);
    g_autoptr(VhPciDevice) dev = NULL;

    /* Missing optional attributes take their defaults. */
    assert_int_equal(g_unlink(sub), 0);
    assert_int_equal(g_unlink(numa), 0);
    /* An iommu_group link that does not end in a number is no group. */
    assert_int_equal(g_unlink(group), 0);
    assert_int_equal(symlink("../../../kernel/iommu_groups/abc", group), 0);
    test_env_write_sysfs(env, "bus/pci/devices/0000:3b:00.0/driver_override", "\n");
    dev = load(env, "0000:3b:00.0");
    assert_int_equal(dev->subsystem_vendor, 0);
    assert_int_equal(dev->subsystem_device, 0x1482);
    assert_int_equal(dev->numa_node, -1);
    assert_int_equal(dev->iommu_group, -1);
    assert_null(dev->driver_override);
}

static void
test_driver_override(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(VhPciDevice) dev = NULL;
    g_autoptr(VhPciDevice) unbound = NULL;
    g_autofree char *driver = g_build_filename(env->sysfs, "bus/pci/devices/0000:3b:00.0/driver",
                                               NULL);

    test_env_write_sysfs(env, "bus/pci/devices/0000:3b:00.0/driver_override", "vfio-pci\n");
    dev = load(env, "0000:3b:00.0");
    assert_string_equal(dev->driver_override, "vfio-pci");
    assert_int_equal(g_unlink(driver), 0);
    unbound = load(env, "0000:3b:00.0");
    assert_null(unbound->driver);
}

static void
test_classes(void **state)
{
    static const struct {
        guint class_code;
        gboolean display, bridge;
    } table[] = {
        { 0x030000, TRUE, FALSE },  /* VGA */
        { 0x030200, TRUE, FALSE },  /* 3D controller */
        { 0x038000, TRUE, FALSE },
        { 0x040300, FALSE, FALSE }, /* HD audio */
        { 0x060000, FALSE, TRUE },  /* host bridge */
        { 0x060400, FALSE, TRUE },  /* PCI bridge */
        { 0x060401, FALSE, TRUE },
        { 0x060100, FALSE, FALSE }, /* ISA bridge */
        { 0x020000, FALSE, FALSE },
    };

    for (guint i = 0; i < G_N_ELEMENTS(table); i++) {
        VhPciDevice dev = { .class_code = table[i].class_code };
        if (vh_pci_device_is_display(&dev) != table[i].display ||
            vh_pci_device_is_bridge(&dev) != table[i].bridge)
            fail_msg("class 0x%06x: display %d bridge %d", table[i].class_code,
                     vh_pci_device_is_display(&dev), vh_pci_device_is_bridge(&dev));
    }
}

static void
test_sriov(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(VhPciDevice) pf = load(env, "0000:41:00.0");
    g_autoptr(VhPciDevice) vf = load(env, "0000:41:00.5");
    g_autoptr(VhPciDevice) plain = load(env, "0000:3b:00.0");

    assert_true(vh_pci_device_is_pf(pf));
    assert_int_equal(pf->sriov_totalvfs, 32);
    assert_int_equal(pf->sriov_numvfs, 2);
    assert_int_equal(pf->virtfns->len, 2);
    assert_string_equal(g_ptr_array_index(pf->virtfns, 0), "0000:41:00.4");
    assert_string_equal(g_ptr_array_index(pf->virtfns, 1), "0000:41:00.5");
    assert_true(vh_pci_device_is_vf(vf));
    assert_string_equal(vf->physfn, "0000:41:00.0");
    assert_int_equal(vf->iommu_group, 32);
    assert_false(vh_pci_device_is_pf(plain));
    assert_false(vh_pci_device_is_vf(plain));
}

/* A physfn or virtfn link to something that is not a PCI address is
 * ignored rather than trusted. */
static void
test_sriov_odd_links(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autofree char *physfn = g_build_filename(env->sysfs, "bus/pci/devices/0000:41:00.5/physfn",
                                               NULL);
    g_autofree char *virtfn = g_build_filename(env->sysfs, "bus/pci/devices/0000:41:00.0/virtfn1",
                                               NULL);
    g_autoptr(VhPciDevice) vf = NULL;
    g_autoptr(VhPciDevice) pf = NULL;

    assert_int_equal(g_unlink(physfn), 0);
    assert_int_equal(symlink("../../../etc", physfn), 0);
    assert_int_equal(g_unlink(virtfn), 0);
    assert_int_equal(symlink("../0000:41:00.5/../..", virtfn), 0);
    vf = load(env, "0000:41:00.5");
    pf = load(env, "0000:41:00.0");
    assert_null(vf->physfn);
    assert_int_equal(pf->virtfns->len, 1);
    assert_string_equal(g_ptr_array_index(pf->virtfns, 0), "0000:41:00.4");
}

static void
test_vgpu(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(VhPciDevice) vf = load(env, "0000:41:00.4");
    g_autoptr(GError) error = NULL;
    const VhVgpuType *t;

    assert_true(vf->has_vgpu);
    assert_int_equal(vf->creatable_types->len, 2);
    t = g_ptr_array_index(vf->creatable_types, 1);
    assert_int_equal(t->id, 1162);
    assert_string_equal(t->name, "NVIDIA L40S-48Q");

    /* After a profile write, only the vGPU part is re-read. */
    test_env_write_sysfs(env, "bus/pci/devices/0000:41:00.4/nvidia/current_vgpu_type", "1162");
    assert_true(fake_host_nvidia_recompute(env->sysfs, "0000:41:00.0", &error));
    assert_true(vh_pci_device_reload_vgpu(vf, env->host->sysfs, &error));
    assert_no_error(error);
    assert_int_equal(vf->current_vgpu_type, 1162);
    assert_int_equal(vf->creatable_types->len, 0);

    /* A missing current_vgpu_type is an error of the vGPU part only. */
    {
        g_autofree char *cur = g_build_filename(env->sysfs,
                                                "bus/pci/devices/0000:41:00.4/nvidia/current_vgpu_type",
                                                NULL);
        assert_int_equal(g_unlink(cur), 0);
        assert_false(vh_pci_device_reload_vgpu(vf, env->host->sysfs, &error));
        assert_vh_error(error, VH_ERROR_NOT_FOUND, "VF 0000:41:00.4: cannot read");
        assert_contains(vf->vgpu_error, "current_vgpu_type");
        assert_null(vf->creatable_types);
        assert_int_equal(vf->current_vgpu_type, 0);
        assert_true(vf->has_vgpu);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_optional_attributes),
        cmocka_unit_test(test_driver_override),
        cmocka_unit_test(test_classes),
        cmocka_unit_test(test_sriov),
        cmocka_unit_test(test_sriov_odd_links),
        cmocka_unit_test(test_vgpu),
    };

    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

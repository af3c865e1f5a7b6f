/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-validate: the host readiness report. */
#include "test-common.h"

#define L40S_FAMILY                                                                    \
    "[vgpu-family L40S]\n"                                                             \
    "framebuffer_gb=48\n"                                                              \
    "types=1155:NVIDIA L40S-1Q;1156:NVIDIA L40S-2Q;1157:NVIDIA L40S-4Q;"               \
    "1158:NVIDIA L40S-6Q;1159:NVIDIA L40S-8Q;1160:NVIDIA L40S-12Q;"                    \
    "1161:NVIDIA L40S-24Q;1162:NVIDIA L40S-48Q\n"

#define L40S_DEVICE(extra)                                                             \
    "[device 0000:41:00.0]\n"                                                          \
    "ids=10de:26b9\n"                                                                  \
    "class=0x030200\n"                                                                 \
    "iommu_group=30\n"                                                                 \
    "sriov_totalvfs=32\n" extra

#define T4_DEVICE                                                                      \
    "[mdev-family T4]\n"                                                               \
    "types=nvidia-222:GRID T4-1B:16;nvidia-230:GRID T4-1Q:16;nvidia-234:GRID T4-16Q:1\n" \
    "[device 0000:af:00.0]\n"                                                          \
    "ids=10de:1eb8\n"                                                                  \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=50\n"                                                                 \
    "mdev_family=T4\n"

/* A10 at 3b:00.0 (group 20) with its audio function; @gpu_driver and
 * @audio_driver are "driver=NAME\n" lines or "". */
#define A10(gpu_driver, audio_driver)                                                  \
    "[device 0000:3b:00.0]\n"                                                          \
    "ids=10de:2236\n"                                                                  \
    "class=0x030200\n"                                                                 \
    "iommu_group=20\n" gpu_driver                                                      \
    "[device 0000:3b:00.1]\n"                                                          \
    "ids=10de:1aef\n"                                                                  \
    "class=0x040300\n"                                                                 \
    "iommu_group=20\n" audio_driver

#define HOST_DEVICES                                                                   \
    "[device 0000:00:00.0]\n"                                                          \
    "ids=8086:2020\n"                                                                  \
    "class=0x060000\n"                                                                 \
    "iommu_group=0\n"                                                                  \
    "[device 0000:03:00.0]\n"                                                          \
    "ids=102b:0536\n"                                                                  \
    "class=0x030000\n"                                                                 \
    "iommu_group=3\n"

#define DEMO_LIKE                                                                      \
    L40S_FAMILY HOST_DEVICES                                                           \
    A10("driver=nvidia\n", "driver=snd_hda_intel\n")                                   \
    "[device 0000:86:00.0]\n"                                                          \
    "ids=10de:2236\n"                                                                  \
    "class=0x030200\n"                                                                 \
    "driver=vfio-pci\n"                                                                \
    "iommu_group=21\n"                                                                 \
    "[device 0000:86:00.1]\n"                                                          \
    "ids=10de:1aef\n"                                                                  \
    "class=0x040300\n"                                                                 \
    "iommu_group=21\n"                                                                 \
    L40S_DEVICE("driver=nvidia\nsriov_numvfs=16\nvgpu_family=L40S\n")                 \
    T4_DEVICE

typedef struct {
    GPtrArray *findings;
    gboolean ready;
} Report;

static void
report_clear(Report *report)
{
    g_clear_pointer(&report->findings, g_ptr_array_unref);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Report, report_clear)

static void
validate(TestEnv *env, Report *report)
{
    report_clear(report);
    test_env_catalog(env, NULL);
    report->ready = !TRUE; /* must be set by the call */
    report->findings = vh_validate_host(env->catalog, &report->ready);
}

static char *
report_text(const Report *report)
{
    GString *text = g_string_new(NULL);

    for (guint i = 0; i < report->findings->len; i++) {
        const VhFinding *f = g_ptr_array_index(report->findings, i);
        g_string_append_printf(text, "%s %s: %s\n", vh_finding_level_to_string(f->level),
                               f->subject, f->message);
    }
    return g_string_free(text, FALSE);
}

/* Exactly one finding of @level about @subject contains @needle. */
static void
assert_finding(const Report *report, VhFindingLevel level, const char *subject,
               const char *needle)
{
    guint count = 0;

    for (guint i = 0; i < report->findings->len; i++) {
        const VhFinding *f = g_ptr_array_index(report->findings, i);
        if (f->level == level && strcmp(f->subject, subject) == 0 && strstr(f->message, needle))
            count++;
    }
    if (count != 1) {
        g_autofree char *text = report_text(report);
        fail_msg("%u findings '%s %s: ...%s...' in:\n%s", count,
                 vh_finding_level_to_string(level), subject, needle, text);
    }
}

static guint
count_level(const Report *report, VhFindingLevel level)
{
    guint count = 0;

    for (guint i = 0; i < report->findings->len; i++)
        count += ((const VhFinding *)g_ptr_array_index(report->findings, i))->level == level;
    return count;
}

static void
assert_ready(const Report *report, gboolean ready)
{
    if (report->ready != ready) {
        g_autofree char *text = report_text(report);
        fail_msg("ready is %d, expected %d:\n%s", report->ready, ready, text);
    }
    assert_int_equal(count_level(report, VH_FINDING_FAIL) == 0, ready);
}

static void
test_ready(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(DEMO_LIKE, "deny=0000:03:00.0\n");
    g_auto(Report) report = { 0 };

    validate(env, &report);
    assert_ready(&report, TRUE);
    assert_int_equal(count_level(&report, VH_FINDING_WARN), 0);
    assert_finding(&report, VH_FINDING_OK, "host", "IOMMU enabled");
    assert_finding(&report, VH_FINDING_OK, "host", "vfio-pci driver available");
    assert_finding(&report, VH_FINDING_OK, "0000:3b:00.0",
                   "IOMMU group 20 viable once bound to vfio-pci: 0000:3b:00.0 (nvidia), "
                   "0000:3b:00.1 (snd_hda_intel)");
    assert_finding(&report, VH_FINDING_OK, "0000:86:00.0",
                   "IOMMU group 21 viable (1 on vfio-pci, 1 without a driver)");
    assert_finding(&report, VH_FINDING_OK, "0000:41:00.0",
                   "SR-IOV vGPU: 16 VFs, 8 types, 48 GB framebuffer");
    assert_finding(&report, VH_FINDING_OK, "0000:af:00.0", "mdev vGPU parent with 3 types");
    assert_string_equal(vh_finding_level_to_string(VH_FINDING_OK), "ok");
    assert_string_equal(vh_finding_level_to_string(VH_FINDING_WARN), "warn");
    assert_string_equal(vh_finding_level_to_string(VH_FINDING_FAIL), "FAIL");
}

static void
test_no_iommu(void **state)
{
    g_autoptr(TestEnv) env = test_env_new("[host]\niommu=false\n"
                                          A10("driver=vfio-pci\n", ""),
                                          NULL);
    g_auto(Report) report = { 0 };

    validate(env, &report);
    assert_ready(&report, FALSE);
    assert_finding(&report, VH_FINDING_FAIL, "host", "no IOMMU groups: enable VT-d/AMD-Vi");
    assert_finding(&report, VH_FINDING_FAIL, "host", "intel_iommu=on");
    assert_finding(&report, VH_FINDING_FAIL, "0000:3b:00.0",
                   "no IOMMU group: the GPU cannot be passed through");
}

static void
test_no_vfio_pci(void **state)
{
    g_autoptr(TestEnv) env = test_env_new("[host]\nvfio_pci=false\n"
                                          A10("driver=nvidia\n", ""),
                                          NULL);
    g_auto(Report) report = { 0 };

    validate(env, &report);
    assert_ready(&report, FALSE);
    assert_finding(&report, VH_FINDING_FAIL, "host",
                   "vfio-pci is not loaded: run 'modprobe vfio-pci'");
}

/* Without whole-GPU resources vfio-pci is only a warning. */
static void
test_no_vfio_pci_vgpu_only(void **state)
{
    g_autoptr(TestEnv) env = test_env_new("[host]\nvfio_pci=false\n" L40S_FAMILY
                                          L40S_DEVICE("driver=nvidia\nsriov_numvfs=4\n"
                                                      "vgpu_family=L40S\n"),
                                          NULL);
    g_auto(Report) report = { 0 };

    validate(env, &report);
    assert_ready(&report, TRUE);
    assert_finding(&report, VH_FINDING_WARN, "host",
                   "vfio-pci is not loaded (needed only for whole-GPU passthrough)");
    assert_finding(&report, VH_FINDING_OK, "0000:41:00.0", "SR-IOV vGPU: 4 VFs, 8 types");
}

static void
test_group_with_bridge(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10("driver=vfio-pci\n", "driver=vfio-pci\n")
                                          "[device 0000:00:01.0]\n"
                                          "ids=8086:2030\n"
                                          "class=0x060400\n"
                                          "driver=pcieport\n"
                                          "iommu_group=20\n",
                                          NULL);
    g_auto(Report) report = { 0 };

    validate(env, &report);
    assert_ready(&report, FALSE);
    assert_finding(&report, VH_FINDING_FAIL, "0000:3b:00.0",
                   "IOMMU group 20 contains bridge 0000:00:01.0");
    /* No "viable" verdict next to the failure. */
    assert_int_equal(count_level(&report, VH_FINDING_OK), 2); /* iommu, vfio-pci */
}

static void
test_group_with_host_device(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10("driver=vfio-pci\n", "driver=vfio-pci\n")
                                          "[device 0000:3c:00.0]\n"
                                          "ids=8086:1533\n"
                                          "class=0x020000\n"
                                          "driver=igb\n"
                                          "iommu_group=20\n",
                                          NULL);
    g_auto(Report) report = { 0 };

    validate(env, &report);
    assert_ready(&report, FALSE);
    assert_finding(&report, VH_FINDING_FAIL, "0000:3b:00.0",
                   "IOMMU group 20 contains 0000:3c:00.0, in use by the host (driver igb): "
                   "the group is not viable");
}

/* A host device without a driver does not block the group. */
static void
test_group_with_unbound_device(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10("driver=vfio-pci\n", "")
                                          "[device 0000:3c:00.0]\n"
                                          "ids=8086:1533\n"
                                          "class=0x020000\n"
                                          "iommu_group=20\n",
                                          NULL);
    g_auto(Report) report = { 0 };

    validate(env, &report);
    assert_ready(&report, TRUE);
    assert_finding(&report, VH_FINDING_OK, "0000:3b:00.0",
                   "IOMMU group 20 viable (1 on vfio-pci, 2 without a driver)");
}

static void
test_group_with_denied_device(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10("driver=vfio-pci\n", "driver=vfio-pci\n"),
                                          "deny=0000:3b:00.1\n");
    g_auto(Report) report = { 0 };

    /* deny= covers the IOMMU group: the GPU is not offered at all */
    validate(env, &report);
    assert_finding(&report, VH_FINDING_WARN, "host", "no GPU resources");
}

/* Only the GPU's own audio function is on a host driver: fixable by
 * binding, which the hook does at start. */
static void
test_own_audio_fixable(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10("driver=vfio-pci\n", "driver=snd_hda_intel\n"),
                                          NULL);
    g_auto(Report) report = { 0 };

    validate(env, &report);
    assert_ready(&report, TRUE);
    assert_finding(&report, VH_FINDING_OK, "0000:3b:00.0",
                   "IOMMU group 20 viable once bound to vfio-pci: 0000:3b:00.1 (snd_hda_intel) "
                   "(done at VM start, or 'vgpuctl bind 0000:3b:00.0')");
}

static void
test_no_resources(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(HOST_DEVICES, NULL);
    g_auto(Report) report = { 0 };

    validate(env, &report);
    assert_ready(&report, TRUE);
    assert_finding(&report, VH_FINDING_WARN, "host", "no GPU resources");
}

static void
test_sriov_without_vfs(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_DEVICE("driver=nvidia\n"), NULL);
    g_auto(Report) report = { 0 };

    validate(env, &report);
    assert_ready(&report, TRUE);
    assert_finding(&report, VH_FINDING_WARN, "0000:41:00.0",
                   "SR-IOV capable GPU without VFs: for vGPU run "
                   "'/usr/lib/nvidia/sriov-manage -e 0000:41:00.0'");
}

static void
test_vfs_without_vgpu_manager(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_DEVICE("driver=nvidia\nsriov_numvfs=4\n"), NULL);
    g_auto(Report) report = { 0 };

    validate(env, &report);
    assert_ready(&report, FALSE);
    assert_finding(&report, VH_FINDING_FAIL, "0000:41:00.0",
                   "VFs enabled but they have no nvidia/ vGPU files");
}

static void
test_sriov_problems(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY
                                          L40S_DEVICE("driver=vfio-pci\nsriov_numvfs=4\n"
                                                      "vgpu_family=L40S\n"),
                                          NULL);
    g_auto(Report) report = { 0 };

    test_env_catalog(env, NULL); /* seen idle once: the table is remembered */
    test_env_write_sysfs(env, "bus/pci/devices/0000:41:00.5/nvidia/creatable_vgpu_types",
                         "bogus\n");
    test_env_write_sysfs(env, "bus/pci/devices/0000:41:00.6/nvidia/current_vgpu_type",
                         "4242\n");
    validate(env, &report);
    assert_ready(&report, FALSE);
    assert_finding(&report, VH_FINDING_FAIL, "0000:41:00.5",
                   "VF 0000:41:00.5: line 1 of creatable_vgpu_types");
    assert_finding(&report, VH_FINDING_FAIL, "0000:41:00.5", "check the vGPU manager");
    assert_finding(&report, VH_FINDING_WARN, "0000:41:00.6",
                   "holds vGPU type id 4242, which no VF of GPU 0000:41:00.0 lists");
    assert_finding(&report, VH_FINDING_WARN, "0000:41:00.0",
                   "SR-IOV GPU is bound to vfio-pci, not nvidia");
}

/* Full and never seen idle: no VF lists anything. */
static void
test_sriov_nothing_listed(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(L40S_FAMILY
                                          L40S_DEVICE("driver=nvidia\nsriov_numvfs=4\n"
                                                      "vgpu_family=L40S\nvf_types=2:1162\n"),
                                          NULL);
    g_auto(Report) report = { 0 };

    validate(env, &report);
    assert_ready(&report, FALSE);
    assert_finding(&report, VH_FINDING_FAIL, "0000:41:00.0",
                   "no VF lists a creatable vGPU type");
    assert_finding(&report, VH_FINDING_WARN, "0000:41:00.6", "holds vGPU type id 1162");
}

static void
test_mdev_error(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(T4_DEVICE, NULL);
    g_auto(Report) report = { 0 };

    test_env_write_sysfs(env, "bus/pci/devices/0000:af:00.0/mdev_supported_types/nvidia-230/"
                              "available_instances", "many\n");
    validate(env, &report);
    assert_ready(&report, FALSE);
    assert_finding(&report, VH_FINDING_FAIL, "0000:af:00.0", "mdev parent 0000:af:00.0: ");
    assert_finding(&report, VH_FINDING_FAIL, "0000:af:00.0", "available_instances: expected a decimal number, found something else");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready),
        cmocka_unit_test(test_no_iommu),
        cmocka_unit_test(test_no_vfio_pci),
        cmocka_unit_test(test_no_vfio_pci_vgpu_only),
        cmocka_unit_test(test_group_with_bridge),
        cmocka_unit_test(test_group_with_host_device),
        cmocka_unit_test(test_group_with_unbound_device),
        cmocka_unit_test(test_group_with_denied_device),
        cmocka_unit_test(test_own_audio_fixable),
        cmocka_unit_test(test_no_resources),
        cmocka_unit_test(test_sriov_without_vfs),
        cmocka_unit_test(test_vfs_without_vgpu_manager),
        cmocka_unit_test(test_sriov_problems),
        cmocka_unit_test(test_sriov_nothing_listed),
        cmocka_unit_test(test_mdev_error),
    };

    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

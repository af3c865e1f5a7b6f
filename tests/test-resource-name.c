/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-resource-name: KubeVirt-compatible resource names.
 *
 * The expected suffixes reproduce NVIDIA's kubevirt-gpu-device-plugin
 * (getDeviceName): trim, upper-case, '/' and '.' -> '_', each run of
 * [\t\n\f\r ] -> one '_', then drop every character not in [A-Za-z0-9_.]. */
#include "test-common.h"

static void
test_suffix_table(void **state)
{
    static const struct {
        const char *db_name;
        const char *suffix;
    } table[] = {
        /* the GPUs of the design and of Debian's pci.ids / hwdb */
        { "GA102GL [A10]", "GA102GL_A10" },
        { "GA102GL [A10G]", "GA102GL_A10G" },
        { "GA102GL [A40]", "GA102GL_A40" },
        { "GH100[H100 SXM5 80GB]", "GH100H100_SXM5_80GB" },
        { "GH100 [H100 PCIe]", "GH100_H100_PCIE" },
        { "GH100 [H200 SXM 141GB]", "GH100_H200_SXM_141GB" },
        { "GA107GL [A2 / A16]", "GA107GL_A2___A16" },
        { "TU104GL [Tesla T4]", "TU104GL_TESLA_T4" },
        { "GA100 [A100 PCIe 80GB]", "GA100_A100_PCIE_80GB" },
        { "GA100GL [A30 PCIe]", "GA100GL_A30_PCIE" },
        { "AD102GL [L40S]", "AD102GL_L40S" },
        { "AD102GL [L40]", "AD102GL_L40" },
        { "AD104GL [L4]", "AD104GL_L4" },
        { "GV100GL [Tesla V100 PCIe 16GB]", "GV100GL_TESLA_V100_PCIE_16GB" },
        { "TU102GL [Quadro RTX 6000/8000]", "TU102GL_QUADRO_RTX_6000_8000" },
        { "GA102 High Definition Audio Controller", "GA102_HIGH_DEFINITION_AUDIO_CONTROLLER" },
        /* older NVIDIA entries with '-', '.', '/', '(' ... */
        { "NV1 [STG2000X-B Series]", "NV1_STG2000XB_SERIES" },
        { "NV5 [Riva TNT2 / TNT2 Pro]", "NV5_RIVA_TNT2___TNT2_PRO" },
        { "nForce3 USB 1.1", "NFORCE3_USB_1_1" },
        { "CK8S Parallel ATA Controller (v2.5)", "CK8S_PARALLEL_ATA_CONTROLLER_V2_5" },
        { "nForce3 250Gb PCI-to-PCI Bridge", "NFORCE3_250GB_PCITOPCI_BRIDGE" },
        { "NV37GL [Quadro FX 330/GeForce PCX 5300]", "NV37GL_QUADRO_FX_330_GEFORCE_PCX_5300" },
        /* white space: trimmed at the ends, one '_' per run inside */
        { "  GA102GL   [A10]  ", "GA102GL_A10" },
        { "A\t\tB", "A_B" },
        { "A \t\r\n\f B", "A_B" },
        /* a dropped character between two runs leaves both '_' */
        { "A [ B", "A__B" },
        { "A.\t/B", "A___B" },
        /* Go's \s is [\t\n\f\r ]: a vertical tab is dropped, not a separator */
        { "A\vB", "AB" },
        /* non-ASCII bytes are dropped */
        { "\xc3\x9c" "n" "\xc3\xaf" "c" "\xc3\xb8" "d" "\xc3\xa9" " [X]", "NCD_X" },
        { "[]", "" },
        { "", "" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(table); i++) {
        g_autofree char *suffix = vh_resource_suffix_from_device_name(table[i].db_name);
        if (g_strcmp0(suffix, table[i].suffix) != 0)
            fail_msg("\"%s\" -> \"%s\", expected \"%s\"", table[i].db_name, suffix,
                     table[i].suffix);
    }
}

static void
check_gpu_name(VhPciNames *names, guint vendor, guint device, const char *expected,
               gboolean expected_fallback)
{
    gboolean fallback = !expected_fallback;
    g_autofree char *name = vh_resource_name_for_gpu(names, vendor, device, &fallback);

    assert_string_equal(name, expected);
    assert_int_equal(fallback, expected_fallback);
    assert_true(vh_resource_name_is_valid(name));
}

static void
test_resource_name_for_gpu(void **state)
{
    g_autoptr(TestEnv) env = test_env_new_empty();
    g_autoptr(VhPciNames) names = vh_pci_names_new(env->pci_ids, FALSE);
    g_autofree char *no_flag = NULL;

    check_gpu_name(names, 0x10de, 0x2236, "nvidia.com/GA102GL_A10", FALSE);
    check_gpu_name(names, 0x10de, 0x1eb8, "nvidia.com/TU104GL_TESLA_T4", FALSE);
    check_gpu_name(names, 0x10de, 0x20b5, "nvidia.com/GA100_A100_PCIE_80GB", FALSE);
    check_gpu_name(names, 0x10de, 0x2330, "nvidia.com/GH100H100_SXM5_80GB", FALSE);
    check_gpu_name(names, 0x10de, 0x25b6, "nvidia.com/GA107GL_A2___A16", FALSE);
    /* KubeVirt's fallback: the id as sysfs shows it, without 0x. */
    check_gpu_name(names, 0x10de, 0x26b9, "nvidia.com/26b9", TRUE);
    check_gpu_name(names, 0x10de, 0x2335, "nvidia.com/2335", TRUE);
    check_gpu_name(names, 0x10de, 0x00ab, "nvidia.com/00ab", TRUE);
    /* No database at all. */
    check_gpu_name(NULL, 0x10de, 0x2236, "nvidia.com/2236", TRUE);
    /* from_fallback is optional. */
    no_flag = vh_resource_name_for_gpu(names, 0x10de, 0x2236, NULL);
    assert_string_equal(no_flag, "nvidia.com/GA102GL_A10");
}

/* A database that names nothing: the id, as KubeVirt does. */
static void
test_missing_database(void **state)
{
    g_autoptr(TestEnv) env = test_env_new_empty();
    g_autofree char *missing = g_build_filename(env->dir, "no-such-pci.ids", NULL);
    g_autoptr(VhPciNames) names = vh_pci_names_new(missing, FALSE);

    check_gpu_name(names, 0x10de, 0x2236, "nvidia.com/2236", TRUE);
}

static void
test_resource_name_for_vgpu_type(void **state)
{
    static const struct {
        const char *type;
        const char *name;
    } table[] = {
        { "NVIDIA L40S-24Q", "nvidia.com/L40S-24Q" },
        { "NVIDIA H200X-1-18C", "nvidia.com/H200X-1-18C" },
        { "L40S-1Q", "nvidia.com/L40S-1Q" },
        /* spaces as mdev names have them: a name a domain can write */
        { "NVIDIA RTX Pro 6000 Blackwell DC-1-24Q", "nvidia.com/RTX_Pro_6000_Blackwell_DC-1-24Q" },
        { "NVIDIA  A16 -2Q ", "nvidia.com/A16_-2Q" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(table); i++) {
        g_autofree char *name = vh_resource_name_for_vgpu_type(table[i].type);
        assert_string_equal(name, table[i].name);
        assert_true(vh_resource_name_is_valid(name));
    }
}

static void
test_resource_name_for_mdev_type(void **state)
{
    static const struct {
        const char *type;
        const char *name;
    } table[] = {
        { "GRID T4-1Q", "nvidia.com/GRID_T4-1Q" },
        { "GRID T4-16Q", "nvidia.com/GRID_T4-16Q" },
        { "GRID A100-4C", "nvidia.com/GRID_A100-4C" },
        { "GRID  RTX6000-4Q", "nvidia.com/GRID_RTX6000-4Q" },
        { "GRID\tT4-2B", "nvidia.com/GRID_T4-2B" },
        { "NVIDIA A10-4Q", "nvidia.com/NVIDIA_A10-4Q" },
    };

    for (guint i = 0; i < G_N_ELEMENTS(table); i++) {
        g_autofree char *name = vh_resource_name_for_mdev_type(table[i].type);
        assert_string_equal(name, table[i].name);
        assert_true(vh_resource_name_is_valid(name));
    }
}

static void
test_resource_name_is_valid(void **state)
{
    g_autofree char *long_name = NULL;
    g_autofree char *max_name = NULL;
    g_autofree char *a = g_strnfill(242, 'a');
    g_autofree char *b = g_strnfill(243, 'a');

    assert_true(vh_resource_name_is_valid("nvidia.com/GA102GL_A10"));
    assert_true(vh_resource_name_is_valid("nvidia.com/L40S-24Q"));
    assert_true(vh_resource_name_is_valid("nvidia.com/GRID_T4-1Q"));
    assert_true(vh_resource_name_is_valid("nvidia.com/26b9"));
    assert_true(vh_resource_name_is_valid("example-1.org/x.y"));

    assert_false(vh_resource_name_is_valid(NULL));
    assert_false(vh_resource_name_is_valid(""));
    assert_false(vh_resource_name_is_valid("GA102GL_A10"));
    assert_false(vh_resource_name_is_valid("nvidia.com/"));
    assert_false(vh_resource_name_is_valid("/GA102GL_A10"));
    assert_false(vh_resource_name_is_valid("NVIDIA.com/A10"));
    assert_false(vh_resource_name_is_valid("nvidia_com/A10"));
    assert_false(vh_resource_name_is_valid("nvidia.com/GRID T4-1Q"));
    assert_false(vh_resource_name_is_valid("nvidia.com/a/b"));
    assert_false(vh_resource_name_is_valid("nvidia.com/../etc"));
    assert_false(vh_resource_name_is_valid("nvidia.com/A10\n"));
    assert_false(vh_resource_name_is_valid("nvidia.com/[A10]"));

    /* 253 characters at most. */
    max_name = g_strdup_printf("nvidia.com/%s", a);
    long_name = g_strdup_printf("nvidia.com/%s", b);
    assert_int_equal(strlen(max_name), 253);
    assert_true(vh_resource_name_is_valid(max_name));
    assert_false(vh_resource_name_is_valid(long_name));
}

static void
test_suffix(void **state)
{
    assert_string_equal(vh_resource_name_suffix("nvidia.com/L40S-24Q"), "L40S-24Q");
    assert_string_equal(vh_resource_name_suffix("nvidia.com/"), "");
    assert_string_equal(vh_resource_name_suffix("example.org/L40S-24Q"), "example.org/L40S-24Q");
    assert_string_equal(vh_resource_name_suffix("L40S-24Q"), "L40S-24Q");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suffix_table),
        cmocka_unit_test(test_resource_name_for_gpu),
        cmocka_unit_test(test_missing_database),
        cmocka_unit_test(test_resource_name_for_vgpu_type),
        cmocka_unit_test(test_resource_name_for_mdev_type),
        cmocka_unit_test(test_resource_name_is_valid),
        cmocka_unit_test(test_suffix),
    };

    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

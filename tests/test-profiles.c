/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-profiles: the boot-time profiles file (vh-profiles), the seed's
 * ConfigMap format: parsing, and applying it on the simulated kernel
 * (tests/sim-kernel.c) with the loader's read-before-write and
 * skip-when-held rules.
 *
 * The binary re-executes itself with LD_PRELOAD naming libsimkernel.so (the
 * path in the build tree is compiled in; VH_SIM_KERNEL_SO overrides it).
 * Under valgrind, preload the library yourself so that no re-exec happens:
 *   LD_PRELOAD=tests/.libs/libsimkernel.so libtool --mode=execute \
 *       valgrind --leak-check=full tests/test-profiles */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dl_iterate_phdr */
#endif
#include "test-common.h"
#include "test-sim.h"

#include <errno.h>
#include <link.h>
#include <unistd.h>


#define VF4 "0000:41:00.4"
#define VF5 "0000:41:00.5"
#define VF6 "0000:41:00.6"
#define VF7 "0000:41:00.7"

/* An L40S with four VFs (0000:41:00.4 to .7) and an A10 (no vGPU). */
static char *
host_ini(const char *vf_types)
{
    return g_strdup_printf(
        "[vgpu-family L40S]\n"
        "framebuffer_gb=48\n"
        "types=1155:NVIDIA L40S-1Q;1156:NVIDIA L40S-2Q;1157:NVIDIA L40S-4Q;"
        "1158:NVIDIA L40S-6Q;1159:NVIDIA L40S-8Q;1160:NVIDIA L40S-12Q;"
        "1161:NVIDIA L40S-24Q;1162:NVIDIA L40S-48Q\n"
        "[device 0000:3b:00.0]\nids=10de:2236\nclass=0x030200\ndriver=nvidia\niommu_group=20\n"
        "[device 0000:41:00.0]\nids=10de:26b9\nclass=0x030200\ndriver=nvidia\niommu_group=30\n"
        "sriov_totalvfs=4\nsriov_numvfs=4\nvgpu_family=L40S\n%s%s%s",
        vf_types ? "vf_types=" : "", vf_types ? vf_types : "", vf_types ? "\n" : "");
}

static TestEnv *
env_new(const char *vf_types)
{
    g_autofree char *ini = host_ini(vf_types);
    TestEnv *env = test_env_new(ini, NULL);
    g_autofree char *dev = g_build_filename(env->dir, "dev", NULL);

    g_setenv("VH_SIM_SYSFS_ROOT", env->sysfs, TRUE);
    g_setenv("VH_SIM_DEV_DIR", dev, TRUE);
    return env;
}

/* ------------------------------------------------------------------ */
/* Parsing                                                            */
/* ------------------------------------------------------------------ */

static GPtrArray *
parse_ok(const char *text)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *lines = vh_profiles_parse(text, "profiles.conf", &error);

    if (lines == NULL)
        fail_msg("parse failed: %s", error->message);
    return lines;
}

static void
assert_line(GPtrArray *lines, guint i, guint number, const char *address, const char *profile)
{
    const VhProfileLine *line;

    assert_true(i < lines->len);
    line = g_ptr_array_index(lines, i);
    assert_int_equal(line->line, number);
    assert_string_equal(line->address, address);
    assert_string_equal(line->profile, profile);
}

static void
test_parse(void **state)
{
    const char *text =
        "# vGPU profiles at boot, as the GPU Operator's ConfigMap\n" /* 1 */
        "\n"                                                        /* 2 */
        "0000:41:00.4=1161\n"                                       /* 3 */
        "  0000:41:00.5 = L40S-24Q   # the second half\n"          /* 4 */
        "0000:41:00.6\t=\tNVIDIA L40S-12Q\n"                        /* 5 */
        "   \t\n"                                                   /* 6 */
        "    # indented comment = with an equals sign\n"            /* 7 */
        "0000:AF:00.0=GRID T4-1Q\n"                                 /* 8 */
        "0000:41:00.7=L40S-12Q";                                    /* 9, no newline */
    g_autoptr(GPtrArray) lines = parse_ok(text);

    (void)state;
    assert_int_equal(lines->len, 5);
    assert_line(lines, 0, 3, VF4, "1161");
    assert_line(lines, 1, 4, VF5, "L40S-24Q");
    assert_line(lines, 2, 5, VF6, "NVIDIA L40S-12Q");
    assert_line(lines, 3, 8, "0000:af:00.0", "GRID T4-1Q");
    assert_line(lines, 4, 9, VF7, "L40S-12Q");
}

static void
test_parse_empty(void **state)
{
    g_autoptr(GPtrArray) none = parse_ok("");
    g_autoptr(GPtrArray) comments = parse_ok("# nothing yet\n\n   \n# really\n");

    (void)state;
    assert_int_equal(none->len, 0);
    assert_int_equal(comments->len, 0);
}

static void
test_parse_malformed(void **state)
{
    const char *text =
        "# a file with mistakes\n"        /* 1 */
        "garbage\n"                       /* 2 */
        "0000:41:00.4=1161\n"             /* 3: fine */
        "0000:zz:00.4=1161\n"             /* 4 */
        "0000:41:00.5=\n"                 /* 5 */
        "0000:41:00.6=L40S/24Q\n"         /* 6 */
        "=1161\n"                         /* 7 */
        "\n"                              /* 8 */
        "0000:41:00.7=1161 # ok\n"        /* 9: fine */
        "0000:41:00.7 1161\n";            /* 10 */
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) lines = vh_profiles_parse(text, "/etc/vgpu-hook/profiles.conf", &error);
    g_auto(GStrv) parts = NULL;

    (void)state;
    assert_null(lines);
    assert_vh_error(error, VH_ERROR_INVALID, "/etc/vgpu-hook/profiles.conf");
    /* every bad line, each with its number, and none of the good ones */
    assert_contains(error->message, "profiles.conf:2: ");
    assert_contains(error->message, "'garbage'");
    assert_contains(error->message, "profiles.conf:4: ");
    assert_contains(error->message, "0000:zz:00.4");
    assert_contains(error->message, "profiles.conf:5: ");
    assert_contains(error->message, "profiles.conf:6: ");
    assert_contains(error->message, "L40S/24Q");
    assert_contains(error->message, "profiles.conf:7: ");
    assert_contains(error->message, "profiles.conf:10: ");
    assert_not_contains(error->message, "profiles.conf:3:");
    assert_not_contains(error->message, "profiles.conf:9:");
    assert_not_contains(error->message, "profiles.conf:1:");
    parts = g_strsplit(error->message, "\n", -1);
    assert_int_equal(g_strv_length(parts), 1 + 6); /* a heading and one line each */
}

/* ------------------------------------------------------------------ */
/* Applying on the simulated kernel                                   */
/* ------------------------------------------------------------------ */

static guint
current_type(TestEnv *env, const char *vf)
{
    g_autofree char *path = g_strdup_printf("%s/bus/pci/devices/%s/nvidia/current_vgpu_type",
                                            env->sysfs, vf);
    g_autofree char *text = NULL;

    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    return (guint)g_ascii_strtoull(text, NULL, 10);
}

static void
hold(TestEnv *env, const char *vf, gboolean held)
{
    g_autofree char *dir = g_build_filename(env->sysfs, ".fake-host", "held", NULL);
    g_autofree char *path = g_build_filename(dir, vf, NULL);

    assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
    if (held)
        assert_true(g_file_set_contents(path, "", 0, NULL));
    else
        assert_int_equal(unlink(path), 0);
}

/* Apply @text on a fresh host model (boot: nothing cached). */
static GPtrArray *
apply(TestEnv *env, const char *text, GPtrArray **lines_out, GHashTable *busy)
{
    GPtrArray *lines = parse_ok(text);
    GPtrArray *results;

    vh_host_free(env->host);
    env->host = vh_host_new(env->config);
    results = vh_profiles_apply(env->host, lines, busy);
    assert_int_equal(results->len, lines->len);
    *lines_out = lines;
    return results;
}

static const VhProfileResult *
result(GPtrArray *results, guint i, VhProfileOutcome outcome)
{
    static const char *const names[] = { "set", "unchanged", "skipped", "failed" };
    const VhProfileResult *r = g_ptr_array_index(results, i);

    if (r->outcome != outcome)
        fail_msg("line %u: %s (%s), expected %s", r->line->line, names[r->outcome],
                 r->message ? r->message : "", names[outcome]);
    assert_non_null(r->message);
    return r;
}

static void
test_apply_by_id_and_name(void **state)
{
    g_autoptr(TestEnv) env = env_new(NULL);
    g_autoptr(GPtrArray) lines = NULL;
    g_autoptr(GPtrArray) results = NULL;
    g_autoptr(GPtrArray) lines2 = NULL;
    g_autoptr(GPtrArray) results2 = NULL;
    const char *text = "0000:41:00.4=1161\n0000:41:00.5 = L40S-24Q\n";

    (void)state;
    results = apply(env, text, &lines, NULL);
    assert_contains(result(results, 0, VH_PROFILE_SET)->message, VF4);
    assert_contains(result(results, 1, VH_PROFILE_SET)->message, "L40S-24Q");
    assert_int_equal(current_type(env, VF4), 1161);
    assert_int_equal(current_type(env, VF5), 1161);
    assert_int_equal(current_type(env, VF6), 0);

    /* the next boot (or a second run): read first, write nothing. VMs hold
     * the VFs, so any write would be refused by the driver. The GPU is full:
     * no VF lists 24Q any more, the name must still be recognised. */
    hold(env, VF4, TRUE);
    hold(env, VF5, TRUE);
    results2 = apply(env, text, &lines2, NULL);
    assert_contains(result(results2, 0, VH_PROFILE_UNCHANGED)->message, "already holds");
    assert_contains(result(results2, 1, VH_PROFILE_UNCHANGED)->message, "already holds");
    assert_int_equal(current_type(env, VF4), 1161);
    assert_int_equal(current_type(env, VF5), 1161);
}

static void
test_apply_name_with_vendor_prefix(void **state)
{
    g_autoptr(TestEnv) env = env_new(NULL);
    g_autoptr(GPtrArray) lines = NULL;
    g_autoptr(GPtrArray) results = NULL;

    (void)state;
    results = apply(env, "0000:41:00.6=NVIDIA L40S-12Q\n", &lines, NULL);
    result(results, 0, VH_PROFILE_SET);
    assert_int_equal(current_type(env, VF6), 1160);
}

static void
test_apply_skips_busy(void **state)
{
    g_autoptr(TestEnv) env = env_new(NULL);
    g_autoptr(GHashTable) busy = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GPtrArray) lines = NULL;
    g_autoptr(GPtrArray) results = NULL;

    (void)state;
    g_hash_table_insert(busy, (gpointer)VF6, (gpointer)"web1");
    results = apply(env, "0000:41:00.6=1161\n0000:41:00.7=1161\n", &lines, busy);
    assert_contains(result(results, 0, VH_PROFILE_SKIPPED)->message, "'web1'");
    result(results, 1, VH_PROFILE_SET);
    assert_int_equal(current_type(env, VF6), 0);
    assert_int_equal(current_type(env, VF7), 1161);
}

static void
test_apply_skips_other_type(void **state)
{
    g_autoptr(TestEnv) env = env_new("0:1160");
    g_autoptr(GPtrArray) lines = NULL;
    g_autoptr(GPtrArray) results = NULL;
    const VhProfileResult *r;

    (void)state;
    results = apply(env, "0000:41:00.4=1161\n0000:41:00.4=L40S-24Q\n0000:41:00.4=L40S-12Q\n",
                    &lines, NULL);
    r = result(results, 0, VH_PROFILE_SKIPPED);
    assert_contains(r->message, VF4);
    assert_contains(r->message, "1160");
    r = result(results, 1, VH_PROFILE_SKIPPED);
    assert_contains(r->message, "already holds L40S-12Q");
    result(results, 2, VH_PROFILE_UNCHANGED);
    assert_int_equal(current_type(env, VF4), 1160);
}

static void
test_apply_failures(void **state)
{
    g_autoptr(TestEnv) env = env_new(NULL);
    g_autoptr(GPtrArray) lines = NULL;
    g_autoptr(GPtrArray) results = NULL;
    const VhProfileResult *r;

    (void)state;
    results = apply(env,
                    "0000:41:00.4=9999\n"       /* no such type id */
                    "0000:41:00.5=L40S-5Q\n"    /* no such type name */
                    "0000:3b:00.0=1161\n"       /* a whole GPU, not a VF */
                    "0000:99:00.0=1161\n"       /* no such device */
                    "0000:41:00.6=L40S-24Q\n"
                    "0000:41:00.7=L40S-24Q\n"
                    "0000:41:00.5=L40S-24Q\n",  /* the GPU is full */
                    &lines, NULL);
    r = result(results, 0, VH_PROFILE_FAILED);
    assert_contains(r->message, "9999");
    assert_contains(r->message, VF4);
    r = result(results, 1, VH_PROFILE_FAILED);
    assert_contains(r->message, "L40S-5Q");
    r = result(results, 2, VH_PROFILE_FAILED);
    assert_contains(r->message, "0000:3b:00.0");
    assert_contains(r->message, "not an SR-IOV vGPU VF");
    r = result(results, 3, VH_PROFILE_FAILED);
    assert_contains(r->message, "0000:99:00.0");
    result(results, 4, VH_PROFILE_SET);
    result(results, 5, VH_PROFILE_SET);
    r = result(results, 6, VH_PROFILE_FAILED);
    assert_contains(r->message, "VF " VF6 " holds L40S-24Q");
    assert_int_equal(current_type(env, VF4), 0);
    assert_int_equal(current_type(env, VF5), 0);
    assert_int_equal(current_type(env, VF6), 1161);
    assert_int_equal(current_type(env, VF7), 1161);
}

/* ------------------------------------------------------------------ */
/* Running with the simulated kernel preloaded                        */
/* ------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_parse_malformed),
        cmocka_unit_test(test_apply_by_id_and_name),
        cmocka_unit_test(test_apply_name_with_vendor_prefix),
        cmocka_unit_test(test_apply_skips_busy),
        cmocka_unit_test(test_apply_skips_other_type),
        cmocka_unit_test(test_apply_failures),
    };

    (void)argc;
    test_sim_preload(argv, "test-profiles");
    return cmocka_run_group_tests(tests, NULL, NULL);
}

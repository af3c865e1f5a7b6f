/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-mdev: mediated-device types of a parent GPU, UUIDs. */
#include "test-common.h"

#include <unistd.h>

static const char host_ini[] =
    "[mdev-family T4]\n"
    "types=nvidia-230:GRID T4-1Q:16;nvidia-222:GRID T4-1B:16;nvidia-234:GRID T4-16Q:1\n"
    "[device 0000:af:00.0]\n"
    "ids=10de:1eb8\n"
    "class=0x030200\n"
    "driver=nvidia\n"
    "iommu_group=50\n"
    "mdev_family=T4\n"
    "[device 0000:3b:00.0]\n"
    "ids=10de:2236\n"
    "class=0x030200\n"
    "iommu_group=20\n";

#define TYPES "bus/pci/devices/0000:af:00.0/mdev_supported_types"

static void
test_uuid(void **state)
{
    static const char *const good[] = {
        "6d5b1b8c-1f7e-4a51-9a53-4b0e6d0f4c11",
        "6D5B1B8C-1F7E-4A51-9A53-4B0E6D0F4C11",
        "00000000-0000-0000-0000-000000000000",
    };
    static const char *const bad[] = {
        "", "6d5b1b8c", "6d5b1b8c1f7e4a519a534b0e6d0f4c11",
        "6d5b1b8c-1f7e-4a51-9a53-4b0e6d0f4c1",   /* short */
        "6d5b1b8c-1f7e-4a51-9a53-4b0e6d0f4c111", /* long */
        "6d5b1b8c-1f7e-4a51-9a534-b0e6d0f4c11",  /* dash moved */
        "6d5b1b8g-1f7e-4a51-9a53-4b0e6d0f4c11",  /* not hex */
        "{6d5b1b8c-1f7e-4a51-9a53-4b0e6d0f4c1}",
        "../../../../../../../../../../../etc",
        "6d5b1b8c-1f7e-4a51-9a53-4b0e6d0f4c1\n",
        " 6d5b1b8c-1f7e-4a51-9a53-4b0e6d0f4c1",
    };

    for (guint i = 0; i < G_N_ELEMENTS(good); i++)
        if (!vh_mdev_uuid_is_valid(good[i]))
            fail_msg("'%s' rejected", good[i]);
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
        if (vh_mdev_uuid_is_valid(bad[i]))
            fail_msg("'%s' accepted", bad[i]);
    assert_false(vh_mdev_uuid_is_valid(NULL));
}

static void
test_is_parent(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);

    assert_true(vh_mdev_is_parent(env->host->sysfs, "0000:af:00.0"));
    assert_false(vh_mdev_is_parent(env->host->sysfs, "0000:3b:00.0"));
    assert_false(vh_mdev_is_parent(env->host->sysfs, "0000:99:00.0"));
}

static void
test_types_load(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) types = vh_mdev_types_load(env->host->sysfs, "0000:af:00.0", &error);
    const VhMdevType *t;

    assert_no_error(error);
    assert_int_equal(types->len, 3);
    /* sorted by type id, whatever the driver's order */
    t = g_ptr_array_index(types, 0);
    assert_string_equal(t->type_id, "nvidia-222");
    assert_string_equal(t->name, "GRID T4-1B");
    assert_string_equal(t->device_api, "vfio-pci");
    assert_int_equal(t->available_instances, 16);
    assert_int_equal(t->instances->len, 0);
    t = g_ptr_array_index(types, 1);
    assert_string_equal(t->type_id, "nvidia-230");
    assert_string_equal(t->name, "GRID T4-1Q");
    t = g_ptr_array_index(types, 2);
    assert_string_equal(t->type_id, "nvidia-234");
    assert_int_equal(t->available_instances, 1);
}

static void
test_instances(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) types = NULL;
    const VhMdevType *t;
    static const char *const uuids[] = {
        "f0000000-0000-0000-0000-000000000002",
        "10000000-0000-0000-0000-000000000001",
    };

    for (guint i = 0; i < G_N_ELEMENTS(uuids); i++) {
        g_autofree char *dir = g_build_filename(env->sysfs, TYPES, "nvidia-230", "devices",
                                                uuids[i], NULL);
        assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
    }
    test_env_write_sysfs(env, TYPES "/nvidia-230/available_instances", "14\n");
    /* An empty name falls back to the type id. */
    test_env_write_sysfs(env, TYPES "/nvidia-222/name", "\n");
    types = vh_mdev_types_load(env->host->sysfs, "0000:af:00.0", &error);
    assert_no_error(error);
    t = g_ptr_array_index(types, 1);
    assert_int_equal(t->available_instances, 14);
    assert_int_equal(t->instances->len, 2);
    assert_string_equal(g_ptr_array_index(t->instances, 0), uuids[1]);
    assert_string_equal(g_ptr_array_index(t->instances, 1), uuids[0]);
    t = g_ptr_array_index(types, 0);
    assert_string_equal(t->name, "nvidia-222");
}

/* An mdev as the kernel shows it: a directory under its parent, linked
 * from bus/mdev/devices, its mdev_type a link to the type directory. */
static void
make_instance(TestEnv *env, const char *parent, const char *type_id, const char *uuid)
{
    g_autofree char *dir = g_strdup_printf("%s/bus/pci/devices/%s/%s", env->sysfs, parent, uuid);
    g_autofree char *type_link = g_build_filename(dir, "mdev_type", NULL);
    g_autofree char *type_dir = g_strdup_printf("../mdev_supported_types/%s", type_id);
    g_autofree char *bus_dir = g_build_filename(env->sysfs, "bus/mdev/devices", NULL);
    g_autofree char *bus_link = g_build_filename(bus_dir, uuid, NULL);

    assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
    assert_int_equal(g_mkdir_with_parents(bus_dir, 0755), 0);
    assert_int_equal(symlink(type_dir, type_link), 0);
    assert_int_equal(symlink(dir, bus_link), 0);
}

static void
test_parents_and_instances(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(GPtrArray) parents = NULL;
    g_autofree char *junk = g_build_filename(env->sysfs, "class/mdev_bus/not-an-address", NULL);
    static const char uuid[] = "10000000-0000-0000-0000-000000000001";
    static const char other[] = "20000000-0000-0000-0000-000000000002";
    g_autofree char *type = NULL, *name = NULL, *parent = NULL;

    assert_int_equal(g_mkdir_with_parents(junk, 0755), 0);
    parents = vh_mdev_parents(env->host->sysfs);
    assert_int_equal(parents->len, 1); /* not the entry that is no PCI address */
    assert_string_equal(g_ptr_array_index(parents, 0), "0000:af:00.0");

    make_instance(env, "0000:af:00.0", "nvidia-230", uuid);
    assert_true(vh_mdev_instance_exists(env->host->sysfs, uuid));
    type = vh_mdev_instance_type(env->host->sysfs, uuid);
    assert_string_equal(type, "nvidia-230");
    name = vh_mdev_instance_type_name(env->host->sysfs, uuid);
    assert_string_equal(name, "GRID T4-1Q");
    parent = vh_mdev_instance_parent(env->host->sysfs, uuid);
    assert_string_equal(parent, "0000:af:00.0");
    /* a type without a name is named by its id */
    test_env_write_sysfs(env, TYPES "/nvidia-230/name", "\n");
    g_free(name);
    name = vh_mdev_instance_type_name(env->host->sysfs, uuid);
    assert_string_equal(name, "nvidia-230");

    assert_false(vh_mdev_instance_exists(env->host->sysfs, other));
    assert_null(vh_mdev_instance_type_name(env->host->sysfs, other));
    assert_null(vh_mdev_instance_parent(env->host->sysfs, other));
    assert_false(vh_mdev_instance_exists(env->host->sysfs, "../../../etc"));
    assert_null(vh_mdev_instance_parent(env->host->sysfs, "../../../etc"));
}

static void
test_types_errors(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(host_ini, NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) none = NULL;
    g_autoptr(GPtrArray) bad = NULL;

    none = vh_mdev_types_load(env->host->sysfs, "0000:3b:00.0", &error);
    assert_null(none);
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "mdev_supported_types");
    g_clear_error(&error);

    test_env_write_sysfs(env, TYPES "/nvidia-234/available_instances", "lots\n");
    bad = vh_mdev_types_load(env->host->sysfs, "0000:af:00.0", &error);
    assert_null(bad);
    assert_vh_error(error, VH_ERROR_IO, "nvidia-234/available_instances");
    /* sysfs content is never quoted in an error (a tree that lies is not ours) */
    assert_contains(error->message, "expected a decimal number");
    assert_null(strstr(error->message, "lots"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_is_parent),
        cmocka_unit_test(test_types_load),
        cmocka_unit_test(test_instances),
        cmocka_unit_test(test_types_errors),
        cmocka_unit_test(test_parents_and_instances),
    };

    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

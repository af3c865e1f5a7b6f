/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-inventory: the host, its leases and its catalogue read together, as
 * vgpuctl and remap read them: what counts as held, lease states, device
 * kinds, an unreadable state directory, the devices nobody may touch. */
#include "test-common.h"

#define UUID_A "6d5b1b8c-1f7e-4a51-9a53-4b0e6d0f4c11"
#define UUID_WEB1 "11111111-2222-4333-8444-555555555555"
#define UUID_OLD "22222222-3333-4444-8555-666666666666"
#define A10 "nvidia.com/GA102GL_A10"

/* Two A10s with their audio functions, a NIC of its own group, an L40S. */
static const char host_ini[] =
    "[device 0000:3b:00.0]\n"
    "ids=10de:2236\n"
    "class=0x030200\n"
    "driver=nvidia\n"
    "iommu_group=20\n"
    "[device 0000:3b:00.1]\n"
    "ids=10de:1aef\n"
    "class=0x040300\n"
    "iommu_group=20\n"
    "[device 0000:86:00.0]\n"
    "ids=10de:2236\n"
    "class=0x030200\n"
    "driver=nvidia\n"
    "iommu_group=21\n"
    "[device 0000:05:00.0]\n"
    "ids=8086:1572\n"
    "class=0x020000\n"
    "iommu_group=5\n"
    "[vgpu-family L40S]\n"
    "framebuffer_gb=48\n"
    "types=1160:NVIDIA L40S-12Q;1161:NVIDIA L40S-24Q\n"
    "[device 0000:41:00.0]\n"
    "ids=10de:26b9\n"
    "class=0x030200\n"
    "driver=nvidia\n"
    "iommu_group=30\n"
    "sriov_totalvfs=4\n"
    "sriov_numvfs=4\n"
    "vgpu_family=L40S\n";

typedef struct {
    TestEnv *env;
    char *run;          /* libvirt_run_dir */
} Fixture;

static int
setup(void **state)
{
    Fixture *f = g_new0(Fixture, 1);
    g_autofree char *keys = NULL;

    f->env = test_env_new_empty();
    f->run = g_build_filename(f->env->dir, "run", NULL);
    keys = g_strdup_printf("libvirt_run_dir=%s\nlease_grace_seconds=0\n", f->run);
    g_mkdir_with_parents(f->run, 0755);
    test_env_build_host(f->env, host_ini);
    test_env_load_config(f->env, keys);
    f->env->host = vh_host_new(f->env->config);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    Fixture *f = *state;

    test_env_free(f->env);
    g_free(f->run);
    g_free(f);
    return 0;
}

static void
put_lease(Fixture *f, const char *key, const char *resource, const char *domain,
          const char *uuid, VhLeaseState state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VhLeaseStore) store = vh_lease_store_open(f->env->config, &error);
    g_autoptr(VhLease) lease = vh_lease_new(key, key, resource, domain, uuid, state);

    assert_no_error(error);
    if (!vh_lease_store_put(store, lease, &error))
        fail_msg("lease %s: %s", key, error->message);
}

/* web1 runs (libvirt's pid file) and holds 3b; "old" stopped on 86; vm1
 * (UUID_A) reserved the VF. */
static void
three_leases(Fixture *f)
{
    g_autofree char *pid = g_build_filename(f->run, "web1.pid", NULL);

    put_lease(f, "0000:3b:00.0", A10, "web1", UUID_WEB1, VH_LEASE_ACTIVE);
    put_lease(f, "0000:86:00.0", A10, "old", UUID_OLD, VH_LEASE_ACTIVE);
    put_lease(f, "0000:41:00.4", "nvidia.com/L40S-24Q", "vm1", UUID_A, VH_LEASE_RESERVED);
    test_write_file(pid, "1\n");
}

static void
test_open_reads_everything(void **state)
{
    Fixture *f = *state;
    g_autoptr(GError) error = NULL;
    g_autoptr(VhInventory) inv = NULL;
    g_autoptr(VhAllocator) alloc = NULL;

    three_leases(f);
    inv = vh_inventory_open(f->env->host, UUID_A, 0, &error);
    assert_no_error(error);
    assert_true(f->env->host->scanned);
    assert_int_equal(inv->leases->len, 3);
    assert_int_equal(inv->warnings->len, 0);
    /* held: web1's live lease; not the stale one, not vm1's own */
    assert_string_equal(g_hash_table_lookup(inv->holders, "0000:3b:00.0"), A10);
    assert_false(g_hash_table_contains(inv->holders, "0000:86:00.0"));
    assert_false(g_hash_table_contains(inv->holders, "0000:41:00.4"));
    assert_int_equal(vh_catalog_lookup(inv->catalog, A10)->in_use, 1);
    assert_string_equal(vh_inventory_lease_state(inv, vh_inventory_lease(inv, "0000:3b:00.0")),
                        "active");
    assert_string_equal(vh_inventory_lease_state(inv, vh_inventory_lease(inv, "0000:86:00.0")),
                        "stale");
    assert_string_equal(vh_inventory_lease_state(inv, vh_inventory_lease(inv, "0000:41:00.4")),
                        "reserved");
    assert_null(vh_inventory_lease(inv, "0000:41:00.5"));
    alloc = vh_inventory_allocator(inv);
    assert_ptr_equal(alloc->catalog, inv->catalog);
    assert_true(g_hash_table_contains(alloc->holders, "0000:3b:00.0"));
}

static void
test_device_kinds(void **state)
{
    Fixture *f = *state;
    g_autoptr(GError) error = NULL;
    g_autoptr(VhInventory) inv = vh_inventory_open(f->env->host, NULL, 0, &error);
    static const char *const kinds[][2] = {
        { "0000:3b:00.0", "passthrough" },
        { "0000:3b:00.1", "companion" },   /* in an A10's IOMMU group */
        { "0000:05:00.0", "network" },     /* a NIC of its own group */
        { "0000:41:00.0", "sriov-pf" },
        { "0000:41:00.4", "sriov-vf" },
    };

    assert_no_error(error);
    for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
        const VhPciDevice *dev = g_hash_table_lookup(f->env->host->by_address, kinds[i][0]);
        assert_non_null(dev);
        if (g_strcmp0(vh_inventory_device_kind(inv, dev), kinds[i][1]) != 0)
            fail_msg("%s: kind %s, expected %s", kinds[i][0], vh_inventory_device_kind(inv, dev),
                     kinds[i][1]);
    }
}

/* A state directory that cannot be read: an error, or with LEASES_OPTIONAL
 * a warning and nothing leased (a user without rights on /run). */
static void
test_unreadable_state(void **state)
{
    Fixture *f = *state;
    g_autoptr(GError) error = NULL;
    g_autoptr(VhInventory) inv = NULL;

    test_write_file(f->env->config->state_dir, "not a directory\n");
    inv = vh_inventory_open(f->env->host, NULL, 0, &error);
    assert_null(inv);
    assert_non_null(error);
    g_clear_error(&error);
    inv = vh_inventory_open(f->env->host, NULL, VH_INVENTORY_LOCK | VH_INVENTORY_LEASES_OPTIONAL,
                            &error);
    assert_null(inv);
    assert_non_null(error);
    g_clear_error(&error);
    inv = vh_inventory_open(f->env->host, NULL, VH_INVENTORY_LEASES_OPTIONAL, &error);
    assert_no_error(error);
    assert_null(inv->store);
    assert_int_equal(inv->leases->len, 0);
    assert_int_equal(inv->warnings->len, 1);
    assert_true(g_str_has_prefix(g_ptr_array_index(inv->warnings, 0), "leases not shown: "));
    assert_int_equal(vh_catalog_lookup(inv->catalog, A10)->in_use, 0);
}

/* Locked: the inventory holds the lease lock until it is freed. */
static void
test_lock(void **state)
{
    Fixture *f = *state;
    g_autoptr(GError) error = NULL;
    g_autoptr(VhInventory) inv = vh_inventory_open(f->env->host, NULL, VH_INVENTORY_LOCK, &error);
    g_autoptr(VhLeaseStore) other = NULL;

    assert_no_error(error);
    other = vh_lease_store_open(f->env->config, &error);
    assert_no_error(error);
    assert_false(vh_lease_store_lock(other, 50, &error));
    assert_vh_error(error, VH_ERROR_TIMEOUT, "");
    g_clear_error(&error);
    g_clear_pointer(&inv, vh_inventory_free);
    assert_true(vh_lease_store_lock(other, 50, &error));
    assert_no_error(error);
}

/* Busy: live active leases and what running domains' status files name. */
static void
test_busy_devices(void **state)
{
    Fixture *f = *state;
    g_autoptr(GError) error = NULL;
    g_autoptr(VhLeaseStore) locked = NULL;
    g_autoptr(GHashTable) busy = NULL;
    g_autofree char *pid = g_build_filename(f->run, "db.pid", NULL);
    g_autofree char *xml = g_build_filename(f->run, "db.xml", NULL);

    three_leases(f);
    test_write_file(pid, "2\n");
    test_write_file(xml, "<domstatus><domain type='kvm'><name>db</name><devices>"
                         "<hostdev mode='subsystem' type='pci' managed='no'><source><address "
                         "domain='0x0000' bus='0x05' slot='0x00' function='0x0'/></source>"
                         "</hostdev></devices></domain></domstatus>");
    busy = vh_inventory_busy_devices(f->env->config, &locked, &error);
    assert_no_error(error);
    assert_non_null(locked);
    assert_int_equal(g_hash_table_size(busy), 2);
    assert_string_equal(g_hash_table_lookup(busy, "0000:3b:00.0"), "web1");
    assert_string_equal(g_hash_table_lookup(busy, "0000:05:00.0"), "db");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_reads_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_kinds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unreadable_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_busy_devices, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-lease: lease files, their damage, liveness, the state-directory lock,
 * and many allocations racing for the same GPUs from separate processes. */
#include "test-common.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define UUID_A "6d5b1b8c-1f7e-4a51-9a53-4b0e6d0f4c11"
#define UUID_B "0f0e8a2a-5b3c-4c4d-8e9f-a0b1c2d3e4f5"
#define UUID_C "11111111-2222-4333-8444-555555555555"
#define MDEV_1 "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

#define L40S_FAMILY                                                                    \
    "[vgpu-family L40S]\n"                                                             \
    "framebuffer_gb=48\n"                                                              \
    "types=1155:NVIDIA L40S-1Q;1156:NVIDIA L40S-2Q;1157:NVIDIA L40S-4Q;"               \
    "1158:NVIDIA L40S-6Q;1159:NVIDIA L40S-8Q;1160:NVIDIA L40S-12Q;"                    \
    "1161:NVIDIA L40S-24Q;1162:NVIDIA L40S-48Q\n"

/* Two L40S (48 GB each) with 16 VFs each: 0000:41:00.4.. and 0000:c1:00.4.. */
#define TWO_L40S                                                                       \
    L40S_FAMILY                                                                        \
    "[device 0000:41:00.0]\n"                                                          \
    "ids=10de:26b9\n"                                                                  \
    "subsystem=10de:1851\n"                                                            \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=30\n"                                                                 \
    "numa_node=0\n"                                                                    \
    "sriov_totalvfs=32\n"                                                              \
    "sriov_numvfs=16\n"                                                                \
    "vgpu_family=L40S\n"                                                               \
    "[device 0000:c1:00.0]\n"                                                          \
    "ids=10de:26b9\n"                                                                  \
    "subsystem=10de:1851\n"                                                            \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=60\n"                                                                 \
    "numa_node=1\n"                                                                    \
    "sriov_totalvfs=32\n"                                                              \
    "sriov_numvfs=16\n"                                                                \
    "vgpu_family=L40S\n"

/* ---- helpers ------------------------------------------------------------ */

typedef struct {
    TestEnv *env;
    char *run_dir;     /* stands for /run/libvirt/qemu */
} LeaseEnv;

static void
lease_env_free(LeaseEnv *le)
{
    test_env_free(le->env);
    g_free(le->run_dir);
    g_free(le);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(LeaseEnv, lease_env_free)

/* @host_ini may be NULL; @grace is lease_grace_seconds; @extra more [host]
 * keys. */
static LeaseEnv *
lease_env_new(const char *host_ini, guint grace, const char *extra)
{
    LeaseEnv *le = g_new0(LeaseEnv, 1);
    g_autofree char *keys = NULL;

    le->env = test_env_new_empty();
    le->run_dir = g_build_filename(le->env->dir, "run-libvirt-qemu", NULL);
    assert_int_equal(g_mkdir_with_parents(le->run_dir, 0755), 0);
    test_env_build_host(le->env, host_ini);
    keys = g_strdup_printf("libvirt_run_dir=%s\nlease_grace_seconds=%u\n%s", le->run_dir, grace,
                           extra ? extra : "");
    test_env_load_config(le->env, keys);
    le->env->host = vh_host_new(le->env->config);
    return le;
}

static VhLeaseStore *
store_open(const LeaseEnv *le)
{
    g_autoptr(GError) error = NULL;
    VhLeaseStore *store = vh_lease_store_open(le->env->config, &error);

    if (store == NULL)
        fail_msg("store: %s", error->message);
    return store;
}

static char *
lease_file(const LeaseEnv *le, const char *key)
{
    return g_build_filename(le->env->state, "leases", key, NULL);
}

static void
put_ok(VhLeaseStore *store, const VhLease *lease)
{
    g_autoptr(GError) error = NULL;

    if (!vh_lease_store_put(store, lease, &error))
        fail_msg("put %s: %s", lease->key, error->message);
}

/* Names in STATE/leases joined by spaces. */
static char *
list_lease_dir(const LeaseEnv *le)
{
    g_autofree char *dir_path = g_build_filename(le->env->state, "leases", NULL);
    g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    assert_non_null(dir);
    while ((name = g_dir_read_name(dir)) != NULL)
        g_ptr_array_add(names, g_strdup(name));
    g_ptr_array_add(names, NULL);
    /* g_strjoinv over the array's pdata */
    return g_strjoinv(" ", (char **)names->pdata);
}

static const VhLease *
find_lease(GPtrArray *leases, const char *key)
{
    for (guint i = 0; i < leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(leases, i);
        if (strcmp(lease->key, key) == 0)
            return lease;
    }
    return NULL;
}

static void
touch_pidfile(const LeaseEnv *le, const char *domain)
{
    g_autofree char *path = g_strdup_printf("%s/%s.pid", le->run_dir, domain);

    test_write_file(path, "12345\n");
}

/* ---- files ------------------------------------------------------------------ */

static void
test_round_trip(void **state)
{
    g_autoptr(LeaseEnv) le = lease_env_new(NULL, 120, NULL);
    g_autoptr(VhLeaseStore) store = store_open(le);
    g_autoptr(VhLease) full = vh_lease_new(MDEV_1, "0000:af:00.0", "nvidia.com/GRID_T4-2Q",
                                           "vdi 1", UUID_A, VH_LEASE_ACTIVE);
    g_autoptr(VhLease) plain = vh_lease_new("0000:41:00.4", "0000:41:00.4", "nvidia.com/L40S-24Q",
                                            "vm1", UUID_B, VH_LEASE_RESERVED);
    g_autoptr(VhLease) got = NULL;
    g_autoptr(VhLease) got2 = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *path = lease_file(le, "0000:41:00.4");
    struct stat st;
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;

    assert_true(plain->since >= now - 1 && plain->since <= now + 1);
    full->mdev_uuid = g_strdup(MDEV_1);
    full->mdev_type = g_strdup("nvidia-231");
    full->original_driver = g_strdup("");
    full->companions = g_strsplit("0000:af:00.1=snd_hda_intel;0000:af:00.2=", ";", -1);
    full->profile_written = TRUE;
    full->mdev_created = TRUE;
    full->since = 1700000000;
    put_ok(store, full);
    put_ok(store, plain);

    got = vh_lease_store_get(store, MDEV_1, &error);
    assert_no_error(error);
    assert_string_equal(got->key, MDEV_1);
    assert_string_equal(got->device, "0000:af:00.0");
    assert_string_equal(got->resource, "nvidia.com/GRID_T4-2Q");
    assert_string_equal(got->domain, "vdi 1");
    assert_string_equal(got->uuid, UUID_A);
    assert_int_equal(got->state, VH_LEASE_ACTIVE);
    assert_int_equal(got->since, 1700000000);
    assert_string_equal(got->mdev_uuid, MDEV_1);
    assert_string_equal(got->mdev_type, "nvidia-231");
    assert_string_equal(got->original_driver, "");
    assert_int_equal(g_strv_length(got->companions), 2);
    assert_string_equal(got->companions[0], "0000:af:00.1=snd_hda_intel");
    assert_string_equal(got->companions[1], "0000:af:00.2=");
    assert_true(got->profile_written);
    assert_true(got->mdev_created);

    got2 = vh_lease_store_get(store, "0000:41:00.4", &error);
    assert_no_error(error);
    assert_string_equal(got2->domain, "vm1");
    assert_int_equal(got2->state, VH_LEASE_RESERVED);
    assert_int_equal(got2->since, plain->since);
    assert_null(got2->mdev_uuid);
    assert_null(got2->mdev_type);
    assert_null(got2->original_driver);
    assert_null(got2->companions);
    assert_false(got2->profile_written);
    assert_false(got2->mdev_created);
    assert_string_equal(vh_lease_state_to_string(VH_LEASE_RESERVED), "reserved");
    assert_string_equal(vh_lease_state_to_string(VH_LEASE_ACTIVE), "active");

    /* private files in a private directory */
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    g_free(path);
    path = g_build_filename(le->env->state, "leases", NULL);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);

    /* overwrite */
    plain->state = VH_LEASE_ACTIVE;
    put_ok(store, plain);
    g_clear_pointer(&got2, vh_lease_free);
    got2 = vh_lease_store_get(store, "0000:41:00.4", &error);
    assert_int_equal(got2->state, VH_LEASE_ACTIVE);

    /* remove: gone, and removing again is fine */
    assert_true(vh_lease_store_remove(store, "0000:41:00.4", &error));
    assert_no_error(error);
    assert_true(vh_lease_store_remove(store, "0000:41:00.4", &error));
    assert_no_error(error);
    g_clear_pointer(&got2, vh_lease_free);
    got2 = vh_lease_store_get(store, "0000:41:00.4", &error);
    assert_null(got2);
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "leases/0000:41:00.4");
    g_clear_error(&error);
    {
        g_autoptr(GPtrArray) leases = vh_lease_store_load(store, NULL, &error);
        assert_no_error(error);
        assert_int_equal(leases->len, 1);
        assert_non_null(find_lease(leases, MDEV_1));
    }
}

/* The GPU-instance fields (mig = on-demand): written and read back, kept
 * out of leases that have none (older leases load as before), cleared by
 * the reservation, and malformed ones make the lease damaged. */
static void
test_gpu_instance(void **state)
{
    g_autoptr(LeaseEnv) le = lease_env_new(NULL, 120, NULL);
    g_autoptr(VhLeaseStore) store = store_open(le);
    g_autoptr(VhLease) lease = vh_lease_new("0000:41:00.4", "0000:41:00.4",
                                            "nvidia.com/H200X-2-35C", "vm1", UUID_A,
                                            VH_LEASE_ACTIVE);
    g_autoptr(VhLease) got = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *path = lease_file(le, "0000:41:00.4");
    g_autofree char *text = NULL;
    const char *old = "[lease]\ndevice=0000:41:00.4\nresource=nvidia.com/L40S-24Q\n"
                      "domain=vm1\nuuid=" UUID_A "\nstate=active\nsince=1700000000\n"
                      "profile_written=true\n";
    static const char *const bad[] = {
        "gpu_instance=-1\n", "gpu_instance=one\n", "gpu_instance_placement=4\n",
        "gpu_instance_placement=4:4x\n", "gpu_instance_profile=a/b\n",
        "gpu_instance_created=true\n", /* nothing to find it by */
        "gpu_instance_created=true\ngpu_instance_placement=0:2\n", /* no profile */
    };

    (void)state;
    /* an older lease: no instance */
    test_write_file(path, old);
    got = vh_lease_store_get(store, "0000:41:00.4", &error);
    assert_no_error(error);
    assert_false(got->has_gpu_instance);
    assert_false(got->gpu_instance_created);
    assert_null(got->gpu_instance_profile);
    g_clear_pointer(&got, vh_lease_free);
    /* recorded before the create (no id yet), then with the id */
    lease->gpu_instance_profile = g_strdup("2g.35gb");
    lease->gpu_instance_placement = g_strdup("4:2");
    lease->gpu_instance_created = TRUE;
    put_ok(store, lease);
    got = vh_lease_store_get(store, "0000:41:00.4", &error);
    assert_no_error(error);
    assert_false(got->has_gpu_instance);
    assert_true(got->gpu_instance_created);
    assert_string_equal(got->gpu_instance_placement, "4:2");
    g_clear_pointer(&got, vh_lease_free);
    lease->has_gpu_instance = TRUE;
    lease->gpu_instance = 0; /* 0 is a valid id */
    put_ok(store, lease);
    got = vh_lease_store_get(store, "0000:41:00.4", &error);
    assert_no_error(error);
    assert_true(got->has_gpu_instance);
    assert_int_equal(got->gpu_instance, 0);
    assert_string_equal(got->gpu_instance_profile, "2g.35gb");
    /* release: a reservation keeps none of it */
    vh_lease_make_reservation(got);
    put_ok(store, got);
    assert_true(g_file_get_contents(path, &text, NULL, NULL));
    assert_null(strstr(text, "gpu_instance"));
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *data = g_strconcat(old, bad[i], NULL);
        g_autoptr(VhLease) damaged = NULL;
        g_clear_error(&error);
        test_write_file(path, data);
        damaged = vh_lease_store_get(store, "0000:41:00.4", &error);
        if (damaged != NULL)
            fail_msg("accepted: %s", bad[i]);
        assert_vh_error(error, VH_ERROR_INVALID, "GPU-instance fields");
    }
}

/* Writes go through a temporary file and a rename: nothing else is ever
 * left in the directory, and a leftover of an interrupted write is not a
 * lease. */
static void
test_atomic_writes(void **state)
{
    g_autoptr(LeaseEnv) le = lease_env_new(NULL, 120, NULL);
    g_autoptr(VhLeaseStore) store = store_open(le);
    g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) leases = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *listing = NULL;
    g_autofree char *leftover = lease_file(le, "0000:41:00.4.K3J2QX");

    for (guint i = 0; i < 50; i++) {
        g_autofree char *key = g_strdup_printf("0000:41:%02x.%u", 0x00 + i / 8, i % 8);
        g_autoptr(VhLease) lease = vh_lease_new(key, key, "nvidia.com/L40S-1Q", "vm1", UUID_A,
                                                i % 2 ? VH_LEASE_ACTIVE : VH_LEASE_RESERVED);
        put_ok(store, lease);
        put_ok(store, lease);
    }
    {
        /* overwriting a lease of another domain leaves one file too */
        g_autoptr(VhLease) other = vh_lease_new("0000:41:00.0", "0000:41:00.0", "x/y", "vm2",
                                                UUID_B, VH_LEASE_RESERVED);
        put_ok(store, other);
    }
    listing = list_lease_dir(le);
    assert_not_contains(listing, "~");
    assert_not_contains(listing, ".K");
    {
        g_auto(GStrv) names = g_strsplit(listing, " ", -1);
        assert_int_equal(g_strv_length(names), 50);
        for (guint i = 0; names[i]; i++)
            assert_true(vh_pci_address_is_valid(names[i]));
    }

    test_write_file(leftover, "[lease]\ndevice=0000:41:00.4\n");
    leases = vh_lease_store_load(store, warnings, &error);
    assert_no_error(error);
    assert_int_equal(leases->len, 50);
    assert_int_equal(warnings->len, 0);
    assert_null(find_lease(leases, "0000:41:00.4.K3J2QX"));
}

/* A damaged file names itself and says what to do; loading reports it and
 * keeps its device out of reach. */
static void
check_damaged(const char *key, const char *contents, gssize len, const char *reason)
{
    g_autoptr(LeaseEnv) le = lease_env_new(NULL, 0, NULL);
    g_autoptr(VhLeaseStore) store = store_open(le);
    g_autofree char *path = lease_file(le, key);
    g_autoptr(GError) error = NULL;
    g_autoptr(VhLease) lease = NULL;
    g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) leases = NULL;
    g_autoptr(GHashTable) holders = NULL;
    g_autofree char *expected = NULL;
    const VhLease *stand_in;

    g_file_set_contents(path, contents, len, &error);
    assert_no_error(error);
    lease = vh_lease_store_get(store, key, &error);
    assert_null(lease);
    expected = g_strdup_printf("lease file %s is damaged (", path);
    assert_vh_error(error, VH_ERROR_INVALID, expected);
    g_free(expected);
    expected = g_strdup_printf("): check which domain uses %s, then remove the file", key);
    assert_contains(error->message, expected);
    if (reason)
        assert_contains(error->message, reason);
    /* no byte of a file that failed to parse is quoted */
    assert_null(strstr(error->message, "s3cr3t"));
    g_clear_error(&error);

    leases = vh_lease_store_load(store, warnings, &error);
    assert_no_error(error);
    assert_int_equal(warnings->len, 1);
    {
        /* the warning is the message get gives */
        g_autoptr(GError) again = NULL;
        g_autoptr(VhLease) none = vh_lease_store_get(store, key, &again);
        assert_null(none);
        assert_string_equal(g_ptr_array_index(warnings, 0), again->message);
    }
    assert_int_equal(leases->len, 1);
    stand_in = g_ptr_array_index(leases, 0);
    assert_string_equal(stand_in->key, key);
    assert_string_equal(stand_in->domain, "(damaged lease file)");
    assert_int_equal(stand_in->state, VH_LEASE_ACTIVE);
    /* held even with no grace and no pid file, by anyone's account */
    assert_true(vh_lease_is_live(store, stand_in));
    holders = vh_lease_holders(store, leases, UUID_A);
    assert_true(g_hash_table_contains(holders, key));
    g_clear_pointer(&holders, g_hash_table_unref);
    /* libvirt accepts the nil UUID: a domain that has it does not own the
     * stand-in either, and the stand-in is never written back */
    holders = vh_lease_holders(store, leases, "00000000-0000-0000-0000-000000000000");
    assert_true(g_hash_table_contains(holders, key));
    assert_false(vh_uuid_is_valid(stand_in->uuid));
    assert_false(vh_lease_store_put(store, stand_in, &error));
    assert_vh_error(error, VH_ERROR_INVALID, "refusing to write a lease");
    g_clear_error(&error);

    /* loading without a warnings array still works */
    {
        g_autoptr(GPtrArray) quiet = vh_lease_store_load(store, NULL, &error);
        assert_no_error(error);
        assert_int_equal(quiet->len, 1);
    }
}

static void
test_damaged(void **state)
{
    static const char binary[] = "\x7f" "ELF\x02\x01\x01\0\0\0\xff\xfe[lease]\0device=";
    const char *valid = "[lease]\ndevice=0000:41:00.4\nresource=nvidia.com/L40S-24Q\n"
                        "domain=vm1\nuuid=" UUID_A "\nstate=reserved\nsince=1700000000\n";
    g_autofree char *truncated = g_strndup(valid, 40);
    g_autofree char *huge = g_strnfill(65 * 1024, '#');

    /* the valid one really is valid */
    {
        g_autoptr(LeaseEnv) le = lease_env_new(NULL, 0, NULL);
        g_autoptr(VhLeaseStore) store = store_open(le);
        g_autofree char *path = lease_file(le, "0000:41:00.4");
        g_autoptr(GError) error = NULL;
        g_autoptr(VhLease) lease = NULL;
        test_write_file(path, valid);
        lease = vh_lease_store_get(store, "0000:41:00.4", &error);
        assert_no_error(error);
        assert_string_equal(lease->domain, "vm1");
    }
    check_damaged("0000:41:00.4", truncated, -1, "missing or malformed fields");
    check_damaged("0000:41:00.4", "", -1, "missing or malformed fields");
    check_damaged("0000:41:00.4", "hello, this is not a lease\n", -1, NULL);
    check_damaged("0000:41:00.4", "root:$6$s3cr3t:19000:0:99999:7:::\n", -1, "not a lease file");
    check_damaged("0000:41:00.4", "<domain><name>vm1</name></domain>\n", -1, NULL);
    check_damaged(MDEV_1, binary, sizeof(binary) - 1, NULL);
    check_damaged("0000:41:00.4", "[lease]\ndevice=../../etc\nresource=x\ndomain=vm1\nuuid=" UUID_A
                  "\nstate=reserved\nsince=1\n", -1, "missing or malformed fields");
    check_damaged("0000:41:00.4", "[lease]\ndevice=0000:41:00.4\nresource=x\ndomain=a/b\nuuid="
                  UUID_A "\nstate=reserved\nsince=1\n", -1, "missing or malformed fields");
    check_damaged("0000:41:00.4", "[lease]\ndevice=0000:41:00.4\nresource=x\ndomain=vm1\nuuid="
                  UUID_A "\nstate=borrowed\nsince=1\n", -1, "missing or malformed fields");
    /* the file name is the device: one that names another VF is damaged
     * (a release must never reset that VF) */
    check_damaged("0000:41:00.4", "[lease]\ndevice=0000:41:00.5\nresource=x\ndomain=vm1\nuuid="
                  UUID_A "\nstate=active\nsince=1\nprofile_written=true\n", -1, "disagree");
    check_damaged(MDEV_1, "[lease]\ndevice=0000:41:00.4\nresource=x\ndomain=vm1\nuuid="
                  UUID_A "\nstate=active\nsince=1\n", -1, "disagree");
    check_damaged("0000:41:00.4", "[lease]\ndevice=0000:41:00.4\nresource=x\ndomain=vm1\nuuid="
                  UUID_A "\nstate=active\nsince=1\ncompanions=../x=y\n", -1, "companions=");
    check_damaged("0000:41:00.4", "[lease]\ndevice=0000:41:00.4\nresource=x\ndomain=vm1\nuuid="
                  UUID_A "\nstate=active\nsince=1\nboot_id=yesterday\n", -1, "boot_id");
    check_damaged("0000:41:00.4", "[lease]\ndevice=0000:41:00.4\nresource=x\ndomain=vm1\nuuid="
                  UUID_A "\nstate=active\nsince=0\n", -1, "missing or malformed fields");
    /* an invalid escape GKeyFile passes through as is: written back (by an
     * undo that restores it) it would be another file, so it is damaged */
    check_damaged("0000:41:00.4", "[lease]\ndevice=0000:41:00.4\nresource=x\ndomain=\\vm\nuuid="
                  UUID_A "\nstate=reserved\nsince=1\n", -1, "a value GKeyFile cannot read");
    {
        /* too large to be a lease: refused before parsing */
        g_autoptr(LeaseEnv) le = lease_env_new(NULL, 0, NULL);
        g_autoptr(VhLeaseStore) store = store_open(le);
        g_autofree char *path = lease_file(le, "0000:41:00.4");
        g_autoptr(GError) error = NULL;
        g_autoptr(VhLease) lease = NULL;
        g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
        g_autoptr(GPtrArray) leases = NULL;
        test_write_file(path, huge);
        lease = vh_lease_store_get(store, "0000:41:00.4", &error);
        assert_null(lease);
        assert_vh_error(error, VH_ERROR_INVALID, "(too large to be a lease)");
        assert_contains(error->message, path);
        leases = vh_lease_store_load(store, warnings, NULL);
        assert_int_equal(warnings->len, 1);
        assert_contains(g_ptr_array_index(warnings, 0), "too large");
        assert_int_equal(leases->len, 1);
    }
}

static void
test_bad_keys(void **state)
{
    g_autoptr(LeaseEnv) le = lease_env_new(NULL, 120, NULL);
    g_autoptr(VhLeaseStore) store = store_open(le);
    const char *bad[] = { "../x", "../../etc/passwd", "0000:41:00.4/../../x", "", "lock",
                          "..", ".", "0000:41:00.4/", "x/0000:41:00.4" };
    g_autofree char *outside = g_build_filename(le->env->state, "x", NULL);
    g_autofree char *outside2 = g_build_filename(le->env->dir, "x", NULL);

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VhLease) lease = vh_lease_new(bad[i], "0000:41:00.4", "nvidia.com/x", "vm1",
                                                UUID_A, VH_LEASE_RESERVED);
        g_autoptr(VhLease) got = NULL;
        g_autofree char *needle = g_strdup_printf("refusing to write a lease with key '%s' for "
                                                  "domain 'vm1'", bad[i]);
        g_autofree char *needle2 = g_strdup_printf("'%s' is not a device address or UUID",
                                                   bad[i]);

        assert_false(vh_lease_store_put(store, lease, &error));
        assert_vh_error(error, VH_ERROR_INVALID, needle);
        g_clear_error(&error);
        got = vh_lease_store_get(store, bad[i], &error);
        assert_null(got);
        assert_vh_error(error, VH_ERROR_INVALID, needle2);
        g_clear_error(&error);
        assert_false(vh_lease_store_remove(store, bad[i], &error));
        assert_vh_error(error, VH_ERROR_INVALID, needle2);
    }
    assert_false(g_file_test(outside, G_FILE_TEST_EXISTS));
    assert_false(g_file_test(outside2, G_FILE_TEST_EXISTS));
    /* the lock file is not a lease and survives remove attempts */
    {
        g_autoptr(GError) error = NULL;
        g_autofree char *lock = g_build_filename(le->env->state, "lock", NULL);
        assert_true(vh_lease_store_lock(store, 100, &error));
        vh_lease_store_unlock(store);
        assert_true(g_file_test(lock, G_FILE_TEST_EXISTS));
    }

    /* bad domain names and UUIDs are refused too */
    {
        g_autoptr(GError) error = NULL;
        g_autoptr(VhLease) lease = vh_lease_new("0000:41:00.4", "0000:41:00.4", "nvidia.com/x",
                                                "../x", UUID_A, VH_LEASE_RESERVED);
        assert_false(vh_lease_store_put(store, lease, &error));
        assert_vh_error(error, VH_ERROR_INVALID, "for domain '../x'");
        g_clear_error(&error);
        g_free(lease->domain);
        lease->domain = g_strdup("vm1");
        g_free(lease->uuid);
        lease->uuid = g_strdup("not-a-uuid");
        assert_false(vh_lease_store_put(store, lease, &error));
        assert_vh_error(error, VH_ERROR_INVALID, "refusing to write a lease");
    }
    {
        g_autofree char *listing = list_lease_dir(le);
        assert_string_equal(listing, "");
    }
}

static void
test_names_and_uuids(void **state)
{
    g_autofree char *nmax = g_strnfill(VH_DOMAIN_NAME_MAX, 'n');
    g_autofree char *nlong = g_strnfill(VH_DOMAIN_NAME_MAX + 1, 'n');

    /* libvirt's rules, on the exact name: only empty, '/' and newline fail */
    assert_true(vh_domain_name_is_valid("vm1"));
    assert_true(vh_domain_name_is_valid("my vm (test) ü"));
    assert_true(vh_domain_name_is_valid(nmax));
    assert_true(vh_domain_name_is_valid(" vm"));
    assert_true(vh_domain_name_is_valid("."));
    assert_true(vh_domain_name_is_valid(".."));
    assert_true(vh_domain_name_is_valid("a\tb"));
    assert_true(vh_domain_name_is_valid("a\x7f"));
    assert_false(vh_domain_name_is_valid(nlong));
    assert_false(vh_domain_name_is_valid(NULL));
    assert_false(vh_domain_name_is_valid(""));
    assert_false(vh_domain_name_is_valid("a/b"));
    assert_false(vh_domain_name_is_valid("a\nb"));
    assert_false(vh_domain_name_is_valid("\xff\xfe"));
    assert_true(vh_uuid_is_valid(UUID_A));
    assert_true(vh_uuid_is_valid("6D5B1B8C-1F7E-4A51-9A53-4B0E6D0F4C11"));
    assert_false(vh_uuid_is_valid("6d5b1b8c1f7e4a519a534b0e6d0f4c11"));
    assert_false(vh_uuid_is_valid(NULL));
    assert_false(vh_uuid_is_valid("../../../../../../../../../../../../x"));
}

/* ---- liveness -------------------------------------------------------------- */

static void
test_is_live(void **state)
{
    g_autoptr(LeaseEnv) le = lease_env_new(NULL, 0, NULL);
    g_autoptr(LeaseEnv) graced = lease_env_new(NULL, 120, NULL);
    g_autoptr(VhLeaseStore) store = store_open(le);
    g_autoptr(VhLeaseStore) gstore = store_open(graced);
    g_autoptr(VhLease) reserved = vh_lease_new("0000:41:00.4", "0000:41:00.4", "nvidia.com/x",
                                               "vm1", UUID_A, VH_LEASE_RESERVED);
    g_autoptr(VhLease) active = vh_lease_new("0000:41:00.5", "0000:41:00.5", "nvidia.com/x",
                                             "vm2", UUID_B, VH_LEASE_ACTIVE);
    g_autofree char *pidfile = g_strdup_printf("%s/vm2.pid", le->run_dir);

    /* a reservation is live whatever libvirt says */
    reserved->since = 1;
    assert_true(vh_lease_is_live(store, reserved));
    assert_true(vh_lease_is_live(gstore, reserved));

    /* active, fresh: live within the grace period only */
    assert_true(vh_lease_is_live(gstore, active));
    assert_false(vh_lease_is_live(store, active));
    /* after the grace period: live exactly while libvirt's pid file exists */
    active->since -= 121;
    assert_false(vh_lease_is_live(gstore, active));
    touch_pidfile(le, "vm2");
    assert_true(vh_lease_is_live(store, active));
    assert_false(vh_lease_is_live(gstore, active)); /* its run dir has no pid file */
    touch_pidfile(graced, "vm2");
    assert_true(vh_lease_is_live(gstore, active));
    assert_int_equal(g_unlink(pidfile), 0);
    assert_false(vh_lease_is_live(store, active));
    /* another domain's pid file does not count; <name>.xml alone does not either */
    touch_pidfile(le, "vm1");
    {
        g_autofree char *xml = g_strdup_printf("%s/vm2.xml", le->run_dir);
        test_write_file(xml, "<domstatus/>");
    }
    assert_false(vh_lease_is_live(store, active));
}

#define BOOT_NOW "2f7c1f3e-5b8e-4f0e-9a7a-111111111111"
#define BOOT_OLD "2f7c1f3e-5b8e-4f0e-9a7a-000000000000"

/* A lease knows its boot: one of another boot is never live, however young
 * (a persistent state_dir right after a reboot); one without boot_id (an
 * older lease) follows the grace period and pid file as before. */
static void
test_boot_id(void **state)
{
    g_autoptr(LeaseEnv) graced = lease_env_new(NULL, 3600, NULL);
    g_autoptr(VhLeaseStore) store = store_open(graced);
    g_autoptr(VhLease) active = vh_lease_new("0000:41:00.5", "0000:41:00.5", "nvidia.com/x",
                                             "vm2", UUID_B, VH_LEASE_ACTIVE);
    g_autoptr(VhLease) back = NULL;
    g_autoptr(GError) error = NULL;

    assert_string_equal(vh_lease_current_boot_id(), BOOT_NOW);
    assert_string_equal(active->boot_id, BOOT_NOW);
    assert_true(vh_lease_is_live(store, active));
    /* written and read back with its boot */
    assert_true(vh_lease_store_put(store, active, &error));
    back = vh_lease_store_get(store, "0000:41:00.5", &error);
    assert_no_error(error);
    assert_string_equal(back->boot_id, BOOT_NOW);
    /* taken in another boot: dead, even within the grace period, even with
     * a pid file of the same name */
    g_free(active->boot_id);
    active->boot_id = g_strdup(BOOT_OLD);
    assert_true(vh_lease_is_from_other_boot(active));
    assert_false(vh_lease_is_live(store, active));
    touch_pidfile(graced, "vm2");
    assert_false(vh_lease_is_live(store, active));
    /* no boot_id: the grace period decides */
    g_clear_pointer(&active->boot_id, g_free);
    assert_false(vh_lease_is_from_other_boot(active));
    assert_true(vh_lease_is_live(store, active));
}

static void
test_holders(void **state)
{
    g_autoptr(LeaseEnv) le = lease_env_new(NULL, 0, NULL);
    g_autoptr(VhLeaseStore) store = store_open(le);
    g_autoptr(GPtrArray) leases = g_ptr_array_new_with_free_func((GDestroyNotify)vh_lease_free);
    g_autoptr(GHashTable) mine = NULL;
    g_autoptr(GHashTable) all = NULL;

    /* own reservation, another domain's reservation, another domain's stale
     * active lease, another running domain's active lease, an mdev */
    g_ptr_array_add(leases, vh_lease_new("0000:41:00.4", "0000:41:00.4", "nvidia.com/L40S-24Q",
                                         "me", UUID_A, VH_LEASE_RESERVED));
    g_ptr_array_add(leases, vh_lease_new("0000:41:00.5", "0000:41:00.5", "nvidia.com/L40S-24Q",
                                         "other", UUID_B, VH_LEASE_RESERVED));
    g_ptr_array_add(leases, vh_lease_new("0000:41:00.6", "0000:41:00.6", "nvidia.com/L40S-24Q",
                                         "stopped", UUID_C, VH_LEASE_ACTIVE));
    g_ptr_array_add(leases, vh_lease_new("0000:41:00.7", "0000:41:00.7", "nvidia.com/L40S-12Q",
                                         "running", "22222222-2222-4333-8444-555555555555",
                                         VH_LEASE_ACTIVE));
    g_ptr_array_add(leases, vh_lease_new(MDEV_1, "0000:af:00.0", "nvidia.com/GRID_T4-2Q",
                                         "vdi", "33333333-2222-4333-8444-555555555555",
                                         VH_LEASE_RESERVED));
    /* own active lease too: excluded, it is ours */
    g_ptr_array_add(leases, vh_lease_new("0000:41:01.0", "0000:41:01.0", "nvidia.com/L40S-24Q",
                                         "me", UUID_A, VH_LEASE_ACTIVE));
    touch_pidfile(le, "running");
    touch_pidfile(le, "me");

    mine = vh_lease_holders(store, leases, UUID_A);
    assert_int_equal(g_hash_table_size(mine), 3);
    assert_string_equal(g_hash_table_lookup(mine, "0000:41:00.5"), "nvidia.com/L40S-24Q");
    assert_string_equal(g_hash_table_lookup(mine, "0000:41:00.7"), "nvidia.com/L40S-12Q");
    assert_string_equal(g_hash_table_lookup(mine, MDEV_1), "nvidia.com/GRID_T4-2Q");
    assert_false(g_hash_table_contains(mine, "0000:41:00.4"));
    assert_false(g_hash_table_contains(mine, "0000:41:00.6"));
    assert_false(g_hash_table_contains(mine, "0000:41:01.0"));

    /* dropping a domain's reservations leaves its active leases and others' */
    for (guint i = 0; i < leases->len; i++)
        put_ok(store, g_ptr_array_index(leases, i));
    assert_true(vh_lease_store_drop_reservations(store, UUID_A, NULL));
    {
        g_autoptr(GPtrArray) left = vh_lease_store_load(store, NULL, NULL);
        assert_int_equal(left->len, 5);
        assert_null(find_lease(left, "0000:41:00.4"));
        assert_non_null(find_lease(left, "0000:41:01.0"));
        assert_non_null(find_lease(left, "0000:41:00.5"));
    }

    /* no domain (vgpuctl resources): everything live counts */
    all = vh_lease_holders(store, leases, NULL);
    assert_int_equal(g_hash_table_size(all), 5);
    assert_false(g_hash_table_contains(all, "0000:41:00.6"));

    {
        g_autoptr(GHashTable) none = vh_lease_holders(store, NULL, UUID_A);
        assert_int_equal(g_hash_table_size(none), 0);
    }
}

/* ---- locking ---------------------------------------------------------------- */

/* Children report through a pipe, not their exit status: under valgrind a
 * child exits 1 when its leak check (of memory it inherited from the test)
 * finds anything. */
static void
child_report(int fd, int result)
{
    char byte = (char)result;

    if (write(fd, &byte, 1) != 1)
        _exit(99);
    _exit(0);
}

static int
child_result(int fd, pid_t pid)
{
    char byte = -1;
    int status = 0;

    assert_int_equal(read(fd, &byte, 1), 1);
    close(fd);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return byte;
}

/* Run @fn in a child and return what it returned. */
static int
run_child(int (*fn)(const LeaseEnv *le, gpointer data), const LeaseEnv *le, gpointer data)
{
    int fds[2];
    pid_t pid;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_report(fds[1], fn(le, data));
    }
    close(fds[1]);
    return child_result(fds[0], pid);
}

typedef struct {
    guint timeout_ms;
} LockTry;

/* 0: got the lock; 10: BUSY with the right message and wait; other: wrong. */
static int
child_try_lock(const LeaseEnv *le, gpointer data)
{
    const LockTry *try = data;
    g_autoptr(GError) error = NULL;
    VhLeaseStore *store = vh_lease_store_open(le->env->config, &error);
    gint64 start = g_get_monotonic_time();
    gint64 waited;
    g_autofree char *expected = NULL;

    if (store == NULL)
        return 2;
    if (vh_lease_store_lock(store, try->timeout_ms, &error)) {
        vh_lease_store_free(store);
        return 0;
    }
    waited = g_get_monotonic_time() - start;
    expected = g_strdup_printf("holds %s/lock for more than %u ms", le->env->state, try->timeout_ms);
    vh_lease_store_free(store);
    if (!g_error_matches(error, VH_ERROR, VH_ERROR_TIMEOUT) || !strstr(error->message, expected) ||
        !strstr(error->message, "fuser"))
        return 3;
    if (waited < (gint64)try->timeout_ms * 1000 || waited > (gint64)try->timeout_ms * 1000 + 2 * G_USEC_PER_SEC)
        return 4;
    return 10;
}

static void
test_lock(void **state)
{
    g_autoptr(LeaseEnv) le = lease_env_new(NULL, 120, NULL);
    g_autoptr(VhLeaseStore) store = store_open(le);
    g_autoptr(GError) error = NULL;
    LockTry quick = { 300 };

    /* free: a child gets it */
    assert_int_equal(run_child(child_try_lock, le, &quick), 0);
    assert_true(vh_lease_store_lock(store, 1000, &error));
    assert_no_error(error);
    /* taking it again in the same store is a no-op */
    assert_true(vh_lease_store_lock(store, 0, &error));
    /* held: the child waits its timeout and gives up with BUSY */
    assert_int_equal(run_child(child_try_lock, le, &quick), 10);
    {
        /* a second store in the same process is a separate holder, too */
        g_autoptr(VhLeaseStore) other = store_open(le);
        assert_false(vh_lease_store_lock(other, 50, &error));
        assert_vh_error(error, VH_ERROR_TIMEOUT, "for more than 50 ms");
        g_clear_error(&error);
    }
    vh_lease_store_unlock(store);
    assert_int_equal(run_child(child_try_lock, le, &quick), 0);
    /* unlock twice is harmless; free releases a held lock */
    vh_lease_store_unlock(store);
    assert_true(vh_lease_store_lock(store, 1000, &error));
    g_clear_pointer(&store, vh_lease_store_free);
    assert_int_equal(run_child(child_try_lock, le, &quick), 0);
}

/* A waiting child gets the lock as soon as the holder lets go. */
static void
test_lock_handover(void **state)
{
    g_autoptr(LeaseEnv) le = lease_env_new(NULL, 120, NULL);
    g_autoptr(VhLeaseStore) store = store_open(le);
    g_autoptr(GError) error = NULL;
    int fds[2];
    pid_t pid;
    LockTry patient = { 5000 };

    assert_true(vh_lease_store_lock(store, 1000, &error));
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        child_report(fds[1], child_try_lock(le, &patient));
    }
    close(fds[1]);
    g_usleep(200 * 1000);
    vh_lease_store_unlock(store);
    assert_int_equal(child_result(fds[0], pid), 0);
}

/* ---- an unusable state directory --------------------------------------------- */

static void
test_unwritable_state(void **state)
{
    g_autoptr(TestEnv) env = test_env_new_empty();
    g_autofree char *file = g_build_filename(env->dir, "not-a-dir", NULL);
    g_autofree char *extra = NULL;
    g_autoptr(VhConfig) config = NULL;
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    g_autofree char *expected = NULL;

    /* state_dir below a regular file (works as root too) */
    test_write_file(file, "x");
    text = g_strdup_printf("[host]\nstate_dir=%s/state\n", file);
    config = vh_config_load_data(text, strlen(text), "test.conf", &error);
    assert_no_error(error);
    store = vh_lease_store_open(config, &error);
    assert_null(store);
    expected = g_strdup_printf("cannot create state directory %s/state/leases: ", file);
    assert_vh_error(error, VH_ERROR_IO, expected);
    assert_contains(error->message, g_strerror(ENOTDIR));
    assert_contains(error->message, "(set [host] state_dir or --state-dir)");
    g_clear_error(&error);

    if (geteuid() != 0) {
        /* a read-only directory, for a non-root run */
        g_autofree char *ro = g_build_filename(env->dir, "ro", NULL);
        g_autofree char *t2 = g_strdup_printf("[host]\nstate_dir=%s/state\n", ro);
        g_autoptr(VhConfig) c2 = vh_config_load_data(t2, strlen(t2), "test.conf", &error);
        g_autoptr(VhLeaseStore) s2 = NULL;
        assert_int_equal(g_mkdir(ro, 0500), 0);
        s2 = vh_lease_store_open(c2, &error);
        assert_null(s2);
        assert_vh_error(error, VH_ERROR_IO, "cannot create state directory");
        assert_contains(error->message, g_strerror(EACCES));
        g_clear_error(&error);
        g_chmod(ro, 0700);
    }
}

/* The directory exists but writing into it fails: put and lock say so. */
static void
test_unwritable_leases(void **state)
{
    g_autoptr(LeaseEnv) le = lease_env_new(NULL, 120, NULL);
    g_autoptr(VhLeaseStore) store = store_open(le);
    g_autoptr(VhLease) lease = vh_lease_new("0000:41:00.4", "0000:41:00.4", "nvidia.com/x",
                                            "vm1", UUID_A, VH_LEASE_RESERVED);
    g_autofree char *leases = g_build_filename(le->env->state, "leases", NULL);
    g_autofree char *lock = g_build_filename(le->env->state, "lock", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) loaded = NULL;
    g_autofree char *expected = NULL;

    /* leases/ replaced by a file: nothing can be written or read there */
    assert_int_equal(g_rmdir(leases), 0);
    test_write_file(leases, "not a directory");
    assert_false(vh_lease_store_put(store, lease, &error));
    assert_vh_error(error, VH_ERROR_IO, "cannot write lease: ");
    assert_contains(error->message, "0000:41:00.4");
    g_clear_error(&error);
    loaded = vh_lease_store_load(store, NULL, &error);
    assert_null(loaded);
    assert_vh_error(error, VH_ERROR_IO, "cannot read leases: ");
    g_clear_error(&error);

    /* the lock path is a directory */
    assert_int_equal(g_mkdir(lock, 0700), 0);
    assert_false(vh_lease_store_lock(store, 100, &error));
    expected = g_strdup_printf("cannot open lock file %s: ", lock);
    assert_vh_error(error, VH_ERROR_IO, expected);
}

/* ---- many allocations at once ------------------------------------------------- */

typedef struct {
    const char *resource;
    int ready_fd;      /* children block reading it until the parent closes it */
    guint index;
} RaceArgs;

static char *
race_result_path(const LeaseEnv *le, guint index)
{
    return g_strdup_printf("%s/result-%02u", le->env->dir, index);
}

/* What `vgpuctl define` does, minus libvirt: 0 picked, 1 no free device,
 * 2 anything else (the message is in DIR/result-NN). */
static int
race_child(const LeaseEnv *le, gpointer data)
{
    const RaceArgs *args = data;
    g_autoptr(GError) error = NULL;
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(GPtrArray) leases = NULL;
    g_autoptr(GHashTable) holders = NULL;
    g_autoptr(VhHost) host = NULL;
    g_autoptr(VhCatalog) catalog = NULL;
    g_autoptr(VhAllocator) alloc = NULL;
    g_autoptr(VhDomain) domain = NULL;
    g_autofree char *name = g_strdup_printf("race%02u", args->index);
    g_autofree char *xml = g_strdup_printf(
        "<domain type='kvm'><name>%s</name><metadata>"
        "<vgpu:devices xmlns:vgpu='urn:vgpu-hook:1'>"
        "<vgpu:device alias='ua-gpu0' resource='%s'/></vgpu:devices></metadata><devices>"
        "<hostdev mode='subsystem' type='pci' managed='no'><alias name='ua-gpu0'/></hostdev>"
        "</devices></domain>", name, args->resource);
    g_autofree char *result = race_result_path(le, args->index);
    g_autofree char *picked = NULL;
    char go;
    int rc = 2;

    if (read(args->ready_fd, &go, 1) < 0)
        return 2;
    if ((domain = vh_domain_parse(xml, strlen(xml), &error)) == NULL)
        goto out;
    vh_domain_ensure_uuid(domain);
    if ((store = vh_lease_store_open(le->env->config, &error)) == NULL ||
        !vh_lease_store_lock(store, 30000, &error) ||
        (leases = vh_lease_store_load(store, NULL, &error)) == NULL)
        goto out;
    holders = vh_lease_holders(store, leases, domain->uuid);
    host = vh_host_new(le->env->config);
    if (!vh_host_scan(host, &error) || (catalog = vh_catalog_build(host, holders, &error)) == NULL)
        goto out;
    alloc = vh_allocator_new(catalog, store, leases, domain->uuid);
    if (!vh_allocate_domain(alloc, domain, store, &error))
        goto out;
    picked = vh_domain_device_pci_address(g_ptr_array_index(domain->devices, 0));
    rc = 0;
out:
    if (store)
        vh_lease_store_unlock(store);
    if (rc != 0 && error && g_error_matches(error, VH_ERROR, VH_ERROR_NO_CAPACITY) &&
        strstr(error->message, "no free device"))
        rc = 1;
    {
        g_autofree char *text = g_strdup_printf("%d %s", rc, rc == 0 ? picked
                                                : error ? error->message : "?");
        g_file_set_contents(result, text, -1, NULL);
    }
    return rc;
}

/* Fork @n children that allocate @resource at the same moment; returns how
 * many succeeded, and checks the failures are "no free device". */
static guint
race(const LeaseEnv *le, const char *resource, guint n)
{
    int fds[2];
    g_autofree pid_t *pids = g_new0(pid_t, n);
    guint ok = 0, none_free = 0;

    assert_int_equal(pipe(fds), 0);
    for (guint i = 0; i < n; i++) {
        RaceArgs args = { resource, fds[0], i };
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(fds[1]);
            race_child(le, &args);
            _exit(0); /* the result is in the file, see child_report() */
        }
    }
    close(fds[0]);
    close(fds[1]); /* go */
    for (guint i = 0; i < n; i++) {
        int status = 0;
        g_autofree char *path = race_result_path(le, i);
        g_autofree char *result = NULL;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        if (!g_file_get_contents(path, &result, NULL, NULL))
            fail_msg("child %u left no result", i);
        if (g_str_has_prefix(result, "0 ")) {
            ok++;
            assert_true(vh_pci_address_is_valid(result + 2));
        } else if (g_str_has_prefix(result, "1 ")) {
            none_free++;
            assert_contains(result, "no free device for ");
            assert_contains(result, resource);
        } else {
            fail_msg("child %u: %s", i, result);
        }
    }
    assert_int_equal(ok + none_free, n);
    return ok;
}

static GPtrArray *
load_all(const LeaseEnv *le)
{
    g_autoptr(VhLeaseStore) store = store_open(le);
    g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GError) error = NULL;
    GPtrArray *leases = vh_lease_store_load(store, warnings, &error);

    assert_no_error(error);
    assert_int_equal(warnings->len, 0);
    return leases;
}

static void
test_concurrent_24q(void **state)
{
    g_autoptr(LeaseEnv) le = lease_env_new(TWO_L40S, 120, NULL);
    g_autoptr(GPtrArray) leases = NULL;
    g_autoptr(GHashTable) keys = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) domains = g_hash_table_new(g_str_hash, g_str_equal);
    guint per_gpu[2] = { 0, 0 };

    assert_int_equal(race(le, "nvidia.com/L40S-24Q", 16), 4);
    leases = load_all(le);
    assert_int_equal(leases->len, 4);
    for (guint i = 0; i < leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(leases, i);
        assert_string_equal(lease->resource, "nvidia.com/L40S-24Q");
        assert_int_equal(lease->state, VH_LEASE_RESERVED);
        assert_string_equal(lease->key, lease->device);
        g_hash_table_add(keys, lease->key);
        g_hash_table_add(domains, lease->domain);
        if (g_str_has_prefix(lease->key, "0000:41:"))
            per_gpu[0]++;
        else if (g_str_has_prefix(lease->key, "0000:c1:"))
            per_gpu[1]++;
        else
            fail_msg("lease on %s, not a VF of either GPU", lease->key);
    }
    assert_int_equal(g_hash_table_size(keys), 4);
    assert_int_equal(g_hash_table_size(domains), 4);
    assert_int_equal(per_gpu[0], 2);
    assert_int_equal(per_gpu[1], 2);
}

static void
test_concurrent_1q(void **state)
{
    g_autoptr(LeaseEnv) le = lease_env_new(TWO_L40S, 120, NULL);
    g_autoptr(GPtrArray) leases = NULL;
    g_autoptr(GHashTable) keys = g_hash_table_new(g_str_hash, g_str_equal);

    assert_int_equal(race(le, "nvidia.com/L40S-1Q", 16), 16);
    leases = load_all(le);
    assert_int_equal(leases->len, 16);
    for (guint i = 0; i < leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(leases, i);
        assert_string_equal(lease->resource, "nvidia.com/L40S-1Q");
        g_hash_table_add(keys, lease->key);
    }
    assert_int_equal(g_hash_table_size(keys), 16);
    /* and the next 16 fill the rest: 32 VFs, 1 GB each of 2 x 48 GB */
    assert_int_equal(race(le, "nvidia.com/L40S-1Q", 16), 16);
    g_clear_pointer(&leases, g_ptr_array_unref);
    leases = load_all(le);
    assert_int_equal(leases->len, 32);
    assert_int_equal(race(le, "nvidia.com/L40S-1Q", 4), 0);
}

int
main(void)
{
    g_autofree char *boot_dir = g_dir_make_tmp("vgpu-hook-boot-XXXXXX", NULL);
    g_autofree char *boot_file = g_build_filename(boot_dir, "boot_id", NULL);
    int rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_gpu_instance),
        cmocka_unit_test(test_atomic_writes),
        cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_boot_id),
        cmocka_unit_test(test_bad_keys),
        cmocka_unit_test(test_names_and_uuids),
        cmocka_unit_test(test_is_live),
        cmocka_unit_test(test_holders),
        cmocka_unit_test(test_lock),
        cmocka_unit_test(test_lock_handover),
        cmocka_unit_test(test_unwritable_state),
        cmocka_unit_test(test_unwritable_leases),
        cmocka_unit_test(test_concurrent_24q),
        cmocka_unit_test(test_concurrent_1q),
    };

    /* this "boot" has a known id (read once, before the first lease) */
    g_assert_true(g_file_set_contents(boot_file, BOOT_NOW "\n", -1, NULL));
    g_setenv("VH_BOOT_ID_FILE", boot_file, TRUE);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    g_unlink(boot_file);
    g_rmdir(boot_dir);
    return rc;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-allocate: turning resource names into devices on fake hosts: distinct
 * picks, stickiness, pins, NUMA, pack and spread, NVIDIA's homogeneous
 * rule, mdev UUIDs and instance counts, denied devices, and what the
 * rewritten <hostdev> looks like for each kind. */
#include "test-common.h"

#include <libxml/tree.h>

#define UUID_A "6d5b1b8c-1f7e-4a51-9a53-4b0e6d0f4c11"
#define UUID_B "0f0e8a2a-5b3c-4c4d-8e9f-a0b1c2d3e4f5"
#define UUID_WEB1 "11111111-2222-4333-8444-555555555555"
#define MDEV_1 "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"

#define A10 "nvidia.com/GA102GL_A10"
#define L40S_24Q "nvidia.com/L40S-24Q"
#define L40S_12Q "nvidia.com/L40S-12Q"
#define L40S_1Q "nvidia.com/L40S-1Q"
#define T4_2Q "nvidia.com/GRID_T4-2Q"

/* Two A10s (whole GPUs) with their audio functions: 3b on NUMA node 0, 86
 * on node 1. */
#define A10_PAIR                                                                       \
    "[device 0000:3b:00.0]\n"                                                          \
    "ids=10de:2236\n"                                                                  \
    "subsystem=10de:1482\n"                                                            \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=20\n"                                                                 \
    "numa_node=0\n"                                                                    \
    "[device 0000:3b:00.1]\n"                                                          \
    "ids=10de:1aef\n"                                                                  \
    "class=0x040300\n"                                                                 \
    "iommu_group=20\n"                                                                 \
    "numa_node=0\n"                                                                    \
    "[device 0000:86:00.0]\n"                                                          \
    "ids=10de:2236\n"                                                                  \
    "subsystem=10de:1482\n"                                                            \
    "class=0x030200\n"                                                                 \
    "driver=vfio-pci\n"                                                                \
    "iommu_group=21\n"                                                                 \
    "numa_node=1\n"                                                                    \
    "[device 0000:86:00.1]\n"                                                          \
    "ids=10de:1aef\n"                                                                  \
    "class=0x040300\n"                                                                 \
    "iommu_group=21\n"                                                                 \
    "numa_node=1\n"

#define L40S_FAMILY                                                                    \
    "[vgpu-family L40S]\n"                                                             \
    "framebuffer_gb=48\n"                                                              \
    "types=1155:NVIDIA L40S-1Q;1156:NVIDIA L40S-2Q;1157:NVIDIA L40S-4Q;"               \
    "1158:NVIDIA L40S-6Q;1159:NVIDIA L40S-8Q;1160:NVIDIA L40S-12Q;"                    \
    "1161:NVIDIA L40S-24Q;1162:NVIDIA L40S-48Q\n"

#define L40S_DEVICE(addr, group, numa)                                                 \
    "[device " addr "]\n"                                                              \
    "ids=10de:26b9\n"                                                                  \
    "subsystem=10de:1851\n"                                                            \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=" group "\n"                                                          \
    "numa_node=" numa "\n"                                                             \
    "sriov_totalvfs=32\n"                                                              \
    "sriov_numvfs=16\n"                                                                \
    "vgpu_family=L40S\n"

/* One L40S: VFs 0000:41:00.4 .. 0000:41:02.3 */
#define ONE_L40S L40S_FAMILY L40S_DEVICE("0000:41:00.0", "30", "0")
/* Two: the second's VFs are 0000:c1:00.4 .. */
#define TWO_L40S ONE_L40S L40S_DEVICE("0000:c1:00.0", "60", "1")

#define T4_FAMILY                                                                      \
    "[mdev-family T4]\n"                                                               \
    "types=nvidia-222:GRID T4-1B:16;nvidia-230:GRID T4-1Q:16;nvidia-231:GRID T4-2Q:8;" \
    "nvidia-234:GRID T4-16Q:1\n"

#define T4_DEVICE(addr, group, numa)                                                   \
    "[device " addr "]\n"                                                              \
    "ids=10de:1eb8\n"                                                                  \
    "subsystem=10de:12a2\n"                                                            \
    "class=0x030200\n"                                                                 \
    "driver=nvidia\n"                                                                  \
    "iommu_group=" group "\n"                                                          \
    "numa_node=" numa "\n"                                                             \
    "mdev_family=T4\n"

#define ONE_T4 T4_FAMILY T4_DEVICE("0000:af:00.0", "50", "1")

/* ---- helpers ------------------------------------------------------------ */

static char *
domain_xml(const char *name, const char *uuid, const char *meta, const char *devices)
{
    g_autofree char *uuid_line = uuid ? g_strdup_printf("  <uuid>%s</uuid>\n", uuid)
                                      : g_strdup("");

    return g_strdup_printf("<domain type='kvm'>\n"
                           "  <name>%s</name>\n%s"
                           "  <metadata>\n"
                           "    <vgpu:devices xmlns:vgpu=\"urn:vgpu-hook:1\">\n"
                           "      %s\n"
                           "    </vgpu:devices>\n"
                           "  </metadata>\n"
                           "  <devices>\n"
                           "    %s\n"
                           "  </devices>\n"
                           "</domain>\n",
                           name, uuid_line, meta, devices);
}

#define PCI_HOSTDEV(alias) \
    "<hostdev mode='subsystem' type='pci' managed='no'><alias name='" alias "'/></hostdev>"
#define MDEV_HOSTDEV(alias) \
    "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><alias name='" alias "'/></hostdev>"
#define META(alias, resource, extra) \
    "<vgpu:device alias='" alias "' resource='" resource "' " extra "/>"

static VhDomain *
domain_new(const char *name, const char *uuid, const char *meta, const char *devices)
{
    g_autofree char *xml = domain_xml(name, uuid, meta, devices);
    g_autoptr(GError) error = NULL;
    VhDomain *domain = vh_domain_parse(xml, strlen(xml), &error);

    if (domain == NULL)
        fail_msg("domain refused: %s\n%s", error->message, xml);
    return domain;
}

/* A domain with one named device of @resource (PCI or mdev hostdev). */
static VhDomain *
simple_domain(const char *name, const char *resource, const char *extra)
{
    g_autofree char *meta = g_strdup_printf("<vgpu:device alias='ua-gpu0' resource='%s' %s/>",
                                            resource, extra ? extra : "");
    gboolean mdev = g_str_has_prefix(resource, "nvidia.com/GRID_");

    return domain_new(name, NULL, meta, mdev ? MDEV_HOSTDEV("ua-gpu0") : PCI_HOSTDEV("ua-gpu0"));
}

static VhLeaseStore *
store_open(TestEnv *env)
{
    g_autoptr(GError) error = NULL;
    VhLeaseStore *store = vh_lease_store_open(env->config, &error);

    if (store == NULL)
        fail_msg("store: %s", error->message);
    return store;
}

/* What vgpuctl define does, minus libvirt. @store NULL: no leases at all,
 * nothing written (vgpuctl rewrite). */
static gboolean
allocate(TestEnv *env, VhLeaseStore *store, VhDomain *domain, GError **error)
{
    g_autoptr(GPtrArray) leases = NULL;
    g_autoptr(GHashTable) holders = NULL;
    g_autoptr(VhAllocator) alloc = NULL;

    vh_domain_ensure_uuid(domain);
    if (store) {
        leases = vh_lease_store_load(store, NULL, error);
        if (leases == NULL)
            return FALSE;
        holders = vh_lease_holders(store, leases, domain->uuid);
    }
    test_env_catalog(env, holders);
    alloc = vh_allocator_new(env->catalog, store, leases, domain->uuid);
    return vh_allocate_domain(alloc, domain, store, error);
}

static void
allocate_ok(TestEnv *env, VhLeaseStore *store, VhDomain *domain)
{
    g_autoptr(GError) error = NULL;

    if (!allocate(env, store, domain, &error))
        fail_msg("allocation for %s failed: %s", domain->name, error->message);
}

/* Allocation fails with @code and a message containing @needle. */
static void
allocate_fails(TestEnv *env, VhLeaseStore *store, VhDomain *domain, VhErrorCode code,
               const char *needle)
{
    g_autoptr(GError) error = NULL;

    if (allocate(env, store, domain, &error))
        fail_msg("allocation for %s succeeded, expected \"%s\"", domain->name, needle);
    assert_vh_error(error, code, needle);
}

static VhDomainDevice *
dev_of(VhDomain *domain, guint i)
{
    assert_true(i < domain->devices->len);
    return g_ptr_array_index(domain->devices, i);
}

/* The PCI address device @i points at now (caller frees), or NULL. */
static char *
picked(VhDomain *domain, guint i)
{
    return vh_domain_device_pci_address(dev_of(domain, i));
}

#define assert_picked(domain, i, expected)                                         \
    do {                                                                           \
        g_autofree char *p_ = picked((domain), (i));                               \
        if (g_strcmp0(p_, (expected)) != 0)                                        \
            fail_msg("%s device %u: picked %s, expected %s", (domain)->name, (i),  \
                     p_ ? p_ : "nothing", (expected));                             \
    } while (0)

static void
reserve(VhLeaseStore *store, const char *key, const char *resource, const char *domain,
        const char *uuid, VhLeaseState state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VhLease) lease = vh_lease_new(key, key, resource, domain, uuid, state);

    if (!vh_lease_store_put(store, lease, &error))
        fail_msg("reserve %s: %s", key, error->message);
}

static GPtrArray *
load_leases(VhLeaseStore *store)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *leases = vh_lease_store_load(store, NULL, &error);

    assert_no_error(error);
    return leases;
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

static char *
xml_prop(xmlNodePtr node, const char *name)
{
    xmlChar *value = xmlGetProp(node, BAD_CAST name);
    char *copy = value ? g_strdup((const char *)value) : NULL;

    xmlFree(value);
    return copy;
}

#define assert_prop(node, name, expected)                                          \
    do {                                                                           \
        g_autofree char *v_ = xml_prop((node), (name));                            \
        const char *e_ = (expected);                                               \
        if (g_strcmp0(v_, e_) != 0)                                                \
            fail_msg("attribute %s is '%s', expected '%s'", (name), v_ ? v_ : "(none)", \
                     e_ ? e_ : "(none)");                                          \
    } while (0)

/* A VF takes a type as the driver would: current_vgpu_type, then the vGPU
 * manager recomputes every VF's creatable list. */
static void
set_vf_type(TestEnv *env, const char *pf, const char *vf, guint type)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
    g_autofree char *value = g_strdup_printf("%u\n", type);
    g_autoptr(GError) error = NULL;

    test_env_write_sysfs(env, rel, value);
    if (!fake_host_nvidia_recompute(env->sysfs, pf, &error))
        fail_msg("recompute: %s", error->message);
}

static void
set_available(TestEnv *env, const char *parent, const char *type, const char *count)
{
    g_autofree char *rel = g_strdup_printf("devices/pci0000:00/%s/mdev_supported_types/%s/"
                                           "available_instances", parent, type);

    test_env_write_sysfs(env, rel, count);
}

/* ---- distinct devices ------------------------------------------------------- */

static void
test_two_domains_one_template(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR TWO_L40S ONE_T4, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    const char *resources[] = { A10, L40S_24Q, T4_2Q };

    for (guint r = 0; r < G_N_ELEMENTS(resources); r++) {
        g_autoptr(VhDomain) vm1 = simple_domain("vm1", resources[r], NULL);
        g_autoptr(VhDomain) vm2 = simple_domain("vm2", resources[r], NULL);
        g_autofree char *a = NULL, *b = NULL;

        allocate_ok(env, store, vm1);
        allocate_ok(env, store, vm2);
        if (r == 2) {
            a = vh_domain_device_mdev_uuid(dev_of(vm1, 0));
            b = vh_domain_device_mdev_uuid(dev_of(vm2, 0));
        } else {
            a = picked(vm1, 0);
            b = picked(vm2, 0);
        }
        assert_non_null(a);
        assert_non_null(b);
        assert_string_not_equal(a, b);
        assert_string_not_equal(vm1->uuid, vm2->uuid);
    }
    {
        /* the whole-GPU picks are the two A10s; a third domain finds none */
        g_autoptr(GPtrArray) leases = load_leases(store);
        g_autoptr(VhDomain) vm3 = simple_domain("vm3", A10, NULL);
        assert_int_equal(leases->len, 6);
        assert_string_equal(find_lease(leases, "0000:3b:00.0")->domain, "vm1");
        assert_string_equal(find_lease(leases, "0000:86:00.0")->domain, "vm2");
        allocate_fails(env, store, vm3, VH_ERROR_NO_CAPACITY,
                       "domain 'vm3', alias 'ua-gpu0': no free device for " A10
                       " (2 on this host): 0000:3b:00.0 is held by 'vm1' (reserved); "
                       "0000:86:00.0 is held by 'vm2' (reserved)");
    }
}

/* vgpuctl attach: one more device for a defined domain. Every lease blocks
 * (the domain's own too: it must not get its GPU twice), and the domain's
 * other reservations stay (vh_allocate_domain would drop them). */
static void
test_allocate_device(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR TWO_L40S ONE_T4, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    g_autoptr(VhDomain) vm1 = simple_domain("vm1", A10, NULL);
    g_autoptr(VhDomain) one = NULL;
    g_autoptr(VhDomain) two = NULL;
    g_autoptr(GError) error = NULL;

    (void)state;
    allocate_ok(env, store, vm1);
    assert_picked(vm1, 0, "0000:3b:00.0");
    for (guint round = 0; round < 2; round++) {
        g_autoptr(GPtrArray) leases = load_leases(store);
        g_autoptr(GHashTable) holders = vh_lease_holders(store, leases, NULL);
        g_autoptr(VhAllocator) alloc = NULL;
        VhDomain **doc = round == 0 ? &one : &two;

        vh_catalog_free(env->catalog);
        env->catalog = vh_catalog_build(env->host, holders, &error);
        assert_no_error(error);
        alloc = vh_allocator_new(env->catalog, store, leases, NULL);
        *doc = vh_attach_domain_new("vm1", vm1->uuid, round == 0 ? "ua-gpu1" : "ua-gpu2", A10,
                                    &error);
        assert_no_error(error);
        if (round == 0) {
            assert_true(vh_allocate_device(alloc, *doc, dev_of(*doc, 0), store, &error));
            assert_no_error(error);
            assert_picked(*doc, 0, "0000:86:00.0");
        } else {
            assert_false(vh_allocate_device(alloc, *doc, dev_of(*doc, 0), store, &error));
            assert_vh_error(error, VH_ERROR_NO_CAPACITY, "no free device for " A10);
        }
    }
    {
        g_autoptr(GPtrArray) leases = load_leases(store);
        assert_int_equal(leases->len, 2);
        assert_string_equal(find_lease(leases, "0000:3b:00.0")->uuid, vm1->uuid);
        assert_string_equal(find_lease(leases, "0000:86:00.0")->uuid, vm1->uuid);
        assert_int_equal(find_lease(leases, "0000:86:00.0")->state, VH_LEASE_RESERVED);
    }
}

/* A template that already carries an mdev UUID (copied from a defined
 * domain): the second domain must not get the same mdev. */
static void
test_mdev_template_with_uuid(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(ONE_T4, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    const char *dev = "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>"
                      "<address uuid='" MDEV_1 "'/></source><alias name='ua-gpu0'/></hostdev>";
    g_autoptr(VhDomain) vm1 = domain_new("vm1", NULL, META("ua-gpu0", T4_2Q, ""), dev);
    g_autoptr(VhDomain) vm2 = domain_new("vm2", NULL, META("ua-gpu0", T4_2Q, ""), dev);
    g_autofree char *u1 = NULL, *u2 = NULL;
    g_autoptr(GPtrArray) leases = NULL;

    allocate_ok(env, store, vm1);
    allocate_ok(env, store, vm2);
    u1 = vh_domain_device_mdev_uuid(dev_of(vm1, 0));
    u2 = vh_domain_device_mdev_uuid(dev_of(vm2, 0));
    assert_string_equal(u1, MDEV_1);
    assert_string_not_equal(u2, MDEV_1);
    assert_true(vh_uuid_is_valid(u2));
    leases = load_leases(store);
    assert_int_equal(leases->len, 2);
    assert_string_equal(find_lease(leases, MDEV_1)->domain, "vm1");
    assert_string_equal(find_lease(leases, u2)->domain, "vm2");
}

static void
test_several_devices_in_one_domain(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(TWO_L40S A10_PAIR, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    g_autoptr(VhDomain) four = domain_new(
        "four", NULL,
        META("ua-a", L40S_24Q, "") META("ua-b", L40S_24Q, "") META("ua-c", L40S_24Q, "")
        META("ua-d", L40S_24Q, ""),
        PCI_HOSTDEV("ua-a") PCI_HOSTDEV("ua-b") PCI_HOSTDEV("ua-c") PCI_HOSTDEV("ua-d"));
    g_autoptr(VhDomain) both = domain_new("both", NULL, META("ua-a", A10, "") META("ua-b", A10, ""),
                                          PCI_HOSTDEV("ua-a") PCI_HOSTDEV("ua-b"));
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

    allocate_ok(env, store, four);
    for (guint i = 0; i < 4; i++)
        g_hash_table_add(seen, picked(four, i));
    assert_int_equal(g_hash_table_size(seen), 4);
    /* pack: both 24Q slots of the first GPU, then the second */
    assert_picked(four, 0, "0000:41:00.4");
    assert_picked(four, 1, "0000:41:00.5");
    assert_picked(four, 2, "0000:c1:00.4");
    assert_picked(four, 3, "0000:c1:00.5");

    allocate_ok(env, store, both);
    assert_picked(both, 0, "0000:3b:00.0");
    assert_picked(both, 1, "0000:86:00.0");
    {
        g_autoptr(GPtrArray) leases = load_leases(store);
        assert_int_equal(leases->len, 6);
    }
}

/* ---- sticky picks ----------------------------------------------------------- */

static void
test_sticky(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR TWO_L40S, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    const char *on86 = "<hostdev mode='subsystem' type='pci' managed='no'><source><address "
                       "domain='0x0000' bus='0x86' slot='0x00' function='0x0'/></source>"
                       "<alias name='ua-gpu0'/></hostdev>";
    const char *on3b = "<hostdev mode='subsystem' type='pci' managed='no'><source><address "
                       "domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/></source>"
                       "<alias name='ua-gpu0'/></hostdev>";
    const char *on_vf = "<hostdev mode='subsystem' type='pci' managed='no'><source><address "
                        "domain='0' bus='193' slot='0' function='6'/></source>"
                        "<alias name='ua-gpu0'/></hostdev>";

    {
        /* free: kept, although 3b comes first */
        g_autoptr(VhDomain) d = domain_new("keeps", UUID_A, META("ua-gpu0", A10, ""), on86);
        allocate_ok(env, NULL, d);
        assert_picked(d, 0, "0000:86:00.0");
    }
    {
        /* held by another domain: picked again */
        g_autoptr(VhDomain) d = domain_new("moves", UUID_A, META("ua-gpu0", A10, ""), on3b);
        reserve(store, "0000:3b:00.0", A10, "web1", UUID_WEB1, VH_LEASE_RESERVED);
        allocate_ok(env, store, d);
        assert_picked(d, 0, "0000:86:00.0");
    }
    {
        /* its own reservation does not count against it */
        g_autoptr(VhDomain) d = domain_new("moves", UUID_A, META("ua-gpu0", A10, ""), on86);
        g_autoptr(GPtrArray) leases = NULL;
        allocate_ok(env, store, d);
        assert_picked(d, 0, "0000:86:00.0");
        leases = load_leases(store);
        assert_int_equal(leases->len, 2);
        assert_string_equal(find_lease(leases, "0000:86:00.0")->uuid, UUID_A);
    }
    {
        /* a VF (written in decimal) is kept too, though pack would choose
         * the first GPU */
        g_autoptr(VhDomain) d = domain_new("vf", UUID_B, META("ua-gpu0", L40S_24Q, ""), on_vf);
        allocate_ok(env, store, d);
        assert_picked(d, 0, "0000:c1:00.6");
    }
    {
        /* a device of another resource is not sticky for this one */
        g_autoptr(VhDomain) d = domain_new("wrong", NULL, META("ua-gpu0", L40S_24Q, ""), on3b);
        allocate_ok(env, NULL, d);
        assert_picked(d, 0, "0000:41:00.4");
    }
}

/* The A10 pair with libvirt's run directory at DIR/run (and
 * lease_grace_seconds=0): where web1's pid and status files go. */
#define ON_3B                                                                              \
    "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' " \
    "bus='0x3b' slot='0x00' function='0x0'/></source><alias name='ua-gpu0'/></hostdev>"

static TestEnv *
a10_env_with_run_dir(char **run)
{
    TestEnv *env = test_env_new_empty();
    g_autofree char *keys = NULL;

    *run = g_build_filename(env->dir, "run", NULL);
    keys = g_strdup_printf("libvirt_run_dir=%s\nlease_grace_seconds=0\n", *run);
    test_env_build_host(env, A10_PAIR);
    test_env_load_config(env, keys);
    env->host = vh_host_new(env->config);
    return env;
}

/* A stale active lease of another domain (it stopped without release) does
 * not block; a live one does. The stale lease is not overwritten by the
 * reservation: it carries the undo record the hook needs when it takes the
 * device over at prepare. */
static void
test_sticky_stale_lease(void **state)
{
    g_autofree char *run = NULL;
    g_autoptr(TestEnv) env = a10_env_with_run_dir(&run);
    g_autofree char *pid = g_build_filename(run, "web1.pid", NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    const char *on3b = ON_3B;

    reserve(store, "0000:3b:00.0", A10, "web1", UUID_WEB1, VH_LEASE_ACTIVE);
    {
        /* web1 is not running: its lease is stale and taken over */
        g_autoptr(VhDomain) d = domain_new("vm1", UUID_A, META("ua-gpu0", A10, ""), on3b);
        g_autoptr(GPtrArray) leases = NULL;
        allocate_ok(env, NULL, d);
        assert_picked(d, 0, "0000:3b:00.0");
        allocate_ok(env, store, d);
        assert_picked(d, 0, "0000:3b:00.0");
        leases = load_leases(store);
        assert_int_equal(leases->len, 1);
        assert_string_equal(find_lease(leases, "0000:3b:00.0")->uuid, UUID_WEB1);
        assert_int_equal(find_lease(leases, "0000:3b:00.0")->state, VH_LEASE_ACTIVE);
    }
    /* web1 runs (libvirt's pid file): its active lease holds */
    reserve(store, "0000:3b:00.0", A10, "web1", UUID_WEB1, VH_LEASE_ACTIVE);
    test_write_file(pid, "1\n");
    {
        g_autoptr(VhDomain) d = domain_new("vm1", UUID_A, META("ua-gpu0", A10, ""), on3b);
        allocate_ok(env, store, d);
        assert_picked(d, 0, "0000:86:00.0");
    }
}

/* A running domain whose lease is gone (lost or damaged state) still holds
 * its device: libvirt's status file says so, and nothing reserves it for
 * another domain; the domain itself may keep it. */
static void
test_running_without_lease(void **state)
{
    g_autofree char *run = NULL;
    g_autoptr(TestEnv) env = a10_env_with_run_dir(&run);
    g_autofree char *status = g_build_filename(run, "web1.xml", NULL);
    g_autofree char *pid = g_build_filename(run, "web1.pid", NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    const char *on3b = ON_3B;

    test_write_file(status, "<domstatus><domain type='kvm'><name>web1</name><devices>"
                            "<hostdev mode='subsystem' type='pci'><source><address domain='0x0000' "
                            "bus='0x3b' slot='0x00' function='0x0'/></source></hostdev>"
                            "</devices></domain></domstatus>\n");
    {
        /* web1 is not running (no pid file): its old status file holds nothing */
        g_autoptr(VhDomain) d = domain_new("vm1", UUID_A, META("ua-gpu0", A10, ""), on3b);
        allocate_ok(env, NULL, d);
        assert_picked(d, 0, "0000:3b:00.0");
    }
    test_write_file(pid, "1\n");
    {
        /* web1 runs: the device it holds is not picked, even sticky */
        g_autoptr(VhDomain) d = domain_new("vm1", UUID_A, META("ua-gpu0", A10, ""), on3b);
        allocate_ok(env, store, d);
        assert_picked(d, 0, "0000:86:00.0");
    }
    {
        /* asked for by address: refused, one line naming the running domain */
        g_autoptr(VhDomain) d = domain_new("vm2", UUID_B,
                                           META("ua-gpu0", A10, "address='0000:3b:00.0'"),
                                           PCI_HOSTDEV("ua-gpu0"));
        allocate_fails(env, store, d, VH_ERROR_BUSY, "held by running domain 'web1'");
    }
    {
        /* web1 itself may keep it (a rewrite of the running domain) */
        g_autoptr(VhDomain) d = domain_new("web1", UUID_WEB1, META("ua-gpu0", A10, ""), on3b);
        allocate_ok(env, NULL, d);
        assert_picked(d, 0, "0000:3b:00.0");
    }
}

/* Re-defining drops the domain's reservations it no longer uses. */
static void
test_redefine(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    g_autoptr(VhDomain) first = domain_new("vm1", UUID_A, META("ua-gpu0", A10, ""),
                                           PCI_HOSTDEV("ua-gpu0"));
    g_autoptr(VhDomain) second = domain_new("vm1", UUID_A,
                                            META("ua-gpu0", A10, "address='0000:86:00.0'"),
                                            PCI_HOSTDEV("ua-gpu0"));
    g_autoptr(GPtrArray) leases = NULL;

    allocate_ok(env, store, first);
    assert_picked(first, 0, "0000:3b:00.0");
    allocate_ok(env, store, second);
    assert_picked(second, 0, "0000:86:00.0");
    leases = load_leases(store);
    assert_int_equal(leases->len, 1);
    assert_non_null(find_lease(leases, "0000:86:00.0"));
}

/* ---- pins ------------------------------------------------------------------- */

static void
test_address_pin(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR ONE_L40S, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);

    {
        g_autoptr(VhDomain) d = simple_domain("vm1", A10, "address='0000:86:00.0'");
        allocate_ok(env, store, d);
        assert_picked(d, 0, "0000:86:00.0");
    }
    {
        /* not a device of the resource: the audio function, a VF, nothing */
        g_autoptr(VhDomain) d1 = simple_domain("vm2", A10, "address='0000:3b:00.1'");
        g_autoptr(VhDomain) d2 = simple_domain("vm2", A10, "address='0000:41:00.4'");
        g_autoptr(VhDomain) d3 = simple_domain("vm2", A10, "address='0000:99:00.0'");
        allocate_fails(env, store, d1, VH_ERROR_NOT_FOUND,
                       "domain 'vm2', alias 'ua-gpu0': address 0000:3b:00.1 is not a device of "
                       A10 " (see vgpuctl resources --json)");
        allocate_fails(env, store, d2, VH_ERROR_NOT_FOUND,
                       "address 0000:41:00.4 is not a device of " A10);
        allocate_fails(env, store, d3, VH_ERROR_NOT_FOUND,
                       "address 0000:99:00.0 is not a device of " A10);
    }
    {
        /* busy: the error names who holds it */
        g_autoptr(VhDomain) d = simple_domain("vm3", A10, "address='0000:86:00.0'");
        allocate_fails(env, store, d, VH_ERROR_BUSY,
                       "domain 'vm3', alias 'ua-gpu0' (" A10 "): 0000:86:00.0 is held by "
                       "'vm1' (reserved)");
    }
    {
        /* a VF pinned for a profile its GPU cannot take now */
        g_autoptr(VhDomain) a = simple_domain("big", L40S_24Q, "address='0000:41:00.4'");
        g_autoptr(VhDomain) b = simple_domain("small", L40S_12Q, "address='0000:41:00.5'");
        allocate_ok(env, store, a);
        assert_picked(a, 0, "0000:41:00.4");
        allocate_fails(env, store, b, VH_ERROR_NO_CAPACITY,
                       "domain 'small', alias 'ua-gpu0' (" L40S_12Q "): GPU 0000:41:00.0 runs one "
                       "profile size at a time and VF 0000:41:00.4 holds L40S-24Q");
    }
    {
        /* nothing was reserved by the failures */
        g_autoptr(GPtrArray) leases = load_leases(store);
        assert_int_equal(leases->len, 2);
    }
}

/* ---- NUMA ---------------------------------------------------------------------- */

static void
test_numa(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR TWO_L40S, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);

    {
        g_autoptr(VhDomain) n1 = simple_domain("n1", A10, "numa='1'");
        g_autoptr(VhDomain) n0 = simple_domain("n0", A10, "numa='0'");
        g_autoptr(VhDomain) n5 = simple_domain("n5", A10, "numa='5'");
        g_autoptr(VhDomain) v1 = simple_domain("v1", L40S_24Q, "numa='1'");
        allocate_ok(env, NULL, n1);
        assert_picked(n1, 0, "0000:86:00.0");
        allocate_ok(env, NULL, n0);
        assert_picked(n0, 0, "0000:3b:00.0");
        /* no device on that node: any */
        allocate_ok(env, NULL, n5);
        assert_picked(n5, 0, "0000:3b:00.0");
        allocate_ok(env, NULL, v1);
        assert_picked(v1, 0, "0000:c1:00.4");
    }
    {
        /* the node's device is taken: fall back to another node */
        g_autoptr(VhDomain) n1 = simple_domain("n1", A10, "numa='1'");
        reserve(store, "0000:86:00.0", A10, "web1", UUID_WEB1, VH_LEASE_RESERVED);
        allocate_ok(env, store, n1);
        assert_picked(n1, 0, "0000:3b:00.0");
    }
    {
        /* NUMA comes before the pack policy */
        g_autoptr(VhDomain) first = simple_domain("first", L40S_24Q, NULL);
        g_autoptr(VhDomain) second = simple_domain("second", L40S_24Q, "numa='1'");
        allocate_ok(env, store, first);
        assert_picked(first, 0, "0000:41:00.4");
        allocate_ok(env, store, second);
        assert_picked(second, 0, "0000:c1:00.4");
    }
}

/* ---- pack and spread ------------------------------------------------------------ */

/* GPU 41 already runs one 24Q for 'web1'; the second GPU is empty. */
static TestEnv *
one_24q_running(const char *config_extra, VhLeaseStore **store)
{
    TestEnv *env = test_env_new(TWO_L40S, config_extra);

    test_env_remember_types(env); /* what a writer does while the GPU is idle */
    set_vf_type(env, "0000:41:00.0", "0000:41:00.4", 1161);
    *store = store_open(env);
    reserve(*store, "0000:41:00.4", L40S_24Q, "web1", UUID_WEB1, VH_LEASE_ACTIVE);
    return env;
}

static void
test_pack(void **state)
{
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(TestEnv) env = one_24q_running(NULL, &store);
    g_autoptr(VhDomain) d = simple_domain("vm1", L40S_24Q, NULL);
    g_autoptr(VhDomain) e = simple_domain("vm2", L40S_24Q, NULL);

    assert_int_equal(env->config->allocation, VH_ALLOCATION_PACK);
    allocate_ok(env, store, d);
    assert_picked(d, 0, "0000:41:00.5");
    /* GPU 41 is full now (2 x 24 GB) */
    allocate_ok(env, store, e);
    assert_picked(e, 0, "0000:c1:00.4");
}

static void
test_spread(void **state)
{
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(TestEnv) env = one_24q_running("allocation=spread\n", &store);
    g_autoptr(VhDomain) d = simple_domain("vm1", L40S_24Q, NULL);
    g_autoptr(VhDomain) e = simple_domain("vm2", L40S_24Q, NULL);
    g_autoptr(VhDomain) f = simple_domain("vm3", L40S_24Q, NULL);

    assert_int_equal(env->config->allocation, VH_ALLOCATION_SPREAD);
    allocate_ok(env, store, d);
    assert_picked(d, 0, "0000:c1:00.4");
    /* both GPUs hold one now: the tie goes to the lowest address */
    allocate_ok(env, store, e);
    assert_picked(e, 0, "0000:41:00.5");
    allocate_ok(env, store, f);
    assert_picked(f, 0, "0000:c1:00.5");
}

/* Spread with small profiles alternates between the GPUs; pack fills one. */
static void
test_pack_spread_small(void **state)
{
    g_autoptr(TestEnv) packed = test_env_new(TWO_L40S, NULL);
    g_autoptr(TestEnv) spread = test_env_new(TWO_L40S, "allocation=spread\n");
    g_autoptr(VhLeaseStore) ps = store_open(packed);
    g_autoptr(VhLeaseStore) ss = store_open(spread);
    const char *pack_expected[] = { "0000:41:00.4", "0000:41:00.5", "0000:41:00.6", "0000:41:00.7" };
    const char *spread_expected[] = { "0000:41:00.4", "0000:c1:00.4", "0000:41:00.5", "0000:c1:00.5" };

    for (guint i = 0; i < 4; i++) {
        g_autofree char *name = g_strdup_printf("vm%u", i);
        g_autoptr(VhDomain) p = simple_domain(name, L40S_1Q, NULL);
        g_autoptr(VhDomain) s = simple_domain(name, L40S_1Q, NULL);
        allocate_ok(packed, ps, p);
        assert_picked(p, 0, pack_expected[i]);
        allocate_ok(spread, ss, s);
        assert_picked(s, 0, spread_expected[i]);
    }
}

/* ---- NVIDIA's homogeneous mode ---------------------------------------------------- */

static void
test_homogeneous(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(ONE_L40S, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    g_autoptr(VhDomain) d = simple_domain("vm1", L40S_24Q, NULL);
    g_autoptr(VhDomain) small = simple_domain("vm2", L40S_12Q, NULL);

    test_env_remember_types(env);
    set_vf_type(env, "0000:41:00.0", "0000:41:00.4", 1160);
    reserve(store, "0000:41:00.4", L40S_12Q, "web1", UUID_WEB1, VH_LEASE_ACTIVE);
    allocate_fails(env, store, d, VH_ERROR_NO_CAPACITY,
                   "domain 'vm1', alias 'ua-gpu0': no free device for " L40S_24Q
                   " (16 on this host): 0000:41:00.4 is held by 'web1' (active); GPU 0000:41:00.0 "
                   "runs one profile size at a time and VF 0000:41:00.4 holds L40S-12Q");
    /* another 12Q fits */
    allocate_ok(env, store, small);
    assert_picked(small, 0, "0000:41:00.5");
}

/* display='on' is for mdev vGPUs: refused on an SR-IOV vGPU, not dropped. */
static void
test_display_on_sriov_refused(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(ONE_L40S, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    g_autoptr(VhDomain) d = simple_domain("vm1", L40S_24Q, "display='on'");

    allocate_fails(env, store, d, VH_ERROR_UNSUPPORTED,
                   "domain 'vm1', alias 'ua-gpu0': display='on' needs an mdev vGPU, and "
                   L40S_24Q " is an SR-IOV vGPU");
}

/* A reservation not yet prepared (no profile in sysfs) counts the same. */
static void
test_homogeneous_reserved_only(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(ONE_L40S, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    g_autoptr(VhDomain) d = simple_domain("vm1", L40S_24Q, NULL);

    reserve(store, "0000:41:00.6", L40S_12Q, "web1", UUID_WEB1, VH_LEASE_RESERVED);
    allocate_fails(env, store, d, VH_ERROR_NO_CAPACITY,
                   "GPU 0000:41:00.0 runs one profile size at a time and VF 0000:41:00.6 holds "
                   "L40S-12Q");
}

/* ---- unknown resources ------------------------------------------------------------ */

static void
test_unknown_resource(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR ONE_T4, NULL);
    g_autoptr(TestEnv) big = test_env_new(A10_PAIR ONE_T4 ONE_L40S, NULL);
    g_autoptr(TestEnv) none = test_env_new("[device 0000:00:00.0]\nids=8086:2020\nclass=0x060000\n",
                                      NULL);
    g_autoptr(VhDomain) d = simple_domain("vm1", "nvidia.com/H100-80C", NULL);

    allocate_fails(env, NULL, d, VH_ERROR_NOT_FOUND,
                   "domain 'vm1', alias 'ua-gpu0': unknown resource 'nvidia.com/H100-80C' on this "
                   "host (known: " A10 ", nvidia.com/GRID_T4-16Q, nvidia.com/GRID_T4-1B, "
                   "nvidia.com/GRID_T4-1Q, " T4_2Q "; see 'vgpuctl resources')");
    /* a long list is cut */
    allocate_fails(big, NULL, d, VH_ERROR_NOT_FOUND, ", ...; see 'vgpuctl resources')");
    allocate_fails(none, NULL, d, VH_ERROR_NOT_FOUND, "(known: none; see 'vgpuctl resources')");
}

/* ---- mdev ------------------------------------------------------------------------- */

static void
test_mdev_uuid(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(ONE_T4, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    g_autoptr(VhDomain) fresh = simple_domain("vdi1", T4_2Q, NULL);
    g_autoptr(VhDomain) kept = domain_new(
        "vdi2", NULL, META("ua-gpu0", T4_2Q, ""),
        "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><source><address "
        "uuid='0F0E8A2A-5B3C-4C4D-8E9F-A0B1C2D3E4F5'/></source><alias name='ua-gpu0'/></hostdev>");
    g_autofree char *uuid = NULL;
    g_autofree char *again = NULL;
    g_autoptr(GPtrArray) leases = NULL;
    const VhLease *lease;

    allocate_ok(env, store, fresh);
    uuid = vh_domain_device_mdev_uuid(dev_of(fresh, 0));
    assert_non_null(uuid);
    assert_true(vh_uuid_is_valid(uuid));
    assert_null(picked(fresh, 0));
    leases = load_leases(store);
    assert_int_equal(leases->len, 1);
    lease = find_lease(leases, uuid);
    assert_non_null(lease);
    assert_string_equal(lease->device, "0000:af:00.0");
    assert_string_equal(lease->mdev_uuid, uuid);
    assert_string_equal(lease->mdev_type, "nvidia-231");
    assert_string_equal(lease->resource, T4_2Q);
    assert_string_equal(lease->domain, "vdi1");
    assert_string_equal(lease->uuid, fresh->uuid);
    assert_int_equal(lease->state, VH_LEASE_RESERVED);

    /* a second run keeps the UUID it has */
    allocate_ok(env, store, fresh);
    again = vh_domain_device_mdev_uuid(dev_of(fresh, 0));
    assert_string_equal(again, uuid);

    /* one that comes with a UUID keeps it (in canonical form) */
    allocate_ok(env, store, kept);
    g_free(again);
    again = vh_domain_device_mdev_uuid(dev_of(kept, 0));
    assert_string_equal(again, UUID_B);
    g_clear_pointer(&leases, g_ptr_array_unref);
    leases = load_leases(store);
    assert_int_equal(leases->len, 2);
    assert_string_equal(find_lease(leases, UUID_B)->domain, "vdi2");
}

static void
test_mdev_capacity(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(ONE_T4, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    g_autoptr(VhDomain) a = simple_domain("vdi1", T4_2Q, NULL);
    g_autoptr(VhDomain) b = simple_domain("vdi2", T4_2Q, NULL);
    g_autoptr(VhDomain) c = simple_domain("vdi3", "nvidia.com/GRID_T4-1Q", NULL);

    /* the driver says one more 2Q can be made; 1Q none (one type per GPU) */
    set_available(env, "0000:af:00.0", "nvidia-231", "1\n");
    set_available(env, "0000:af:00.0", "nvidia-230", "0\n");
    allocate_ok(env, store, a);
    /* the reservation (mdev not created yet) takes that instance */
    allocate_fails(env, store, b, VH_ERROR_NO_CAPACITY,
                   "domain 'vdi2', alias 'ua-gpu0': no free device for " T4_2Q
                   " (1 on this host): 0000:af:00.0 has no GRID T4-2Q instance left");
    allocate_fails(env, store, c, VH_ERROR_NO_CAPACITY,
                   "0000:af:00.0 has no GRID T4-1Q instance left");
    /* once the first mdev exists, the driver counts it out itself: not
     * twice */
    {
        g_autofree char *uuid = vh_domain_device_mdev_uuid(dev_of(a, 0));
        g_autofree char *rel = g_strdup_printf("bus/mdev/devices/%s/remove", uuid);
        test_env_write_sysfs(env, rel, "");
        set_available(env, "0000:af:00.0", "nvidia-231", "0\n");
        allocate_fails(env, store, b, VH_ERROR_NO_CAPACITY, "has no GRID T4-2Q instance left");
        set_available(env, "0000:af:00.0", "nvidia-231", "1\n");
        allocate_ok(env, store, b);
    }
}

/* mdev parents: pack prefers the one with fewer instances left, spread the
 * one with more; NUMA first. */
static const char *
mdev_parent_of(VhLeaseStore *store, VhDomain *domain)
{
    g_autoptr(GPtrArray) leases = load_leases(store);
    g_autofree char *uuid = vh_domain_device_mdev_uuid(dev_of(domain, 0));
    const VhLease *lease = find_lease(leases, uuid);

    assert_non_null(lease);
    /* the parents are static strings of the host description */
    return g_str_equal(lease->device, "0000:af:00.0") ? "0000:af:00.0" : "0000:d8:00.0";
}

static void
test_mdev_pack_spread(void **state)
{
    const char *host = ONE_T4 T4_DEVICE("0000:d8:00.0", "51", "0");
    g_autoptr(TestEnv) packed = test_env_new(host, NULL);
    g_autoptr(TestEnv) spread = test_env_new(host, "allocation=spread\n");
    g_autoptr(VhLeaseStore) ps = store_open(packed);
    g_autoptr(VhLeaseStore) ss = store_open(spread);
    g_autoptr(VhDomain) p = simple_domain("p", T4_2Q, NULL);
    g_autoptr(VhDomain) pn = simple_domain("pn", T4_2Q, "numa='0'");
    g_autoptr(VhDomain) s = simple_domain("s", T4_2Q, NULL);
    g_autoptr(VhDomain) sn = simple_domain("sn", T4_2Q, "numa='1'");

    /* af (node 1) can make 3 more, d8 (node 0) 8 */
    set_available(packed, "0000:af:00.0", "nvidia-231", "3\n");
    set_available(spread, "0000:af:00.0", "nvidia-231", "3\n");
    allocate_ok(packed, ps, p);
    assert_string_equal(mdev_parent_of(ps, p), "0000:af:00.0");
    allocate_ok(packed, ps, pn);
    assert_string_equal(mdev_parent_of(ps, pn), "0000:d8:00.0");
    allocate_ok(spread, ss, s);
    assert_string_equal(mdev_parent_of(ss, s), "0000:d8:00.0");
    allocate_ok(spread, ss, sn);
    assert_string_equal(mdev_parent_of(ss, sn), "0000:af:00.0");
}

/* ---- denied devices ----------------------------------------------------------------- */

static void
test_denied(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR ONE_L40S, "deny=0000:3b:00.0;0000:41:00.4\n");
    g_autoptr(VhLeaseStore) store = store_open(env);
    g_autoptr(VhDomain) a = simple_domain("a", A10, NULL);
    g_autoptr(VhDomain) b = simple_domain("b", A10, NULL);
    g_autoptr(VhDomain) pinned = simple_domain("c", A10, "address='0000:3b:00.0'");
    g_autoptr(VhDomain) vf = simple_domain("v", L40S_24Q, NULL);
    g_autoptr(VhDomain) vf_pinned = simple_domain("w", L40S_24Q, "address='0000:41:00.4'");
    g_autoptr(VhDomain) sticky = domain_new(
        "s", NULL, META("ua-gpu0", A10, ""),
        "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0x3b' slot='0' "
        "function='0'/></source><alias name='ua-gpu0'/></hostdev>");

    allocate_ok(env, store, a);
    assert_picked(a, 0, "0000:86:00.0");
    allocate_fails(env, store, b, VH_ERROR_NO_CAPACITY, "no free device for " A10 " (1 on this host)");
    allocate_fails(env, store, pinned, VH_ERROR_NOT_FOUND,
                   "address 0000:3b:00.0 is not a device of " A10);
    allocate_ok(env, store, vf);
    assert_picked(vf, 0, "0000:41:00.5");
    allocate_fails(env, store, vf_pinned, VH_ERROR_NOT_FOUND,
                   "address 0000:41:00.4 is not a device of " L40S_24Q);
    /* a domain that points at a denied device is moved off it */
    allocate_fails(env, store, sticky, VH_ERROR_NO_CAPACITY, "no free device for " A10);
    {
        g_autoptr(GPtrArray) leases = load_leases(store);
        assert_int_equal(leases->len, 2);
        assert_null(find_lease(leases, "0000:3b:00.0"));
        assert_null(find_lease(leases, "0000:41:00.4"));
    }
}

/* ---- what the hostdev becomes ------------------------------------------------------- */

static void
test_hostdev_kinds(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR ONE_L40S ONE_T4, NULL);
    g_autoptr(VhDomain) d = domain_new(
        "kinds", NULL,
        META("ua-gpu", A10, "") META("ua-vf", L40S_24Q, "") META("ua-vdi", T4_2Q, "display='on'")
        META("ua-vdi2", T4_2Q, "") META("ua-vdi3", T4_2Q, "display='off'"),
        /* whatever the template says about managed, model and display */
        "<hostdev mode='subsystem' type='pci' managed='yes'><alias name='ua-gpu'/></hostdev>"
        "<hostdev type='pci'><alias name='ua-vf'/></hostdev>"
        "<hostdev mode='subsystem' type='pci' managed='yes'><alias name='ua-vdi'/></hostdev>"
        "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><alias name='ua-vdi2'/></hostdev>"
        "<hostdev mode='subsystem' type='mdev' model='vfio-pci' display='on'>"
        "<alias name='ua-vdi3'/></hostdev>");
    xmlNodePtr gpu, vf, vdi, vdi2, vdi3;

    allocate_ok(env, NULL, d);
    gpu = dev_of(d, 0)->hostdev;
    vf = dev_of(d, 1)->hostdev;
    vdi = dev_of(d, 2)->hostdev;
    vdi2 = dev_of(d, 3)->hostdev;
    vdi3 = dev_of(d, 4)->hostdev;
    /* whole GPU: the hook binds it (and its audio function) itself */
    assert_prop(gpu, "mode", "subsystem");
    assert_prop(gpu, "type", "pci");
    assert_prop(gpu, "managed", "no");
    assert_picked(d, 0, "0000:3b:00.0");
    /* SR-IOV vGPU VF: stays on nvidia */
    assert_prop(vf, "mode", "subsystem");
    assert_prop(vf, "type", "pci");
    assert_prop(vf, "managed", "no");
    assert_picked(d, 1, "0000:41:00.4");
    /* mdev */
    assert_prop(vdi, "type", "mdev");
    assert_prop(vdi, "model", "vfio-pci");
    assert_prop(vdi, "managed", NULL);
    assert_prop(vdi, "display", "on");
    assert_prop(vdi2, "type", "mdev");
    assert_prop(vdi2, "display", NULL);
    assert_prop(vdi3, "display", NULL);
    {
        g_autofree char *u1 = vh_domain_device_mdev_uuid(dev_of(d, 2));
        g_autofree char *u2 = vh_domain_device_mdev_uuid(dev_of(d, 3));
        g_autofree char *u3 = vh_domain_device_mdev_uuid(dev_of(d, 4));
        assert_non_null(u1);
        assert_non_null(u2);
        assert_non_null(u3);
        assert_string_not_equal(u1, u2);
        assert_string_not_equal(u2, u3);
        assert_string_not_equal(u1, u3);
    }
    /* the document serialises to what libvirt expects */
    {
        g_autofree char *xml = vh_domain_to_string(d);
        assert_contains(xml, "<hostdev mode=\"subsystem\" type=\"pci\" managed=\"no\"><source>"
                             "<address domain=\"0x0000\" bus=\"0x3b\" slot=\"0x00\" "
                             "function=\"0x0\"/></source><alias name=\"ua-gpu\"/></hostdev>");
        assert_contains(xml, "<hostdev type=\"pci\" mode=\"subsystem\" managed=\"no\"><source>"
                             "<address domain=\"0x0000\" bus=\"0x41\" slot=\"0x00\" "
                             "function=\"0x4\"/></source>");
        assert_contains(xml, "<hostdev mode=\"subsystem\" type=\"mdev\" model=\"vfio-pci\" "
                             "display=\"on\"><source><address uuid=\"");
        assert_not_contains(xml, "managed=\"yes\"");
    }
}

/* ---- nothing half done ---------------------------------------------------------------- */

static void
test_failure_reserves_nothing(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR, NULL);
    g_autoptr(VhLeaseStore) store = store_open(env);
    g_autoptr(VhDomain) unknown = domain_new(
        "vm1", NULL, META("ua-a", A10, "") META("ua-b", "nvidia.com/nothing", ""),
        PCI_HOSTDEV("ua-a") PCI_HOSTDEV("ua-b"));
    g_autoptr(VhDomain) three = domain_new(
        "vm2", NULL, META("ua-a", A10, "") META("ua-b", A10, "") META("ua-c", A10, ""),
        PCI_HOSTDEV("ua-a") PCI_HOSTDEV("ua-b") PCI_HOSTDEV("ua-c"));
    g_autoptr(GPtrArray) leases = NULL;

    allocate_fails(env, store, unknown, VH_ERROR_NOT_FOUND,
                   "alias 'ua-b': unknown resource 'nvidia.com/nothing'");
    allocate_fails(env, store, three, VH_ERROR_NO_CAPACITY,
                   "domain 'vm2', alias 'ua-c': no free device for " A10
                   " (2 on this host): 0000:3b:00.0 is held by 'vm2'; 0000:86:00.0 is held by 'vm2'");
    leases = load_leases(store);
    assert_int_equal(leases->len, 0);
}

/* Without a store (vgpuctl rewrite): no leases are read or written, and the
 * same template gives the same device each time. */
static void
test_without_store(void **state)
{
    g_autoptr(TestEnv) env = test_env_new(A10_PAIR, NULL);
    g_autoptr(VhDomain) a = simple_domain("vm1", A10, NULL);
    g_autoptr(VhDomain) b = simple_domain("vm2", A10, NULL);
    g_autofree char *leases_dir = g_build_filename(env->state, "leases", NULL);

    allocate_ok(env, NULL, a);
    allocate_ok(env, NULL, b);
    assert_picked(a, 0, "0000:3b:00.0");
    assert_picked(b, 0, "0000:3b:00.0");
    /* a <uuid> was added (leases would need it) */
    assert_true(vh_uuid_is_valid(a->uuid));
    assert_false(g_file_test(leases_dir, G_FILE_TEST_EXISTS));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_domains_one_template),
        cmocka_unit_test(test_allocate_device),
        cmocka_unit_test(test_mdev_template_with_uuid),
        cmocka_unit_test(test_several_devices_in_one_domain),
        cmocka_unit_test(test_sticky),
        cmocka_unit_test(test_sticky_stale_lease),
        cmocka_unit_test(test_running_without_lease),
        cmocka_unit_test(test_redefine),
        cmocka_unit_test(test_address_pin),
        cmocka_unit_test(test_numa),
        cmocka_unit_test(test_pack),
        cmocka_unit_test(test_spread),
        cmocka_unit_test(test_pack_spread_small),
        cmocka_unit_test(test_homogeneous),
        cmocka_unit_test(test_homogeneous_reserved_only),
        cmocka_unit_test(test_unknown_resource),
        cmocka_unit_test(test_mdev_uuid),
        cmocka_unit_test(test_mdev_capacity),
        cmocka_unit_test(test_mdev_pack_spread),
        cmocka_unit_test(test_denied),
        cmocka_unit_test(test_hostdev_kinds),
        cmocka_unit_test(test_failure_reserves_nothing),
        cmocka_unit_test(test_without_store),
        cmocka_unit_test(test_display_on_sriov_refused),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

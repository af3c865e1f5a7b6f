/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-lifecycle: prepare, release, remap and reconnect (vh-lifecycle) run
 * against the simulated kernel (tests/sim-kernel.c).
 *
 * Every test builds its own fake host in a private directory: an A10 with its
 * HDMI audio function in one IOMMU group, two L40S (48 GB) with SR-IOV vGPU
 * VFs, a T4 mdev parent, and the groups the hook must refuse (a bridge, a host
 * NIC of another slot, denied devices). The configuration points sysfs_root,
 * state_dir, vfio_dir (the simulated /dev/vfio) and libvirt_run_dir (where a
 * test creates <name>.pid to say that a domain runs) into that directory.
 * Refusals and failed prepares must leave everything as it was: the tests
 * compare a snapshot of the whole tree (paths, link targets, file contents),
 * the dev dir and the state directory before and after.
 *
 * The binary re-executes itself with LD_PRELOAD naming libsimkernel.so (the
 * path in the build tree is compiled in; VH_SIM_KERNEL_SO overrides it).
 * Under valgrind, preload the library yourself so that no re-exec happens:
 *   LD_PRELOAD=tests/.libs/libsimkernel.so libtool --mode=execute \
 *       valgrind --leak-check=full tests/test-lifecycle */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dl_iterate_phdr */
#endif
#include "test-common.h"
#include "test-sim.h"

#include <errno.h>
#include <link.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>


/* ------------------------------------------------------------------ */
/* The host                                                           */
/* ------------------------------------------------------------------ */

#define A10 "0000:3b:00.0"        /* nvidia, group 20 with its audio function */
#define A10_AUDIO "0000:3b:00.1"  /* snd_hda_intel */
#define BRIDGED "0000:5e:00.0"    /* group 22 also holds bridge 0000:5d:00.0 */
#define BRIDGE "0000:5d:00.0"
#define NIC_GPU "0000:86:00.0"    /* group 23 also holds a host NIC, 0000:87:00.0 */
#define NIC "0000:87:00.0"
#define DENIED "0000:d8:00.0"     /* on the deny list */
#define DENIED_PAIR "0000:3c:00.0" /* its audio function 0000:3c:00.1 is denied */
#define DENIED_AUDIO "0000:3c:00.1"
#define PF1 "0000:41:00.0"        /* L40S, 8 VFs: 41:00.4-7, 41:01.0-3 */
#define PF2 "0000:42:00.0"        /* L40S, 4 VFs: 42:00.4-7 */
#define VF(n) "0000:41:00." #n
#define T4 "0000:af:00.0"         /* mdev parent */

#define R_A10 "nvidia.com/GA102GL_A10"
#define R_24Q "nvidia.com/L40S-24Q"
#define R_12Q "nvidia.com/L40S-12Q"
#define R_T4_1Q "nvidia.com/GRID_T4-1Q"
#define R_T4_2Q "nvidia.com/GRID_T4-2Q"

#define ID_12Q "1160"
#define ID_24Q "1161"
#define ALL_L40S_IDS "1155,1156,1157,1158,1159,1160,1161,1162"

#define MDEV1 "0b9e5ac4-3d35-4b4c-9c63-6b0b0c8a2b11"
#define MDEV2 "6f1b8e4a-58a2-4c6e-b0a5-7d0c2c7f9e01"

static const char *const all_vfs[] = {
    "0000:41:00.4", "0000:41:00.5", "0000:41:00.6", "0000:41:00.7",
    "0000:41:01.0", "0000:41:01.1", "0000:41:01.2", "0000:41:01.3",
    "0000:42:00.4", "0000:42:00.5", "0000:42:00.6", "0000:42:00.7",
};

/* The description, with @vf_types (NULL: none) as the types PF1's VFs hold. */
static char *
host_ini(const char *vf_types)
{
    return g_strdup_printf(
        "[vgpu-family L40S]\n"
        "framebuffer_gb=48\n"
        "types=1155:NVIDIA L40S-1Q;1156:NVIDIA L40S-2Q;1157:NVIDIA L40S-4Q;"
        "1158:NVIDIA L40S-6Q;1159:NVIDIA L40S-8Q;1160:NVIDIA L40S-12Q;"
        "1161:NVIDIA L40S-24Q;1162:NVIDIA L40S-48Q\n"
        "[mdev-family T4]\n"
        "types=nvidia-230:GRID T4-1Q:16;nvidia-231:GRID T4-2Q:8;nvidia-234:GRID T4-16Q:1\n"
        "[device " A10 "]\nids=10de:2236\nsubsystem=10de:1482\nclass=0x030200\n"
        "driver=nvidia\niommu_group=20\n"
        "[device " A10_AUDIO "]\nids=10de:1aef\nclass=0x040300\ndriver=snd_hda_intel\n"
        "iommu_group=20\n"
        "[device " BRIDGE "]\nids=8086:2030\nclass=0x060400\ndriver=pcieport\niommu_group=22\n"
        "[device " BRIDGED "]\nids=10de:2236\nclass=0x030200\ndriver=nvidia\niommu_group=22\n"
        "[device " NIC_GPU "]\nids=10de:2236\nclass=0x030200\ndriver=nvidia\niommu_group=23\n"
        "[device " NIC "]\nids=8086:10fb\nclass=0x020000\ndriver=ixgbe\niommu_group=23\n"
        "[device " DENIED "]\nids=10de:2236\nclass=0x030200\ndriver=nvidia\niommu_group=24\n"
        "[device " DENIED_PAIR "]\nids=10de:2236\nclass=0x030200\ndriver=nvidia\n"
        "iommu_group=25\n"
        "[device " DENIED_AUDIO "]\nids=10de:1aef\nclass=0x040300\ndriver=snd_hda_intel\n"
        "iommu_group=25\n"
        "[device " PF1 "]\nids=10de:26b9\nclass=0x030200\ndriver=nvidia\niommu_group=30\n"
        "sriov_totalvfs=16\nsriov_numvfs=8\nvgpu_family=L40S\n%s%s%s"
        "[device " PF2 "]\nids=10de:26b9\nclass=0x030200\ndriver=nvidia\niommu_group=40\n"
        "sriov_totalvfs=16\nsriov_numvfs=4\nvgpu_family=L40S\n"
        "[device " T4 "]\nids=10de:1eb8\nsubsystem=10de:12a2\nclass=0x030200\n"
        "driver=nvidia\niommu_group=50\nmdev_family=T4\n",
        vf_types ? "vf_types=" : "", vf_types ? vf_types : "", vf_types ? "\n" : "");
}

/* ------------------------------------------------------------------ */
/* Fixture                                                            */
/* ------------------------------------------------------------------ */

typedef struct {
    TestEnv *env;
    char *dev;   /* DIR/dev: the simulated /dev */
    char *run;   /* DIR/run: stands for /run/libvirt/qemu */
} Fixture;

static Fixture *
fixture_new(const char *vf_types, guint grace, const char *more_config)
{
    Fixture *f = g_new0(Fixture, 1);
    g_autofree char *ini = host_ini(vf_types);
    g_autofree char *extra = NULL;
    g_autofree char *vfio = NULL;

    f->env = test_env_new_empty();
    test_env_build_host(f->env, ini);
    f->dev = g_build_filename(f->env->dir, "dev", NULL);
    f->run = g_build_filename(f->env->dir, "run", NULL);
    vfio = g_build_filename(f->dev, "vfio", NULL);
    /* the simulated kernel creates the dir with the first node: have it now,
     * so that snapshots compare nodes, not the directory */
    assert_int_equal(g_mkdir_with_parents(vfio, 0755), 0);
    assert_int_equal(g_mkdir_with_parents(f->run, 0755), 0);
    extra = g_strdup_printf("deny=" DENIED ";" DENIED_AUDIO "\n"
                            "vfio_dir=%s\n"
                            "libvirt_run_dir=%s\n"
                            "reset_retries=2\n"
                            "reset_retry_ms=10\n"
                            "lease_grace_seconds=%u\n"
                            "%s",
                            vfio, f->run, grace, more_config ? more_config : "");
    test_env_load_config(f->env, extra);
    f->env->host = vh_host_new(f->env->config);
    g_setenv("VH_SIM_SYSFS_ROOT", f->env->sysfs, TRUE);
    g_setenv("VH_SIM_DEV_DIR", f->dev, TRUE);
    return f;
}

static void
fixture_free(Fixture *f)
{
    if (f == NULL)
        return;
    g_unsetenv("VH_SIM_SYSFS_ROOT");
    g_unsetenv("VH_SIM_DEV_DIR");
    test_env_free(f->env);
    g_free(f->dev);
    g_free(f->run);
    g_free(f);
}

static int
setup(void **state)
{
    *state = fixture_new(NULL, 0, NULL);
    return 0;
}

/* Fresh leases stay live for two minutes (domains still starting). */
static int
setup_grace(void **state)
{
    *state = fixture_new(NULL, 120, NULL);
    return 0;
}

static int
teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Domain XML                                                         */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *alias;
    const char *resource;
    const char *source; /* PCI address or mdev UUID */
} DevSpec;

static char *
hostdev_xml(const DevSpec *d)
{
    VhPciAddress a;

    if (vh_mdev_uuid_is_valid(d->source))
        return g_strdup_printf("    <hostdev mode='subsystem' type='mdev' model='vfio-pci'>\n"
                               "      <source><address uuid='%s'/></source>\n"
                               "      <alias name='%s'/>\n"
                               "    </hostdev>\n", d->source, d->alias);
    assert_true(vh_pci_address_parse(d->source, &a, NULL));
    return g_strdup_printf("    <hostdev mode='subsystem' type='pci' managed='no'>\n"
                           "      <source><address domain='0x%04x' bus='0x%02x' slot='0x%02x' "
                           "function='0x%x'/></source>\n"
                           "      <alias name='%s'/>\n"
                           "    </hostdev>\n", a.domain, a.bus, a.slot, a.function, d->alias);
}

static char *
domain_xml(const char *name, const char *uuid, const DevSpec *devs, guint n)
{
    g_autoptr(GString) meta = g_string_new(NULL);
    g_autoptr(GString) hostdevs = g_string_new(NULL);

    for (guint i = 0; i < n; i++) {
        g_autofree char *h = hostdev_xml(&devs[i]);
        g_string_append_printf(meta, "      <vgpu:device alias='%s' resource='%s'/>\n",
                               devs[i].alias, devs[i].resource);
        g_string_append(hostdevs, h);
    }
    return g_strdup_printf("<domain type='kvm'>\n"
                           "  <name>%s</name>\n"
                           "  <uuid>%s</uuid>\n"
                           "  <metadata>\n"
                           "    <vgpu:devices xmlns:vgpu='urn:vgpu-hook:1'>\n%s"
                           "    </vgpu:devices>\n"
                           "  </metadata>\n"
                           "  <memory unit='GiB'>4</memory>\n"
                           "  <devices>\n%s"
                           "  </devices>\n"
                           "</domain>\n", name, uuid, meta->str, hostdevs->str);
}

/* Domain number @n: name "vm<n>", a fixed UUID. */
static char *
uuid_of(guint n)
{
    return g_strdup_printf("00000000-0000-4000-8000-%012u", n);
}

static VhDomain *
domain_new(guint n, const DevSpec *devs, guint count)
{
    g_autofree char *name = g_strdup_printf("vm%u", n);
    g_autofree char *uuid = uuid_of(n);
    g_autofree char *xml = domain_xml(name, uuid, devs, count);
    g_autoptr(GError) error = NULL;
    VhDomain *domain = vh_domain_parse(xml, strlen(xml), &error);

    if (domain == NULL)
        fail_msg("domain XML rejected: %s\n%s", error->message, xml);
    return domain;
}

/* Domain @n with one device. */
static VhDomain *
domain1(guint n, const char *resource, const char *source)
{
    const DevSpec d = { "ua-gpu0", resource, source };

    return domain_new(n, &d, 1);
}

static void
prepare_ok(Fixture *f, VhDomain *domain)
{
    g_autoptr(GError) error = NULL;

    if (!vh_lifecycle_prepare(f->env->config, domain, &error))
        fail_msg("prepare of '%s' failed: %s", domain->name, error->message);
}

static void
release_ok(Fixture *f, VhDomain *domain)
{
    g_autoptr(GError) error = NULL;

    if (!vh_lifecycle_release(f->env->config, domain, &error))
        fail_msg("release of '%s' failed: %s", domain->name, error->message);
}

/* Prepare fails; the error is returned for the caller's checks. */
static GError *
prepare_fails(Fixture *f, VhDomain *domain)
{
    GError *error = NULL;

    if (vh_lifecycle_prepare(f->env->config, domain, &error))
        fail_msg("prepare of '%s' succeeded, expected a refusal", domain->name);
    assert_non_null(error);
    /* one line: libvirt shows it to the user of virsh start */
    assert_null(strchr(error->message, '\n'));
    return error;
}

/* ------------------------------------------------------------------ */
/* Looking at the host                                                */
/* ------------------------------------------------------------------ */

static char *
sysfs_raw(Fixture *f, const char *rel)
{
    g_autofree char *path = g_build_filename(f->env->sysfs, rel, NULL);
    char *text = NULL;

    return g_file_get_contents(path, &text, NULL, NULL) ? text : NULL;
}

static void
assert_sysfs(Fixture *f, const char *rel, const char *expected)
{
    g_autofree char *text = sysfs_raw(f, rel);

    if (g_strcmp0(text, expected) != 0)
        fail_msg("%s holds '%s', expected '%s'", rel, text ? text : "(missing)",
                 expected ? expected : "(missing)");
}

static gboolean
sysfs_exists(Fixture *f, const char *rel)
{
    g_autofree char *path = g_build_filename(f->env->sysfs, rel, NULL);
    struct stat st;

    return lstat(path, &st) == 0;
}

static void
assert_driver(Fixture *f, const char *addr, const char *driver)
{
    g_autofree char *link = g_strdup_printf("%s/bus/pci/devices/%s/driver", f->env->sysfs, addr);
    g_autofree char *target = g_file_read_link(link, NULL);
    g_autofree char *bound = target ? g_path_get_basename(target) : NULL;

    if (g_strcmp0(bound, driver) != 0)
        fail_msg("%s is on %s, expected %s", addr, bound ? bound : "no driver",
                 driver ? driver : "no driver");
}

static void
assert_override(Fixture *f, const char *addr, const char *expected)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/driver_override", addr);

    assert_sysfs(f, rel, expected);
}

static gboolean
vfio_node(Fixture *f, guint group)
{
    g_autofree char *path = g_strdup_printf("%s/vfio/%u", f->dev, group);

    return g_file_test(path, G_FILE_TEST_EXISTS);
}

static char *
current_rel(const char *vf)
{
    return g_strdup_printf("bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
}

/* The type id a VF holds, 0 for none. */
static guint
current_type(Fixture *f, const char *vf)
{
    g_autofree char *rel = current_rel(vf);
    g_autofree char *text = sysfs_raw(f, rel);

    assert_non_null(text);
    return (guint)g_ascii_strtoull(text, NULL, 10);
}

/* "1155,1156,..." from a VF's creatable_vgpu_types. */
static char *
creatable_ids(Fixture *f, const char *vf)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/nvidia/creatable_vgpu_types", vf);
    g_autofree char *text = sysfs_raw(f, rel);
    g_auto(GStrv) lines = NULL;
    GString *ids = g_string_new(NULL);

    assert_non_null(text);
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 0; lines[i]; i++) {
        g_auto(GStrv) fields = g_strsplit(lines[i], ":", 2);
        if (fields[0] && g_ascii_isdigit(*g_strstrip(fields[0])))
            g_string_append_printf(ids, "%s%s", ids->len ? "," : "", fields[0]);
    }
    return g_string_free(ids, FALSE);
}

static void
assert_creatable(Fixture *f, const char *vf, const char *expected)
{
    g_autofree char *ids = creatable_ids(f, vf);

    if (strcmp(ids, expected) != 0)
        fail_msg("VF %s can create '%s', expected '%s'", vf, ids, expected);
}

/* A VM has @name (a VF or an mdev UUID): the driver refuses to let go. */
static void
hold(Fixture *f, const char *name, gboolean held)
{
    g_autofree char *dir = g_build_filename(f->env->sysfs, ".fake-host", "held", NULL);
    g_autofree char *path = g_build_filename(dir, name, NULL);

    assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
    if (held)
        assert_true(g_file_set_contents(path, "", 0, NULL));
    else
        assert_int_equal(unlink(path), 0);
}

/* libvirt's /run/libvirt/qemu/<name>.pid: the domain runs while it exists. */
static void
set_running(Fixture *f, const char *name, gboolean running)
{
    g_autofree char *path = g_strdup_printf("%s/%s.pid", f->run, name);

    if (running)
        assert_true(g_file_set_contents(path, "4242\n", -1, NULL));
    else
        assert_int_equal(unlink(path), 0);
}

static VhLease *
lease_get(Fixture *f, const char *key)
{
    g_autoptr(VhLeaseStore) store = vh_lease_store_open(f->env->config, NULL);

    assert_non_null(store);
    return vh_lease_store_get(store, key, NULL);
}

static GPtrArray *
leases_all(Fixture *f)
{
    g_autoptr(VhLeaseStore) store = vh_lease_store_open(f->env->config, NULL);
    g_autoptr(GError) error = NULL;
    GPtrArray *leases;

    assert_non_null(store);
    leases = vh_lease_store_load(store, NULL, &error);
    assert_no_error(error);
    return leases;
}

static void
assert_no_lease(Fixture *f, const char *key)
{
    g_autoptr(VhLease) lease = lease_get(f, key);

    if (lease)
        fail_msg("%s still has a %s lease of domain '%s'", key,
                 vh_lease_state_to_string(lease->state), lease->domain);
}

/* The lease of @key exists, for domain @name, in @state. */
static VhLease *
assert_lease(Fixture *f, const char *key, const char *name, VhLeaseState state)
{
    VhLease *lease = lease_get(f, key);

    if (lease == NULL)
        fail_msg("no lease for %s, expected a %s lease of '%s'", key,
                 vh_lease_state_to_string(state), name);
    assert_string_equal(lease->domain, name);
    if (lease->state != state)
        fail_msg("lease of %s is %s, expected %s", key, vh_lease_state_to_string(lease->state),
                 vh_lease_state_to_string(state));
    return lease;
}

/* A reservation as `vgpuctl define` writes it. */
static void
reserve(Fixture *f, const char *key, const char *device, const char *resource, guint n)
{
    g_autoptr(VhLeaseStore) store = vh_lease_store_open(f->env->config, NULL);
    g_autofree char *name = g_strdup_printf("vm%u", n);
    g_autofree char *uuid = uuid_of(n);
    g_autoptr(VhLease) lease = vh_lease_new(key, device, resource, name, uuid, VH_LEASE_RESERVED);
    g_autoptr(GError) error = NULL;

    if (vh_mdev_uuid_is_valid(key))
        lease->mdev_uuid = g_strdup(key);
    assert_true(vh_lease_store_put(store, lease, &error));
    assert_no_error(error);
}

/* ------------------------------------------------------------------ */
/* Snapshots: everything a refused or failed prepare must leave alone  */
/* ------------------------------------------------------------------ */

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void
snapshot_walk(GString *out, const char *tag, const char *base, const char *rel)
{
    g_autofree char *path = *rel ? g_build_filename(base, rel, NULL) : g_strdup(base);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) dir = NULL;
    const char *name;
    struct stat st;

    if (lstat(path, &st) < 0) {
        g_string_append_printf(out, "%s %s: missing\n", tag, rel);
        return;
    }
    if (S_ISLNK(st.st_mode)) {
        g_autofree char *target = g_file_read_link(path, NULL);
        g_string_append_printf(out, "%s L %s -> %s\n", tag, rel, target ? target : "?");
        return;
    }
    if (S_ISREG(st.st_mode)) {
        g_autofree char *text = NULL;
        g_autofree char *shown = NULL;
        gsize len = 0;
        assert_true(g_file_get_contents(path, &text, &len, NULL));
        shown = g_strescape(text, NULL);
        g_string_append_printf(out, "%s F %s %o: %s\n", tag, rel, st.st_mode & 07777, shown);
        return;
    }
    g_string_append_printf(out, "%s D %s\n", tag, rel);
    dir = g_dir_open(path, 0, NULL);
    assert_non_null(dir);
    while ((name = g_dir_read_name(dir)) != NULL)
        g_ptr_array_add(names, g_strdup(name));
    g_ptr_array_sort(names, compare_names);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *child = *rel ? g_build_filename(rel, g_ptr_array_index(names, i), NULL)
                                      : g_strdup(g_ptr_array_index(names, i));
        /* the simulator's own lock between processes, the cache of each
         * GPU's full type table (what the driver listed while the GPU was
         * idle: knowledge, not state), the names cache (libpci's answers,
         * also knowledge) and the outcome counters (a refusal is counted:
         * tests/test-metrics.sh checks them) */
        if (strcmp(child, ".fake-host/sim.lock") == 0 ||
            (strcmp(tag, "state") == 0 &&
             (strcmp(child, "gpus") == 0 || strcmp(child, VH_PCI_NAMES_CACHE) == 0 ||
              g_str_has_prefix(child, "metrics"))))
            continue;
        snapshot_walk(out, tag, base, child);
    }
}

/* The whole fake tree, the dev dir and the state directory, one line per
 * path: kind, link target or file contents. */
static char *
snapshot(Fixture *f)
{
    GString *out = g_string_new(NULL);

    snapshot_walk(out, "sys", f->env->sysfs, "");
    snapshot_walk(out, "dev", f->dev, "");
    snapshot_walk(out, "state", f->env->state, "");
    return g_string_free(out, FALSE);
}

static void
assert_snapshot_equal(const char *before, const char *after)
{
    g_auto(GStrv) a = g_strsplit(before, "\n", -1);
    g_auto(GStrv) b = g_strsplit(after, "\n", -1);

    for (guint i = 0; a[i] || b[i]; i++) {
        if (a[i] == NULL || b[i] == NULL || strcmp(a[i], b[i]) != 0)
            fail_msg("the tree changed at line %u:\n  before: %s\n  after:  %s", i + 1,
                     a[i] ? a[i] : "(end)", b[i] ? b[i] : "(end)");
    }
}

/* The state directory as prepare leaves it after opening the store once,
 * so that snapshots compare leases, not the lock file's creation. */
static void
open_state(Fixture *f)
{
    g_autoptr(VhLeaseStore) store = vh_lease_store_open(f->env->config, NULL);

    assert_non_null(store);
    assert_true(vh_lease_store_lock(store, 1000, NULL));
}

/* ------------------------------------------------------------------ */
/* Whole-GPU passthrough                                              */
/* ------------------------------------------------------------------ */

static void
test_passthrough_prepare_release(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) dom = domain1(1, R_A10, A10);
    g_autofree char *pristine = NULL;
    g_autofree char *released = NULL;

    open_state(f);
    pristine = snapshot(f);
    assert_false(vfio_node(f, 20));

    prepare_ok(f, dom);
    assert_driver(f, A10, "vfio-pci");
    assert_driver(f, A10_AUDIO, "vfio-pci");
    assert_override(f, A10, "vfio-pci\n");
    assert_override(f, A10_AUDIO, "vfio-pci\n");
    assert_true(vfio_node(f, 20));
    {
        g_autoptr(VhLease) lease = assert_lease(f, A10, "vm1", VH_LEASE_ACTIVE);
        assert_string_equal(lease->original_driver, "nvidia");
        assert_string_equal(lease->resource, R_A10);
        assert_non_null(lease->companions);
        assert_int_equal(g_strv_length(lease->companions), 1);
        assert_string_equal(lease->companions[0], A10_AUDIO "=snd_hda_intel");
    }

    /* again (vgpuctl prepare by hand, a retried start): nothing changes and
     * the undo record still names the drivers from before the first call */
    prepare_ok(f, dom);
    assert_driver(f, A10, "vfio-pci");
    assert_driver(f, A10_AUDIO, "vfio-pci");
    {
        g_autoptr(VhLease) lease = assert_lease(f, A10, "vm1", VH_LEASE_ACTIVE);
        assert_string_equal(lease->original_driver, "nvidia");
        assert_string_equal(lease->companions[0], A10_AUDIO "=snd_hda_intel");
        assert_null(lease->companions[1]);
    }

    release_ok(f, dom);
    assert_driver(f, A10, "nvidia");
    assert_driver(f, A10_AUDIO, "snd_hda_intel");
    assert_override(f, A10, "(null)\n");
    assert_override(f, A10_AUDIO, "(null)\n");
    assert_false(vfio_node(f, 20));
    {
        /* the domain keeps its GPU reserved, without an undo record */
        g_autoptr(VhLease) lease = assert_lease(f, A10, "vm1", VH_LEASE_RESERVED);
        assert_null(lease->original_driver);
        assert_null(lease->companions);
    }
    released = snapshot(f);

    /* twice is fine and changes nothing */
    release_ok(f, dom);
    {
        g_autofree char *again = snapshot(f);
        assert_snapshot_equal(released, again);
    }

    /* the host is as before, apart from the reservation */
    {
        g_autoptr(VhLeaseStore) store = vh_lease_store_open(f->env->config, NULL);
        g_autofree char *now = NULL;
        assert_true(vh_lease_store_remove(store, A10, NULL));
        now = snapshot(f);
        assert_snapshot_equal(pristine, now);
    }

    /* a start after the release binds again and records the drivers again */
    prepare_ok(f, dom);
    {
        g_autoptr(VhLease) lease = assert_lease(f, A10, "vm1", VH_LEASE_ACTIVE);
        assert_string_equal(lease->original_driver, "nvidia");
    }
    release_ok(f, dom);
    assert_driver(f, A10, "nvidia");
}

/* ---- manage_plain_hostdevs: <hostdev>s without <vgpu:device> ---------- */

/* Domain @n whose hostdevs (PCI addresses) no metadata names; the first has
 * no <alias>, as virt-install writes them. */
static VhDomain *
plain_domain(guint n, const char *const *sources)
{
    g_autofree char *name = g_strdup_printf("vm%u", n);
    g_autofree char *uuid = uuid_of(n);
    g_autoptr(GString) xml = g_string_new(NULL);
    g_autoptr(GError) error = NULL;
    VhDomain *domain;

    g_string_append_printf(xml, "<domain type='kvm'><name>%s</name><uuid>%s</uuid><devices>\n",
                           name, uuid);
    for (guint i = 0; sources[i]; i++) {
        VhPciAddress a;
        assert_true(vh_pci_address_parse(sources[i], &a, NULL));
        g_string_append_printf(xml, "<hostdev mode='subsystem' type='pci' managed='no'>"
                               "<source><address domain='0x%04x' bus='0x%02x' slot='0x%02x' "
                               "function='0x%x'/></source>%s</hostdev>\n", a.domain, a.bus,
                               a.slot, a.function, i == 0 ? "" : "<alias name='ua-plain'/>");
    }
    g_string_append(xml, "</devices></domain>\n");
    domain = vh_domain_parse(xml->str, xml->len, &error);
    if (domain == NULL)
        fail_msg("domain XML rejected: %s\n%s", error->message, xml->str);
    assert_int_equal(domain->devices->len, 0);
    return domain;
}

/* Off (the default): plain hostdevs are libvirt's business, untouched. */
static void
test_plain_hostdevs_default_off(void **state)
{
    Fixture *f = *state;
    const char *const sources[] = { A10, NULL };
    g_autoptr(VhDomain) dom = plain_domain(1, sources);
    g_autofree char *before = NULL, *after = NULL;

    open_state(f);
    before = snapshot(f);
    prepare_ok(f, dom);
    after = snapshot(f);
    assert_snapshot_equal(before, after);
    assert_no_lease(f, A10);
}

/* On: a whole GPU is bound with its group and leased, a VF that holds a
 * profile is leased, a host NIC is left alone; release undoes it. */
static void
test_plain_hostdevs_managed(void **state)
{
    Fixture *f = fixture_new("0:" ID_24Q, 0, "manage_plain_hostdevs=true\n");
    const char *const sources[] = { A10, VF(4), NIC, NULL };
    g_autoptr(VhDomain) dom = plain_domain(1, sources);

    open_state(f);
    prepare_ok(f, dom);
    assert_driver(f, A10, "vfio-pci");
    assert_driver(f, A10_AUDIO, "vfio-pci");
    assert_driver(f, NIC, "ixgbe");
    assert_no_lease(f, NIC);
    {
        g_autoptr(VhLease) gpu = assert_lease(f, A10, "vm1", VH_LEASE_ACTIVE);
        g_autoptr(VhLease) vf = assert_lease(f, VF(4), "vm1", VH_LEASE_ACTIVE);
        assert_string_equal(gpu->resource, R_A10);
        assert_string_equal(gpu->original_driver, "nvidia");
        assert_string_equal(vf->resource, R_24Q);
        /* the profile was there before the domain: not the hook's to undo */
        assert_false(vf->profile_written);
    }
    assert_int_equal(current_type(f, VF(4)), 1161);

    release_ok(f, dom);
    assert_driver(f, A10, "nvidia");
    assert_driver(f, A10_AUDIO, "snd_hda_intel");
    assert_int_equal(current_type(f, VF(4)), 1161);
    fixture_free(f);
}

/* On: a VF without a profile has none to be given: refused, nothing done. */
static void
test_plain_hostdevs_vf_without_profile(void **state)
{
    Fixture *f = fixture_new(NULL, 0, "manage_plain_hostdevs=true\n");
    const char *const sources[] = { A10, VF(5), NULL };
    g_autoptr(VhDomain) dom = plain_domain(2, sources);
    g_autoptr(GError) error = NULL;
    g_autofree char *before = NULL, *after = NULL;

    (void)state;
    open_state(f);
    before = snapshot(f);
    error = prepare_fails(f, dom);
    assert_string_equal(error->message,
                        "domain 'vm2', <hostdev> 'ua-plain': VF 0000:41:00.5 holds no vGPU "
                        "profile, so there is none to give it; name its resource in a "
                        "<vgpu:device> ('vgpuctl define') or assign a profile ('vgpuctl "
                        "apply-profiles')");
    after = snapshot(f);
    assert_snapshot_equal(before, after);
    fixture_free(f);
}

/* release_driver=vfio-pci: release leaves the group on vfio-pci. */
static void
test_passthrough_release_keeps_vfio(void **state)
{
    Fixture *f = fixture_new(NULL, 0, "release_driver=vfio-pci\n");
    g_autoptr(VhDomain) dom = domain1(1, R_A10, A10);

    (void)state;
    prepare_ok(f, dom);
    release_ok(f, dom);
    assert_driver(f, A10, "vfio-pci");
    assert_driver(f, A10_AUDIO, "vfio-pci");
    assert_true(vfio_node(f, 20));
    {
        g_autoptr(VhLease) lease = assert_lease(f, A10, "vm1", VH_LEASE_RESERVED);
    }
    fixture_free(f);
}

static void
test_release_without_prepare(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) dom = domain1(1, R_A10, A10);
    g_autoptr(VhDomain) vgpu = domain1(2, R_24Q, VF(4));
    g_autoptr(VhDomain) mdev = domain1(3, R_T4_1Q, MDEV1);
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;

    open_state(f);
    before = snapshot(f);
    release_ok(f, dom);
    release_ok(f, vgpu);
    release_ok(f, mdev);
    after = snapshot(f);
    assert_snapshot_equal(before, after);
}

/* ------------------------------------------------------------------ */
/* Refusals change nothing                                            */
/* ------------------------------------------------------------------ */

/* Prepare of @source is refused with @code and a message holding @needle;
 * the tree, the dev dir and the leases are as before. */
static void
assert_refused_unchanged(Fixture *f, const char *source, gint code, const char *needle)
{
    g_autoptr(VhDomain) dom = domain1(7, R_A10, source);
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    g_autoptr(GError) error = NULL;

    open_state(f);
    before = snapshot(f);
    error = prepare_fails(f, dom);
    assert_vh_error(error, code, needle);
    assert_contains(error->message, "domain 'vm7', alias 'ua-gpu0'");
    after = snapshot(f);
    assert_snapshot_equal(before, after);
}

static void
test_refuse_group_with_bridge(void **state)
{
    Fixture *f = *state;

    assert_refused_unchanged(f, BRIDGED, VH_ERROR_UNSUPPORTED, "contains bridge " BRIDGE);
    assert_no_lease(f, BRIDGED);
    /* a reservation the domain had is kept as it was (same bytes) */
    reserve(f, BRIDGED, BRIDGED, R_A10, 7);
    assert_refused_unchanged(f, BRIDGED, VH_ERROR_UNSUPPORTED, "contains bridge " BRIDGE);
    {
        g_autoptr(VhLease) lease = assert_lease(f, BRIDGED, "vm7", VH_LEASE_RESERVED);
    }
    /* and another domain's reservation too */
    reserve(f, BRIDGED, BRIDGED, R_A10, 8);
    assert_refused_unchanged(f, BRIDGED, VH_ERROR_UNSUPPORTED, "contains bridge " BRIDGE);
    {
        g_autoptr(VhLease) lease = assert_lease(f, BRIDGED, "vm8", VH_LEASE_RESERVED);
    }
}

static void
test_refuse_group_with_host_device(void **state)
{
    Fixture *f = *state;

    assert_refused_unchanged(f, NIC_GPU, VH_ERROR_BUSY, NIC ", in use by the host (driver ixgbe)");
    assert_driver(f, NIC, "ixgbe");
    assert_driver(f, NIC_GPU, "nvidia");
    assert_no_lease(f, NIC_GPU);
}

static void
test_refuse_denied(void **state)
{
    Fixture *f = *state;

    assert_refused_unchanged(f, DENIED, VH_ERROR_DENIED, DENIED " is denied");
    /* deny= covers the IOMMU group: a GPU whose companion is denied is denied */
    assert_refused_unchanged(f, DENIED_PAIR, VH_ERROR_DENIED, DENIED_PAIR " is denied");
    assert_no_lease(f, DENIED);
    assert_no_lease(f, DENIED_PAIR);
}

/* A hand-edited source that is not a device of the named resource (here a
 * host NIC) is refused before anything is bound. */
static void
test_refuse_foreign_device(void **state)
{
    Fixture *f = *state;

    open_state(f);
    {
        g_autoptr(VhDomain) dom = domain1(7, R_A10, NIC);
        g_autofree char *before = snapshot(f);
        g_autofree char *after = NULL;
        g_autoptr(GError) error = prepare_fails(f, dom);
        assert_vh_error(error, VH_ERROR_INVALID, NIC " is not a device of " R_A10);
        after = snapshot(f);
        assert_snapshot_equal(before, after);
        assert_driver(f, NIC, "ixgbe");
    }
}

/* A source the host does not have is refused, naming it. */
static void
test_refuse_missing_device(void **state)
{
    Fixture *f = *state;

    open_state(f);
    {
        g_autoptr(VhDomain) dom = domain1(7, R_A10, "0000:99:00.0");
        g_autofree char *before = snapshot(f);
        g_autofree char *after = NULL;
        g_autoptr(GError) error = prepare_fails(f, dom);
        assert_contains(error->message, "0000:99:00.0");
        after = snapshot(f);
        assert_snapshot_equal(before, after);
    }
}

/* ------------------------------------------------------------------ */
/* SR-IOV vGPU                                                        */
/* ------------------------------------------------------------------ */

static void
test_sriov_prepare_release(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) a = domain1(1, R_24Q, VF(4));
    g_autoptr(VhDomain) b = domain1(2, R_24Q, VF(5));
    g_autoptr(VhDomain) c = domain1(3, R_24Q, VF(6));
    g_autofree char *rel4 = current_rel(VF(4));
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < 8; i++)
        assert_creatable(f, all_vfs[i], ALL_L40S_IDS);
    prepare_ok(f, a);
    /* the simulated driver refuses "1161\n": the id went in without newline */
    assert_sysfs(f, rel4, ID_24Q "\n");
    assert_creatable(f, VF(4), ID_24Q); /* the proprietary driver keeps listing */
    assert_creatable(f, VF(5), ID_24Q);
    assert_driver(f, VF(4), "nvidia"); /* a vGPU VF is not rebound */
    {
        g_autoptr(VhLease) lease = assert_lease(f, VF(4), "vm1", VH_LEASE_ACTIVE);
        assert_true(lease->profile_written);
        assert_string_equal(lease->resource, R_24Q);
    }

    prepare_ok(f, b);
    assert_int_equal(current_type(f, VF(5)), 1161);
    assert_creatable(f, VF(6), "");

    /* the third 24Q on a 48 GB GPU */
    error = prepare_fails(f, c);
    assert_vh_error(error, VH_ERROR_NO_CAPACITY, "domain 'vm3', alias 'ua-gpu0'");
    assert_contains(error->message, "VF " VF(6) " cannot take L40S-24Q");
    assert_contains(error->message, "VF " VF(4) " holds L40S-24Q");
    assert_contains(error->message, "VF " VF(5) " holds L40S-24Q");
    assert_contains(error->message, "framebuffer");
    assert_contains(error->message, "48 GB");
    assert_int_equal(current_type(f, VF(6)), 0);
    assert_no_lease(f, VF(6));

    /* the refused domain can be started again once one stops */
    release_ok(f, a);
    assert_sysfs(f, rel4, "0\n");
    assert_creatable(f, VF(4), ID_24Q);
    assert_creatable(f, VF(6), ID_24Q);
    {
        g_autoptr(VhLease) lease = assert_lease(f, VF(4), "vm1", VH_LEASE_RESERVED);
        assert_false(lease->profile_written);
    }
    prepare_ok(f, c);
    assert_int_equal(current_type(f, VF(6)), 1161);
    release_ok(f, b);
    release_ok(f, c);
    for (guint i = 0; i < 8; i++)
        assert_creatable(f, all_vfs[i], ALL_L40S_IDS);
    for (guint i = 0; i < G_N_ELEMENTS(all_vfs); i++)
        assert_int_equal(current_type(f, all_vfs[i]), 0);
}

/* A GPU that runs 12Q cannot take 24Q: the message says it is the size. */
static void
test_sriov_refuse_other_size(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) a = domain1(1, R_12Q, VF(4));
    g_autoptr(VhDomain) b = domain1(2, R_24Q, VF(5));
    g_autoptr(GError) error = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;

    prepare_ok(f, a);
    before = snapshot(f);
    error = prepare_fails(f, b);
    assert_vh_error(error, VH_ERROR_NO_CAPACITY, "VF " VF(5) " cannot take L40S-24Q");
    assert_contains(error->message, "VF " VF(4) " holds L40S-12Q");
    assert_contains(error->message, "one profile size at a time");
    after = snapshot(f);
    assert_snapshot_equal(before, after);
}

/* A VF behind a stopped domain's stale lease is checked against the wanted
 * profile before that lease is undone: refused for the equal-size rule, the
 * prepare leaves the stale profile and lease as they were (reconcile's job). */
static void
test_sriov_refuse_before_takeover(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) a = domain1(1, R_12Q, VF(4));
    g_autoptr(VhDomain) dead = domain1(3, R_12Q, VF(5));
    g_autoptr(VhDomain) b = domain1(2, R_24Q, VF(5));
    g_autoptr(GError) error = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;

    prepare_ok(f, a);
    set_running(f, "vm1", TRUE);
    prepare_ok(f, dead); /* vm3 never ran: its lease is stale */
    before = snapshot(f);
    error = prepare_fails(f, b);
    assert_vh_error(error, VH_ERROR_NO_CAPACITY, "VF " VF(5) " cannot take L40S-24Q");
    assert_contains(error->message, VF(4));
    assert_contains(error->message, "one profile size at a time");
    assert_null(strchr(error->message, '\n'));
    after = snapshot(f);
    assert_snapshot_equal(before, after);
    assert_int_equal(current_type(f, VF(5)), 1160);
    {
        g_autoptr(VhLease) lease = assert_lease(f, VF(5), "vm3", VH_LEASE_ACTIVE);
        assert_true(lease->profile_written);
    }
}

/* A prepare that fails at its first step undoes nothing: the binding it
 * had only recorded never ran (here the A10's driver_override is missing,
 * so an "undo" would fail too), no undo failure is counted, and the
 * message is one line without an undo note. */
static void
test_early_failure_undoes_nothing(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) a = domain1(1, R_A10, A10);
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree VhMetrics *m = NULL;
    g_autofree char *override = g_build_filename(f->env->sysfs, "bus/pci/devices", A10,
                                                 "driver_override", NULL);

    assert_int_equal(g_unlink(override), 0);
    error = prepare_fails(f, a);
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "failed to set driver_override of PCI device " A10);
    assert_null(strstr(error->message, "undo"));
    assert_null(strchr(error->message, '\n'));
    m = vh_metrics_load(f->env->config->state_dir, NULL, &local);
    assert_no_error(local);
    assert_int_equal(m->undo_failed, 0);
}

static void
test_sriov_held_vf_reset_fails(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) a = domain1(1, R_24Q, VF(4));
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree VhMetrics *m = NULL;
    gint64 start;

    prepare_ok(f, a);
    hold(f, VF(4), TRUE); /* QEMU has not let go yet */
    start = g_get_monotonic_time();
    assert_false(vh_lifecycle_release(f->env->config, a, &error));
    /* reset_retries=2, 10 ms apart: bounded */
    assert_true(g_get_monotonic_time() - start >= 20 * 1000);
    assert_true(g_get_monotonic_time() - start < 5 * G_USEC_PER_SEC);
    assert_vh_error(error, VH_ERROR_BUSY, "domain 'vm1': release incomplete");
    assert_contains(error->message, "could not reset the vGPU profile of VF " VF(4) " after 3 tries");
    assert_int_equal(current_type(f, VF(4)), 1161);
    /* the undo record is kept, so that release can be run again */
    {
        g_autoptr(VhLease) lease = assert_lease(f, VF(4), "vm1", VH_LEASE_ACTIVE);
        assert_true(lease->profile_written);
    }

    /* counted once, by the operation: one device left changed, no release */
    m = vh_metrics_load(f->env->config->state_dir, NULL, &local);
    assert_no_error(local);
    assert_int_equal(m->undo_failed, 1);
    assert_int_equal(m->released, 0);
    hold(f, VF(4), FALSE);
    release_ok(f, a);
    assert_int_equal(current_type(f, VF(4)), 0);
    assert_creatable(f, VF(4), ALL_L40S_IDS);
    g_free(m);
    m = vh_metrics_load(f->env->config->state_dir, NULL, &local);
    assert_no_error(local);
    assert_int_equal(m->undo_failed, 1);
    assert_int_equal(m->released, 1);
    {
        g_autoptr(VhLease) lease = assert_lease(f, VF(4), "vm1", VH_LEASE_RESERVED);
        assert_false(lease->profile_written);
    }
}

/* A VF that already holds 12Q (a static profile, a stuck VM) refuses 24Q. */
static void
test_sriov_vf_holds_other_type(void **state)
{
    Fixture *f = fixture_new("0:" ID_12Q, 0, NULL);
    g_autoptr(VhDomain) a = domain1(1, R_24Q, VF(4));
    g_autoptr(GError) error = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;

    (void)state;
    open_state(f);
    before = snapshot(f);
    error = prepare_fails(f, a);
    assert_vh_error(error, VH_ERROR_BUSY, "domain 'vm1', alias 'ua-gpu0'");
    assert_contains(error->message, "VF " VF(4) " already holds L40S-12Q");
    assert_contains(error->message, "L40S-24Q");
    after = snapshot(f);
    assert_snapshot_equal(before, after);
    fixture_free(f);
}

/* Current already equals the wanted type (a static profile from the boot
 * loader): nothing written, nothing reset. */
static void
test_sriov_profile_already_set(void **state)
{
    /* one VF, then both halves of the GPU: no VF lists 1161 any more */
    const char *const files[] = { VF(4) "=L40S-24Q\n", VF(4) "=1161\n" VF(5) "=L40S-24Q\n" };

    (void)state;
    for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
        Fixture *f = fixture_new(NULL, 0, NULL);
        g_autoptr(VhDomain) a = domain1(1, R_24Q, VF(4));
        g_autoptr(GPtrArray) lines = vh_profiles_parse(files[i], "profiles.conf", NULL);
        g_autoptr(GPtrArray) results = NULL;
        g_autofree char *before = NULL;
        g_autofree char *after = NULL;

        assert_non_null(lines);
        results = vh_profiles_apply(f->env->host, lines, NULL);
        for (guint r = 0; r < results->len; r++)
            assert_int_equal(((VhProfileResult *)g_ptr_array_index(results, r))->outcome,
                             VH_PROFILE_SET);
        assert_int_equal(current_type(f, VF(4)), 1161);

        /* a write would fail: the driver refuses while a VM holds the VF */
        hold(f, VF(4), TRUE);
        prepare_ok(f, a);
        {
            g_autoptr(VhLease) lease = assert_lease(f, VF(4), "vm1", VH_LEASE_ACTIVE);
            assert_false(lease->profile_written);
        }
        hold(f, VF(4), FALSE);
        before = snapshot(f);
        release_ok(f, a);
        assert_int_equal(current_type(f, VF(4)), 1161);
        after = snapshot(f);
        /* only the lease turned into a reservation */
        {
            g_autoptr(VhLease) lease = assert_lease(f, VF(4), "vm1", VH_LEASE_RESERVED);
        }
        assert_string_not_equal(before, after);
        fixture_free(f);
    }
}

/* Prepare twice on a full GPU, then the GPU's other domain. */
static void
test_sriov_prepare_twice(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) a = domain1(1, R_24Q, VF(4));
    g_autoptr(VhDomain) b = domain1(2, R_24Q, VF(5));

    prepare_ok(f, a);
    prepare_ok(f, b);
    prepare_ok(f, a);
    prepare_ok(f, b);
    {
        g_autoptr(VhLease) la = assert_lease(f, VF(4), "vm1", VH_LEASE_ACTIVE);
        g_autoptr(VhLease) lb = assert_lease(f, VF(5), "vm2", VH_LEASE_ACTIVE);
        /* the second call wrote nothing, but the first one did: undo stays */
        assert_true(la->profile_written);
        assert_true(lb->profile_written);
    }
    release_ok(f, a);
    release_ok(f, b);
    assert_int_equal(current_type(f, VF(4)), 0);
    assert_int_equal(current_type(f, VF(5)), 0);
}

/* ------------------------------------------------------------------ */
/* mdev                                                               */
/* ------------------------------------------------------------------ */

static void
test_mdev_prepare_release(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) a = domain1(1, R_T4_1Q, MDEV1);
    g_autofree char *before = NULL;
    g_autofree char *type = NULL;
    g_autofree char *type_link = g_build_filename(f->env->sysfs, "bus/mdev/devices", MDEV1,
                                                  "mdev_type", NULL);

    open_state(f);
    before = snapshot(f);
    prepare_ok(f, a);
    assert_true(sysfs_exists(f, "bus/mdev/devices/" MDEV1));
    type = g_file_read_link(type_link, NULL);
    assert_non_null(type);
    assert_true(g_str_has_suffix(type, "/nvidia-230"));
    {
        g_autoptr(VhLease) lease = assert_lease(f, MDEV1, "vm1", VH_LEASE_ACTIVE);
        assert_true(lease->mdev_created);
        assert_string_equal(lease->device, T4);
        assert_string_equal(lease->mdev_type, "nvidia-230");
    }
    /* again: it exists with the right type, nothing to do, undo kept */
    prepare_ok(f, a);
    {
        g_autoptr(VhLease) lease = assert_lease(f, MDEV1, "vm1", VH_LEASE_ACTIVE);
        assert_true(lease->mdev_created);
    }
    release_ok(f, a);
    assert_false(sysfs_exists(f, "bus/mdev/devices/" MDEV1));
    {
        g_autoptr(VhLease) lease = assert_lease(f, MDEV1, "vm1", VH_LEASE_RESERVED);
        assert_false(lease->mdev_created);
    }
    release_ok(f, a);
    {
        g_autoptr(VhLeaseStore) store = vh_lease_store_open(f->env->config, NULL);
        g_autofree char *after = NULL;
        assert_true(vh_lease_store_remove(store, MDEV1, NULL));
        after = snapshot(f);
        assert_snapshot_equal(before, after);
    }
}

/* NVIDIA's driver removes an mdev by itself after the VM stops. */
static void
test_mdev_vanished(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) a = domain1(1, R_T4_1Q, MDEV1);
    g_autoptr(VhSysfs) sysfs = vh_sysfs_new(f->env->sysfs);

    prepare_ok(f, a);
    assert_true(vh_sysfs_write(sysfs, "bus/mdev/devices/" MDEV1 "/remove", "1", NULL));
    assert_false(sysfs_exists(f, "bus/mdev/devices/" MDEV1));
    release_ok(f, a);
    {
        g_autoptr(VhLease) lease = assert_lease(f, MDEV1, "vm1", VH_LEASE_RESERVED);
    }
}

static void
test_mdev_wrong_type(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) a = domain1(1, R_T4_1Q, MDEV1);
    g_autoptr(VhDomain) b = domain1(2, R_T4_2Q, MDEV1);
    g_autoptr(VhDomain) c = domain1(3, R_T4_2Q, MDEV2);
    g_autoptr(VhDomain) d = domain1(4, R_T4_1Q, MDEV2);
    g_autoptr(VhSysfs) sysfs = vh_sysfs_new(f->env->sysfs);
    g_autoptr(GError) refused = NULL;
    g_autoptr(GError) refused2 = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;

    /* made by hand as a 1Q: a domain that wants a 2Q on that UUID */
    open_state(f);
    assert_true(vh_sysfs_write(sysfs, "bus/pci/devices/" T4 "/mdev_supported_types/nvidia-230/"
                                      "create", MDEV2, NULL));
    before = snapshot(f);
    refused = prepare_fails(f, c);
    assert_vh_error(refused, VH_ERROR_BUSY, "mdev " MDEV2 " exists already as GRID T4-1Q");
    assert_contains(refused->message, R_T4_2Q);
    after = snapshot(f);
    assert_snapshot_equal(before, after);
    /* one that wants a 1Q takes it, and leaves it at release: not ours */
    prepare_ok(f, d);
    {
        g_autoptr(VhLease) lease = assert_lease(f, MDEV2, "vm4", VH_LEASE_ACTIVE);
        assert_false(lease->mdev_created);
        assert_string_equal(lease->device, T4);
    }
    release_ok(f, d);
    assert_true(sysfs_exists(f, "bus/mdev/devices/" MDEV2));

    /* vm1 died holding its 1Q; vm2 names the same UUID as a 2Q */
    prepare_ok(f, a);
    refused2 = prepare_fails(f, b);
    assert_vh_error(refused2, VH_ERROR_BUSY, "mdev " MDEV1 " exists already as GRID T4-1Q");
    assert_true(sysfs_exists(f, "bus/mdev/devices/" MDEV1));
    {
        g_autoptr(VhLease) lease = assert_lease(f, MDEV1, "vm1", VH_LEASE_ACTIVE);
        assert_true(lease->mdev_created);
    }
}

static void
test_mdev_held(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) a = domain1(1, R_T4_1Q, MDEV1);
    g_autoptr(GError) error = NULL;

    prepare_ok(f, a);
    hold(f, MDEV1, TRUE);
    assert_false(vh_lifecycle_release(f->env->config, a, &error));
    assert_vh_error(error, VH_ERROR_BUSY, "could not remove mdev " MDEV1 " after 3 tries");
    assert_true(sysfs_exists(f, "bus/mdev/devices/" MDEV1));
    {
        g_autoptr(VhLease) lease = assert_lease(f, MDEV1, "vm1", VH_LEASE_ACTIVE);
        assert_true(lease->mdev_created);
    }
    hold(f, MDEV1, FALSE);
    release_ok(f, a);
    assert_false(sysfs_exists(f, "bus/mdev/devices/" MDEV1));
}

/* ------------------------------------------------------------------ */
/* Failure midway                                                     */
/* ------------------------------------------------------------------ */

static void
test_failure_midway_sriov(void **state)
{
    Fixture *f = *state;
    const DevSpec devs[] = {
        { "ua-gpu0", R_24Q, VF(4) },
        { "ua-gpu1", R_12Q, VF(5) }, /* the GPU now runs 24Q: refused */
    };
    g_autoptr(VhDomain) dom = domain_new(1, devs, 2);
    g_autoptr(GError) error = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;

    open_state(f);
    before = snapshot(f);
    error = prepare_fails(f, dom);
    assert_vh_error(error, VH_ERROR_NO_CAPACITY, "alias 'ua-gpu1'");
    assert_contains(error->message, "VF " VF(4) " holds L40S-24Q");
    assert_int_equal(current_type(f, VF(4)), 0);
    assert_no_lease(f, VF(4));
    assert_no_lease(f, VF(5));
    after = snapshot(f);
    assert_snapshot_equal(before, after);

    /* with reservations from define: they come back as they were */
    reserve(f, VF(4), VF(4), R_24Q, 1);
    reserve(f, VF(5), VF(5), R_12Q, 1);
    g_clear_pointer(&before, g_free);
    g_clear_pointer(&after, g_free);
    g_clear_error(&error);
    before = snapshot(f);
    error = prepare_fails(f, dom);
    after = snapshot(f);
    assert_snapshot_equal(before, after);
}

static void
test_failure_midway_passthrough(void **state)
{
    Fixture *f = *state;
    const DevSpec devs[] = {
        { "ua-gpu0", R_A10, A10 },
        { "ua-vgpu", R_T4_1Q, MDEV1 },
        { "ua-gpu1", R_A10, BRIDGED },
    };
    g_autoptr(VhDomain) dom = domain_new(1, devs, 3);
    g_autoptr(GError) error = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;

    open_state(f);
    before = snapshot(f);
    error = prepare_fails(f, dom);
    assert_vh_error(error, VH_ERROR_UNSUPPORTED, "alias 'ua-gpu1'");
    assert_driver(f, A10, "nvidia");
    assert_driver(f, A10_AUDIO, "snd_hda_intel");
    assert_false(vfio_node(f, 20));
    assert_false(sysfs_exists(f, "bus/mdev/devices/" MDEV1));
    after = snapshot(f);
    assert_snapshot_equal(before, after);
}

/* With release_driver=vfio-pci, a failed prepare still gives back the
 * functions it took: it undoes what it did, not what release would. */
static void
test_failure_midway_keeps_policy_out(void **state)
{
    Fixture *f = fixture_new(NULL, 0, "release_driver=vfio-pci\n");
    const DevSpec devs[] = {
        { "ua-gpu0", R_A10, A10 },
        { "ua-gpu1", R_A10, NIC_GPU },
    };
    g_autoptr(VhDomain) dom = domain_new(1, devs, 2);
    g_autoptr(GError) error = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;

    (void)state;
    open_state(f);
    before = snapshot(f);
    error = prepare_fails(f, dom);
    assert_vh_error(error, VH_ERROR_BUSY, "alias 'ua-gpu1'");
    after = snapshot(f);
    assert_snapshot_equal(before, after);
    fixture_free(f);
}

/* A failed second prepare of a running domain must not undo the first. */
static void
test_failed_reprepare_keeps_running_domain(void **state)
{
    Fixture *f = *state;
    const DevSpec one[] = { { "ua-gpu0", R_24Q, VF(4) } };
    const DevSpec two[] = { { "ua-gpu0", R_24Q, VF(4) }, { "ua-gpu1", R_12Q, VF(5) } };
    g_autoptr(VhDomain) first = domain_new(1, one, 1);
    g_autoptr(VhDomain) second = domain_new(1, two, 2);
    g_autoptr(GError) error = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;

    prepare_ok(f, first);
    set_running(f, "vm1", TRUE);
    before = snapshot(f);
    error = prepare_fails(f, second);
    after = snapshot(f);
    assert_snapshot_equal(before, after);
    assert_int_equal(current_type(f, VF(4)), 1161);
    {
        g_autoptr(VhLease) lease = assert_lease(f, VF(4), "vm1", VH_LEASE_ACTIVE);
        assert_true(lease->profile_written);
    }
}

/* ------------------------------------------------------------------ */
/* Lease conflicts                                                    */
/* ------------------------------------------------------------------ */

static void
test_lease_conflicts(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) a = domain1(1, R_24Q, VF(4));
    g_autoptr(VhDomain) b = domain1(2, R_24Q, VF(4));
    g_autoptr(VhDomain) pa = domain1(3, R_A10, A10);
    g_autoptr(VhDomain) pb = domain1(4, R_A10, A10);
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) error2 = NULL;
    g_autoptr(TestLogCapture) logs = NULL;
    g_autofree char *text = NULL;

    prepare_ok(f, a);
    set_running(f, "vm1", TRUE);
    error = prepare_fails(f, b);
    assert_vh_error(error, VH_ERROR_BUSY, "in use by running domain 'vm1'");
    assert_contains(error->message, "domain 'vm2', alias 'ua-gpu0'");
    assert_contains(error->message, VF(4));
    {
        g_autoptr(VhLease) lease = assert_lease(f, VF(4), "vm1", VH_LEASE_ACTIVE);
        assert_true(lease->profile_written);
    }

    /* vm1 died without a release (libvirtd crashed): its lease is stale */
    set_running(f, "vm1", FALSE);
    logs = test_log_capture_start();
    prepare_ok(f, b);
    text = test_log_capture_text(logs);
    assert_contains(text, "taking over " VF(4));
    assert_contains(text, "'vm1'");
    {
        g_autoptr(VhLease) lease = assert_lease(f, VF(4), "vm2", VH_LEASE_ACTIVE);
        /* the profile vm1 wrote is still to be undone, now by vm2's release */
        assert_true(lease->profile_written);
    }
    release_ok(f, a); /* vm1 no longer owns anything */
    assert_int_equal(current_type(f, VF(4)), 1161);
    release_ok(f, b);
    assert_int_equal(current_type(f, VF(4)), 0);

    /* the same for a whole GPU: the drivers from before vm3 come back */
    prepare_ok(f, pa);
    set_running(f, "vm3", TRUE);
    error2 = prepare_fails(f, pb);
    assert_vh_error(error2, VH_ERROR_BUSY, "in use by running domain 'vm3'");
    set_running(f, "vm3", FALSE);
    prepare_ok(f, pb);
    release_ok(f, pb);
    assert_driver(f, A10, "nvidia");
    assert_driver(f, A10_AUDIO, "snd_hda_intel");
}

/* Within the grace period a fresh lease is live even without a pid file. */
static void
test_lease_grace(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) a = domain1(1, R_24Q, VF(4));
    g_autoptr(VhDomain) b = domain1(2, R_24Q, VF(4));
    g_autoptr(GError) error = NULL;

    prepare_ok(f, a);
    error = prepare_fails(f, b);
    assert_vh_error(error, VH_ERROR_BUSY, "in use by running domain 'vm1'");
}

/* ------------------------------------------------------------------ */
/* Reconnect and remap                                                */
/* ------------------------------------------------------------------ */

static void
test_reconnect(void **state)
{
    Fixture *f = *state;
    const DevSpec devs[] = { { "ua-gpu0", R_24Q, VF(4) }, { "ua-vgpu", R_T4_1Q, MDEV1 } };
    g_autoptr(VhDomain) a = domain_new(1, devs, 2);
    g_autoptr(VhDomain) b = domain1(2, R_24Q, VF(5));
    g_autoptr(GError) error = NULL;
    g_autoptr(VhLeaseStore) store = vh_lease_store_open(f->env->config, NULL);

    prepare_ok(f, a);
    /* intact leases keep their undo record */
    assert_true(vh_lifecycle_reconnect(f->env->config, a, &error));
    assert_no_error(error);
    {
        g_autoptr(VhLease) lease = assert_lease(f, VF(4), "vm1", VH_LEASE_ACTIVE);
        assert_true(lease->profile_written);
    }
    /* the state directory was lost (a tmpfs after a crash) */
    assert_true(vh_lease_store_remove(store, VF(4), NULL));
    assert_true(vh_lease_store_remove(store, MDEV1, NULL));
    assert_true(vh_lifecycle_reconnect(f->env->config, a, &error));
    assert_no_error(error);
    {
        g_autoptr(VhLease) lv = assert_lease(f, VF(4), "vm1", VH_LEASE_ACTIVE);
        g_autoptr(VhLease) lm = assert_lease(f, MDEV1, "vm1", VH_LEASE_ACTIVE);
        assert_string_equal(lv->uuid, "00000000-0000-4000-8000-000000000001");
        assert_string_equal(lv->resource, R_24Q);
        assert_string_equal(lm->mdev_uuid, MDEV1);
        /* what the running domain's devices carry is what release takes back */
        assert_true(lv->profile_written);
        assert_true(lm->mdev_created);
    }
    release_ok(f, a);
    assert_int_equal(current_type(f, VF(4)), 0);
    assert_false(sysfs_exists(f, "bus/mdev/devices/" MDEV1));
    /* a domain on a device another domain reserved: the running one wins */
    reserve(f, VF(5), VF(5), R_24Q, 9);
    assert_true(vh_lifecycle_reconnect(f->env->config, b, &error));
    {
        g_autoptr(VhLease) lease = assert_lease(f, VF(5), "vm2", VH_LEASE_ACTIVE);
    }
    /* nothing named, no uuid: nothing to do, no failure */
    {
        const char *xml = "<domain type='kvm'><name>plain</name></domain>";
        g_autoptr(VhDomain) plain = vh_domain_parse(xml, strlen(xml), NULL);
        assert_non_null(plain);
        assert_true(vh_lifecycle_reconnect(f->env->config, plain, NULL));
    }
}

static void
test_remap(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) a = domain1(1, R_24Q, VF(4));
    g_autoptr(VhDomain) b = domain1(2, R_24Q, VF(4));
    g_autoptr(VhDomain) c = domain1(3, R_24Q, VF(6));
    g_autoptr(VhDomain) d = domain1(4, R_24Q, "0000:42:00.5");
    g_autoptr(GError) error = NULL;
    g_autofree char *xml = NULL;
    g_autofree char *moved = NULL;
    g_autofree char *same = NULL;

    prepare_ok(f, a);
    set_running(f, "vm1", TRUE);
    /* vm2 comes in (migration, restore) pointing at vm1's VF */
    xml = vh_lifecycle_remap(f->env->config, b, &error);
    assert_no_error(error);
    assert_non_null(xml);
    assert_not_contains(xml, "function=\"0x4\"");
    assert_contains(xml, "<uuid>00000000-0000-4000-8000-000000000002</uuid>");
    assert_contains(xml, "resource=\"" R_24Q "\"");
    assert_contains(xml, "<memory unit=\"GiB\">4</memory>"); /* the rest is kept */
    {
        g_autoptr(VhDomain) parsed = vh_domain_parse(xml, strlen(xml), &error);
        g_autofree char *addr = NULL;
        assert_no_error(error);
        addr = vh_domain_device_pci_address(g_ptr_array_index(parsed->devices, 0));
        assert_string_not_equal(addr, VF(4));
        /* pack: the GPU that already runs 24Q and has room for one more */
        assert_true(g_str_has_prefix(addr, "0000:41:"));
        prepare_ok(f, parsed);
        set_running(f, "vm2", TRUE);
    }
    /* the first L40S is full now: vm3's VF there cannot take 24Q */
    moved = vh_lifecycle_remap(f->env->config, c, &error);
    assert_no_error(error);
    assert_non_null(moved);
    assert_contains(moved, "bus=\"0x42\"");
    /* a domain whose device is free and able stays as it is */
    same = vh_lifecycle_remap(f->env->config, d, &error);
    assert_no_error(error);
    assert_null(same);
}

/* ------------------------------------------------------------------ */
/* Concurrency                                                        */
/* ------------------------------------------------------------------ */

#define N_HOOKS 24

static void
test_concurrent_prepares(void **state)
{
    Fixture *f = *state;
    pid_t pids[N_HOOKS];
    int go[2];
    guint ok = 0;
    guint held = 0;
    g_autoptr(GPtrArray) leases = NULL;
    g_autofree char *out_dir = g_build_filename(f->env->dir, "out", NULL);
    g_autoptr(GString) outcomes = g_string_new(NULL);

    assert_int_equal(g_mkdir_with_parents(out_dir, 0755), 0);
    assert_int_equal(pipe(go), 0);
    for (guint i = 0; i < N_HOOKS; i++) {
        /* two domains per VF, 12 VFs on two GPUs that fit two 24Q each */
        g_autoptr(VhDomain) dom = domain1(100 + i, R_24Q, all_vfs[i % G_N_ELEMENTS(all_vfs)]);
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            GError *error = NULL;
            char *path = g_strdup_printf("%s/%u", out_dir, i);
            char c;
            gboolean done;
            close(go[1]);
            (void)!read(go[0], &c, 1); /* all start at once */
            done = vh_lifecycle_prepare(f->env->config, dom, &error);
            g_file_set_contents(path, done ? "ok" : error->message, -1, NULL);
            /* _exit skips cleanups: free here, for valgrind's sake */
            g_clear_error(&error);
            g_free(path);
            g_clear_pointer(&dom, vh_domain_free);
            _exit(done ? 0 : 1);
        }
    }
    close(go[0]);
    close(go[1]);
    for (guint i = 0; i < N_HOOKS; i++) {
        int status;
        g_autofree char *path = g_strdup_printf("%s/%u", out_dir, i);
        g_autofree char *text = NULL;
        assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
        assert_true(WIFEXITED(status));
        assert_true(g_file_get_contents(path, &text, NULL, NULL));
        g_string_append_printf(outcomes, "vm%u: %s\n", 100 + i, text);
        if (WEXITSTATUS(status) == 0) {
            ok++;
            continue;
        }
        /* refused for a reason the user can act on */
        if (strstr(text, "in use by running domain") == NULL &&
            strstr(text, "cannot take L40S-24Q") == NULL)
            fail_msg("vm%u was refused for an unexpected reason: %s", 100 + i, text);
    }
    if (ok != 4)
        fail_msg("%u prepares succeeded, expected 4:\n%s", ok, outcomes->str);

    /* no GPU holds more than its 48 GB */
    for (guint g = 0; g < 2; g++) {
        guint gb = 0;
        for (guint i = 0; i < G_N_ELEMENTS(all_vfs); i++) {
            guint type;
            if (!g_str_has_prefix(all_vfs[i], g == 0 ? "0000:41:" : "0000:42:"))
                continue;
            type = current_type(f, all_vfs[i]);
            if (type == 0)
                continue;
            assert_int_equal(type, 1161);
            gb += 24;
            held++;
        }
        if (gb > 48)
            fail_msg("GPU %u holds %u GB of vGPU profiles:\n%s", g, gb, outcomes->str);
    }
    assert_int_equal(held, 4);

    /* no lease without a profile, no profile without a lease */
    leases = leases_all(f);
    assert_int_equal(leases->len, 4);
    for (guint i = 0; i < leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(leases, i);
        assert_int_equal(lease->state, VH_LEASE_ACTIVE);
        assert_true(lease->profile_written);
        assert_int_equal(current_type(f, lease->key), 1161);
    }
}

/* ------------------------------------------------------------------ */
/* Running with the simulated kernel preloaded                        */
/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* One device (vgpuctl attach, detach)                                */
/* ------------------------------------------------------------------ */

/* attach: only the named device is prepared; a failed attach undoes it to
 * the byte (release_device, drivers restored, lease dropped). */
static void
test_prepare_device_one(void **state)
{
    Fixture *f = *state;
    const DevSpec devs[] = { { "ua-gpu0", R_A10, A10 }, { "ua-vgpu", R_24Q, VF(4) } };
    g_autoptr(VhDomain) dom = domain_new(1, devs, 2);
    g_autoptr(GError) error = NULL;
    g_autofree char *uuid = uuid_of(1);
    g_autofree char *pristine = NULL;
    g_autofree char *after = NULL;

    open_state(f);
    pristine = snapshot(f);
    assert_true(vh_lifecycle_prepare_device(f->env->config, dom, "ua-gpu0", &error));
    assert_no_error(error);
    assert_driver(f, A10, "vfio-pci");
    assert_driver(f, A10_AUDIO, "vfio-pci");
    assert_int_equal(current_type(f, VF(4)), 0);
    assert_no_lease(f, VF(4));
    {
        g_autoptr(VhLease) lease = assert_lease(f, A10, "vm1", VH_LEASE_ACTIVE);
        assert_string_equal(lease->original_driver, "nvidia");
    }
    assert_true(vh_lifecycle_release_device(f->env->config, uuid, A10, TRUE, FALSE, &error));
    assert_no_error(error);
    assert_no_lease(f, A10);
    after = snapshot(f);
    assert_snapshot_equal(pristine, after);
}

/* detach --live of a persistent domain: the profile goes, the device stays
 * reserved for the configuration that still names it. */
static void
test_release_device_keeps_reservation(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) dom = domain1(1, R_24Q, VF(4));
    g_autoptr(GError) error = NULL;
    g_autofree char *uuid = uuid_of(1);

    open_state(f);
    assert_true(vh_lifecycle_prepare_device(f->env->config, dom, "ua-gpu0", &error));
    assert_no_error(error);
    assert_int_equal(current_type(f, VF(4)), 1161);
    assert_true(vh_lifecycle_release_device(f->env->config, uuid, VF(4), FALSE, TRUE, &error));
    assert_no_error(error);
    assert_int_equal(current_type(f, VF(4)), 0);
    {
        g_autoptr(VhLease) lease = assert_lease(f, VF(4), "vm1", VH_LEASE_RESERVED);
        assert_false(lease->profile_written);
    }
    /* a reservation is dropped as it is (detach --config of a stopped domain) */
    assert_true(vh_lifecycle_release_device(f->env->config, uuid, VF(4), FALSE, FALSE, &error));
    assert_no_lease(f, VF(4));
}

/* A refused prepare of one device changes nothing; another domain's lease
 * is never released; an unknown alias is named. */
static void
test_prepare_device_refused(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) denied = domain1(1, R_A10, DENIED);
    g_autoptr(VhDomain) vm2 = domain1(2, R_24Q, VF(4));
    g_autofree char *uuid1 = uuid_of(1);
    g_autofree char *pristine = NULL;
    g_autofree char *after = NULL;
    GError *error = NULL;

    open_state(f);
    pristine = snapshot(f);
    assert_false(vh_lifecycle_prepare_device(f->env->config, denied, "ua-gpu0", &error));
    assert_vh_error(error, VH_ERROR_DENIED, "is denied");
    assert_null(strchr(error->message, '\n'));
    g_clear_error(&error);
    assert_false(vh_lifecycle_prepare_device(f->env->config, denied, "ua-nope", &error));
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "no named device 'ua-nope'");
    g_clear_error(&error);
    after = snapshot(f);
    assert_snapshot_equal(pristine, after);

    prepare_ok(f, vm2);
    assert_false(vh_lifecycle_release_device(f->env->config, uuid1, VF(4), TRUE, FALSE, &error));
    assert_vh_error(error, VH_ERROR_BUSY, "leased to domain 'vm2'");
    g_clear_error(&error);
    assert_int_equal(current_type(f, VF(4)), 1161);
    g_autoptr(VhLease) lease = assert_lease(f, VF(4), "vm2", VH_LEASE_ACTIVE);
    (void)lease;
}

/* mdev: created by prepare_device, removed by release_device. */
static void
test_prepare_device_mdev(void **state)
{
    Fixture *f = *state;
    g_autoptr(VhDomain) dom = domain1(1, R_T4_1Q, MDEV1);
    g_autoptr(GError) error = NULL;
    g_autofree char *uuid = uuid_of(1);
    g_autofree char *pristine = NULL;
    g_autofree char *after = NULL;

    open_state(f);
    pristine = snapshot(f);
    assert_true(vh_lifecycle_prepare_device(f->env->config, dom, "ua-gpu0", &error));
    assert_no_error(error);
    assert_true(sysfs_exists(f, "bus/mdev/devices/" MDEV1));
    assert_true(vh_lifecycle_release_device(f->env->config, uuid, MDEV1, TRUE, FALSE, &error));
    assert_no_error(error);
    assert_false(sysfs_exists(f, "bus/mdev/devices/" MDEV1));
    after = snapshot(f);
    assert_snapshot_equal(pristine, after);
}

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prepare_device_one, setup, teardown),
        cmocka_unit_test_setup_teardown(test_release_device_keeps_reservation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_device_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prepare_device_mdev, setup, teardown),
        cmocka_unit_test_setup_teardown(test_passthrough_prepare_release, setup, teardown),
        cmocka_unit_test(test_passthrough_release_keeps_vfio),
        cmocka_unit_test_setup_teardown(test_release_without_prepare, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_hostdevs_default_off, setup, teardown),
        cmocka_unit_test(test_plain_hostdevs_managed),
        cmocka_unit_test(test_plain_hostdevs_vf_without_profile),
        cmocka_unit_test_setup_teardown(test_refuse_group_with_bridge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_group_with_host_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_denied, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_missing_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sriov_prepare_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sriov_refuse_other_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sriov_refuse_before_takeover, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_failure_undoes_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sriov_held_vf_reset_fails, setup, teardown),
        cmocka_unit_test(test_sriov_vf_holds_other_type),
        cmocka_unit_test(test_sriov_profile_already_set),
        cmocka_unit_test_setup_teardown(test_sriov_prepare_twice, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mdev_prepare_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mdev_vanished, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mdev_wrong_type, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mdev_held, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_midway_sriov, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failure_midway_passthrough, setup, teardown),
        cmocka_unit_test(test_failure_midway_keeps_policy_out),
        cmocka_unit_test_setup_teardown(test_failed_reprepare_keeps_running_domain, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lease_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lease_grace, setup_grace, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_foreign_device, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_prepares, setup_grace, teardown),
    };

    (void)argc;
    test_sim_preload(argv, "test-lifecycle");
    return cmocka_run_group_tests(tests, NULL, NULL);
}

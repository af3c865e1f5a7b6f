/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-concurrency: many prepares at once on one host ("64 concurrent
 * prepares of different domains, 100 rounds").
 *
 *   bench/vh-concurrency CONFIG [ROUNDS [PROCS]]      (defaults: 100, 64)
 *
 * CONFIG is a vgpu-hook configuration whose sysfs_root is a fake host with
 * SR-IOV vGPU GPUs (bench/concurrency.sh builds one with bench/gen-host.sh);
 * the simulated kernel (tests/libsimkernel.so) plays the driver: the program
 * re-executes itself with it preloaded, as the lifecycle tests do.
 *
 * A round: PROCS child processes, released at once through a pipe, each run
 * vh_lifecycle_prepare() (the hook's "prepare begin") for a domain of its
 * own; then PROCS children release all of them at once. Domain i aims at GPU
 * i % GPUS, two domains at each of its first four VFs, and asks a profile of
 * a quarter (even GPUs) or half (odd GPUs) of the framebuffer: the lease lock
 * must let exactly one domain have each VF and no more of them than fit. The
 * round's outcome is checked from the lease store and the tree:
 *   - double allocations: a VF that two prepares reported as theirs, a GPU
 *     holding more framebuffer than it has or two profile sizes at once;
 *   - lost leases: a domain whose prepare succeeded without an active lease
 *     (its UUID) on its VF, with the profile written and held by the VF;
 *   - orphans: an active lease of a domain whose prepare failed, a VF that
 *     holds a type without an active lease, anything left after release;
 *   - refusals other than "in use by running domain" / "cannot take", and a
 *     number of successes other than what fits (a lock timeout, say).
 * Lock wait is the time from a prepare's first attempt to take the lease
 * lock (flock, interposed here) to getting it.
 *
 * Prints key=value lines; exits 1 if any check failed, 2 on a setup error.
 * VH_CONCURRENCY_BREAK_LOCK=1 makes the lease lock a no-op, to see the checks
 * fail as they must without it. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif
#include "vgpuhook.h"
#include "test-sim.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#define VFS_PER_GPU 4      /* VFs aimed at on each GPU, two domains each */
#define RECORD_MAX 512     /* one result line, written atomically (< PIPE_BUF) */

/* ---- lock wait: flock() interposed (the executable exports it) --------- */

static char *lease_lock_path;      /* STATE_DIR/lock (vh-lease) */
static gint64 lock_first_try = -1; /* this prepare's first attempt */
static gint64 lock_taken = -1;
static gboolean break_lock;        /* VH_CONCURRENCY_BREAK_LOCK=1 */

int flock(int fd, int operation);

/* Only the lease store's lock counts: the simulated kernel locks too. */
static gboolean
is_lease_lock(int fd)
{
    g_autofree char *link = g_strdup_printf("/proc/self/fd/%d", fd);
    g_autofree char *target = g_file_read_link(link, NULL);

    return lease_lock_path && target && strcmp(target, lease_lock_path) == 0;
}

int
flock(int fd, int operation)
{
    static int (*real_flock)(int, int);
    gboolean counted = (operation & LOCK_EX) && lock_taken < 0 && is_lease_lock(fd);
    int rc;

    if (real_flock == NULL)
        real_flock = (int (*)(int, int))dlsym(RTLD_NEXT, "flock");
    if (counted && lock_first_try < 0)
        lock_first_try = g_get_monotonic_time();
    /* the checks' own check: without the lock they must see the damage */
    if (break_lock && is_lease_lock(fd))
        return 0;
    rc = real_flock(fd, operation);
    if (counted && rc == 0)
        lock_taken = g_get_monotonic_time();
    return rc;
}

/* ---- the plan ---------------------------------------------------------- */

typedef struct {
    char *name;
    char *uuid;
    const char *vf;          /* borrowed from the catalog */
    char *resource;
    guint type_id;           /* the type the VF must hold after a prepare */
    guint gpu;               /* index into the plan's GPUs */
} Target;

typedef struct {
    VhConfig *config;
    VhHost *host;
    VhCatalog *catalog;
    GPtrArray *targets;      /* Target */
    guint expected_ok;       /* prepares that fit */
} Plan;

static void
target_free(Target *t)
{
    g_free(t->name);
    g_free(t->uuid);
    g_free(t->resource);
    g_free(t);
}

/* A "Q" type of @gb GB on @gpu, or NULL. */
static const VhVgpuType *
type_of_size(const VhVgpuGpu *gpu, guint gb)
{
    for (guint i = 0; i < gpu->types->len; i++) {
        const VhVgpuType *t = g_ptr_array_index(gpu->types, i);
        const char *profile = vh_vgpu_type_profile(t->name);
        if (g_str_has_suffix(profile, "Q") && vh_vgpu_profile_framebuffer_gb(profile) == gb)
            return t;
    }
    return NULL;
}

static gboolean
plan_build(Plan *plan, const char *config_path, guint procs, GError **error)
{
    guint ngpus;

    plan->config = vh_config_load_file(config_path, FALSE, error);
    if (plan->config == NULL)
        return FALSE;
    plan->host = vh_host_new(plan->config);
    if (!vh_host_scan(plan->host, error) ||
        (plan->catalog = vh_catalog_build(plan->host, NULL, error)) == NULL)
        return FALSE;
    ngpus = plan->catalog->gpus->len;
    if (ngpus == 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND,
                    "no SR-IOV vGPU GPU on the host of %s: build it with bench/gen-host.sh",
                    config_path);
        return FALSE;
    }
    plan->targets = g_ptr_array_new_with_free_func((GDestroyNotify)target_free);
    for (guint g = 0; g < MIN(ngpus, procs); g++) {
        const VhVgpuGpu *gpu = g_ptr_array_index(plan->catalog->gpus, g);
        guint divisor = g % 2 == 0 ? 4 : 2;
        guint domains = procs / ngpus + (g < procs % ngpus ? 1 : 0);
        guint vfs = MIN(MIN(VFS_PER_GPU, gpu->vfs->len), domains);
        const VhVgpuType *type = gpu->framebuffer_gb ? type_of_size(gpu, gpu->framebuffer_gb / divisor)
                                                     : NULL;
        if (type == NULL || gpu->vfs->len == 0) {
            g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                        "GPU %s offers no Q profile of 1/%u of its %u GB", gpu->pf->address,
                        divisor, gpu->framebuffer_gb);
            return FALSE;
        }
        plan->expected_ok += MIN(vfs, divisor);
    }
    for (guint i = 0; i < procs; i++) {
        Target *t = g_new0(Target, 1);
        const VhVgpuGpu *gpu = g_ptr_array_index(plan->catalog->gpus, i % ngpus);
        const VhVgpuType *type = type_of_size(gpu, gpu->framebuffer_gb / ((i % ngpus) % 2 == 0 ? 4 : 2));
        const VhPciDevice *vf = g_ptr_array_index(gpu->vfs, (i / ngpus) % MIN(VFS_PER_GPU, gpu->vfs->len));
        t->name = g_strdup_printf("bench%u", i);
        t->uuid = g_strdup_printf("00000000-0000-4000-8000-%012u", i);
        t->vf = vf->address;
        t->resource = vh_resource_name_for_vgpu_type(type->name);
        t->type_id = type->id;
        t->gpu = i % ngpus;
        g_ptr_array_add(plan->targets, t);
    }
    return TRUE;
}

static void
plan_clear(Plan *plan)
{
    g_clear_pointer(&plan->targets, g_ptr_array_unref);
    g_clear_pointer(&plan->catalog, vh_catalog_free);
    g_clear_pointer(&plan->host, vh_host_free);
    g_clear_pointer(&plan->config, vh_config_free);
}

static VhDomain *
target_domain(const Target *t, GError **error)
{
    VhPciAddress a;
    g_autofree char *xml = NULL;

    if (!vh_pci_address_parse(t->vf, &a, error))
        return NULL;
    xml = g_strdup_printf(
        "<domain type='kvm'><name>%s</name><uuid>%s</uuid><metadata>"
        "<vgpu:devices xmlns:vgpu='urn:vgpu-hook:1'>"
        "<vgpu:device alias='ua-gpu0' resource='%s'/></vgpu:devices></metadata>"
        "<devices><hostdev mode='subsystem' type='pci' managed='no'><source>"
        "<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/></source>"
        "<alias name='ua-gpu0'/></hostdev></devices></domain>",
        t->name, t->uuid, t->resource, a.domain, a.bus, a.slot, a.function);
    return vh_domain_parse(xml, strlen(xml), error);
}

/* ---- one phase: every target at once ------------------------------------ */

typedef struct {
    gboolean ok;
    gint64 lock_wait_us;     /* -1: never asked for the lock */
    gint64 call_us;
    char *message;
} Outcome;

static void
run_child(const Plan *plan, guint i, gboolean prepare, int go, int out)
{
    const Target *t = g_ptr_array_index(plan->targets, i);
    g_autoptr(VhDomain) domain = NULL;
    g_autoptr(GError) error = NULL;
    char record[RECORD_MAX];
    gint64 start;
    gboolean ok;
    char c;

    (void)!read(go, &c, 1); /* all start at once */
    lock_first_try = lock_taken = -1;
    start = g_get_monotonic_time();
    domain = target_domain(t, &error);
    ok = domain && (prepare ? vh_lifecycle_prepare(plan->config, domain, &error)
                            : vh_lifecycle_release(plan->config, domain, &error));
    g_snprintf(record, sizeof(record), "%u %d %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %s\n", i,
               ok, lock_taken >= 0 ? lock_taken - lock_first_try : -1,
               g_get_monotonic_time() - start, ok ? "" : error->message);
    /* one line per child, no newline inside it */
    for (char *p = record; *p && p[1]; p++)
        if (*p == '\n')
            *p = ' ';
    (void)!write(out, record, strlen(record));
}

/* Run the phase; fills @outcomes (one per target). Returns the wall time. */
static gint64
run_phase(const Plan *plan, gboolean prepare, Outcome *outcomes)
{
    guint n = plan->targets->len;
    g_autofree pid_t *pids = g_new0(pid_t, n);
    int go[2], out[2];
    gint64 start;
    FILE *in;
    char line[RECORD_MAX + 64];

    if (pipe(go) < 0 || pipe(out) < 0)
        g_error("pipe: %s", g_strerror(errno));
    for (guint i = 0; i < n; i++) {
        pids[i] = fork();
        if (pids[i] < 0)
            g_error("fork: %s", g_strerror(errno));
        if (pids[i] == 0) {
            close(go[1]);
            close(out[0]);
            run_child(plan, i, prepare, go[0], out[1]);
            g_free(pids); /* _exit skips the cleanups: for valgrind's sake */
            _exit(0);
        }
    }
    close(go[0]);
    close(out[1]);
    start = g_get_monotonic_time();
    close(go[1]); /* go */
    for (guint i = 0; i < n; i++) {
        int status;
        if (waitpid(pids[i], &status, 0) != pids[i] || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
            g_error("child %u did not finish cleanly (status 0x%x)", i, status);
    }
    start = g_get_monotonic_time() - start;
    for (guint i = 0; i < n; i++)
        outcomes[i] = (Outcome){ FALSE, -1, 0, g_strdup("no result") };
    in = fdopen(out[0], "r");
    while (fgets(line, sizeof(line), in)) {
        guint i;
        int ok, used = 0;
        gint64 wait, call;
        if (sscanf(line, "%u %d %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " %n", &i, &ok, &wait,
                   &call, &used) < 4 || i >= n)
            continue;
        g_free(outcomes[i].message);
        outcomes[i] = (Outcome){ ok, wait, call, g_strchomp(g_strdup(line + used)) };
    }
    fclose(in);
    return start;
}

/* ---- checks ------------------------------------------------------------- */

typedef struct {
    guint rounds;
    guint prepares, prepared, refused, releases;
    guint double_allocations, lost_leases, orphans, unexpected;
    GArray *prepare_ms, *release_ms; /* per round */
    GArray *lock_wait_ms;            /* per prepare */
    GString *problems;               /* the first few, for the log */
} Tally;

static void G_GNUC_PRINTF(3, 4)
problem(Tally *tally, guint *counter, const char *format, ...)
{
    va_list args;

    (*counter)++;
    if (tally->problems->len > 4000)
        return;
    va_start(args, format);
    g_string_append_vprintf(tally->problems, format, args);
    va_end(args);
    g_string_append_c(tally->problems, '\n');
}

static guint
vf_type(const Plan *plan, const char *vf)
{
    g_autoptr(VhSysfs) sysfs = vh_sysfs_new(plan->config->sysfs_root);
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
    gint64 value = -1;

    vh_sysfs_read_int(sysfs, rel, &value, NULL);
    return (guint)value;
}

static GHashTable *
active_leases(const Plan *plan)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VhLeaseStore) store = vh_lease_store_open(plan->config, &error);
    g_autoptr(GPtrArray) leases = store ? vh_lease_store_load(store, NULL, &error) : NULL;
    GHashTable *active = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                               (GDestroyNotify)vh_lease_free);
    g_autofree VhLease **all = NULL;
    gsize n = 0;

    if (leases == NULL)
        g_error("cannot read the lease store: %s", error->message);
    all = (VhLease **)g_ptr_array_steal(leases, &n);
    for (gsize i = 0; i < n; i++) {
        if (all[i]->state == VH_LEASE_ACTIVE)
            g_hash_table_insert(active, all[i]->key, all[i]);
        else
            vh_lease_free(all[i]);
    }
    return active;
}

static void
check_prepared(const Plan *plan, const Outcome *outcomes, Tally *tally, guint round)
{
    g_autoptr(GHashTable) active = active_leases(plan);
    g_autoptr(GHashTable) owner = g_hash_table_new(g_str_hash, g_str_equal); /* VF -> Target */
    guint ngpus = plan->catalog->gpus->len;
    g_autofree guint *gb = g_new0(guint, ngpus);
    g_autofree guint *size = g_new0(guint, ngpus);
    guint ok = 0;

    for (guint i = 0; i < plan->targets->len; i++) {
        const Target *t = g_ptr_array_index(plan->targets, i);
        const Target *other = g_hash_table_lookup(owner, t->vf);
        const VhLease *lease = g_hash_table_lookup(active, t->vf);
        tally->prepares++;
        if (outcomes[i].lock_wait_us >= 0) {
            double ms = outcomes[i].lock_wait_us / 1000.0;
            g_array_append_val(tally->lock_wait_ms, ms);
        }
        if (!outcomes[i].ok) {
            tally->refused++;
            if (!strstr(outcomes[i].message, "in use by running domain") &&
                !strstr(outcomes[i].message, "cannot take"))
                problem(tally, &tally->unexpected, "round %u: %s refused: %s", round, t->name,
                        outcomes[i].message);
            if (lease && g_strcmp0(lease->uuid, t->uuid) == 0)
                problem(tally, &tally->orphans, "round %u: %s failed but holds the lease of %s",
                        round, t->name, t->vf);
            continue;
        }
        ok++;
        tally->prepared++;
        if (other)
            problem(tally, &tally->double_allocations, "round %u: %s and %s both prepared %s",
                    round, other->name, t->name, t->vf);
        g_hash_table_insert(owner, (gpointer)t->vf, (gpointer)t);
        if (lease == NULL || g_strcmp0(lease->uuid, t->uuid) != 0 || !lease->profile_written ||
            vf_type(plan, t->vf) != t->type_id)
            problem(tally, &tally->lost_leases,
                    "round %u: %s prepared %s but %s (VF holds type %u, wants %u)", round, t->name,
                    t->vf, lease ? "the active lease is another's or has no profile" : "has no active lease",
                    vf_type(plan, t->vf), t->type_id);
    }
    if (ok != plan->expected_ok)
        problem(tally, &tally->unexpected, "round %u: %u prepares succeeded, %u fit", round, ok,
                plan->expected_ok);
    /* what the GPUs hold, whoever set it */
    for (guint g = 0; g < ngpus; g++) {
        const VhVgpuGpu *gpu = g_ptr_array_index(plan->catalog->gpus, g);
        for (guint v = 0; v < gpu->vfs->len; v++) {
            const VhPciDevice *vf = g_ptr_array_index(gpu->vfs, v);
            guint type = vf_type(plan, vf->address);
            const VhVgpuType *t = type ? vh_vgpu_types_find_id(gpu->types, type) : NULL;
            guint held = t ? vh_vgpu_profile_framebuffer_gb(vh_vgpu_type_profile(t->name)) : 0;
            if (type == 0)
                continue;
            if (!g_hash_table_contains(active, vf->address))
                problem(tally, &tally->orphans, "round %u: VF %s holds type %u without a lease",
                        round, vf->address, type);
            if (size[g] && held != size[g])
                problem(tally, &tally->double_allocations,
                        "round %u: GPU %s holds two profile sizes (%u and %u GB)", round,
                        gpu->pf->address, size[g], held);
            size[g] = held;
            gb[g] += held;
        }
        if (gpu->framebuffer_gb && gb[g] > gpu->framebuffer_gb)
            problem(tally, &tally->double_allocations, "round %u: GPU %s holds %u of %u GB", round,
                    gpu->pf->address, gb[g], gpu->framebuffer_gb);
    }
}

static void
check_released(const Plan *plan, const Outcome *outcomes, Tally *tally, guint round)
{
    g_autoptr(GHashTable) active = active_leases(plan);
    GHashTableIter iter;
    gpointer key;

    for (guint i = 0; i < plan->targets->len; i++) {
        tally->releases++;
        if (!outcomes[i].ok)
            problem(tally, &tally->unexpected, "round %u: release of %s failed: %s", round,
                    ((const Target *)g_ptr_array_index(plan->targets, i))->name, outcomes[i].message);
    }
    g_hash_table_iter_init(&iter, active);
    while (g_hash_table_iter_next(&iter, &key, NULL))
        problem(tally, &tally->orphans, "round %u: lease of %s still active after release", round,
                (const char *)key);
    for (guint g = 0; g < plan->catalog->gpus->len; g++) {
        const VhVgpuGpu *gpu = g_ptr_array_index(plan->catalog->gpus, g);
        for (guint v = 0; v < gpu->vfs->len; v++) {
            const VhPciDevice *vf = g_ptr_array_index(gpu->vfs, v);
            guint type = vf_type(plan, vf->address);
            if (type != 0)
                problem(tally, &tally->orphans, "round %u: VF %s still holds type %u after release",
                        round, vf->address, type);
        }
    }
}

/* ---- report --------------------------------------------------------------- */

static gint
compare_double(gconstpointer a, gconstpointer b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void
print_stats(const char *key, GArray *values)
{
    double sum = 0;

    g_array_sort(values, compare_double);
    for (guint i = 0; i < values->len; i++)
        sum += g_array_index(values, double, i);
    if (values->len == 0) {
        printf("%s_mean=0\n%s_median=0\n%s_p99=0\n%s_max=0\n", key, key, key, key);
        return;
    }
    printf("%s_mean=%.1f\n%s_median=%.1f\n%s_p99=%.1f\n%s_max=%.1f\n", key, sum / values->len, key,
           g_array_index(values, double, values->len / 2), key,
           g_array_index(values, double, MIN(values->len - 1, values->len * 99 / 100)), key,
           g_array_index(values, double, values->len - 1));
}

/* libvgpuhook's own messages ("taking over ... reservation") are expected
 * here by the thousand; warnings and errors still go to stderr. */
static void
quiet_messages(const gchar *domain, GLogLevelFlags level, const gchar *message, gpointer data)
{
    if (level & (G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG))
        return;
    g_log_default_handler(domain, level, message, data);
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    Plan plan = { 0 };
    Tally tally = { 0 };
    guint rounds = argc > 2 ? (guint)g_ascii_strtoull(argv[2], NULL, 10) : 100;
    guint procs = argc > 3 ? (guint)g_ascii_strtoull(argv[3], NULL, 10) : 64;
    g_autofree Outcome *outcomes = NULL;
    gint64 start;

    if (argc < 2 || argc > 4 || rounds == 0 || procs == 0) {
        g_printerr("usage: vh-concurrency CONFIG [ROUNDS [PROCS]]\n");
        return 2;
    }
    g_log_set_default_handler(quiet_messages, NULL);
    if (!plan_build(&plan, argv[1], procs, &error)) {
        g_printerr("vh-concurrency: %s\n", error->message);
        plan_clear(&plan);
        return 2;
    }
    /* the simulated kernel's view: the configuration's tree and /dev */
    {
        g_autofree char *dev = g_path_get_dirname(plan.config->vfio_dir);
        g_setenv("VH_SIM_SYSFS_ROOT", plan.config->sysfs_root, TRUE);
        g_setenv("VH_SIM_DEV_DIR", dev, TRUE);
        test_sim_preload(argv, "vh-concurrency");
        lease_lock_path = g_build_filename(plan.config->state_dir, "lock", NULL);
        break_lock = g_strcmp0(g_getenv("VH_CONCURRENCY_BREAK_LOCK"), "1") == 0;
    }
    outcomes = g_new0(Outcome, procs);
    tally.prepare_ms = g_array_new(FALSE, FALSE, sizeof(double));
    tally.release_ms = g_array_new(FALSE, FALSE, sizeof(double));
    tally.lock_wait_ms = g_array_new(FALSE, FALSE, sizeof(double));
    tally.problems = g_string_new(NULL);
    start = g_get_monotonic_time();
    for (guint r = 1; r <= rounds; r++) {
        double ms = run_phase(&plan, TRUE, outcomes) / 1000.0;
        g_array_append_val(tally.prepare_ms, ms);
        check_prepared(&plan, outcomes, &tally, r);
        for (guint i = 0; i < procs; i++)
            g_free(outcomes[i].message);
        ms = run_phase(&plan, FALSE, outcomes) / 1000.0;
        g_array_append_val(tally.release_ms, ms);
        check_released(&plan, outcomes, &tally, r);
        for (guint i = 0; i < procs; i++)
            g_free(outcomes[i].message);
        tally.rounds++;
    }
    printf("rounds=%u\nprocs=%u\ngpus=%u\nexpected_ok_per_round=%u\n", tally.rounds, procs,
           plan.catalog->gpus->len, plan.expected_ok);
    printf("prepares=%u\nprepared=%u\nrefused=%u\nreleases=%u\n", tally.prepares, tally.prepared,
           tally.refused, tally.releases);
    printf("double_allocations=%u\nlost_leases=%u\norphans=%u\nunexpected=%u\n",
           tally.double_allocations, tally.lost_leases, tally.orphans, tally.unexpected);
    printf("total_s=%.1f\n", (g_get_monotonic_time() - start) / 1e6);
    print_stats("prepare_round_ms", tally.prepare_ms);
    print_stats("release_round_ms", tally.release_ms);
    print_stats("lock_wait_ms", tally.lock_wait_ms);
    if (tally.problems->len)
        g_printerr("vh-concurrency: problems (first ones):\n%s", tally.problems->str);
    {
        gboolean failed = tally.double_allocations || tally.lost_leases || tally.orphans ||
                          tally.unexpected;
        g_array_unref(tally.prepare_ms);
        g_array_unref(tally.release_ms);
        g_array_unref(tally.lock_wait_ms);
        g_string_free(tally.problems, TRUE);
        g_free(lease_lock_path);
        plan_clear(&plan);
        return failed ? 1 : 0;
    }
}

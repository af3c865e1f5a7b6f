/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-metrics: the hook outcome counters of vh-metrics.
 *
 * Counting must lose nothing when several hooks count at once (forked
 * processes here), restart from zero on a damaged or missing file (and say
 * so), and fail softly, quickly, when the state directory cannot be written
 * or the lock is held. */
#include "test-common.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static VhMetrics *
load_ok(const char *dir)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *warning = NULL;
    VhMetrics *m = vh_metrics_load(dir, &warning, &error);

    assert_no_error(error);
    assert_non_null(m);
    if (warning)
        fail_msg("unexpected warning: %s", warning);
    return m;
}

static void
test_missing_file_is_zero(void **state)
{
    g_autofree char *dir = test_tmpdir_new();
    g_autofree VhMetrics *m = load_ok(dir);

    assert_int_equal(m->prepared, 0);
    assert_int_equal(m->released, 0);
    assert_int_equal(m->undo_failed, 0);
    assert_int_equal(m->resets, 0);
    assert_int_equal(m->apply_last_run, 0);
    for (guint r = 0; r < VH_REFUSAL_N; r++)
        assert_int_equal(m->refused[r], 0);
    test_rm_rf(dir);
}

static void
test_refusal_reasons(void **state)
{
    static const struct {
        gint code;
        VhRefusal reason;
        const char *label;
    } table[] = {
        { VH_ERROR_FAILED, VH_REFUSAL_OTHER, "other" },
        { VH_ERROR_INVALID, VH_REFUSAL_INVALID, "invalid" },
        { VH_ERROR_NOT_FOUND, VH_REFUSAL_NOT_FOUND, "not_found" },
        { VH_ERROR_IO, VH_REFUSAL_IO, "io" },
        { VH_ERROR_BUSY, VH_REFUSAL_BUSY, "busy" },
        { VH_ERROR_UNSUPPORTED, VH_REFUSAL_UNSUPPORTED, "unsupported" },
        { VH_ERROR_CONFIG, VH_REFUSAL_CONFIG, "config" },
        { VH_ERROR_DENIED, VH_REFUSAL_DENIED, "denied" },
        { VH_ERROR_TIMEOUT, VH_REFUSAL_TIMEOUT, "timeout" },
        { VH_ERROR_NO_CAPACITY, VH_REFUSAL_NO_CAPACITY, "no_capacity" },
    };
    g_autoptr(GError) foreign = g_error_new(G_FILE_ERROR, G_FILE_ERROR_NOENT, "x");
    g_autoptr(GError) unknown = g_error_new(VH_ERROR, 99, "x");

    G_STATIC_ASSERT(G_N_ELEMENTS(table) == VH_REFUSAL_N);
    for (guint i = 0; i < G_N_ELEMENTS(table); i++) {
        g_autoptr(GError) e = g_error_new(VH_ERROR, table[i].code, "x");
        assert_int_equal(vh_refusal_from_error(e), table[i].reason);
        assert_string_equal(vh_refusal_to_string(table[i].reason), table[i].label);
    }
    assert_int_equal(vh_refusal_from_error(foreign), VH_REFUSAL_OTHER);
    assert_int_equal(vh_refusal_from_error(unknown), VH_REFUSAL_OTHER);
    assert_int_equal(vh_refusal_from_error(NULL), VH_REFUSAL_OTHER);
}

static void
test_counts_survive_reload(void **state)
{
    g_autofree char *dir = test_tmpdir_new();
    g_autoptr(GError) busy = g_error_new(VH_ERROR, VH_ERROR_BUSY, "held");
    g_autoptr(GError) bad = g_error_new(VH_ERROR, VH_ERROR_INVALID, "bad XML");
    g_autoptr(GError) error = NULL;
    g_autofree VhMetrics *m = NULL;
    gint64 before = g_get_real_time() / G_USEC_PER_SEC;

    assert_true(vh_metrics_count_prepared(dir, &error));
    assert_true(vh_metrics_count_prepared(dir, &error));
    assert_true(vh_metrics_count_refused(dir, busy, &error));
    assert_true(vh_metrics_count_refused(dir, busy, &error));
    assert_true(vh_metrics_count_refused(dir, bad, &error));
    assert_true(vh_metrics_count_released(dir, &error));
    assert_true(vh_metrics_count_undo_failed(dir, 1, &error));
    /* one operation's undo that left two devices changed counts both */
    assert_true(vh_metrics_count_undo_failed(dir, 2, &error));
    assert_true(vh_metrics_record_apply_profiles(dir, FALSE, &error));
    assert_no_error(error);
    m = load_ok(dir);
    assert_int_equal(m->prepared, 2);
    assert_int_equal(m->refused[VH_REFUSAL_BUSY], 2);
    assert_int_equal(m->refused[VH_REFUSAL_INVALID], 1);
    assert_int_equal(m->refused[VH_REFUSAL_OTHER], 0);
    assert_int_equal(m->released, 1);
    assert_int_equal(m->undo_failed, 3);
    assert_int_equal(m->resets, 0);
    assert_true(m->apply_last_run >= before && m->apply_last_run <= before + 60);
    assert_false(m->apply_last_success);
    assert_true(vh_metrics_record_apply_profiles(dir, TRUE, &error));
    g_free(m);
    m = load_ok(dir);
    assert_true(m->apply_last_success);
    assert_int_equal(m->prepared, 2); /* recording the run keeps the counters */
    test_rm_rf(dir);
}

/* Several hooks at once: each child counts @N times; none may be lost. */
static void
test_concurrent_increments(void **state)
{
    enum { CHILDREN = 6, N = 60 };
    g_autofree char *dir = NULL;
    g_autofree VhMetrics *m = NULL;
    pid_t pids[CHILDREN];

    if (g_getenv("VH_VALGRIND")) {
        /* valgrind turns a forked child's exit status into 1 (see Makefile.am) */
        print_message("skipped under valgrind: forks\n");
        skip();
    }
    dir = test_tmpdir_new();
    for (int c = 0; c < CHILDREN; c++) {
        pids[c] = fork();
        assert_true(pids[c] >= 0);
        if (pids[c] == 0) {
            int failures = 0;
            for (int i = 0; i < N; i++) {
                failures += !vh_metrics_count_prepared(dir, NULL);
                failures += !vh_metrics_count_released(dir, NULL);
            }
            _exit(failures == 0 ? 0 : 1);
        }
    }
    for (int c = 0; c < CHILDREN; c++) {
        int status = 0;
        assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    m = load_ok(dir);
    assert_int_equal(m->prepared, CHILDREN * N);
    assert_int_equal(m->released, CHILDREN * N);
    test_rm_rf(dir);
}

/* A damaged file: counting goes on from zero, the file is kept aside,
 * `resets` says so, and reading reports and resets it. */
static void
check_damaged(const char *contents)
{
    g_autofree char *dir = test_tmpdir_new();
    g_autofree char *path = g_build_filename(dir, "metrics", NULL);
    g_autofree char *aside = g_build_filename(dir, "metrics.damaged", NULL);
    g_autofree char *kept = NULL;
    g_autofree VhMetrics *m = NULL;
    g_autofree char *warning = NULL;
    g_autoptr(GError) error = NULL;

    /* the hook's path: count over it, saying so in the log (syslog) */
    test_write_file(path, contents);
    {
        g_autoptr(TestLogCapture) log = test_log_capture_start();
        g_autofree char *text = NULL;
        assert_true(vh_metrics_count_prepared(dir, &error));
        text = test_log_capture_text(log);
        assert_contains(text, "was damaged");
        assert_contains(text, "kept as");
    }
    assert_no_error(error);
    assert_true(g_file_get_contents(aside, &kept, NULL, NULL));
    assert_string_equal(kept, contents);
    m = load_ok(dir);
    assert_int_equal(m->prepared, 1);
    assert_int_equal(m->resets, 1);
    g_clear_pointer(&m, g_free);

    /* vgpuctl metrics' path: read it */
    test_write_file(path, contents);
    m = vh_metrics_load(dir, &warning, &error);
    assert_no_error(error);
    assert_non_null(m);
    assert_contains(warning, "damaged");
    assert_contains(warning, path);
    assert_contains(warning, "restarts from zero");
    assert_int_equal(m->prepared, 0);
    assert_int_equal(m->resets, 1);
    g_clear_pointer(&m, g_free);
    m = load_ok(dir); /* reset: no warning the second time */
    assert_int_equal(m->resets, 1);
    test_rm_rf(dir);
}

static void
test_damaged_file(void **state)
{
    g_autofree char *huge = g_strnfill(70 * 1024, '#');

    check_damaged("this is not a key file\n\x01\x02");
    check_damaged("");
    check_damaged("[counters]\nprepared=many\n");
    check_damaged("[counters]\nprepared=-1\n");
    check_damaged("[counters]\nprepared=99999999999999999999999\n");
    check_damaged("[other]\nprepared=1\n");
    check_damaged("[counters]\nprepared=1\n[apply-profiles]\nlast_run=yesterday\n");
    check_damaged(huge);
}

/* Keys of a later version are ignored, missing ones are zero. */
static void
test_unknown_and_missing_keys(void **state)
{
    g_autofree char *dir = test_tmpdir_new();
    g_autofree char *path = g_build_filename(dir, "metrics", NULL);
    g_autofree VhMetrics *m = NULL;

    test_write_file(path, "[counters]\nprepared=7\nfuture_counter=3\n[future]\nx=y\n");
    m = load_ok(dir);
    assert_int_equal(m->prepared, 7);
    assert_int_equal(m->released, 0);
    assert_int_equal(m->resets, 0);
    test_rm_rf(dir);
}

/* The caller goes on: FALSE with an error, quickly, never an abort. */
static void
test_unwritable_state(void **state)
{
    g_autofree char *dir = test_tmpdir_new();
    g_autofree char *missing = g_build_filename(dir, "no", "such", "dir", NULL);
    g_autofree char *path = g_build_filename(dir, "metrics", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(GError) why = g_error_new(VH_ERROR, VH_ERROR_BUSY, "x");

    assert_false(vh_metrics_count_prepared(missing, &error));
    assert_vh_error(error, VH_ERROR_IO, "metrics.lock");
    assert_false(vh_metrics_count_refused(missing, why, NULL)); /* NULL error is fine */
    assert_false(vh_metrics_record_apply_profiles(missing, TRUE, NULL));

    /* the file cannot be replaced: a directory stands in its place */
    assert_int_equal(g_mkdir(path, 0700), 0);
    g_clear_error(&error);
    assert_false(vh_metrics_count_prepared(dir, &error));
    assert_non_null(error);
    assert_int_equal(error->code, VH_ERROR_IO);
    test_rm_rf(dir);
}

/* A process stuck while holding the lock delays a count by a bounded time. */
/* Counting waits for the lock (VH_LOCK_TIMEOUT_MS, shared with the lease
 * store, whose tests cover the timeout itself) instead of failing while
 * another process updates the counters. */
static void
test_lock_held(void **state)
{
    g_autofree char *dir = test_tmpdir_new();
    g_autofree char *lock = g_build_filename(dir, "metrics.lock", NULL);
    g_autoptr(GError) error = NULL;
    g_autofree VhMetrics *m = NULL;
    gint64 start;
    int status = 0;
    int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    pid_t holder;

    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX), 0);
    start = g_get_monotonic_time();
    holder = fork();
    assert_true(holder >= 0);
    if (holder == 0) {
        /* the child's copy of the descriptor shares the lock; closing
         * both releases it */
        g_usleep(300 * 1000);
        _exit(0);
    }
    close(fd);
    assert_true(vh_metrics_count_prepared(dir, &error));
    assert_no_error(error);
    assert_true(g_get_monotonic_time() - start >= 250 * 1000);
    assert_int_equal(waitpid(holder, &status, 0), holder);
    m = load_ok(dir);
    assert_int_equal(m->prepared, 1);
    test_rm_rf(dir);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_file_is_zero),
        cmocka_unit_test(test_refusal_reasons),
        cmocka_unit_test(test_counts_survive_reload),
        cmocka_unit_test(test_concurrent_increments),
        cmocka_unit_test(test_damaged_file),
        cmocka_unit_test(test_unknown_and_missing_keys),
        cmocka_unit_test(test_unwritable_state),
        cmocka_unit_test(test_lock_held),
    };

    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

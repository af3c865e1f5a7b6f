/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-pci-names: database lookups through libpci and the names cache.
 *
 * The names cache: the same answers as libpci's, cold and warm, with and
 * without hwdb; a changed pci.ids or a damaged cache is not trusted. */
#include "test-common.h"

#include <sys/stat.h>
#include <unistd.h>

static void
test_lookup(void **state)
{
    g_autoptr(TestEnv) env = test_env_new_empty();
    g_autoptr(VhPciNames) names = vh_pci_names_new(env->pci_ids, FALSE);
    g_autofree char *a10 = vh_pci_names_device(names, 0x10de, 0x2236);
    g_autofree char *h100 = vh_pci_names_device(names, 0x10de, 0x2330);
    g_autofree char *l40s = vh_pci_names_device(names, 0x10de, 0x26b9);
    g_autofree char *wrong_vendor = vh_pci_names_device(names, 0x8086, 0x2236);
    g_autofree char *nvidia = vh_pci_names_vendor(names, 0x10de);
    g_autofree char *matrox = vh_pci_names_vendor(names, 0x102b);
    g_autofree char *unknown_vendor = vh_pci_names_vendor(names, 0x1234);

    assert_string_equal(a10, "GA102GL [A10]");
    assert_string_equal(h100, "GH100[H100 SXM5 80GB]");
    /* Not in the test database, and the hwdb is off: no name, no number. */
    assert_null(l40s);
    assert_null(wrong_vendor);
    assert_string_equal(nvidia, "NVIDIA Corporation");
    assert_string_equal(matrox, "Matrox Electronics Systems Ltd.");
    assert_null(unknown_vendor);
}

/* A database path that does not exist names nothing (and does not abort). */
static void
test_missing_database(void **state)
{
    g_autoptr(TestEnv) env = test_env_new_empty();
    g_autofree char *missing = g_build_filename(env->dir, "no-such-pci.ids", NULL);
    g_autoptr(VhPciNames) names = vh_pci_names_new(missing, FALSE);
    g_autofree char *a10 = vh_pci_names_device(names, 0x10de, 0x2236);

    assert_null(a10);
}

/* A damaged database is a warning, not a crash: the hook must still run. */
static void
test_damaged_database(void **state)
{
    g_autoptr(TestEnv) env = test_env_new_empty();
    g_autofree char *damaged = g_build_filename(env->dir, "damaged.ids", NULL);
    g_autoptr(TestLogCapture) capture = NULL;
    g_autoptr(VhPciNames) names = NULL;
    g_autofree char *a10 = NULL;
    g_autofree char *log = NULL;

    test_write_file(damaged, "10de  NVIDIA Corporation\n"
                             "\t2236  GA102GL [A10]\n"
                             "this line is not pci.ids syntax\n");
    capture = test_log_capture_start();
    names = vh_pci_names_new(damaged, FALSE);
    a10 = vh_pci_names_device(names, 0x10de, 0x2236);
    log = test_log_capture_text(capture);
    assert_contains(log, "damaged.ids");
    assert_string_equal(a10, "GA102GL [A10]");
}

/* ---- the names cache ---------------------------------------------------- */

static const struct {
    guint vendor, device; /* device 0xffffffff: a vendor lookup */
} cache_ids[] = {
    { 0x10de, 0x2236 }, { 0x10de, 0x1eb8 }, { 0x10de, 0x20b5 }, { 0x10de, 0x2330 },
    { 0x10de, 0x25b6 }, { 0x10de, 0x26b9 }, { 0x10de, 0x00ab }, { 0x8086, 0x2236 },
    { 0x10de, 0xffffffff }, { 0x102b, 0xffffffff }, { 0x1234, 0xffffffff },
};

/* Every id of cache_ids through @names, "-" for none, one per line. */
static char *
cache_answers(VhPciNames *names)
{
    GString *out = g_string_new(NULL);

    for (guint i = 0; i < G_N_ELEMENTS(cache_ids); i++) {
        g_autofree char *name =
            cache_ids[i].device == 0xffffffff
                ? vh_pci_names_vendor(names, cache_ids[i].vendor)
                : vh_pci_names_device(names, cache_ids[i].vendor, cache_ids[i].device);
        g_string_append_printf(out, "%s\n", name ? name : "-");
    }
    return g_string_free(out, FALSE);
}

/* libpci's own answers (no cache), for the database as it is now. */
static char *
libpci_answers(const char *pci_ids, gboolean use_hwdb)
{
    g_autoptr(VhPciNames) names = vh_pci_names_new(pci_ids, use_hwdb);

    return cache_answers(names);
}

/* Answers through the cache at @cache; *@used: whether libpci was asked. */
static char *
cached_answers(const char *pci_ids, gboolean use_hwdb, const char *cache, gboolean *used)
{
    g_autoptr(VhPciNames) names = vh_pci_names_new(pci_ids, use_hwdb);
    char *answers;

    vh_pci_names_set_cache(names, cache);
    answers = cache_answers(names);
    *used = vh_pci_names_used_database(names);
    return answers;
}

/* Cold, then warm: the same names as libpci's, the second time without it;
 * with udev's hwdb too (its names differ from pci.ids' for some ids). */
static void
test_cache_names_are_libpci_names(void **state)
{
    g_autoptr(TestEnv) env = test_env_new_empty();

    for (int hwdb = 0; hwdb <= 1; hwdb++) {
        g_autofree char *cache = g_strdup_printf("%s/names-%d.cache", env->dir, hwdb);
        g_autofree char *expected = libpci_answers(env->pci_ids, hwdb);
        g_autofree char *cold = NULL;
        g_autofree char *warm = NULL;
        gboolean used = FALSE;

        cold = cached_answers(env->pci_ids, hwdb, cache, &used);
        assert_string_equal(cold, expected);
        assert_true(used);
        assert_true(g_file_test(cache, G_FILE_TEST_IS_REGULAR));
        warm = cached_answers(env->pci_ids, hwdb, cache, &used);
        assert_string_equal(warm, expected);
        assert_false(used); /* every answer came from the cache */
    }
}

/* A changed pci.ids (new content, new size and mtime) invalidates the cache. */
static void
test_cache_follows_changed_database(void **state)
{
    g_autoptr(TestEnv) env = test_env_new_empty();
    g_autofree char *cache = g_build_filename(env->dir, "names.cache", NULL);
    g_autofree char *ids = NULL;
    g_autofree char *changed = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *answers = NULL;
    gboolean used = FALSE;

    g_free(cached_answers(env->pci_ids, FALSE, cache, &used));
    assert_true(g_file_get_contents(env->pci_ids, &ids, NULL, NULL));
    assert_non_null(strstr(ids, "GA102GL [A10]"));
    {
        GString *text = g_string_new(ids);
        g_string_replace(text, "GA102GL [A10]", "GA102GL [A10, renamed]", 0);
        changed = g_string_free(text, FALSE);
    }
    test_write_file(env->pci_ids, changed);
    expected = libpci_answers(env->pci_ids, FALSE);
    assert_contains(expected, "GA102GL [A10, renamed]");
    answers = cached_answers(env->pci_ids, FALSE, cache, &used);
    assert_true(used);
    assert_string_equal(answers, expected);
    /* and the rewritten cache holds the new name */
    g_free(answers);
    answers = cached_answers(env->pci_ids, FALSE, cache, &used);
    assert_false(used);
    assert_string_equal(answers, expected);
}

/* A cache that is damaged in any way is not trusted, and is rewritten. */
static void
test_cache_damaged_is_ignored(void **state)
{
    g_autoptr(TestEnv) env = test_env_new_empty();
    g_autofree char *cache = g_build_filename(env->dir, "names.cache", NULL);
    g_autofree char *expected = libpci_answers(env->pci_ids, FALSE);
    g_autofree char *good = NULL;
    gboolean used = FALSE;
    const char *damage[] = { "flip", "truncate", "empty", "garbage", "check-only", "fifo" };

    g_free(cached_answers(env->pci_ids, FALSE, cache, &used));
    assert_true(g_file_get_contents(cache, &good, NULL, NULL));
    assert_non_null(strstr(good, "GA102GL [A10]"));
    for (guint i = 0; i < G_N_ELEMENTS(damage); i++) {
        g_autofree char *answers = NULL;
        g_autofree char *bad = g_strdup(good);

        unlink(cache);
        if (strcmp(damage[i], "flip") == 0) {
            *strstr(bad, "GA102GL [A10]") = 'X'; /* a name edited, checksum kept */
            test_write_file(cache, bad);
        } else if (strcmp(damage[i], "truncate") == 0) {
            bad[strlen(bad) - 20] = '\0';
            test_write_file(cache, bad);
        } else if (strcmp(damage[i], "empty") == 0) {
            test_write_file(cache, "");
        } else if (strcmp(damage[i], "garbage") == 0) {
            test_write_file(cache, "\x01\x02 not a cache\n[check]\nsha256=00\n");
        } else if (strcmp(damage[i], "check-only") == 0) {
            test_write_file(cache, strstr(good, "[check]"));
        } else {
            assert_int_equal(mkfifo(cache, 0600), 0); /* must not block */
        }
        answers = cached_answers(env->pci_ids, FALSE, cache, &used);
        if (strcmp(answers, expected) != 0 || !used)
            fail_msg("damage '%s': answers from the cache (%d) or wrong:\n%s", damage[i], !used,
                     answers);
        /* rewritten: the next run trusts it again */
        g_free(answers);
        answers = cached_answers(env->pci_ids, FALSE, cache, &used);
        assert_string_equal(answers, expected);
        assert_false(used);
    }
}

/* A cache that cannot be written (no such directory) costs only time. */
static void
test_cache_unwritable(void **state)
{
    g_autoptr(TestEnv) env = test_env_new_empty();
    g_autofree char *cache = g_build_filename(env->dir, "no-such-dir", "names.cache", NULL);
    g_autofree char *expected = libpci_answers(env->pci_ids, FALSE);
    g_autofree char *answers = NULL;
    gboolean used = FALSE;

    answers = cached_answers(env->pci_ids, FALSE, cache, &used);
    assert_string_equal(answers, expected);
    assert_false(g_file_test(cache, G_FILE_TEST_EXISTS));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_missing_database),
        cmocka_unit_test(test_damaged_database),
        cmocka_unit_test(test_cache_names_are_libpci_names),
        cmocka_unit_test(test_cache_follows_changed_database),
        cmocka_unit_test(test_cache_damaged_is_ignored),
        cmocka_unit_test(test_cache_unwritable),
    };

    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-common: shared helpers for the cmocka unit tests.
 *
 * Every test runs the real library code against a fake sysfs tree that it
 * builds in a private temporary directory from an inline description (see
 * fake-host.h), with a configuration that points sysfs_root and state_dir into
 * that directory and names devices from a tiny pci.ids written next to it
 * (use_hwdb=false), so results never depend on the machine's /sys or on its
 * PCI IDs database. A TestEnv owns all of it and removes the directory when
 * freed (g_autoptr). */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "fake-host.h"
#include "vgpuhook.h"

/* ---- assertions ------------------------------------------------------ */

/* @haystack contains @needle; both are shown on failure. */
#define assert_contains(haystack, needle)                                           \
    do {                                                                            \
        const char *h_ = (haystack);                                                \
        const char *n_ = (needle);                                                  \
        if (h_ == NULL || strstr(h_, n_) == NULL)                                   \
            fail_msg("expected \"%s\" to contain \"%s\"", h_ ? h_ : "(null)", n_);  \
    } while (0)

#define assert_not_contains(haystack, needle)                                       \
    do {                                                                            \
        const char *h_ = (haystack);                                                \
        const char *n_ = (needle);                                                  \
        if (h_ != NULL && strstr(h_, n_) != NULL)                                   \
            fail_msg("expected \"%s\" not to contain \"%s\"", h_, n_);              \
    } while (0)

/* @err is a VH_ERROR with @code whose message contains @needle. */
#define assert_vh_error(err_, code_, needle_)                                       \
    do {                                                                            \
        const GError *e_ = (err_);                                                  \
        if (e_ == NULL)                                                             \
            fail_msg("expected an error containing \"%s\", got none", (needle_));   \
        if (e_->domain != VH_ERROR || e_->code != (gint)(code_))                    \
            fail_msg("expected VH_ERROR code %d, got %s code %d: %s", (gint)(code_),\
                     g_quark_to_string(e_->domain), e_->code, e_->message);         \
        assert_contains(e_->message, (needle_));                                    \
    } while (0)

#define assert_no_error(err)                                                        \
    do {                                                                            \
        const GError *e_ = (err);                                                   \
        if (e_ != NULL)                                                             \
            fail_msg("unexpected error: %s", e_->message);                          \
    } while (0)

/* ---- temporary directories ------------------------------------------- */

/* Remove @path and everything under it without following symlinks (the fake
 * trees are full of links to directories). */
static inline void
test_rm_rf(const char *path)
{
    if (!g_file_test(path, G_FILE_TEST_IS_SYMLINK) && g_file_test(path, G_FILE_TEST_IS_DIR)) {
        GDir *dir = g_dir_open(path, 0, NULL);
        const char *name;

        while (dir && (name = g_dir_read_name(dir)) != NULL) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            test_rm_rf(child);
        }
        if (dir)
            g_dir_close(dir);
        g_rmdir(path);
        return;
    }
    g_unlink(path);
}

/* Every temporary directory made, for test_group_teardown(). */
static GPtrArray *test_tmpdirs;

static inline char *
test_tmpdir_new(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("vgpu-hook-test-XXXXXX", &error);

    assert_no_error(error);
    assert_non_null(dir);
    if (test_tmpdirs == NULL)
        test_tmpdirs = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(test_tmpdirs, g_strdup(dir));
    return dir;
}

/* Group teardown (cmocka_run_group_tests(tests, NULL, test_group_teardown)):
 * cmocka leaves a failing test by longjmp, skipping its g_autoptr cleanups,
 * so remove whatever temporary directory is still there. */
static inline int
test_group_teardown(void **state)
{
    for (guint i = 0; test_tmpdirs && i < test_tmpdirs->len; i++) {
        const char *dir = g_ptr_array_index(test_tmpdirs, i);
        if (g_file_test(dir, G_FILE_TEST_EXISTS))
            test_rm_rf(dir);
    }
    g_clear_pointer(&test_tmpdirs, g_ptr_array_unref);
    return 0;
}

static inline void
test_write_file(const char *path, const char *contents)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_path_get_dirname(path);

    assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
    g_file_set_contents(path, contents, -1, &error);
    assert_no_error(error);
}

/* A few NVIDIA entries in the format of /usr/share/misc/pci.ids. Like
 * Debian 12's file it has no L40S (26b9) and no H200 (2335): tests use them
 * for the fallback names. */
#define TEST_PCI_IDS                                                   \
    "#\tTest copy of a few entries of pci.ids (same format)\n"         \
    "#\tVersion: 2023.04.10\n"                                         \
    "\n"                                                               \
    "10de  NVIDIA Corporation\n"                                       \
    "\t1aef  GA102 High Definition Audio Controller\n"                 \
    "\t1eb8  TU104GL [Tesla T4]\n"                                     \
    "\t\t10de 12a2  T4 16GB\n"                                         \
    "\t20b5  GA100 [A100 PCIe 80GB]\n"                                 \
    "\t2236  GA102GL [A10]\n"                                          \
    "\t\t10de 1482  GA102GL [A10]\n"                                   \
    "\t2330  GH100[H100 SXM5 80GB]\n"                                  \
    "\t25b6  GA107GL [A2 / A16]\n"                                     \
    "\t26b5  AD102GL [L40]\n"                                          \
    "102b  Matrox Electronics Systems Ltd.\n"                          \
    "\t0536  Integrated Matrox G200eW3 Graphics Controller\n"          \
    "8086  Intel Corporation\n"                                        \
    "\t2020  Sky Lake-E DMI3 Registers\n"                              \
    "\ta182  C620 Series Chipset Family SATA Controller [AHCI mode]\n"

/* ---- the test environment -------------------------------------------- */

typedef struct {
    char *dir;          /* private temporary directory, removed at free */
    char *sysfs;        /* DIR/sys: the fake tree */
    char *state;        /* DIR/state */
    char *pci_ids;      /* DIR/pci.ids */
    char *config_path;  /* DIR/vgpu-hook.conf (named in config errors) */
    VhConfig *config;
    VhHost *host;
    VhCatalog *catalog;
} TestEnv;

static inline void
test_env_free(TestEnv *env)
{
    if (env == NULL)
        return;
    vh_catalog_free(env->catalog);
    vh_host_free(env->host);
    vh_config_free(env->config);
    if (env->dir)
        test_rm_rf(env->dir);
    g_free(env->dir);
    g_free(env->sysfs);
    g_free(env->state);
    g_free(env->pci_ids);
    g_free(env->config_path);
    g_free(env);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TestEnv, test_env_free)

/* A temporary directory with the test pci.ids and no tree yet. */
static inline TestEnv *
test_env_new_empty(void)
{
    TestEnv *env = g_new0(TestEnv, 1);

    env->dir = test_tmpdir_new();
    env->sysfs = g_build_filename(env->dir, "sys", NULL);
    env->state = g_build_filename(env->dir, "state", NULL);
    env->pci_ids = g_build_filename(env->dir, "pci.ids", NULL);
    env->config_path = g_build_filename(env->dir, "vgpu-hook.conf", NULL);
    test_write_file(env->pci_ids, TEST_PCI_IDS);
    return env;
}

/* Build the fake tree described by @host_ini (NULL: no tree at all). */
static inline void
test_env_build_host(TestEnv *env, const char *host_ini)
{
    g_autoptr(GError) error = NULL;

    if (host_ini == NULL)
        return;
    if (!fake_host_build_from_data(host_ini, env->sysfs, &error))
        fail_msg("fake host description rejected: %s", error->message);
}

/* The configuration text: [host] pointing into the environment, then
 * @extra (more [host] keys first, then any [resource] groups). */
static inline char *
test_env_config_text(const TestEnv *env, const char *extra)
{
    return g_strdup_printf("[host]\n"
                           "sysfs_root=%s\n"
                           "state_dir=%s\n"
                           "cache_dir=%s/cache\n"
                           "pci_ids=%s\n"
                           "use_hwdb=false\n"
                           "%s",
                           env->sysfs, env->state, env->dir, env->pci_ids, extra ? extra : "");
}

static inline void
test_env_load_config(TestEnv *env, const char *extra)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = test_env_config_text(env, extra);

    vh_config_free(env->config);
    env->config = vh_config_load_data(text, strlen(text), env->config_path, &error);
    if (env->config == NULL)
        fail_msg("configuration rejected: %s\n---\n%s---", error->message, text);
}

/* Tree, configuration and host; no scan yet. */
static inline TestEnv *
test_env_new(const char *host_ini, const char *config_extra)
{
    TestEnv *env = test_env_new_empty();

    test_env_build_host(env, host_ini);
    test_env_load_config(env, config_extra);
    env->host = vh_host_new(env->config);
    return env;
}

static inline void
test_env_scan(TestEnv *env)
{
    g_autoptr(GError) error = NULL;

    if (!vh_host_scan(env->host, &error))
        fail_msg("scan failed: %s", error->message);
}

/* A fresh host and catalog over the same tree (after the test changed it),
 * with @holders as the leases (may be NULL). */
static inline VhCatalog *
test_env_catalog(TestEnv *env, VhHolders *holders)
{
    g_autoptr(GError) error = NULL;

    g_clear_pointer(&env->catalog, vh_catalog_free);
    vh_host_free(env->host);
    env->host = vh_host_new(env->config);
    test_env_scan(env);
    env->catalog = vh_catalog_build(env->host, holders, &error);
    if (env->catalog == NULL)
        fail_msg("catalog failed: %s", error->message);
    return env->catalog;
}

/* What a writer (prepare, apply-profiles, setup) does before it writes a
 * type: remember each idle GPU's type table in the cache. */
static inline void
test_env_remember_types(TestEnv *env)
{
    VhCatalog *catalog = test_env_catalog(env, NULL);

    for (guint i = 0; i < catalog->gpus->len; i++)
        vh_vgpu_gpu_remember(g_ptr_array_index(catalog->gpus, i));
}

/* Overwrite a file of the fake tree: @rel is relative to the sysfs root. */
static inline void
test_env_write_sysfs(const TestEnv *env, const char *rel, const char *contents)
{
    g_autofree char *path = g_build_filename(env->sysfs, rel, NULL);

    test_write_file(path, contents);
}

/* ---- captured log messages ------------------------------------------- */

/* Warnings the library logs (skipped devices, ...) are collected instead of
 * printed, so tests can assert on them. */
typedef struct {
    GPtrArray *messages;
    guint handler;
} TestLogCapture;

static inline void
test_log_capture_handler(const char *domain, GLogLevelFlags level, const char *message,
                         gpointer data)
{
    TestLogCapture *capture = data;

    g_ptr_array_add(capture->messages, g_strdup(message));
}

static inline TestLogCapture *
test_log_capture_start(void)
{
    TestLogCapture *capture = g_new0(TestLogCapture, 1);

    capture->messages = g_ptr_array_new_with_free_func(g_free);
    capture->handler = g_log_set_handler(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE,
                                         test_log_capture_handler, capture);
    return capture;
}

static inline void
test_log_capture_free(TestLogCapture *capture)
{
    if (capture == NULL)
        return;
    g_log_remove_handler(G_LOG_DOMAIN, capture->handler);
    g_ptr_array_unref(capture->messages);
    g_free(capture);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(TestLogCapture, test_log_capture_free)

/* The captured messages joined by newlines, for assert_contains. */
static inline char *
test_log_capture_text(const TestLogCapture *capture)
{
    GString *text = g_string_new(NULL);

    for (guint i = 0; i < capture->messages->len; i++)
        g_string_append_printf(text, "%s\n", (const char *)g_ptr_array_index(capture->messages, i));
    return g_string_free(text, FALSE);
}

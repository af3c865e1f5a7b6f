/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-sim.h: run a test binary with the simulated kernel preloaded.
 *
 * Tests of code that writes sysfs need tests/libsimkernel.so in LD_PRELOAD
 * (see tests/sim-kernel.c). Rather than depend on how make runs them, such a
 * test calls test_sim_preload() first: when the shim is not loaded yet the
 * binary re-executes itself with it (after libasan in a sanitizer build,
 * which must come first). SIM_KERNEL_SO, the .so in the build tree, comes
 * from the test's CFLAGS; VH_SIM_KERNEL_SO overrides it. */
#pragma once

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dl_iterate_phdr */
#endif

#include <errno.h>
#include <glib.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TEST_SIM_SHIM_NAME "libsimkernel.so"
#define TEST_SIM_REEXEC_MARK "VH_TEST_SIM_REEXEC"

static int
test_sim_find_object(struct dl_phdr_info *info, size_t size, void *data)
{
    const char **name = data;

    (void)size;
    if (info->dlpi_name && strstr(info->dlpi_name, *name)) {
        *name = info->dlpi_name;
        return 1;
    }
    return 0;
}

/* The path of a loaded object whose name contains @part, or NULL. */
static inline const char *
test_sim_loaded_object(const char *part)
{
    const char *name = part;

    return dl_iterate_phdr(test_sim_find_object, &name) ? name : NULL;
}

static inline void
test_sim_reexec(char **argv, const char *test_name)
{
    const char *so = g_getenv("VH_SIM_KERNEL_SO");
    const char *old = g_getenv("LD_PRELOAD");
    g_autofree char *exe = g_file_read_link("/proc/self/exe", NULL);
    g_autofree char *preload = NULL;
    const char *first = "";

    if (so == NULL)
        so = SIM_KERNEL_SO;
    if (!g_file_test(so, G_FILE_TEST_EXISTS)) {
        g_printerr("%s: %s is missing: build tests/libsimkernel.la (make check builds it)\n",
                   test_name, so);
        exit(1);
    }
#if defined(__SANITIZE_ADDRESS__)
    first = test_sim_loaded_object("libasan.so");
    first = first ? first : "";
#endif
    preload = g_strjoin(" ", first, so, old ? old : "", NULL);
    g_setenv("LD_PRELOAD", g_strstrip(preload), TRUE);
    g_setenv(TEST_SIM_REEXEC_MARK, "1", TRUE);
    execv(exe ? exe : "/proc/self/exe", argv);
    g_printerr("%s: cannot re-execute %s: %s\n", test_name, exe, g_strerror(errno));
    exit(1);
}

/* Returns when the shim is loaded; re-executes or exits otherwise. */
static inline void
test_sim_preload(char **argv, const char *test_name)
{
    if (test_sim_loaded_object(TEST_SIM_SHIM_NAME) == NULL) {
        if (g_getenv(TEST_SIM_REEXEC_MARK)) {
            g_printerr("%s: LD_PRELOAD did not load %s\n", test_name, TEST_SIM_SHIM_NAME);
            exit(1);
        }
        test_sim_reexec(argv, test_name);
    }
    g_unsetenv(TEST_SIM_REEXEC_MARK);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-common.h: shared bits of the libFuzzer harnesses (see fuzz/README.md). */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* A broken invariant: say which, then abort so libFuzzer saves the input. */
#define FUZZ_CHECK(cond, ...)                                                   \
    do {                                                                        \
        if (!(cond)) {                                                          \
            fprintf(stderr, "fuzz invariant failed at %s:%d: %s: ", __FILE__,   \
                    __LINE__, #cond);                                           \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            abort();                                                            \
        }                                                                       \
    } while (0)

/* The input as a NUL-terminated string (an embedded NUL ends it early, as it
 * would for a file read into a C string). */
static inline char *
fuzz_text(const uint8_t *data, size_t size)
{
    return g_strndup((const char *)data, size);
}

/* VH_FUZZ_VERBOSE=1 when running a harness on single files: say why an
 * input was refused or what came out, to see whether it gets anywhere. */
static inline gboolean
fuzz_verbose(void)
{
    static int verbose = -1;

    if (verbose < 0)
        verbose = g_getenv("VH_FUZZ_VERBOSE") != NULL;
    return verbose;
}

static inline void
fuzz_report(const char *what, const GError *error)
{
    if (fuzz_verbose())
        fprintf(stderr, "%s: %s\n", what, error ? error->message : "accepted");
}

/* A g_critical() or g_warning() (a failed g_return_if_fail(), a GError set
 * twice) is a bug too: print it and abort(), which libFuzzer catches and
 * saves the input for (GLib's own fatal path raises SIGTRAP, which it does
 * not). */
static GLogWriterOutput
fuzz_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
    GLogWriterOutput out = g_log_writer_standard_streams(level, fields, n_fields, data);

    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
        fprintf(stderr, "fuzz: GLib warning or critical: aborting\n");
        abort();
    }
    return out;
}

static inline void
fuzz_init_glib(void)
{
    g_log_set_writer_func(fuzz_log_writer, NULL, NULL);
}

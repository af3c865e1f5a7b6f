/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpu-hook-worker: the part of the libvirt qemu hook that parses.
 *
 * The front end (hooks/vgpu-hook.c, the program libvirtd runs) reads argv
 * and the domain XML, exits 0 itself when there is certainly nothing to do,
 * and otherwise hands over. Here GLib is loaded, the configuration and the
 * XML parsed and the lifecycle run. Two things are built from this file:
 *
 *  - vgpu-hook-worker.so, a module the front end dlopen()s for prepare,
 *    release and reconnect and calls through vh_hook_worker_run() with the
 *    XML it already read: no second exec on the start path of every domain
 *    with a GPU (hooks/vgpu-hook.c says what one cost). It links the
 *    library's core without libxml2 and reads the XML with vh_domain_read()
 *    (GMarkup), so it loads no libxml2, ICU or libstdc++.
 *  - vgpu-hook-rewrite, a program with the whole library (libxml2): the
 *    front end execs it for migrate and restore, which print a rewritten
 *    document, and for --help, usage errors and options it does not know.
 *
 * It never calls the libvirt API (libvirtd is blocked on us), and it logs
 * each action to syslog with the domain name. On failure it prints one line
 * on stderr, which libvirt shows to the user of `virsh start`. */
#include "config.h"
#include "vgpuhook.h"
#include "hook-args.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#ifdef VH_HOOK_REWRITER
#define parse_domain vh_domain_parse
#else
#define parse_domain vh_domain_read
#endif

G_STATIC_ASSERT(VH_HOOK_XML_MAX == VH_DOMAIN_MAX_SIZE);

#ifdef VH_HOOK_REWRITER
static char *
read_stdin(gsize *len, GError **error)
{
    GString *buf = g_string_new(NULL);
    char chunk[65536];
    size_t n;

    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
        g_string_append_len(buf, chunk, (gssize)n);
        if (buf->len > VH_DOMAIN_MAX_SIZE) {
            g_string_free(buf, TRUE);
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                        "domain XML on stdin is larger than %d bytes", VH_DOMAIN_MAX_SIZE);
            return NULL;
        }
    }
    *len = buf->len;
    return g_string_free(buf, FALSE);
}
#endif

/* Warnings for stderr, held back until the hook knows it succeeded: a
 * refusal is one line (libvirt shows stderr as the reason), so the warnings
 * of a refused call go to syslog only. */
static GString *pending_warnings;

/* GLib messages from the library go to syslog, and warnings to stderr too
 * when the call succeeds (print_pending_warnings). */
static void
log_handler(const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
    int prio = (level & G_LOG_LEVEL_WARNING) ? LOG_WARNING : LOG_INFO;

    if (level & G_LOG_LEVEL_DEBUG) { /* the trace: vh-log routes it, never to stderr */
        g_log_default_handler(domain, level, message, data);
        return;
    }
    syslog(prio, "%s", message);
    if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL)) {
        if (pending_warnings == NULL)
            pending_warnings = g_string_new(NULL);
        g_string_append_printf(pending_warnings, "vgpu-hook: warning: %s\n", message);
    }
}

static void
print_pending_warnings(void)
{
    if (pending_warnings) {
        fputs(pending_warnings->str, stderr);
        g_string_free(g_steal_pointer(&pending_warnings), TRUE);
    }
}

/* libvirt shows the hook's stderr as the reason a start failed: one line of
 * valid UTF-8, whatever a message quotes (libxml2 adds "\nBytes: 0xFF ..."
 * to encoding errors, a file may hold raw bytes). */
static char *
one_line(const char *message)
{
    char *text = g_utf8_make_valid(message, -1);

    for (char *c = text; *c; c++) {
        if ((guchar)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    }
    return text;
}

static int
fail(const char *name, const char *op, GError *error)
{
    g_autofree char *message = one_line(error->message);

    syslog(LOG_ERR, "domain '%s': %s failed: %s", name, op, message);
    fprintf(stderr, "vgpu-hook: %s\n", message);
    return 1;
}


/* The module's only exported symbol (Makefile.am: -export-symbols-regex). */
#ifdef VH_HOOK_REWRITER
#define VH_HOOK_WORKER_EXPORT static
#else
#define VH_HOOK_WORKER_EXPORT
#endif

VH_HOOK_WORKER_EXPORT int vh_hook_worker_run(int argc, char **argv, const char *given_xml,
                                             size_t given_len);

VH_HOOK_WORKER_EXPORT int
vh_hook_worker_run(int argc, char **argv, const char *given_xml, size_t given_len)
{
    g_autofree char *config_path = NULL;
    GOptionEntry entries[] = {
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &config_path,
          "Configuration file (default " VH_DEFAULT_CONFIG ")", "FILE" },
        { NULL },
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("NAME OPERATION SUBOP EXTRA < DOMAIN-XML");
    g_autoptr(GError) error = NULL;
    g_autoptr(VhConfig) config = NULL;
    g_autoptr(VhDomain) domain = NULL;
    g_autofree char *read_xml = NULL;
    const char *name, *op, *xml = given_xml;
    gsize len = given_len;
    VhHookOp what;

    g_set_prgname("vgpu-hook"); /* the name libvirt runs, whatever exec used */
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "libvirt qemu hook of vgpu-hook: prepares named GPUs and "
                                      "vGPUs before a domain starts and releases them after.");
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "vgpu-hook: %s\n", error->message);
        return 2;
    }
    if (argc < 4) {
        fprintf(stderr, "vgpu-hook: usage: vgpu-hook [--config FILE] NAME OPERATION SUBOP [EXTRA]\n");
        return 2;
    }
    name = argv[1];
    op = argv[2];
    what = vh_hook_classify(op, argv[3]);
    if (what == VH_HOOK_IGNORE)
        return 0;
#ifndef VH_HOOK_REWRITER
    /* (the front end execs vgpu-hook-rewrite for these: a mismatched install) */
    if (what == VH_HOOK_REMAP) {
        fprintf(stderr, "vgpu-hook: %s: handled by vgpu-hook-rewrite, not the worker module "
                        "(reinstall vgpu-hook)\n", op);
        return 1;
    }
#endif
    openlog("vgpu-hook", LOG_PID, LOG_DAEMON);
    vh_log_init(0);
    g_log_set_default_handler(log_handler, NULL);
    g_debug("domain '%s': %s %s", name, op, argv[3]);
    config = vh_config_load_file(config_path ? config_path : VH_DEFAULT_CONFIG,
                                 config_path == NULL, &error);
#ifdef VH_HOOK_REWRITER
    if (config && xml == NULL)
        xml = read_xml = read_stdin(&len, &error);
#else
    if (config && xml == NULL)
        g_set_error(&error, VH_ERROR, VH_ERROR_INVALID, "no domain XML from the front end");
#endif
    if (config == NULL || xml == NULL ||
        (domain = parse_domain(xml, len, &error)) == NULL) {
        /* A running domain must never be killed over our problems. */
        if (what == VH_HOOK_RECONNECT) {
            syslog(LOG_WARNING, "domain '%s': reconnect: %s", name, error->message);
            return 0;
        }
        /* (without a configuration there is no state directory to count in) */
        if (what == VH_HOOK_PREPARE && config)
            vh_metrics_count_refused(config->state_dir, error, NULL);
        return fail(name, op, error);
    }
    switch (what) {
    case VH_HOOK_PREPARE:
        if (!vh_lifecycle_prepare(config, domain, &error))
            return fail(name, op, error);
        syslog(LOG_INFO, "domain '%s': prepared %u device(s)", name, domain->devices->len);
        break;
    case VH_HOOK_RELEASE:
        if (!vh_lifecycle_release(config, domain, &error))
            return fail(name, op, error);
        syslog(LOG_INFO, "domain '%s': released (%s)", name, argc > 4 ? argv[4] : "-");
        break;
    case VH_HOOK_REMAP: {
        g_autofree char *out = vh_lifecycle_remap(config, domain, &error);
        if (out == NULL && error)
            return fail(name, op, error);
        if (out) {
            fputs(out, stdout);
            syslog(LOG_INFO, "domain '%s': %s: remapped named devices", name, op);
        }
        break;
    }
    case VH_HOOK_RECONNECT:
        if (!vh_lifecycle_reconnect(config, domain, &error))
            syslog(LOG_WARNING, "domain '%s': reconnect: %s", name, error->message);
        break;
    case VH_HOOK_IGNORE:
        break;
    }
    print_pending_warnings();
    return 0;
}

#ifdef VH_HOOK_REWRITER
int
main(int argc, char **argv)
{
    return vh_hook_worker_run(argc, argv, NULL, 0);
}
#endif

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpu-hook: the libvirt qemu hook.
 *
 *   vgpu-hook [--config FILE] NAME OPERATION SUBOP EXTRA  < domain XML
 *
 * libvirtd runs every executable in /etc/libvirt/hooks/qemu.d/ at each step
 * of a domain's life and waits for it, so this program is thin and quick:
 * operations it does not handle exit 0 before reading anything, it never
 * calls the libvirt API (libvirtd is blocked on us), and it logs each
 * action to syslog with the domain name. On failure it prints one line on
 * stderr, which libvirt shows to the user of `virsh start`. */
#include "config.h"
#include "vgpuhook.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

typedef enum { OP_IGNORE, OP_PREPARE, OP_RELEASE, OP_REMAP, OP_RECONNECT } HookOp;

static HookOp
classify(const char *op, const char *subop)
{
    if (strcmp(op, "prepare") == 0 && strcmp(subop, "begin") == 0)
        return OP_PREPARE;
    if (strcmp(op, "release") == 0 && strcmp(subop, "end") == 0)
        return OP_RELEASE;
    if ((strcmp(op, "migrate") == 0 || strcmp(op, "restore") == 0) && strcmp(subop, "begin") == 0)
        return OP_REMAP;
    if (strcmp(op, "reconnect") == 0 && strcmp(subop, "begin") == 0)
        return OP_RECONNECT;
    return OP_IGNORE;
}

/* libvirt writes the document and closes our stdin at once; a writer that
 * never closes it must not keep libvirtd (and the domain start) waiting. */
#define STDIN_TIMEOUT_MS 5000

static char *
read_stdin(gsize *len, GError **error)
{
    GString *buf = g_string_new(NULL);
    gint64 deadline = g_get_monotonic_time() + (gint64)STDIN_TIMEOUT_MS * 1000;
    char chunk[65536];

    for (;;) {
        struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
        gint64 left = (deadline - g_get_monotonic_time()) / 1000;
        ssize_t n;
        int ready = left > 0 ? poll(&pfd, 1, (int)left) : 0;
        if (ready < 0 && errno == EINTR)
            continue;
        if (ready == 0) {
            g_string_free(buf, TRUE);
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                        "the domain XML on stdin did not end within %d ms (libvirt closes "
                        "stdin after writing it)", STDIN_TIMEOUT_MS);
            return NULL;
        }
        n = ready < 0 ? -1 : read(STDIN_FILENO, chunk, sizeof(chunk));
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            int err = errno;
            g_string_free(buf, TRUE);
            g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot read the domain XML on stdin: %s",
                        g_strerror(err));
            return NULL;
        }
        if (n == 0)
            break;
        g_string_append_len(buf, chunk, n);
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

/* GLib messages from the library go to syslog as well as stderr. */
static void
log_handler(const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
    int prio = (level & G_LOG_LEVEL_WARNING) ? LOG_WARNING : LOG_INFO;

    syslog(prio, "%s", message);
    if (level & (G_LOG_LEVEL_WARNING | G_LOG_LEVEL_CRITICAL))
        fprintf(stderr, "vgpu-hook: warning: %s\n", message);
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

int
main(int argc, char **argv)
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
    g_autofree char *xml = NULL;
    const char *name, *op;
    gsize len = 0;
    HookOp what;

    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_set_summary(ctx, "libvirt qemu hook of vgpu-hook: prepares named GPUs and "
                                      "vGPUs before a domain starts and releases them after.");
    if (!g_option_context_parse(ctx, &argc, &argv, &error)) {
        fprintf(stderr, "vgpu-hook: %s\n", error->message);
        return 2;
    }
    if (config_path && *config_path == '\0') {
        fprintf(stderr, "vgpu-hook: --config '': expected a file name\n");
        return 2;
    }
    if (argc < 4) {
        fprintf(stderr, "vgpu-hook: usage: vgpu-hook [--config FILE] NAME OPERATION SUBOP [EXTRA]\n");
        return 2;
    }
    name = argv[1];
    op = argv[2];
    what = classify(op, argv[3]);
    if (what == OP_IGNORE)
        return 0;
    openlog("vgpu-hook", LOG_PID, LOG_DAEMON);
    g_log_set_default_handler(log_handler, NULL);
    config = vh_config_load_file(config_path ? config_path : VH_DEFAULT_CONFIG,
                                 config_path == NULL, &error);
    if (config == NULL || (xml = read_stdin(&len, &error)) == NULL ||
        (domain = vh_domain_parse(xml, len, &error)) == NULL) {
        /* A running domain must never be killed over our problems. */
        if (what == OP_RECONNECT) {
            syslog(LOG_WARNING, "domain '%s': reconnect: %s", name, error->message);
            return 0;
        }
        /* (without a configuration there is no state directory to count in) */
        if (what == OP_PREPARE && config)
            vh_metrics_count_refused(config->state_dir, error, NULL);
        return fail(name, op, error);
    }
    switch (what) {
    case OP_PREPARE:
        if (!vh_lifecycle_prepare(config, domain, &error))
            return fail(name, op, error);
        syslog(LOG_INFO, "domain '%s': prepared %u device(s)", name, domain->devices->len);
        break;
    case OP_RELEASE:
        if (!vh_lifecycle_release(config, domain, &error))
            return fail(name, op, error);
        syslog(LOG_INFO, "domain '%s': released (%s)", name, argc > 4 ? argv[4] : "-");
        break;
    case OP_REMAP: {
        g_autofree char *out = vh_lifecycle_remap(config, domain, &error);
        if (out == NULL && error)
            return fail(name, op, error);
        if (out) {
            fputs(out, stdout);
            syslog(LOG_INFO, "domain '%s': %s: remapped named devices", name, op);
        }
        break;
    }
    case OP_RECONNECT:
        if (!vh_lifecycle_reconnect(config, domain, &error))
            syslog(LOG_WARNING, "domain '%s': reconnect: %s", name, error->message);
        break;
    case OP_IGNORE:
        break;
    }
    return 0;
}

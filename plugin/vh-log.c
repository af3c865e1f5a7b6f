/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-log: where the debug trace goes; see the header. */
#include "vh-log.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#define JOURNAL_SOCKET "/run/systemd/journal/socket"

static gboolean installed;
static gboolean debug_on;
static gboolean stderr_ok;
static int trace_fd = -1;

static gboolean
env_debug_value(const char *value)
{
    return value && (strcmp(value, "1") == 0 || g_ascii_strcasecmp(value, "true") == 0 ||
                     g_ascii_strcasecmp(value, "yes") == 0 || strcmp(value, "stderr") == 0);
}

static const char *
field_value(const GLogField *fields, gsize n, const char *key)
{
    for (gsize i = 0; i < n; i++) {
        if (strcmp(fields[i].key, key) == 0 && fields[i].length < 0)
            return fields[i].value;
    }
    return NULL;
}

/* One line, written with a single write(2) so that concurrent hooks do not
 * interleave inside a line (the file is opened with O_APPEND). */
static GLogWriterOutput
write_trace_line(int fd, const GLogField *fields, gsize n)
{
    const char *message = field_value(fields, n, "MESSAGE");
    g_autofree char *line = g_strdup_printf("%s[%d]: %s\n", g_get_prgname() ? g_get_prgname() : "vgpu-hook",
                                            (int)getpid(), message ? message : "");

    return write(fd, line, strlen(line)) < 0 ? G_LOG_WRITER_UNHANDLED
                                                   : G_LOG_WRITER_HANDLED;
}

static GLogWriterOutput
write_journal(GLogLevelFlags level, const GLogField *fields, gsize n)
{
    g_autofree GLogField *all = g_new(GLogField, n + 1);

    memcpy(all, fields, n * sizeof(*fields));
    all[n] = (GLogField){ "SYSLOG_IDENTIFIER", "vgpu-hook", -1 };
    return g_log_writer_journald(level, all, n + 1, NULL);
}

static GLogWriterOutput
write_debug(GLogLevelFlags level, const GLogField *fields, gsize n)
{
    const char *message;

    if (!debug_on)
        return G_LOG_WRITER_HANDLED;
    if (trace_fd >= 0)
        return write_trace_line(trace_fd, fields, n);
    if (!stderr_ok && g_file_test(JOURNAL_SOCKET, G_FILE_TEST_EXISTS) &&
        write_journal(level, fields, n) == G_LOG_WRITER_HANDLED)
        return G_LOG_WRITER_HANDLED;
    if (stderr_ok)
        return write_trace_line(STDERR_FILENO, fields, n);
    message = field_value(fields, n, "MESSAGE");
    syslog(LOG_DEBUG, "%s", message ? message : "");
    return G_LOG_WRITER_HANDLED;
}

static GLogWriterOutput
writer(GLogLevelFlags level, const GLogField *fields, gsize n, gpointer data)
{
    if (level & G_LOG_LEVEL_DEBUG)
        return write_debug(level, fields, n);
    return g_log_writer_default(level, fields, n, data);
}

void
vh_log_init(VhLogFlags flags)
{
    const char *value = g_getenv("VGPU_HOOK_DEBUG");
    const char *file = g_getenv("VGPU_HOOK_DEBUG_FILE");

    if (installed)
        return;
    installed = TRUE;
    stderr_ok = (flags & VH_LOG_STDERR_OK) || g_strcmp0(value, "stderr") == 0;
    debug_on = debug_on || env_debug_value(value);
    if (file && *file)
        trace_fd = open(file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    g_log_set_writer_func(writer, NULL, NULL);
}

void
vh_log_enable_debug(void)
{
    debug_on = TRUE;
    vh_log_init(0);
}

gboolean
vh_log_debug_enabled(void)
{
    return debug_on;
}

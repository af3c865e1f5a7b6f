/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-fault: fault points for tests; see the header. */
#include "vh-fault.h"

#ifdef VH_FAULT_INJECTION

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Passes of the point VH_FAULT_KILL_AT names (only that one is counted). */
static guint kill_count;

static void
fault_list(const char *path, const char *name)
{
    g_autofree char *line = g_strconcat(name, "\n", NULL);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);

    if (fd < 0)
        return;
    if (write(fd, line, strlen(line)) < 0) {
        /* a test that asked for the list sees it incomplete */
    }
    close(fd);
}

void
vh_fault_point(const char *name)
{
    const char *list = g_getenv("VH_FAULT_LIST");
    const char *kill_at = g_getenv("VH_FAULT_KILL_AT");
    const char *colon;
    gsize len = 0;
    guint64 nth = 1;

    if (list && *list)
        fault_list(list, name);
    if (kill_at == NULL || *kill_at == '\0')
        return;
    colon = strrchr(kill_at, ':');
    /* "vfio:unbound" has a colon of its own: only a number after the last
     * one is a count. */
    if (colon && g_ascii_string_to_unsigned(colon + 1, 10, 1, G_MAXUINT, &nth, NULL))
        len = (gsize)(colon - kill_at);
    else
        len = strlen(kill_at);
    if (strlen(name) != len || strncmp(name, kill_at, len) != 0)
        return;
    if (++kill_count == nth)
        raise(SIGKILL);
}

#endif

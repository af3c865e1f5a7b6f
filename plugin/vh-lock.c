/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-lock: bounded flock on a state file; see the header. */
#include "vh-lock.h"
#include "vh-error.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

int
vh_lock_file(const char *path, guint timeout_ms, GError **error)
{
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_ms * 1000;
    /* O_NONBLOCK: a FIFO planted as the lock must not block the open */
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
    struct stat st;

    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int err = fd < 0 ? errno : 0;
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot open lock file %s: %s", path,
                    err == ELOOP ? "it is a symbolic link"
                    : err        ? g_strerror(err)
                                 : "not a regular file");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int err = errno;
        if (err != EWOULDBLOCK && err != EINTR) {
            close(fd);
            g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot lock %s: %s", path, g_strerror(err));
            return -1;
        }
        if (g_get_monotonic_time() >= deadline) {
            close(fd);
            g_set_error(error, VH_ERROR, VH_ERROR_TIMEOUT,
                        "another vgpu-hook or vgpuctl holds %s for more than %u ms; retry, or "
                        "find the stuck process with 'fuser %s'", path, timeout_ms, path);
            return -1;
        }
        g_usleep(2 * 1000);
    }
    g_debug("locked %s", path);
    return fd;
}

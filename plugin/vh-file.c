/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-file: bounded, non-blocking file access; see the header. */
#include "vh-file.h"
#include "vh-error.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
errno_to_code(int err)
{
    return err == ENOENT ? VH_ERROR_NOT_FOUND : err == EBUSY ? VH_ERROR_BUSY : VH_ERROR_IO;
}

static void
set_errno_error(GError **error, int err, const char *what, const char *path)
{
    /* O_NOFOLLOW on a symlink fails with ELOOP: say what it means */
    const char *why = err == ELOOP ? "it is a symbolic link" : g_strerror(err);

    if (strcmp(what, "write") == 0)
        g_set_error(error, VH_ERROR, errno_to_code(err), "cannot open %s for writing: %s", path,
                    why);
    else
        g_set_error(error, VH_ERROR, errno_to_code(err), "cannot %s %s: %s", what, path, why);
}

/* An open descriptor of a regular file, or -1 with @error. */
static int
open_regular(const char *path, int flags, const char *what, GError **error)
{
    struct stat st;
    int fd = open(path, flags | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0) {
        int err = errno;
        set_errno_error(error, err, what, path);
        errno = err; /* for vh_file_write_existing_errno */
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        int err = errno;
        close(fd);
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot %s %s: %s", what, path,
                    S_ISREG(st.st_mode) ? g_strerror(err) : "not a regular file");
        errno = 0; /* not an errno of the file's own */
        return -1;
    }
    return fd;
}

char *
vh_file_read(const char *path, gsize max, VhFileFlags flags, gsize *len, GError **error)
{
    int fd = open_regular(path, O_RDONLY | ((flags & VH_FILE_FOLLOW) ? 0 : O_NOFOLLOW), "read",
                          error);
    /* Files we read are small (a sysfs attribute is a page): the first page
     * goes to the stack, and what it holds is copied out in one allocation
     * of its size (a scan reads thousands of attributes). */
    char first[4096];
    gsize cap = MIN(max + 1, sizeof(first));
    g_autofree char *heap = NULL;
    char *buf = first;
    gsize total = 0;

    if (fd < 0)
        return NULL;
    for (;;) {
        ssize_t n;
        if (total == cap) {
            if (cap > max)
                break;
            cap = MIN(cap * 2, max + 1);
            if (heap == NULL)
                heap = memcpy(g_malloc(cap + 1), first, total);
            else
                heap = g_realloc(heap, cap + 1);
            buf = heap;
        }
        n = read(fd, buf + total, cap - total);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int err = errno;
            close(fd);
            set_errno_error(error, err, "read", path);
            return NULL;
        }
        if (n == 0)
            break;
        total += (gsize)n;
        /* sysfs hands an attribute over in one read, and a regular file
         * gives less than asked only at its end: no read just to see 0. */
        if (total < cap)
            break;
    }
    close(fd);
    if (total > max) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "%s is larger than %" G_GSIZE_FORMAT " bytes", path, max);
        return NULL;
    }
    if (heap == NULL)
        heap = memcpy(g_malloc(total + 1), first, total);
    heap[total] = '\0';
    if (len)
        *len = total;
    return g_steal_pointer(&heap);
}

gboolean
vh_file_write_existing_errno(const char *path, const char *value, int *err_out,
                             GError **error)
{
    /* No O_CREAT: a missing attribute means the kernel lacks the feature.
     * O_TRUNC is ignored by sysfs but keeps regular files (fake trees) exact. */
    int fd = open_regular(path, O_WRONLY | O_TRUNC | O_NOFOLLOW, "write", error);
    size_t len = strlen(value);
    ssize_t n;

    if (err_out)
        *err_out = 0;
    if (fd < 0) {
        if (err_out)
            *err_out = errno;
        return FALSE;
    }
    do {
        n = write(fd, value, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0 || (size_t)n != len) {
        int err = n < 0 ? errno : EIO;
        close(fd);
        if (err_out)
            *err_out = err;
        g_set_error(error, VH_ERROR, errno_to_code(err), "writing '%s' to %s failed: %s",
                    value, path, g_strerror(err));
        return FALSE;
    }
    /* Some attributes report their error only at close. */
    if (close(fd) < 0) {
        int err = errno;
        if (err_out)
            *err_out = err;
        g_set_error(error, VH_ERROR, errno_to_code(err), "writing '%s' to %s failed: %s",
                    value, path, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

gboolean
vh_file_write_existing(const char *path, const char *value, GError **error)
{
    return vh_file_write_existing_errno(path, value, NULL, error);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sim-writelog: the simulated kernel's record of everything a program
 * changes on the file system (part of tests/libsimkernel.so).
 *
 * With VH_SIM_WRITE_LOG=/abs/FILE set, every open for writing (or creating),
 * every store into an emulated sysfs attribute, and every mkdir, rename,
 * unlink, rmdir, symlink and link a preloaded program makes, anywhere, is
 * appended to FILE as one line
 *
 *   OP <TAB> ABSOLUTE-PATH [<TAB> DATA]
 *
 * OP is open, store (DATA: the bytes written, C-escaped, then the errno the
 * emulation returned), mkdir, rename (DATA: the new path), unlink, rmdir,
 * symlink (PATH: the link made), link. A relative path is made absolute
 * from the working directory or the directory fd; the directory part is
 * resolved (links followed) when it exists, so callers compare the path
 * against canonical directories. The lifecycle fuzzer (fuzz/lifecycle.py)
 * checks from it that nothing is written outside the sysfs root and the
 * state directory (I4) and that nothing denied is written (I3).
 *
 * Each line is one write(2) on an O_APPEND descriptor, so processes running
 * at once do not interleave within a line. Unset: the log costs a getenv(). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sim-writelog.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WRITELOG_ENV "VH_SIM_WRITE_LOG"

static __thread int writelog_depth; /* our own file calls are not logged */

typedef int (*PathFn)(const char *);
typedef int (*PathModeFn)(const char *, mode_t);
typedef int (*AtPathModeFn)(int, const char *, mode_t);
typedef int (*TwoPathFn)(const char *, const char *);
typedef int (*AtTwoPathFn)(int, const char *, int, const char *);
typedef int (*AtPathFlagFn)(int, const char *, int);
typedef int (*SymlinkAtFn)(const char *, int, const char *);
typedef int (*LinkAtFn)(int, const char *, int, const char *, int);

/* The libc function @name, looked up once into *@slot (every wrapped call
 * needs it; a race only looks it up twice). */
static void *
real_cached(void **slot, const char *name)
{
    void *fn = __atomic_load_n(slot, __ATOMIC_ACQUIRE);

    if (fn == NULL) {
        fn = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, fn, __ATOMIC_RELEASE);
    }
    return fn;
}

#define real_fn(name)                          \
    ({                                         \
        static void *real_slot_;               \
        real_cached(&real_slot_, name);        \
    })

/* Whether a line would be written now (the log is on, not our own call). */
static gboolean
writelog_active(void)
{
    const char *log = getenv(WRITELOG_ENV);

    return log != NULL && g_path_is_absolute(log) && writelog_depth == 0;
}

/* @path as an absolute path, its directory part resolved when it exists. */
static char *
writelog_absolute(int dirfd, const char *path)
{
    g_autofree char *base = NULL, *joined = NULL, *dir = NULL, *name = NULL;
    char resolved[PATH_MAX];

    if (path == NULL)
        return g_strdup("(null)");
    if (g_path_is_absolute(path)) {
        joined = g_strdup(path);
    } else {
        if (dirfd == AT_FDCWD) {
            base = g_get_current_dir();
        } else {
            g_autofree char *link = g_strdup_printf("/proc/self/fd/%d", dirfd);
            base = g_file_read_link(link, NULL);
        }
        joined = g_build_filename(base ? base : "(unknown)", path, NULL);
    }
    dir = g_path_get_dirname(joined);
    name = g_path_get_basename(joined);
    if (realpath(dir, resolved) == NULL)
        return g_steal_pointer(&joined);
    return g_build_filename(resolved, name, NULL);
}

static void
writelog_line(const char *op, int dirfd, const char *path, const char *extra)
{
    const char *log = getenv(WRITELOG_ENV);
    g_autofree char *abs = NULL, *line = NULL;
    int fd, saved = errno;

    if (!writelog_active())
        return;
    writelog_depth++;
    abs = writelog_absolute(dirfd, path);
    line = extra ? g_strdup_printf("%s\t%s\t%s\n", op, abs, extra)
                 : g_strdup_printf("%s\t%s\n", op, abs);
    fd = ((int (*)(const char *, int, ...))real_fn("open"))(
        log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0) {
        ssize_t n = ((ssize_t (*)(int, const void *, size_t))real_fn("write"))(
            fd, line, strlen(line));
        (void)n;
        ((int (*)(int))real_fn("close"))(fd);
    }
    writelog_depth--;
    errno = saved;
}

void
sim_writelog_open(int dirfd, const char *path, int flags)
{
    gboolean writing = (flags & O_ACCMODE) != O_RDONLY && !(flags & O_PATH);

    if (writing || (flags & O_CREAT) || (flags & O_TRUNC))
        writelog_line("open", dirfd, path, NULL);
}

void
sim_writelog_store(const char *path, const char *data, size_t len, int err)
{
    g_autofree char *raw = NULL, *escaped = NULL, *extra = NULL;

    if (getenv(WRITELOG_ENV) == NULL)
        return;
    raw = g_strndup(data, len);
    escaped = g_strescape(raw, NULL);
    extra = g_strdup_printf("%s\t%d", escaped, err);
    writelog_line("store", AT_FDCWD, path, extra);
}

int
mkdir(const char *path, mode_t mode)
{
    writelog_line("mkdir", AT_FDCWD, path, NULL);
    return ((PathModeFn)real_fn("mkdir"))(path, mode);
}

int
mkdirat(int dirfd, const char *path, mode_t mode)
{
    writelog_line("mkdir", dirfd, path, NULL);
    return ((AtPathModeFn)real_fn("mkdirat"))(dirfd, path, mode);
}

int
rename(const char *from, const char *to)
{
    g_autofree char *dest = writelog_active() ? writelog_absolute(AT_FDCWD, to) : NULL;

    writelog_line("rename", AT_FDCWD, from, dest);
    return ((TwoPathFn)real_fn("rename"))(from, to);
}

int
renameat(int fromfd, const char *from, int tofd, const char *to)
{
    g_autofree char *dest = writelog_active() ? writelog_absolute(tofd, to) : NULL;

    writelog_line("rename", fromfd, from, dest);
    return ((AtTwoPathFn)real_fn("renameat"))(fromfd, from, tofd, to);
}

int
renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned int flags)
{
    g_autofree char *dest = writelog_active() ? writelog_absolute(tofd, to) : NULL;

    writelog_line("rename", fromfd, from, dest);
    return ((int (*)(int, const char *, int, const char *, unsigned int))real_fn("renameat2"))(
        fromfd, from, tofd, to, flags);
}

int
unlink(const char *path)
{
    writelog_line("unlink", AT_FDCWD, path, NULL);
    return ((PathFn)real_fn("unlink"))(path);
}

int
unlinkat(int dirfd, const char *path, int flags)
{
    writelog_line((flags & AT_REMOVEDIR) ? "rmdir" : "unlink", dirfd, path, NULL);
    return ((AtPathFlagFn)real_fn("unlinkat"))(dirfd, path, flags);
}

int
rmdir(const char *path)
{
    writelog_line("rmdir", AT_FDCWD, path, NULL);
    return ((PathFn)real_fn("rmdir"))(path);
}

int
symlink(const char *target, const char *path)
{
    writelog_line("symlink", AT_FDCWD, path, NULL);
    return ((TwoPathFn)real_fn("symlink"))(target, path);
}

int
symlinkat(const char *target, int dirfd, const char *path)
{
    writelog_line("symlink", dirfd, path, NULL);
    return ((SymlinkAtFn)real_fn("symlinkat"))(target, dirfd, path);
}

int
link(const char *from, const char *to)
{
    writelog_line("link", AT_FDCWD, to, NULL);
    return ((TwoPathFn)real_fn("link"))(from, to);
}

int
linkat(int fromfd, const char *from, int tofd, const char *to, int flags)
{
    writelog_line("link", tofd, to, NULL);
    return ((LinkAtFn)real_fn("linkat"))(fromfd, from, tofd, to, flags);
}

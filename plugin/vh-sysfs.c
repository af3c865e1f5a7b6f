/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-sysfs: file access under the sysfs root; see the header. */
#include "vh-sysfs.h"
#include "vh-error.h"
#include "vh-file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* sysfs attributes are at most a page; creatable_vgpu_types lists a few dozen
 * lines. Anything much larger is not a sysfs attribute. */
#define VH_SYSFS_MAX_READ (256 * 1024)

struct _VhSysfs {
    gint ref;
    char *root;
    gsize root_len;  /* without the separator: 0 for "/" */
    char *real_root; /* resolved lazily, for the write containment check */
};

VhSysfs *
vh_sysfs_new(const char *root)
{
    VhSysfs *sysfs = g_new0(VhSysfs, 1);
    size_t len;

    sysfs->ref = 1;
    sysfs->root = g_strdup(root && *root ? root : "/sys");
    /* Keep "/" as is, strip other trailing slashes so joined paths read well. */
    len = strlen(sysfs->root);
    while (len > 1 && sysfs->root[len - 1] == '/')
        sysfs->root[--len] = '\0';
    sysfs->root_len = strcmp(sysfs->root, "/") == 0 ? 0 : len;
    return sysfs;
}

VhSysfs *
vh_sysfs_ref(VhSysfs *sysfs)
{
    g_atomic_int_inc(&sysfs->ref);
    return sysfs;
}

void
vh_sysfs_unref(VhSysfs *sysfs)
{
    if (sysfs == NULL || !g_atomic_int_dec_and_test(&sysfs->ref))
        return;
    g_free(sysfs->root);
    g_free(sysfs->real_root);
    g_free(sysfs);
}

const char *
vh_sysfs_get_root(VhSysfs *sysfs)
{
    return sysfs->root;
}

/* Every component non-empty and neither "." nor "..". Checked in place: this
 * runs for each attribute of each device of a scan. */
static gboolean
rel_path_is_safe(const char *rel)
{
    const char *p = rel;

    if (rel == NULL || *rel == '\0' || *rel == '/')
        return FALSE;
    for (;;) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
            return FALSE;
        if (slash == NULL)
            return TRUE;
        p = slash + 1;
    }
}

/* A path buffer on the stack: reads join a path for each attribute of each
 * device of a scan. Longer paths (which open() refuses) go to the heap. */
typedef char VhSysfsPathBuf[PATH_MAX];

/* @rel joined onto the root, in @buf or else in *@heap (freed by the caller);
 * NULL (with @error) if @rel is not a safe relative path. */
static const char *
join(VhSysfs *sysfs, const char *rel, VhSysfsPathBuf buf, char **heap, GError **error)
{
    size_t len;

    if (!rel_path_is_safe(rel)) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "refusing unsafe sysfs path '%s' (must be relative, without '..')",
                    rel ? rel : "(null)");
        return NULL;
    }
    /* The root has no trailing slash (but may be "/") and @rel no empty
     * component, so a plain join is what g_build_filename() would give. */
    len = strlen(rel);
    if (sysfs->root_len + 1 + len >= sizeof(VhSysfsPathBuf))
        return *heap = g_strconcat(sysfs->root, sysfs->root_len ? "/" : "", rel, NULL);
    memcpy(buf, sysfs->root, sysfs->root_len);
    buf[sysfs->root_len] = '/';
    memcpy(buf + sysfs->root_len + 1, rel, len + 1);
    return buf;
}

char *
vh_sysfs_path(VhSysfs *sysfs, const char *rel, GError **error)
{
    VhSysfsPathBuf buf;
    char *heap = NULL;
    const char *path = join(sysfs, rel, buf, &heap, error);

    return heap ? heap : g_strdup(path);
}

gboolean
vh_sysfs_exists(VhSysfs *sysfs, const char *rel)
{
    VhSysfsPathBuf buf;
    g_autofree char *heap = NULL;
    const char *path = join(sysfs, rel, buf, &heap, NULL);

    return path && access(path, F_OK) == 0;
}

gboolean
vh_sysfs_is_dir(VhSysfs *sysfs, const char *rel)
{
    VhSysfsPathBuf buf;
    g_autofree char *heap = NULL;
    const char *path = join(sysfs, rel, buf, &heap, NULL);

    return path && g_file_test(path, G_FILE_TEST_IS_DIR);
}

static int
errno_to_code(int err)
{
    return err == ENOENT ? VH_ERROR_NOT_FOUND : err == EBUSY ? VH_ERROR_BUSY : VH_ERROR_IO;
}

char *
vh_sysfs_read_string(VhSysfs *sysfs, const char *rel, GError **error)
{
    VhSysfsPathBuf pbuf;
    g_autofree char *heap = NULL;
    const char *path = join(sysfs, rel, pbuf, &heap, error);
    g_autofree char *buf = NULL;
    g_autoptr(GError) local = NULL;
    gsize total = 0;

    if (path == NULL)
        return NULL;
    /* An attribute is a regular file, never a symlink (a FIFO, /dev/zero or
     * a link planted in a tree is refused without blocking). */
    buf = vh_file_read(path, VH_SYSFS_MAX_READ - 1, VH_FILE_NOFOLLOW, &total, &local);
    if (buf == NULL && g_error_matches(local, VH_ERROR, VH_ERROR_INVALID)) {
        g_set_error(error, VH_ERROR, VH_ERROR_IO,
                    "%s is larger than %d bytes: not a sysfs attribute", path, VH_SYSFS_MAX_READ);
        return NULL;
    }
    if (buf == NULL) {
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    if (memchr(buf, '\0', total) != NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "%s contains a NUL byte", path);
        return NULL;
    }
    while (total > 0 && g_ascii_isspace(buf[total - 1]))
        total--;
    buf[total] = '\0';
    return g_steal_pointer(&buf);
}

gboolean
vh_sysfs_read_hex(VhSysfs *sysfs, const char *rel, guint *value, GError **error)
{
    g_autofree char *text = vh_sysfs_read_string(sysfs, rel, error);
    guint64 parsed;
    char *end = NULL;

    if (text == NULL)
        return FALSE;
    if (!g_str_has_prefix(text, "0x") || text[2] == '\0' ||
        (parsed = g_ascii_strtoull(text + 2, &end, 16), *end != '\0') ||
        parsed > G_MAXUINT32 || !g_ascii_isxdigit(text[2])) {
        g_autofree char *path = vh_sysfs_path(sysfs, rel, NULL);
        g_set_error(error, VH_ERROR, VH_ERROR_IO,
                    "%s: expected a hex value like 0x10de, found something else", path);
        return FALSE;
    }
    *value = (guint)parsed;
    return TRUE;
}

gboolean
vh_sysfs_read_int(VhSysfs *sysfs, const char *rel, gint64 *value, GError **error)
{
    g_autofree char *text = vh_sysfs_read_string(sysfs, rel, error);

    if (text == NULL)
        return FALSE;
    if (!g_ascii_string_to_signed(text, 10, G_MININT32, G_MAXINT32, value, NULL)) {
        g_autofree char *path = vh_sysfs_path(sysfs, rel, NULL);
        g_set_error(error, VH_ERROR, VH_ERROR_IO,
                    "%s: expected a decimal number, found something else", path);
        return FALSE;
    }
    return TRUE;
}

char *
vh_sysfs_read_link_name(VhSysfs *sysfs, const char *rel, GError **error)
{
    VhSysfsPathBuf buf;
    g_autofree char *heap = NULL;
    const char *path = join(sysfs, rel, buf, &heap, error);
    char target[PATH_MAX];
    ssize_t n;
    const char *base;

    if (path == NULL)
        return NULL;
    n = readlink(path, target, sizeof(target) - 1);
    if (n < 0) {
        int err = errno;
        g_set_error(error, VH_ERROR, errno_to_code(err), "cannot read link %s: %s",
                    path, g_strerror(err));
        return NULL;
    }
    target[n] = '\0';
    base = strrchr(target, '/');
    base = base ? base + 1 : target;
    if (*base == '\0' || strcmp(base, "..") == 0 || strcmp(base, ".") == 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "link %s has an odd target '%s'",
                    path, target);
        return NULL;
    }
    return g_strdup(base);
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
vh_sysfs_list_dir(VhSysfs *sysfs, const char *rel, GError **error)
{
    VhSysfsPathBuf buf;
    g_autofree char *heap = NULL;
    const char *path = join(sysfs, rel, buf, &heap, error);
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GPtrArray) names = NULL;
    const char *name;
    GError *local = NULL;

    if (path == NULL)
        return NULL;
    dir = g_dir_open(path, 0, &local);
    if (dir == NULL) {
        int code = g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                       ? VH_ERROR_NOT_FOUND : VH_ERROR_IO;
        g_set_error(error, VH_ERROR, code, "cannot list %s: %s", path, local->message);
        g_error_free(local);
        return NULL;
    }
    /* sized for a PCI device directory; libc's qsort: GLib's generic one
     * costs twice as much on the few dozen names of each device of a scan */
    names = g_ptr_array_new_full(32, g_free);
    while ((name = g_dir_read_name(dir)) != NULL)
        g_ptr_array_add(names, g_strdup(name));
    if (names->len > 1)
        qsort(names->pdata, names->len, sizeof(gpointer), compare_names);
    return g_steal_pointer(&names);
}

/* The target of a write must stay under the root even when links in a fake
 * (or hostile) tree point elsewhere. */
static gboolean
path_is_under_root(VhSysfs *sysfs, const char *path, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    char resolved[PATH_MAX];
    size_t len;

    if (sysfs->real_root == NULL) {
        char root[PATH_MAX];
        if (realpath(sysfs->root, root) == NULL) {
            int err = errno;
            g_set_error(error, VH_ERROR, VH_ERROR_IO, "sysfs root %s: %s",
                        sysfs->root, g_strerror(err));
            return FALSE;
        }
        sysfs->real_root = g_strdup(root);
    }
    if (realpath(dir, resolved) == NULL) {
        int err = errno;
        g_set_error(error, VH_ERROR, errno_to_code(err), "cannot write %s: %s",
                    path, g_strerror(err));
        return FALSE;
    }
    len = strlen(sysfs->real_root);
    if (strcmp(sysfs->real_root, "/") != 0 &&
        (strncmp(resolved, sysfs->real_root, len) != 0 ||
         (resolved[len] != '/' && resolved[len] != '\0'))) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "refusing to write %s: it resolves to %s, outside the sysfs root %s",
                    path, resolved, sysfs->real_root);
        return FALSE;
    }
    return TRUE;
}

/* The write itself; @error says what failed, *@err_out its errno. */
static gboolean
write_value(const char *path, const char *value, int *err_out, GError **error)
{
    return vh_file_write_existing_errno(path, value, err_out, error);
}

gboolean
vh_sysfs_write_errno(VhSysfs *sysfs, const char *rel, const char *value, int *err_out,
                     GError **error)
{
    g_autofree char *path = vh_sysfs_path(sysfs, rel, error);
    GError *local = NULL;

    if (err_out)
        *err_out = 0;
    if (path == NULL || !path_is_under_root(sysfs, path, error)) {
        g_debug("sysfs: not writing '%s' to %s: %s", value, path ? path : rel,
                error && *error ? (*error)->message : "refused");
        return FALSE;
    }
    if (!write_value(path, value, err_out, &local)) {
        g_debug("sysfs: write '%s' > %s: failed: %s", value, path, local->message);
        g_propagate_error(error, local);
        return FALSE;
    }
    g_debug("sysfs: write '%s' > %s: ok", value, path);
    return TRUE;
}

gboolean
vh_sysfs_write(VhSysfs *sysfs, const char *rel, const char *value, GError **error)
{
    return vh_sysfs_write_errno(sysfs, rel, value, NULL, error);
}

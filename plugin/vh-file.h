/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-file: the one way the library reads and writes a file.
 *
 * Files come from places other people can shape (a state directory, a
 * configuration, a sysfs tree that lies): any of them may be a FIFO, a
 * device such as /dev/zero, a symlink to elsewhere, or grow while read. So
 * every open is O_NONBLOCK (a FIFO neither blocks the open nor the read),
 * O_NOFOLLOW unless the caller expects a symlink, fstat must say a regular
 * file (which sysfs attributes are), and the size cap is enforced while
 * reading, not after. Error messages name the path and never quote the
 * content (it may be someone else's file). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    VH_FILE_NOFOLLOW = 0,
    VH_FILE_FOLLOW = 1 << 0, /* the last component may be a symlink (a configuration) */
} VhFileFlags;

/* The whole file, NUL-terminated, at most @max bytes (*len, may be NULL).
 * A missing file is VH_ERROR_NOT_FOUND, a larger one VH_ERROR_INVALID,
 * anything else (a FIFO, a device, a symlink without FOLLOW) VH_ERROR_IO. */
char *vh_file_read(const char *path, gsize max, VhFileFlags flags, gsize *len, GError **error);

/* Write @value in one write(2) to an existing regular file (no create, no
 * symlink), truncating it; errors at close are reported (sysfs). */
gboolean vh_file_write_existing(const char *path, const char *value, GError **error);

G_END_DECLS

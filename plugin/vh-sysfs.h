/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-sysfs: the only code that touches files under the sysfs root.
 *
 * Everything the library learns about the host, and every change it makes,
 * goes through a VhSysfs, which joins relative paths onto a root directory
 * (/sys on a real host, a fake tree in tests and in the demo). Relative paths
 * are built from validated names, and are checked again here: no absolute
 * path, no ".." component. Writes never create files (sysfs attributes exist
 * or the kernel does not offer the operation), write the value without a
 * trailing newline (NVIDIA's driver rejects one in current_vgpu_type), and
 * refuse a target that resolves outside the root. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VhSysfs VhSysfs;

VhSysfs *vh_sysfs_new(const char *root);
VhSysfs *vh_sysfs_ref(VhSysfs *sysfs);
void vh_sysfs_unref(VhSysfs *sysfs);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhSysfs, vh_sysfs_unref)

const char *vh_sysfs_get_root(VhSysfs *sysfs);

/* Absolute path of @rel under the root, or NULL (with @error) if @rel is not
 * a safe relative path. */
char *vh_sysfs_path(VhSysfs *sysfs, const char *rel, GError **error);

gboolean vh_sysfs_exists(VhSysfs *sysfs, const char *rel);
gboolean vh_sysfs_is_dir(VhSysfs *sysfs, const char *rel);

/* Whole attribute, trailing whitespace stripped. */
char *vh_sysfs_read_string(VhSysfs *sysfs, const char *rel, GError **error);
/* "0x10de\n" style attributes. */
gboolean vh_sysfs_read_hex(VhSysfs *sysfs, const char *rel, guint *value, GError **error);
/* Decimal attributes ("-1\n" for numa_node). */
gboolean vh_sysfs_read_int(VhSysfs *sysfs, const char *rel, gint64 *value, GError **error);
/* Last component of a symlink's target ("driver" -> "vfio-pci"); a missing
 * link is a VH_ERROR_NOT_FOUND error. */
char *vh_sysfs_read_link_name(VhSysfs *sysfs, const char *rel, GError **error);
/* Sorted entry names of a directory. */
GPtrArray *vh_sysfs_list_dir(VhSysfs *sysfs, const char *rel, GError **error);

/* Write @value to an existing attribute in one write(2), no newline added. */
gboolean vh_sysfs_write(VhSysfs *sysfs, const char *rel, const char *value, GError **error);
/* Same, also giving the kernel's errno in *@err_out (0 on success): the
 * NVIDIA driver's answer is in the errno alone. */
gboolean vh_sysfs_write_errno(VhSysfs *sysfs, const char *rel, const char *value, int *err_out,
                              GError **error);

G_END_DECLS

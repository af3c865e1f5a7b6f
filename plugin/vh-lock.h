/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-lock: an exclusive flock on a file of the state directory.
 *
 * The lease store and the metrics counters serialise their read-change-write
 * through such locks. Every wait in the project is bounded by one timeout,
 * VH_LOCK_TIMEOUT_MS: long enough for a prepare that holds the lease lock
 * while it binds a GPU and its companions, short enough that libvirtd is
 * never kept waiting on a stuck process for good. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VH_LOCK_TIMEOUT_MS 15000

/* Opens (creating, mode 0600, never through a symlink) and flocks @path,
 * waiting at most @timeout_ms. Returns the descriptor (closing it releases the
 * lock), or -1 with VH_ERROR_TIMEOUT when another process held it all along,
 * or VH_ERROR_IO. */
int vh_lock_file(const char *path, guint timeout_ms, GError **error);

G_END_DECLS

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-ident: the identifiers that become file names.
 *
 * A domain's name becomes part of a path under /run/libvirt/qemu, and a
 * UUID (a domain's, an mdev's) names a lease file and an mdev directory, so
 * both are checked before any path is built from them, by libvirt's own
 * rules and on the name exactly as libvirt keeps it (no trimming: a name
 * with a leading space is another domain's name): valid UTF-8 of at most
 * VH_DOMAIN_NAME_MAX bytes, not empty, without '/' or newline; a UUID is
 * 8-4-4-4-12 hex digits, as the kernel's mdev create accepts. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VH_DOMAIN_NAME_MAX 250

gboolean vh_domain_name_is_valid(const char *name);
gboolean vh_uuid_is_valid(const char *uuid);

G_END_DECLS

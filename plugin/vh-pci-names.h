/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-pci-names: device names from the PCI IDs database.
 *
 * Names come from libpci's pci_lookup_name(), which reads pci.ids (the system
 * one, or [host] pci_ids) and falls back to udev's hwdb (Debian 12's pci.ids
 * has no L40S; its hwdb does). The database is loaded on the first lookup
 * only: commands that print no names never pay for it. With a cache file
 * (vh_pci_names_set_cache) libpci's answers are kept there, keyed by the
 * identity of pci.ids and of the hwdb files, and libpci is not loaded at all
 * while every id asked for is in a valid cache: names stay exactly libpci's.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The name of the cache file in the state directory (vh_host_get_names). */
#define VH_PCI_NAMES_CACHE "pci-names.cache"

typedef struct _VhPciNames VhPciNames;

/* @pci_ids: a pci.ids file, or NULL for the system database.
 * @use_hwdb: also ask udev's hwdb for ids pci.ids lacks. */
VhPciNames *vh_pci_names_new(const char *pci_ids, gboolean use_hwdb);
void vh_pci_names_free(VhPciNames *names);
/* Keep libpci's answers in @path (rewritten atomically at free when libpci
 * was asked something new; any damage or change of source: ignored). */
void vh_pci_names_set_cache(VhPciNames *names, const char *path);
/* Whether libpci had to be asked (tests: the cache answered everything). */
gboolean vh_pci_names_used_database(VhPciNames *names);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhPciNames, vh_pci_names_free)

/* The database's device name ("GA102GL [A10]"), or NULL if it has none. */
char *vh_pci_names_device(VhPciNames *names, guint vendor, guint device);
char *vh_pci_names_vendor(VhPciNames *names, guint vendor);

G_END_DECLS

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-pci-names: device names from the PCI IDs database, and resource names.
 *
 * Names come from libpci's pci_lookup_name(), which reads pci.ids (the system
 * one, or [host] pci_ids) and falls back to udev's hwdb (Debian 12's pci.ids
 * has no L40S; its hwdb does). The database is loaded on the first lookup
 * only: commands that print no names never pay for it. With a cache file
 * (vh_pci_names_set_cache) libpci's answers are kept there, keyed by the
 * identity of pci.ids and of the hwdb files, and libpci is not loaded at all
 * while every id asked for is in a valid cache: names stay exactly libpci's.
 *
 * Resource names follow NVIDIA's KubeVirt GPU device plugin, so that a VM
 * spec moved between KubeVirt and this host names the same thing:
 *   whole GPU: upper-case the device name, '/' and '.' -> '_', runs of white
 *              space -> '_', then drop everything but [A-Za-z0-9_]
 *              ("GA102GL [A10]" -> "GA102GL_A10"); unknown device: the id
 *              as sysfs shows it without 0x ("26b9");
 *   SR-IOV vGPU: the profile without "NVIDIA " ("L40S-24Q");
 *   mdev type: the type name with runs of white space -> '_' ("GRID_T4-1Q").
 * each behind the "nvidia.com/" prefix. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VH_RESOURCE_PREFIX "nvidia.com/"
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

/* KubeVirt's transformation of a database device name ("GA102GL_A10"). */
char *vh_resource_suffix_from_device_name(const char *db_name);
/* Full names; @from_fallback (optional) says the database had no name.
 * vGPU type names (SR-IOV and mdev) turn white space into "_". */
char *vh_resource_name_for_gpu(VhPciNames *names, guint vendor, guint device,
                               gboolean *from_fallback);
char *vh_resource_name_for_vgpu_type(const char *type_name);
char *vh_resource_name_for_mdev_type(const char *type_name);

/* A resource name is "domain/name": [a-z0-9.-]+ "/" [A-Za-z0-9_.-]+. */
gboolean vh_resource_name_is_valid(const char *name);

G_END_DECLS

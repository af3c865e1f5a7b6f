/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-mdev: mediated-device types of a parent GPU (Pascal..Ampere vGPU).
 *
 * A parent is listed in /sys/class/mdev_bus/<addr>; its
 * mdev_supported_types/<type>/ directories carry the type's human name
 * ("GRID T4-1Q"), available_instances (what can still be created now: NVIDIA
 * runs one type per GPU at a time, so other types drop to 0 once one is in
 * use), device_api and the devices/ already created from it. An mdev is made
 * by writing a UUID to create and removed through
 * /sys/bus/mdev/devices/<uuid>/remove. */
#pragma once

#include <glib.h>
#include "vh-sysfs.h"

G_BEGIN_DECLS

typedef struct {
    char *type_id;              /* directory name: "nvidia-230" */
    char *name;                 /* "GRID T4-1Q" (falls back to type_id) */
    char *device_api;           /* "vfio-pci" */
    gint64 available_instances;
    GPtrArray *instances;       /* UUIDs of mdevs of this type on this parent */
} VhMdevType;

void vh_mdev_type_free(VhMdevType *type);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhMdevType, vh_mdev_type_free)

gboolean vh_mdev_is_parent(VhSysfs *sysfs, const char *parent_addr);
/* The PCI addresses listed in class/mdev_bus, sorted. */
GPtrArray *vh_mdev_parents(VhSysfs *sysfs);
/* The parent's types, sorted by type id. */
GPtrArray *vh_mdev_types_load(VhSysfs *sysfs, const char *parent_addr, GError **error);

gboolean vh_mdev_uuid_is_valid(const char *uuid);

G_END_DECLS

G_BEGIN_DECLS
/* Create an mdev of @type_id on @parent with @uuid. */
gboolean vh_mdev_create(VhSysfs *sysfs, const char *parent, const char *type_id,
                        const char *uuid, GError **error);
/* The type an existing mdev was created from, or NULL if it does not exist. */
char *vh_mdev_instance_type(VhSysfs *sysfs, const char *uuid);
/* That type's human name ("GRID T4-1Q"; its type id when it has none), or
 * NULL if the mdev does not exist. */
char *vh_mdev_instance_type_name(VhSysfs *sysfs, const char *uuid);
/* The parent (an address of vh_mdev_parents) an existing mdev was created
 * on, or NULL. */
char *vh_mdev_instance_parent(VhSysfs *sysfs, const char *uuid);
gboolean vh_mdev_instance_exists(VhSysfs *sysfs, const char *uuid);
/* Remove an mdev, retrying while busy; one that vanished on its own (NVIDIA's
 * driver removes them shortly after the VM stops) counts as removed. */
gboolean vh_mdev_remove(VhSysfs *sysfs, const char *uuid, guint retries, guint delay_ms,
                        GError **error);
G_END_DECLS

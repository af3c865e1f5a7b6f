/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-mdev: reading mdev_supported_types; see the header. */
#include "vh-mdev.h"
#include "vh-error.h"
#include "vh-fault.h"
#include "vh-ident.h"
#include "vh-pci-address.h"

#include <string.h>

void
vh_mdev_type_free(VhMdevType *type)
{
    if (type == NULL)
        return;
    g_free(type->type_id);
    g_free(type->name);
    g_free(type->device_api);
    if (type->instances)
        g_ptr_array_unref(type->instances);
    g_free(type);
}

gboolean
vh_mdev_is_parent(VhSysfs *sysfs, const char *parent_addr)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/mdev_supported_types", parent_addr);

    return vh_sysfs_is_dir(sysfs, rel);
}

GPtrArray *
vh_mdev_parents(VhSysfs *sysfs)
{
    g_autoptr(GPtrArray) parents = vh_sysfs_list_dir(sysfs, "class/mdev_bus", NULL);

    if (parents == NULL)
        return g_ptr_array_new_with_free_func(g_free);
    for (guint i = parents->len; i > 0; i--)
        if (!vh_pci_address_is_valid(g_ptr_array_index(parents, i - 1)))
            g_ptr_array_remove_index(parents, i - 1);
    return g_steal_pointer(&parents);
}

gboolean
vh_mdev_uuid_is_valid(const char *uuid)
{
    return vh_uuid_is_valid(uuid);
}

static VhMdevType *
load_type(VhSysfs *sysfs, const char *base, const char *type_id, GError **error)
{
    g_autoptr(VhMdevType) type = g_new0(VhMdevType, 1);
    g_autofree char *name_rel = g_strdup_printf("%s/%s/name", base, type_id);
    g_autofree char *api_rel = g_strdup_printf("%s/%s/device_api", base, type_id);
    g_autofree char *avail_rel = g_strdup_printf("%s/%s/available_instances", base, type_id);
    g_autofree char *devs_rel = g_strdup_printf("%s/%s/devices", base, type_id);

    type->type_id = g_strdup(type_id);
    type->name = vh_sysfs_read_string(sysfs, name_rel, NULL);
    if (type->name == NULL || *type->name == '\0') {
        g_free(type->name);
        type->name = g_strdup(type_id);
    }
    type->device_api = vh_sysfs_read_string(sysfs, api_rel, NULL);
    if (!vh_sysfs_read_int(sysfs, avail_rel, &type->available_instances, error))
        return NULL;
    type->instances = vh_sysfs_list_dir(sysfs, devs_rel, NULL);
    if (type->instances == NULL)
        type->instances = g_ptr_array_new_with_free_func(g_free);
    return g_steal_pointer(&type);
}

GPtrArray *
vh_mdev_types_load(VhSysfs *sysfs, const char *parent_addr, GError **error)
{
    g_autofree char *base = g_strdup_printf("bus/pci/devices/%s/mdev_supported_types", parent_addr);
    g_autoptr(GPtrArray) ids = vh_sysfs_list_dir(sysfs, base, error);
    g_autoptr(GPtrArray) types = NULL;

    if (ids == NULL)
        return NULL;
    types = g_ptr_array_new_with_free_func((GDestroyNotify)vh_mdev_type_free);
    for (guint i = 0; i < ids->len; i++) {
        VhMdevType *type = load_type(sysfs, base, g_ptr_array_index(ids, i), error);
        if (type == NULL)
            return NULL;
        g_ptr_array_add(types, type);
    }
    return g_steal_pointer(&types);
}

gboolean
vh_mdev_create(VhSysfs *sysfs, const char *parent, const char *type_id, const char *uuid,
               GError **error)
{
    g_autofree char *rel = NULL;

    if (!vh_mdev_uuid_is_valid(uuid) || strchr(type_id, '/') || strstr(type_id, "..")) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "refusing mdev create with uuid '%.40s', type '%.40s'",
                    uuid, type_id);
        return FALSE;
    }
    rel = g_strdup_printf("bus/pci/devices/%s/mdev_supported_types/%s/create", parent, type_id);
    g_debug("mdev: creating %s of type %s on %s", uuid, type_id, parent);
    if (!vh_sysfs_write(sysfs, rel, uuid, error)) {
        g_prefix_error(error, "cannot create mdev %s of type %s on %s: ", uuid, type_id, parent);
        return FALSE;
    }
    VH_FAULT_POINT("mdev:created");
    return TRUE;
}

char *
vh_mdev_instance_type(VhSysfs *sysfs, const char *uuid)
{
    g_autofree char *rel = g_strdup_printf("bus/mdev/devices/%s/mdev_type", uuid);

    return vh_mdev_uuid_is_valid(uuid) ? vh_sysfs_read_link_name(sysfs, rel, NULL) : NULL;
}

char *
vh_mdev_instance_type_name(VhSysfs *sysfs, const char *uuid)
{
    g_autofree char *type_id = vh_mdev_instance_type(sysfs, uuid);
    g_autofree char *rel = NULL;
    char *name;

    if (type_id == NULL)
        return NULL;
    rel = g_strdup_printf("bus/mdev/devices/%s/mdev_type/name", uuid);
    name = vh_sysfs_read_string(sysfs, rel, NULL);
    if (name && *name)
        return name;
    g_free(name);
    return g_steal_pointer(&type_id);
}

char *
vh_mdev_instance_parent(VhSysfs *sysfs, const char *uuid)
{
    g_autoptr(GPtrArray) parents = NULL;

    if (!vh_mdev_uuid_is_valid(uuid))
        return NULL;
    parents = vh_mdev_parents(sysfs);
    for (guint i = 0; i < parents->len; i++) {
        const char *addr = g_ptr_array_index(parents, i);
        g_autofree char *child = g_strdup_printf("bus/pci/devices/%s/%s", addr, uuid);
        if (vh_sysfs_is_dir(sysfs, child))
            return g_strdup(addr);
    }
    return NULL;
}

gboolean
vh_mdev_instance_exists(VhSysfs *sysfs, const char *uuid)
{
    g_autofree char *dir = g_strdup_printf("bus/mdev/devices/%s", uuid);

    return vh_mdev_uuid_is_valid(uuid) && vh_sysfs_exists(sysfs, dir);
}

gboolean
vh_mdev_remove(VhSysfs *sysfs, const char *uuid, guint retries, guint delay_ms, GError **error)
{
    g_autofree char *dir = g_strdup_printf("bus/mdev/devices/%s", uuid);
    g_autofree char *rel = g_strdup_printf("bus/mdev/devices/%s/remove", uuid);
    g_autoptr(GError) local = NULL;

    for (guint attempt = 0;; attempt++) {
        if (!vh_sysfs_exists(sysfs, dir)) {
            g_debug("mdev: %s is gone: nothing to remove", uuid);
            return TRUE;
        }
        g_debug("mdev: removing %s (try %u of %u)", uuid, attempt + 1, retries + 1);
        g_clear_error(&local);
        if (vh_sysfs_write(sysfs, rel, "1", &local)) {
            VH_FAULT_POINT("mdev:removed");
            return TRUE;
        }
        if (attempt >= retries)
            break;
        g_usleep((gulong)delay_ms * 1000);
    }
    if (!vh_sysfs_exists(sysfs, dir))
        return TRUE;
    g_set_error(error, VH_ERROR, VH_ERROR_BUSY, "could not remove mdev %s after %u tries: %s",
                uuid, retries + 1, local ? local->message : "unknown error");
    return FALSE;
}

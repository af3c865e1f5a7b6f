/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-vgpu-cache: remembered vGPU type tables; see the header. */
#include "vh-vgpu-cache.h"
#include "vh-file.h"
#include "vh-vgpu-type.h"

#include <string.h>

#define CACHE_MAX_SIZE (64 * 1024)

/* A version string from sysfs becomes one path component: nothing but
 * [A-Za-z0-9._-]. */
static char *
version_component(const char *driver_version)
{
    char *v = g_strdup(driver_version && *driver_version ? driver_version : "unknown");

    g_strcanon(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-", '_');
    if (v[0] == '.')
        v[0] = '_';
    return v;
}

static char *
cache_path(const char *cache_dir, const char *driver_version, guint vendor, guint device)
{
    g_autofree char *version = version_component(driver_version);

    return g_strdup_printf("%s/types/%s/%04x-%04x.types", cache_dir, version, vendor, device);
}

GPtrArray *
vh_vgpu_cache_load(const char *cache_dir, const char *driver_version, guint vendor, guint device)
{
    g_autofree char *path = cache_path(cache_dir, driver_version, vendor, device);
    g_autofree char *text = NULL;
    gsize len = 0;
    GPtrArray *types;

    if (cache_dir == NULL ||
        (text = vh_file_read(path, CACHE_MAX_SIZE, VH_FILE_NOFOLLOW, &len, NULL)) == NULL)
        return NULL;
    types = vh_vgpu_types_parse(text, NULL);
    if (types && types->len == 0)
        g_clear_pointer(&types, g_ptr_array_unref);
    return types;
}

void
vh_vgpu_cache_save(const char *cache_dir, const char *driver_version, guint vendor, guint device,
                   GPtrArray *types)
{
    g_autofree char *path = NULL;
    g_autofree char *dir = NULL;
    g_autofree char *old = NULL;
    g_autoptr(GString) out = g_string_new(NULL);

    if (cache_dir == NULL || types == NULL || types->len == 0)
        return;
    path = cache_path(cache_dir, driver_version, vendor, device);
    dir = g_path_get_dirname(path);
    for (guint i = 0; i < types->len; i++) {
        const VhVgpuType *t = g_ptr_array_index(types, i);
        g_string_append_printf(out, "%u : %s\n", t->id, t->name);
    }
    old = vh_file_read(path, CACHE_MAX_SIZE, VH_FILE_NOFOLLOW, NULL, NULL);
    if (old && strcmp(old, out->str) == 0)
        return;
    /* g_file_set_contents() writes a temporary file and renames it: a
     * reader never sees half a table. */
    if (g_mkdir_with_parents(dir, 0755) == 0)
        g_file_set_contents(path, out->str, (gssize)out->len, NULL);
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GStrv
vh_vgpu_cache_versions(const char *cache_dir, guint vendor, guint device)
{
    g_autofree char *root = g_build_filename(cache_dir, "types", NULL);
    g_autofree char *file = g_strdup_printf("%04x-%04x.types", vendor, device);
    g_autoptr(GDir) dir = g_dir_open(root, 0, NULL);
    g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    while (dir && (name = g_dir_read_name(dir)) != NULL) {
        g_autofree char *path = g_build_filename(root, name, file, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
            g_ptr_array_add(found, g_strdup(name));
    }
    if (found->len == 0)
        return NULL;
    g_ptr_array_sort(found, compare_strings);
    g_ptr_array_add(found, NULL);
    return (GStrv)g_ptr_array_free(g_steal_pointer(&found), FALSE);
}

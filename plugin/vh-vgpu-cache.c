/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-vgpu-cache: remembered vGPU type tables; see the header. */
#include "vh-vgpu-cache.h"
#include "vh-file.h"
#include "vh-vgpu-type.h"

#include <string.h>

/* a type list is a few dozen lines */
#define CACHE_MAX_SIZE (64 * 1024)

static char *
cache_path(const char *state_dir, const char *pf)
{
    return g_strdup_printf("%s/gpus/%s.types", state_dir, pf);
}

GPtrArray *
vh_vgpu_cache_load(const char *state_dir, const char *pf)
{
    g_autofree char *path = cache_path(state_dir, pf);
    g_autofree char *text = NULL;
    GPtrArray *types;

    if ((text = vh_file_read(path, CACHE_MAX_SIZE, VH_FILE_NOFOLLOW, NULL, NULL)) == NULL)
        return NULL;
    types = vh_vgpu_types_parse(text, NULL);
    if (types && types->len == 0)
        g_clear_pointer(&types, g_ptr_array_unref);
    return types;
}

gboolean
vh_vgpu_cache_exists(const char *state_dir, const char *pf)
{
    g_autofree char *path = cache_path(state_dir, pf);

    return g_file_test(path, G_FILE_TEST_IS_REGULAR);
}

void
vh_vgpu_cache_save(const char *state_dir, const char *pf, GPtrArray *types)
{
    g_autofree char *path = cache_path(state_dir, pf);
    g_autofree char *dir = g_path_get_dirname(path);
    g_autofree char *old = NULL;
    g_autoptr(GString) out = g_string_new(NULL);

    if (types == NULL || types->len == 0)
        return;
    for (guint i = 0; i < types->len; i++) {
        const VhVgpuType *t = g_ptr_array_index(types, i);
        g_string_append_printf(out, "%u : %s\n", t->id, t->name);
    }
    old = vh_file_read(path, CACHE_MAX_SIZE, VH_FILE_NOFOLLOW, NULL, NULL);
    if (old && strcmp(old, out->str) == 0)
        return;
    if (g_mkdir_with_parents(dir, 0755) == 0)
        g_file_set_contents(path, out->str, (gssize)out->len, NULL);
}

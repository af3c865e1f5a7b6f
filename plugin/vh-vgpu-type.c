/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-vgpu-type: parsing creatable_vgpu_types; see the header. */
#include "vh-vgpu-type.h"
#include "vh-error.h"

#include <string.h>

void
vh_vgpu_type_free(VhVgpuType *type)
{
    if (type == NULL)
        return;
    g_free(type->name);
    g_free(type);
}

static gboolean
line_is_header(const char *id_part, const char *name_part)
{
    return g_ascii_strcasecmp(id_part, "ID") == 0 && g_str_has_prefix(name_part, "vGPU");
}

static gboolean
name_is_printable(const char *name)
{
    if (*name == '\0' || strlen(name) > 128)
        return FALSE;
    for (const char *p = name; *p; p++) {
        if (!g_ascii_isprint(*p))
            return FALSE;
    }
    return TRUE;
}

/* @line is cut in place (a line of vh_vgpu_types_parse's copy). */
static gboolean
parse_line(char *line, guint lineno, GPtrArray *types, GError **error)
{
    char *colon = strchr(line, ':');
    guint64 id;
    VhVgpuType *type;

    if (colon == NULL)
        goto bad;
    *colon = '\0';
    g_strstrip(line);
    g_strstrip(colon + 1);
    if (lineno == 1 && line_is_header(line, colon + 1))
        return TRUE;
    if (!g_ascii_string_to_unsigned(line, 10, 1, G_MAXUINT32, &id, NULL) ||
        !name_is_printable(colon + 1))
        goto bad;
    /* One id under two names (or one name under two ids): which one would a
     * write of the id create? Refused rather than guessed. */
    for (guint i = 0; i < types->len; i++) {
        const VhVgpuType *other = g_ptr_array_index(types, i);
        if ((other->id == id) != (strcmp(other->name, colon + 1) == 0)) {
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                        "line %u of creatable_vgpu_types lists type id %u or its name a second "
                        "time with a different partner: ambiguous, refused", lineno,
                        other->id == id ? other->id : (guint)id);
            return FALSE;
        }
    }
    type = g_new0(VhVgpuType, 1);
    type->id = (guint)id;
    type->name = g_strdup(colon + 1);
    g_ptr_array_add(types, type);
    return TRUE;

bad:
    /* (the driver's file is not ours: its content is not quoted) */
    g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                "line %u of creatable_vgpu_types is not 'ID : NAME'", lineno);
    return FALSE;
}

GPtrArray *
vh_vgpu_types_parse(const char *text, GError **error)
{
    g_autoptr(GPtrArray) types = g_ptr_array_new_with_free_func((GDestroyNotify)vh_vgpu_type_free);
    /* One copy cut into lines in place: every VF of every GPU is parsed. */
    g_autofree char *copy = g_strdup(text ? text : "");
    char *next = copy;

    for (guint lineno = 1; next; lineno++) {
        char *line = next;
        char *end = strchr(line, '\n');
        next = end ? end + 1 : NULL;
        if (end)
            *end = '\0';
        g_strstrip(line);
        if (*line == '\0')
            continue;
        if (!parse_line(line, lineno, types, error))
            return NULL;
    }
    return g_steal_pointer(&types);
}

const char *
vh_vgpu_type_profile(const char *type_name)
{
    /* (strncmp, not g_str_has_prefix: asked for each type of each VF, often) */
    return strncmp(type_name, "NVIDIA ", strlen("NVIDIA ")) == 0 ? type_name + strlen("NVIDIA ")
                                                                 : type_name;
}

guint
vh_vgpu_profile_framebuffer_gb(const char *profile)
{
    const char *last = strrchr(profile, '-');
    guint64 size = 0;
    const char *p;

    if (last == NULL || !g_ascii_isdigit(last[1]))
        return 0;
    for (p = last + 1; g_ascii_isdigit(*p); p++) {
        size = size * 10 + (guint64)(*p - '0');
        if (size > 1u << 20)
            return 0;
    }
    /* Digits must be followed by the license letter(s) and nothing else. */
    if (!g_ascii_isalpha(*p))
        return 0;
    for (; *p; p++) {
        if (!g_ascii_isalpha(*p))
            return 0;
    }
    return (guint)size;
}

const VhVgpuType *
vh_vgpu_types_find_id(GPtrArray *types, guint id)
{
    for (guint i = 0; types && i < types->len; i++) {
        const VhVgpuType *type = g_ptr_array_index(types, i);
        if (type->id == id)
            return type;
    }
    return NULL;
}

const VhVgpuType *
vh_vgpu_types_find_name(GPtrArray *types, const char *name)
{
    const char *wanted = vh_vgpu_type_profile(name);

    for (guint i = 0; types && i < types->len; i++) {
        const VhVgpuType *type = g_ptr_array_index(types, i);
        if (strcmp(vh_vgpu_type_profile(type->name), wanted) == 0)
            return type;
    }
    return NULL;
}

void
vh_vgpu_types_add_unique(GPtrArray *types, guint id, const char *name)
{
    VhVgpuType *type;

    if (vh_vgpu_types_find_id(types, id) || vh_vgpu_types_find_name(types, name))
        return;
    type = g_new0(VhVgpuType, 1);
    type->id = id;
    type->name = g_strdup(name);
    g_ptr_array_add(types, type);
}

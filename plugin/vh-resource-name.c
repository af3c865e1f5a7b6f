/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-resource-name: resource names from devices and vGPU types; see the header. */
#include "vh-resource-name.h"
#include "vh-vgpu-type.h"

#include <string.h>

char *
vh_resource_suffix_from_device_name(const char *db_name)
{
    g_autofree char *upper = g_ascii_strup(db_name, -1);
    GString *out = g_string_new(NULL);
    gboolean in_space = FALSE;

    g_strstrip(upper);
    for (const char *p = upper; *p; p++) {
        char c = *p;
        if (g_ascii_isspace(c)) {
            if (!in_space)
                g_string_append_c(out, '_');
            in_space = TRUE;
            continue;
        }
        in_space = FALSE;
        if (c == '/' || c == '.')
            g_string_append_c(out, '_');
        else if (g_ascii_isalnum(c) || c == '_')
            g_string_append_c(out, c);
        /* anything else ('[', ']', '(', '+', ...) is dropped */
    }
    return g_string_free(out, FALSE);
}

char *
vh_resource_name_for_gpu(VhPciNames *names, guint vendor, guint device, gboolean *from_fallback)
{
    g_autofree char *db_name = names ? vh_pci_names_device(names, vendor, device) : NULL;
    g_autofree char *suffix = db_name ? vh_resource_suffix_from_device_name(db_name) : NULL;

    if (from_fallback)
        *from_fallback = suffix == NULL || *suffix == '\0';
    if (suffix == NULL || *suffix == '\0')
        return g_strdup_printf(VH_RESOURCE_PREFIX "%04x", device);
    return g_strconcat(VH_RESOURCE_PREFIX, suffix, NULL);
}

char *
vh_resource_name_for_vgpu_type(const char *type_name)
{
    /* As mdev names: "NVIDIA RTX Pro 6000 Blackwell DC-1-24Q" must not
     * become a name with spaces that no domain can write. */
    return vh_resource_name_for_mdev_type(vh_vgpu_type_profile(type_name));
}

char *
vh_resource_name_for_mdev_type(const char *type_name)
{
    g_autofree char *copy = g_strstrip(g_strdup(type_name));
    GString *out = g_string_new(VH_RESOURCE_PREFIX);
    gboolean in_space = FALSE;

    for (const char *p = copy; *p; p++) {
        if (g_ascii_isspace(*p)) {
            if (!in_space)
                g_string_append_c(out, '_');
            in_space = TRUE;
        } else {
            g_string_append_c(out, *p);
            in_space = FALSE;
        }
    }
    return g_string_free(out, FALSE);
}

gboolean
vh_resource_name_is_valid(const char *name)
{
    const char *slash = name ? strchr(name, '/') : NULL;

    if (slash == NULL || slash == name || slash[1] == '\0' || strlen(name) > 253)
        return FALSE;
    for (const char *p = name; p < slash; p++) {
        if (!(g_ascii_islower(*p) || g_ascii_isdigit(*p) || *p == '.' || *p == '-'))
            return FALSE;
    }
    for (const char *p = slash + 1; *p; p++) {
        if (!(g_ascii_isalnum(*p) || *p == '_' || *p == '.' || *p == '-'))
            return FALSE;
    }
    return TRUE;
}

const char *
vh_resource_name_suffix(const char *name)
{
    return g_str_has_prefix(name, VH_RESOURCE_PREFIX) ? name + strlen(VH_RESOURCE_PREFIX) : name;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-profiles: parsing and applying a profiles file; see the header. */
#include "vh-profiles.h"
#include "vh-error.h"
#include "vh-sriov-vgpu.h"
#include "vh-vgpu-type.h"

#include <string.h>

void
vh_profile_line_free(VhProfileLine *line)
{
    if (line == NULL)
        return;
    g_free(line->address);
    g_free(line->profile);
    g_free(line);
}

void
vh_profile_result_free(VhProfileResult *result)
{
    if (result == NULL)
        return;
    g_free(result->message);
    g_free(result);
}

static gboolean
profile_is_valid(const char *profile)
{
    if (*profile == '\0' || strlen(profile) > 64)
        return FALSE;
    for (const char *p = profile; *p; p++) {
        if (!(g_ascii_isalnum(*p) || *p == '-' || *p == '_' || *p == ' ' || *p == '.'))
            return FALSE;
    }
    return TRUE;
}

GPtrArray *
vh_profiles_parse(const char *text, const char *path, GError **error)
{
    g_autoptr(GPtrArray) lines = g_ptr_array_new_with_free_func((GDestroyNotify)vh_profile_line_free);
    g_auto(GStrv) raw = g_strsplit(text, "\n", -1);
    g_autoptr(GString) bad = g_string_new(NULL);

    for (guint i = 0; raw[i]; i++) {
        g_autofree char *line = g_strdup(raw[i]);
        char *hash = strchr(line, '#');
        char *eq;
        VhPciAddress addr;
        VhProfileLine *parsed;

        if (hash)
            *hash = '\0';
        g_strstrip(line);
        if (*line == '\0')
            continue;
        eq = strchr(line, '=');
        if (eq == NULL) {
            g_string_append_printf(bad, "\n%s:%u: expected <bus-id>=<profile>, got '%.60s'", path,
                                   i + 1, line);
            continue;
        }
        *eq = '\0';
        g_strstrip(line);
        g_strstrip(eq + 1);
        if (!vh_pci_address_parse(line, &addr, NULL)) {
            g_string_append_printf(bad, "\n%s:%u: '%.40s' is not a PCI address (DDDD:BB:SS.F)",
                                   path, i + 1, line);
            continue;
        }
        if (!profile_is_valid(eq + 1)) {
            g_string_append_printf(bad, "\n%s:%u: '%.40s' is not a vGPU profile id or name", path,
                                   i + 1, eq + 1);
            continue;
        }
        parsed = g_new0(VhProfileLine, 1);
        parsed->line = i + 1;
        parsed->address = vh_pci_address_to_string(&addr);
        parsed->profile = g_strdup(eq + 1);
        g_ptr_array_add(lines, parsed);
    }
    if (bad->len) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "malformed lines in %s:%s", path, bad->str);
        return NULL;
    }
    return g_steal_pointer(&lines);
}

/* The name of the type @profile stands for on @vf: an id is looked up in
 * what the VF lists (or holds); a name is used as it is. */
static char *
resolve_name(VhPciDevice *vf, const char *profile, guint *id_out)
{
    guint64 id;

    *id_out = 0;
    if (g_ascii_string_to_unsigned(profile, 10, 1, G_MAXUINT32, &id, NULL)) {
        const VhVgpuType *t = vh_vgpu_types_find_id(vf->creatable_types, (guint)id);
        *id_out = (guint)id;
        return t ? g_strdup(vh_vgpu_type_profile(t->name)) : NULL;
    }
    return g_strdup(vh_vgpu_type_profile(profile));
}

static VhProfileResult *
apply_line(VhHost *host, const VhProfileLine *line, GHashTable *busy)
{
    VhProfileResult *r = g_new0(VhProfileResult, 1);
    g_autoptr(GError) error = NULL;
    g_autofree char *name = NULL;
    const char *holder = busy ? g_hash_table_lookup(busy, line->address) : NULL;
    VhPciDevice *vf;
    gboolean written = FALSE;
    guint held;
    guint id;

    r->line = line;
    if (vh_host_is_denied(host, line->address)) {
        r->outcome = VH_PROFILE_FAILED;
        r->message = g_strdup_printf("%s is denied ([host] deny lists it, its PF or a member of "
                                     "its IOMMU group): not touched", line->address);
        return r;
    }
    vh_host_invalidate(host, line->address);
    vf = vh_host_get_device(host, line->address, &error);
    if (vf == NULL || !vf->has_vgpu) {
        r->outcome = VH_PROFILE_FAILED;
        r->message = vf ? g_strdup_printf("%s has no nvidia/current_vgpu_type: not an SR-IOV vGPU VF",
                                          line->address)
                        : g_strdup(error->message);
        return r;
    }
    if (vf->current_vgpu_type != 0 &&
        g_ascii_string_to_unsigned(line->profile, 10, 1, G_MAXUINT32, NULL, NULL) &&
        vf->current_vgpu_type == (guint)g_ascii_strtoull(line->profile, NULL, 10)) {
        r->outcome = VH_PROFILE_UNCHANGED;
        r->message = g_strdup_printf("%s already holds %s", line->address, line->profile);
        return r;
    }
    if (holder) {
        r->outcome = VH_PROFILE_SKIPPED;
        r->message = g_strdup_printf("%s is held by running domain '%s': not touched", line->address,
                                     holder);
        return r;
    }
    held = vf->current_vgpu_type;
    name = resolve_name(vf, line->profile, &id);
    if (name == NULL) {
        r->outcome = held ? VH_PROFILE_SKIPPED : VH_PROFILE_FAILED;
        r->message = g_strdup_printf("%s: type id %u is not creatable here (holds %u)",
                                     line->address, id, held);
        return r;
    }
    /* set_profile re-reads the VF: @vf is freed from here on */
    if (!vh_sriov_vgpu_set_profile(host, line->address, name, &written, &error)) {
        r->outcome = g_error_matches(error, VH_ERROR, VH_ERROR_BUSY) && held
                         ? VH_PROFILE_SKIPPED : VH_PROFILE_FAILED;
        r->message = g_strdup(error->message);
        return r;
    }
    r->outcome = written ? VH_PROFILE_SET : VH_PROFILE_UNCHANGED;
    r->message = g_strdup_printf(written ? "%s -> %s" : "%s already holds %s", line->address, name);
    return r;
}

GPtrArray *
vh_profiles_apply(VhHost *host, GPtrArray *lines, GHashTable *busy)
{
    GPtrArray *results = g_ptr_array_new_with_free_func((GDestroyNotify)vh_profile_result_free);

    for (guint i = 0; i < lines->len; i++)
        g_ptr_array_add(results, apply_line(host, g_ptr_array_index(lines, i), busy));
    return results;
}

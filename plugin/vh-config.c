/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-config: loading and validating the key file; see the header. */
#include "vh-config.h"
#include "vh-error.h"
#include "vh-file.h"
#include "vh-pci-address.h"
#include "vh-resource-name.h"
#include "vh-log.h"

#include <errno.h>
#include <string.h>

#define VH_CONFIG_MAX_SIZE (1024 * 1024)

static const char *const host_keys[] = {
    "sysfs_root", "state_dir", "pci_ids", "use_hwdb", "deny", "vfio_dir",
    "libvirt_run_dir", "allocation", "release_driver", "lease_grace_seconds",
    "reset_retries", "reset_retry_ms", "manage_plain_hostdevs", "debug", "cache_dir",
    "sriov_manage", NULL,
};
static const char *const gpu_keys[] = { "vfs", "vgpu_mode", "mig", NULL };
static const char *const resource_keys[] = {
    "kind", "selector", "subsystem", "address", "profile", NULL,
};

const char *
vh_resource_kind_to_string(VhResourceKind kind)
{
    switch (kind) {
    case VH_RESOURCE_KIND_PASSTHROUGH: return "passthrough";
    case VH_RESOURCE_KIND_SRIOV_VGPU: return "sriov-vgpu";
    case VH_RESOURCE_KIND_MDEV: return "mdev";
    }
    return "unknown";
}

gboolean
vh_resource_kind_from_string(const char *text, VhResourceKind *kind)
{
    for (VhResourceKind k = VH_RESOURCE_KIND_PASSTHROUGH; k <= VH_RESOURCE_KIND_MDEV; k++) {
        if (g_strcmp0(text, vh_resource_kind_to_string(k)) == 0) {
            *kind = k;
            return TRUE;
        }
    }
    return FALSE;
}

const char *
vh_vgpu_mode_to_string(VhVgpuMode mode)
{
    return mode == VH_VGPU_MODE_MIXED ? "mixed" : "equal";
}

gboolean
vh_vgpu_mode_from_string(const char *text, VhVgpuMode *mode)
{
    if (g_strcmp0(text, "equal") == 0)
        *mode = VH_VGPU_MODE_EQUAL;
    else if (g_strcmp0(text, "mixed") == 0)
        *mode = VH_VGPU_MODE_MIXED;
    else
        return FALSE;
    return TRUE;
}

static void
gpu_decl_free(VhGpuDecl *decl)
{
    g_free(decl->address);
    g_free(decl->mig_layout);
    g_free(decl->mig_origin);
    g_free(decl);
}

static void
resource_decl_free(VhResourceDecl *decl)
{
    g_free(decl->name);
    g_strfreev(decl->addresses);
    g_free(decl->profile);
    g_free(decl);
}

VhConfig *
vh_config_new_default(void)
{
    VhConfig *config = g_new0(VhConfig, 1);

    config->sysfs_root = g_strdup("/sys");
    config->state_dir = g_strdup(VH_DEFAULT_STATE_DIR);
    config->use_hwdb = TRUE;
    config->deny = g_new0(char *, 1);
    config->vfio_dir = g_strdup(VH_DEFAULT_VFIO_DIR);
    config->libvirt_run_dir = g_strdup(VH_DEFAULT_LIBVIRT_RUN_DIR);
    config->allocation = VH_ALLOCATION_PACK;
    config->release_restores_driver = TRUE;
    config->lease_grace_seconds = 120;
    config->reset_retries = 10;
    config->reset_retry_ms = 1000;
    config->resources = g_ptr_array_new_with_free_func((GDestroyNotify)resource_decl_free);
    config->cache_dir = g_strdup(VH_DEFAULT_CACHE_DIR);
    config->sriov_manage = g_strdup(VH_DEFAULT_SRIOV_MANAGE);
    config->gpus = g_ptr_array_new_with_free_func((GDestroyNotify)gpu_decl_free);
    return config;
}

void
vh_config_free(VhConfig *config)
{
    if (config == NULL)
        return;
    g_free(config->path);
    g_free(config->sysfs_root);
    g_free(config->state_dir);
    g_free(config->pci_ids);
    g_strfreev(config->deny);
    g_free(config->vfio_dir);
    g_free(config->libvirt_run_dir);
    g_ptr_array_unref(config->resources);
    g_free(config->cache_dir);
    g_free(config->sriov_manage);
    g_ptr_array_unref(config->gpus);
    g_free(config);
}

/* Where errors point: the parsed key file has no line numbers, so find the
 * group header and then the key inside it in the raw text. */
typedef struct {
    const char *path;
    const char *data;
    gsize len;
} Source;

static guint
find_line(const Source *src, const char *group, const char *key)
{
    g_autofree char *text = g_strndup(src->data, src->len);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autofree char *header = g_strdup_printf("[%s]", group);
    gboolean in_group = FALSE;
    guint group_line = 0;

    for (guint i = 0; lines[i]; i++) {
        g_autofree char *line = g_strstrip(g_strdup(lines[i]));
        if (line[0] == '[') {
            if (in_group && key)
                break;
            in_group = strcmp(line, header) == 0;
            if (in_group)
                group_line = i + 1;
            if (in_group && key == NULL)
                return i + 1;
            continue;
        }
        if (in_group && key && g_str_has_prefix(line, key)) {
            const char *rest = line + strlen(key);
            while (*rest == ' ' || *rest == '\t')
                rest++;
            if (*rest == '=' || *rest == '[')
                return i + 1;
        }
    }
    /* A missing key (kind=, profile=) is reported at its group's header. */
    return group_line;
}

static void
set_config_error(GError **error, const Source *src, const char *group, const char *key,
                 const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static void
set_config_error(GError **error, const Source *src, const char *group, const char *key,
                 const char *fmt, ...)
{
    g_autofree char *msg = NULL;
    guint line = find_line(src, group, key);
    va_list args;

    va_start(args, fmt);
    msg = g_strdup_vprintf(fmt, args);
    va_end(args);
    if (key)
        g_set_error(error, VH_ERROR, VH_ERROR_CONFIG, "%s:%u: key '%s' in [%s]: %s",
                    src->path, line, key, group, msg);
    else
        g_set_error(error, VH_ERROR, VH_ERROR_CONFIG, "%s:%u: [%s]: %s",
                    src->path, line, group, msg);
}

/* GKeyFile merges a repeated group and keeps the last value of a repeated
 * key without a word. Either is a mistake (two [resource] groups of one
 * name, a line copied and edited): refuse both, naming both lines. */
static gboolean
check_repeats(const Source *src, GError **error)
{
    g_autofree char *text = g_strndup(src->data, src->len);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GHashTable) groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) keys = NULL;
    g_autofree char *group = NULL;

    for (guint i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]);
        char *end;
        guint first;

        if (*line == '\0' || *line == '#')
            continue;
        if (*line == '[' && (end = strrchr(line, ']')) != NULL) {
            g_free(group);
            group = g_strndup(line + 1, (gsize)(end - line - 1));
            first = GPOINTER_TO_UINT(g_hash_table_lookup(groups, group));
            if (first) {
                g_set_error(error, VH_ERROR, VH_ERROR_CONFIG,
                            "%s:%u: [%s]: group appears twice (lines %u and %u): "
                            "merge them into one", src->path, i + 1, group, first, i + 1);
                return FALSE;
            }
            g_hash_table_insert(groups, g_strdup(group), GUINT_TO_POINTER(i + 1));
            g_clear_pointer(&keys, g_hash_table_unref);
            keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
            continue;
        }
        if (keys == NULL || (end = strchr(line, '=')) == NULL)
            continue; /* GKeyFile reports what is not a key file */
        *end = '\0';
        g_strchomp(line);
        /* GKeyFile drops "key[locale]=" lines of other locales without a
         * word (deny[0]= would deny nothing): no key of ours has one. */
        if (strpbrk(line, "[]") != NULL) {
            g_set_error(error, VH_ERROR, VH_ERROR_CONFIG,
                        "%s:%u: key '%s' in [%s]: unknown key (no key takes a [locale] "
                        "suffix)", src->path, i + 1, line, group);
            return FALSE;
        }
        /* A value ending in a lone backslash after an invalid escape ("\q\")
         * makes GLib (2.74) set its GError twice and print a warning about a
         * bug; found by fuzz/fuzz-config. Refuse it here, by name. */
        {
            gsize n = strlen(end + 1), slashes = 0;
            while (slashes < n && end[n - slashes] == '\\')
                slashes++;
            if (slashes % 2 == 1) {
                g_set_error(error, VH_ERROR, VH_ERROR_CONFIG,
                            "%s:%u: key '%s' in [%s]: the value ends with a lone '\\' "
                            "(write '\\\\' for a backslash)", src->path, i + 1, line, group);
                return FALSE;
            }
        }
        first = GPOINTER_TO_UINT(g_hash_table_lookup(keys, line));
        if (first) {
            g_set_error(error, VH_ERROR, VH_ERROR_CONFIG,
                        "%s:%u: key '%s' in [%s]: set twice (lines %u and %u)",
                        src->path, i + 1, line, group, first, i + 1);
            return FALSE;
        }
        g_hash_table_insert(keys, g_strdup(line), GUINT_TO_POINTER(i + 1));
    }
    return TRUE;
}

static gboolean
check_known_keys(GKeyFile *kf, const Source *src, const char *group,
                 const char *const *known, GError **error)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);

    for (guint i = 0; keys && keys[i]; i++) {
        if (!g_strv_contains(known, keys[i])) {
            g_autofree char *list = g_strjoinv(", ", (char **)known);
            set_config_error(error, src, group, keys[i], "unknown key (known keys: %s)", list);
            return FALSE;
        }
    }
    return TRUE;
}

gboolean
vh_config_path_is_valid(const char *value)
{
    return value != NULL && g_path_is_absolute(value) && strstr(value, "/../") == NULL &&
           !g_str_has_suffix(value, "/..");
}

static gboolean
get_absolute_path(GKeyFile *kf, const Source *src, const char *group, const char *key,
                  char **out, GError **error)
{
    g_autofree char *value = NULL;

    if (!g_key_file_has_key(kf, group, key, NULL))
        return TRUE;
    value = g_key_file_get_string(kf, group, key, NULL);
    if (!vh_config_path_is_valid(value)) {
        set_config_error(error, src, group, key, "'%s' is not an absolute path",
                         value ? value : "");
        return FALSE;
    }
    g_free(*out);
    *out = g_steal_pointer(&value);
    return TRUE;
}

static gboolean
get_address_list(GKeyFile *kf, const Source *src, const char *group, const char *key,
                 GStrv *out, GError **error)
{
    g_auto(GStrv) values = NULL;
    g_autoptr(GPtrArray) canon = g_ptr_array_new_with_free_func(g_free);

    if (!g_key_file_has_key(kf, group, key, NULL))
        return TRUE;
    values = g_key_file_get_string_list(kf, group, key, NULL, NULL);
    for (guint i = 0; values && values[i]; i++) {
        VhPciAddress addr;
        g_autoptr(GError) local = NULL;
        g_strstrip(values[i]);
        if (!vh_pci_address_parse(values[i], &addr, &local)) {
            set_config_error(error, src, group, key, "%s", local->message);
            return FALSE; /* canon frees the addresses parsed so far */
        }
        g_ptr_array_add(canon, vh_pci_address_to_string(&addr));
    }
    g_ptr_array_add(canon, NULL);
    g_strfreev(*out);
    *out = (GStrv)g_ptr_array_free(g_steal_pointer(&canon), FALSE);
    return TRUE;
}

static gboolean
parse_id_pair(const char *text, guint *first, guint *second)
{
    guint64 a, b;
    g_auto(GStrv) parts = g_strsplit(text, ":", -1);

    if (g_strv_length(parts) != 2 || strlen(parts[0]) != 4 || strlen(parts[1]) != 4 ||
        !g_ascii_string_to_unsigned(parts[0], 16, 0, 0xffff, &a, NULL) ||
        !g_ascii_string_to_unsigned(parts[1], 16, 0, 0xffff, &b, NULL))
        return FALSE;
    *first = (guint)a;
    *second = (guint)b;
    return TRUE;
}

static gboolean
get_uint(GKeyFile *kf, const Source *src, const char *group, const char *key, guint max,
         guint *out, GError **error)
{
    g_autofree char *v = NULL;
    guint64 value;

    if (!g_key_file_has_key(kf, group, key, NULL))
        return TRUE;
    v = g_key_file_get_string(kf, group, key, NULL);
    if (!v || !g_ascii_string_to_unsigned(g_strstrip(v), 10, 0, max, &value, NULL)) {
        set_config_error(error, src, group, key, "expected a whole number from 0 to %u", max);
        return FALSE;
    }
    *out = (guint)value;
    return TRUE;
}

static gboolean
get_bool(GKeyFile *kf, const Source *src, const char *group, const char *key, gboolean *out,
         GError **error)
{
    g_autoptr(GError) local = NULL;
    gboolean value;

    if (!g_key_file_has_key(kf, group, key, NULL))
        return TRUE;
    value = g_key_file_get_boolean(kf, group, key, &local);
    if (local) {
        set_config_error(error, src, group, key, "expected true or false");
        return FALSE;
    }
    *out = value;
    return TRUE;
}

static gboolean
parse_host(GKeyFile *kf, const Source *src, VhConfig *config, GError **error)
{
    const char *g = "host";

    if (!g_key_file_has_group(kf, g))
        return TRUE;
    if (!check_known_keys(kf, src, g, host_keys, error) ||
        !get_absolute_path(kf, src, g, "sysfs_root", &config->sysfs_root, error) ||
        !get_absolute_path(kf, src, g, "state_dir", &config->state_dir, error) ||
        !get_absolute_path(kf, src, g, "pci_ids", &config->pci_ids, error) ||
        !get_absolute_path(kf, src, g, "vfio_dir", &config->vfio_dir, error) ||
        !get_absolute_path(kf, src, g, "libvirt_run_dir", &config->libvirt_run_dir, error) ||
        !get_absolute_path(kf, src, g, "cache_dir", &config->cache_dir, error) ||
        !get_absolute_path(kf, src, g, "sriov_manage", &config->sriov_manage, error) ||
        !get_address_list(kf, src, g, "deny", &config->deny, error))
        return FALSE;
    if (!get_bool(kf, src, g, "use_hwdb", &config->use_hwdb, error) ||
        !get_bool(kf, src, g, "manage_plain_hostdevs", &config->manage_plain_hostdevs, error) ||
        !get_bool(kf, src, g, "debug", &config->debug, error))
        return FALSE;
    if (!get_uint(kf, src, g, "lease_grace_seconds", 86400, &config->lease_grace_seconds, error) ||
        !get_uint(kf, src, g, "reset_retries", 100, &config->reset_retries, error) ||
        !get_uint(kf, src, g, "reset_retry_ms", 60000, &config->reset_retry_ms, error))
        return FALSE;
    if (g_key_file_has_key(kf, g, "allocation", NULL)) {
        g_autofree char *v = g_key_file_get_string(kf, g, "allocation", NULL);
        if (g_strcmp0(v, "pack") == 0)
            config->allocation = VH_ALLOCATION_PACK;
        else if (g_strcmp0(v, "spread") == 0)
            config->allocation = VH_ALLOCATION_SPREAD;
        else {
            set_config_error(error, src, g, "allocation", "'%s' is neither pack nor spread",
                             v ? v : "");
            return FALSE;
        }
    }
    if (g_key_file_has_key(kf, g, "release_driver", NULL)) {
        g_autofree char *v = g_key_file_get_string(kf, g, "release_driver", NULL);
        if (g_strcmp0(v, "restore") == 0)
            config->release_restores_driver = TRUE;
        else if (g_strcmp0(v, "vfio-pci") == 0)
            config->release_restores_driver = FALSE;
        else {
            set_config_error(error, src, g, "release_driver",
                             "'%s' is neither restore nor vfio-pci", v ? v : "");
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
resource_group_name(const char *group, char **name)
{
    size_t len = strlen(group);

    if (!g_str_has_prefix(group, "resource \"") || len < 12 || group[len - 1] != '"')
        return FALSE;
    *name = g_strndup(group + strlen("resource \""), len - strlen("resource \"") - 1);
    return TRUE;
}

/* One item of a MIG layout, "1g.18gb" or "3g.71gb*2": the profile in
 * NVML's spelling (slices, memory, an optional +me/-me/+me.all/+gfx), and
 * a count from 1 to 8. Which profiles a GPU has is checked by setup, which
 * knows the GPU. */
static gboolean
mig_item_is_valid(const char *item)
{
    static const char pattern[] =
        "^[1-8]g\\.[0-9]+gb(\\+me|-me|\\+me\\.all|\\+gfx)?(\\*[1-8])?$";
    g_autofree char *text = g_strstrip(g_strdup(item));

    return g_regex_match_simple(pattern, text, G_REGEX_CASELESS, 0);
}

/* mig = on-demand | PROFILE[*COUNT],... */
static gboolean
parse_gpu_mig(GKeyFile *kf, const Source *src, const char *group, VhGpuDecl *decl,
              GError **error)
{
    g_autofree char *value = g_key_file_get_string(kf, group, "mig", NULL);
    g_auto(GStrv) items = NULL;

    if (value == NULL)
        return TRUE;
    g_strstrip(value);
    decl->mig_origin = g_strdup_printf("%s:%u: key 'mig' in [%s]", src->path,
                                       find_line(src, group, "mig"), group);
    if (strcmp(value, "on-demand") == 0) {
        decl->mig_on_demand = TRUE;
        return TRUE;
    }
    items = g_strsplit(value, ",", -1);
    for (guint i = 0; items[i]; i++) {
        if (!mig_item_is_valid(items[i])) {
            set_config_error(error, src, group, "mig",
                             "'%s' is neither on-demand nor a list of GPU-instance profiles "
                             "such as 1g.18gb*4,3g.71gb ('%s' is not PROFILE[*COUNT])",
                             value, g_strstrip(items[i]));
            return FALSE;
        }
    }
    decl->mig_layout = g_steal_pointer(&value);
    return TRUE;
}

/* [gpu "DDDD:BB:SS.F"]: how vgpuctl setup prepares one SR-IOV GPU. */
static gboolean
parse_gpu(GKeyFile *kf, const Source *src, const char *group, const char *address,
          VhConfig *config, GError **error)
{
    g_autofree char *vfs = NULL;
    g_autofree char *mode = NULL;
    g_autofree char *canonical = NULL;
    VhPciAddress addr;
    VhGpuDecl *decl;

    if (!check_known_keys(kf, src, group, gpu_keys, error))
        return FALSE;
    if (vh_pci_address_parse(address, &addr, NULL))
        canonical = vh_pci_address_to_string(&addr);
    if (canonical == NULL) {
        set_config_error(error, src, group, NULL,
                         "'%s' is not a PCI address like 0000:41:00.0", address);
        return FALSE;
    }
    if (vh_config_gpu(config, canonical)) {
        set_config_error(error, src, group, NULL, "GPU declared twice");
        return FALSE;
    }
    decl = g_new0(VhGpuDecl, 1);
    decl->address = g_steal_pointer(&canonical);
    g_ptr_array_add(config->gpus, decl);
    vfs = g_key_file_get_string(kf, group, "vfs", NULL);
    if (vfs && strcmp(g_strstrip(vfs), "enabled") == 0)
        decl->enable_vfs = TRUE;
    else if (vfs && strcmp(vfs, "disabled") != 0) {
        set_config_error(error, src, group, "vfs", "'%s' is neither enabled nor disabled", vfs);
        return FALSE;
    }
    mode = g_key_file_get_string(kf, group, "vgpu_mode", NULL);
    decl->has_mode = mode != NULL;
    if (mode && !vh_vgpu_mode_from_string(g_strstrip(mode), &decl->mode)) {
        set_config_error(error, src, group, "vgpu_mode", "'%s' is neither equal nor mixed", mode);
        return FALSE;
    }
    return parse_gpu_mig(kf, src, group, decl, error);
}

static gboolean
quoted_group_name(const char *group, const char *kind, char **name)
{
    g_autofree char *prefix = g_strdup_printf("%s \"", kind);
    size_t len = strlen(group);

    if (!g_str_has_prefix(group, prefix) || len < strlen(prefix) + 2 || group[len - 1] != '"')
        return FALSE;
    *name = g_strndup(group + strlen(prefix), len - strlen(prefix) - 1);
    return TRUE;
}

static gboolean
parse_resource(GKeyFile *kf, const Source *src, const char *group, const char *name,
               VhConfig *config, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *kind = NULL;
    g_autofree char *selector = NULL;
    g_autofree char *subsystem = NULL;
    VhResourceDecl *decl;

    if (!check_known_keys(kf, src, group, resource_keys, error))
        return FALSE;
    if (!vh_resource_name_is_valid(name)) {
        set_config_error(error, src, group, NULL,
                         "'%s' is not a resource name like nvidia.com/GA102GL_A10", name);
        return FALSE;
    }
    for (guint i = 0; i < config->resources->len; i++) {
        const VhResourceDecl *other = g_ptr_array_index(config->resources, i);
        if (strcmp(other->name, name) == 0) {
            set_config_error(error, src, group, NULL, "resource declared twice");
            return FALSE;
        }
    }
    decl = g_new0(VhResourceDecl, 1);
    decl->name = g_strdup(name);
    g_ptr_array_add(config->resources, decl);

    kind = g_key_file_get_string(kf, group, "kind", NULL);
    if (kind == NULL || !vh_resource_kind_from_string(kind, &decl->kind)) {
        set_config_error(error, src, group, "kind",
                         kind ? "'%s' is not passthrough, sriov-vgpu or mdev" : "%s is required",
                         kind ? kind : "kind");
        return FALSE;
    }
    selector = g_key_file_get_string(kf, group, "selector", NULL);
    if (selector == NULL || !parse_id_pair(g_strstrip(selector), &decl->vendor, &decl->device)) {
        set_config_error(error, src, group, "selector",
                         "expected vendor:device in hex, e.g. selector=10de:2236");
        return FALSE;
    }
    subsystem = g_key_file_get_string(kf, group, "subsystem", NULL);
    if (subsystem) {
        decl->has_subsystem = TRUE;
        if (!parse_id_pair(g_strstrip(subsystem), &decl->subsystem_vendor, &decl->subsystem_device)) {
            set_config_error(error, src, group, "subsystem",
                             "expected vendor:device in hex, e.g. subsystem=10de:1482");
            return FALSE;
        }
    }
    if (!get_address_list(kf, src, group, "address", &decl->addresses, error))
        return FALSE;
    decl->profile = g_key_file_get_string(kf, group, "profile", NULL);
    if (decl->profile)
        g_strstrip(decl->profile);
    if (decl->kind == VH_RESOURCE_KIND_PASSTHROUGH && decl->profile) {
        set_config_error(error, src, group, "profile", "a passthrough resource has no profile");
        return FALSE;
    }
    if (decl->kind != VH_RESOURCE_KIND_PASSTHROUGH &&
        (decl->profile == NULL || *decl->profile == '\0')) {
        set_config_error(error, src, group, "profile",
                         "kind=%s needs profile= (the vGPU type name, e.g. L40S-24Q)", kind);
        return FALSE;
    }
    return TRUE;
}

/* The first line GKeyFile would refuse (a rough copy of its rule: not
 * blank, not a comment, not [group], no '='); 1 when none is found. */
static guint
first_bad_line(const Source *src)
{
    g_autofree char *text = g_strndup(src->data, src->len);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);

    for (guint i = 0; lines[i]; i++) {
        const char *line = g_strstrip(lines[i]);
        if (*line == '\0' || *line == '#' || strchr(line, '=') != NULL)
            continue;
        if (*line == '[' && line[strlen(line) - 1] == ']')
            continue;
        return i + 1;
    }
    return 1;
}

VhConfig *
vh_config_load_data(const char *data, gsize len, const char *path, GError **error)
{
    g_autoptr(VhConfig) config = vh_config_new_default();
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) groups = NULL;
    Source src = { path ? path : "(config)", data, len };

    config->path = g_strdup(path);
    /* GKeyFile reads past a NUL byte; check_repeats() and the line numbers
     * of errors would not (found by fuzz/fuzz-config). */
    if (len > 0 && memchr(data, '\0', len) != NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_CONFIG,
                    "%s: contains a NUL byte: not a text file", src.path);
        return NULL;
    }
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &local)) {
        /* GKeyFile quotes the offending line: a file that fails to parse
         * may be anybody's (--config /etc/shadow), so no line of it is
         * shown; the line number is. */
        g_set_error(error, VH_ERROR, VH_ERROR_CONFIG,
                    "%s:%u: not a key file (every line is [group], key=value in a group, or "
                    "# comment)",
                    src.path, first_bad_line(&src));
        return NULL;
    }
    if (!check_repeats(&src, error))
        return NULL;
    groups = g_key_file_get_groups(kf, NULL);
    for (guint i = 0; groups[i]; i++) {
        g_autofree char *name = NULL;
        if (strcmp(groups[i], "host") == 0) {
            if (!parse_host(kf, &src, config, error))
                return NULL;
        } else if (resource_group_name(groups[i], &name)) {
            if (!parse_resource(kf, &src, groups[i], name, config, error))
                return NULL;
        } else if (quoted_group_name(groups[i], "gpu", &name)) {
            if (!parse_gpu(kf, &src, groups[i], name, config, error))
                return NULL;
        } else {
            set_config_error(error, &src, groups[i], NULL,
                             "unknown group (expected [host], [gpu \"ADDR\"] or "
                             "[resource \"NAME\"])");
            return NULL;
        }
    }
    return g_steal_pointer(&config);
}

VhConfig *
vh_config_load_file(const char *path, gboolean optional, GError **error)
{
    g_autofree char *data = NULL;
    gsize len = 0;
    g_autoptr(GError) local = NULL;
    VhConfig *config;

    /* a symlink to the file is fine (configuration management); a FIFO
     * or a device is not */
    data = vh_file_read(path, VH_CONFIG_MAX_SIZE, VH_FILE_FOLLOW, &len, &local);
    if (data == NULL && optional && g_error_matches(local, VH_ERROR, VH_ERROR_NOT_FOUND))
        return vh_config_new_default();
    if (data == NULL && g_error_matches(local, VH_ERROR, VH_ERROR_INVALID)) {
        g_set_error(error, VH_ERROR, VH_ERROR_CONFIG,
                    "%s: larger than %d bytes, not a vgpu-hook configuration",
                    path, VH_CONFIG_MAX_SIZE);
        return NULL;
    }
    if (data == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_CONFIG, "cannot read configuration: %s",
                    local->message);
        return NULL;
    }
    config = vh_config_load_data(data, len, path, error);
    if (config && config->debug)
        vh_log_enable_debug();
    return config;
}

gboolean
vh_config_is_denied(const VhConfig *config, const char *address)
{
    return config->deny && g_strv_contains((const char *const *)config->deny, address);
}

const VhGpuDecl *
vh_config_gpu(const VhConfig *config, const char *address)
{
    for (guint i = 0; config->gpus && i < config->gpus->len; i++) {
        const VhGpuDecl *decl = g_ptr_array_index(config->gpus, i);
        if (strcmp(decl->address, address) == 0)
            return decl;
    }
    return NULL;
}

VhVgpuMode
vh_config_gpu_mode(const VhConfig *config, const char *address)
{
    const VhGpuDecl *decl = vh_config_gpu(config, address);

    return decl && decl->has_mode ? decl->mode : VH_VGPU_MODE_EQUAL;
}

gboolean
vh_config_gpu_mig_on_demand(const VhConfig *config, const char *address)
{
    const VhGpuDecl *decl = vh_config_gpu(config, address);

    return decl && decl->mig_on_demand;
}

const char *
vh_config_resource_profile(const VhConfig *config, const char *name)
{
    for (guint i = 0; i < config->resources->len; i++) {
        const VhResourceDecl *decl = g_ptr_array_index(config->resources, i);
        if (strcmp(decl->name, name) == 0)
            return decl->profile;
    }
    return vh_resource_name_suffix(name);
}

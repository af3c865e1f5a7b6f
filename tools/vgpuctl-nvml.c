/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl nvml: a read-only probe of NVIDIA's NVML.
 *
 * Asks NVML only questions: driver version, and per GPU its name, PCI ids,
 * virtualization mode, MIG mode, mixed-size (heterogeneous) mode,
 * GPU-instance profiles with their placements, existing GPU instances (and
 * what still fits), supported and creatable vGPU types; then compares the
 * profiles with vgpu-hook's built-in MIG table for that GPU. It changes
 * nothing (no mode, no instance, no sysfs write), so it is safe on any host.
 * Each call's result or its error sentence is reported; a failing call does
 * not stop the others. The data is collected as JSON (--json prints it) and
 * the text form is rendered from the same tree. */
#include "config.h"
#include "vgpuctl.h"

#include <stdio.h>
#include <string.h>

static void
add_error(JsonBuilder *b, const char *member, const GError *error)
{
    g_autofree char *name = g_strdup_printf("%s_error", member);

    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, error->message);
}

static void
add_string(JsonBuilder *b, const char *member, const char *value)
{
    json_builder_set_member_name(b, member);
    json_builder_add_string_value(b, value);
}

static void
add_int(JsonBuilder *b, const char *member, gint64 value)
{
    json_builder_set_member_name(b, member);
    json_builder_add_int_value(b, value);
}

static void
add_bool(JsonBuilder *b, const char *member, gboolean value)
{
    json_builder_set_member_name(b, member);
    json_builder_add_boolean_value(b, value);
}

static void
probe_identity(VhNvml *nvml, const char *addr, JsonBuilder *b)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *name = vh_nvml_device_name(nvml, addr, &error);
    guint vendor = 0, device = 0;

    if (name)
        add_string(b, "name", name);
    else
        add_error(b, "name", error);
    g_clear_error(&error);
    if (vh_nvml_device_pci_ids(nvml, addr, &vendor, &device, &error)) {
        g_autofree char *ids = g_strdup_printf("%04x:%04x", vendor, device);
        add_string(b, "pci_ids", ids);
    } else {
        add_error(b, "pci_ids", error);
    }
}

static void
probe_modes(VhNvml *nvml, const char *addr, JsonBuilder *b, gboolean *mig_on)
{
    g_autoptr(GError) error = NULL;
    VhNvmlVirtMode mode;
    gboolean current = FALSE, pending = FALSE, hetero = FALSE;

    if (vh_nvml_virtualization_mode(nvml, addr, &mode, &error))
        add_string(b, "virtualization_mode", vh_nvml_virt_mode_name(mode));
    else
        add_error(b, "virtualization_mode", error);
    g_clear_error(&error);
    if (vh_nvml_mig_mode(nvml, addr, &current, &pending, &error)) {
        json_builder_set_member_name(b, "mig_mode");
        json_builder_begin_object(b);
        add_bool(b, "current", current);
        add_bool(b, "pending", pending);
        json_builder_end_object(b);
    } else {
        add_error(b, "mig_mode", error);
    }
    g_clear_error(&error);
    if (vh_nvml_heterogeneous_mode(nvml, addr, &hetero, &error))
        add_bool(b, "vgpu_heterogeneous_mode", hetero);
    else
        add_error(b, "vgpu_heterogeneous_mode", error);
    *mig_on = current;
}

static void
probe_profile(VhNvml *nvml, const char *addr, const VhNvmlGiProfile *p, gboolean mig_on,
              JsonBuilder *b)
{
    g_autoptr(GError) error = NULL;
    guint remaining = 0;

    json_builder_begin_object(b);
    add_int(b, "index", p->index);
    add_int(b, "id", p->id);
    add_string(b, "name", p->name);
    add_int(b, "slices", p->slices);
    add_int(b, "instance_count", p->instance_count);
    add_int(b, "memory_mb", (gint64)p->memory_mb);
    if (p->placements) {
        json_builder_set_member_name(b, "placements");
        json_builder_begin_array(b);
        for (guint i = 0; i < p->placements->len; i++) {
            const VhNvmlPlacement *pl = &g_array_index(p->placements, VhNvmlPlacement, i);
            g_autofree char *text = g_strdup_printf("%u:%u", pl->start, pl->size);
            json_builder_add_string_value(b, text);
        }
        json_builder_end_array(b);
    } else {
        add_string(b, "placements_error", p->placements_error);
    }
    /* Remaining capacity means something only with MIG on. */
    if (mig_on) {
        if (vh_nvml_gi_remaining(nvml, addr, p->id, &remaining, &error))
            add_int(b, "remaining", remaining);
        else
            add_error(b, "remaining", error);
    }
    json_builder_end_object(b);
}

static void
probe_instances(VhNvml *nvml, const char *addr, GPtrArray *profiles, JsonBuilder *b)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GArray) list = vh_nvml_gi_list(nvml, addr, profiles, &error);

    if (list == NULL) {
        add_error(b, "gpu_instances", error);
        return;
    }
    json_builder_set_member_name(b, "gpu_instances");
    json_builder_begin_array(b);
    for (guint i = 0; i < list->len; i++) {
        const VhNvmlGpuInstance *gi = &g_array_index(list, VhNvmlGpuInstance, i);
        g_autofree char *placement = g_strdup_printf("%u:%u", gi->start, gi->size);

        json_builder_begin_object(b);
        add_int(b, "id", gi->id);
        add_int(b, "profile_id", gi->profile_id);
        for (guint p = 0; p < profiles->len; p++) {
            const VhNvmlGiProfile *profile = g_ptr_array_index(profiles, p);
            if (profile->id == gi->profile_id)
                add_string(b, "profile", profile->name);
        }
        add_string(b, "placement", placement);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

/* The driver's table next to ours: "matches", or what differs. */
static void
probe_builtin(const char *name, guint device_id, GPtrArray *profiles, JsonBuilder *b)
{
    g_autoptr(VhMigTable) table = vh_mig_table_builtin_for_device(device_id);
    g_autoptr(GString) diff = g_string_new(NULL);

    if (table == NULL && name)
        table = vh_mig_table_builtin_for_name(name);
    if (table == NULL || profiles->len == 0)
        return;
    add_string(b, "builtin_mig_table", vh_mig_table_model(table));
    for (guint i = 0; i < profiles->len; i++) {
        const VhNvmlGiProfile *got = g_ptr_array_index(profiles, i);
        const VhMigProfile *want = vh_mig_table_find_id(table, got->id);
        gboolean same = want && g_ascii_strcasecmp(want->name, got->name) == 0 &&
                        want->slices == got->slices && want->instance_count == got->instance_count &&
                        got->placements && want->placements->len == got->placements->len;

        for (guint p = 0; same && p < got->placements->len; p++)
            same = g_array_index(got->placements, VhNvmlPlacement, p).start ==
                       g_array_index(want->placements, VhMigPlacement, p).start &&
                   g_array_index(got->placements, VhNvmlPlacement, p).size ==
                       g_array_index(want->placements, VhMigPlacement, p).size;
        if (!same)
            g_string_append_printf(diff, "%sprofile %u (%s)", diff->len ? ", " : "", got->id,
                                   got->name);
    }
    if (profiles->len != vh_mig_table_n_profiles(table))
        g_string_append_printf(diff, "%sthe driver lists %u profiles, the table %u",
                               diff->len ? ", " : "", profiles->len,
                               vh_mig_table_n_profiles(table));
    add_string(b, "builtin_mig_table_check", diff->len ? diff->str : "matches");
}

static void
probe_vgpu_types(VhNvml *nvml, const char *addr, gboolean creatable, JsonBuilder *b)
{
    const char *member = creatable ? "creatable_vgpu_types" : "supported_vgpu_types";
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) types = vh_nvml_vgpu_types(nvml, addr, creatable, &error);

    if (types == NULL) {
        add_error(b, member, error);
        return;
    }
    json_builder_set_member_name(b, member);
    json_builder_begin_array(b);
    for (guint i = 0; i < types->len; i++) {
        const VhNvmlVgpuType *t = g_ptr_array_index(types, i);
        json_builder_begin_object(b);
        add_int(b, "id", t->id);
        add_string(b, "name", t->name);
        add_int(b, "framebuffer_mb", (gint64)t->framebuffer_mb);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static void
probe_gpu(VhNvml *nvml, const char *addr, JsonBuilder *b)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) profiles = NULL;
    g_autofree char *name = vh_nvml_device_name(nvml, addr, NULL);
    guint vendor = 0, device = 0;
    gboolean mig_on = FALSE;

    add_string(b, "address", addr);
    probe_identity(nvml, addr, b);
    probe_modes(nvml, addr, b, &mig_on);
    profiles = vh_nvml_gi_profiles(nvml, addr, &error);
    if (profiles == NULL) {
        add_error(b, "gpu_instance_profiles", error);
    } else {
        json_builder_set_member_name(b, "gpu_instance_profiles");
        json_builder_begin_array(b);
        for (guint i = 0; i < profiles->len; i++)
            probe_profile(nvml, addr, g_ptr_array_index(profiles, i), mig_on, b);
        json_builder_end_array(b);
        probe_instances(nvml, addr, profiles, b);
        vh_nvml_device_pci_ids(nvml, addr, &vendor, &device, NULL);
        probe_builtin(name, device, profiles, b);
    }
    probe_vgpu_types(nvml, addr, FALSE, b);
    probe_vgpu_types(nvml, addr, TRUE, b);
}

/* The addresses to probe: @only, or every GPU NVML counts. */
static GPtrArray *
probe_addresses(VhNvml *nvml, const char *only, JsonBuilder *b)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *addrs = g_ptr_array_new_with_free_func(g_free);
    guint count = 0;

    if (only) {
        g_ptr_array_add(addrs, g_strdup(only));
        return addrs;
    }
    if (!vh_nvml_device_count(nvml, &count, &error)) {
        add_error(b, "device_count", error);
        return addrs;
    }
    add_int(b, "device_count", count);
    for (guint i = 0; i < count; i++) {
        char *addr = vh_nvml_device_address(nvml, i, &error);
        if (addr == NULL) {
            g_autofree char *member = g_strdup_printf("device_%u", i);
            add_error(b, member, error);
            g_clear_error(&error);
            continue;
        }
        g_ptr_array_add(addrs, addr);
    }
    return addrs;
}

static JsonNode *
probe(const char *only, gboolean *available)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(GError) error = NULL;
    g_autoptr(VhNvml) nvml = vh_nvml_open(&error);
    g_autoptr(GPtrArray) addrs = NULL;
    g_autofree char *version = NULL;

    json_builder_begin_object(b);
    add_bool(b, "available", nvml != NULL);
    *available = nvml != NULL;
    if (nvml == NULL) {
        add_string(b, "error", error->message);
        json_builder_end_object(b);
        return json_builder_get_root(b);
    }
    add_string(b, "library", vh_nvml_library(nvml));
    version = vh_nvml_driver_version(nvml, &error);
    if (version)
        add_string(b, "driver_version", version);
    else
        add_error(b, "driver_version", error);
    addrs = probe_addresses(nvml, only, b);
    json_builder_set_member_name(b, "gpus");
    json_builder_begin_array(b);
    for (guint i = 0; i < addrs->len; i++) {
        json_builder_begin_object(b);
        probe_gpu(nvml, g_ptr_array_index(addrs, i), b);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* ---- text, from the JSON tree --------------------------------------------------- */

/* "  LABEL: value" or "  LABEL: error: sentence". */
static void
print_member(JsonObject *o, const char *member, const char *label)
{
    g_autofree char *err = g_strdup_printf("%s_error", member);

    if (json_object_has_member(o, err))
        printf("  %s: error: %s\n", label, json_object_get_string_member(o, err));
    else if (json_object_has_member(o, member)) {
        JsonNode *n = json_object_get_member(o, member);
        if (json_node_get_value_type(n) == G_TYPE_BOOLEAN)
            printf("  %s: %s\n", label, json_node_get_boolean(n) ? "on" : "off");
        else
            printf("  %s: %s\n", label, json_node_get_string(n));
    }
}

static void
print_profiles(JsonObject *gpu)
{
    JsonArray *profiles;

    if (!json_object_has_member(gpu, "gpu_instance_profiles")) {
        print_member(gpu, "gpu_instance_profiles", "GPU-instance profiles");
        return;
    }
    profiles = json_object_get_array_member(gpu, "gpu_instance_profiles");
    printf("  GPU-instance profiles:%s\n", json_array_get_length(profiles) ? "" : " none");
    for (guint i = 0; i < json_array_get_length(profiles); i++) {
        JsonObject *p = json_array_get_object_element(profiles, i);
        g_autoptr(GString) where = g_string_new(NULL);

        if (json_object_has_member(p, "placements")) {
            JsonArray *pl = json_object_get_array_member(p, "placements");
            for (guint j = 0; j < json_array_get_length(pl); j++)
                g_string_append_printf(where, "%s%s", j ? " " : "",
                                       json_array_get_string_element(pl, j));
        } else {
            g_string_append_printf(where, "error: %s",
                                   json_object_get_string_member(p, "placements_error"));
        }
        printf("    %-3" G_GINT64_FORMAT " %-12s %" G_GINT64_FORMAT " slices, max %" G_GINT64_FORMAT
               ", %" G_GINT64_FORMAT " MiB, placements %s\n",
               json_object_get_int_member(p, "id"), json_object_get_string_member(p, "name"),
               json_object_get_int_member(p, "slices"), json_object_get_int_member(p, "instance_count"),
               json_object_get_int_member(p, "memory_mb"), where->str);
    }
}

static void
print_list(JsonObject *gpu, const char *member, const char *label)
{
    g_autofree char *err = g_strdup_printf("%s_error", member);
    JsonArray *list;

    if (json_object_has_member(gpu, err)) {
        print_member(gpu, member, label);
        return;
    }
    if (!json_object_has_member(gpu, member))
        return;
    list = json_object_get_array_member(gpu, member);
    printf("  %s:%s\n", label, json_array_get_length(list) ? "" : " none");
    for (guint i = 0; i < json_array_get_length(list); i++) {
        JsonObject *o = json_array_get_object_element(list, i);
        if (json_object_has_member(o, "placement"))
            printf("    GPU instance %" G_GINT64_FORMAT ": %s at %s\n",
                   json_object_get_int_member(o, "id"),
                   json_object_get_string_member_with_default(o, "profile", "?"),
                   json_object_get_string_member(o, "placement"));
        else
            printf("    %-5" G_GINT64_FORMAT " %s (%" G_GINT64_FORMAT " MiB)\n",
                   json_object_get_int_member(o, "id"), json_object_get_string_member(o, "name"),
                   json_object_get_int_member(o, "framebuffer_mb"));
    }
}

static void
print_gpu(JsonObject *gpu)
{
    printf("GPU %s\n", json_object_get_string_member(gpu, "address"));
    print_member(gpu, "name", "name");
    print_member(gpu, "pci_ids", "PCI ids");
    print_member(gpu, "virtualization_mode", "virtualization mode");
    if (json_object_has_member(gpu, "mig_mode")) {
        JsonObject *m = json_object_get_object_member(gpu, "mig_mode");
        printf("  MIG mode: %s (pending %s)\n",
               json_object_get_boolean_member(m, "current") ? "on" : "off",
               json_object_get_boolean_member(m, "pending") ? "on" : "off");
    } else {
        print_member(gpu, "mig_mode", "MIG mode");
    }
    print_member(gpu, "vgpu_heterogeneous_mode", "vGPU heterogeneous mode");
    print_profiles(gpu);
    print_list(gpu, "gpu_instances", "GPU instances");
    if (json_object_has_member(gpu, "builtin_mig_table"))
        printf("  built-in MIG table %s: %s\n",
               json_object_get_string_member(gpu, "builtin_mig_table"),
               json_object_get_string_member(gpu, "builtin_mig_table_check"));
    print_list(gpu, "supported_vgpu_types", "supported vGPU types");
    print_list(gpu, "creatable_vgpu_types", "creatable vGPU types");
}

static void
print_text(JsonNode *root)
{
    JsonObject *o = json_node_get_object(root);
    JsonArray *gpus = json_object_get_array_member(o, "gpus");

    printf("NVML: %s\n", json_object_get_string_member(o, "library"));
    if (json_object_has_member(o, "driver_version"))
        printf("NVML: driver %s\n", json_object_get_string_member(o, "driver_version"));
    else
        printf("NVML: driver version: error: %s\n",
               json_object_get_string_member(o, "driver_version_error"));
    if (json_object_has_member(o, "device_count_error"))
        printf("GPUs: error: %s\n", json_object_get_string_member(o, "device_count_error"));
    for (guint i = 0; i < json_array_get_length(gpus); i++)
        print_gpu(json_array_get_object_element(gpus, i));
}

int
vh_ctl_cmd_nvml(VhCtl *ctl, int argc, char **argv)
{
    g_autofree char *gpu = NULL, *library = NULL;
    GOptionEntry entries[] = {
        { "gpu", 0, 0, G_OPTION_ARG_STRING, &gpu, "Only this GPU (PCI address)", "ADDR" },
        { "library", 0, 0, G_OPTION_ARG_FILENAME, &library,
          "NVML library to load instead of libnvidia-ml.so.1", "FILE" },
        { NULL },
    };
    g_autoptr(JsonNode) root = NULL;
    gboolean available = FALSE;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("nvml"), entries, &argc, &argv, 0, 0, &rc))
        return rc;
    if (gpu) {
        g_autoptr(GError) error = NULL;
        VhPciAddress addr;

        if (!vh_pci_address_parse(gpu, &addr, &error))
            return vh_ctl_fail("nvml: %s", error->message);
        g_free(gpu);
        gpu = vh_pci_address_to_string(&addr);
    }
    if (library)
        vh_nvml_set_library(library);
    root = probe(gpu, &available);
    if (ctl->json)
        vh_ctl_print_json(root);
    else if (available)
        print_text(root);
    if (!available)
        return vh_ctl_fail("nvml: %s",
                           json_object_get_string_member(json_node_get_object(root), "error"));
    return 0;
}

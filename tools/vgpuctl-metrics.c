/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl metrics: this host's resources, devices and hook outcomes in the
 * Prometheus text exposition format (version 0.0.4), for node_exporter's
 * textfile collector.
 *
 * The resource numbers are the catalogue's (as `vgpuctl resources`), the
 * device lines what leases and sysfs say now, the counters what the hook
 * recorded in the state directory (vh-metrics). With --output the file is
 * replaced atomically (temporary file in the same directory, fsync, rename):
 * node_exporter never reads half a file, and a failed run leaves the last
 * good one in place (node_exporter's node_textfile_mtime_seconds shows its
 * age). */
#include "config.h"
#include "vgpuctl.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define PREFIX "vgpu_hook_"

/* ---- the exposition format ------------------------------------------------ */

static void
family(GString *out, const char *name, const char *type, const char *help)
{
    /* (HELP texts are ours: no backslash or newline to escape) */
    g_string_append_printf(out, "# HELP " PREFIX "%s %s\n# TYPE " PREFIX "%s %s\n", name, help,
                           name, type);
}

/* A label value: backslash, double quote and line feed escaped. */
static void
append_label_value(GString *out, const char *value)
{
    g_string_append_c(out, '"');
    for (const char *c = value ? value : ""; *c; c++) {
        if (*c == '\\' || *c == '"')
            g_string_append_c(out, '\\');
        if (*c == '\n')
            g_string_append(out, "\\n");
        else
            g_string_append_c(out, *c);
    }
    g_string_append_c(out, '"');
}

/* One sample: NAME{KEY="VALUE",...} VALUE; labels are NULL-terminated
 * key/value pairs. */
static void
sample(GString *out, const char *name, guint64 value, ...)
{
    va_list args;
    const char *key;
    gboolean first = TRUE;

    g_string_append_printf(out, PREFIX "%s", name);
    va_start(args, value);
    while ((key = va_arg(args, const char *)) != NULL) {
        g_string_append_printf(out, "%s%s=", first ? "{" : ",", key);
        append_label_value(out, va_arg(args, const char *));
        first = FALSE;
    }
    va_end(args);
    g_string_append_printf(out, "%s %" G_GUINT64_FORMAT "\n", first ? "" : "}", value);
}

/* ---- what the host has ------------------------------------------------------- */

/* The host's inventory, its warnings on stderr. */
static VhInventory *
host_view_load(VhCtl *ctl, GError **error)
{
    VhInventory *view;

    if (!vh_ctl_setup(ctl, error) || (view = vh_inventory_open(ctl->host, NULL, 0, error)) == NULL)
        return NULL;
    for (guint i = 0; i < view->warnings->len; i++)
        fprintf(stderr, "vgpuctl: warning: %s\n", (char *)g_ptr_array_index(view->warnings, i));
    return view;
}

/* ---- the metrics -------------------------------------------------------------- */

static void
add_resources(GString *out, VhInventory *view)
{
    static const struct {
        const char *name, *help;
        gsize offset;
    } gauges[] = {
        { "resource_capacity", "Devices or vGPU instances of the resource this host has.",
          G_STRUCT_OFFSET(VhResource, capacity) },
        { "resource_allocatable", "Devices or vGPU instances of the resource free to take now.",
          G_STRUCT_OFFSET(VhResource, allocatable) },
        { "resource_in_use", "Devices or vGPU instances of the resource held by leases.",
          G_STRUCT_OFFSET(VhResource, in_use) },
    };

    for (guint g = 0; g < G_N_ELEMENTS(gauges); g++) {
        family(out, gauges[g].name, "gauge", gauges[g].help);
        for (guint i = 0; i < view->catalog->resources->len; i++) {
            const VhResource *res = g_ptr_array_index(view->catalog->resources, i);
            sample(out, gauges[g].name, G_STRUCT_MEMBER(guint, res, gauges[g].offset),
                   "resource", res->name, "kind", vh_resource_kind_to_string(res->kind), NULL);
        }
    }
}

/* The profile a VF holds: its name, its type id when the name is unknown,
 * "" when none (or not a VF). */
static char *
device_profile(VhInventory *view, const VhPciDevice *dev)
{
    const char *name = vh_catalog_vf_profile(view->catalog, dev);

    if (name)
        return g_strdup(vh_vgpu_type_profile(name));
    if (dev->has_vgpu && dev->current_vgpu_type)
        return g_strdup_printf("%u", dev->current_vgpu_type);
    return g_strdup("");
}

/* Every device of a resource, once, in host order. */
static void
add_devices(GString *out, VhCtl *ctl, VhInventory *view)
{
    g_autoptr(GHashTable) members = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < view->catalog->resources->len; i++) {
        const VhResource *res = g_ptr_array_index(view->catalog->resources, i);
        for (guint j = 0; j < res->members->len; j++)
            g_hash_table_add(members,
                             ((const VhResourceMember *)g_ptr_array_index(res->members, j))
                                 ->device->address);
    }
    family(out, "device_info", "gauge",
           "A device of a resource (always 1): its kind, the resource it counts for now, the "
           "vGPU profile it holds, its lease (none, reserved, active, stale) and the domain "
           "holding it.");
    for (guint i = 0; i < ctl->host->devices->len; i++) {
        const VhPciDevice *dev = g_ptr_array_index(ctl->host->devices, i);
        const VhResource *res;
        const VhLease *lease;
        g_autofree char *profile = NULL;
        if (!g_hash_table_contains(members, dev->address))
            continue;
        /* an mdev parent offers several resources at once: none is its own */
        res = dev->mdev_types ? NULL : vh_catalog_resource_of_device(view->catalog, dev->address);
        /* an mdev parent's leases are its mdevs' (vgpu_hook_mdev_info) */
        lease = dev->mdev_types ? NULL : vh_inventory_lease(view, dev->address);
        profile = device_profile(view, dev);
        sample(out, "device_info", 1, "address", dev->address, "kind", vh_inventory_device_kind(view, dev),
               "resource", res ? res->name : "", "profile", profile, "lease",
               lease ? vh_inventory_lease_state(view, lease) : "none", "domain", lease ? lease->domain : "",
               NULL);
    }
}

static void
add_mdev(GString *out, VhInventory *view, const char *uuid, const char *parent, const char *type,
         const char *resource)
{
    const VhLease *lease = vh_inventory_lease(view, uuid);

    sample(out, "mdev_info", 1, "uuid", uuid, "parent", parent, "type", type, "resource",
           lease ? lease->resource : resource, "lease", lease ? vh_inventory_lease_state(view, lease) : "none",
           "domain", lease ? lease->domain : "", NULL);
}

/* Every mdev that exists, and every mdev lease (a reservation outlives its
 * mdev, which release removes). */
static void
add_mdevs(GString *out, VhCtl *ctl, VhInventory *view)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    family(out, "mdev_info", "gauge",
           "A mediated device (always 1): its parent, type, resource, lease (none, reserved, "
           "active, stale) and the domain holding it.");
    for (guint i = 0; i < ctl->host->devices->len; i++) {
        const VhPciDevice *dev = g_ptr_array_index(ctl->host->devices, i);
        for (guint t = 0; dev->mdev_types && t < dev->mdev_types->len; t++) {
            const VhMdevType *type = g_ptr_array_index(dev->mdev_types, t);
            g_autofree char *resource = vh_resource_name_for_mdev_type(type->name);
            for (guint k = 0; k < type->instances->len; k++) {
                const char *uuid = g_ptr_array_index(type->instances, k);
                g_hash_table_add(seen, (gpointer)uuid);
                add_mdev(out, view, uuid, dev->address, type->type_id, resource);
            }
        }
    }
    for (guint i = 0; i < view->leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(view->leases, i);
        if (lease->mdev_uuid && !g_hash_table_contains(seen, lease->key))
            add_mdev(out, view, lease->key, lease->device, lease->mdev_type ? lease->mdev_type : "",
                     lease->resource);
    }
}

/* ---- GPU instances of MIG GPUs ------------------------------------------------- */

/* Instances of each profile on @l by state: NVML knows the free ones;
 * without it only those the VFs' vGPUs need are known ("used"). */
static void
add_mig_counts(GString *out, const char *gpu, const VhVgpuMigLayout *l)
{
    g_autoptr(GHashTable) used = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GHashTable) free_ = g_hash_table_new(g_str_hash, g_str_equal);
    g_autoptr(GList) profiles = NULL;
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; i < l->instances->len; i++) {
        const VhVgpuMigInstance *gi = g_ptr_array_index(l->instances, i);
        GHashTable *count = gi->type ? used : free_;
        g_hash_table_insert(count, (gpointer)gi->profile,
                            GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(count, gi->profile)) + 1));
        if (g_hash_table_add(seen, (gpointer)gi->profile))
            profiles = g_list_insert_sorted(profiles, (gpointer)gi->profile, (GCompareFunc)strcmp);
    }
    for (GList *p = profiles; p; p = p->next) {
        sample(out, "mig_instances", GPOINTER_TO_UINT(g_hash_table_lookup(used, p->data)), "gpu",
               gpu, "profile", p->data, "state", "used", NULL);
        if (l->nvml)
            sample(out, "mig_instances", GPOINTER_TO_UINT(g_hash_table_lookup(free_, p->data)),
                   "gpu", gpu, "profile", p->data, "state", "free", NULL);
    }
}

static void
add_mig_instances(GString *out, const char *gpu, const VhVgpuMigLayout *l, gboolean slots)
{
    for (guint i = 0; i < l->instances->len; i++) {
        const VhVgpuMigInstance *gi = g_ptr_array_index(l->instances, i);
        g_autofree char *id = gi->id_known ? g_strdup_printf("%u", gi->id) : g_strdup("");
        g_autofree char *placement = g_strdup_printf("%u:%u", gi->start, gi->size);
        if (slots && gi->type == NULL)
            continue;
        sample(out, slots ? "mig_instance_slots" : "mig_instance_vgpus",
               slots ? gi->slots : gi->vfs->len, "gpu", gpu, "instance", id, "profile",
               gi->profile, "placement", placement, "type", gi->type ? gi->type : "", NULL);
    }
}

/* Per MIG GPU: its mode (NVML only), instances by profile and state, and
 * each instance with the vGPUs in it and how many its type allows. */
static void
add_mig(GString *out, VhInventory *view)
{
    g_autoptr(VhCtlMig) mig = vh_ctl_mig_new(view->catalog);
    GPtrArray *gpus = view->catalog->gpus;

    family(out, "mig_mode", "gauge",
           "1 when MIG mode is on for the GPU, 0 when off (as NVML reports it; no sample "
           "without NVML).");
    for (guint i = 0; i < gpus->len; i++) {
        const VhVgpuGpu *gpu = g_ptr_array_index(gpus, i);
        const VhVgpuMigLayout *l = vh_ctl_mig_layout(mig, gpu->pf->address);
        if (l && l->nvml)
            sample(out, "mig_mode", l->mig_on, "gpu", gpu->pf->address, NULL);
    }
    family(out, "mig_instances", "gauge",
           "GPU instances of a MIG GPU by profile: used (a vGPU sits in it) or free (NVML "
           "only; without NVML the used ones are those the VFs' vGPUs need).");
    for (guint i = 0; i < gpus->len; i++) {
        const VhVgpuGpu *gpu = g_ptr_array_index(gpus, i);
        const VhVgpuMigLayout *l = vh_ctl_mig_layout(mig, gpu->pf->address);
        if (l)
            add_mig_counts(out, gpu->pf->address, l);
    }
    for (guint s = 0; s < 2; s++) {
        family(out, s ? "mig_instance_slots" : "mig_instance_vgpus", "gauge",
               s ? "How many vGPUs of its type the GPU instance holds (more than 1: they "
                   "time-slice in it); used instances only."
                 : "vGPUs in the GPU instance (instance is empty when its id is not known).");
        for (guint i = 0; i < gpus->len; i++) {
            const VhVgpuGpu *gpu = g_ptr_array_index(gpus, i);
            const VhVgpuMigLayout *l = vh_ctl_mig_layout(mig, gpu->pf->address);
            if (l)
                add_mig_instances(out, gpu->pf->address, l, s == 1);
        }
    }
}

static void
add_counters(GString *out, const VhMetrics *m)
{
    family(out, "prepared_total", "counter",
           "Domain starts the hook prepared (devices leased, profiles set, drivers bound).");
    sample(out, "prepared_total", m->prepared, NULL);
    family(out, "prepare_refused_total", "counter",
           "Domain starts the hook refused, by reason (from the error code).");
    for (guint r = 0; r < VH_REFUSAL_N; r++)
        sample(out, "prepare_refused_total", m->refused[r], "reason", vh_refusal_to_string(r),
               NULL);
    family(out, "released_total", "counter",
           "Domain stops after which the hook gave the devices back.");
    sample(out, "released_total", m->released, NULL);
    family(out, "undo_failures_total", "counter",
           "Devices whose changes (profile, mdev, driver) could not be undone at release or "
           "after a failed prepare; 'vgpuctl leases' lists them.");
    sample(out, "undo_failures_total", m->undo_failed, NULL);
    family(out, "metrics_file_resets_total", "counter",
           "Times the counter file in the state directory was found damaged and counting "
           "restarted from zero.");
    sample(out, "metrics_file_resets_total", m->resets, NULL);
    if (m->apply_last_run <= 0)
        return; /* never ran on this boot: no sample rather than a fake time */
    family(out, "apply_profiles_last_run_timestamp_seconds", "gauge",
           "When 'vgpuctl apply-profiles' last ran (Unix time).");
    sample(out, "apply_profiles_last_run_timestamp_seconds", (guint64)m->apply_last_run, NULL);
    family(out, "apply_profiles_last_run_success", "gauge",
           "1 when the last 'vgpuctl apply-profiles' run set every profile, 0 when it failed.");
    sample(out, "apply_profiles_last_run_success", m->apply_last_success ? 1 : 0, NULL);
}

/* The whole exposition, or NULL with @error. */
static char *
render(VhCtl *ctl, GError **error)
{
    g_autoptr(VhInventory) view = NULL;
    g_autoptr(GString) out = g_string_new(NULL);
    g_autofree VhMetrics *counters = NULL;
    g_autofree char *warning = NULL;

    if ((view = host_view_load(ctl, error)) == NULL ||
        (counters = vh_metrics_load(ctl->config->state_dir, &warning, error)) == NULL)
        return NULL;
    if (warning)
        fprintf(stderr, "vgpuctl: warning: %s\n", warning);
    add_resources(out, view);
    add_devices(out, ctl, view);
    add_mdevs(out, ctl, view);
    add_mig(out, view);
    add_counters(out, counters);
    return g_string_free(g_steal_pointer(&out), FALSE);
}

/* node_exporter runs as user prometheus: the file must be world-readable
 * whatever the caller's umask (glib creates it as 0644 & ~umask). */
static gboolean
write_atomically(const char *path, const char *text, GError **error)
{
    mode_t old = umask(022);
    gboolean ok = g_file_set_contents_full(
        path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE, 0644, error);

    umask(old);
    return ok;
}

int
vh_ctl_cmd_metrics(VhCtl *ctl, int argc, char **argv)
{
    g_autofree char *output = NULL;
    GOptionEntry entries[] = {
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
          "Replace FILE atomically instead of printing (e.g. "
          "/var/lib/prometheus/node-exporter/vgpu-hook.prom); on failure FILE is left as it was",
          "FILE" },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("metrics"), entries, &argc, &argv, 0, 0, &rc))
        return rc;
    if (ctl->json)
        return vh_ctl_fail("metrics: --json is not supported: the output is the Prometheus "
                           "text format");
    if ((text = render(ctl, &error)) == NULL)
        return vh_ctl_fail("metrics: %s%s%s", error->message, output ? "; left " : "",
                           output ? output : "");
    if (output == NULL) {
        fputs(text, stdout);
        return fflush(stdout) == 0 ? 0 : vh_ctl_fail("metrics: cannot write to stdout");
    }
    if (!write_atomically(output, text, &error))
        return vh_ctl_fail("metrics: %s (the old file, if any, is unchanged)", error->message);
    return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl export kubevirt: the spec.configuration.permittedHostDevices block
 * a KubeVirt CR needs for this host's resources, built from the catalogue.
 *
 * KubeVirt selects devices by vendor:device (pciHostDevices) or by mdev type
 * name (mediatedDevices), nothing finer. A resource is exported only when
 * that selector picks exactly its devices on this host, under the name
 * KubeVirt would offer them by:
 *  - whole NVIDIA GPUs come from NVIDIA's sandbox device plugin
 *    (externalResourceProvider: true), which names them from the PCI IDs
 *    database: the resource must have that name. Other declared passthrough
 *    devices come from KubeVirt's own plugin, under any name.
 *  - SR-IOV vGPU: virt-handler offers the VFs that hold a profile. All
 *    profiles of a GPU share its tuple, so only the name (nvidia.com/PROFILE)
 *    tells them apart. KubeVirt never writes profiles: only profiles VFs hold
 *    now are exported.
 *  - MIG-backed vGPU types run side by side on one GPU, so several share a
 *    tuple, which virt-handler cannot tell apart. NVIDIA's KubeVirt GPU
 *    device plugin groups the VFs by the driver's type name, spaces made
 *    underscores as for mdev types ("NVIDIA H200X-1-18C" ->
 *    nvidia.com/NVIDIA_H200X-1-18C): a MIG-backed resource of that name is
 *    exported with externalResourceProvider: true, one entry per type.
 *  - mdev types: selected by type name, under any name.
 * Anything else is left out with one warning line; the exit status is then 3
 * (the block is printed, but it does not offer all this host offers). */
#include "config.h"
#include "vgpuctl.h"

#include <stdio.h>
#include <string.h>
#include <yaml.h>

#define KV_EXIT_PARTIAL 3

const char vh_ctl_export_description[] =
    "Prints spec.configuration.permittedHostDevices for this host's resources, to merge\n"
    "into the KubeVirt CR (kubectl edit kubevirt): whole NVIDIA GPUs as pciHostDevices\n"
    "with externalResourceProvider: true (NVIDIA's sandbox device plugin offers them),\n"
    "the vGPU profiles that SR-IOV VFs hold now as pciHostDevices (assign profiles\n"
    "first: KubeVirt does not), mdev types as mediatedDevices. MIG-backed vGPU types\n"
    "declared as nvidia.com/NVIDIA_TYPE (NVIDIA's KubeVirt GPU device plugin's names)\n"
    "are external pciHostDevices, one per type. One entry per resource, sorted by\n"
    "name; YAML, or JSON with --json.\n"
    "\n"
    "A resource KubeVirt cannot select by vendor:device or mdev type name alone, or\n"
    "would offer under another name, is left out with a warning on stderr.\n"
    "\n"
    "Exit status: 0 everything exported; 3 printed, but some resources were left out\n"
    "(see the warnings); 1 the host or configuration could not be read; 2 usage.";

typedef struct {
    const char *resource_name; /* borrowed from the catalogue */
    char *selector;            /* "10DE:2236", or the mdev type name */
    gboolean external;         /* externalResourceProvider: true */
    const char *mig_type;      /* a MIG-backed vGPU type ("NVIDIA H200X-1-18C"), else NULL */
} KvEntry;

typedef struct {
    GPtrArray *pci;            /* KvEntry, in resource name order */
    GPtrArray *mdev;
    guint left_out;
} KvExport;

static void
kv_entry_free(KvEntry *entry)
{
    g_free(entry->selector);
    g_free(entry);
}

static void
add_entry(GPtrArray *list, const VhResource *res, char *selector, gboolean external)
{
    KvEntry *entry = g_new0(KvEntry, 1);

    entry->resource_name = res->name;
    entry->selector = selector;
    entry->external = external;
    g_ptr_array_add(list, entry);
}

static void leave_out(KvExport *out, const char *subject, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
leave_out(KvExport *out, const char *subject, const char *fmt, ...)
{
    va_list args;
    g_autofree char *why = NULL;

    va_start(args, fmt);
    why = g_strdup_vprintf(fmt, args);
    va_end(args);
    fprintf(stderr, "vgpuctl: warning: export: %s not exported: %s\n", subject, why);
    out->left_out++;
}

/* ---- what KubeVirt's selectors pick ------------------------------------ */

typedef struct {
    VhCatalog *catalog;
    const VhResource *res;
    guint vendor, device;      /* PCI kinds */
    const char *profile;       /* SR-IOV: "L40S-24Q" */
    const char *mdev_name;     /* mdev: "GRID T4-1Q" */
} KvSelector;

/* The profile a VF holds, resolved through its GPU's type table, or NULL.
 * By physfn, so that a denied VF (which KubeVirt would still see) counts. */
static const char *
held_profile(VhCatalog *catalog, const VhPciDevice *vf)
{
    for (guint i = 0; vf->physfn && vf->current_vgpu_type && i < catalog->gpus->len; i++) {
        const VhVgpuGpu *gpu = g_ptr_array_index(catalog->gpus, i);
        if (strcmp(gpu->pf->address, vf->physfn) == 0)
            return vh_vgpu_gpu_held_profile(gpu, vf);
    }
    return NULL;
}

static gboolean
selects_pci(const KvSelector *sel, const VhPciDevice *dev)
{
    return !vh_pci_device_is_vf(dev) && dev->vendor == sel->vendor && dev->device == sel->device;
}

static gboolean
selects_vf(const KvSelector *sel, const VhPciDevice *dev)
{
    const char *held;

    if (!vh_pci_device_is_vf(dev) || dev->vendor != sel->vendor || dev->device != sel->device)
        return FALSE;
    held = held_profile(sel->catalog, dev);
    return held && strcmp(held, sel->profile) == 0;
}

static gboolean
selects_mdev(const KvSelector *sel, const VhPciDevice *dev)
{
    for (guint i = 0; dev->mdev_types && i < dev->mdev_types->len; i++) {
        if (strcmp(((const VhMdevType *)g_ptr_array_index(dev->mdev_types, i))->name,
                   sel->mdev_name) == 0)
            return TRUE;
    }
    return FALSE;
}

static gboolean
is_member(const VhResource *res, const VhPciDevice *dev)
{
    for (guint i = 0; i < res->members->len; i++) {
        if (((const VhResourceMember *)g_ptr_array_index(res->members, i))->device == dev)
            return TRUE;
    }
    return FALSE;
}

/* Count the host's devices @selects picks; return the first one that is not
 * a member of the resource (KubeVirt would offer it too), or NULL. */
static const VhPciDevice *
first_outsider(const KvSelector *sel, gboolean (*selects)(const KvSelector *, const VhPciDevice *),
               guint *matched)
{
    const VhPciDevice *outsider = NULL;
    GPtrArray *devices = sel->catalog->host->devices;

    *matched = 0;
    for (guint i = 0; i < devices->len; i++) {
        const VhPciDevice *dev = g_ptr_array_index(devices, i);
        if (!selects(sel, dev))
            continue;
        (*matched)++;
        if (outsider == NULL && !is_member(sel->res, dev))
            outsider = dev;
    }
    return outsider;
}

/* The one vendor:device of a PCI resource's members; FALSE (and a warning)
 * when they have several: one KubeVirt entry has one selector. */
static gboolean
one_tuple(const VhResource *res, KvSelector *sel, KvExport *out)
{
    for (guint i = 0; i < res->members->len; i++) {
        const VhResourceMember *m = g_ptr_array_index(res->members, i);
        const VhPciDevice *dev = m->device;
        if (i == 0) {
            sel->vendor = dev->vendor;
            sel->device = dev->device;
        } else if (dev->vendor != sel->vendor || dev->device != sel->device) {
            leave_out(out, res->name,
                      "its devices have two vendor:device ids (%04x:%04x, %04x:%04x) and a "
                      "KubeVirt entry selects one; declare one resource per id",
                      sel->vendor, sel->device, dev->vendor, dev->device);
            return FALSE;
        }
    }
    if (res->members->len == 0)
        leave_out(out, res->name, "no device of this host belongs to it");
    return res->members->len > 0;
}

static char *
selector_text(const KvSelector *sel)
{
    return g_strdup_printf("%04X:%04X", sel->vendor, sel->device);
}

/* ---- per kind ------------------------------------------------------------ */

static void
export_passthrough(VhCatalog *catalog, const VhResource *res, KvExport *out)
{
    KvSelector sel = { catalog, res };
    const VhPciDevice *outsider;
    g_autofree char *plugin_name = NULL;
    guint matched;

    if (!one_tuple(res, &sel, out))
        return;
    if ((outsider = first_outsider(&sel, selects_pci, &matched)) != NULL) {
        leave_out(out, res->name,
                  "KubeVirt selects by vendor:device only and would also offer %s, which is "
                  "not in it (address=, subsystem= or deny)", outsider->address);
        return;
    }
    if (sel.vendor != VH_PCI_VENDOR_NVIDIA) {
        /* KubeVirt's own plugin: any name; the device must be on vfio-pci. */
        add_entry(out->pci, res, selector_text(&sel), FALSE);
        return;
    }
    plugin_name = vh_resource_name_for_gpu(vh_host_get_names(catalog->host), sel.vendor,
                                           sel.device, NULL);
    if (strcmp(plugin_name, res->name) != 0) {
        leave_out(out, res->name,
                  "NVIDIA's sandbox device plugin offers these GPUs to KubeVirt as %s and "
                  "KubeVirt cannot rename them; name the resource %s", plugin_name, plugin_name);
        return;
    }
    add_entry(out->pci, res, selector_text(&sel), TRUE);
}

/* The name NVIDIA's KubeVirt GPU device plugin offers VFs holding @type
 * ("H200X-1-18C" or the driver's "NVIDIA H200X-1-18C") by: the driver's
 * name, spaces made underscores, nvidia.com/NVIDIA_H200X-1-18C. */
static char *
device_plugin_vgpu_name(const char *type)
{
    g_autofree char *name = g_strconcat("NVIDIA ", vh_vgpu_type_profile(type), NULL);

    g_strdelimit(name, " \t\n", '_');
    return g_strconcat(VH_RESOURCE_PREFIX, name, NULL);
}

static void
export_sriov(VhCatalog *catalog, const VhResource *res, KvExport *out)
{
    KvSelector sel = { catalog, res, .profile = vh_vgpu_type_profile(res->profile) };
    const VhPciDevice *outsider;
    g_autofree char *kubevirt_name = vh_resource_name_for_vgpu_type(res->profile);
    g_autofree char *plugin_name = device_plugin_vgpu_name(res->profile);
    gboolean mig = vh_vgpu_gpu_is_mig_backed(res->profile);
    guint matched;

    /* The VFs' own tuple is what virt-handler matches; on Ada it is the
     * PF's too, but the seed warns that some generations differ. */
    if (!one_tuple(res, &sel, out))
        return;
    outsider = first_outsider(&sel, selects_vf, &matched);
    if (matched == 0)
        return; /* no VF holds it: KubeVirt offers none (said per GPU) */
    if (outsider) {
        leave_out(out, res->name,
                  "VF %s holds %s too but is not in it, and KubeVirt selects by vendor:device "
                  "and profile only", outsider->address, sel.profile);
        return;
    }
    if (mig && strcmp(plugin_name, res->name) == 0) {
        add_entry(out->pci, res, selector_text(&sel), TRUE);
        ((KvEntry *)g_ptr_array_index(out->pci, out->pci->len - 1))->mig_type = res->profile;
        return;
    }
    if (strcmp(kubevirt_name, res->name) != 0) {
        if (mig)
            leave_out(out, res->name,
                      "KubeVirt tells the profiles of a GPU apart by resource name only, which "
                      "must be %s (virt-handler) or %s (NVIDIA's KubeVirt GPU device plugin, "
                      "for MIG-backed types that share a GPU model)", kubevirt_name, plugin_name);
        else
            leave_out(out, res->name,
                      "KubeVirt tells the profiles of a GPU apart by resource name only, which "
                      "must be %s", kubevirt_name);
        return;
    }
    add_entry(out->pci, res, selector_text(&sel), FALSE);
    if (mig)
        ((KvEntry *)g_ptr_array_index(out->pci, out->pci->len - 1))->mig_type = res->profile;
}

static const char *
member_mdev_name(const VhResourceMember *m)
{
    for (guint i = 0; i < m->device->mdev_types->len; i++) {
        const VhMdevType *type = g_ptr_array_index(m->device->mdev_types, i);
        if (strcmp(type->type_id, m->mdev_type_id) == 0)
            return type->name;
    }
    return NULL;
}

static void
export_mdev(VhCatalog *catalog, const VhResource *res, KvExport *out)
{
    KvSelector sel = { catalog, res };
    const VhPciDevice *outsider;
    guint matched;

    for (guint i = 0; i < res->members->len; i++) {
        const char *name = member_mdev_name(g_ptr_array_index(res->members, i));
        if (sel.mdev_name == NULL) {
            sel.mdev_name = name;
        } else if (name && strcmp(name, sel.mdev_name) != 0) {
            leave_out(out, res->name, "its mdev types have two names ('%s', '%s') and a "
                      "KubeVirt entry selects one", sel.mdev_name, name);
            return;
        }
    }
    if (sel.mdev_name == NULL) {
        leave_out(out, res->name, "no device of this host belongs to it");
        return;
    }
    if (!g_utf8_validate(sel.mdev_name, -1, NULL)) {
        leave_out(out, res->name, "the driver's name of its mdev type is not valid UTF-8");
        return;
    }
    if ((outsider = first_outsider(&sel, selects_mdev, &matched)) != NULL) {
        leave_out(out, res->name,
                  "KubeVirt selects by mdev type name only and would also offer '%s' of %s, "
                  "which is not in it", sel.mdev_name, outsider->address);
        return;
    }
    add_entry(out->mdev, res, g_strdup(sel.mdev_name), FALSE);
}

/* An SR-IOV GPU none of whose VFs holds a nameable profile exports nothing. */
static void
check_sriov_gpus(VhCatalog *catalog, KvExport *out)
{
    for (guint i = 0; i < catalog->gpus->len; i++) {
        const VhVgpuGpu *gpu = g_ptr_array_index(catalog->gpus, i);
        const VhPciDevice *unnamed = NULL;
        guint held = 0;
        g_autofree char *subject = g_strdup_printf("GPU %s", gpu->pf->address);
        for (guint v = 0; v < gpu->vfs->len; v++) {
            const VhPciDevice *vf = g_ptr_array_index(gpu->vfs, v);
            if (held_profile(catalog, vf))
                held++;
            else if (vf->current_vgpu_type && unnamed == NULL)
                unnamed = vf;
        }
        if (unnamed) {
            g_autofree char *fix = vh_vgpu_gpu_unknown_fix(gpu, unnamed);
            leave_out(out, subject, "%s", fix);
        } else if (held == 0)
            leave_out(out, subject,
                      "no VF holds a vGPU profile and KubeVirt does not assign profiles; "
                      "assign them first (vgpuctl apply-profiles)");
    }
}

/* KubeVirt keeps pciHostDevices in a map keyed by pciVendorSelector: of two
 * entries with one selector the last silently wins and every matching
 * device is offered under its name. Entries sharing a selector cannot be
 * merged (they have different names), so all of them are left out. The map
 * holds the devices KubeVirt offers itself: two entries that external
 * device plugins offer do not clash. */
static char *
others_with_selector(const KvExport *out, guint i)
{
    const KvEntry *e = g_ptr_array_index(out->pci, i);
    GString *others = g_string_new(NULL);

    for (guint j = 0; j < out->pci->len; j++) {
        const KvEntry *o = g_ptr_array_index(out->pci, j);
        if (j != i && strcmp(o->selector, e->selector) == 0 && !(o->external && e->external))
            g_string_append_printf(others, "%s%s", others->len ? ", " : "", o->resource_name);
    }
    return g_string_free(others, FALSE);
}

static void
drop_shared_selectors(KvExport *out)
{
    g_autofree gboolean *drop = g_new0(gboolean, out->pci->len + 1);

    for (guint i = 0; i < out->pci->len; i++) {
        const KvEntry *e = g_ptr_array_index(out->pci, i);
        g_autofree char *others = others_with_selector(out, i);
        if (*others == '\0')
            continue;
        drop[i] = TRUE;
        if (e->mig_type) {
            g_autofree char *plugin_name = device_plugin_vgpu_name(e->mig_type);
            leave_out(out, e->resource_name,
                      "%s shares pciVendorSelector \"%s\" with it, and KubeVirt keys "
                      "pciHostDevices by selector. MIG-backed types of one GPU model share it: "
                      "declare the resource as %s, the name NVIDIA's KubeVirt GPU device "
                      "plugin offers it by, to export it with externalResourceProvider", others,
                      e->selector, plugin_name);
            continue;
        }
        leave_out(out, e->resource_name,
                  "%s shares pciVendorSelector \"%s\" with it, and KubeVirt keys "
                  "pciHostDevices by selector: it would offer every such device under one of "
                  "the names only. Give GPUs of one model one profile, or declare them under "
                  "one resource", others, e->selector);
    }
    for (guint i = out->pci->len; i-- > 0;) {
        if (drop[i])
            g_ptr_array_remove_index(out->pci, i);
    }
}

static KvExport *
kv_export_new(VhCatalog *catalog)
{
    KvExport *out = g_new0(KvExport, 1);

    out->pci = g_ptr_array_new_with_free_func((GDestroyNotify)kv_entry_free);
    out->mdev = g_ptr_array_new_with_free_func((GDestroyNotify)kv_entry_free);
    /* The catalogue is sorted by name, and so are the lists. */
    for (guint i = 0; i < catalog->resources->len; i++) {
        const VhResource *res = g_ptr_array_index(catalog->resources, i);
        if (!vh_resource_name_is_valid(res->name)) {
            /* Made from a garbled sysfs name: no reader should get it. */
            g_autofree char *shown = g_strescape(res->name, NULL);
            leave_out(out, shown, "it is not a valid resource name (domain/name)");
        } else if (res->kind == VH_RESOURCE_KIND_PASSTHROUGH)
            export_passthrough(catalog, res, out);
        else if (res->kind == VH_RESOURCE_KIND_SRIOV_VGPU)
            export_sriov(catalog, res, out);
        else
            export_mdev(catalog, res, out);
    }
    check_sriov_gpus(catalog, out);
    drop_shared_selectors(out);
    return out;
}

static void
kv_export_free(KvExport *out)
{
    g_ptr_array_unref(out->pci);
    g_ptr_array_unref(out->mdev);
    g_free(out);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KvExport, kv_export_free)

/* ---- YAML (libyaml's emitter) --------------------------------------------- */

typedef struct {
    yaml_emitter_t emitter;
    const char *problem;       /* set when an event could not even be made */
} KvYaml;

/* Emits @event if it was made (@made); the emitter frees it either way. */
static gboolean
yaml_put(KvYaml *y, yaml_event_t *event, int made)
{
    if (!made) {
        y->problem = "a value is not valid UTF-8";
        return FALSE;
    }
    return yaml_emitter_emit(&y->emitter, event) != 0;
}

static gboolean
yaml_string(KvYaml *y, const char *value, yaml_scalar_style_t style)
{
    yaml_event_t event;

    return yaml_put(y, &event, yaml_scalar_event_initialize(&event, NULL, NULL,
                                                            (yaml_char_t *)value, -1, 1, 1, style));
}

/* A plain, untagged "true": a boolean to any YAML reader. */
static gboolean
yaml_true(KvYaml *y)
{
    yaml_event_t event;

    return yaml_put(y, &event, yaml_scalar_event_initialize(&event, NULL, NULL,
                                                            (yaml_char_t *)"true", -1, 1, 0,
                                                            YAML_PLAIN_SCALAR_STYLE));
}

static gboolean
yaml_key(KvYaml *y, const char *key)
{
    return yaml_string(y, key, YAML_PLAIN_SCALAR_STYLE);
}

static gboolean
yaml_mapping(KvYaml *y, gboolean start)
{
    yaml_event_t event;

    return start ? yaml_put(y, &event, yaml_mapping_start_event_initialize(
                                           &event, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE))
                 : yaml_put(y, &event, yaml_mapping_end_event_initialize(&event));
}

/* Selectors come from sysfs: always quoted, so that no reader takes one for
 * a number or a boolean. Keys in alphabetical order, as kubectl prints. */
static gboolean
yaml_entries(KvYaml *y, const char *key, GPtrArray *entries, const char *selector_key)
{
    yaml_event_t event;

    if (entries->len == 0)
        return TRUE;
    if (!yaml_key(y, key) ||
        !yaml_put(y, &event, yaml_sequence_start_event_initialize(&event, NULL, NULL, 1,
                                                                  YAML_BLOCK_SEQUENCE_STYLE)))
        return FALSE;
    for (guint i = 0; i < entries->len; i++) {
        const KvEntry *e = g_ptr_array_index(entries, i);
        if (!yaml_mapping(y, TRUE) ||
            (e->external && (!yaml_key(y, "externalResourceProvider") || !yaml_true(y))) ||
            !yaml_key(y, selector_key) ||
            !yaml_string(y, e->selector, YAML_DOUBLE_QUOTED_SCALAR_STYLE) ||
            !yaml_key(y, "resourceName") ||
            !yaml_string(y, e->resource_name, YAML_PLAIN_SCALAR_STYLE) ||
            !yaml_mapping(y, FALSE))
            return FALSE;
    }
    return yaml_put(y, &event, yaml_sequence_end_event_initialize(&event));
}

static gboolean
yaml_document(KvYaml *y, const KvExport *out)
{
    static const char *const path[] = { "spec", "configuration", "permittedHostDevices" };
    yaml_event_t event;

    if (!yaml_put(y, &event, yaml_stream_start_event_initialize(&event, YAML_UTF8_ENCODING)) ||
        !yaml_put(y, &event, yaml_document_start_event_initialize(&event, NULL, NULL, NULL, 1)))
        return FALSE;
    for (guint i = 0; i < G_N_ELEMENTS(path); i++) {
        if (!yaml_mapping(y, TRUE) || !yaml_key(y, path[i]))
            return FALSE;
    }
    if (!yaml_mapping(y, TRUE) ||
        !yaml_entries(y, "mediatedDevices", out->mdev, "mdevNameSelector") ||
        !yaml_entries(y, "pciHostDevices", out->pci, "pciVendorSelector") ||
        !yaml_mapping(y, FALSE))
        return FALSE;
    for (guint i = 0; i < G_N_ELEMENTS(path); i++) {
        if (!yaml_mapping(y, FALSE))
            return FALSE;
    }
    return yaml_put(y, &event, yaml_document_end_event_initialize(&event, 1)) &&
           yaml_put(y, &event, yaml_stream_end_event_initialize(&event));
}

static int
yaml_write_handler(void *data, unsigned char *buffer, size_t size)
{
    g_string_append_len(data, (const char *)buffer, size);
    return 1;
}

/* The whole document, or NULL and @error: nothing half-written reaches stdout. */
static char *
export_yaml(const KvExport *out, GError **error)
{
    KvYaml y = { 0 };
    g_autoptr(GString) text = g_string_new(NULL);
    gboolean ok;

    if (!yaml_emitter_initialize(&y.emitter)) {
        g_set_error(error, VH_ERROR, VH_ERROR_FAILED,
                    "cannot set up libyaml's emitter (out of memory)");
        return NULL;
    }
    yaml_emitter_set_output(&y.emitter, yaml_write_handler, text);
    yaml_emitter_set_unicode(&y.emitter, 1);
    yaml_emitter_set_width(&y.emitter, -1);
    ok = yaml_document(&y, out) && yaml_emitter_flush(&y.emitter);
    if (!ok)
        g_set_error(error, VH_ERROR, VH_ERROR_FAILED, "cannot write YAML: %s",
                    y.problem ? y.problem
                              : y.emitter.problem ? y.emitter.problem : "libyaml failed");
    yaml_emitter_delete(&y.emitter);
    return ok ? g_string_free(g_steal_pointer(&text), FALSE) : NULL;
}

/* ---- JSON ------------------------------------------------------------------ */

static void
json_entries(JsonBuilder *b, const char *key, GPtrArray *entries, const char *selector_key)
{
    if (entries->len == 0)
        return;
    json_builder_set_member_name(b, key);
    json_builder_begin_array(b);
    for (guint i = 0; i < entries->len; i++) {
        const KvEntry *e = g_ptr_array_index(entries, i);
        json_builder_begin_object(b);
        if (e->external) {
            json_builder_set_member_name(b, "externalResourceProvider");
            json_builder_add_boolean_value(b, TRUE);
        }
        json_builder_set_member_name(b, selector_key);
        json_builder_add_string_value(b, e->selector);
        json_builder_set_member_name(b, "resourceName");
        json_builder_add_string_value(b, e->resource_name);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
}

static JsonNode *
export_json(const KvExport *out)
{
    g_autoptr(JsonBuilder) b = json_builder_new();

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "spec");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "configuration");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "permittedHostDevices");
    json_builder_begin_object(b);
    json_entries(b, "mediatedDevices", out->mdev, "mdevNameSelector");
    json_entries(b, "pciHostDevices", out->pci, "pciVendorSelector");
    json_builder_end_object(b);
    json_builder_end_object(b);
    json_builder_end_object(b);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* ---- the command ------------------------------------------------------------- */

int
vh_ctl_cmd_export(VhCtl *ctl, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VhCatalog) catalog = NULL;
    g_autoptr(KvExport) out = NULL;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("export"), NULL, &argc, &argv, 1, 1, &rc))
        return VH_CTL_EXIT_USAGE;
    if (strcmp(argv[1], "kubevirt") != 0) {
        vh_ctl_fail("export: unknown format '%s': the only one is kubevirt "
                    "(try 'vgpuctl export --help')", argv[1]);
        return VH_CTL_EXIT_USAGE;
    }
    /* Leases do not matter: KubeVirt is told what exists, not what is free. */
    if (!vh_ctl_setup(ctl, &error) || !vh_host_scan(ctl->host, &error) ||
        (catalog = vh_catalog_build(ctl->host, NULL, &error)) == NULL)
        return vh_ctl_fail("export: %s", error->message);
    out = kv_export_new(catalog);
    if (ctl->json) {
        g_autoptr(JsonNode) root = export_json(out);
        vh_ctl_print_json(root);
    } else {
        g_autofree char *text = export_yaml(out, &error);
        if (text == NULL)
            return vh_ctl_fail("export: %s", error->message);
        fputs(text, stdout);
    }
    return out->left_out ? KV_EXIT_PARTIAL : 0;
}

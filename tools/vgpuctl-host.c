/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl list, resources, validate: read-only views of the host. */
#include "config.h"
#include "vgpuctl.h"
#include "vgpuctl-json.h"

#include <stdio.h>
#include <string.h>

static char *leased_by(const char *address);

/* What list, resources and validate show: read once, freed when the
 * command is done. A state directory we cannot open (a user without rights
 * on /run/vgpu-hook) only means nothing is shown as leased. */
static VhInventory *inventory;

static gboolean
is_gpu_related(VhCatalog *catalog, const VhPciDevice *dev)
{
    return dev->vendor == VH_PCI_VENDOR_NVIDIA ||
           vh_catalog_resource_of_device(catalog, dev->address) != NULL ||
           vh_inventory_in_gpu_group(inventory, dev) || dev->mdev_types || dev->has_vgpu;
}

typedef struct {
    VhPciDevice *dev;
    char *ids;
    char *name;
    gboolean name_fallback;
    const VhResource *resource;
    const char *kind;
    const char *profile;
    char *group;
    char *numa;
    const VhVgpuMigLayout *mig;   /* a MIG GPU's instances, NULL otherwise */
    const VhVgpuMigInstance *gi;  /* the instance a VF's vGPU sits in, or NULL */
} ListRow;

static void
list_row_clear(ListRow *row)
{
    g_free(row->ids);
    g_free(row->name);
    g_free(row->group);
    g_free(row->numa);
}

static void
fill_row(VhCtl *ctl, VhCatalog *catalog, const VhCtlMig *mig, VhPciDevice *dev, ListRow *row)
{
    VhPciNames *names = vh_host_get_names(ctl->host);
    const char *profile = vh_catalog_vf_profile(catalog, dev);

    row->dev = dev;
    row->ids = g_strdup_printf("%04x:%04x", dev->vendor, dev->device);
    row->name = vh_pci_names_device(names, dev->vendor, dev->device);
    row->name_fallback = row->name == NULL;
    if (row->name == NULL)
        row->name = g_strdup_printf("Device %04x", dev->device);
    row->resource = vh_catalog_resource_of_device(catalog, dev->address);
    row->kind = vh_inventory_device_kind(inventory, dev);
    row->profile = profile ? vh_vgpu_type_profile(profile) : NULL;
    row->group = dev->iommu_group >= 0 ? g_strdup_printf("%d", dev->iommu_group) : g_strdup("-");
    row->numa = dev->numa_node >= 0 ? g_strdup_printf("%d", dev->numa_node) : g_strdup("-");
    row->mig = vh_ctl_mig_layout(mig, dev->address);
    row->gi = dev->has_vgpu ? vh_ctl_mig_instance_of(mig, dev->address) : NULL;
}

static char *
row_profile_text(const ListRow *row)
{
    if (row->profile)
        return g_strdup(row->profile);
    if (row->dev->has_vgpu && row->dev->current_vgpu_type)
        return g_strdup_printf("unknown type %u", row->dev->current_vgpu_type);
    if (row->dev->has_vgpu)
        return g_strdup("none");
    return g_strdup("-");
}

/* list and resources write JSON as they go (vgpuctl-json.h): the listing
 * of a large host is long. */
static void
add_hex(VhJsonWriter *w, const char *member, guint value, int width)
{
    char text[16];

    g_snprintf(text, sizeof(text), "%0*x", width, value);
    vh_json_member(w, member);
    vh_json_string(w, text);
}

static void
add_string_or_null(VhJsonWriter *w, const char *member, const char *value)
{
    vh_json_member(w, member);
    vh_json_string(w, value);
}

static void
add_int(VhJsonWriter *w, const char *member, gint64 value)
{
    vh_json_member(w, member);
    vh_json_int(w, value);
}

static void
add_vgpu_json(VhJsonWriter *w, const ListRow *row)
{
    const VhPciDevice *dev = row->dev;

    vh_json_member(w, "vgpu");
    if (!dev->has_vgpu) {
        vh_json_null(w);
        return;
    }
    vh_json_begin_object(w);
    add_int(w, "current_type_id", dev->current_vgpu_type);
    add_string_or_null(w, "current_profile", row->profile);
    add_string_or_null(w, "error", dev->vgpu_error);
    /* the instance its MIG-backed vGPU sits in; null when none or unknown */
    vh_json_member(w, "gpu_instance");
    if (row->gi && row->gi->id_known)
        vh_json_int(w, row->gi->id);
    else
        vh_json_null(w);
    vh_json_member(w, "creatable");
    vh_json_begin_array(w);
    for (guint i = 0; dev->creatable_types && i < dev->creatable_types->len; i++) {
        const VhVgpuType *t = g_ptr_array_index(dev->creatable_types, i);
        vh_json_begin_object(w);
        add_int(w, "id", t->id);
        add_string_or_null(w, "name", t->name);
        vh_json_end_object(w);
    }
    vh_json_end_array(w);
    vh_json_end_object(w);
}

static void
add_mdev_json(VhJsonWriter *w, const VhPciDevice *dev)
{
    vh_json_member(w, "mdev_types");
    if (!dev->mdev_types) {
        vh_json_null(w);
        return;
    }
    vh_json_begin_array(w);
    for (guint i = 0; i < dev->mdev_types->len; i++) {
        const VhMdevType *t = g_ptr_array_index(dev->mdev_types, i);
        vh_json_begin_object(w);
        add_string_or_null(w, "type", t->type_id);
        add_string_or_null(w, "name", t->name);
        add_int(w, "available_instances", t->available_instances);
        add_string_or_null(w, "device_api", t->device_api);
        vh_json_member(w, "instances");
        vh_json_begin_array(w);
        for (guint j = 0; j < t->instances->len; j++)
            vh_json_string(w, g_ptr_array_index(t->instances, j));
        vh_json_end_array(w);
        vh_json_end_object(w);
    }
    vh_json_end_array(w);
}

static void
add_row_json(VhJsonWriter *w, const ListRow *row)
{
    const VhPciDevice *dev = row->dev;

    vh_json_begin_object(w);
    add_string_or_null(w, "address", dev->address);
    add_hex(w, "vendor", dev->vendor, 4);
    add_hex(w, "device", dev->device, 4);
    add_hex(w, "subsystem_vendor", dev->subsystem_vendor, 4);
    add_hex(w, "subsystem_device", dev->subsystem_device, 4);
    add_hex(w, "class", dev->class_code, 6);
    add_string_or_null(w, "name", row->name_fallback ? NULL : row->name);
    add_string_or_null(w, "resource", row->resource ? row->resource->name : NULL);
    vh_json_member(w, "resource_name_from_fallback");
    vh_json_bool(w, row->resource && row->resource->name_from_fallback);
    add_string_or_null(w, "kind", row->kind);
    add_string_or_null(w, "driver", dev->driver);
    add_string_or_null(w, "driver_override", dev->driver_override);
    vh_json_member(w, "iommu_group");
    if (dev->iommu_group >= 0)
        vh_json_int(w, dev->iommu_group);
    else
        vh_json_null(w);
    add_int(w, "numa_node", dev->numa_node);
    add_string_or_null(w, "physfn", dev->physfn);
    vh_json_member(w, "virtfns");
    vh_json_begin_array(w);
    for (guint i = 0; dev->virtfns && i < dev->virtfns->len; i++)
        vh_json_string(w, g_ptr_array_index(dev->virtfns, i));
    vh_json_end_array(w);
    if (dev->sriov_totalvfs >= 0) {
        add_int(w, "sriov_totalvfs", dev->sriov_totalvfs);
        add_int(w, "sriov_numvfs", dev->sriov_numvfs);
    }
    add_vgpu_json(w, row);
    if (dev->sriov_totalvfs >= 0) {
        vh_json_member(w, "mig");
        vh_ctl_mig_json(w, row->mig, leased_by);
    }
    add_mdev_json(w, dev);
    {
        g_autofree char *holder = leased_by(dev->address);
        add_string_or_null(w, "leased_by", holder);
    }
    vh_json_end_object(w);
}

static void
print_table(GPtrArray *header, GPtrArray *rows)
{
    guint ncols = header->len;
    g_autofree guint *width = g_new0(guint, ncols);

    for (guint c = 0; c < ncols; c++)
        width[c] = strlen(g_ptr_array_index(header, c));
    for (guint r = 0; r < rows->len; r++) {
        GPtrArray *row = g_ptr_array_index(rows, r);
        for (guint c = 0; c < ncols; c++)
            width[c] = MAX(width[c], g_utf8_strlen(g_ptr_array_index(row, c), -1));
    }
    for (guint r = 0; r <= rows->len; r++) {
        GPtrArray *row = r == 0 ? header : g_ptr_array_index(rows, r - 1);
        g_autoptr(GString) line = g_string_new(NULL);
        for (guint c = 0; c < ncols; c++) {
            const char *cell = g_ptr_array_index(row, c);
            g_string_append(line, cell);
            if (c + 1 < ncols) {
                for (guint pad = g_utf8_strlen(cell, -1); pad < width[c] + 2; pad++)
                    g_string_append_c(line, ' ');
            }
        }
        printf("%s\n", line->str);
    }
}

static GPtrArray *
strv_row(const char *first, ...)
{
    GPtrArray *row = g_ptr_array_new_with_free_func(g_free);
    va_list args;

    va_start(args, first);
    for (const char *cell = first; cell; cell = va_arg(args, const char *))
        g_ptr_array_add(row, g_strdup(cell));
    va_end(args);
    return row;
}

static void
free_leases(void)
{
    g_clear_pointer(&inventory, vh_inventory_free);
}

/* "web1 (active)" for the device's lease, or NULL. */
static char *
leased_by(const char *address)
{
    for (guint i = 0; inventory && i < inventory->leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(inventory->leases, i);
        if (strcmp(lease->device, address) == 0 && !lease->mdev_uuid)
            return g_strdup_printf("%s (%s%s)", lease->domain, vh_lease_state_to_string(lease->state),
                                   vh_lease_is_live(inventory->store, lease) ? "" : ", stale");
    }
    return NULL;
}

/* The inventory's catalogue (freed with it, by free_leases). */
static VhCatalog *
build_catalog(VhCtl *ctl, int *rc)
{
    g_autoptr(GError) error = NULL;

    if (!vh_ctl_setup(ctl, &error) ||
        (inventory = vh_inventory_open(ctl->host, NULL, VH_INVENTORY_LEASES_OPTIONAL, &error)) == NULL) {
        *rc = vh_ctl_fail("%s", error->message);
        return NULL;
    }
    for (guint i = 0; i < inventory->warnings->len; i++)
        fprintf(stderr, "vgpuctl: warning: %s\n", (char *)g_ptr_array_index(inventory->warnings, i));
    return inventory->catalog;
}

static int list_run(VhCtl *ctl, int argc, char **argv);

int
vh_ctl_cmd_list(VhCtl *ctl, int argc, char **argv)
{
    int rc = list_run(ctl, argc, argv);

    free_leases();
    return rc;
}

static int
list_run(VhCtl *ctl, int argc, char **argv)
{
    gboolean all = FALSE;
    GOptionEntry entries[] = {
        { "all", 'a', 0, G_OPTION_ARG_NONE, &all, "List every PCI device, not only GPU-related ones", NULL },
        { NULL },
    };
    VhCatalog *catalog; /* the inventory's */
    g_autoptr(VhCtlMig) mig = NULL;
    g_autoptr(GArray) rows = g_array_new(FALSE, TRUE, sizeof(ListRow));
    gboolean any_fallback = FALSE;
    int rc = 0;

    g_array_set_clear_func(rows, (GDestroyNotify)list_row_clear);
    if (!vh_ctl_parse(ctl, vh_ctl_command("list"), entries, &argc, &argv, 0, 0, &rc) ||
        (catalog = build_catalog(ctl, &rc)) == NULL)
        return rc;
    mig = vh_ctl_mig_new(catalog);
    for (guint i = 0; i < ctl->host->devices->len; i++) {
        VhPciDevice *dev = g_ptr_array_index(ctl->host->devices, i);
        ListRow row = { 0 };
        if (!all && !is_gpu_related(catalog, dev))
            continue;
        fill_row(ctl, catalog, mig, dev, &row);
        any_fallback |= row.name_fallback && row.resource;
        g_array_append_val(rows, row);
    }
    if (ctl->json) {
        g_autoptr(VhJsonWriter) w = vh_json_writer_new();
        vh_json_begin_array(w);
        for (guint i = 0; i < rows->len; i++)
            add_row_json(w, &g_array_index(rows, ListRow, i));
        vh_json_end_array(w);
        vh_json_writer_print(w, stdout);
        return 0;
    }
    {
        g_autoptr(GPtrArray) header = strv_row("ADDRESS", "IDS", "NAME", "RESOURCE", "KIND",
                                               "DRIVER", "GROUP", "NUMA", "PROFILE", "LEASED-BY", NULL);
        g_autoptr(GPtrArray) table = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
        for (guint i = 0; i < rows->len; i++) {
            const ListRow *row = &g_array_index(rows, ListRow, i);
            g_autofree char *profile = row_profile_text(row);
            g_autofree char *resource = row->dev->mdev_types
                ? g_strdup_printf("(%u mdev types)", row->dev->mdev_types->len)
                : row->resource
                ? g_strdup_printf("%s%s", row->resource->name, row->resource->name_from_fallback ? " *" : "")
                : g_strdup("-");
            g_autofree char *holder = leased_by(row->dev->address);
            g_ptr_array_add(table, strv_row(row->dev->address, row->ids, row->name, resource,
                                            row->kind, row->dev->driver ? row->dev->driver : "-",
                                            row->group, row->numa, profile, holder ? holder : "-", NULL));
        }
        print_table(header, table);
        if (any_fallback)
            printf("\n* not in the PCI IDs database (nor udev's hwdb): named by device id; "
                   "update pci.ids, set [host] pci_ids, or declare a [resource] to rename.\n");
        vh_ctl_mig_print(mig, leased_by);
    }
    return 0;
}

static int resources_run(VhCtl *ctl, int argc, char **argv);

int
vh_ctl_cmd_resources(VhCtl *ctl, int argc, char **argv)
{
    int rc = resources_run(ctl, argc, argv);

    free_leases();
    return rc;
}

static int
resources_run(VhCtl *ctl, int argc, char **argv)
{
    VhCatalog *catalog; /* the inventory's */
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("resources"), NULL, &argc, &argv, 0, 0, &rc) ||
        (catalog = build_catalog(ctl, &rc)) == NULL)
        return rc;
    if (ctl->json) {
        g_autoptr(VhJsonWriter) w = vh_json_writer_new();
        vh_json_begin_array(w);
        for (guint i = 0; i < catalog->resources->len; i++) {
            const VhResource *res = g_ptr_array_index(catalog->resources, i);
            vh_json_begin_object(w);
            add_string_or_null(w, "name", res->name);
            add_string_or_null(w, "kind", vh_resource_kind_to_string(res->kind));
            add_string_or_null(w, "profile", res->profile);
            vh_json_member(w, "declared");
            vh_json_bool(w, res->declared);
            vh_json_member(w, "name_from_fallback");
            vh_json_bool(w, res->name_from_fallback);
            add_int(w, "capacity", res->capacity);
            add_int(w, "allocatable", res->allocatable);
            add_int(w, "in_use", res->in_use);
            if (res->kind == VH_RESOURCE_KIND_SRIOV_VGPU && res->profile &&
                vh_vgpu_gpu_is_mig_backed(res->profile)) {
                g_autofree char *gi = vh_mig_profile_for_vgpu_type(vh_vgpu_type_profile(res->profile));
                add_string_or_null(w, "gpu_instance_profile", gi);
            }
            vh_json_member(w, "devices");
            vh_json_begin_array(w);
            for (guint j = 0; j < res->members->len; j++)
                vh_json_string(
                    w, ((const VhResourceMember *)g_ptr_array_index(res->members, j))->device->address);
            vh_json_end_array(w);
            vh_json_end_object(w);
        }
        vh_json_end_array(w);
        vh_json_writer_print(w, stdout);
        return 0;
    }
    {
        g_autoptr(GPtrArray) header = strv_row("RESOURCE", "KIND", "CAPACITY", "ALLOCATABLE",
                                               "IN-USE", "DEVICES", NULL);
        g_autoptr(GPtrArray) table = g_ptr_array_new_with_free_func((GDestroyNotify)g_ptr_array_unref);
        for (guint i = 0; i < catalog->resources->len; i++) {
            const VhResource *res = g_ptr_array_index(catalog->resources, i);
            g_autofree char *cap = g_strdup_printf("%u", res->capacity);
            g_autofree char *alloc = g_strdup_printf("%u", res->allocatable);
            g_autofree char *used = g_strdup_printf("%u", res->in_use);
            g_autofree char *devs = g_strdup_printf("%u", res->members->len);
            g_ptr_array_add(table, strv_row(res->name, vh_resource_kind_to_string(res->kind), cap,
                                            alloc, used, devs, NULL));
        }
        print_table(header, table);
        /* Each GPU's instance layout, where a MIG-backed type was counted. */
        gboolean first = TRUE;
        for (guint i = 0; i < catalog->gpus->len; i++) {
            const VhVgpuGpu *gpu = g_ptr_array_index(catalog->gpus, i);
            g_autofree char *mig = vh_vgpu_gpu_mig_summary(gpu);
            if (mig == NULL)
                continue;
            printf("%sGPU %s: %s\n", first ? "\n" : "", gpu->pf->address, mig);
            first = FALSE;
        }
    }
    return 0;
}

static int validate_run(VhCtl *ctl, int argc, char **argv);

int
vh_ctl_cmd_validate(VhCtl *ctl, int argc, char **argv)
{
    int rc = validate_run(ctl, argc, argv);

    free_leases();
    return rc;
}

static int
validate_run(VhCtl *ctl, int argc, char **argv)
{
    VhCatalog *catalog; /* the inventory's */
    g_autoptr(GPtrArray) findings = NULL;
    gboolean ready = FALSE;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("validate"), NULL, &argc, &argv, 0, 0, &rc) ||
        (catalog = build_catalog(ctl, &rc)) == NULL)
        return rc;
    findings = vh_validate_host(catalog, &ready);
    if (ctl->json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "ready");
        json_builder_add_boolean_value(b, ready);
        json_builder_set_member_name(b, "findings");
        json_builder_begin_array(b);
        for (guint i = 0; i < findings->len; i++) {
            const VhFinding *f = g_ptr_array_index(findings, i);
            json_builder_begin_object(b);
            json_builder_set_member_name(b, "level");
            json_builder_add_string_value(b, vh_finding_level_to_string(f->level));
            json_builder_set_member_name(b, "subject");
            json_builder_add_string_value(b, f->subject);
            json_builder_set_member_name(b, "message");
            json_builder_add_string_value(b, f->message);
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        vh_ctl_print_json(root);
    } else {
        for (guint i = 0; i < findings->len; i++) {
            const VhFinding *f = g_ptr_array_index(findings, i);
            printf("%-4s %-14s %s\n", vh_finding_level_to_string(f->level), f->subject, f->message);
        }
        printf("%s\n", ready ? "host is ready" : "host is NOT ready: fix the FAIL lines above");
    }
    return ready ? 0 : 1;
}

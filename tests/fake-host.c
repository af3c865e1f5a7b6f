/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fake-host: a fake sysfs tree built from a description; see fake-host.h.
 *
 * What it models, and from where:
 *  - PCI devices as the kernel's sysfs shows them (drivers/pci/pci-sysfs.c):
 *    one-line attribute files ending in "\n", a binary "config" file (libpci
 *    and lspci read it), driver_override reading "(null)" while unset, and
 *    relative symlinks between devices/, bus/pci/ and kernel/iommu_groups/.
 *    Every device sits directly under devices/pciDDDD:00/: no bridges.
 *  - SR-IOV (drivers/pci/iov.c): VF i has routing id PF + offset + i*stride,
 *    with NVIDIA's offset 4 and stride 1; VFs carry a physfn link, the PF a
 *    virtfnN link per VF, and each VF is its own IOMMU group.
 *  - NVIDIA SR-IOV vGPU (vGPU 17+): nvidia/current_vgpu_type and
 *    nvidia/creatable_vgpu_types per VF, in the driver's default homogeneous
 *    mode: one framebuffer size per GPU, as long as framebuffer is left.
 *  - NVIDIA mdev (Pascal..Ampere): class/mdev_bus/PARENT and its
 *    mdev_supported_types/TYPE/ directories.
 *
 * The description is parsed and checked completely before anything is
 * written, so a mistake in it leaves the output directory untouched. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* symlink() also under a strict -std=c11 */
#endif
#include "fake-host.h"
#include "sim-nvml-state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

G_DEFINE_QUARK(fake-host-error-quark, fake_host_error)

#define SRIOV_OFFSET 4 /* NVIDIA GPUs put VF 0 at PF devfn + 4 */
#define SRIOV_STRIDE 1
#define PCI_REVISION 0xa1
#define CONFIG_SIZE 256
#define STATE_DIR ".fake-host"
#define CREATABLE_HEADER "ID    : vGPU Name\n"
#define DRIVER_OVERRIDE_UNSET "(null)\n"
#define RESOURCE_LINES 13 /* BARs, ROM and SR-IOV BARs: PCI_BRIDGE_RESOURCES */

/* ------------------------------------------------------------------ */
/* Model                                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    char *id;              /* vGPU: decimal type id; mdev: type directory name */
    guint number;          /* vGPU: the id as a number (lookups print nothing) */
    char *name;            /* "NVIDIA L40S-24Q", "GRID T4-1Q" */
    guint framebuffer_gb;  /* taken from the name */
    guint max_instances;   /* mdev only */
} FakeHostType;

typedef struct {
    char *name;
    guint framebuffer_gb;  /* vGPU only: the GPU's memory */
    GPtrArray *types;      /* of FakeHostType, in description order */
    /* Per PF, read back from its state file (not from the description). */
    FakeHostDialect dialect;
    gboolean mixed;        /* mixed-size mode: sizes may differ */
    char *gpu_instances;   /* "TYPE:PROFILE[xSLOTS];...": VFs get gpu_instance_id */
    GArray *gis;           /* with gpu_instances: the test NVML's SimNvmlInstance */
    GArray *seats;         /* with gpu_instances: gint per VF, its instance or -1 */
} FakeHostFamily;

typedef struct FakeHostDevice FakeHostDevice;
struct FakeHostDevice {
    char *addr;            /* canonical DDDD:BB:SS.F */
    guint domain, bus, devfn;
    guint vendor, device, subsystem_vendor, subsystem_device, class_code;
    gint numa_node;
    char *driver;          /* NULL: no driver bound */
    gint iommu_group;      /* -1: none */
    gboolean is_pf;
    guint totalvfs, numvfs;
    FakeHostFamily *vgpu;  /* borrowed from FakeHostDesc */
    FakeHostFamily *mdev;  /* borrowed from FakeHostDesc */
    guint *vf_types;       /* numvfs entries; 0: no type preset */
    FakeHostDialect dialect;
    gboolean mixed;
    char *gpu_instances;   /* [device] gpu_instances= */
    GPtrArray *vfs;        /* PF: its VFs (borrowed) */
    FakeHostDevice *physfn; /* VF: its PF (borrowed) */
};

typedef struct {
    gboolean iommu;
    gboolean vfio_pci;
    char *nvidia_version;      /* module/nvidia/version, NULL: none */
    GHashTable *vgpu_families; /* name -> FakeHostFamily */
    GHashTable *mdev_families; /* name -> FakeHostFamily */
    GPtrArray *devices;        /* FakeHostDevice: declared, then generated VFs */
    GHashTable *by_addr;       /* addr -> FakeHostDevice (borrowed) */
} FakeHostDesc;

static void
fake_host_type_free(FakeHostType *type)
{
    g_free(type->id);
    g_free(type->name);
    g_free(type);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeHostType, fake_host_type_free)

static void
fake_host_family_free(FakeHostFamily *family)
{
    g_free(family->name);
    g_free(family->gpu_instances);
    if (family->gis)
        g_array_unref(family->gis);
    if (family->seats)
        g_array_unref(family->seats);
    g_ptr_array_unref(family->types);
    g_free(family);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeHostFamily, fake_host_family_free)

static FakeHostFamily *
fake_host_family_new(const char *name)
{
    FakeHostFamily *family = g_new0(FakeHostFamily, 1);

    family->name = g_strdup(name);
    family->types = g_ptr_array_new_with_free_func((GDestroyNotify)fake_host_type_free);
    return family;
}

static void
fake_host_device_free(FakeHostDevice *dev)
{
    g_free(dev->addr);
    g_free(dev->driver);
    g_free(dev->gpu_instances);
    g_free(dev->vf_types);
    if (dev->vfs)
        g_ptr_array_unref(dev->vfs);
    g_free(dev);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeHostDevice, fake_host_device_free)

static void
fake_host_desc_free(FakeHostDesc *desc)
{
    g_hash_table_unref(desc->vgpu_families);
    g_hash_table_unref(desc->mdev_families);
    g_hash_table_unref(desc->by_addr);
    g_ptr_array_unref(desc->devices);
    g_free(desc->nvidia_version);
    g_free(desc);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(FakeHostDesc, fake_host_desc_free)

static FakeHostDesc *
fake_host_desc_new(void)
{
    FakeHostDesc *desc = g_new0(FakeHostDesc, 1);

    desc->iommu = TRUE;
    desc->vfio_pci = TRUE;
    desc->vgpu_families = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                                (GDestroyNotify)fake_host_family_free);
    desc->mdev_families = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
                                                (GDestroyNotify)fake_host_family_free);
    desc->devices = g_ptr_array_new_with_free_func((GDestroyNotify)fake_host_device_free);
    desc->by_addr = g_hash_table_new(g_str_hash, g_str_equal);
    return desc;
}

/* Take ownership of @dev; its address must be new. */
static void
fake_host_desc_add_device(FakeHostDesc *desc, FakeHostDevice *dev)
{
    g_hash_table_insert(desc->by_addr, dev->addr, dev);
    g_ptr_array_add(desc->devices, dev);
}

/* ------------------------------------------------------------------ */
/* Errors                                                             */
/* ------------------------------------------------------------------ */

/* Every description error names the group and key, as "[group] key: ...". */
static gboolean G_GNUC_PRINTF(5, 6)
fail_key(GError **error, gint code, const char *group, const char *key,
         const char *format, ...)
{
    g_autofree char *reason = NULL;
    va_list args;

    va_start(args, format);
    reason = g_strdup_vprintf(format, args);
    va_end(args);
    if (key)
        g_set_error(error, FAKE_HOST_ERROR, code, "[%s] %s: %s", group, key, reason);
    else
        g_set_error(error, FAKE_HOST_ERROR, code, "[%s]: %s", group, reason);
    return FALSE;
}

static gboolean
fail_errno(GError **error, const char *what, const char *path)
{
    int saved = errno;

    g_set_error(error, FAKE_HOST_ERROR, FAKE_HOST_ERROR_IO,
                "Failed to %s '%s': %s", what, path, g_strerror(saved));
    return FALSE;
}

/* Re-issue an error of another domain (GFileError, GKeyFileError) as ours. */
static gboolean
fail_from(GError **error, gint code, GError *cause)
{
    g_set_error_literal(error, FAKE_HOST_ERROR, code, cause->message);
    return FALSE;
}

/* ------------------------------------------------------------------ */
/* Value syntax                                                       */
/* ------------------------------------------------------------------ */

/* Exactly @width hex digits, nothing else; @lower_only for text that becomes
 * a file name, which must be spelled as the kernel spells it. */
static gboolean
parse_hex(const char *text, gsize width, gboolean lower_only, guint *out)
{
    guint value = 0;

    if (strlen(text) != width)
        return FALSE;
    for (gsize i = 0; i < width; i++) {
        if (!g_ascii_isxdigit(text[i]) || (lower_only && g_ascii_isupper(text[i])))
            return FALSE;
        value = value * 16 + (guint)g_ascii_xdigit_value(text[i]);
    }
    *out = value;
    return TRUE;
}

/* "VVVV:DDDD", the form of ids= and subsystem=. */
static gboolean
parse_id_pair(const char *text, guint *first, guint *second)
{
    g_autofree char *head = NULL;

    if (strlen(text) != 9 || text[4] != ':')
        return FALSE;
    head = g_strndup(text, 4);
    return parse_hex(head, 4, FALSE, first) && parse_hex(text + 5, 4, FALSE, second);
}

/* DDDD:BB:SS.F in lower case only: the address becomes a file name and must
 * match what the kernel (and therefore the code under test) spells. */
static gboolean
parse_address(const char *text, FakeHostDevice *dev)
{
    g_auto(GStrv) parts = g_strsplit_set(text, ":.", -1);
    guint slot, function;

    if (g_strv_length(parts) != 4 || strlen(text) != 12 ||
        text[4] != ':' || text[7] != ':' || text[10] != '.' ||
        !parse_hex(parts[0], 4, TRUE, &dev->domain) ||
        !parse_hex(parts[1], 2, TRUE, &dev->bus) ||
        !parse_hex(parts[2], 2, TRUE, &slot) ||
        !parse_hex(parts[3], 1, TRUE, &function) ||
        slot > 0x1f || function > 7)
        return FALSE;
    dev->devfn = slot << 3 | function;
    return TRUE;
}

static char *
format_address(guint domain, guint bus, guint devfn)
{
    return g_strdup_printf("%04x:%02x:%02x.%x", domain, bus, devfn >> 3, devfn & 7);
}

/* Names that become path components: drivers, families, mdev type ids. */
static gboolean
is_plain_name(const char *text)
{
    if (text[0] == '\0' || text[0] == '.')
        return FALSE;
    for (const char *p = text; *p; p++)
        if (!g_ascii_isalnum(*p) && !strchr("_-.", *p))
            return FALSE;
    return TRUE;
}

static gboolean
parse_uint(const char *text, guint min, guint max, guint *out)
{
    guint64 value;

    if (!g_ascii_string_to_unsigned(text, 10, min, max, &value, NULL))
        return FALSE;
    *out = (guint)value;
    return TRUE;
}

/* NVIDIA names end in "-<framebuffer GB><series letters>": L40S-24Q is 24,
 * H200X-1-18C is 18 (the 1 is the compute slice count). */
static gboolean
parse_type_framebuffer(const char *name, guint *out)
{
    const char *last = strrchr(name, '-');
    const char *digits_end;
    g_autofree char *digits = NULL;

    if (last == NULL)
        return FALSE;
    last++;
    for (digits_end = last; g_ascii_isdigit(*digits_end); digits_end++)
        ;
    if (digits_end == last || *digits_end == '\0')
        return FALSE;
    for (const char *p = digits_end; *p; p++)
        if (!g_ascii_isalpha(*p))
            return FALSE;
    digits = g_strndup(last, (gsize)(digits_end - last));
    return parse_uint(digits, 1, 1024 * 1024, out);
}

/* ------------------------------------------------------------------ */
/* Key file access                                                    */
/* ------------------------------------------------------------------ */

/* Split "[kind name]" at the first space. */
static void
split_group(const char *group, char **kind, char **name)
{
    const char *space = strchr(group, ' ');

    *kind = space ? g_strndup(group, (gsize)(space - group)) : g_strdup(group);
    *name = space ? g_strdup(space + 1) : NULL;
}

/* Fetch @key without surrounding blanks into @out, or NULL when absent. */
static gboolean
get_string(GKeyFile *kf, const char *group, const char *key, gboolean required,
           char **out, GError **error)
{
    g_autoptr(GError) local = NULL;
    char *value;

    *out = NULL;
    if (!g_key_file_has_key(kf, group, key, NULL)) {
        if (required)
            return fail_key(error, FAKE_HOST_ERROR_INVALID, group, key,
                            "missing (required)");
        return TRUE;
    }
    value = g_key_file_get_string(kf, group, key, &local);
    if (value == NULL)
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, key, "%s", local->message);
    *out = g_strstrip(value);
    return TRUE;
}

/* Leave @out untouched (the caller's default) when @key is absent. */
static gboolean
get_uint(GKeyFile *kf, const char *group, const char *key, gboolean required,
         guint max, guint *out, GError **error)
{
    g_autofree char *text = NULL;

    if (!get_string(kf, group, key, required, &text, error))
        return FALSE;
    if (text && !parse_uint(text, 0, max, out))
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, key,
                        "'%s' is not a decimal number from 0 to %u", text, max);
    return TRUE;
}

static gboolean
get_bool(GKeyFile *kf, const char *group, const char *key, gboolean *out,
         GError **error)
{
    g_autofree char *text = NULL;

    if (!get_string(kf, group, key, FALSE, &text, error))
        return FALSE;
    if (text == NULL)
        return TRUE;
    if (g_strcmp0(text, "true") != 0 && g_strcmp0(text, "false") != 0)
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, key,
                        "'%s' is not true or false", text);
    *out = g_strcmp0(text, "true") == 0;
    return TRUE;
}

static gboolean
check_keys(GKeyFile *kf, const char *group, const char *const *allowed,
           GError **error)
{
    g_auto(GStrv) keys = g_key_file_get_keys(kf, group, NULL, NULL);

    for (guint i = 0; keys && keys[i]; i++) {
        if (!g_strv_contains(allowed, keys[i])) {
            g_autofree char *list = g_strjoinv(", ", (char **)allowed);
            return fail_key(error, FAKE_HOST_ERROR_INVALID, group, keys[i],
                            "unknown key (expected one of: %s)", list);
        }
    }
    return TRUE;
}

/* GKeyFile silently merges repeated groups and keeps the last of repeated
 * keys; in a description either is a mistake, so look for them first. */
static gboolean
check_repeats(const char *text, GError **error)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    g_autoptr(GHashTable) groups = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_autoptr(GHashTable) keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    const char *group = NULL;

    for (guint n = 0; lines[n]; n++) {
        char *line = g_strstrip(lines[n]);
        char *eq = strchr(line, '=');

        if (line[0] == '[' && g_str_has_suffix(line, "]")) {
            line[strlen(line) - 1] = '\0';
            group = line + 1;
            if (!g_hash_table_add(groups, g_strdup(group)))
                return fail_key(error, FAKE_HOST_ERROR_INVALID, group, NULL,
                                "appears twice (line %u); merge the two groups", n + 1);
            g_hash_table_remove_all(keys);
        } else if (group && line[0] != '#' && eq) {
            *eq = '\0';
            if (!g_hash_table_add(keys, g_strdup(g_strstrip(line))))
                return fail_key(error, FAKE_HOST_ERROR_INVALID, group, line,
                                "set twice (line %u)", n + 1);
        }
    }
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* Type tables: [vgpu-family] and [mdev-family]                       */
/* ------------------------------------------------------------------ */

/* Split "a;b;c" (a trailing ';' allowed) into stripped, non-empty items. */
static GStrv
split_items(const char *group, const char *key, const char *text, GError **error)
{
    g_autofree char *copy = g_strdup(text);
    g_auto(GStrv) items = NULL;

    if (g_str_has_suffix(copy, ";"))
        copy[strlen(copy) - 1] = '\0';
    items = g_strsplit(copy, ";", -1);
    for (guint i = 0; items[i]; i++) {
        if (*g_strstrip(items[i]) == '\0') {
            fail_key(error, FAKE_HOST_ERROR_INVALID, group, key,
                     "item %u is empty (items are separated by ';')", i + 1);
            return NULL;
        }
    }
    return g_steal_pointer(&items);
}

static FakeHostType *
family_find_type(const FakeHostFamily *family, const char *id)
{
    for (guint i = 0; i < family->types->len; i++) {
        FakeHostType *type = g_ptr_array_index(family->types, i);
        if (g_strcmp0(type->id, id) == 0)
            return type;
    }
    return NULL;
}

/* vGPU families only: their ids are numbers printed "%u". */
static FakeHostType *
family_find_type_number(const FakeHostFamily *family, guint id)
{
    for (guint i = 0; i < family->types->len; i++) {
        FakeHostType *type = g_ptr_array_index(family->types, i);
        if (type->number == id)
            return type;
    }
    return NULL;
}

/* Checks shared by both kinds of table, then moves @type into @family.
 * Returns @type, now owned by @family, or NULL on error. */
static FakeHostType *
family_add_type(FakeHostFamily *family, const char *group, FakeHostType *type,
                GError **error)
{
    g_autoptr(FakeHostType) owned = type;

    if (*type->name == '\0') {
        fail_key(error, FAKE_HOST_ERROR_INVALID, group, "types",
                 "type %s has an empty name", type->id);
        return NULL;
    }
    if (!parse_type_framebuffer(type->name, &type->framebuffer_gb)) {
        fail_key(error, FAKE_HOST_ERROR_INVALID, group, "types",
                 "type name '%s' does not end in -<GB><letters> "
                 "(e.g. NVIDIA L40S-24Q), so its framebuffer is unknown", type->name);
        return NULL;
    }
    if (family_find_type(family, type->id)) {
        fail_key(error, FAKE_HOST_ERROR_INVALID, group, "types",
                 "type id %s is listed twice", type->id);
        return NULL;
    }
    g_ptr_array_add(family->types, g_steal_pointer(&owned));
    return type;
}

/* One "ID:NAME" item of a [vgpu-family] types= list. */
static gboolean
vgpu_family_add_item(FakeHostFamily *family, const char *group, const char *item,
                     GError **error)
{
    g_auto(GStrv) parts = g_strsplit(item, ":", -1);
    g_autoptr(FakeHostType) type = NULL;
    FakeHostType *added;
    guint id;

    if (g_strv_length(parts) != 2 || !parse_uint(g_strstrip(parts[0]), 1, G_MAXINT, &id))
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "types",
                        "'%s' is not ID:NAME (e.g. 1161:NVIDIA L40S-24Q)", item);
    type = g_new0(FakeHostType, 1);
    type->id = g_strdup_printf("%u", id);
    type->number = id;
    type->name = g_strdup(g_strstrip(parts[1]));
    added = family_add_type(family, group, g_steal_pointer(&type), error);
    if (added == NULL)
        return FALSE;
    if (added->framebuffer_gb > family->framebuffer_gb)
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "types",
                        "type '%s' needs more than framebuffer_gb=%u", added->name,
                        family->framebuffer_gb);
    return TRUE;
}

/* One "TYPEID:NAME:MAXINST" item of an [mdev-family] types= list. */
static gboolean
mdev_family_add_item(FakeHostFamily *family, const char *group, const char *item,
                     GError **error)
{
    g_auto(GStrv) parts = g_strsplit(item, ":", -1);
    g_autoptr(FakeHostType) type = NULL;
    guint max;

    if (g_strv_length(parts) != 3 || !is_plain_name(g_strstrip(parts[0])) ||
        !parse_uint(g_strstrip(parts[2]), 1, 4096, &max))
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "types",
                        "'%s' is not TYPEID:NAME:MAXINST (e.g. nvidia-230:GRID T4-1Q:16)",
                        item);
    type = g_new0(FakeHostType, 1);
    type->id = g_strdup(parts[0]);
    type->name = g_strdup(g_strstrip(parts[1]));
    type->max_instances = max;
    return family_add_type(family, group, g_steal_pointer(&type), error) != NULL;
}

/* Parse the table in @group; used for descriptions and for state files. */
static FakeHostFamily *
family_parse(GKeyFile *kf, const char *group, const char *name, gboolean vgpu,
             GError **error)
{
    g_autoptr(FakeHostFamily) family = fake_host_family_new(name);
    g_autofree char *text = NULL;
    g_auto(GStrv) items = NULL;

    if (vgpu && !get_uint(kf, group, "framebuffer_gb", TRUE, 1024 * 1024,
                          &family->framebuffer_gb, error))
        return NULL;
    if (vgpu && family->framebuffer_gb == 0) {
        fail_key(error, FAKE_HOST_ERROR_INVALID, group, "framebuffer_gb", "must not be 0");
        return NULL;
    }
    if (!get_string(kf, group, "types", TRUE, &text, error) ||
        !(items = split_items(group, "types", text, error)))
        return NULL;
    for (guint i = 0; items[i]; i++) {
        gboolean ok = vgpu ? vgpu_family_add_item(family, group, items[i], error)
                           : mdev_family_add_item(family, group, items[i], error);
        if (!ok)
            return NULL;
    }
    return g_steal_pointer(&family);
}

/* "1155:NVIDIA L40S-1Q;..." (with ":MAXINST" for mdev): the state files use
 * the description's own syntax so that one parser reads both. */
static char *
family_format_types(const FakeHostFamily *family, gboolean mdev)
{
    GString *text = g_string_new(NULL);

    for (guint i = 0; i < family->types->len; i++) {
        FakeHostType *type = g_ptr_array_index(family->types, i);
        g_string_append_printf(text, "%s%s:%s", i ? ";" : "", type->id, type->name);
        if (mdev)
            g_string_append_printf(text, ":%u", type->max_instances);
    }
    return g_string_free(text, FALSE);
}

/* ------------------------------------------------------------------ */
/* NVIDIA vGPU manager rules (homogeneous mode)                       */
/* ------------------------------------------------------------------ */

/* Mixed-size mode places types in framebuffer slots of 1 GB: a type takes
 * its size rounded up to an even number of slots, at a multiple of that
 * (so 1 GB types fit half as often as in equal-size mode: NVIDIA's "some
 * types have a lower maximum count"). Equal-size mode counts GB only. */
static guint
vgpu_placement_size(guint gb)
{
    return gb + (gb & 1);
}

/* Take a placement for @gb in @slots (framebuffer_gb entries). */
static gboolean
vgpu_slots_take(guint8 *slots, guint n_slots, guint gb)
{
    guint p = vgpu_placement_size(gb);

    for (guint start = 0; p && start + p <= n_slots; start += p) {
        if (memchr(slots + start, 1, p) == NULL) {
            memset(slots + start, 1, p);
            return TRUE;
        }
    }
    return FALSE;
}

static gboolean gi_room(const FakeHostFamily *family, const FakeHostType *extra,
                        const guint *held, guint n_vfs);

/* Whether the VFs' @held types (0 = none; VF @skip left out) and then one
 * more type @extra (NULL: none) fit the GPU. Sets *@why to the errno the
 * upstream driver gives for @extra: EINVAL size mismatch (equal-size mode),
 * ENOSPC no room. */
static gboolean
vgpu_fits(const FakeHostFamily *family, gboolean mixed, const guint *held, guint n_vfs,
          guint skip, const FakeHostType *extra, int *why)
{
    g_autofree guint8 *slots = g_malloc0(family->framebuffer_gb);
    guint size = 0, used = 0;

    for (guint i = 0; i <= n_vfs; i++) {
        const FakeHostType *type = i == n_vfs ? extra
                                   : i == skip || held[i] == 0
                                       ? NULL : family_find_type_number(family, held[i]);
        if (type == NULL)
            continue;
        if (!mixed && size && type->framebuffer_gb != size) {
            *why = EINVAL;
            return FALSE;
        }
        size = type->framebuffer_gb;
        used += type->framebuffer_gb;
        if (mixed ? !vgpu_slots_take(slots, family->framebuffer_gb, type->framebuffer_gb)
                  : used > family->framebuffer_gb) {
            *why = ENOSPC;
            return FALSE;
        }
    }
    if (extra && !gi_room(family, extra, held, n_vfs)) {
        *why = ENOSPC; /* no GPU instance takes it (proprietary: EIO) */
        return FALSE;
    }
    return TRUE;
}

/* The VFs of one GPU must hold types of one framebuffer size (equal-size
 * mode) or fit its placement slots (mixed), and no more than the GPU's
 * framebuffer in total. @held: type id per VF, 0 = none; @where and @code
 * say who asked (a description key or the emulator). */
static gboolean
vgpu_check_held(const FakeHostFamily *family, gboolean mixed, const guint *held, guint n_vfs,
                const char *where, gint code, GError **error)
{
    int why = 0;

    for (guint i = 0; i < n_vfs; i++) {
        if (held[i] != 0 && family_find_type_number(family, held[i]) == NULL) {
            g_set_error(error, FAKE_HOST_ERROR, code,
                        "%s: virtfn%u holds vGPU type %u, which family %s does not have",
                        where, i, held[i], family->name);
            return FALSE;
        }
    }
    if (!vgpu_fits(family, mixed, held, n_vfs, G_MAXUINT, NULL, &why)) {
        g_set_error(error, FAKE_HOST_ERROR, code,
                    why == EINVAL ? "%s: the VFs hold types of different framebuffer sizes: "
                                    "the vGPU manager runs one size per GPU (equal-size mode)"
                                  : "%s: the VFs hold more vGPU framebuffer than the GPU has",
                    where);
        return FALSE;
    }
    return TRUE;
}

/* The GPU's creatable_vgpu_types given what all VFs hold (already checked):
 * the types that still fit the GPU. Every VF lists it, but one that holds a
 * type under the upstream driver (vf_creatable_text). */
static char *
vgpu_creatable_text(const FakeHostFamily *family, gboolean mixed, const guint *held,
                    guint n_vfs)
{
    GString *text = g_string_new(CREATABLE_HEADER);

    for (guint i = 0; i < family->types->len; i++) {
        const FakeHostType *type = g_ptr_array_index(family->types, i);
        int why;
        if (vgpu_fits(family, mixed, held, n_vfs, G_MAXUINT, type, &why))
            g_string_append_printf(text, "%-6s: %s\n", type->id, type->name);
    }
    return g_string_free(text, FALSE);
}

/* ------------------------------------------------------------------ */
/* Description: [host], families, devices                            */
/* ------------------------------------------------------------------ */

static const char *const host_keys[] = { "vfio_pci", "iommu", "nvidia_version", NULL };
static const char *const vgpu_family_keys[] = { "framebuffer_gb", "types", NULL };
static const char *const mdev_family_keys[] = { "types", NULL };
static const char *const device_keys[] = {
    "ids", "subsystem", "class", "driver", "iommu_group", "numa_node",
    "sriov_totalvfs", "sriov_numvfs", "vgpu_family", "vf_types", "mdev_family",
    "vgpu_dialect", "vgpu_mode", "gpu_instances", NULL
};

static gboolean
desc_parse_host(FakeHostDesc *desc, GKeyFile *kf, const char *group, GError **error)
{
    if (!check_keys(kf, group, host_keys, error) ||
        !get_bool(kf, group, "vfio_pci", &desc->vfio_pci, error) ||
        !get_bool(kf, group, "iommu", &desc->iommu, error))
        return FALSE;
    desc->nvidia_version = g_key_file_get_string(kf, group, "nvidia_version", NULL);
    return TRUE;
}

static gboolean
desc_parse_family(FakeHostDesc *desc, GKeyFile *kf, const char *group,
                  const char *name, gboolean vgpu, GError **error)
{
    FakeHostFamily *family;

    if (!is_plain_name(name))
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, NULL,
                        "'%s' is not a family name (letters, digits, '_', '-', '.')", name);
    if (!check_keys(kf, group, vgpu ? vgpu_family_keys : mdev_family_keys, error))
        return FALSE;
    family = family_parse(kf, group, name, vgpu, error);
    if (family == NULL)
        return FALSE;
    g_hash_table_insert(vgpu ? desc->vgpu_families : desc->mdev_families,
                        family->name, family);
    return TRUE;
}

/* ids=, subsystem=, class=: what lspci shows. */
static gboolean
device_parse_ids(FakeHostDevice *dev, GKeyFile *kf, const char *group, GError **error)
{
    g_autofree char *ids = NULL, *subsystem = NULL, *class_code = NULL;

    if (!get_string(kf, group, "ids", TRUE, &ids, error))
        return FALSE;
    if (!parse_id_pair(ids, &dev->vendor, &dev->device))
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "ids",
                        "'%s' is not VVVV:DDDD (4 hex digits each, e.g. 10de:2236)", ids);
    if (!get_string(kf, group, "subsystem", FALSE, &subsystem, error))
        return FALSE;
    if (subsystem && !parse_id_pair(subsystem, &dev->subsystem_vendor, &dev->subsystem_device))
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "subsystem",
                        "'%s' is not VVVV:DDDD (4 hex digits each, e.g. 10de:1482)",
                        subsystem);
    if (!get_string(kf, group, "class", TRUE, &class_code, error))
        return FALSE;
    if (!g_str_has_prefix(class_code, "0x") ||
        !parse_hex(class_code + 2, 6, FALSE, &dev->class_code))
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "class",
                        "'%s' is not 0x followed by 6 hex digits (e.g. 0x030200)",
                        class_code);
    return TRUE;
}

/* driver=, iommu_group=, numa_node=: where the device sits on the host. */
static gboolean
device_parse_placement(FakeHostDesc *desc, FakeHostDevice *dev, GKeyFile *kf,
                       const char *group, GError **error)
{
    g_autofree char *numa = NULL;
    guint iommu_group = G_MAXUINT;
    gint64 numa_node = -1;

    if (!get_string(kf, group, "driver", FALSE, &dev->driver, error) ||
        !get_uint(kf, group, "iommu_group", FALSE, G_MAXINT / 2, &iommu_group, error) ||
        !get_string(kf, group, "numa_node", FALSE, &numa, error))
        return FALSE;
    if (dev->driver && !is_plain_name(dev->driver))
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "driver",
                        "'%s' is not a driver name", dev->driver);
    if (g_strcmp0(dev->driver, "vfio-pci") == 0 && !desc->vfio_pci)
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "driver",
                        "vfio-pci is not loaded on this host ([host] vfio_pci=false)");
    if (numa && !g_ascii_string_to_signed(numa, 10, -1, 1023, &numa_node, NULL))
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "numa_node",
                        "'%s' is not a number from -1 to 1023", numa);
    dev->numa_node = (gint)numa_node;
    /* Without an IOMMU the kernel makes no groups: iommu_group= is ignored
     * so that one description can be tried with and without. */
    dev->iommu_group = (iommu_group == G_MAXUINT || !desc->iommu) ? -1 : (gint)iommu_group;
    return TRUE;
}

static FakeHostFamily *
desc_lookup_family(FakeHostDesc *desc, const char *group, const char *key,
                   const char *name, gboolean vgpu, GError **error)
{
    FakeHostFamily *family =
        g_hash_table_lookup(vgpu ? desc->vgpu_families : desc->mdev_families, name);

    if (family == NULL)
        fail_key(error, FAKE_HOST_ERROR_INVALID, group, key,
                 "no group [%s %s] in the description",
                 vgpu ? "vgpu-family" : "mdev-family", name);
    return family;
}

/* vf_types=VF:ID;...: types the VFs already hold when the tree is built. */
static gboolean
device_parse_vf_types(FakeHostDevice *dev, const char *group, const char *text,
                      GError **error)
{
    g_auto(GStrv) items = split_items(group, "vf_types", text, error);

    if (items == NULL)
        return FALSE;
    for (guint i = 0; items[i]; i++) {
        g_auto(GStrv) parts = g_strsplit(items[i], ":", -1);
        guint vf, id;
        if (g_strv_length(parts) != 2 ||
            !parse_uint(g_strstrip(parts[0]), 0, G_MAXINT, &vf) ||
            !parse_uint(g_strstrip(parts[1]), 1, G_MAXINT, &id))
            return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "vf_types",
                            "'%s' is not VF:TYPEID (e.g. 2:1161)", items[i]);
        if (vf >= dev->numvfs)
            return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "vf_types",
                            "VF %u does not exist (sriov_numvfs=%u)", vf, dev->numvfs);
        if (!family_find_type_number(dev->vgpu, id))
            return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "vf_types",
                            "type %u is not in [vgpu-family %s]", id, dev->vgpu->name);
        if (dev->vf_types[vf] != 0)
            return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "vf_types",
                            "VF %u is given a type twice", vf);
        dev->vf_types[vf] = id;
    }
    return TRUE;
}

static gboolean gi_rules_valid(const char *rules);

/* sriov_totalvfs=, sriov_numvfs=, vgpu_family=, vf_types=. */
static gboolean
device_parse_sriov(FakeHostDesc *desc, FakeHostDevice *dev, GKeyFile *kf,
                   const char *group, GError **error)
{
    g_autofree char *family = NULL, *vf_types = NULL, *dialect = NULL, *mode = NULL;

    dev->is_pf = g_key_file_has_key(kf, group, "sriov_totalvfs", NULL);
    if (!get_string(kf, group, "vgpu_dialect", FALSE, &dialect, error) ||
        !get_string(kf, group, "vgpu_mode", FALSE, &mode, error) ||
        !get_string(kf, group, "gpu_instances", FALSE, &dev->gpu_instances, error))
        return FALSE;
    if (dev->gpu_instances && !gi_rules_valid(dev->gpu_instances))
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "gpu_instances",
                        "'%s' is not TYPE:PROFILE[xSLOTS];... (decimal ids)",
                        dev->gpu_instances);
    if (dialect && strcmp(dialect, "upstream") == 0)
        dev->dialect = FAKE_HOST_DIALECT_UPSTREAM;
    else if (dialect && strcmp(dialect, "proprietary") != 0)
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "vgpu_dialect",
                        "'%s' is neither proprietary nor upstream", dialect);
    if (mode && strcmp(mode, "mixed") == 0)
        dev->mixed = TRUE;
    else if (mode && strcmp(mode, "equal") != 0)
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "vgpu_mode",
                        "'%s' is neither equal nor mixed", mode);
    if (!get_uint(kf, group, "sriov_totalvfs", FALSE, 0xffff, &dev->totalvfs, error) ||
        !get_uint(kf, group, "sriov_numvfs", FALSE, 0xffff, &dev->numvfs, error) ||
        !get_string(kf, group, "vgpu_family", FALSE, &family, error) ||
        !get_string(kf, group, "vf_types", FALSE, &vf_types, error))
        return FALSE;
    if (!dev->is_pf && g_key_file_has_key(kf, group, "sriov_numvfs", NULL))
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "sriov_numvfs",
                        "needs sriov_totalvfs (only an SR-IOV PF has VFs)");
    if (dev->numvfs > dev->totalvfs)
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "sriov_numvfs",
                        "%u is more than sriov_totalvfs=%u", dev->numvfs, dev->totalvfs);
    if (family && !dev->is_pf)
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "vgpu_family",
                        "needs sriov_totalvfs (SR-IOV vGPU lives on the VFs of a PF)");
    if (family && !(dev->vgpu = desc_lookup_family(desc, group, "vgpu_family", family,
                                                   TRUE, error)))
        return FALSE;
    if (vf_types && !dev->vgpu)
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "vf_types",
                        "needs vgpu_family");
    dev->vf_types = g_new0(guint, dev->numvfs);
    return vf_types == NULL || device_parse_vf_types(dev, group, vf_types, error);
}

static gboolean
device_parse_mdev(FakeHostDesc *desc, FakeHostDevice *dev, GKeyFile *kf,
                  const char *group, GError **error)
{
    g_autofree char *family = NULL;

    if (!get_string(kf, group, "mdev_family", FALSE, &family, error))
        return FALSE;
    if (family && dev->vgpu)
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "mdev_family",
                        "a GPU uses either vgpu_family (SR-IOV) or mdev_family, not both");
    return family == NULL ||
           (dev->mdev = desc_lookup_family(desc, group, "mdev_family", family,
                                           FALSE, error)) != NULL;
}

static gboolean
desc_parse_device(FakeHostDesc *desc, GKeyFile *kf, const char *group,
                  const char *addr, GError **error)
{
    g_autoptr(FakeHostDevice) dev = g_new0(FakeHostDevice, 1);

    if (!parse_address(addr, dev))
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, NULL,
                        "'%s' is not a PCI address DDDD:BB:SS.F in lower-case hex "
                        "(e.g. 0000:3b:00.0)", addr);
    dev->addr = g_strdup(addr);
    if (!check_keys(kf, group, device_keys, error) ||
        !device_parse_ids(dev, kf, group, error) ||
        !device_parse_placement(desc, dev, kf, group, error) ||
        !device_parse_sriov(desc, dev, kf, group, error) ||
        !device_parse_mdev(desc, dev, kf, group, error))
        return FALSE;
    fake_host_desc_add_device(desc, g_steal_pointer(&dev));
    return TRUE;
}

/* Families first, so that devices can refer to any of them. */
static gboolean
desc_parse_group(FakeHostDesc *desc, GKeyFile *kf, const char *group,
                 gboolean devices, GError **error)
{
    g_autofree char *kind = NULL, *name = NULL;

    split_group(group, &kind, &name);
    if (g_str_equal(kind, "host") && name == NULL)
        return devices || desc_parse_host(desc, kf, group, error);
    if (g_str_equal(kind, "vgpu-family") && name)
        return devices || desc_parse_family(desc, kf, group, name, TRUE, error);
    if (g_str_equal(kind, "mdev-family") && name)
        return devices || desc_parse_family(desc, kf, group, name, FALSE, error);
    if (g_str_equal(kind, "device") && name)
        return !devices || desc_parse_device(desc, kf, group, name, error);
    return fail_key(error, FAKE_HOST_ERROR_INVALID, group, NULL,
                    "unknown group (expected [host], [device ADDR], "
                    "[vgpu-family NAME] or [mdev-family NAME])");
}

/* ------------------------------------------------------------------ */
/* SR-IOV: generated VFs                                              */
/* ------------------------------------------------------------------ */

/* Record @dev's IOMMU group in @groups; VFs must not land in another
 * device's group, as the description must leave room for them. */
static gboolean
claim_vf_group(GHashTable *groups, const char *group, FakeHostDevice *pf,
               FakeHostDevice *vf, GError **error)
{
    const char *owner = g_hash_table_lookup(groups, GINT_TO_POINTER(vf->iommu_group));

    if (owner)
        return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "iommu_group",
                        "VF %s would get IOMMU group %d, already used by %s: leave "
                        "groups %d..%u free for the VFs", vf->addr, vf->iommu_group,
                        owner, pf->iommu_group + 1, (guint)pf->iommu_group + pf->numvfs);
    g_hash_table_insert(groups, GINT_TO_POINTER(vf->iommu_group), vf->addr);
    return TRUE;
}

/* VF @index of @pf: same identity, driver and NUMA node, no SR-IOV itself. */
static FakeHostDevice *
vf_new(FakeHostDevice *pf, const char *group, guint index, GError **error)
{
    g_autoptr(FakeHostDevice) vf = g_new0(FakeHostDevice, 1);
    guint routing = pf->devfn + SRIOV_OFFSET + index * SRIOV_STRIDE;

    vf->domain = pf->domain;
    vf->bus = pf->bus + (routing >> 8);
    vf->devfn = routing & 0xff;
    if (vf->bus > 0xff) {
        fail_key(error, FAKE_HOST_ERROR_INVALID, group, "sriov_numvfs",
                 "VF %u would be past bus ff", index);
        return NULL;
    }
    vf->addr = format_address(vf->domain, vf->bus, vf->devfn);
    vf->vendor = pf->vendor;
    vf->device = pf->device;
    vf->subsystem_vendor = pf->subsystem_vendor;
    vf->subsystem_device = pf->subsystem_device;
    vf->class_code = pf->class_code;
    vf->numa_node = pf->numa_node;
    vf->driver = g_strdup(pf->driver);
    vf->iommu_group = pf->iommu_group < 0 ? -1 : pf->iommu_group + 1 + (gint)index;
    vf->physfn = pf;
    return g_steal_pointer(&vf);
}

static gboolean
desc_add_vfs(FakeHostDesc *desc, FakeHostDevice *pf, GHashTable *groups,
             GError **error)
{
    g_autofree char *group = g_strdup_printf("device %s", pf->addr);
    g_autofree char *where = g_strdup_printf("[%s] vf_types", group);

    pf->vfs = g_ptr_array_new();
    for (guint i = 0; i < pf->numvfs; i++) {
        g_autoptr(FakeHostDevice) vf = vf_new(pf, group, i, error);
        FakeHostDevice *other;

        if (vf == NULL)
            return FALSE;
        other = g_hash_table_lookup(desc->by_addr, vf->addr);
        if (other)
            return fail_key(error, FAKE_HOST_ERROR_INVALID, group, "sriov_numvfs",
                            "VF %u would be %s, which is %s", i, vf->addr,
                            other->physfn ? "a VF of another PF" : "declared as a device");
        if (vf->iommu_group >= 0 && !claim_vf_group(groups, group, pf, vf, error))
            return FALSE;
        g_ptr_array_add(pf->vfs, vf);
        fake_host_desc_add_device(desc, g_steal_pointer(&vf));
    }
    return pf->vgpu == NULL ||
           vgpu_check_held(pf->vgpu, pf->mixed, pf->vf_types, pf->numvfs, where,
                           FAKE_HOST_ERROR_INVALID, error);
}

static gboolean
desc_generate_vfs(FakeHostDesc *desc, GError **error)
{
    g_autoptr(GHashTable) groups = g_hash_table_new(g_direct_hash, g_direct_equal);
    guint declared = desc->devices->len;

    for (guint i = 0; i < declared; i++) {
        FakeHostDevice *dev = g_ptr_array_index(desc->devices, i);
        if (dev->iommu_group >= 0)
            g_hash_table_insert(groups, GINT_TO_POINTER(dev->iommu_group), dev->addr);
    }
    for (guint i = 0; i < declared; i++) {
        FakeHostDevice *dev = g_ptr_array_index(desc->devices, i);
        if (dev->is_pf && !desc_add_vfs(desc, dev, groups, error))
            return FALSE;
    }
    return TRUE;
}

static FakeHostDesc *
desc_parse(const char *text, GError **error)
{
    g_autoptr(FakeHostDesc) desc = fake_host_desc_new();
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) groups = NULL;

    if (!g_key_file_load_from_data(kf, text, (gsize)-1, G_KEY_FILE_NONE, &local)) {
        fail_from(error, FAKE_HOST_ERROR_PARSE, local);
        return NULL;
    }
    if (!check_repeats(text, error))
        return NULL;
    groups = g_key_file_get_groups(kf, NULL);
    for (guint pass = 0; pass < 2; pass++)
        for (guint i = 0; groups[i]; i++)
            if (!desc_parse_group(desc, kf, groups[i], pass == 1, error))
                return NULL;
    if (!desc_generate_vfs(desc, error))
        return NULL;
    return g_steal_pointer(&desc);
}

/* ------------------------------------------------------------------ */
/* Writing the tree                                                   */
/* ------------------------------------------------------------------ */

static gboolean
make_dir(const char *root, const char *rel, GError **error)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);

    if (g_mkdir_with_parents(path, 0755) < 0)
        return fail_errno(error, "create directory", path);
    return TRUE;
}

static gboolean
write_file(const char *root, const char *rel, const char *contents, gssize len,
           GError **error)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);
    g_autoptr(GError) local = NULL;

    if (!g_file_set_contents(path, contents, len, &local))
        return fail_from(error, FAKE_HOST_ERROR_IO, local);
    return TRUE;
}

/* One sysfs attribute: @dir/@name holding the formatted text. */
static gboolean G_GNUC_PRINTF(5, 6)
write_attr(const char *root, const char *dir, const char *name, GError **error,
           const char *format, ...)
{
    g_autofree char *rel = g_build_filename(dir, name, NULL);
    g_autofree char *text = NULL;
    va_list args;

    va_start(args, format);
    text = g_strdup_vprintf(format, args);
    va_end(args);
    return write_file(root, rel, text, -1, error);
}

/* The path from directory @from_dir to @to, both relative to the root:
 * sysfs links are relative, so the tree stays valid wherever it lives. */
static char *
relative_path(const char *from_dir, const char *to)
{
    g_auto(GStrv) from = g_strsplit(from_dir, "/", -1);
    g_auto(GStrv) dest = g_strsplit(to, "/", -1);
    g_autoptr(GPtrArray) parts = g_ptr_array_new();
    guint common = 0;

    while (from[common] && dest[common] && g_str_equal(from[common], dest[common]))
        common++;
    for (guint i = common; from[i]; i++)
        g_ptr_array_add(parts, (char *)"..");
    for (guint i = common; dest[i]; i++)
        g_ptr_array_add(parts, dest[i]);
    g_ptr_array_add(parts, NULL);
    return g_strjoinv("/", (char **)parts->pdata);
}

/* Symlink @link -> @target (both relative to @root), creating @link's
 * directory if needed. */
static gboolean
make_link(const char *root, const char *link, const char *target, GError **error)
{
    g_autofree char *link_dir = g_path_get_dirname(link);
    g_autofree char *relative = relative_path(link_dir, target);
    g_autofree char *path = g_build_filename(root, link, NULL);

    if (!make_dir(root, link_dir, error))
        return FALSE;
    if (symlink(relative, path) < 0)
        return fail_errno(error, "create symlink", path);
    return TRUE;
}

static char *
device_dir(const FakeHostDevice *dev)
{
    return g_strdup_printf("devices/pci%04x:00/%s", dev->domain, dev->addr);
}

static char *
driver_dir(const char *driver)
{
    return g_strdup_printf("bus/pci/drivers/%s", driver);
}

/* A loaded driver: its directory with the files the binding code writes. */
static gboolean
write_driver(const char *root, const char *driver, GError **error)
{
    static const char *const files[] = { "bind", "unbind", "new_id", "remove_id", NULL };
    g_autofree char *dir = driver_dir(driver);

    if (!make_dir(root, dir, error))
        return FALSE;
    for (guint i = 0; files[i]; i++)
        if (!write_attr(root, dir, files[i], error, "%s", ""))
            return FALSE;
    return TRUE;
}

/* The top of the tree that exists on any host, whatever its devices. */
static gboolean
write_skeleton(const FakeHostDesc *desc, const char *root, GError **error)
{
    return make_dir(root, "devices", error) &&
           make_dir(root, "bus/pci/devices", error) &&
           make_dir(root, "bus/pci/drivers", error) &&
           write_file(root, "bus/pci/drivers_probe", "", 0, error) &&
           (!desc->vfio_pci || write_driver(root, "vfio-pci", error)) &&
           (!desc->iommu || make_dir(root, "kernel/iommu_groups", error)) &&
           (desc->nvidia_version == NULL || (make_dir(root, "module/nvidia", error) &&
            write_attr(root, "module/nvidia", "version", error, "%s\n",
                                  desc->nvidia_version)));
}

static void
put_le16(guint8 *config, guint offset, guint value)
{
    config[offset] = value & 0xff;
    config[offset + 1] = (value >> 8) & 0xff;
}

/* The standard type 0 header, enough for libpci. A VF reads 0xffff as vendor
 * and device, as the SR-IOV spec says; the kernel takes its ids from the PF. */
static gboolean
write_config(const char *root, const char *dir, const FakeHostDevice *dev,
             GError **error)
{
    g_autofree char *rel = g_build_filename(dir, "config", NULL);
    guint8 config[CONFIG_SIZE] = { 0 };

    put_le16(config, 0x00, dev->physfn ? 0xffff : dev->vendor);
    put_le16(config, 0x02, dev->physfn ? 0xffff : dev->device);
    config[0x08] = PCI_REVISION;
    config[0x09] = dev->class_code & 0xff;
    config[0x0a] = (dev->class_code >> 8) & 0xff;
    config[0x0b] = (dev->class_code >> 16) & 0xff;
    put_le16(config, 0x2c, dev->subsystem_vendor);
    put_le16(config, 0x2e, dev->subsystem_device);
    return write_file(root, rel, (const char *)config, sizeof config, error);
}

/* lspci -v reads irq and resource; nothing here is memory-mapped, so zeros. */
static gboolean
write_resources(const char *root, const char *dir, GError **error)
{
    g_autofree char *rel = g_build_filename(dir, "resource", NULL);
    GString *text = g_string_new(NULL);
    g_autofree char *data = NULL;

    for (guint i = 0; i < RESOURCE_LINES; i++)
        g_string_append(text, "0x0000000000000000 0x0000000000000000 0x0000000000000000\n");
    data = g_string_free(text, FALSE);
    return write_attr(root, dir, "irq", error, "0\n") &&
           write_file(root, rel, data, -1, error);
}

static gboolean
write_device_identity(const char *root, const char *dir, const FakeHostDevice *dev,
                      GError **error)
{
    g_autofree char *bus_link = g_strdup_printf("bus/pci/devices/%s", dev->addr);

    return make_dir(root, dir, error) &&
           make_link(root, bus_link, dir, error) &&
           write_attr(root, dir, "vendor", error, "0x%04x\n", dev->vendor) &&
           write_attr(root, dir, "device", error, "0x%04x\n", dev->device) &&
           write_attr(root, dir, "subsystem_vendor", error, "0x%04x\n", dev->subsystem_vendor) &&
           write_attr(root, dir, "subsystem_device", error, "0x%04x\n", dev->subsystem_device) &&
           write_attr(root, dir, "class", error, "0x%06x\n", dev->class_code) &&
           write_attr(root, dir, "revision", error, "0x%02x\n", PCI_REVISION) &&
           write_attr(root, dir, "numa_node", error, "%d\n", dev->numa_node) &&
           write_attr(root, dir, "driver_override", error, "%s", DRIVER_OVERRIDE_UNSET) &&
           write_attr(root, dir, "modalias", error,
                      "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n",
                      dev->vendor, dev->device, dev->subsystem_vendor,
                      dev->subsystem_device, dev->class_code >> 16,
                      (dev->class_code >> 8) & 0xff, dev->class_code & 0xff) &&
           write_resources(root, dir, error) &&
           write_config(root, dir, dev, error);
}

/* dev/driver -> the driver, and the driver's link back to the device. The
 * driver is also kept in ROOT/.fake-host/default-driver/ADDR: the simulated
 * kernel (tests/sim-kernel.c) binds it again on drivers_probe, standing in for
 * the driver whose id table matches the device. */
static gboolean
write_device_driver(const char *root, const char *dir, const FakeHostDevice *dev,
                    GError **error)
{
    g_autofree char *drv = NULL, *link = NULL, *back = NULL;
    g_autofree char *state = g_build_filename(STATE_DIR, "default-driver", NULL);

    if (dev->driver == NULL)
        return TRUE;
    drv = driver_dir(dev->driver);
    link = g_build_filename(dir, "driver", NULL);
    back = g_build_filename(drv, dev->addr, NULL);
    return write_driver(root, dev->driver, error) &&
           make_link(root, link, drv, error) &&
           make_link(root, back, dir, error) &&
           make_dir(root, state, error) &&
           write_attr(root, state, dev->addr, error, "%s\n", dev->driver);
}

static gboolean
write_device_iommu(const char *root, const char *dir, const FakeHostDevice *dev,
                   GError **error)
{
    g_autofree char *group = NULL, *member = NULL, *link = NULL;

    if (dev->iommu_group < 0)
        return TRUE;
    group = g_strdup_printf("kernel/iommu_groups/%d", dev->iommu_group);
    member = g_strdup_printf("%s/devices/%s", group, dev->addr);
    link = g_build_filename(dir, "iommu_group", NULL);
    return make_link(root, member, dir, error) && make_link(root, link, group, error);
}

/* PF: sriov_* attributes and a virtfnN link per VF. */
static gboolean
write_device_sriov_pf(const char *root, const char *dir, const FakeHostDevice *dev,
                      GError **error)
{
    if (!dev->is_pf)
        return TRUE;
    if (!write_attr(root, dir, "sriov_totalvfs", error, "%u\n", dev->totalvfs) ||
        !write_attr(root, dir, "sriov_numvfs", error, "%u\n", dev->numvfs) ||
        !write_attr(root, dir, "sriov_offset", error, "%u\n", SRIOV_OFFSET) ||
        !write_attr(root, dir, "sriov_stride", error, "%u\n", SRIOV_STRIDE) ||
        !write_attr(root, dir, "sriov_vf_device", error, "%x\n", dev->device))
        return FALSE;
    for (guint i = 0; i < dev->vfs->len; i++) {
        g_autofree char *vf_dir = device_dir(g_ptr_array_index(dev->vfs, i));
        g_autofree char *link = g_strdup_printf("%s/virtfn%u", dir, i);
        if (!make_link(root, link, vf_dir, error))
            return FALSE;
    }
    return TRUE;
}

/* VF: physfn link, and the vGPU manager's nvidia/ directory. The creatable
 * list is filled in by fake_host_nvidia_recompute() once all VFs exist. */
static gboolean
write_device_sriov_vf(const char *root, const char *dir, const FakeHostDevice *dev,
                      GError **error)
{
    g_autofree char *pf_dir = NULL, *link = NULL, *nvidia = NULL;

    if (dev->physfn == NULL)
        return TRUE;
    pf_dir = device_dir(dev->physfn);
    link = g_build_filename(dir, "physfn", NULL);
    nvidia = g_build_filename(dir, "nvidia", NULL);
    return make_link(root, link, pf_dir, error) &&
           (dev->physfn->vgpu == NULL ||
            (make_dir(root, nvidia, error) &&
             write_attr(root, nvidia, "current_vgpu_type", error, "0\n") &&
             write_attr(root, nvidia, "creatable_vgpu_types", error, "%s",
                        CREATABLE_HEADER)));
}

/* One mdev_supported_types/TYPE/ directory. */
static gboolean
write_mdev_type(const char *root, const char *dir, const FakeHostType *type,
                GError **error)
{
    g_autofree char *tdir = g_strdup_printf("%s/mdev_supported_types/%s", dir, type->id);
    g_autofree char *devices = g_build_filename(tdir, "devices", NULL);

    return make_dir(root, devices, error) &&
           write_attr(root, tdir, "name", error, "%s\n", type->name) &&
           write_attr(root, tdir, "available_instances", error, "%u\n", type->max_instances) &&
           write_attr(root, tdir, "device_api", error, "vfio-pci\n") &&
           write_attr(root, tdir, "description", error,
                      "num_heads=4, frl_config=60, framebuffer=%uM, "
                      "max_resolution=5120x2880, max_instance=%u\n",
                      type->framebuffer_gb * 1024, type->max_instances) &&
           write_attr(root, tdir, "create", error, "%s", "");
}

/* Keep a table in ROOT/.fake-host/KIND/ADDR.ini for the driver emulator. */
static gboolean
write_state(const char *root, const char *kind, const FakeHostDevice *dev,
            const FakeHostFamily *family, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *types = family_format_types(family, g_str_equal(kind, "mdev"));
    g_autofree char *dir = g_build_filename(STATE_DIR, kind, NULL);
    g_autofree char *rel = g_strdup_printf("%s/%s.ini", dir, dev->addr);
    g_autofree char *data = NULL;
    gsize len;

    g_key_file_set_string(kf, kind, "family", family->name);
    if (family->framebuffer_gb)
        g_key_file_set_integer(kf, kind, "framebuffer_gb", (gint)family->framebuffer_gb);
    g_key_file_set_string(kf, kind, "types", types);
    if (family->framebuffer_gb) {
        g_key_file_set_string(kf, "driver", "dialect",
                              dev->dialect == FAKE_HOST_DIALECT_UPSTREAM ? "upstream"
                                                                         : "proprietary");
        g_key_file_set_string(kf, "driver", "mode", dev->mixed ? "mixed" : "equal");
        if (dev->gpu_instances)
            g_key_file_set_string(kf, "driver", "gpu_instances", dev->gpu_instances);
    }
    data = g_key_file_to_data(kf, &len, NULL);
    return make_dir(root, dir, error) && write_file(root, rel, data, (gssize)len, error);
}

static gboolean
write_device_mdev(const char *root, const char *dir, const FakeHostDevice *dev,
                  GError **error)
{
    g_autofree char *link = NULL;

    if (dev->mdev == NULL)
        return TRUE;
    link = g_strdup_printf("class/mdev_bus/%s", dev->addr);
    if (!make_link(root, link, dir, error) ||
        !make_dir(root, "bus/mdev/devices", error))
        return FALSE;
    for (guint i = 0; i < dev->mdev->types->len; i++)
        if (!write_mdev_type(root, dir, g_ptr_array_index(dev->mdev->types, i), error))
            return FALSE;
    return write_state(root, "mdev", dev, dev->mdev, error);
}

/* The vGPU manager's state for a PF: table, preset types, creatable lists. */
static gboolean
write_vgpu(const char *root, const FakeHostDevice *pf, GError **error)
{
    if (!write_state(root, "vgpu", pf, pf->vgpu, error))
        return FALSE;
    for (guint i = 0; i < pf->numvfs; i++) {
        g_autofree char *vf_dir = NULL, *nvidia = NULL;
        if (pf->vf_types[i] == 0)
            continue;
        vf_dir = device_dir(g_ptr_array_index(pf->vfs, i));
        nvidia = g_build_filename(vf_dir, "nvidia", NULL);
        if (!write_attr(root, nvidia, "current_vgpu_type", error, "%u\n", pf->vf_types[i]))
            return FALSE;
    }
    return fake_host_nvidia_recompute(root, pf->addr, error);
}

static gboolean
write_device(const char *root, const FakeHostDevice *dev, GError **error)
{
    g_autofree char *dir = device_dir(dev);

    return write_device_identity(root, dir, dev, error) &&
           write_device_driver(root, dir, dev, error) &&
           write_device_iommu(root, dir, dev, error) &&
           write_device_sriov_pf(root, dir, dev, error) &&
           write_device_sriov_vf(root, dir, dev, error) &&
           write_device_mdev(root, dir, dev, error);
}

static gboolean
desc_write(const FakeHostDesc *desc, const char *root, GError **error)
{
    if (!write_skeleton(desc, root, error))
        return FALSE;
    for (guint i = 0; i < desc->devices->len; i++)
        if (!write_device(root, g_ptr_array_index(desc->devices, i), error))
            return FALSE;
    for (guint i = 0; i < desc->devices->len; i++) {
        const FakeHostDevice *dev = g_ptr_array_index(desc->devices, i);
        if (dev->vgpu && !write_vgpu(root, dev, error))
            return FALSE;
    }
    return TRUE;
}

/* Building into a used directory would mix two hosts' trees: refuse. */
static gboolean
root_prepare(const char *root, GError **error)
{
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_test(root, G_FILE_TEST_EXISTS)) {
        if (g_mkdir_with_parents(root, 0755) < 0)
            return fail_errno(error, "create directory", root);
        return TRUE;
    }
    if (!g_file_test(root, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, FAKE_HOST_ERROR, FAKE_HOST_ERROR_EXISTS,
                    "'%s' exists and is not a directory", root);
        return FALSE;
    }
    dir = g_dir_open(root, 0, &local);
    if (dir == NULL)
        return fail_from(error, FAKE_HOST_ERROR_IO, local);
    if (g_dir_read_name(dir) != NULL) {
        g_set_error(error, FAKE_HOST_ERROR, FAKE_HOST_ERROR_EXISTS,
                    "'%s' is not empty: refusing to build a fake host over another "
                    "tree; remove it or pick an empty directory", root);
        return FALSE;
    }
    return TRUE;
}

/* ------------------------------------------------------------------ */
/* NVIDIA recompute                                                   */
/* ------------------------------------------------------------------ */

/* Newer drivers' per-VF gpu_instance_id ([device] gpu_instances=): the
 * GPU-instance profile (NVML id) each MIG-backed type sits in and how many
 * of it time-slice in one instance, "1072:19;1071:19x2". */
static gboolean
gi_rule_parse(const char *item, guint *type, guint *profile, guint *slots)
{
    char tail;
    int n = sscanf(item, "%u:%u%c%u", type, profile, &tail, slots);

    if (n == 2)
        *slots = 1;
    return (n == 2 || (n == 4 && tail == 'x' && *slots > 0)) && strchr(item, ' ') == NULL;
}

static gboolean
gi_rules_valid(const char *rules)
{
    g_auto(GStrv) items = g_strsplit(rules, ";", -1);
    guint type, profile, slots;

    for (guint i = 0; items[i]; i++)
        if (!gi_rule_parse(items[i], &type, &profile, &slots))
            return FALSE;
    return items[0] != NULL;
}

static gboolean
gi_rule_find(const char *rules, guint type_id, guint *profile, guint *slots)
{
    g_auto(GStrv) items = g_strsplit(rules, ";", -1);
    guint type;

    for (guint i = 0; items[i]; i++)
        if (gi_rule_parse(items[i], &type, profile, slots) && type == type_id)
            return TRUE;
    return FALSE;
}

static char *
gi_path(const char *root, const char *pf_addr, guint vf)
{
    return g_strdup_printf("%s/bus/pci/devices/%s/virtfn%u/nvidia/gpu_instance_id", root,
                           pf_addr, vf);
}

/* The id VF @vf's file names, or -1 (empty: the driver's ENXIO). */
static gint
gi_read(const char *root, const char *pf_addr, guint vf)
{
    g_autofree char *path = gi_path(root, pf_addr, vf);
    g_autofree char *text = NULL;
    guint id;

    if (!g_file_get_contents(path, &text, NULL, NULL) || !parse_uint(g_strstrip(text), 0, 255, &id))
        return -1;
    return (gint)id;
}

/* May VF @vf (type @type) go into instance @gi? It is of @profile and holds
 * nothing or fewer than @slots vGPUs of @type only. */
static gboolean
gi_takes(const SimNvmlInstance *gi, guint profile, guint slots, guint type, const guint *held,
         const gint *where, guint n_vfs)
{
    guint used = 0;

    if (gi->profile_id != profile)
        return FALSE;
    for (guint i = 0; i < n_vfs; i++) {
        if (where[i] != (gint)gi->id)
            continue;
        if (held[i] != type)
            return FALSE;
        used++;
    }
    return used < slots;
}

/* With gpu_instances: does a GPU instance take one more @extra (a type with
 * a rule)? None exists: nothing MIG-backed is creatable. */
static gboolean
gi_room(const FakeHostFamily *family, const FakeHostType *extra, const guint *held,
        guint n_vfs)
{
    guint type, profile, slots;

    if (family->gpu_instances == NULL || !parse_uint(extra->id, 1, G_MAXINT, &type) ||
        !gi_rule_find(family->gpu_instances, type, &profile, &slots))
        return TRUE;
    for (guint g = 0; family->gis && family->seats && family->seats->len >= n_vfs &&
                      g < family->gis->len; g++)
        if (gi_takes(&g_array_index(family->gis, SimNvmlInstance, g), profile, slots, type, held,
                     (const gint *)family->seats->data, n_vfs))
            return TRUE;
    return FALSE;
}

/* The instances (test NVML state) and where each VF sits (its file). */
static void
gi_load(FakeHostFamily *family, const char *root, const char *pf_addr)
{
    g_autoptr(GKeyFile) state = sim_nvml_state_load(root, NULL);

    family->gis = state ? sim_nvml_state_instances(state, pf_addr) : NULL;
    family->seats = g_array_new(FALSE, FALSE, sizeof(gint));
    for (guint n = 0;; n++) {
        g_autofree char *vf = g_strdup_printf("%s/bus/pci/devices/%s/virtfn%u", root, pf_addr, n);
        gint seat;
        if (!g_file_test(vf, G_FILE_TEST_IS_DIR))
            break;
        seat = gi_read(root, pf_addr, n);
        g_array_append_val(family->seats, seat);
    }
}

/* Seat each VF that holds a MIG-backed type in a GPU instance of the test
 * NVML's state and write its gpu_instance_id ("" while it holds none). A
 * VF keeps the instance it has. A new one goes into the instance with the
 * highest id that takes it (the real driver's choice is not documented;
 * the highest id keeps tests from passing on a model that guesses the
 * lowest). No instance left: the file stays empty. */
static gboolean
vgpu_write_instances(const char *root, const char *pf_addr, FakeHostFamily *family,
                     const guint *held, guint n_vfs, GError **error)
{
    GArray *gis = family->gis;
    gint *where;

    g_array_set_size(family->seats, n_vfs);
    where = (gint *)family->seats->data;
    for (guint i = 0; i < n_vfs; i++)
        where[i] = held[i] ? gi_read(root, pf_addr, i) : -1;
    for (guint i = 0; i < n_vfs; i++) {
        guint profile, slots;
        if (held[i] == 0 || where[i] >= 0 || gis == NULL ||
            !gi_rule_find(family->gpu_instances, held[i], &profile, &slots))
            continue;
        for (guint g = gis->len; g-- > 0 && where[i] < 0;) {
            const SimNvmlInstance *gi = &g_array_index(gis, SimNvmlInstance, g);
            if (gi_takes(gi, profile, slots, held[i], held, where, n_vfs))
                where[i] = (gint)gi->id;
        }
    }
    for (guint i = 0; i < n_vfs; i++) {
        g_autofree char *path = gi_path(root, pf_addr, i);
        g_autofree char *text = where[i] >= 0 ? g_strdup_printf("%d\n", where[i]) : g_strdup("");
        g_autoptr(GError) local = NULL;
        if (!g_file_set_contents(path, text, -1, &local))
            return fail_from(error, FAKE_HOST_ERROR_IO, local);
    }
    return TRUE;
}

/* The table, dialect and mode of a PF's state file @path whose contents are
 * @text (seats not loaded); NULL with @error set as the file's own reader
 * would: a description mistake in the state file names it. */
static FakeHostFamily *
vgpu_state_parse(const char *path, const char *text, gsize len, GError **error)
{
    g_autofree char *name = NULL, *dialect = NULL, *mode = NULL;
    g_autoptr(GKeyFile) kf = g_key_file_new();
    FakeHostFamily *family;

    if (!g_key_file_load_from_data(kf, text, len, G_KEY_FILE_NONE, NULL))
        return NULL; /* the caller reads the file again for the message */
    if (!get_string(kf, "vgpu", "family", TRUE, &name, error) ||
        !(family = family_parse(kf, "vgpu", name, TRUE, error))) {
        g_prefix_error(error, "%s: ", path);
        return NULL;
    }
    dialect = g_key_file_get_string(kf, "driver", "dialect", NULL);
    mode = g_key_file_get_string(kf, "driver", "mode", NULL);
    family->dialect = g_strcmp0(dialect, "upstream") == 0 ? FAKE_HOST_DIALECT_UPSTREAM
                                                           : FAKE_HOST_DIALECT_PROPRIETARY;
    family->mixed = g_strcmp0(mode, "mixed") == 0;
    family->gpu_instances = g_key_file_get_string(kf, "driver", "gpu_instances", NULL);
    return family;
}

/* A copy to hand out: the type table is shared (never changed once parsed). */
static FakeHostFamily *
vgpu_state_copy(const FakeHostFamily *family)
{
    FakeHostFamily *copy = g_new0(FakeHostFamily, 1);

    copy->name = g_strdup(family->name);
    copy->framebuffer_gb = family->framebuffer_gb;
    copy->types = g_ptr_array_ref(family->types);
    copy->dialect = family->dialect;
    copy->mixed = family->mixed;
    copy->gpu_instances = g_strdup(family->gpu_instances);
    return copy;
}

/* Parsed state files by path, with the text they were parsed from: a store
 * consults a PF's state several times, and the emulator runs in every
 * process of a test. Reused only while the file reads the same. */
typedef struct {
    char *text;
    gsize len;
    FakeHostFamily *family;
} VgpuStateEntry;

static void
vgpu_state_entry_free(gpointer data)
{
    VgpuStateEntry *entry = data;

    g_free(entry->text);
    fake_host_family_free(entry->family);
    g_free(entry);
}

static GMutex vgpu_state_lock;
static GHashTable *vgpu_state_cache; /* path -> VgpuStateEntry */

/* The parsed state of file @path, from the cache or parsed now; NULL when
 * it cannot be read or parsed (@error set only for what the parse says). */
static FakeHostFamily *
vgpu_state_cached(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    VgpuStateEntry *entry;
    FakeHostFamily *family = NULL;
    gsize len;

    if (!g_file_get_contents(path, &text, &len, NULL))
        return NULL;
    g_mutex_lock(&vgpu_state_lock);
    if (vgpu_state_cache == NULL)
        vgpu_state_cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                 vgpu_state_entry_free);
    entry = g_hash_table_lookup(vgpu_state_cache, path);
    if (entry && entry->len == len && memcmp(entry->text, text, len) == 0) {
        family = vgpu_state_copy(entry->family);
    } else if ((family = vgpu_state_parse(path, text, len, error)) != NULL) {
        entry = g_new0(VgpuStateEntry, 1);
        entry->text = g_steal_pointer(&text);
        entry->len = len;
        entry->family = vgpu_state_copy(family);
        g_hash_table_replace(vgpu_state_cache, g_strdup(path), entry);
    }
    g_mutex_unlock(&vgpu_state_lock);
    return family;
}

static FakeHostFamily *
vgpu_state_load(const char *root, const char *pf_addr, GError **error)
{
    g_autofree char *path = g_strdup_printf("%s/%s/vgpu/%s.ini", root, STATE_DIR, pf_addr);
    g_autoptr(GKeyFile) kf = NULL;
    g_autoptr(GError) local = NULL;
    FakeHostFamily *family = vgpu_state_cached(path, &local);

    if (family == NULL && local == NULL) {
        /* unreadable or not a key file: let GLib's reader say why */
        kf = g_key_file_new();
        if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &local)) {
            g_set_error(error, FAKE_HOST_ERROR, FAKE_HOST_ERROR_STATE,
                        "%s is not an SR-IOV vGPU PF of this fake host: %s",
                        pf_addr, local->message);
            return NULL;
        }
        family = vgpu_state_cached(path, &local); /* it changed meanwhile */
    }
    if (family == NULL) {
        if (local)
            g_propagate_error(error, g_steal_pointer(&local));
        else
            g_set_error(error, FAKE_HOST_ERROR, FAKE_HOST_ERROR_STATE,
                        "%s: changed while being read", path);
        return NULL;
    }
    if (family->gpu_instances)
        gi_load(family, root, pf_addr);
    return family;
}

/* Parse what current_vgpu_type (@path) reads: @text. */
static gboolean
vgpu_parse_current(const char *path, char *text, const FakeHostFamily *family, guint *id,
                   GError **error)
{
    if (!parse_uint(g_strstrip(text), 0, G_MAXINT, id) ||
        (*id != 0 && !family_find_type_number(family, *id))) {
        g_set_error(error, FAKE_HOST_ERROR, FAKE_HOST_ERROR_STATE,
                    "%s: '%s' is neither 0 nor a type of family %s",
                    path, text, family->name);
        return FALSE;
    }
    return TRUE;
}

/* Parse a current_vgpu_type as the driver would (a newline is optional). */
static gboolean
vgpu_read_current(const char *path, const FakeHostFamily *family, guint *id,
                  GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(path, &text, NULL, &local))
        return fail_from(error, FAKE_HOST_ERROR_IO, local);
    return vgpu_parse_current(path, text, family, id, error);
}

/* "virtfnN/REST" (@rest NULL: "virtfnN") into @buf, which takes
 * VIRTFN_REL_MAX bytes (no printf: this runs for every VF of a GPU at every
 * store). */
#define VIRTFN_REL_MAX 64
static void
virtfn_rel(char *buf, guint n, const char *rest)
{
    static const char prefix[] = "virtfn";
    char digits[16];
    gsize at = sizeof prefix - 1, len = 0, tail = rest ? strlen(rest) : 0;

    do {
        digits[len++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    g_assert(at + len + 1 + tail < VIRTFN_REL_MAX);
    memcpy(buf, prefix, at);
    while (len > 0)
        buf[at++] = digits[--len];
    if (rest) {
        buf[at++] = '/';
        memcpy(buf + at, rest, tail);
        at += tail;
    }
    buf[at] = '\0';
}

/* The contents of the small file @rel under @dir_fd (*@size bytes, then a
 * NUL), or NULL (missing, unreadable, or too long for this short cut: the
 * caller reads it again). */
static char *
read_small_at(int dir_fd, const char *rel, gsize *size)
{
    char text[4096]; /* a sysfs attribute's page */
    gsize len = 0;
    ssize_t n;
    int fd = openat(dir_fd, rel, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return NULL;
    while ((n = read(fd, text + len, sizeof text - len)) > 0 && len + (gsize)n < sizeof text)
        len += (gsize)n;
    close(fd);
    if (n != 0)
        return NULL;
    text[len] = '\0';
    *size = len;
    return g_memdup2(text, len + 1);
}


/* The type each VF holds, following the PF's virtfnN links in order. */
static GArray *
vgpu_read_held(const char *root, const char *pf_addr, const FakeHostFamily *family,
               GError **error)
{
    g_autoptr(GArray) held = g_array_new(FALSE, TRUE, sizeof(guint));
    g_autofree char *pf_dir = g_strdup_printf("%s/bus/pci/devices/%s", root, pf_addr);
    int pf_fd = open(pf_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    gboolean ok = TRUE;

    for (guint n = 0; ok && pf_fd >= 0; n++) {
        char rel[VIRTFN_REL_MAX];
        struct stat st;
        g_autofree char *text = NULL;
        gsize size;
        guint id;

        virtfn_rel(rel, n, "nvidia/current_vgpu_type");
        text = read_small_at(pf_fd, rel, &size); /* read: virtfnN is a directory */
        if (text == NULL) {
            /* past the last VF, or the slow way for its error message */
            g_autofree char *path = g_build_filename(pf_dir, rel, NULL);
            char vf[VIRTFN_REL_MAX];
            virtfn_rel(vf, n, NULL);
            if (fstatat(pf_fd, vf, &st, 0) < 0 || !S_ISDIR(st.st_mode))
                break;
            ok = vgpu_read_current(path, family, &id, error);
        } else {
            g_autofree char *path = NULL;
            ok = vgpu_parse_current(NULL, text, family, &id, NULL);
            if (!ok) {
                path = g_build_filename(pf_dir, rel, NULL);
                vgpu_parse_current(path, text, family, &id, error);
            }
        }
        if (ok)
            g_array_append_val(held, id);
    }
    if (pf_fd >= 0)
        close(pf_fd);
    return ok ? g_steal_pointer(&held) : NULL;
}

/* ------------------------------------------------------------------ */
/* MIG: what the driver does with GPU instances                       */
/* ------------------------------------------------------------------ */

/* With MIG on (the test NVML's state, ROOT/.fake-host/nvml.ini, says
 * mig=1 for the PF), a MIG-backed type ("-2-35C": a 2g.35gb instance)
 * needs a GPU instance of its profile that no VF runs on; the driver picks
 * the lowest-id free one, shows it in the VF's nvidia/gpu_instance_id and
 * marks it in use (NVML then refuses to destroy it). Time-sliced types are
 * not creatable. No size rule applies between instances. */
typedef struct {
    const SimModel *model;
    GArray *instances; /* SimNvmlInstance */
} MigView;

static void
mig_view_clear(MigView *v)
{
    g_clear_pointer(&v->instances, g_array_unref);
}

static gboolean
mig_view_load(const char *root, const char *pf_addr, MigView *v)
{
    g_autoptr(GKeyFile) state = sim_nvml_state_load(root, NULL);

    v->model = state ? sim_nvml_state_mig_model(state, pf_addr) : NULL;
    if (v->model)
        v->instances = sim_nvml_state_instances(state, pf_addr);
    return v->model != NULL;
}

/* "NVIDIA H200X-2-35C" -> the 2g.35gb profile of @model, or NULL. */
static const SimProfile *
mig_profile_of_type(const SimModel *model, const char *name)
{
    g_autoptr(GRegex) re = g_regex_new("-([0-9]+)-([0-9]+)[A-Z](ME)?$", 0, 0, NULL);
    g_autoptr(GMatchInfo) match = NULL;
    g_autofree char *slices = NULL, *gb = NULL, *me = NULL, *profile = NULL;

    if (!g_regex_match(re, name, 0, &match))
        return NULL;
    slices = g_match_info_fetch(match, 1);
    gb = g_match_info_fetch(match, 2);
    me = g_match_info_fetch(match, 3);
    profile = g_strdup_printf("%sg.%sgb%s", slices, gb, me && *me ? "+me" : "");
    for (guint i = 0; i < G_N_ELEMENTS(model->profiles); i++)
        if (g_strcmp0(model->profiles[i].name, profile) == 0)
            return &model->profiles[i];
    return NULL;
}

static char *
vf_instance_path(const char *root, const char *pf_addr, guint n)
{
    return g_strdup_printf("%s/bus/pci/devices/%s/virtfn%u/nvidia/gpu_instance_id", root,
                           pf_addr, n);
}

/* Is instance @id the one some VF of @pf_addr runs on? */
static gboolean
mig_instance_bound(const char *root, const char *pf_addr, guint n_vfs, guint id)
{
    for (guint n = 0; n < n_vfs; n++) {
        g_autofree char *path = vf_instance_path(root, pf_addr, n);
        g_autofree char *text = NULL;
        if (g_file_get_contents(path, &text, NULL, NULL) && (guint)atoi(text) == id)
            return TRUE;
    }
    return FALSE;
}

/* The lowest-id free instance for type @type, or G_MAXUINT. */
static guint
mig_free_instance(const char *root, const char *pf_addr, guint n_vfs, const MigView *v,
                  const FakeHostType *type)
{
    const SimProfile *p = mig_profile_of_type(v->model, type->name);

    for (guint i = 0; p && i < v->instances->len; i++) {
        const SimNvmlInstance *gi = &g_array_index(v->instances, SimNvmlInstance, i);
        if (gi->profile_id == p->id && !mig_instance_bound(root, pf_addr, n_vfs, gi->id))
            return gi->id;
    }
    return G_MAXUINT;
}

/* The GPU's creatable list with MIG on: the types a free instance takes. */
static char *
mig_creatable_text(const char *root, const char *pf_addr, const FakeHostFamily *family,
                   const MigView *v, guint n_vfs)
{
    GString *text = g_string_new(CREATABLE_HEADER);

    for (guint i = 0; i < family->types->len; i++) {
        const FakeHostType *type = g_ptr_array_index(family->types, i);
        if (mig_free_instance(root, pf_addr, n_vfs, v, type) != G_MAXUINT)
            g_string_append_printf(text, "%-6s: %s\n", type->id, type->name);
    }
    return g_string_free(text, FALSE);
}

static void
mig_in_use_update(const char *root, const char *pf_addr, guint id, gboolean add)
{
    int fd = sim_nvml_state_lock(root);
    g_autoptr(GKeyFile) state = sim_nvml_state_load(root, NULL);
    g_autoptr(GArray) ids = state ? sim_nvml_state_in_use(state, pf_addr) : NULL;

    for (guint i = ids ? ids->len : 0; i > 0; i--)
        if (g_array_index(ids, guint, i - 1) == id)
            g_array_remove_index(ids, i - 1);
    if (ids && add)
        g_array_append_val(ids, id);
    if (ids) {
        sim_nvml_state_set_in_use(state, pf_addr, ids);
        sim_nvml_state_save(state, root, NULL);
    }
    sim_nvml_state_unlock(fd);
}

int
fake_host_nvidia_mig_bind(const char *root, const char *pf_addr, const char *vf_dir, guint id)
{
    g_autofree char *path = g_build_filename(vf_dir, "nvidia", "gpu_instance_id", NULL);
    g_autoptr(FakeHostFamily) family = NULL;
    g_autoptr(GArray) held = NULL;
    g_autofree char *old = NULL;
    const FakeHostType *type;
    MigView v = { 0 };
    guint gi;
    int err = 0;

    /* a GPU described with seats ([device] gpu_instances=) is seated by
     * fake_host_nvidia_recompute (vgpu_write_instances) instead */
    family = vgpu_state_load(root, pf_addr, NULL);
    if (family && family->gpu_instances)
        return 0;
    g_clear_pointer(&family, fake_host_family_free);
    if (!mig_view_load(root, pf_addr, &v))
        return 0;
    if (id == 0) {
        if (g_file_get_contents(path, &old, NULL, NULL))
            mig_in_use_update(root, pf_addr, (guint)atoi(old), FALSE);
        unlink(path);
    } else if ((family = vgpu_state_load(root, pf_addr, NULL)) == NULL ||
               (held = vgpu_read_held(root, pf_addr, family, NULL)) == NULL ||
               (type = family_find_type_number(family, id)) == NULL ||
               (gi = mig_free_instance(root, pf_addr, held->len, &v, type)) == G_MAXUINT) {
        err = EIO;
    } else {
        g_autofree char *text = g_strdup_printf("%u\n", gi);
        if (!g_file_set_contents(path, text, -1, NULL))
            err = EIO;
        else
            mig_in_use_update(root, pf_addr, gi, TRUE);
    }
    mig_view_clear(&v);
    return err;
}

/* Replace @path's contents by @text (atomically, as g_file_set_contents()
 * does) unless it reads so already: most stores leave most lists as they
 * were, and a file that reads the same is all a reader could tell. */
static gboolean
set_contents_if_changed(const char *path, const char *text, GError **error)
{
    g_autofree char *now = NULL;
    gsize len;

    if (g_file_get_contents(path, &now, &len, NULL) && len == strlen(text) &&
        memcmp(now, text, len) == 0)
        return TRUE;
    return g_file_set_contents(path, text, -1, error);
}

/* What VF @vf's creatable_vgpu_types shows, the GPU's list being @list: a
 * VF that holds a type keeps listing it under the proprietary driver; the
 * upstream one prints nothing. */
static const char *
vf_creatable_text(const FakeHostFamily *family, const GArray *held, guint vf, const char *list)
{
    if (g_array_index(held, guint, vf) != 0 && family->dialect == FAKE_HOST_DIALECT_UPSTREAM)
        return "";
    return list;
}

gboolean
fake_host_nvidia_recompute(const char *root, const char *pf_addr, GError **error)
{
    g_autoptr(FakeHostDevice) probe = g_new0(FakeHostDevice, 1);
    g_autoptr(FakeHostFamily) family = NULL;
    g_autoptr(GArray) held = NULL;
    g_autofree char *where = g_strdup_printf("PF %s", pf_addr);

    if (!parse_address(pf_addr, probe)) {
        g_set_error(error, FAKE_HOST_ERROR, FAKE_HOST_ERROR_INVALID,
                    "'%s' is not a PCI address DDDD:BB:SS.F in lower-case hex", pf_addr);
        return FALSE;
    }
    MigView mig = { 0 };
    gboolean ok = TRUE;
    g_autofree char *list = NULL, *pf_dir = NULL;
    int pf_fd;

    if (!(family = vgpu_state_load(root, pf_addr, error)) ||
        !(held = vgpu_read_held(root, pf_addr, family, error)))
        return FALSE;
    if (!mig_view_load(root, pf_addr, &mig) &&
        !vgpu_check_held(family, family->mixed, (guint *)held->data, held->len, where,
                         FAKE_HOST_ERROR_STATE, error))
        return FALSE;
    /* Seats first: what is creatable depends on them. A GPU described with
     * seats ([device] gpu_instances=) follows them; else, with MIG on in
     * the test NVML's state, its instances decide. */
    if (family->gpu_instances &&
        !vgpu_write_instances(root, pf_addr, family, (const guint *)held->data, held->len, error)) {
        mig_view_clear(&mig);
        return FALSE;
    }
    /* One list for the GPU, computed once: it does not depend on the VF. */
    list = mig.model && !family->gpu_instances
               ? mig_creatable_text(root, pf_addr, family, &mig, held->len)
               : vgpu_creatable_text(family, family->mixed, (guint *)held->data, held->len);
    pf_dir = g_strdup_printf("%s/bus/pci/devices/%s", root, pf_addr);
    pf_fd = open(pf_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    for (guint i = 0; ok && i < held->len; i++) {
        const char *text = vf_creatable_text(family, held, i, list);
        g_autofree char *now = NULL, *path = NULL;
        g_autoptr(GError) local = NULL;
        gsize size;
        char rel[VIRTFN_REL_MAX];
        virtfn_rel(rel, i, "nvidia/creatable_vgpu_types");
        if (pf_fd >= 0 && (now = read_small_at(pf_fd, rel, &size)) != NULL &&
            size == strlen(text) && memcmp(now, text, size) == 0)
            continue; /* reads so already: not replaced (see fake-host.h) */
        path = g_strdup_printf("%s/bus/pci/devices/%s/virtfn%u/nvidia/creatable_vgpu_types",
                               root, pf_addr, i);
        if (!set_contents_if_changed(path, text, &local))
            ok = fail_from(error, FAKE_HOST_ERROR_IO, local);
    }
    if (pf_fd >= 0)
        close(pf_fd);
    mig_view_clear(&mig);
    return ok;
}

/* ------------------------------------------------------------------ */
/* Entry points                                                       */
/* ------------------------------------------------------------------ */

gboolean
fake_host_build_from_data(const char *ini_text, const char *root, GError **error)
{
    g_autoptr(FakeHostDesc) desc = desc_parse(ini_text, error);

    return desc && root_prepare(root, error) && desc_write(desc, root, error);
}

gboolean
fake_host_build_from_file(const char *path, const char *root, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(path, &text, NULL, &local))
        return fail_from(error, FAKE_HOST_ERROR_IO, local);
    if (!fake_host_build_from_data(text, root, &local)) {
        /* Description mistakes are easier to find with the file named. */
        if (local->code == FAKE_HOST_ERROR_PARSE || local->code == FAKE_HOST_ERROR_INVALID)
            g_prefix_error(&local, "%s: ", path);
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    return TRUE;
}

FakeHostDialect
fake_host_nvidia_dialect(const char *root, const char *pf_addr)
{
    g_autoptr(FakeHostFamily) family = vgpu_state_load(root, pf_addr, NULL);

    return family ? family->dialect : FAKE_HOST_DIALECT_PROPRIETARY;
}

gboolean
fake_host_nvidia_is_mixed(const char *root, const char *pf_addr)
{
    g_autoptr(FakeHostFamily) family = vgpu_state_load(root, pf_addr, NULL);

    return family && family->mixed;
}

int
fake_host_nvidia_assign_errno(const char *root, const char *pf_addr, guint id)
{
    g_autoptr(FakeHostFamily) family = vgpu_state_load(root, pf_addr, NULL);
    g_autoptr(GArray) held = family ? vgpu_read_held(root, pf_addr, family, NULL) : NULL;
    const FakeHostType *type = family ? family_find_type_number(family, id) : NULL;
    int why = 0;

    MigView mig = { 0 };

    if (held == NULL)
        return EIO;
    if (type && !family->gpu_instances && mig_view_load(root, pf_addr, &mig)) {
        why = mig_free_instance(root, pf_addr, held->len, &mig, type) != G_MAXUINT ? 0 : ENOSPC;
        mig_view_clear(&mig);
        return why == 0 ? 0 : family->dialect == FAKE_HOST_DIALECT_UPSTREAM ? why : EIO;
    }
    if (type == NULL)
        why = ENODEV;
    else if (vgpu_fits(family, family->mixed, (guint *)held->data, held->len, G_MAXUINT, type,
                       &why))
        return 0;
    return family->dialect == FAKE_HOST_DIALECT_UPSTREAM ? why : EIO;
}

/* Take the first free aligned run of @p slots; its start, or -1. */
static gint
slots_take_at(guint8 *slots, guint n_slots, guint p)
{
    for (guint start = 0; p && start + p <= n_slots; start += p) {
        if (memchr(slots + start, 1, p) == NULL) {
            memset(slots + start, 1, p);
            return (gint)start;
        }
    }
    return -1;
}

GArray *
fake_host_nvidia_placements(const char *root, const char *pf_addr, guint id, gboolean mixed,
                            gboolean creatable, guint *size)
{
    g_autoptr(FakeHostFamily) family = vgpu_state_load(root, pf_addr, NULL);
    g_autoptr(GArray) held = family ? vgpu_read_held(root, pf_addr, family, NULL) : NULL;
    const FakeHostType *type = held ? family_find_type_number(family, id) : NULL;
    g_autofree guint8 *slots = NULL;
    GArray *out;
    guint p;

    if (type == NULL || type->framebuffer_gb == 0)
        return NULL;
    p = mixed ? vgpu_placement_size(type->framebuffer_gb) : type->framebuffer_gb;
    slots = g_malloc0(family->framebuffer_gb);
    out = g_array_new(FALSE, FALSE, sizeof(guint));
    *size = p;
    /* What the VFs hold sits where the driver put it: first fit, VF order. */
    for (guint i = 0; creatable && i < held->len; i++) {
        const FakeHostType *t = family_find_type_number(family, g_array_index(held, guint, i));
        if (t == NULL)
            continue;
        if (!mixed && t->framebuffer_gb != type->framebuffer_gb)
            return out; /* equal-size: another size holds the GPU */
        slots_take_at(slots, family->framebuffer_gb,
                      mixed ? vgpu_placement_size(t->framebuffer_gb) : t->framebuffer_gb);
    }
    for (guint start = 0; start + p <= family->framebuffer_gb; start += p) {
        if (memchr(slots + start, 1, p) == NULL)
            g_array_append_val(out, start);
    }
    return out;
}

gboolean
fake_host_nvidia_set_mixed(const char *root, const char *pf_addr, gboolean mixed,
                           GError **error)
{
    g_autofree char *path = g_strdup_printf("%s/" STATE_DIR "/vgpu/%s.ini", root, pf_addr);
    g_autoptr(FakeHostFamily) family = vgpu_state_load(root, pf_addr, error);
    g_autoptr(GArray) held = family ? vgpu_read_held(root, pf_addr, family, error) : NULL;
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(GError) local = NULL;

    if (held == NULL)
        return FALSE;
    for (guint i = 0; i < held->len; i++) {
        if (g_array_index(held, guint, i) != 0) {
            g_set_error(error, FAKE_HOST_ERROR, FAKE_HOST_ERROR_STATE,
                        "In use by another client: virtfn%u of %s holds a vGPU type", i,
                        pf_addr);
            return FALSE;
        }
    }
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_KEEP_COMMENTS, &local))
        return fail_from(error, FAKE_HOST_ERROR_IO, local);
    g_key_file_set_string(kf, "driver", "mode", mixed ? "mixed" : "equal");
    if (!g_key_file_save_to_file(kf, path, &local))
        return fail_from(error, FAKE_HOST_ERROR_IO, local);
    return fake_host_nvidia_recompute(root, pf_addr, error);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-pci-names: libpci lookups and resource-name spelling; see the header. */
#include "config.h"
#include "vh-pci-names.h"
#include "vh-vgpu-type.h"

#include <dlfcn.h>
#include <pci/pci.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct _VhPciNames {
    struct pci_access *pacc; /* NULL when libpci could not be loaded */
    unsigned int flags;
};

/* libpci is loaded with the first VhPciNames, not linked: the hook and most
 * commands never name a device, and every library mapped at start costs each
 * process its relocations (libpci and the libudev it pulls in: some 0.4 M
 * instructions per hook run, bench/REPORT.md). libpci's own prototypes
 * type the pointers. */
#define VH_LIBPCI_SONAME "libpci.so.3"

typedef struct {
    __typeof__(pci_alloc) *alloc;
    __typeof__(pci_cleanup) *cleanup;
    __typeof__(pci_set_name_list_path) *set_name_list_path;
    __typeof__(pci_lookup_name) *lookup_name;
} PciApi;

static const PciApi *
pci_api(void)
{
    static gsize loaded;
    static PciApi api;
    static gboolean usable;

    if (g_once_init_enter(&loaded)) {
        void *lib = dlopen(VH_LIBPCI_SONAME, RTLD_LAZY | RTLD_LOCAL);
        if (lib) {
            api.alloc = (__typeof__(api.alloc))dlsym(lib, "pci_alloc");
            api.cleanup = (__typeof__(api.cleanup))dlsym(lib, "pci_cleanup");
            api.set_name_list_path = (__typeof__(api.set_name_list_path))dlsym(lib, "pci_set_name_list_path");
            api.lookup_name = (__typeof__(api.lookup_name))dlsym(lib, "pci_lookup_name");
            usable = api.alloc && api.cleanup && api.set_name_list_path && api.lookup_name;
        }
        if (!usable)
            g_warning("cannot use %s (%s): devices are named by their ids; install libpci3",
                      VH_LIBPCI_SONAME, lib ? "symbols missing" : dlerror());
        g_once_init_leave(&loaded, 1);
    }
    return usable ? &api : NULL;
}

/* libpci reports database problems through these callbacks. */
static void
names_warning(char *msg, ...)
{
    va_list args;
    g_autofree char *text = NULL;

    va_start(args, msg);
    text = g_strdup_vprintf(msg, args);
    va_end(args);
    g_warning("PCI IDs database: %s", text);
}

static void
names_debug(char *msg, ...)
{
}

/* libpci reports a damaged pci.ids through error(), which must not return:
 * libpci is compiled on that assumption. Exiting would make a bad [host]
 * pci_ids abort the hook, so lookups run under a jump point instead: error()
 * warns and jumps back, and the lookup goes on with what was parsed. */
static GPrivate names_jump;

static void G_GNUC_NORETURN
names_error(char *msg, ...)
{
    va_list args;
    g_autofree char *text = NULL;
    jmp_buf *jump = g_private_get(&names_jump);

    va_start(args, msg);
    text = g_strdup_vprintf(msg, args);
    va_end(args);
    g_strchomp(text);
    if (jump == NULL)
        g_error("libpci: %s", text);
    g_warning("PCI IDs database: %s", text);
    g_clear_pointer(&text, g_free);
    longjmp(*jump, 1);
}

VhPciNames *
vh_pci_names_new(const char *pci_ids, gboolean use_hwdb)
{
    VhPciNames *names = g_new0(VhPciNames, 1);
    const PciApi *pci = pci_api();

    if (pci == NULL)
        return names;
    /* No pci_init(): that would probe the real /sys for an access method,
     * and name lookups need none. */
    names->pacc = pci->alloc();
    names->pacc->warning = names_warning;
    names->pacc->error = names_error;
    names->pacc->debug = names_debug;
    if (pci_ids)
        pci->set_name_list_path(names->pacc, strdup(pci_ids), 1); /* libpci free()s it */
    names->flags = PCI_LOOKUP_NO_NUMBERS | (use_hwdb ? 0 : PCI_LOOKUP_NO_HWDB);
    return names;
}

void
vh_pci_names_free(VhPciNames *names)
{
    if (names == NULL)
        return;
    if (names->pacc)
        pci_api()->cleanup(names->pacc);
    g_free(names);
}

/* pci_lookup_name() under the jump point of names_error(). After a jump
 * libpci keeps the entries it parsed and does not reload: ask once more. */
static char *
lookup_name(VhPciNames *names, int flags, guint vendor, guint device)
{
    char buf[256];
    jmp_buf jump;
    jmp_buf *outer = g_private_get(&names_jump);
    const char *volatile name = NULL;
    volatile guint attempts = 0;

    if (names->pacc == NULL)
        return NULL;
    g_private_set(&names_jump, &jump);
    if (setjmp(jump) != 0)
        attempts++;
    if (attempts < 2)
        name = pci_api()->lookup_name(names->pacc, buf, sizeof(buf), flags | names->flags,
                               (int)vendor, (int)device);
    g_private_set(&names_jump, outer);
    return name && *name ? g_strdup(name) : NULL;
}

char *
vh_pci_names_device(VhPciNames *names, guint vendor, guint device)
{
    return lookup_name(names, PCI_LOOKUP_DEVICE, vendor, device);
}

char *
vh_pci_names_vendor(VhPciNames *names, guint vendor)
{
    return lookup_name(names, PCI_LOOKUP_VENDOR, vendor, 0);
}

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

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-pci-names: libpci lookups and their cache; see the header. */
#include "config.h"
#include "vh-pci-names.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pci/pci.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct _VhPciNames {
    struct pci_access *pacc; /* NULL until a lookup misses the cache, or
                                when libpci could not be loaded */
    gboolean pacc_tried;
    unsigned int flags;
    char *pci_ids;           /* as configured; NULL: libpci's default */
    char *cache_path;        /* NULL: no cache */
    GKeyFile *cache;         /* group "names": what libpci answered */
    gboolean cache_loaded, cache_dirty;
};

/* The names cache: libpci's answers, kept in a file of the state directory
 * and trusted only while the files they came from are unchanged. Loading
 * pci.ids is most of what naming costs (some 25 M instructions, against a
 * few stat() calls here). The file:
 *   [source]  identity=the identity of every file libpci may read (path,
 *                      device, inode, size, mtime; "absent" for a missing
 *                      one), with the configured path and the lookup flags
 *             database=the pci.ids libpci named (to stat it again)
 *   [names]   v.VVVV=vendor name, d.VVVV.DDDD=device name ("" = none)
 *   [check]   sha256=of every byte before the [check] line
 * It is replaced atomically (g_file_set_contents); a file that fails any
 * check is ignored (and rewritten), never half-trusted. */
#define VH_NAMES_CACHE_FORMAT "vh-pci-names 1"
#define VH_NAMES_CACHE_MAX (4 * 1024 * 1024)
#define VH_NAMES_CHECK "[check]\nsha256="

/* Where udev's hwdb.bin may be (systemd's search list, split /usr or not). */
static const char *const hwdb_paths[] = {
    "/etc/systemd/hwdb/hwdb.bin", "/etc/udev/hwdb.bin", "/usr/lib/systemd/hwdb/hwdb.bin",
    "/lib/systemd/hwdb/hwdb.bin", "/usr/lib/udev/hwdb.bin", "/lib/udev/hwdb.bin",
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

    names->pci_ids = g_strdup(pci_ids);
    names->flags = PCI_LOOKUP_NO_NUMBERS | (use_hwdb ? 0 : PCI_LOOKUP_NO_HWDB);
    return names;
}

void
vh_pci_names_set_cache(VhPciNames *names, const char *path)
{
    g_free(names->cache_path);
    names->cache_path = g_strdup(path);
}

gboolean
vh_pci_names_used_database(VhPciNames *names)
{
    return names->pacc_tried;
}

/* libpci, set up on the first lookup the cache cannot answer. */
static struct pci_access *
names_pacc(VhPciNames *names)
{
    const PciApi *pci;

    if (names->pacc_tried)
        return names->pacc;
    names->pacc_tried = TRUE;
    if ((pci = pci_api()) == NULL)
        return NULL;
    /* No pci_init(): that would probe the real /sys for an access method,
     * and name lookups need none. */
    names->pacc = pci->alloc();
    names->pacc->warning = names_warning;
    names->pacc->error = names_error;
    names->pacc->debug = names_debug;
    if (names->pci_ids)
        pci->set_name_list_path(names->pacc, strdup(names->pci_ids), 1); /* libpci free()s it */
    return names->pacc;
}

/* "path:dev:ino:size:mtime.ns;" or "path:absent;" */
static void
append_identity(GString *out, const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        g_string_append_printf(out, "%s:absent;", path);
    else
        g_string_append_printf(out, "%s:%ju:%ju:%jd:%jd.%09ld;", path, (uintmax_t)st.st_dev,
                               (uintmax_t)st.st_ino, (intmax_t)st.st_size,
                               (intmax_t)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

static char *
source_identity(VhPciNames *names, const char *database)
{
    GString *out = g_string_new(VH_NAMES_CACHE_FORMAT ";");

    g_string_append_printf(out, "configured=%s;flags=%u;", names->pci_ids ? names->pci_ids : "",
                           names->flags);
    append_identity(out, database);
    if (!(names->flags & PCI_LOOKUP_NO_HWDB)) {
        for (guint i = 0; i < G_N_ELEMENTS(hwdb_paths); i++)
            append_identity(out, hwdb_paths[i]);
    }
    return g_string_free(out, FALSE);
}

/* The cache file's bytes: a regular file, bounded, never a FIFO to block on. */
static char *
read_cache_file(const char *path, gsize *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    struct stat st;
    char *data;
    ssize_t got;

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > VH_NAMES_CACHE_MAX) {
        close(fd);
        return NULL;
    }
    data = g_malloc((gsize)st.st_size + 1);
    got = read(fd, data, (gsize)st.st_size);
    close(fd);
    if (got != st.st_size) {
        g_free(data);
        return NULL;
    }
    data[got] = '\0';
    *len = (gsize)got;
    return data;
}

/* The cache, if its checksum holds and its sources are unchanged. */
static GKeyFile *
load_cache(VhPciNames *names)
{
    g_autofree char *data = NULL;
    g_autofree char *sum = NULL;
    g_autofree char *database = NULL;
    g_autofree char *saved = NULL;
    g_autofree char *now = NULL;
    g_autoptr(GKeyFile) kf = g_key_file_new();
    const char *check;
    gsize len = 0, body;

    if ((data = read_cache_file(names->cache_path, &len)) == NULL)
        return NULL;
    if (len != strlen(data) || (check = g_strrstr(data, "\n" VH_NAMES_CHECK)) == NULL)
        return NULL;
    body = (gsize)(check - data) + 1;
    sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)data, body);
    if (len != body + strlen(VH_NAMES_CHECK) + strlen(sum) + 1 ||
        strncmp(data + body + strlen(VH_NAMES_CHECK), sum, strlen(sum)) != 0 ||
        data[len - 1] != '\n')
        return NULL;
    if (!g_key_file_load_from_data(kf, data, body, G_KEY_FILE_NONE, NULL) ||
        (database = g_key_file_get_string(kf, "source", "database", NULL)) == NULL ||
        (saved = g_key_file_get_string(kf, "source", "identity", NULL)) == NULL)
        return NULL;
    now = source_identity(names, database);
    if (strcmp(now, saved) != 0)
        return NULL;
    return g_steal_pointer(&kf);
}

static void
ensure_cache(VhPciNames *names)
{
    if (names->cache_loaded || names->cache_path == NULL)
        return;
    names->cache_loaded = TRUE;
    names->cache = load_cache(names);
    if (names->cache == NULL) {
        g_debug("PCI names cache %s missing, stale or damaged: asking libpci",
                names->cache_path);
        names->cache = g_key_file_new();
    }
}

/* Written only after libpci answered something new; failures (a read-only
 * state directory, a user without rights) only cost the next run time. */
static void
save_cache(VhPciNames *names)
{
    g_autofree char *identity = NULL;
    g_autofree char *body = NULL;
    g_autofree char *sum = NULL;
    g_autofree char *data = NULL;
    g_autoptr(GError) error = NULL;
    gsize len = 0;

    if (!names->cache_dirty || names->pacc == NULL || names->pacc->id_file_name == NULL)
        return;
    identity = source_identity(names, names->pacc->id_file_name);
    g_key_file_set_string(names->cache, "source", "database", names->pacc->id_file_name);
    g_key_file_set_string(names->cache, "source", "identity", identity);
    g_key_file_remove_group(names->cache, "check", NULL);
    body = g_key_file_to_data(names->cache, &len, NULL);
    if (len == 0 || body[len - 1] != '\n')
        return;
    sum = g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)body, len);
    data = g_strconcat(body, VH_NAMES_CHECK, sum, "\n", NULL);
    if (!g_file_set_contents_full(names->cache_path, data, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                  0644, &error))
        g_debug("PCI names cache not written: %s", error->message);
}

void
vh_pci_names_free(VhPciNames *names)
{
    if (names == NULL)
        return;
    if (names->cache)
        save_cache(names);
    if (names->pacc)
        pci_api()->cleanup(names->pacc);
    g_clear_pointer(&names->cache, g_key_file_unref);
    g_free(names->cache_path);
    g_free(names->pci_ids);
    g_free(names);
}

/* pci_lookup_name() under the jump point of names_error(). After a jump
 * libpci keeps the entries it parsed and does not reload: ask once more. */
static char *
libpci_lookup(VhPciNames *names, int flags, guint vendor, guint device)
{
    char buf[256];
    jmp_buf jump;
    jmp_buf *outer = g_private_get(&names_jump);
    const char *volatile name = NULL;
    volatile guint attempts = 0;
    struct pci_access *pacc = names_pacc(names);

    if (pacc == NULL)
        return NULL;
    g_private_set(&names_jump, &jump);
    if (setjmp(jump) != 0)
        attempts++;
    if (attempts < 2)
        name = pci_api()->lookup_name(pacc, buf, sizeof(buf), flags | names->flags,
                               (int)vendor, (int)device);
    g_private_set(&names_jump, outer);
    return name && *name ? g_strdup(name) : NULL;
}

/* The cache's answer when it has one, else libpci's (then remembered). */
static char *
lookup_name(VhPciNames *names, int flags, guint vendor, guint device)
{
    char key[16];
    g_autofree char *cached = NULL;
    char *name;

    if (flags == PCI_LOOKUP_VENDOR)
        g_snprintf(key, sizeof key, "v.%04x", vendor & 0xffff);
    else
        g_snprintf(key, sizeof key, "d.%04x.%04x", vendor & 0xffff, device & 0xffff);
    ensure_cache(names);
    if (names->cache && (cached = g_key_file_get_string(names->cache, "names", key, NULL)))
        return *cached ? g_steal_pointer(&cached) : NULL;
    g_debug("PCI names: %s not cached", key);
    name = libpci_lookup(names, flags, vendor, device);
    /* only what a key file holds as it is: UTF-8 (pci.ids is) */
    if (names->cache && names->pacc && (name == NULL || g_utf8_validate(name, -1, NULL))) {
        g_key_file_set_string(names->cache, "names", key, name ? name : "");
        names->cache_dirty = TRUE;
    }
    return name;
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

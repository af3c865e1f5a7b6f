/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sim-kernel: the Linux kernel and NVIDIA's vGPU driver, played for a fake
 * sysfs tree (test tier 2, "simulated kernel"; cf. libvirt's virpcimock).
 *
 * Usage: preload the library into any dynamically linked program (a test,
 * vgpuctl, a shell script) and name the fake tree:
 *
 *   LD_PRELOAD=$builddir/tests/.libs/libsimkernel.so
 *   VH_SIM_SYSFS_ROOT=/abs/fake/sys   tree built by tests/fake-host.c; unset
 *                                     or relative: the library does nothing
 *   VH_SIM_DEV_DIR=/abs/fake/dev      optional, stands for /dev: vfio group
 *                                     nodes appear as empty files DIR/vfio/N
 *
 * Both are read at every open(), so one process may switch trees between
 * tests. Paths outside the root are never touched. When a program starts,
 * and when it first opens a file for writing after the variables changed,
 * the dev dir is brought in line with the tree (nodes for groups the
 * description put on vfio-pci).
 *
 * How: open(), open64(), openat(), openat64() (and their _FORTIFY_SOURCE
 * variants) remember write-mode fds of the attributes below, with the file's
 * old contents; O_TRUNC is dropped for them, as sysfs ignores it. dup(),
 * dup2(), dup3() and fcntl(F_DUPFD) share that with the new fd, as shells
 * redirect with dup2(). Each
 * write(), pwrite() or writev() on such an fd is one "store", as in sysfs: it
 * never reaches the file; the emulation updates the tree and the call returns
 * the count, or -1 with the kernel's errno, leaving the file as it was. Data
 * that reached the file some other way (a raw syscall) is taken as one store
 * at close(), which then fails with the errno and restores the old contents.
 * A write of 0 bytes is a no-op, as in sysfs_kf_write(): clearing
 * driver_override takes "\n", not "".
 *
 * Emulated (paths under the root; links may be used, targets are resolved):
 *  - bus/pci/devices/ADDR/driver_override: stores up to the first "\n";
 *    "\n" clears it, reading "(null)".
 *  - bus/pci/drivers/NAME/unbind ADDR: ENODEV unless ADDR is bound to NAME.
 *  - bus/pci/drivers/NAME/bind ADDR: ENODEV for an unknown device or one NAME
 *    does not match; EBUSY if bound. Matching stands in for id tables: with
 *    driver_override set only that driver matches; without, only the driver
 *    the description gave the device (ROOT/.fake-host/default-driver/ADDR).
 *    vfio-pci's probe fails (EINVAL) on a device without an IOMMU group.
 *  - bus/pci/drivers_probe ADDR: ENODEV for an unknown device; a bound device
 *    is left alone; else the matching driver (above) is bound if loaded
 *    (bus/pci/drivers/NAME exists). No match or a failed probe still succeeds.
 *  - /dev/vfio/N as the kernel does it: the node exists while at least one
 *    device of group N is bound to vfio-pci (or N is an mdev's group), and
 *    opening it fails with EBUSY while another device of the group is bound
 *    to a driver other than vfio-pci ("group not viable").
 *  - NVIDIA SR-IOV vGPU, VF/nvidia/current_vgpu_type: decimal, no newline
 *    (EINVAL otherwise), in the dialect of the GPU's driver ([device]
 *    vgpu_dialect= of fake-host.h; ROOT/.fake-host/held/VF = a VM has the VF
 *    open):
 *    proprietary: EBUSY while ROOT/.fake-host/plugin/VF exists (the vGPU
 *    plugin task has not exited); EPERM for a type on a VF that holds one,
 *    for 0 while a VM has it open, and for 0 on a VF that holds none; EIO
 *    when the type does not fit the GPU (the resource manager refuses).
 *    upstream RFC v2: EBUSY while a VM has it open or for a type on a VF
 *    that holds one; ENODEV unknown type; EINVAL another size in
 *    equal-size mode; ENOSPC no room; 0 on a free VF does nothing.
 *    With MIG on (ROOT/.fake-host/nvml.ini, the test NVML's state), a
 *    MIG-backed type needs a free GPU instance of its profile (EIO without):
 *    the VF gets the lowest-id one in nvidia/gpu_instance_id, marked in use
 *    for NVML; writing 0 gives it back (fake_host_nvidia_mig_bind).
 *    Then every VF's creatable list is recomputed (fake_host_nvidia_recompute).
 *  - mdev: PARENT/mdev_supported_types/TYPE/create UUID: EINVAL for a bad
 *    UUID, EEXIST for a used one, EUSERS when available_instances is 0 (what
 *    the kernel's mdev core returns, Linux >= 6.1). Creates PARENT/UUID/ with
 *    mdev_type, iommu_group (a new group), subsystem, remove; links it from
 *    bus/mdev/devices and TYPE/devices. available_instances follows NVIDIA's
 *    one-type-per-GPU rule from ROOT/.fake-host/mdev/PARENT.ini: while any
 *    instance exists, other types offer 0. bus/mdev/devices/UUID/remove: "1"
 *    removes it all, "0" does nothing, EINVAL for other text, EBUSY while
 *    ROOT/.fake-host/held/UUID exists (the real kernel may block instead).
 *
 * Not emulated: stdio (glibc's fopen/fclose call the kernel directly), static
 * binaries and Go programs (raw syscalls), new_id/remove_id, sriov_numvfs,
 * device remove/rescan/reset, mdev driver links, mdev types of other vendors,
 * the vfio container /dev/vfio/vfio, exclusive opens of group nodes. Writes to
 * other files under the root go to the file unchanged.
 *
 * Within a process a mutex serialises the emulation; between processes an
 * flock() on ROOT/.fake-host/sim.lock does. */
#undef _FORTIFY_SOURCE /* we define open() ourselves */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "fake-host.h"
#include "sim-writelog.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#define SIM_ENV_ROOT "VH_SIM_SYSFS_ROOT"
#define SIM_ENV_DEV "VH_SIM_DEV_DIR"
#define SIM_STATE ".fake-host"
#define SIM_PAGE_SIZE 4096 /* kernfs hands at most a page to a store */
#define SIM_UUID_LEN 36
#define DRIVER_OVERRIDE_UNSET "(null)\n"

/* ------------------------------------------------------------------ */
/* The functions we stand in front of                                 */
/* ------------------------------------------------------------------ */

/* Not declared without _FORTIFY_SOURCE, but called by programs built with it. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

typedef int (*SimOpenFn)(const char *, int, ...);
typedef int (*SimOpenatFn)(int, const char *, int, ...);
typedef int (*SimOpen2Fn)(const char *, int);
typedef int (*SimOpenat2Fn)(int, const char *, int);
typedef ssize_t (*SimWriteFn)(int, const void *, size_t);
typedef ssize_t (*SimPwriteFn)(int, const void *, size_t, off_t);
typedef ssize_t (*SimWritevFn)(int, const struct iovec *, int);
typedef int (*SimCloseFn)(int);
typedef int (*SimDupFn)(int);
typedef int (*SimDup2Fn)(int, int);
typedef int (*SimDup3Fn)(int, int, int);
typedef int (*SimFcntlFn)(int, int, ...);

static struct {
    SimOpenFn open, open64;
    SimOpenatFn openat, openat64;
    SimOpen2Fn open_2, open64_2;
    SimOpenat2Fn openat_2, openat64_2;
    SimWriteFn write;
    SimPwriteFn pwrite, pwrite64;
    SimWritevFn writev;
    SimCloseFn close;
    SimDupFn dup;
    SimDup2Fn dup2;
    SimDup3Fn dup3;
    SimFcntlFn fcntl, fcntl64;
} real;

static pthread_once_t real_once = PTHREAD_ONCE_INIT;

static void
real_resolve(void)
{
    real.open = (SimOpenFn)dlsym(RTLD_NEXT, "open");
    real.open64 = (SimOpenFn)dlsym(RTLD_NEXT, "open64");
    real.openat = (SimOpenatFn)dlsym(RTLD_NEXT, "openat");
    real.openat64 = (SimOpenatFn)dlsym(RTLD_NEXT, "openat64");
    real.open_2 = (SimOpen2Fn)dlsym(RTLD_NEXT, "__open_2");
    real.open64_2 = (SimOpen2Fn)dlsym(RTLD_NEXT, "__open64_2");
    real.openat_2 = (SimOpenat2Fn)dlsym(RTLD_NEXT, "__openat_2");
    real.openat64_2 = (SimOpenat2Fn)dlsym(RTLD_NEXT, "__openat64_2");
    real.write = (SimWriteFn)dlsym(RTLD_NEXT, "write");
    real.pwrite = (SimPwriteFn)dlsym(RTLD_NEXT, "pwrite");
    real.pwrite64 = (SimPwriteFn)dlsym(RTLD_NEXT, "pwrite64");
    real.writev = (SimWritevFn)dlsym(RTLD_NEXT, "writev");
    real.close = (SimCloseFn)dlsym(RTLD_NEXT, "close");
    real.dup = (SimDupFn)dlsym(RTLD_NEXT, "dup");
    real.dup2 = (SimDup2Fn)dlsym(RTLD_NEXT, "dup2");
    real.dup3 = (SimDup3Fn)dlsym(RTLD_NEXT, "dup3");
    real.fcntl = (SimFcntlFn)dlsym(RTLD_NEXT, "fcntl");
    real.fcntl64 = (SimFcntlFn)dlsym(RTLD_NEXT, "fcntl64");
    if (!real.open || !real.openat || !real.write || !real.pwrite || !real.pwrite64 ||
        !real.writev || !real.close || !real.dup || !real.dup2 || !real.dup3 ||
        !real.fcntl) {
        static const char msg[] = "sim-kernel: cannot find the libc functions it wraps\n";
        /* No stdio here: it might open files itself. */
        if (real.write)
            (void)!real.write(STDERR_FILENO, msg, sizeof msg - 1);
        abort();
    }
}

static void
real_init(void)
{
    pthread_once(&real_once, real_resolve);
}

/* Nonzero while this thread runs emulation code: the file I/O that code does
 * (through GLib too) must reach the real functions untouched. */
static __thread int sim_depth;

/* ------------------------------------------------------------------ */
/* Small file helpers (all called with sim_depth > 0)                 */
/* ------------------------------------------------------------------ */

static char *
read_text(const char *path, gsize *len)
{
    char *text = NULL;

    if (!g_file_get_contents(path, &text, len, NULL))
        return NULL;
    return text;
}

static char *
read_trimmed(const char *path)
{
    char *text = read_text(path, NULL);

    return text ? g_strstrip(text) : NULL;
}

/* Rewrite @path in place (the attribute's inode stays the same). */
static int
write_bytes(const char *path, const char *data, gsize len)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
    ssize_t n;

    if (fd < 0)
        return errno;
    n = len ? write(fd, data, len) : 0;
    if (n < 0 || (gsize)n != len) {
        int err = n < 0 ? errno : EIO;
        close(fd);
        return err;
    }
    return close(fd) < 0 ? errno : 0;
}

static int
write_text(const char *path, const char *text)
{
    return write_bytes(path, text, strlen(text));
}

/* Create an empty regular file, or leave an existing one alone. */
static int
touch(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);

    if (fd < 0)
        return errno;
    return close(fd) < 0 ? errno : 0;
}

/* Last component of a symlink's target, or NULL. */
static char *
link_name(const char *path)
{
    g_autofree char *target = g_file_read_link(path, NULL);

    return target ? g_path_get_basename(target) : NULL;
}

static gboolean
exists_nofollow(const char *path)
{
    struct stat st;

    return lstat(path, &st) == 0;
}

static int
mkdirs(const char *path)
{
    return g_mkdir_with_parents(path, 0755) < 0 ? errno : 0;
}

/* @path relative to @root, or NULL if it is not strictly below it. */
static const char *
below_root(const char *root, const char *path)
{
    size_t len = strlen(root);

    if (strncmp(path, root, len) != 0 || path[len] != '/' || path[len + 1] == '\0')
        return NULL;
    return path + len + 1;
}

/* The relative link text that leads from directory @from_dir to @to (both
 * relative to the root), the way sysfs and fake-host write their links. */
static char *
relative_target(const char *from_dir, const char *to)
{
    g_auto(GStrv) from = g_strsplit(from_dir, "/", -1);
    g_auto(GStrv) dest = g_strsplit(to, "/", -1);
    GString *text = g_string_new(NULL);
    guint common = 0;

    while (from[common] && dest[common] && g_str_equal(from[common], dest[common]))
        common++;
    for (guint i = common; from[i]; i++)
        g_string_append(text, text->len ? "/.." : "..");
    for (guint i = common; dest[i]; i++)
        g_string_append_printf(text, "%s%s", text->len ? "/" : "", dest[i]);
    return g_string_free(text, FALSE);
}

/* Symlink @link -> @target, both relative to @root. */
static int
make_link(const char *root, const char *link, const char *target)
{
    g_autofree char *link_dir = g_path_get_dirname(link);
    g_autofree char *text = relative_target(link_dir, target);
    g_autofree char *path = g_build_filename(root, link, NULL);
    g_autofree char *dir = g_build_filename(root, link_dir, NULL);
    int err = mkdirs(dir);

    if (err)
        return err;
    return symlink(text, path) < 0 ? errno : 0;
}

/* Remove @path and what is below it, never following links. */
static void
remove_tree(const char *path)
{
    g_autoptr(GDir) dir = NULL;
    const char *name;
    struct stat st;

    if (lstat(path, &st) < 0)
        return;
    if (S_ISDIR(st.st_mode) && (dir = g_dir_open(path, 0, NULL))) {
        while ((name = g_dir_read_name(dir)) != NULL) {
            g_autofree char *child = g_build_filename(path, name, NULL);
            remove_tree(child);
        }
        rmdir(path);
        return;
    }
    unlink(path);
}

/* ------------------------------------------------------------------ */
/* Names                                                              */
/* ------------------------------------------------------------------ */

/* DDDD:BB:SS.F in lower-case hex, as the kernel names PCI devices. */
static gboolean
is_pci_address(const char *text)
{
    static const char pattern[] = "xxxx:xx:xx.x";

    if (strlen(text) != sizeof pattern - 1)
        return FALSE;
    for (guint i = 0; pattern[i]; i++) {
        if (pattern[i] == 'x' ? !(g_ascii_isdigit(text[i]) ||
                                  (text[i] >= 'a' && text[i] <= 'f'))
                              : text[i] != pattern[i])
            return FALSE;
    }
    return TRUE;
}

/* The kernel's uuid_is_valid(): 8-4-4-4-12 hex digits, either case; only
 * the first 36 characters are looked at. */
static gboolean
is_uuid(const char *text, gsize len)
{
    if (len < SIM_UUID_LEN)
        return FALSE;
    for (guint i = 0; i < SIM_UUID_LEN; i++) {
        gboolean dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? text[i] != '-' : !g_ascii_isxdigit(text[i]))
            return FALSE;
    }
    return TRUE;
}

static gboolean
is_number(const char *text)
{
    if (*text == '\0')
        return FALSE;
    for (const char *p = text; *p; p++)
        if (!g_ascii_isdigit(*p))
            return FALSE;
    return TRUE;
}

/* sysfs_streq(): the device name a bind/unbind/drivers_probe write carries,
 * with one trailing newline allowed. */
static char *
written_name(const char *value)
{
    size_t len = strlen(value);

    if (len > 0 && value[len - 1] == '\n')
        len--;
    return g_strndup(value, len);
}

/* ------------------------------------------------------------------ */
/* Which attribute a path is                                          */
/* ------------------------------------------------------------------ */

typedef enum {
    SIM_ATTR_DRIVER_OVERRIDE,
    SIM_ATTR_BIND,
    SIM_ATTR_UNBIND,
    SIM_ATTR_DRIVERS_PROBE,
    SIM_ATTR_VGPU_TYPE,
    SIM_ATTR_MDEV_CREATE,
    SIM_ATTR_MDEV_REMOVE,
} SimAttrKind;

typedef struct {
    SimAttrKind kind;
    char *root;    /* canonical fake root */
    char *path;    /* canonical path of the attribute */
    char *object;  /* device address, driver name, mdev type or mdev UUID */
    char *parent;  /* mdev: parent device address */
} SimAttr;

static void
sim_attr_free(SimAttr *attr)
{
    if (attr == NULL)
        return;
    g_free(attr->root);
    g_free(attr->path);
    g_free(attr->object);
    g_free(attr->parent);
    g_free(attr);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimAttr, sim_attr_free)

static SimAttr *
sim_attr_copy(const SimAttr *attr)
{
    SimAttr *copy = g_new0(SimAttr, 1);

    copy->kind = attr->kind;
    copy->root = g_strdup(attr->root);
    copy->path = g_strdup(attr->path);
    copy->object = g_strdup(attr->object);
    copy->parent = g_strdup(attr->parent);
    return copy;
}

static SimAttr *
sim_attr_new(SimAttrKind kind, const char *root, const char *path,
             const char *object, const char *parent)
{
    SimAttr *attr = g_new0(SimAttr, 1);

    attr->kind = kind;
    attr->root = g_strdup(root);
    attr->path = g_strdup(path);
    attr->object = g_strdup(object);
    attr->parent = g_strdup(parent);
    return attr;
}

/* Classify the canonical @path under @root; NULL: not an emulated attribute.
 * Canonical paths go through devices/..., so one rule covers every link
 * (bus/pci/devices, class/mdev_bus, bus/mdev/devices) that leads there. */
static SimAttr *
sim_attr_classify(const char *root, const char *path)
{
    const char *rel = below_root(root, path);
    g_auto(GStrv) parts = NULL;
    guint n;
    const char *last;

    if (rel == NULL)
        return NULL;
    parts = g_strsplit(rel, "/", -1);
    n = g_strv_length(parts);
    last = parts[n - 1];
    if (n == 3 && g_str_equal(rel, "bus/pci/drivers_probe"))
        return sim_attr_new(SIM_ATTR_DRIVERS_PROBE, root, path, NULL, NULL);
    if (n == 5 && g_str_equal(parts[0], "bus") && g_str_equal(parts[1], "pci") &&
        g_str_equal(parts[2], "drivers") &&
        (g_str_equal(last, "bind") || g_str_equal(last, "unbind")))
        return sim_attr_new(g_str_equal(last, "bind") ? SIM_ATTR_BIND : SIM_ATTR_UNBIND,
                            root, path, parts[3], NULL);
    if (n >= 2 && g_str_equal(last, "driver_override") && is_pci_address(parts[n - 2]))
        return sim_attr_new(SIM_ATTR_DRIVER_OVERRIDE, root, path, parts[n - 2], NULL);
    if (n >= 3 && g_str_equal(last, "current_vgpu_type") &&
        g_str_equal(parts[n - 2], "nvidia") && is_pci_address(parts[n - 3]))
        return sim_attr_new(SIM_ATTR_VGPU_TYPE, root, path, parts[n - 3], NULL);
    if (n >= 4 && g_str_equal(last, "create") &&
        g_str_equal(parts[n - 3], "mdev_supported_types") && is_pci_address(parts[n - 4]))
        return sim_attr_new(SIM_ATTR_MDEV_CREATE, root, path, parts[n - 2], parts[n - 4]);
    if (n >= 3 && g_str_equal(last, "remove") &&
        is_uuid(parts[n - 2], strlen(parts[n - 2])) && strlen(parts[n - 2]) == SIM_UUID_LEN &&
        is_pci_address(parts[n - 3]))
        return sim_attr_new(SIM_ATTR_MDEV_REMOVE, root, path, parts[n - 2], parts[n - 3]);
    return NULL;
}

/* ------------------------------------------------------------------ */
/* PCI devices and drivers                                            */
/* ------------------------------------------------------------------ */

static char *
pci_path(const char *root, const char *addr, const char *name)
{
    return g_build_filename(root, "bus/pci/devices", addr, name, NULL);
}

/* The device's directory relative to the root (devices/pci0000:00/ADDR). */
static char *
pci_device_rel(const char *root, const char *addr)
{
    g_autofree char *link = pci_path(root, addr, NULL);
    char resolved[PATH_MAX];
    const char *rel;

    if (!g_file_test(link, G_FILE_TEST_IS_DIR) || realpath(link, resolved) == NULL)
        return NULL;
    rel = below_root(root, resolved);
    return rel ? g_strdup(rel) : NULL;
}

static gboolean
pci_device_exists(const char *root, const char *addr)
{
    g_autofree char *rel = pci_device_rel(root, addr);

    return rel != NULL;
}

static char *
pci_driver(const char *root, const char *addr)
{
    g_autofree char *path = pci_path(root, addr, "driver");

    return link_name(path);
}

static char *
pci_driver_override(const char *root, const char *addr)
{
    g_autofree char *path = pci_path(root, addr, "driver_override");
    g_autofree char *text = read_trimmed(path);

    if (text == NULL || *text == '\0' || g_str_equal(text, "(null)"))
        return NULL;
    return g_steal_pointer(&text);
}

static char *
pci_iommu_group(const char *root, const char *addr)
{
    g_autofree char *path = pci_path(root, addr, "iommu_group");

    return link_name(path);
}

/* The driver whose id table would match: recorded by fake-host. */
static char *
pci_default_driver(const char *root, const char *addr)
{
    g_autofree char *path = g_build_filename(root, SIM_STATE, "default-driver", addr, NULL);
    g_autofree char *text = read_trimmed(path);

    return text && *text ? g_steal_pointer(&text) : NULL;
}

/* pci_match_device(): driver_override, when set, is the only match. */
static gboolean
pci_driver_matches(const char *root, const char *addr, const char *driver)
{
    g_autofree char *override = pci_driver_override(root, addr);
    g_autofree char *fallback = NULL;

    if (override)
        return g_str_equal(override, driver);
    fallback = pci_default_driver(root, addr);
    return g_strcmp0(fallback, driver) == 0;
}

static gboolean
pci_driver_loaded(const char *root, const char *driver)
{
    g_autofree char *dir = g_build_filename(root, "bus/pci/drivers", driver, NULL);

    return g_file_test(dir, G_FILE_TEST_IS_DIR);
}

/* ------------------------------------------------------------------ */
/* /dev/vfio                                                          */
/* ------------------------------------------------------------------ */

static const char *
vfio_dev_dir(void)
{
    const char *dir = getenv(SIM_ENV_DEV);

    return dir && dir[0] == '/' ? dir : NULL;
}

/* Members of IOMMU group @group: device names (addresses or mdev UUIDs). */
static GPtrArray *
iommu_group_members(const char *root, const char *group)
{
    g_autofree char *dir = g_build_filename(root, "kernel/iommu_groups", group,
                                            "devices", NULL);
    g_autoptr(GDir) listing = g_dir_open(dir, 0, NULL);
    GPtrArray *members = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    while (listing && (name = g_dir_read_name(listing)) != NULL)
        g_ptr_array_add(members, g_strdup(name));
    return members;
}

/* "@dir/@name" into @buf; FALSE if it does not fit (no printf: the start-up
 * sync runs this for every IOMMU group). */
static gboolean
path_join(char *buf, gsize size, const char *dir, const char *name)
{
    gsize a = strlen(dir), b = strlen(name);

    if (a + 1 + b + 1 > size)
        return FALSE;
    memcpy(buf, dir, a);
    buf[a] = '/';
    memcpy(buf + a + 1, name, b + 1);
    return TRUE;
}

/* Whether @target, a driver link's text, names vfio-pci (link_name() ==
 * "vfio-pci": its last component, trailing slashes aside). */
static gboolean
link_names_vfio_pci(const char *target, size_t len)
{
    static const char name[] = "vfio-pci";
    const size_t n = sizeof name - 1;

    while (len > 1 && target[len - 1] == '/')
        len--;
    return len >= n && memcmp(target + len - n, name, n) == 0 &&
           (len == n || target[len - n - 1] == '/');
}

/* The node exists while a device of the group is bound to vfio-pci, or the
 * group is an mdev's (vfio registered it). @groups_fd: kernel/iommu_groups,
 * @devices_fd: bus/pci/devices, both of the root. Plain system calls, no
 * path building: every process start asks this for every group. */
static gboolean
vfio_group_in_use(int groups_fd, int devices_fd, const char *group)
{
    char path[PATH_MAX], target[PATH_MAX];
    char buf[4096] __attribute__((aligned(8)));
    gboolean in_use = FALSE;
    ssize_t got;
    int fd;

    if (!path_join(path, sizeof path, group, "devices") ||
        (fd = openat(groups_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return FALSE;
    /* getdents64(), not opendir(): that adds an fstat() (and fdopendir()
     * two fcntl()s) per group, and every process start lists every group */
    while (!in_use && (got = getdents64(fd, buf, sizeof buf)) > 0) {
        for (ssize_t at = 0; !in_use && at < got;) {
            const struct dirent64 *entry = (const struct dirent64 *)(buf + at);
            const char *name = entry->d_name;
            ssize_t len;
            at += entry->d_reclen;
            if (g_str_equal(name, ".") || g_str_equal(name, ".."))
                continue;
            if (!is_pci_address(name)) {
                in_use = TRUE;
                break;
            }
            len = path_join(path, sizeof path, name, "driver")
                      ? readlinkat(devices_fd, path, target, sizeof target) : -1;
            in_use = len > 0 && (size_t)len < sizeof target &&
                     link_names_vfio_pci(target, (size_t)len);
        }
    }
    close(fd);
    return in_use;
}

/* Bring /dev/vfio/@group in line with the tree; @present: whether the
 * node is known to exist (-1: not known, try either way). */
static void
vfio_node_apply(const char *dev, const char *group, gboolean in_use, int present)
{
    g_autofree char *dir = NULL, *node = NULL;

    if (in_use ? present == 1 : present == 0)
        return; /* in line already */
    dir = g_build_filename(dev, "vfio", NULL);
    node = g_build_filename(dir, group, NULL);
    if (in_use) {
        if (mkdirs(dir) == 0)
            touch(node);
    } else {
        unlink(node);
    }
}

static int
open_dir_at(const char *root, const char *rel)
{
    g_autofree char *path = g_build_filename(root, rel, NULL);

    return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static void
vfio_node_update(const char *root, const char *group)
{
    const char *dev = vfio_dev_dir();
    int groups_fd, devices_fd;

    if (dev == NULL)
        return;
    groups_fd = open_dir_at(root, "kernel/iommu_groups");
    devices_fd = open_dir_at(root, "bus/pci/devices");
    vfio_node_apply(dev, group, vfio_group_in_use(groups_fd, devices_fd, group), -1);
    if (groups_fd >= 0)
        close(groups_fd);
    if (devices_fd >= 0)
        close(devices_fd);
}

/* Names in @dir (NULL: none, or no such directory). */
static GHashTable *
dir_names(const char *dir)
{
    g_autoptr(GDir) listing = g_dir_open(dir, 0, NULL);
    GHashTable *names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    const char *name;

    while (listing && (name = g_dir_read_name(listing)) != NULL)
        g_hash_table_add(names, g_strdup(name));
    return names;
}

/* What the dev dir shows when a tree is first used: nodes for the groups
 * that the description put on vfio-pci. Only what differs is changed, so
 * that a process start on a tree in line changes (and logs) nothing. */
static void
vfio_nodes_sync(const char *root)
{
    const char *dev = vfio_dev_dir();
    g_autofree char *groups = g_build_filename(root, "kernel/iommu_groups", NULL);
    g_autofree char *vfio = NULL;
    g_autoptr(GHashTable) nodes = NULL;
    g_autoptr(GDir) listing = NULL;
    int groups_fd, devices_fd;
    const char *name;

    if (dev == NULL || (listing = g_dir_open(groups, 0, NULL)) == NULL ||
        (groups_fd = open(groups, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
        return;
    vfio = g_build_filename(dev, "vfio", NULL);
    nodes = dir_names(vfio);
    devices_fd = open_dir_at(root, "bus/pci/devices");
    while ((name = g_dir_read_name(listing)) != NULL)
        if (is_number(name))
            vfio_node_apply(dev, name, vfio_group_in_use(groups_fd, devices_fd, name),
                            g_hash_table_contains(nodes, name));
    if (devices_fd >= 0)
        close(devices_fd);
    close(groups_fd);
}

/* Opening /dev/vfio/N: every PCI device of the group must be on vfio-pci
 * or on no driver (the kernel's "group is not viable"). */
static int
vfio_group_open_check(const char *root, const char *group)
{
    g_autoptr(GPtrArray) members = iommu_group_members(root, group);

    for (guint i = 0; i < members->len; i++) {
        const char *name = g_ptr_array_index(members, i);
        g_autofree char *driver = NULL;
        if (!is_pci_address(name))
            continue;
        driver = pci_driver(root, name);
        if (driver && !g_str_equal(driver, "vfio-pci"))
            return EBUSY;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Binding                                                            */
/* ------------------------------------------------------------------ */

/* really_probe() plus the links driver_sysfs_add() makes. */
static int
pci_attach(const char *root, const char *addr, const char *driver)
{
    g_autofree char *dev_rel = pci_device_rel(root, addr);
    g_autofree char *group = pci_iommu_group(root, addr);
    g_autofree char *drv_rel = g_build_filename("bus/pci/drivers", driver, NULL);
    g_autofree char *link = NULL, *back = NULL;
    int err;

    if (dev_rel == NULL)
        return ENODEV;
    if (g_str_equal(driver, "vfio-pci") && group == NULL)
        return EINVAL; /* vfio_pci_probe(): no IOMMU group */
    link = g_build_filename(dev_rel, "driver", NULL);
    back = g_build_filename(drv_rel, addr, NULL);
    if ((err = make_link(root, link, drv_rel)) != 0)
        return err;
    if ((err = make_link(root, back, dev_rel)) != 0) {
        g_autofree char *path = g_build_filename(root, link, NULL);
        unlink(path);
        return err;
    }
    if (group && g_str_equal(driver, "vfio-pci"))
        vfio_node_update(root, group);
    return 0;
}

static int
pci_detach(const char *root, const char *addr, const char *driver)
{
    g_autofree char *link = pci_path(root, addr, "driver");
    g_autofree char *back = g_build_filename(root, "bus/pci/drivers", driver, addr, NULL);
    g_autofree char *group = pci_iommu_group(root, addr);

    if (unlink(link) < 0)
        return errno;
    unlink(back);
    if (group && g_str_equal(driver, "vfio-pci"))
        vfio_node_update(root, group);
    return 0;
}

/* driver_override_store() and driver_set_override(). */
static int
store_driver_override(const SimAttr *attr, const char *value)
{
    g_autofree char *text = NULL;
    size_t len = strcspn(value, "\n");

    if (strlen(value) >= SIM_PAGE_SIZE - 1)
        return EINVAL;
    text = len ? g_strdup_printf("%.*s\n", (int)len, value) : g_strdup(DRIVER_OVERRIDE_UNSET);
    return write_text(attr->path, text);
}

/* unbind_store() */
static int
store_unbind(const SimAttr *attr, const char *value)
{
    g_autofree char *addr = written_name(value);
    g_autofree char *driver = NULL;

    if (!is_pci_address(addr) || !pci_device_exists(attr->root, addr))
        return ENODEV;
    driver = pci_driver(attr->root, addr);
    if (g_strcmp0(driver, attr->object) != 0)
        return ENODEV;
    return pci_detach(attr->root, addr, attr->object);
}

/* bind_store(): find, match, then device_driver_attach() (EBUSY if bound). */
static int
store_bind(const SimAttr *attr, const char *value)
{
    g_autofree char *addr = written_name(value);
    g_autofree char *driver = NULL;

    if (!is_pci_address(addr) || !pci_device_exists(attr->root, addr))
        return ENODEV;
    if (!pci_driver_matches(attr->root, addr, attr->object))
        return ENODEV;
    driver = pci_driver(attr->root, addr);
    if (driver)
        return EBUSY;
    return pci_attach(attr->root, addr, attr->object);
}

/* drivers_probe_store(): a probe that finds no driver, or whose driver
 * fails, still reports success. */
static int
store_drivers_probe(const SimAttr *attr, const char *value)
{
    g_autofree char *addr = written_name(value);
    g_autofree char *driver = NULL, *candidate = NULL;

    if (!is_pci_address(addr) || !pci_device_exists(attr->root, addr))
        return ENODEV;
    driver = pci_driver(attr->root, addr);
    if (driver)
        return 0;
    candidate = pci_driver_override(attr->root, addr);
    if (candidate == NULL)
        candidate = pci_default_driver(attr->root, addr);
    if (candidate && pci_driver_loaded(attr->root, candidate))
        (void)pci_attach(attr->root, addr, candidate);
    return 0;
}

/* ------------------------------------------------------------------ */
/* NVIDIA SR-IOV vGPU                                                 */
/* ------------------------------------------------------------------ */

static gboolean
is_held(const char *root, const char *name)
{
    g_autofree char *path = g_build_filename(root, SIM_STATE, "held", name, NULL);

    return exists_nofollow(path);
}

/* The errno of a store of type @id to a VF holding @current, before the
 * table is consulted (0: go on), in the GPU's dialect. */
static int
vgpu_precheck(const SimAttr *attr, FakeHostDialect dialect, guint64 id, guint64 current)
{
    gboolean open_by_vm = is_held(attr->root, attr->object);
    g_autofree char *plugin = g_build_filename(attr->root, SIM_STATE, "plugin", attr->object,
                                               NULL);

    if (dialect == FAKE_HOST_DIALECT_UPSTREAM) {
        if (open_by_vm)
            return EBUSY;
        return id != 0 && current != 0 ? EBUSY : 0;
    }
    if (exists_nofollow(plugin))
        return EBUSY; /* the vGPU plugin task has not exited yet */
    if (id == 0)
        return open_by_vm || current == 0 ? EPERM : 0;
    return current != 0 ? EPERM : 0;
}

static int
store_vgpu_type(const SimAttr *attr, const char *value)
{
    g_autofree char *nvidia_dir = g_path_get_dirname(attr->path);
    g_autofree char *vf_dir = g_path_get_dirname(nvidia_dir);
    g_autofree char *physfn = g_build_filename(vf_dir, "physfn", NULL);
    g_autofree char *old = NULL, *pf = NULL, *text = NULL;
    g_autoptr(GError) error = NULL;
    FakeHostDialect dialect;
    guint64 id, current;
    int err;

    /* Digits only: NVIDIA's parser takes no trailing newline. */
    if (!is_number(value) ||
        !g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT32, &id, NULL))
        return EINVAL;
    old = read_trimmed(attr->path);
    pf = link_name(physfn);
    if (old == NULL || pf == NULL ||
        !g_ascii_string_to_unsigned(old, 10, 0, G_MAXUINT32, &current, NULL))
        return EIO;
    dialect = fake_host_nvidia_dialect(attr->root, pf);
    if ((err = vgpu_precheck(attr, dialect, id, current)) != 0)
        return err;
    if (id == 0 && current == 0)
        return 0; /* upstream: nothing to reset */
    if (id != 0 && (err = fake_host_nvidia_assign_errno(attr->root, pf, (guint)id)) != 0)
        return err;
    text = g_strdup_printf("%" G_GUINT64_FORMAT "\n", id);
    if ((err = write_text(attr->path, text)) != 0)
        return err;
    /* MIG: the driver picks the VF's GPU instance (or gives it back) */
    if ((err = fake_host_nvidia_mig_bind(attr->root, pf, vf_dir, (guint)id)) != 0) {
        g_autofree char *back = g_strdup_printf("%" G_GUINT64_FORMAT "\n", current);
        write_text(attr->path, back);
        return err;
    }
    if (!fake_host_nvidia_recompute(attr->root, pf, &error)) {
        g_autofree char *back = g_strdup_printf("%" G_GUINT64_FORMAT "\n", current);
        g_printerr("sim-kernel: %s\n", error->message);
        write_text(attr->path, back);
        return EIO;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* mdev                                                               */
/* ------------------------------------------------------------------ */

typedef struct {
    char *id;
    guint max;
} SimMdevType;

static void
sim_mdev_type_clear(gpointer data)
{
    g_free(((SimMdevType *)data)->id);
}

/* The types table fake-host keeps: TYPEID:NAME:MAXINST;... */
static GArray *
mdev_table_load(const char *root, const char *parent)
{
    g_autofree char *name = g_strdup_printf("%s.ini", parent);
    g_autofree char *path = g_build_filename(root, SIM_STATE, "mdev", name, NULL);
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *types = NULL;
    g_auto(GStrv) items = NULL;
    g_autoptr(GArray) table = g_array_new(FALSE, TRUE, sizeof(SimMdevType));

    g_array_set_clear_func(table, sim_mdev_type_clear);
    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, NULL) ||
        !(types = g_key_file_get_string(kf, "mdev", "types", NULL)))
        return NULL;
    items = g_strsplit(types, ";", -1);
    for (guint i = 0; items[i]; i++) {
        const char *first = strchr(items[i], ':');
        const char *last = strrchr(items[i], ':');
        guint64 max;
        SimMdevType type;
        if (first == NULL || last == first ||
            !g_ascii_string_to_unsigned(last + 1, 10, 0, G_MAXUINT, &max, NULL))
            return NULL;
        type.id = g_strndup(items[i], (gsize)(first - items[i]));
        type.max = (guint)max;
        g_array_append_val(table, type);
    }
    return g_steal_pointer(&table);
}

static guint
count_entries(const char *dir)
{
    g_autoptr(GDir) listing = g_dir_open(dir, 0, NULL);
    guint n = 0;

    while (listing && g_dir_read_name(listing))
        n++;
    return n;
}

/* available_instances of every type of @parent after a create or remove:
 * NVIDIA runs one type per GPU, so while instances exist only their type
 * offers more. */
static int
mdev_recount(const char *root, const char *parent)
{
    g_autoptr(GArray) table = mdev_table_load(root, parent);
    g_autofree guint *counts = NULL;
    g_autofree char *types_dir = pci_path(root, parent, "mdev_supported_types");
    guint total = 0;

    if (table == NULL) {
        g_printerr("sim-kernel: no mdev table for %s in %s/%s/mdev\n", parent, root, SIM_STATE);
        return EIO;
    }
    counts = g_new0(guint, table->len);
    for (guint i = 0; i < table->len; i++) {
        SimMdevType *type = &g_array_index(table, SimMdevType, i);
        g_autofree char *devices = g_build_filename(types_dir, type->id, "devices", NULL);
        counts[i] = count_entries(devices);
        total += counts[i];
    }
    for (guint i = 0; i < table->len; i++) {
        SimMdevType *type = &g_array_index(table, SimMdevType, i);
        g_autofree char *path = g_build_filename(types_dir, type->id,
                                                 "available_instances", NULL);
        g_autofree char *text = NULL;
        guint avail = total == 0 ? type->max
                      : counts[i] == 0 ? 0
                      : type->max > counts[i] ? type->max - counts[i] : 0;
        int err;
        text = g_strdup_printf("%u\n", avail);
        if ((err = write_text(path, text)) != 0)
            return err;
    }
    return 0;
}

/* A new IOMMU group number, as vfio does for an mdev (emulated IOMMU). */
static char *
iommu_group_new(const char *root)
{
    g_autofree char *dir = g_build_filename(root, "kernel/iommu_groups", NULL);
    g_autoptr(GDir) listing = NULL;
    const char *name;
    guint64 next = 0;

    if (mkdirs(dir) != 0 || (listing = g_dir_open(dir, 0, NULL)) == NULL)
        return NULL;
    while ((name = g_dir_read_name(listing)) != NULL) {
        guint64 n;
        if (g_ascii_string_to_unsigned(name, 10, 0, G_MAXINT, &n, NULL) && n >= next)
            next = n + 1;
    }
    return g_strdup_printf("%" G_GUINT64_FORMAT, next);
}

/* Undo everything mdev_create made for @uuid; missing pieces are fine. */
static void
mdev_destroy(const char *root, const char *mdev_dir, const char *uuid)
{
    g_autofree char *group_link = g_build_filename(mdev_dir, "iommu_group", NULL);
    g_autofree char *type_link = g_build_filename(mdev_dir, "mdev_type", NULL);
    g_autofree char *group = link_name(group_link);
    g_autofree char *bus_link = g_build_filename(root, "bus/mdev/devices", uuid, NULL);
    char type_dir[PATH_MAX];

    if (realpath(type_link, type_dir) != NULL) {
        g_autofree char *type_entry = g_build_filename(type_dir, "devices", uuid, NULL);
        unlink(type_entry);
    }
    unlink(bus_link);
    if (group) {
        g_autofree char *group_dir = g_build_filename(root, "kernel/iommu_groups", group, NULL);
        remove_tree(group_dir);
        vfio_node_update(root, group);
    }
    remove_tree(mdev_dir);
}

/* The device mdev_device_create() registers, with its sysfs links. */
static int
mdev_build(const char *root, const char *type_rel, const char *mdev_rel, const char *uuid)
{
    g_autofree char *mdev_dir = g_build_filename(root, mdev_rel, NULL);
    g_autofree char *remove = g_build_filename(mdev_dir, "remove", NULL);
    g_autofree char *group = iommu_group_new(root);
    g_autofree char *group_rel = NULL, *member = NULL, *link_type = NULL;
    g_autofree char *link_group = NULL, *link_subsystem = NULL, *bus_link = NULL;
    g_autofree char *type_entry = NULL;
    int err;

    if (group == NULL)
        return EIO;
    group_rel = g_build_filename("kernel/iommu_groups", group, NULL);
    member = g_build_filename(group_rel, "devices", uuid, NULL);
    link_type = g_build_filename(mdev_rel, "mdev_type", NULL);
    link_group = g_build_filename(mdev_rel, "iommu_group", NULL);
    link_subsystem = g_build_filename(mdev_rel, "subsystem", NULL);
    bus_link = g_build_filename("bus/mdev/devices", uuid, NULL);
    type_entry = g_build_filename(type_rel, "devices", uuid, NULL);
    if (mkdir(mdev_dir, 0755) < 0)
        return errno;
    if ((err = touch(remove)) != 0 ||
        (err = make_link(root, link_type, type_rel)) != 0 ||
        (err = make_link(root, link_subsystem, "bus/mdev")) != 0 ||
        (err = make_link(root, member, mdev_rel)) != 0 ||
        (err = make_link(root, link_group, group_rel)) != 0 ||
        (err = make_link(root, type_entry, mdev_rel)) != 0 ||
        (err = make_link(root, bus_link, mdev_rel)) != 0)
        return err;
    vfio_node_update(root, group);
    return 0;
}

/* create_store() and mdev_device_create(). */
static int
store_mdev_create(const SimAttr *attr, const char *value)
{
    size_t len = strlen(value);
    g_autofree char *uuid = NULL, *bus_link = NULL, *avail_text = NULL;
    g_autofree char *type_dir = g_path_get_dirname(attr->path);
    g_autofree char *types_dir = g_path_get_dirname(type_dir);
    g_autofree char *parent_dir = g_path_get_dirname(types_dir);
    g_autofree char *avail_path = g_build_filename(type_dir, "available_instances", NULL);
    g_autofree char *mdev_rel = NULL, *mdev_dir = NULL;
    const char *type_rel = below_root(attr->root, type_dir);
    const char *parent_rel = below_root(attr->root, parent_dir);
    guint64 avail;
    int err;

    if (len < SIM_UUID_LEN || len > SIM_UUID_LEN + 1 || !is_uuid(value, len))
        return EINVAL;
    uuid = g_ascii_strdown(value, SIM_UUID_LEN); /* the kernel prints %pUl */
    bus_link = g_build_filename(attr->root, "bus/mdev/devices", uuid, NULL);
    if (exists_nofollow(bus_link))
        return EEXIST;
    avail_text = read_trimmed(avail_path);
    if (type_rel == NULL || parent_rel == NULL || avail_text == NULL ||
        !g_ascii_string_to_unsigned(avail_text, 10, 0, G_MAXUINT, &avail, NULL))
        return EIO;
    if (avail == 0)
        return EUSERS;
    mdev_rel = g_build_filename(parent_rel, uuid, NULL);
    mdev_dir = g_build_filename(attr->root, mdev_rel, NULL);
    if (exists_nofollow(mdev_dir))
        return EEXIST;
    if ((err = mdev_build(attr->root, type_rel, mdev_rel, uuid)) != 0 ||
        (err = mdev_recount(attr->root, attr->parent)) != 0) {
        mdev_destroy(attr->root, mdev_dir, uuid);
        mdev_recount(attr->root, attr->parent);
        return err;
    }
    return 0;
}

/* remove_store(): kstrtoul(buf, 0), then remove on a non-zero value. */
static int
store_mdev_remove(const SimAttr *attr, const char *value)
{
    g_autofree char *text = written_name(value);
    g_autofree char *mdev_dir = g_path_get_dirname(attr->path);
    guint64 n;
    char *end = NULL;

    if (!g_ascii_isdigit(text[0]))
        return EINVAL;
    errno = 0;
    n = g_ascii_strtoull(text, &end, 0);
    if (errno != 0 || *end != '\0')
        return EINVAL;
    if (n == 0)
        return 0;
    if (is_held(attr->root, attr->object))
        return EBUSY;
    mdev_destroy(attr->root, mdev_dir, attr->object);
    return mdev_recount(attr->root, attr->parent);
}

/* ------------------------------------------------------------------ */
/* One store                                                          */
/* ------------------------------------------------------------------ */

static GMutex store_lock;

/* Serialise with other processes that emulate on the same tree. */
static int
tree_lock(const char *root)
{
    g_autofree char *dir = g_build_filename(root, SIM_STATE, NULL);
    g_autofree char *path = g_build_filename(dir, "sim.lock", NULL);
    int fd;

    if (mkdirs(dir) != 0 ||
        (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0)
        return -1;
    while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
        ;
    return fd;
}

/* Run @fn on the tree with both locks held. */
static void
sim_locked(const char *root, void (*fn)(const char *root))
{
    int lock_fd;

    g_mutex_lock(&store_lock);
    lock_fd = tree_lock(root);
    fn(root);
    if (lock_fd >= 0)
        close(lock_fd);
    g_mutex_unlock(&store_lock);
}

/* What the kernel does with @len bytes written to @attr: 0 or an errno. */
static int
sim_store(const SimAttr *attr, const char *buf, size_t len)
{
    g_autofree char *value = NULL;
    int lock_fd, err = EINVAL;

    if (len == 0)
        return 0; /* sysfs_kf_write() */
    value = g_strndup(buf, len);
    g_mutex_lock(&store_lock);
    lock_fd = tree_lock(attr->root);
    switch (attr->kind) {
    case SIM_ATTR_DRIVER_OVERRIDE:
        err = store_driver_override(attr, value);
        break;
    case SIM_ATTR_BIND:
        err = store_bind(attr, value);
        break;
    case SIM_ATTR_UNBIND:
        err = store_unbind(attr, value);
        break;
    case SIM_ATTR_DRIVERS_PROBE:
        err = store_drivers_probe(attr, value);
        break;
    case SIM_ATTR_VGPU_TYPE:
        err = store_vgpu_type(attr, value);
        break;
    case SIM_ATTR_MDEV_CREATE:
        err = store_mdev_create(attr, value);
        break;
    case SIM_ATTR_MDEV_REMOVE:
        err = store_mdev_remove(attr, value);
        break;
    }
    if (lock_fd >= 0)
        close(lock_fd);
    g_mutex_unlock(&store_lock);
    return err;
}

/* ------------------------------------------------------------------ */
/* Open files                                                         */
/* ------------------------------------------------------------------ */

/* One open file description: shared by fds that dup() made, as shells move
 * a redirection's fd onto 1 with dup2() before writing. */
typedef struct {
    gint ref;         /* fds in the table; under files_lock */
    SimAttr *attr;
    char *old;        /* contents at open */
    gsize old_len;
    gboolean stored;  /* a write went through sim_store() */
} SimFile;

static void
sim_file_free(SimFile *file)
{
    if (file == NULL)
        return;
    sim_attr_free(file->attr);
    g_free(file->old);
    g_free(file);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SimFile, sim_file_free)

static GMutex files_lock;         /* guards files, root_env, dev_env, root_real */
static GHashTable *files;         /* fd -> SimFile */
static gint n_files;              /* size of files, read without the lock */
static char *root_env, *dev_env, *root_real;

/* The canonical fake root named by the environment, or NULL. The first use
 * of a tree (and dev dir) brings its /dev/vfio nodes up to date. */
static char *
sim_root(void)
{
    const char *env = getenv(SIM_ENV_ROOT);
    const char *dev = vfio_dev_dir();
    char resolved[PATH_MAX];
    char *root = NULL;
    gboolean changed;

    if (env == NULL || env[0] != '/')
        return NULL;
    g_mutex_lock(&files_lock);
    changed = g_strcmp0(env, root_env) != 0 || g_strcmp0(dev, dev_env) != 0;
    if (changed) {
        g_free(root_env);
        g_free(dev_env);
        g_free(root_real);
        root_env = g_strdup(env);
        dev_env = g_strdup(dev);
        root_real = realpath(env, resolved) ? g_strdup(resolved) : NULL;
    }
    root = g_strdup(root_real);
    g_mutex_unlock(&files_lock);
    if (changed && root && dev)
        sim_locked(root, vfio_nodes_sync);
    return root;
}

/* Sync when a program starts, so that even one that only looks at the dev
 * dir sees the nodes. */
__attribute__((constructor)) static void
sim_boot(void)
{
    g_autofree char *root = NULL;

    real_init();
    sim_depth++;
    root = sim_root();
    sim_depth--;
}

/* The canonical path @path (relative to @dirfd) names: its directory
 * resolved, its last component kept (sysfs attributes are not links). */
static char *
sim_resolve(int dirfd, const char *path)
{
    g_autofree char *full = NULL, *dir = NULL, *base = NULL;
    char resolved[PATH_MAX];

    if (path[0] == '/') {
        full = g_strdup(path);
    } else if (dirfd == AT_FDCWD) {
        g_autofree char *cwd = g_get_current_dir();
        full = g_build_filename(cwd, path, NULL);
    } else {
        g_autofree char *fd_link = g_strdup_printf("/proc/self/fd/%d", dirfd);
        g_autofree char *at = g_file_read_link(fd_link, NULL);
        if (at == NULL)
            return NULL;
        full = g_build_filename(at, path, NULL);
    }
    dir = g_path_get_dirname(full);
    base = g_path_get_basename(full);
    if (g_str_equal(base, ".") || g_str_equal(base, "..") || g_str_equal(base, "/") ||
        realpath(dir, resolved) == NULL)
        return NULL;
    return g_build_filename(resolved, base, NULL);
}

/* Forget @fd; the caller must sim_file_release() the result. Call with
 * files_lock held. */
static SimFile *
sim_file_untrack_locked(int fd)
{
    gpointer file = NULL;

    if (files && g_hash_table_steal_extended(files, GINT_TO_POINTER(fd), NULL, &file))
        g_atomic_int_set(&n_files, (gint)g_hash_table_size(files));
    return file;
}

static SimFile *
sim_file_untrack(int fd)
{
    SimFile *file;

    g_mutex_lock(&files_lock);
    file = sim_file_untrack_locked(fd);
    g_mutex_unlock(&files_lock);
    return file;
}

/* Put @file (one reference, the caller's) at @fd; returns what @fd held
 * before (a stale entry), for sim_file_release(). */
static SimFile *
sim_file_track(int fd, SimFile *file)
{
    SimFile *stale;

    g_mutex_lock(&files_lock);
    if (files == NULL)
        files = g_hash_table_new(g_direct_hash, g_direct_equal);
    stale = sim_file_untrack_locked(fd);
    g_hash_table_insert(files, GINT_TO_POINTER(fd), file);
    g_atomic_int_set(&n_files, (gint)g_hash_table_size(files));
    g_mutex_unlock(&files_lock);
    return stale;
}

/* @newfd now shares @oldfd's open file (dup, dup2, F_DUPFD); returns what
 * @newfd held before, for sim_file_release(). */
static SimFile *
sim_file_dup(int oldfd, int newfd)
{
    SimFile *file, *stale = NULL;

    g_mutex_lock(&files_lock);
    file = files ? g_hash_table_lookup(files, GINT_TO_POINTER(oldfd)) : NULL;
    if (file && oldfd != newfd) {
        file->ref++;
        stale = sim_file_untrack_locked(newfd);
        g_hash_table_insert(files, GINT_TO_POINTER(newfd), file);
        g_atomic_int_set(&n_files, (gint)g_hash_table_size(files));
    }
    g_mutex_unlock(&files_lock);
    return stale;
}

/* A copy of @fd's attribute, marked as stored to, or NULL if untracked. */
static SimAttr *
sim_file_claim(int fd)
{
    SimFile *file;
    SimAttr *attr = NULL;

    g_mutex_lock(&files_lock);
    file = files ? g_hash_table_lookup(files, GINT_TO_POINTER(fd)) : NULL;
    if (file) {
        file->stored = TRUE;
        attr = sim_attr_copy(file->attr);
    }
    g_mutex_unlock(&files_lock);
    return attr;
}

/* Data that reached the file without a write we saw (a raw syscall): one
 * store from what is there now, applied to the old contents. */
static int
sim_store_at_close(SimFile *file)
{
    gsize len;
    g_autofree char *now = read_text(file->attr->path, &len);
    int err;

    if (now == NULL || (len == file->old_len && memcmp(now, file->old, len) == 0))
        return 0;
    if ((err = write_bytes(file->attr->path, file->old, file->old_len)) != 0)
        return err;
    return sim_store(file->attr, now, MIN(len, SIM_PAGE_SIZE));
}

/* Drop one fd's reference to @file (NULL: none); the last one applies data
 * no write showed us. Returns 0 or the store's errno. */
static int
sim_file_release(SimFile *file)
{
    gboolean last;
    int err = 0;

    if (file == NULL)
        return 0;
    g_mutex_lock(&files_lock);
    last = --file->ref == 0;
    g_mutex_unlock(&files_lock);
    if (!last)
        return 0;
    sim_depth++;
    if (!file->stored)
        err = sim_store_at_close(file);
    sim_file_free(file);
    sim_depth--;
    return err;
}

typedef enum {
    SIM_OPEN_PASS,   /* not ours: call the real function as is */
    SIM_OPEN_TRACK,  /* an emulated attribute: open it, then track the fd */
    SIM_OPEN_REFUSE, /* fail with the errno, as the kernel would */
} SimOpenVerdict;

static gboolean
may_be_vfio_node(const char *path)
{
    const char *base = strrchr(path, '/');

    return vfio_dev_dir() != NULL && is_number(base ? base + 1 : path);
}

/* /dev/vfio/N of a group that is not viable: EBUSY. */
static int
sim_open_vfio_node(const char *canonical)
{
    g_autofree char *root = sim_root();
    const char *dev = vfio_dev_dir();
    char dev_real[PATH_MAX];
    g_autofree char *vfio = NULL;
    const char *group;

    if (root == NULL || dev == NULL || realpath(dev, dev_real) == NULL ||
        !exists_nofollow(canonical))
        return 0;
    vfio = g_build_filename(dev_real, "vfio", NULL);
    group = below_root(vfio, canonical);
    if (group == NULL || !is_number(group))
        return 0;
    return vfio_group_open_check(root, group);
}

static SimOpenVerdict
sim_open_decide(int dirfd, const char *path, int flags, SimFile **file, int *err)
{
    gboolean writing = (flags & O_ACCMODE) != O_RDONLY && !(flags & O_PATH);
    g_autofree char *canonical = NULL, *root = NULL;
    g_autoptr(SimAttr) attr = NULL;
    g_autoptr(SimFile) tracked = NULL;

    if (path == NULL || (!writing && !may_be_vfio_node(path)))
        return SIM_OPEN_PASS;
    if (writing && getenv(SIM_ENV_ROOT) == NULL && !may_be_vfio_node(path))
        return SIM_OPEN_PASS;
    if ((canonical = sim_resolve(dirfd, path)) == NULL)
        return SIM_OPEN_PASS;
    if (may_be_vfio_node(path) && (*err = sim_open_vfio_node(canonical)) != 0)
        return SIM_OPEN_REFUSE;
    if (!writing || (root = sim_root()) == NULL ||
        (attr = sim_attr_classify(root, canonical)) == NULL)
        return SIM_OPEN_PASS;
    tracked = g_new0(SimFile, 1);
    tracked->old = read_text(canonical, &tracked->old_len);
    if (tracked->old == NULL)
        return SIM_OPEN_PASS; /* missing or unreadable: let open() say so */
    tracked->attr = g_steal_pointer(&attr);
    *file = g_steal_pointer(&tracked);
    return SIM_OPEN_TRACK;
}

typedef enum {
    SIM_OPEN, SIM_OPEN64, SIM_OPENAT, SIM_OPENAT64,
    SIM_OPEN_2, SIM_OPEN64_2, SIM_OPENAT_2, SIM_OPENAT64_2,
} SimOpenVariant;

static int
call_real_open(SimOpenVariant variant, int dirfd, const char *path, int flags, mode_t mode)
{
    switch (variant) {
    case SIM_OPEN64:
        if (real.open64)
            return real.open64(path, flags, mode);
        break;
    case SIM_OPENAT:
        return real.openat(dirfd, path, flags, mode);
    case SIM_OPENAT64:
        if (real.openat64)
            return real.openat64(dirfd, path, flags, mode);
        return real.openat(dirfd, path, flags, mode);
    case SIM_OPEN_2:
        if (real.open_2)
            return real.open_2(path, flags);
        break;
    case SIM_OPEN64_2:
        if (real.open64_2)
            return real.open64_2(path, flags);
        break;
    case SIM_OPENAT_2:
        if (real.openat_2)
            return real.openat_2(dirfd, path, flags);
        return real.openat(dirfd, path, flags, mode);
    case SIM_OPENAT64_2:
        if (real.openat64_2)
            return real.openat64_2(dirfd, path, flags);
        return real.openat(dirfd, path, flags, mode);
    case SIM_OPEN:
        break;
    }
    return real.open(path, flags, mode);
}

static int
sim_open(SimOpenVariant variant, int dirfd, const char *path, int flags, mode_t mode)
{
    int saved = errno, err = 0, fd;
    SimFile *file = NULL;
    SimOpenVerdict verdict;

    real_init();
    if (sim_depth > 0)
        return call_real_open(variant, dirfd, path, flags, mode);
    sim_writelog_open(dirfd, path, flags);
    sim_depth++;
    verdict = sim_open_decide(dirfd, path, flags, &file, &err);
    sim_depth--;
    if (verdict == SIM_OPEN_REFUSE) {
        errno = err;
        return -1;
    }
    errno = saved;
    if (verdict == SIM_OPEN_PASS)
        return call_real_open(variant, dirfd, path, flags, mode);
    /* sysfs ignores O_TRUNC; dropping it keeps the old value readable until
     * a store changes it. */
    fd = call_real_open(variant, dirfd, path, flags & ~O_TRUNC, mode);
    if (fd < 0) {
        saved = errno;
        sim_depth++;
        sim_file_free(file);
        sim_depth--;
        errno = saved;
        return fd;
    }
    file->ref = 1;
    (void)sim_file_release(sim_file_track(fd, file));
    errno = saved;
    return fd;
}

static gboolean
needs_mode(int flags)
{
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

#define SIM_MODE_ARG(flags, mode)                  \
    do {                                           \
        if (needs_mode(flags)) {                   \
            va_list args;                          \
            va_start(args, flags);                 \
            mode = (mode_t)va_arg(args, int);      \
            va_end(args);                          \
        }                                          \
    } while (0)

int
open(const char *path, int flags, ...)
{
    mode_t mode = 0;

    SIM_MODE_ARG(flags, mode);
    return sim_open(SIM_OPEN, AT_FDCWD, path, flags, mode);
}

int
open64(const char *path, int flags, ...)
{
    mode_t mode = 0;

    SIM_MODE_ARG(flags, mode);
    return sim_open(SIM_OPEN64, AT_FDCWD, path, flags, mode);
}

int
openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;

    SIM_MODE_ARG(flags, mode);
    return sim_open(SIM_OPENAT, dirfd, path, flags, mode);
}

int
openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;

    SIM_MODE_ARG(flags, mode);
    return sim_open(SIM_OPENAT64, dirfd, path, flags, mode);
}

int
__open_2(const char *path, int flags)
{
    return sim_open(SIM_OPEN_2, AT_FDCWD, path, flags, 0);
}

int
__open64_2(const char *path, int flags)
{
    return sim_open(SIM_OPEN64_2, AT_FDCWD, path, flags, 0);
}

int
__openat_2(int dirfd, const char *path, int flags)
{
    return sim_open(SIM_OPENAT_2, dirfd, path, flags, 0);
}

int
__openat64_2(int dirfd, const char *path, int flags)
{
    return sim_open(SIM_OPENAT64_2, dirfd, path, flags, 0);
}

/* One store of @len bytes if @fd is an emulated attribute: the result of
 * write(2) in *@result; FALSE for an fd that is not ours. */
static gboolean
sim_write(int fd, const void *buf, size_t count, ssize_t *result)
{
    SimAttr *attr;
    size_t len = MIN(count, SIM_PAGE_SIZE);
    int err;

    if (sim_depth > 0 || g_atomic_int_get(&n_files) == 0 || len == 0)
        return FALSE;
    sim_depth++;
    attr = sim_file_claim(fd);
    if (attr == NULL) {
        sim_depth--;
        return FALSE;
    }
    err = sim_store(attr, buf, len);
    sim_writelog_store(attr->path, buf, len, err);
    sim_attr_free(attr);
    sim_depth--;
    errno = err;
    *result = err ? -1 : (ssize_t)len;
    return TRUE;
}

ssize_t
write(int fd, const void *buf, size_t count)
{
    ssize_t result;

    real_init();
    if (sim_write(fd, buf, count, &result))
        return result;
    return real.write(fd, buf, count);
}

/* sysfs ignores the offset of a store. */
ssize_t
pwrite(int fd, const void *buf, size_t count, off_t offset)
{
    ssize_t result;

    real_init();
    if (sim_write(fd, buf, count, &result))
        return result;
    return real.pwrite(fd, buf, count, offset);
}

ssize_t
pwrite64(int fd, const void *buf, size_t count, off64_t offset)
{
    ssize_t result;

    real_init();
    if (sim_write(fd, buf, count, &result))
        return result;
    return real.pwrite64(fd, buf, count, offset);
}

/* kernfs gathers the vector into one buffer: one store. */
ssize_t
writev(int fd, const struct iovec *iov, int iovcnt)
{
    g_autoptr(GByteArray) data = NULL;
    ssize_t result;

    real_init();
    if (sim_depth > 0 || g_atomic_int_get(&n_files) == 0 || iovcnt < 0)
        return real.writev(fd, iov, iovcnt);
    sim_depth++;
    data = g_byte_array_new();
    for (int i = 0; i < iovcnt && data->len < SIM_PAGE_SIZE; i++)
        g_byte_array_append(data, iov[i].iov_base, (guint)MIN(iov[i].iov_len, SIM_PAGE_SIZE));
    sim_depth--;
    if (sim_write(fd, data->data, data->len, &result))
        return result;
    return real.writev(fd, iov, iovcnt);
}

int
close(int fd)
{
    SimFile *file;
    int rc, saved, err;

    real_init();
    if (sim_depth > 0 || g_atomic_int_get(&n_files) == 0)
        return real.close(fd);
    file = sim_file_untrack(fd);
    rc = real.close(fd);
    if (file == NULL)
        return rc;
    saved = errno;
    err = sim_file_release(file);
    if (rc == 0 && err != 0) {
        errno = err;
        return -1;
    }
    errno = saved;
    return rc;
}

/* Duplicated fds share the tracked file; an fd that dup2() replaces is
 * closed, as by close(). */
static int
sim_dup_done(int oldfd, int newfd)
{
    int saved = errno;

    if (newfd >= 0 && sim_depth == 0 && g_atomic_int_get(&n_files) > 0)
        (void)sim_file_release(sim_file_dup(oldfd, newfd));
    errno = saved;
    return newfd;
}

/* dup2/dup3 onto a tracked fd closes it: release it even if the new fd
 * is not ours. */
static int
sim_dup_onto(int oldfd, int newfd, int rc)
{
    int saved = errno;

    if (rc >= 0 && oldfd != newfd && sim_depth == 0 && g_atomic_int_get(&n_files) > 0) {
        SimFile *replaced = sim_file_untrack(newfd);
        (void)sim_file_release(sim_file_dup(oldfd, newfd));
        (void)sim_file_release(replaced);
    }
    errno = saved;
    return rc;
}

int
dup(int fd)
{
    real_init();
    return sim_dup_done(fd, real.dup(fd));
}

int
dup2(int oldfd, int newfd)
{
    real_init();
    return sim_dup_onto(oldfd, newfd, real.dup2(oldfd, newfd));
}

int
dup3(int oldfd, int newfd, int flags)
{
    real_init();
    return sim_dup_onto(oldfd, newfd, real.dup3(oldfd, newfd, flags));
}

/* The third argument is read as a pointer whatever @cmd is, as glibc does. */
static int
sim_fcntl(SimFcntlFn fn, int fd, int cmd, void *arg)
{
    int rc = fn(fd, cmd, arg);

    if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
        return sim_dup_done(fd, rc);
    return rc;
}

int
fcntl(int fd, int cmd, ...)
{
    va_list args;
    void *arg;

    va_start(args, cmd);
    arg = va_arg(args, void *);
    va_end(args);
    real_init();
    return sim_fcntl(real.fcntl, fd, cmd, arg);
}

int
fcntl64(int fd, int cmd, ...)
{
    va_list args;
    void *arg;

    va_start(args, cmd);
    arg = va_arg(args, void *);
    va_end(args);
    real_init();
    return sim_fcntl(real.fcntl64 ? real.fcntl64 : real.fcntl, fd, cmd, arg);
}

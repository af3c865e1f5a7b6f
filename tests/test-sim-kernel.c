/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-sim-kernel: the simulated kernel (tests/sim-kernel.c) driven through
 * the library's own write path, vh_sysfs_write().
 *
 * The binary re-executes itself with LD_PRELOAD naming libsimkernel.so (the
 * path in the build tree is compiled in; VH_SIM_KERNEL_SO overrides it) when
 * the library is not loaded yet. Each test builds a fake host, points
 * VH_SIM_SYSFS_ROOT and VH_SIM_DEV_DIR at it, writes, and checks the tree,
 * the /dev/vfio nodes and the errors the kernel would give.
 *
 * Under valgrind, preload the library yourself so that no re-exec happens:
 *   LD_PRELOAD=tests/.libs/libsimkernel.so libtool --mode=execute \
 *       valgrind --leak-check=full tests/test-sim-kernel */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dl_iterate_phdr */
#endif
#include "test-common.h"
#include "test-sim.h"
#include "sim-nvml-state.h"
#include "vh-error.h"
#include "vh-sysfs.h"

#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>


/* A GPU with its audio function in one group, a GPU without a default driver,
 * one outside any IOMMU group, an L40S with four SR-IOV VFs (0000:41:00.4 to
 * .7, groups 31..34) on NVIDIA's proprietary driver, one on the upstream
 * RFC v2 driver (0000:42:00.x), one in mixed-size mode (0000:43:00.x) and a
 * T4 mdev parent. */
static const char host_ini[] =
    "[vgpu-family L40S]\n"
    "framebuffer_gb=48\n"
    "types=1155:NVIDIA L40S-1Q;1156:NVIDIA L40S-2Q;1157:NVIDIA L40S-4Q;"
    "1158:NVIDIA L40S-6Q;1159:NVIDIA L40S-8Q;1160:NVIDIA L40S-12Q;"
    "1161:NVIDIA L40S-24Q;1162:NVIDIA L40S-48Q\n"
    "[mdev-family T4]\n"
    "types=nvidia-230:GRID T4-1Q:16;nvidia-231:GRID T4-2Q:8;nvidia-234:GRID T4-16Q:1\n"
    "[device 0000:3b:00.0]\nids=10de:2236\nclass=0x030200\ndriver=nvidia\niommu_group=20\n"
    "[device 0000:3b:00.1]\nids=10de:1aef\nclass=0x040300\ndriver=snd_hda_intel\n"
    "iommu_group=20\n"
    "[device 0000:5e:00.0]\nids=10de:2236\nclass=0x030200\niommu_group=22\n"
    "[device 0000:86:00.0]\nids=10de:2236\nclass=0x030200\ndriver=vfio-pci\niommu_group=23\n"
    "[device 0000:d8:00.0]\nids=10de:2236\nclass=0x030200\ndriver=nvidia\n"
    "[device 0000:41:00.0]\nids=10de:26b9\nclass=0x030200\ndriver=nvidia\niommu_group=30\n"
    "sriov_totalvfs=4\nsriov_numvfs=4\nvgpu_family=L40S\n"
    "[device 0000:42:00.0]\nids=10de:26b9\nclass=0x030200\ndriver=nvidia\niommu_group=40\n"
    "sriov_totalvfs=4\nsriov_numvfs=4\nvgpu_family=L40S\nvgpu_dialect=upstream\n"
    "[device 0000:43:00.0]\nids=10de:26b9\nclass=0x030200\ndriver=nvidia\niommu_group=45\n"
    "sriov_totalvfs=4\nsriov_numvfs=4\nvgpu_family=L40S\nvgpu_mode=mixed\n"
    "[device 0000:af:00.0]\nids=10de:1eb8\nclass=0x030200\ndriver=nvidia\niommu_group=50\n"
    "mdev_family=T4\n"
    "[vgpu-family H200X]\nframebuffer_gb=141\n"
    "types=1071:NVIDIA H200X-1-9C;1072:NVIDIA H200X-1-18C\n"
    "[device 0000:44:00.0]\nids=10de:2335\nclass=0x030200\ndriver=nvidia\niommu_group=35\n"
    "sriov_totalvfs=4\nsriov_numvfs=4\nvgpu_family=H200X\nvgpu_mode=mixed\n"
    "gpu_instances=1072:19;1071:19x2\n";

#define ALL_L40S "1155,1156,1157,1158,1159,1160,1161,1162"
#define UUID1 "0b9e5ac4-3d35-4b4c-9c63-6b0b0c8a2b11"
#define UUID2 "6f1b8e4a-58a2-4c6e-b0a5-7d0c2c7f9e01"
#define T4_TYPES "bus/pci/devices/0000:af:00.0/mdev_supported_types"

typedef struct {
    char *tmp;
    char *root;
    char *dev;
    VhSysfs *sysfs;
} Fixture;

/* ------------------------------------------------------------------ */
/* Fixture                                                            */
/* ------------------------------------------------------------------ */

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

static int
setup(void **state)
{
    g_autoptr(GError) error = NULL;
    Fixture *f = g_new0(Fixture, 1);

    f->tmp = g_dir_make_tmp("test-sim-kernel-XXXXXX", &error);
    assert_non_null(f->tmp);
    f->root = g_build_filename(f->tmp, "sys", NULL);
    f->dev = g_build_filename(f->tmp, "dev", NULL);
    if (!fake_host_build_from_data(host_ini, f->root, &error))
        fail_msg("fake host: %s", error->message);
    g_setenv("VH_SIM_SYSFS_ROOT", f->root, TRUE);
    g_setenv("VH_SIM_DEV_DIR", f->dev, TRUE);
    f->sysfs = vh_sysfs_new(f->root);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    Fixture *f = *state;

    g_unsetenv("VH_SIM_SYSFS_ROOT");
    g_unsetenv("VH_SIM_DEV_DIR");
    vh_sysfs_unref(f->sysfs);
    remove_tree(f->tmp);
    g_free(f->tmp);
    g_free(f->root);
    g_free(f->dev);
    g_free(f);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */

static void
write_ok(Fixture *f, const char *rel, const char *value)
{
    g_autoptr(GError) error = NULL;

    if (!vh_sysfs_write(f->sysfs, rel, value, &error))
        fail_msg("writing '%s' to %s: %s", value, rel, error->message);
}

/* The write fails with @err, reported in the message as strerror does. */
static void
write_fails(Fixture *f, const char *rel, const char *value, int err)
{
    g_autoptr(GError) error = NULL;

    if (vh_sysfs_write(f->sysfs, rel, value, &error))
        fail_msg("writing '%s' to %s succeeded, expected %s", value, rel, g_strerror(err));
    assert_vh_error(error, err == EBUSY ? VH_ERROR_BUSY : VH_ERROR_IO, g_strerror(err));
}

/* The attribute's exact bytes: the emulation writes what the kernel shows. */
static char *
raw(Fixture *f, const char *rel)
{
    g_autofree char *path = g_build_filename(f->root, rel, NULL);
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    return text;
}

static void
assert_raw(Fixture *f, const char *rel, const char *expected)
{
    g_autofree char *text = raw(f, rel);

    if (g_strcmp0(text, expected) != 0)
        fail_msg("%s holds '%s', expected '%s'", rel, text ? text : "(missing)",
                 expected ? expected : "(missing)");
}

static gboolean
exists(const char *dir, const char *rel)
{
    g_autofree char *path = g_build_filename(dir, rel, NULL);
    struct stat st;

    return lstat(path, &st) == 0;
}

/* @addr is bound to @driver (NULL: none), with both sysfs links. */
static void
assert_driver(Fixture *f, const char *addr, const char *driver)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/driver", addr);
    g_autofree char *bound = vh_sysfs_read_link_name(f->sysfs, rel, NULL);

    if (g_strcmp0(bound, driver) != 0)
        fail_msg("%s is on %s, expected %s", addr, bound ? bound : "no driver",
                 driver ? driver : "no driver");
    if (driver) {
        g_autofree char *back = g_strdup_printf("bus/pci/drivers/%s/%s", driver, addr);
        g_autofree char *target = vh_sysfs_read_link_name(f->sysfs, back, NULL);
        assert_string_equal(target, addr);
        /* and it leads to the device itself */
        assert_true(vh_sysfs_is_dir(f->sysfs, back));
    }
}

static gboolean
vfio_node(Fixture *f, const char *group)
{
    g_autofree char *rel = g_build_filename("vfio", group, NULL);

    return exists(f->dev, rel);
}

/* Type ids listed in a VF's creatable_vgpu_types, "1155,1156,...". */
static char *
creatable(Fixture *f, const char *vf)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/nvidia/creatable_vgpu_types", vf);
    g_autofree char *text = raw(f, rel);
    g_auto(GStrv) lines = NULL;
    GString *ids = g_string_new(NULL);

    assert_non_null(text);
    lines = g_strsplit(text, "\n", -1);
    for (guint i = 1; lines[i]; i++) {
        g_auto(GStrv) fields = g_strsplit(lines[i], ":", 2);
        if (fields[0] && *g_strstrip(fields[0]))
            g_string_append_printf(ids, "%s%s", ids->len ? "," : "", fields[0]);
    }
    return g_string_free(ids, FALSE);
}

static void
assert_creatable(Fixture *f, const char *vf, const char *expected)
{
    g_autofree char *ids = creatable(f, vf);

    if (!g_str_equal(ids, expected))
        fail_msg("VF %s can create '%s', expected '%s'", vf, ids, expected);
}

static char *
vgpu_rel(const char *vf)
{
    return g_strdup_printf("bus/pci/devices/%s/nvidia/current_vgpu_type", vf);
}

static void
hold(Fixture *f, const char *name, gboolean held)
{
    g_autofree char *dir = g_build_filename(f->root, ".fake-host", "held", NULL);
    g_autofree char *path = g_build_filename(dir, name, NULL);

    g_mkdir_with_parents(dir, 0755);
    if (held)
        assert_true(g_file_set_contents(path, "", 0, NULL));
    else
        assert_int_equal(unlink(path), 0);
}

/* Exit status of `sh -c SCRIPT` run in the fake root, -1 if it died. */
static int
run_sh(Fixture *f, const char *script)
{
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    g_autoptr(GError) error = NULL;
    int status;

    if (!g_spawn_sync(f->root, (char **)argv, NULL, 0, NULL, NULL, NULL, NULL,
                      &status, &error))
        fail_msg("sh: %s", error->message);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
open_errno(const char *path)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);

    if (fd < 0)
        return errno;
    close(fd);
    return 0;
}

/* ------------------------------------------------------------------ */
/* PCI binding                                                        */
/* ------------------------------------------------------------------ */

static void
test_driver_override(void **state)
{
    Fixture *f = *state;
    const char *rel = "bus/pci/devices/0000:3b:00.0/driver_override";

    assert_raw(f, rel, "(null)\n");
    write_ok(f, rel, "vfio-pci");
    assert_raw(f, rel, "vfio-pci\n");
    write_ok(f, rel, "nvidia\n");
    assert_raw(f, rel, "nvidia\n");
    /* sysfs drops a write of 0 bytes before the attribute sees it */
    write_ok(f, rel, "");
    assert_raw(f, rel, "nvidia\n");
    write_ok(f, rel, "\n");
    assert_raw(f, rel, "(null)\n");
}

/* libvirt's sequence: override, unbind, drivers_probe, for the whole group. */
static void
test_bind_group_to_vfio(void **state)
{
    Fixture *f = *state;
    g_autofree char *node = g_build_filename(f->dev, "vfio", "20", NULL);

    /* A program started on the tree sees a node for the device the
     * description put on vfio-pci, and none for the others. */
    assert_int_equal(run_sh(f, "test -e \"$VH_SIM_DEV_DIR/vfio/23\" && "
                               "! test -e \"$VH_SIM_DEV_DIR/vfio/20\""), 0);

    write_ok(f, "bus/pci/devices/0000:3b:00.0/driver_override", "vfio-pci");
    write_ok(f, "bus/pci/drivers/nvidia/unbind", "0000:3b:00.0");
    assert_driver(f, "0000:3b:00.0", NULL);
    assert_false(exists(f->root, "bus/pci/drivers/nvidia/0000:3b:00.0"));
    write_ok(f, "bus/pci/drivers_probe", "0000:3b:00.0");
    assert_driver(f, "0000:3b:00.0", "vfio-pci");
    assert_true(vfio_node(f, "20"));
    /* the audio function still has its driver: the group is not viable */
    assert_int_equal(open_errno(node), EBUSY);

    write_ok(f, "bus/pci/devices/0000:3b:00.1/driver_override", "vfio-pci");
    write_ok(f, "bus/pci/drivers/snd_hda_intel/unbind", "0000:3b:00.1");
    assert_int_equal(open_errno(node), 0); /* no driver is fine too */
    write_ok(f, "bus/pci/drivers_probe", "0000:3b:00.1");
    assert_driver(f, "0000:3b:00.1", "vfio-pci");
    assert_int_equal(open_errno(node), 0);

    /* back: the node stays while one function is on vfio-pci */
    write_ok(f, "bus/pci/drivers/vfio-pci/unbind", "0000:3b:00.0");
    assert_true(vfio_node(f, "20"));
    write_ok(f, "bus/pci/devices/0000:3b:00.0/driver_override", "\n");
    write_ok(f, "bus/pci/drivers_probe", "0000:3b:00.0");
    assert_driver(f, "0000:3b:00.0", "nvidia");
    write_ok(f, "bus/pci/drivers/vfio-pci/unbind", "0000:3b:00.1");
    assert_false(vfio_node(f, "20"));
    write_ok(f, "bus/pci/devices/0000:3b:00.1/driver_override", "\n");
    write_ok(f, "bus/pci/drivers_probe", "0000:3b:00.1");
    assert_driver(f, "0000:3b:00.1", "snd_hda_intel");
}

static void
test_bind_errors(void **state)
{
    Fixture *f = *state;

    write_fails(f, "bus/pci/drivers/vfio-pci/unbind", "0000:3b:00.0", ENODEV);
    write_fails(f, "bus/pci/drivers/nvidia/unbind", "0000:99:00.0", ENODEV);
    write_fails(f, "bus/pci/drivers/nvidia/bind", "0000:3b:00.0", EBUSY);
    write_fails(f, "bus/pci/drivers/nvidia/bind", "0000:99:00.0", ENODEV);
    write_fails(f, "bus/pci/drivers_probe", "0000:99:00.0", ENODEV);
    assert_driver(f, "0000:3b:00.0", "nvidia");

    /* vfio-pci matches nothing by itself; driver_override makes it match */
    write_fails(f, "bus/pci/drivers/vfio-pci/bind", "0000:5e:00.0", ENODEV);
    write_ok(f, "bus/pci/drivers_probe", "0000:5e:00.0"); /* no match, no error */
    assert_driver(f, "0000:5e:00.0", NULL);
    write_ok(f, "bus/pci/devices/0000:5e:00.0/driver_override", "vfio-pci");
    write_ok(f, "bus/pci/drivers/vfio-pci/bind", "0000:5e:00.0\n");
    assert_driver(f, "0000:5e:00.0", "vfio-pci");
    assert_true(vfio_node(f, "22"));

    /* with an override, no other driver matches */
    write_ok(f, "bus/pci/devices/0000:3b:00.1/driver_override", "vfio-pci");
    write_ok(f, "bus/pci/drivers/snd_hda_intel/unbind", "0000:3b:00.1");
    write_fails(f, "bus/pci/drivers/snd_hda_intel/bind", "0000:3b:00.1", ENODEV);

    /* an override naming a driver that is not loaded: probe finds nothing */
    write_ok(f, "bus/pci/devices/0000:3b:00.1/driver_override", "pci-stub");
    write_ok(f, "bus/pci/drivers_probe", "0000:3b:00.1");
    assert_driver(f, "0000:3b:00.1", NULL);

    /* vfio-pci's probe fails without an IOMMU group */
    write_ok(f, "bus/pci/devices/0000:d8:00.0/driver_override", "vfio-pci");
    write_ok(f, "bus/pci/drivers/nvidia/unbind", "0000:d8:00.0");
    write_fails(f, "bus/pci/drivers/vfio-pci/bind", "0000:d8:00.0", EINVAL);
    write_ok(f, "bus/pci/drivers_probe", "0000:d8:00.0");
    assert_driver(f, "0000:d8:00.0", NULL);
}

/* ------------------------------------------------------------------ */
/* NVIDIA SR-IOV vGPU                                                 */
/* ------------------------------------------------------------------ */

static void
plugin_busy(Fixture *f, const char *vf, gboolean busy)
{
    g_autofree char *dir = g_build_filename(f->root, ".fake-host", "plugin", NULL);
    g_autofree char *path = g_build_filename(dir, vf, NULL);

    g_mkdir_with_parents(dir, 0755);
    if (busy)
        assert_true(g_file_set_contents(path, "", 0, NULL));
    else
        assert_int_equal(unlink(path), 0);
}

#define HEADER_ONLY "ID    : vGPU Name\n"

/* Proprietary driver: the list is the GPU's, also on a VF that holds a
 * type; it shrinks on assignment, keeps one size; full: the header alone. */
static void
test_vgpu_homogeneous(void **state)
{
    Fixture *f = *state;
    g_autofree char *vf4 = vgpu_rel("0000:41:00.4");
    g_autofree char *vf5 = vgpu_rel("0000:41:00.5");

    for (guint i = 4; i <= 7; i++) {
        g_autofree char *vf = g_strdup_printf("0000:41:00.%u", i);
        assert_creatable(f, vf, ALL_L40S);
    }
    write_ok(f, vf4, "1161"); /* L40S-24Q */
    assert_raw(f, vf4, "1161\n");
    assert_creatable(f, "0000:41:00.4", "1161"); /* it keeps listing */
    assert_creatable(f, "0000:41:00.5", "1161");
    assert_creatable(f, "0000:41:00.6", "1161");
    assert_creatable(f, "0000:41:00.7", "1161");

    write_ok(f, vf5, "1161"); /* the 48 GB are taken */
    assert_raw(f, "bus/pci/devices/0000:41:00.6/nvidia/creatable_vgpu_types", HEADER_ONLY);
    assert_raw(f, "bus/pci/devices/0000:41:00.4/nvidia/creatable_vgpu_types", HEADER_ONLY);
    assert_creatable(f, "0000:41:00.7", "");

    write_ok(f, vf4, "0");
    assert_raw(f, vf4, "0\n");
    assert_creatable(f, "0000:41:00.4", "1161");
    assert_creatable(f, "0000:41:00.6", "1161");
    write_ok(f, vf5, "0");
    for (guint i = 4; i <= 7; i++) {
        g_autofree char *vf = g_strdup_printf("0000:41:00.%u", i);
        assert_creatable(f, vf, ALL_L40S);
    }
}

/* Proprietary driver's errnos: EINVAL not a number, EIO the resource
 * manager refuses, EPERM a type on a VF that holds one or 0 while a VM has
 * it (or on a VF without a type), EBUSY the plugin task still running. */
static void
test_vgpu_rejections(void **state)
{
    Fixture *f = *state;
    g_autofree char *vf4 = vgpu_rel("0000:41:00.4");
    g_autofree char *vf5 = vgpu_rel("0000:41:00.5");

    write_fails(f, vf4, "1161\n", EINVAL); /* the driver takes no newline */
    write_fails(f, vf4, "24Q", EINVAL);
    write_fails(f, vf4, "-1", EINVAL);
    write_fails(f, vf4, "9999", EIO);      /* not a type of this GPU */
    write_fails(f, vf4, "0", EPERM);       /* no type to reset */
    assert_raw(f, vf4, "0\n");
    assert_creatable(f, "0000:41:00.5", ALL_L40S);

    write_ok(f, vf4, "1159"); /* 8Q: the GPU now runs 8 GB types only */
    write_fails(f, vf5, "1161", EIO);      /* equal-size mode */
    write_fails(f, vf4, "1160", EPERM);    /* a type is set: reset it first */
    write_fails(f, vf4, "1159", EPERM);
    assert_raw(f, vf4, "1159\n");

    hold(f, "0000:41:00.4", TRUE);         /* a VM has the VF */
    write_fails(f, vf4, "0", EPERM);
    assert_raw(f, vf4, "1159\n");
    hold(f, "0000:41:00.4", FALSE);
    plugin_busy(f, "0000:41:00.4", TRUE);  /* QEMU gone, its plugin task not */
    write_fails(f, vf4, "0", EBUSY);
    plugin_busy(f, "0000:41:00.4", FALSE);
    write_ok(f, vf4, "0");
    assert_raw(f, vf4, "0\n");
}

/* Upstream RFC v2: EBUSY open or holding, ENODEV unknown type, EINVAL
 * another size (equal-size mode), ENOSPC full; a VF holding a type lists
 * nothing at all. */
static void
test_vgpu_upstream(void **state)
{
    Fixture *f = *state;
    g_autofree char *vf4 = vgpu_rel("0000:42:00.4");
    g_autofree char *vf5 = vgpu_rel("0000:42:00.5");
    g_autofree char *vf6 = vgpu_rel("0000:42:00.6");

    assert_creatable(f, "0000:42:00.4", ALL_L40S);
    write_fails(f, vf4, "1161\n", EINVAL);
    write_fails(f, vf4, "9999", ENODEV);
    write_ok(f, vf4, "0");                 /* nothing to reset: no error */
    write_ok(f, vf4, "1161");
    assert_raw(f, "bus/pci/devices/0000:42:00.4/nvidia/creatable_vgpu_types", "");
    assert_creatable(f, "0000:42:00.5", "1161");
    write_fails(f, vf5, "1160", EINVAL);   /* 12Q beside a 24Q */
    write_fails(f, vf4, "1160", EBUSY);    /* holds a type */
    write_ok(f, vf5, "1161");
    write_fails(f, vf6, "1161", ENOSPC);   /* 48 GB taken */
    hold(f, "0000:42:00.5", TRUE);
    write_fails(f, vf5, "0", EBUSY);
    hold(f, "0000:42:00.5", FALSE);
    write_ok(f, vf5, "0");
    write_ok(f, vf4, "0");
    assert_creatable(f, "0000:42:00.4", ALL_L40S);
}

/* Mixed-size mode: sizes side by side in placement slots; the mode cannot
 * change while a VF holds a type. */
static void
test_vgpu_mixed(void **state)
{
    Fixture *f = *state;
    g_autofree char *vf4 = vgpu_rel("0000:43:00.4");
    g_autofree char *vf5 = vgpu_rel("0000:43:00.5");
    g_autoptr(GError) error = NULL;

    assert_true(fake_host_nvidia_is_mixed(f->root, "0000:43:00.0"));
    write_ok(f, vf4, "1161");              /* 24Q */
    write_ok(f, vf5, "1160");              /* 12Q beside it */
    assert_creatable(f, "0000:43:00.6", "1155,1156,1157,1158,1159,1160");
    assert_false(fake_host_nvidia_set_mixed(f->root, "0000:43:00.0", FALSE, &error));
    assert_non_null(strstr(error->message, "In use"));
    g_clear_error(&error);
    write_ok(f, vf4, "0");
    write_ok(f, vf5, "0");
    assert_true(fake_host_nvidia_set_mixed(f->root, "0000:43:00.0", FALSE, &error));
    assert_false(fake_host_nvidia_is_mixed(f->root, "0000:43:00.0"));
    write_ok(f, vf4, "1161");
    write_fails(f, vf5, "1160", EIO);      /* equal-size now */
}

/* A newer driver's per-VF gpu_instance_id: set when a type is written (the
 * simulated driver takes the highest free instance id), kept while the VF
 * holds it, empty (ENXIO) after release; two 1-9C share an instance. A
 * MIG-backed type no instance takes is not creatable, and its write fails
 * (EIO, the resource manager's refusal). */
static void
test_vgpu_gpu_instance_id(void **state)
{
    Fixture *f = *state;
    g_autofree char *nvml = sim_nvml_state_path(f->root);
#define GI_REL(fn) "bus/pci/devices/0000:44:00." fn "/nvidia/gpu_instance_id"
    const char *gi4 = GI_REL("4"), *gi5 = GI_REL("5"), *gi6 = GI_REL("6"), *gi7 = GI_REL("7");
    g_autofree char *vf4 = vgpu_rel("0000:44:00.4"), *vf5 = vgpu_rel("0000:44:00.5");
    g_autofree char *vf6 = vgpu_rel("0000:44:00.6"), *vf7 = vgpu_rel("0000:44:00.7");

    assert_raw(f, gi4, "");
    /* No instance yet: nothing MIG-backed is creatable. */
    write_fails(f, vf4, "1072", EIO);
    assert_true(g_file_set_contents(nvml, "[gpu 0000:44:00.0]\nmodel=H200\nmig=1\n"
                                    "instances=1:19:0:1;2:19:1:1\n", -1, NULL));
    write_ok(f, vf4, "1072");
    assert_raw(f, gi4, "2\n");
    write_ok(f, vf5, "1071");
    assert_raw(f, gi5, "1\n");
    assert_creatable(f, "0000:44:00.6", "1071");
    write_ok(f, vf6, "1071");
    assert_raw(f, gi6, "1\n");
    assert_creatable(f, "0000:44:00.7", "");
    write_fails(f, vf7, "1072", EIO);
    assert_raw(f, gi7, "");
    write_ok(f, vf4, "0");
    assert_raw(f, gi4, "");
    assert_raw(f, gi5, "1\n");
    write_ok(f, vf7, "1072");
    assert_raw(f, gi7, "2\n");
}

/* A rejected store leaves the attribute as it was, also while the fd is open
 * (O_TRUNC is ignored), and data written past write() fails at close(). */
static void
test_rejected_write_keeps_old_content(void **state)
{
    Fixture *f = *state;
    g_autofree char *rel = vgpu_rel("0000:41:00.6");
    g_autofree char *path = g_build_filename(f->root, rel, NULL);
    int fd;

    write_ok(f, rel, "1161");
    fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_raw(f, rel, "1161\n");
    errno = 0;
    assert_int_equal(write(fd, "0\n", 2), -1);
    assert_int_equal(errno, EINVAL);
    assert_raw(f, rel, "1161\n");
    assert_int_equal(write(fd, "0", 1), 1); /* a second store on the same fd */
    assert_raw(f, rel, "0\n");
    assert_int_equal(close(fd), 0);
    assert_creatable(f, "0000:41:00.6", ALL_L40S);

    /* writev() is one store as well */
    fd = open(path, O_WRONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    {
        struct iovec parts[] = { { (void *)"11", 2 }, { (void *)"61", 2 } };
        assert_int_equal(writev(fd, parts, 2), 4);
    }
    assert_int_equal(close(fd), 0);
    assert_raw(f, rel, "1161\n");
    assert_creatable(f, "0000:41:00.7", "1161");

    /* a raw syscall bypasses write(): the store happens at close() */
    fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(syscall(SYS_write, fd, "7", 1), 1);
    errno = 0;
    assert_int_equal(close(fd), -1);
    assert_int_equal(errno, EINVAL);       /* "7161\n": not a plain number */
    assert_raw(f, rel, "1161\n");
}

/* Shell scripts get the same kernel: redirections move the fd with dup2(). */
static void
test_shell_script(void **state)
{
    Fixture *f = *state;
    g_autofree char *script = g_strdup_printf(
        "set -e; cd '%s'; echo vfio-pci > bus/pci/devices/0000:3b:00.0/driver_override; "
        "echo 0000:3b:00.0 > bus/pci/drivers/nvidia/unbind; "
        "echo 0000:3b:00.0 > bus/pci/drivers_probe; "
        "exec 3> bus/pci/devices/0000:41:00.4/nvidia/current_vgpu_type; printf 1161 >&3; "
        "exec 3>&-", f->root);
    g_autofree char *bad = g_strdup_printf(
        "echo 1161 > '%s/bus/pci/devices/0000:41:00.5/nvidia/current_vgpu_type'", f->root);
    const char *argv[] = { "/bin/sh", "-c", script, NULL };
    g_autoptr(GError) error = NULL;
    g_autofree char *err_text = NULL;
    int status;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, NULL,
                      &err_text, &status, &error))
        fail_msg("sh: %s", error->message);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("script failed: %s", err_text);
    assert_driver(f, "0000:3b:00.0", "vfio-pci");
    assert_true(vfio_node(f, "20"));
    assert_raw(f, "bus/pci/devices/0000:41:00.4/nvidia/current_vgpu_type", "1161\n");

    argv[2] = bad;
    g_clear_pointer(&err_text, g_free);
    assert_true(g_spawn_sync(NULL, (char **)argv, NULL, 0, NULL, NULL, NULL,
                             &err_text, &status, NULL));
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) != 0); /* echo adds "\n" */
    assert_raw(f, "bus/pci/devices/0000:41:00.5/nvidia/current_vgpu_type", "0\n");
}

/* ------------------------------------------------------------------ */
/* mdev                                                               */
/* ------------------------------------------------------------------ */

/* available_instances of the T4's 1Q, 2Q and 16Q types. */
static void
assert_available(Fixture *f, guint q1, guint q2, guint q16)
{
    g_autofree char *text = NULL;
    guint64 n[3];
    const char *types[] = { "nvidia-230", "nvidia-231", "nvidia-234" };

    for (guint i = 0; i < 3; i++) {
        g_autofree char *rel = g_strdup_printf(T4_TYPES "/%s/available_instances", types[i]);
        g_autofree char *value = raw(f, rel);
        assert_non_null(value);
        assert_true(g_str_has_suffix(value, "\n"));
        n[i] = g_ascii_strtoull(value, NULL, 10);
    }
    text = g_strdup_printf("%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT "/%" G_GUINT64_FORMAT,
                           n[0], n[1], n[2]);
    if (n[0] != q1 || n[1] != q2 || n[2] != q16)
        fail_msg("available 1Q/2Q/16Q: %s, expected %u/%u/%u", text, q1, q2, q16);
}

static void
test_mdev_create_remove(void **state)
{
    Fixture *f = *state;
    g_autofree char *type = NULL, *group = NULL, *name = NULL;

    assert_available(f, 16, 8, 1);
    write_ok(f, T4_TYPES "/nvidia-230/create", UUID1);
    assert_available(f, 15, 0, 0); /* one type per GPU */

    assert_true(vh_sysfs_is_dir(f->sysfs, "bus/mdev/devices/" UUID1));
    assert_true(exists(f->root, "devices/pci0000:00/0000:af:00.0/" UUID1 "/remove"));
    assert_true(vh_sysfs_is_dir(f->sysfs, T4_TYPES "/nvidia-230/devices/" UUID1));
    type = vh_sysfs_read_link_name(f->sysfs, "bus/mdev/devices/" UUID1 "/mdev_type", NULL);
    assert_string_equal(type, "nvidia-230");
    name = vh_sysfs_read_string(f->sysfs, "bus/mdev/devices/" UUID1 "/mdev_type/name", NULL);
    assert_string_equal(name, "GRID T4-1Q");
    group = vh_sysfs_read_link_name(f->sysfs, "bus/mdev/devices/" UUID1 "/iommu_group", NULL);
    assert_string_equal(group, "51"); /* the next free group number */
    assert_true(exists(f->root, "kernel/iommu_groups/51/devices/" UUID1));
    assert_true(vfio_node(f, "51"));

    write_ok(f, T4_TYPES "/nvidia-230/create", UUID2 "\n");
    assert_available(f, 14, 0, 0);
    assert_true(vfio_node(f, "52"));

    write_ok(f, "bus/mdev/devices/" UUID1 "/remove", "1");
    assert_false(exists(f->root, "bus/mdev/devices/" UUID1));
    assert_false(exists(f->root, "devices/pci0000:00/0000:af:00.0/" UUID1));
    assert_false(exists(f->root, T4_TYPES "/nvidia-230/devices/" UUID1));
    assert_false(exists(f->root, "kernel/iommu_groups/51"));
    assert_false(vfio_node(f, "51"));
    assert_available(f, 15, 0, 0);
    write_ok(f, "bus/mdev/devices/" UUID2 "/remove", "1\n");
    assert_available(f, 16, 8, 1);
}

static void
test_mdev_errors(void **state)
{
    Fixture *f = *state;

    write_fails(f, T4_TYPES "/nvidia-230/create", "not-a-uuid", EINVAL);
    write_fails(f, T4_TYPES "/nvidia-230/create", "0b9e5ac4-3d35-4b4c-9c63-6b0b0c8a2b1x",
                EINVAL);
    write_fails(f, T4_TYPES "/nvidia-230/create", UUID1 "\n\n", EINVAL);
    assert_available(f, 16, 8, 1);

    write_ok(f, T4_TYPES "/nvidia-234/create", UUID1);
    assert_available(f, 0, 0, 0);
    write_fails(f, T4_TYPES "/nvidia-234/create", UUID2, EUSERS);
    write_fails(f, T4_TYPES "/nvidia-230/create", UUID2, EUSERS);
    write_fails(f, T4_TYPES "/nvidia-234/create", UUID1, EEXIST);
    /* UUIDs compare without case; the device is named in lower case */
    write_fails(f, T4_TYPES "/nvidia-230/create",
                "0B9E5AC4-3D35-4B4C-9C63-6B0B0C8A2B11", EEXIST);

    hold(f, UUID1, TRUE);
    write_fails(f, "bus/mdev/devices/" UUID1 "/remove", "1", EBUSY);
    hold(f, UUID1, FALSE);
    write_fails(f, "bus/mdev/devices/" UUID1 "/remove", "yes", EINVAL);
    write_ok(f, "bus/mdev/devices/" UUID1 "/remove", "0"); /* does nothing */
    assert_true(exists(f->root, "bus/mdev/devices/" UUID1));
    write_ok(f, "bus/mdev/devices/" UUID1 "/remove", "1");
    assert_available(f, 16, 8, 1);
    write_ok(f, T4_TYPES "/nvidia-230/create",
             "6F1B8E4A-58A2-4C6E-B0A5-7D0C2C7F9E01");
    assert_true(exists(f->root, "bus/mdev/devices/" UUID2));
}

/* ------------------------------------------------------------------ */
/* What the library leaves alone                                      */
/* ------------------------------------------------------------------ */

static void
test_outside_root_untouched(void **state)
{
    Fixture *f = *state;
    g_autofree char *other = g_build_filename(f->tmp, "other", NULL);
    g_autofree char *dev_dir = g_build_filename(other, "0000:3b:00.0", NULL);
    g_autofree char *attr = g_build_filename(dev_dir, "driver_override", NULL);
    g_autoptr(VhSysfs) elsewhere = vh_sysfs_new(other);
    g_autofree char *text = NULL;
    g_autofree char *rel = vgpu_rel("0000:41:00.4");

    assert_int_equal(g_mkdir_with_parents(dev_dir, 0755), 0);
    assert_true(g_file_set_contents(attr, "(null)\n", -1, NULL));
    assert_true(vh_sysfs_write(elsewhere, "0000:3b:00.0/driver_override", "vfio-pci", NULL));
    assert_true(g_file_get_contents(attr, &text, NULL, NULL));
    assert_string_equal(text, "vfio-pci"); /* a plain file write */

    g_unsetenv("VH_SIM_SYSFS_ROOT");
    write_ok(f, rel, "1161\n");
    assert_raw(f, rel, "1161\n");
}

/* VH_SIM_WRITE_LOG: every store (data and errno) and every change to the
 * file system outside the tree too, with absolute paths; nothing when unset. */
static void
test_write_log(void **state)
{
    Fixture *f = *state;
    g_autofree char *log = g_build_filename(f->tmp, "write.log", NULL);
    g_autofree char *dir = g_build_filename(f->tmp, "made", NULL);
    g_autofree char *file = g_build_filename(dir, "file", NULL);
    g_autofree char *moved = g_build_filename(dir, "moved", NULL);
    g_autofree char *rel = vgpu_rel("0000:41:00.4");
    g_autofree char *text = NULL, *expect = NULL;
    g_autofree char *vf = g_build_filename(f->root, "bus/pci/devices/0000:41:00.4", NULL);
    g_autofree char *vf_real = realpath(vf, NULL);

    g_setenv("VH_SIM_WRITE_LOG", log, TRUE);
    write_ok(f, rel, "1161");
    write_fails(f, rel, "nope", EINVAL);
    assert_int_equal(g_mkdir(dir, 0755), 0);
    assert_true(g_file_set_contents(file, "x", -1, NULL)); /* temporary file, rename */
    assert_int_equal(g_rename(file, moved), 0);
    assert_int_equal(g_unlink(moved), 0);
    g_unsetenv("VH_SIM_WRITE_LOG");
    assert_int_equal(g_rmdir(dir), 0); /* not logged */

    assert_true(g_file_get_contents(log, &text, NULL, NULL));
    expect = g_strdup_printf("store\t%s/nvidia/current_vgpu_type\t1161\t0\n", vf_real);
    assert_non_null(strstr(text, expect));
    g_free(expect);
    expect = g_strdup_printf("store\t%s/nvidia/current_vgpu_type\tnope\t%d\n", vf_real, EINVAL);
    assert_non_null(strstr(text, expect));
    g_free(expect);
    expect = g_strdup_printf("mkdir\t%s\n", dir);
    assert_non_null(strstr(text, expect));
    g_free(expect);
    expect = g_strdup_printf("rename\t%s\t%s\n", file, moved);
    assert_non_null(strstr(text, expect));
    g_free(expect);
    expect = g_strdup_printf("unlink\t%s\n", moved);
    assert_non_null(strstr(text, expect));
    assert_null(strstr(text, "rmdir"));
}

/* ------------------------------------------------------------------ */
/* Running with the library preloaded                                 */
/* ------------------------------------------------------------------ */

int
main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_driver_override, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_group_to_vfio, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bind_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vgpu_homogeneous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vgpu_rejections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vgpu_upstream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vgpu_mixed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vgpu_gpu_instance_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rejected_write_keeps_old_content, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_shell_script, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mdev_create_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mdev_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outside_root_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_log, setup, teardown),
    };

    test_sim_preload(argv, "test-sim-kernel");
    return cmocka_run_group_tests(tests, NULL, NULL);
}

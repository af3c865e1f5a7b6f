/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-sysfs: file access under a root, path safety, attribute parsing. */
#include "test-common.h"

#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    char *dir;
    VhSysfs *sysfs;
} Fixture;

static int
setup(void **state)
{
    Fixture *fx = g_new0(Fixture, 1);

    fx->dir = test_tmpdir_new();
    fx->sysfs = vh_sysfs_new(fx->dir);
    *state = fx;
    return 0;
}

static int
teardown(void **state)
{
    Fixture *fx = *state;

    vh_sysfs_unref(fx->sysfs);
    test_rm_rf(fx->dir);
    g_free(fx->dir);
    g_free(fx);
    return 0;
}

static void
put(Fixture *fx, const char *rel, const char *contents)
{
    g_autofree char *path = g_build_filename(fx->dir, rel, NULL);

    test_write_file(path, contents);
}

static char *
get(Fixture *fx, const char *rel)
{
    g_autofree char *path = g_build_filename(fx->dir, rel, NULL);
    char *contents = NULL;

    assert_true(g_file_get_contents(path, &contents, NULL, NULL));
    return contents;
}

static void
link_to(Fixture *fx, const char *rel, const char *target)
{
    g_autofree char *path = g_build_filename(fx->dir, rel, NULL);
    g_autofree char *dir = g_path_get_dirname(path);

    assert_int_equal(g_mkdir_with_parents(dir, 0755), 0);
    assert_int_equal(symlink(target, path), 0);
}

static void
test_root(void **state)
{
    g_autoptr(VhSysfs) def = vh_sysfs_new(NULL);
    g_autoptr(VhSysfs) empty = vh_sysfs_new("");
    g_autoptr(VhSysfs) slashes = vh_sysfs_new("/tmp/fake///");
    g_autoptr(VhSysfs) root = vh_sysfs_new("/");
    VhSysfs *ref = vh_sysfs_ref(slashes);
    g_autofree char *path = NULL;

    assert_string_equal(vh_sysfs_get_root(def), "/sys");
    assert_string_equal(vh_sysfs_get_root(empty), "/sys");
    assert_string_equal(vh_sysfs_get_root(slashes), "/tmp/fake");
    assert_string_equal(vh_sysfs_get_root(root), "/");
    assert_ptr_equal(ref, slashes);
    vh_sysfs_unref(ref); /* the g_autoptr drops the other reference */
    path = vh_sysfs_path(slashes, "bus/pci/devices", NULL);
    assert_string_equal(path, "/tmp/fake/bus/pci/devices");
    g_free(path);
    path = vh_sysfs_path(root, "bus/pci/devices", NULL);
    assert_string_equal(path, "/bus/pci/devices");
    g_free(path);
    /* dots inside names are names */
    path = vh_sysfs_path(slashes, ".a/.../b..", NULL);
    assert_string_equal(path, "/tmp/fake/.a/.../b..");
    /* past PATH_MAX: joined whole all the same, and a read fails cleanly */
    {
        g_autoptr(GError) error = NULL;
        g_autofree char *name = g_strnfill(200, 'n');
        g_autoptr(GPtrArray) parts = g_ptr_array_new();
        g_autofree char *rel = NULL;
        g_autofree char *want = NULL;
        g_autofree char *got = NULL;
        for (guint i = 0; i < 30; i++)
            g_ptr_array_add(parts, name);
        g_ptr_array_add(parts, NULL);
        rel = g_strjoinv("/", (char **)parts->pdata);
        want = g_strconcat("/tmp/fake/", rel, NULL);
        got = vh_sysfs_path(slashes, rel, NULL);
        assert_string_equal(got, want);
        assert_null(vh_sysfs_read_string(slashes, rel, &error));
        assert_vh_error(error, VH_ERROR_IO, "cannot read");
        assert_false(vh_sysfs_exists(slashes, rel));
    }
}

static void
test_unsafe_paths(void **state)
{
    Fixture *fx = *state;
    static const char *const bad[] = {
        "", "/etc/passwd", "..", "../etc", "bus/../../etc", "bus/pci/..", "./bus", "bus/./pci",
        "bus//pci", "bus/pci/",
    };

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) error = NULL;
        g_autofree char *path = vh_sysfs_path(fx->sysfs, bad[i], &error);
        g_autofree char *text = NULL;
        g_autofree char *quoted = g_strdup_printf("'%s'", bad[i]);

        assert_null(path);
        assert_vh_error(error, VH_ERROR_INVALID, "refusing unsafe sysfs path");
        assert_contains(error->message, quoted);
        g_clear_error(&error);
        text = vh_sysfs_read_string(fx->sysfs, bad[i], &error);
        assert_null(text);
        assert_vh_error(error, VH_ERROR_INVALID, "refusing unsafe sysfs path");
        g_clear_error(&error);
        assert_false(vh_sysfs_write(fx->sysfs, bad[i], "x", &error));
        assert_vh_error(error, VH_ERROR_INVALID, "refusing unsafe sysfs path");
        assert_false(vh_sysfs_exists(fx->sysfs, bad[i]));
        assert_false(vh_sysfs_is_dir(fx->sysfs, bad[i]));
    }
    {
        g_autoptr(GError) error = NULL;
        assert_null(vh_sysfs_path(fx->sysfs, NULL, &error));
        assert_vh_error(error, VH_ERROR_INVALID, "'(null)'");
    }
}

static void
test_read_string(void **state)
{
    Fixture *fx = *state;
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    g_autofree char *inner = NULL;
    g_autofree char *big = g_strnfill(300 * 1024, 'x');

    put(fx, "a/name", "GRID T4-1Q \n\n");
    text = vh_sysfs_read_string(fx->sysfs, "a/name", &error);
    assert_no_error(error);
    assert_string_equal(text, "GRID T4-1Q");
    put(fx, "a/inner", "  two\nlines\n");
    inner = vh_sysfs_read_string(fx->sysfs, "a/inner", &error);
    assert_string_equal(inner, "  two\nlines");

    assert_null(vh_sysfs_read_string(fx->sysfs, "a/missing", &error));
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "cannot read ");
    assert_contains(error->message, "a/missing");
    g_clear_error(&error);

    {
        g_autofree char *path = g_build_filename(fx->dir, "a/nul", NULL);
        assert_true(g_file_set_contents(path, "ab\0cd\n", 6, NULL));
        assert_null(vh_sysfs_read_string(fx->sysfs, "a/nul", &error));
        assert_vh_error(error, VH_ERROR_IO, "contains a NUL byte");
        g_clear_error(&error);
    }
    /* past the first (stack) buffer but under the limit: read whole */
    {
        g_autofree char *long_text = g_strnfill(100 * 1024 + 7, 'y');
        g_autofree char *back = NULL;
        g_autofree char *limit = g_strnfill(256 * 1024, 'z');
        /* at the edge of the first page, and empty */
        static const gsize sizes[] = { 0, 1, 4095, 4096, 4097, 8192, 8193 };
        for (guint i = 0; i < G_N_ELEMENTS(sizes); i++) {
            g_autofree char *edge = g_strnfill(sizes[i], 'e');
            g_autofree char *edge_back = NULL;
            put(fx, "a/edge", edge);
            edge_back = vh_sysfs_read_string(fx->sysfs, "a/edge", &error);
            assert_no_error(error);
            assert_string_equal(edge_back, edge);
        }
        put(fx, "a/long", long_text);
        back = vh_sysfs_read_string(fx->sysfs, "a/long", &error);
        assert_no_error(error);
        assert_string_equal(back, long_text);
        /* the limit itself is too large already */
        put(fx, "a/limit", limit);
        assert_null(vh_sysfs_read_string(fx->sysfs, "a/limit", &error));
        assert_vh_error(error, VH_ERROR_IO, "not a sysfs attribute");
        g_clear_error(&error);
    }
    put(fx, "a/big", big);
    assert_null(vh_sysfs_read_string(fx->sysfs, "a/big", &error));
    assert_vh_error(error, VH_ERROR_IO, "not a sysfs attribute");
    g_clear_error(&error);
    /* a FIFO, /dev/zero and a symlink never block, never read unbounded */
    {
        g_autofree char *fifo = g_build_filename(fx->dir, "a/fifo", NULL);
        g_autofree char *zero = g_build_filename(fx->dir, "a/zero", NULL);
        g_autofree char *link = g_build_filename(fx->dir, "a/link", NULL);
        assert_int_equal(mkfifo(fifo, 0600), 0);
        assert_int_equal(symlink("/dev/zero", zero), 0);
        assert_int_equal(symlink("name", link), 0);
        assert_null(vh_sysfs_read_string(fx->sysfs, "a/fifo", &error));
        assert_vh_error(error, VH_ERROR_IO, "not a regular file");
        g_clear_error(&error);
        assert_null(vh_sysfs_read_string(fx->sysfs, "a/zero", &error));
        assert_vh_error(error, VH_ERROR_IO, "it is a symbolic link");
        g_clear_error(&error);
        assert_null(vh_sysfs_read_string(fx->sysfs, "a/link", &error));
        assert_vh_error(error, VH_ERROR_IO, "it is a symbolic link");
        g_clear_error(&error);
        /* nor a write: a FIFO without a reader would block the open */
        assert_false(vh_sysfs_write(fx->sysfs, "a/fifo", "1", &error));
        assert_vh_error(error, VH_ERROR_IO, "a/fifo");
    }
}

static void
test_read_hex(void **state)
{
    Fixture *fx = *state;
    static const char *const bad[] = {
        "10de\n", "0x\n", "0xzz\n", "0x10de0x\n", "0x1 2\n", "0x-1\n", "0x 1\n",
        "0x123456789\n", "\n",
    };
    guint value = 0;
    g_autoptr(GError) error = NULL;

    put(fx, "d/vendor", "0x10de\n");
    assert_true(vh_sysfs_read_hex(fx->sysfs, "d/vendor", &value, &error));
    assert_int_equal(value, 0x10de);
    put(fx, "d/class", "0x030200\n");
    assert_true(vh_sysfs_read_hex(fx->sysfs, "d/class", &value, &error));
    assert_int_equal(value, 0x030200);
    put(fx, "d/upper", "0xABCD");
    assert_true(vh_sysfs_read_hex(fx->sysfs, "d/upper", &value, &error));
    assert_int_equal(value, 0xabcd);

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) local = NULL;
        value = 7;
        put(fx, "d/bad", bad[i]);
        if (vh_sysfs_read_hex(fx->sysfs, "d/bad", &value, &local))
            fail_msg("'%s' read as 0x%x", bad[i], value);
        assert_vh_error(local, VH_ERROR_IO, "expected a hex value like 0x10de");
        assert_contains(local->message, "d/bad");
        assert_int_equal(value, 7);
    }
    assert_false(vh_sysfs_read_hex(fx->sysfs, "d/missing", &value, &error));
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "d/missing");
}

static void
test_read_int(void **state)
{
    Fixture *fx = *state;
    static const char *const bad[] = { "abc\n", "1.5\n", "0x10\n", "3000000000\n", "\n", "1 2\n" };
    gint64 value = 0;
    g_autoptr(GError) error = NULL;

    put(fx, "d/numa_node", "-1\n");
    assert_true(vh_sysfs_read_int(fx->sysfs, "d/numa_node", &value, &error));
    assert_int_equal(value, -1);
    put(fx, "d/n", "1161");
    assert_true(vh_sysfs_read_int(fx->sysfs, "d/n", &value, &error));
    assert_int_equal(value, 1161);
    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autoptr(GError) local = NULL;
        put(fx, "d/bad", bad[i]);
        if (vh_sysfs_read_int(fx->sysfs, "d/bad", &value, &local))
            fail_msg("'%s' read as %" G_GINT64_FORMAT, bad[i], value);
        assert_vh_error(local, VH_ERROR_IO, "expected a decimal number");
    }
}

static void
test_read_link_name(void **state)
{
    Fixture *fx = *state;
    g_autoptr(GError) error = NULL;
    g_autofree char *driver = NULL;
    g_autofree char *group = NULL;

    link_to(fx, "dev/driver", "../../../bus/pci/drivers/vfio-pci");
    link_to(fx, "dev/iommu_group", "../../../kernel/iommu_groups/20");
    link_to(fx, "dev/odd", "../..");
    link_to(fx, "dev/slash", "/");
    driver = vh_sysfs_read_link_name(fx->sysfs, "dev/driver", &error);
    assert_no_error(error);
    assert_string_equal(driver, "vfio-pci");
    group = vh_sysfs_read_link_name(fx->sysfs, "dev/iommu_group", &error);
    assert_string_equal(group, "20");

    assert_null(vh_sysfs_read_link_name(fx->sysfs, "dev/missing", &error));
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "cannot read link");
    g_clear_error(&error);
    assert_null(vh_sysfs_read_link_name(fx->sysfs, "dev/odd", &error));
    assert_vh_error(error, VH_ERROR_IO, "odd target '../..'");
    g_clear_error(&error);
    assert_null(vh_sysfs_read_link_name(fx->sysfs, "dev/slash", &error));
    assert_vh_error(error, VH_ERROR_IO, "odd target '/'");
}

static void
test_list_dir(void **state)
{
    Fixture *fx = *state;
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) names = NULL;
    g_autoptr(GPtrArray) missing = NULL;

    put(fx, "devs/0000:86:00.0", "");
    put(fx, "devs/0000:3b:00.1", "");
    put(fx, "devs/0000:3b:00.0", "");
    names = vh_sysfs_list_dir(fx->sysfs, "devs", &error);
    assert_no_error(error);
    assert_int_equal(names->len, 3);
    assert_string_equal(g_ptr_array_index(names, 0), "0000:3b:00.0");
    assert_string_equal(g_ptr_array_index(names, 1), "0000:3b:00.1");
    assert_string_equal(g_ptr_array_index(names, 2), "0000:86:00.0");
    assert_true(vh_sysfs_is_dir(fx->sysfs, "devs"));
    assert_false(vh_sysfs_is_dir(fx->sysfs, "devs/0000:3b:00.0"));
    assert_true(vh_sysfs_exists(fx->sysfs, "devs/0000:3b:00.0"));
    assert_false(vh_sysfs_exists(fx->sysfs, "devs/0000:3b:00.2"));

    /* empty, and more names than a device directory has */
    {
        g_autofree char *empty_dir = g_build_filename(fx->dir, "empty", NULL);
        g_autoptr(GPtrArray) none = NULL;
        g_autoptr(GPtrArray) many = NULL;
        assert_int_equal(g_mkdir(empty_dir, 0755), 0);
        none = vh_sysfs_list_dir(fx->sysfs, "empty", &error);
        assert_no_error(error);
        assert_int_equal(none->len, 0);
        for (guint i = 100; i > 0; i--) {
            g_autofree char *rel = g_strdup_printf("many/n%03u", (i * 37) % 100);
            put(fx, rel, "");
        }
        many = vh_sysfs_list_dir(fx->sysfs, "many", &error);
        assert_no_error(error);
        assert_int_equal(many->len, 100);
        for (guint i = 0; i < 100; i++) {
            g_autofree char *want = g_strdup_printf("n%03u", i);
            assert_string_equal(g_ptr_array_index(many, i), want);
        }
    }

    missing = vh_sysfs_list_dir(fx->sysfs, "nodir", &error);
    assert_null(missing);
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "cannot list ");
}

static void
test_write(void **state)
{
    Fixture *fx = *state;
    g_autoptr(GError) error = NULL;
    g_autofree char *written = NULL;
    g_autofree char *shorter = NULL;

    put(fx, "vf/nvidia/current_vgpu_type", "0\n");
    assert_true(vh_sysfs_write(fx->sysfs, "vf/nvidia/current_vgpu_type", "1161", &error));
    assert_no_error(error);
    /* The value alone: NVIDIA's driver rejects a trailing newline. */
    written = get(fx, "vf/nvidia/current_vgpu_type");
    assert_string_equal(written, "1161");
    assert_true(vh_sysfs_write(fx->sysfs, "vf/nvidia/current_vgpu_type", "0", &error));
    shorter = get(fx, "vf/nvidia/current_vgpu_type");
    assert_string_equal(shorter, "0");

    /* Never creates an attribute the kernel does not offer. */
    assert_false(vh_sysfs_write(fx->sysfs, "vf/nvidia/no_such_attr", "1", &error));
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "cannot open ");
    assert_contains(error->message, "no_such_attr for writing");
    assert_false(vh_sysfs_exists(fx->sysfs, "vf/nvidia/no_such_attr"));
}

/* Links in a hostile tree must not lead a write out of the root. */
static void
test_write_containment(void **state)
{
    Fixture *fx = *state;
    g_autofree char *outside = test_tmpdir_new();
    g_autofree char *victim = g_build_filename(outside, "victim", NULL);
    g_autoptr(GError) error = NULL;

    test_write_file(victim, "precious\n");
    link_to(fx, "bus/pci/devices/0000:3b:00.0", outside);
    assert_false(vh_sysfs_write(fx->sysfs, "bus/pci/devices/0000:3b:00.0/victim", "x", &error));
    assert_vh_error(error, VH_ERROR_INVALID, "outside the sysfs root");
    g_clear_error(&error);

    /* Nor does a link in place of the attribute itself. */
    link_to(fx, "dev/driver_override", victim);
    assert_false(vh_sysfs_write(fx->sysfs, "dev/driver_override", "x", &error));
    assert_vh_error(error, VH_ERROR_IO, "dev/driver_override for writing");
    {
        g_autofree char *contents = NULL;
        assert_true(g_file_get_contents(victim, &contents, NULL, NULL));
        assert_string_equal(contents, "precious\n");
    }
    test_rm_rf(outside);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_root),
        cmocka_unit_test_setup_teardown(test_unsafe_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_string, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_hex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_int, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_link_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_containment, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-attach: the libvirt-free parts of vgpuctl attach/detach (vh-attach):
 * the one-device document, the <hostdev> handed to libvirt, aliases, and the
 * <vgpu:devices> element rewritten for virDomainSetMetadata. */
#include "test-common.h"

#define UUID "00000000-0000-4000-8000-000000000001"

/* What libvirt's virDomainGetMetadata returns for our namespace. */
#define META_TWO                                                                   \
    "<vgpu:devices xmlns:vgpu=\"urn:vgpu-hook:1\">"                                \
    "<vgpu:device alias=\"ua-gpu0\" resource=\"nvidia.com/L40S-24Q\" numa=\"1\"/>" \
    "<vgpu:device alias=\"ua-gpu1\" resource=\"nvidia.com/GA102GL_A10\"/>"         \
    "</vgpu:devices>"

static VhDomain *
parse(const char *xml)
{
    g_autoptr(GError) error = NULL;
    VhDomain *domain = vh_domain_parse(xml, strlen(xml), &error);

    assert_no_error(error);
    return domain;
}

static void
test_domain_new(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VhDomain) one = vh_attach_domain_new("vm<1>", UUID, "ua-gpu3", "nvidia.com/L40S-24Q",
                                                   &error);
    g_autofree char *hostdev = NULL;
    VhDomainDevice *dev;

    (void)state;
    assert_no_error(error);
    assert_string_equal(one->name, "vm<1>");
    assert_string_equal(one->uuid, UUID);
    assert_int_equal(one->devices->len, 1);
    dev = g_ptr_array_index(one->devices, 0);
    assert_string_equal(dev->alias, "ua-gpu3");
    assert_non_null(dev->hostdev);
    assert_null(vh_attach_device_key(dev));
    vh_domain_device_set_pci(dev, "0000:41:00.4", FALSE);
    hostdev = vh_attach_hostdev_xml(dev);
    assert_true(g_str_has_prefix(hostdev, "<hostdev"));
    assert_contains(hostdev, "<alias name=\"ua-gpu3\"/>");
    assert_contains(hostdev, "bus=\"0x41\"");
    assert_contains(hostdev, "managed=\"no\"");
    assert_not_contains(hostdev, "vgpu:");
    g_autofree char *key = vh_attach_device_key(dev);
    assert_string_equal(key, "0000:41:00.4");

    /* a user alias only: the parser's rules hold */
    g_autoptr(VhDomain) bad = vh_attach_domain_new("vm1", UUID, "gpu0", "nvidia.com/L40S-24Q",
                                                   &error);
    assert_null(bad);
    assert_vh_error(error, VH_ERROR_INVALID, "is not a user alias");
}

static void
test_aliases(void **state)
{
    g_autoptr(VhDomain) live = parse(
        "<domain><name>vm1</name><uuid>" UUID "</uuid><metadata>" META_TWO "</metadata>"
        "<devices><disk type='file'><alias name='ua-gpu2'/></disk>"
        "<hostdev mode='subsystem' type='pci'><alias name='ua-gpu0'/></hostdev>"
        "<hostdev mode='subsystem' type='pci'><alias name='ua-gpu1'/></hostdev>"
        "</devices></domain>");
    g_autoptr(VhDomain) config = parse(
        "<domain><name>vm1</name><devices><interface type='network'><alias name='ua-gpu3'/>"
        "</interface></devices></domain>");
    VhDomain *both[] = { live, config, NULL };
    VhDomain *just_config[] = { config, NULL };
    g_autofree char *free_both = vh_attach_free_alias(both);
    g_autofree char *free_config = vh_attach_free_alias(just_config);

    (void)state;
    assert_true(vh_attach_alias_in_use(live, "ua-gpu0"));
    assert_true(vh_attach_alias_in_use(live, "ua-gpu2"));   /* any device's alias */
    assert_false(vh_attach_alias_in_use(live, "ua-gpu3"));
    assert_string_equal(free_both, "ua-gpu4");
    assert_string_equal(free_config, "ua-gpu0");
    assert_non_null(vh_attach_find_device(live, "ua-gpu1"));
    assert_null(vh_attach_find_device(live, "ua-gpu2"));
}

/* libvirt puts the element into the namespace; what we set carries none,
 * and keeps the other devices with all their attributes. */
static void
test_metadata_add(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *first = vh_attach_metadata_add(NULL, "ua-gpu0", "nvidia.com/L40S-24Q", &error);
    g_autofree char *third = NULL;
    g_autofree char *dup = NULL;

    (void)state;
    assert_no_error(error);
    assert_string_equal(first, "<devices><device alias=\"ua-gpu0\" "
                               "resource=\"nvidia.com/L40S-24Q\"/></devices>");
    third = vh_attach_metadata_add(META_TWO, "ua-gpu2", "nvidia.com/GRID_T4-1Q", &error);
    assert_no_error(error);
    assert_string_equal(third,
                        "<devices><device alias=\"ua-gpu0\" resource=\"nvidia.com/L40S-24Q\" "
                        "numa=\"1\"/><device alias=\"ua-gpu1\" "
                        "resource=\"nvidia.com/GA102GL_A10\"/><device alias=\"ua-gpu2\" "
                        "resource=\"nvidia.com/GRID_T4-1Q\"/></devices>");
    dup = vh_attach_metadata_add(META_TWO, "ua-gpu1", "nvidia.com/GA102GL_A10", &error);
    assert_null(dup);
    assert_vh_error(error, VH_ERROR_BUSY, "alias 'ua-gpu1' is named");
    g_clear_error(&error);
    assert_null(vh_attach_metadata_add("<vgpu:devices", "ua-x", "nvidia.com/X", &error));
    assert_vh_error(error, VH_ERROR_INVALID, "not well formed");
}

static void
test_metadata_remove(void **state)
{
    g_autoptr(GError) error = NULL;
    gboolean found = FALSE;
    g_autofree char *one = vh_attach_metadata_remove(META_TWO, "ua-gpu0", &found, &error);
    g_autofree char *none = NULL;
    g_autofree char *same = NULL;

    (void)state;
    assert_no_error(error);
    assert_true(found);
    assert_string_equal(one, "<devices><device alias=\"ua-gpu1\" "
                             "resource=\"nvidia.com/GA102GL_A10\"/></devices>");
    /* the last one gone: NULL, no error (the element is removed) */
    none = vh_attach_metadata_remove(one, "ua-gpu1", &found, &error);
    assert_no_error(error);
    assert_true(found);
    assert_null(none);
    same = vh_attach_metadata_remove(META_TWO, "ua-gpu9", &found, &error);
    assert_no_error(error);
    assert_false(found);
    assert_contains(same, "ua-gpu0");
    assert_contains(same, "ua-gpu1");
    assert_null(vh_attach_metadata_remove(NULL, "ua-gpu0", &found, &error));
    assert_no_error(error);
    assert_false(found);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_domain_new),
        cmocka_unit_test(test_aliases),
        cmocka_unit_test(test_metadata_add),
        cmocka_unit_test(test_metadata_remove),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

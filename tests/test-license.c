/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-license: the cloud-init seed of vgpuctl license (vh-license): the
 * FeatureType picked from a domain's resources on a fake host, and the
 * user-data and meta-data text. `cloud-init schema` on the output is checked
 * by tests/test-templates.sh and the real-libvirtd tier. */
#include "test-common.h"

#define TOKEN "eyJhbGciOiJSUzI1NiJ9.payload.signature\n"

static VhDomain *
domain_naming(const char *resource1, const char *resource2)
{
    g_autofree char *xml = g_strdup_printf(
        "<domain><name>vm1</name><metadata><vgpu:devices xmlns:vgpu='urn:vgpu-hook:1'>"
        "<vgpu:device alias='ua-gpu0' resource='%s'/>%s%s%s</vgpu:devices></metadata>"
        "<devices><hostdev mode='subsystem' type='pci'><alias name='ua-gpu0'/></hostdev>%s"
        "</devices></domain>", resource1,
        resource2 ? "<vgpu:device alias='ua-gpu1' resource='" : "", resource2 ? resource2 : "",
        resource2 ? "'/>" : "",
        resource2 ? "<hostdev mode='subsystem' type='pci'><alias name='ua-gpu1'/></hostdev>" : "");
    g_autoptr(GError) error = NULL;
    VhDomain *domain = vh_domain_parse(xml, strlen(xml), &error);

    assert_no_error(error);
    return domain;
}

static gint
picked(VhCatalog *catalog, const char *r1, const char *r2)
{
    g_autoptr(VhDomain) domain = domain_naming(r1, r2);
    g_autoptr(GError) error = NULL;
    gint feature = -1;

    assert_true(vh_license_pick_feature(catalog, domain, &feature, &error));
    assert_no_error(error);
    return feature;
}

static void
test_pick_feature(void **state)
{
    g_autofree char *ini = NULL;
    g_autoptr(TestEnv) env = NULL;
    g_autoptr(VhCatalog) catalog = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VhDomain) unknown = domain_naming("nvidia.com/NOPE", NULL);
    g_autoptr(VhDomain) none = NULL;
    gint feature = -1;

    (void)state;
    assert_true(g_file_get_contents(VH_TEST_SRCDIR "/demo/demo-host.ini", &ini, NULL, NULL));
    env = test_env_new(ini, NULL);
    assert_true(vh_host_scan(env->host, &error));
    catalog = vh_catalog_build(env->host, NULL, &error);
    assert_non_null(catalog);
    assert_int_equal(picked(catalog, "nvidia.com/L40S-24Q", NULL), 1);       /* SR-IOV vGPU */
    assert_int_equal(picked(catalog, "nvidia.com/GRID_T4-1Q", NULL), 1);     /* mdev */
    assert_int_equal(picked(catalog, "nvidia.com/GA102GL_A10", NULL), 2);    /* passthrough */
    assert_int_equal(picked(catalog, "nvidia.com/GA102GL_A10", "nvidia.com/L40S-24Q"), 1);
    assert_false(vh_license_pick_feature(catalog, unknown, &feature, &error));
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "give --feature-type");
    g_clear_error(&error);
    none = vh_domain_parse("<domain><name>vm2</name></domain>", 33, &error);
    assert_non_null(none);
    assert_false(vh_license_pick_feature(catalog, none, &feature, &error));
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "names no GPU");
    assert_int_equal(feature, -1);
}

static void
test_user_data(void **state)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *b64 = g_base64_encode((const guchar *)TOKEN, strlen(TOKEN));
    g_autofree char *text = vh_license_user_data("vm1", 4, TOKEN, strlen(TOKEN), &error);
    g_autofree char *line = g_strdup_printf("    content: %s\n", b64);

    (void)state;
    assert_no_error(error);
    assert_true(g_str_has_prefix(text, "#cloud-config\n"));
    assert_contains(text, "  - path: /etc/nvidia/ClientConfigToken/client_configuration_token.tok\n"
                          "    owner: root:root\n    permissions: '0744'\n    encoding: b64\n");
    assert_contains(text, line);
    assert_not_contains(text, "payload");  /* only base64 */
    assert_contains(text, "  - path: /etc/nvidia/gridd.conf\n");
    assert_contains(text, "      FeatureType=4\n");
    assert_contains(text, "Virtual Compute Server");
    assert_contains(text, "runcmd:\n  - [systemctl, restart, nvidia-gridd]\n");
}

static void
test_refusals(void **state)
{
    GError *error = NULL;
    g_autofree char *big = g_strnfill(VH_LICENSE_TOKEN_MAX + 1, 'a');

    (void)state;
    assert_false(vh_license_feature_is_valid(3));
    assert_true(vh_license_feature_is_valid(0));
    assert_null(vh_license_user_data("vm1", 3, TOKEN, strlen(TOKEN), &error));
    assert_vh_error(error, VH_ERROR_INVALID, "FeatureType 3 is not one of 0, 1, 2, 4");
    g_clear_error(&error);
    assert_null(vh_license_user_data("vm1", 1, " \n", 2, &error));
    assert_vh_error(error, VH_ERROR_INVALID, "the token file is empty");
    g_clear_error(&error);
    assert_null(vh_license_user_data("vm1", 1, big, strlen(big), &error));
    assert_vh_error(error, VH_ERROR_INVALID, "larger than 64 KiB");
    g_clear_error(&error);
    /* a binary file: refused without quoting it */
    assert_null(vh_license_user_data("vm1", 1, "abc\001secret", 10, &error));
    assert_vh_error(error, VH_ERROR_INVALID, "non-printable byte at offset 3");
    assert_not_contains(error->message, "secret");
    g_clear_error(&error);
}

/* A domain name never adds YAML of its own. */
static void
test_names(void **state)
{
    g_autofree char *meta = vh_license_meta_data("web\n1: x", "vgpu-1");
    g_autofree char *user = vh_license_user_data("a\nruncmd: [x]", 1, TOKEN, strlen(TOKEN), NULL);

    (void)state;
    assert_string_equal(meta, "instance-id: vgpu-1\nlocal-hostname: web-1--x\n");
    assert_contains(user, "for domain a-runcmd---x-,");
    assert_not_contains(user, "runcmd: [x]");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pick_feature),
        cmocka_unit_test(test_user_data),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-config: the configuration file, its defaults and every error, which
 * must name the file, the line and the key. */
#include "test-common.h"

#define CONF_PATH "/etc/vgpu-hook/test.conf"

static VhConfig *
load_ok(const char *text)
{
    g_autoptr(GError) error = NULL;
    VhConfig *config = vh_config_load_data(text, strlen(text), CONF_PATH, &error);

    if (config == NULL)
        fail_msg("rejected: %s", error->message);
    return config;
}

/* @text fails with a VH_ERROR_CONFIG message starting "CONF_PATH:@line: "
 * and containing @key_part (e.g. "key 'deny' in [host]") and @reason. */
static void
load_fails(const char *text, guint line, const char *key_part, const char *reason)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VhConfig) config = vh_config_load_data(text, strlen(text), CONF_PATH, &error);
    g_autofree char *where = g_strdup_printf(CONF_PATH ":%u: ", line);

    if (config != NULL)
        fail_msg("accepted:\n%s", text);
    assert_vh_error(error, VH_ERROR_CONFIG, where);
    if (!g_str_has_prefix(error->message, where))
        fail_msg("\"%s\" does not start with \"%s\"", error->message, where);
    if (key_part)
        assert_contains(error->message, key_part);
    assert_contains(error->message, reason);
}

static const char good_conf[] =
    "# vgpu-hook test configuration\n"              /* 1 */
    "[host]\n"                                      /* 2 */
    "sysfs_root=/srv/fake/sys\n"                    /* 3 */
    "state_dir=/run/vh-test\n"                      /* 4 */
    "pci_ids=/usr/share/misc/pci.ids\n"             /* 5 */
    "use_hwdb=false\n"                              /* 6 */
    "deny=0000:03:00.0;0000:3B:00.1\n"              /* 7 */
    "vfio_dir=/dev/vfio-test\n"                     /* 8 */
    "libvirt_run_dir=/run/libvirt/qemu-test\n"      /* 9 */
    "allocation=spread\n"                           /* 10 */
    "release_driver=vfio-pci\n"                     /* 11 */
    "lease_grace_seconds=30\n"                      /* 12 */
    "\n"                                            /* 13 */
    "[resource \"nvidia.com/A10\"]\n"               /* 14 */
    "kind=passthrough\n"                            /* 15 */
    "selector=10de:2236\n"                          /* 16 */
    "subsystem=10de:1482\n"                         /* 17 */
    "address=0000:3b:00.0;0000:86:00.0\n"           /* 18 */
    "\n"                                            /* 19 */
    "[resource \"nvidia.com/L40S-24Q\"]\n"          /* 20 */
    "kind=sriov-vgpu\n"                             /* 21 */
    "selector=10DE:26B9\n"                          /* 22 */
    "profile=L40S-24Q\n"                            /* 23 */
    "\n"                                            /* 24 */
    "[resource \"nvidia.com/T4-1Q\"]\n"             /* 25 */
    "kind = mdev\n"                                 /* 26 */
    "selector=10de:1eb8\n"                          /* 27 */
    "profile=GRID T4-1Q\n";                         /* 28 */

static void
test_good_file(void **state)
{
    g_autoptr(VhConfig) config = load_ok(good_conf);
    const VhResourceDecl *a10, *l40s, *t4;

    assert_string_equal(config->path, CONF_PATH);
    assert_string_equal(config->sysfs_root, "/srv/fake/sys");
    assert_string_equal(config->state_dir, "/run/vh-test");
    assert_string_equal(config->pci_ids, "/usr/share/misc/pci.ids");
    assert_false(config->use_hwdb);
    assert_int_equal(g_strv_length(config->deny), 2);
    assert_string_equal(config->deny[0], "0000:03:00.0");
    assert_string_equal(config->deny[1], "0000:3b:00.1"); /* canonical */
    assert_string_equal(config->vfio_dir, "/dev/vfio-test");
    assert_string_equal(config->libvirt_run_dir, "/run/libvirt/qemu-test");
    assert_int_equal(config->allocation, VH_ALLOCATION_SPREAD);
    assert_false(config->release_restores_driver);
    assert_int_equal(config->lease_grace_seconds, 30);

    /* the profile a resource stands for: declared, else the name's */
    assert_null(vh_config_resource_profile(config, "nvidia.com/A10"));
    assert_string_equal(vh_config_resource_profile(config, "nvidia.com/T4-1Q"), "GRID T4-1Q");
    assert_string_equal(vh_config_resource_profile(config, "nvidia.com/L4-12Q"), "L4-12Q");

    assert_int_equal(config->resources->len, 3);
    a10 = g_ptr_array_index(config->resources, 0);
    assert_string_equal(a10->name, "nvidia.com/A10");
    assert_int_equal(a10->kind, VH_RESOURCE_KIND_PASSTHROUGH);
    assert_int_equal(a10->vendor, 0x10de);
    assert_int_equal(a10->device, 0x2236);
    assert_true(a10->has_subsystem);
    assert_int_equal(a10->subsystem_vendor, 0x10de);
    assert_int_equal(a10->subsystem_device, 0x1482);
    assert_int_equal(g_strv_length(a10->addresses), 2);
    assert_string_equal(a10->addresses[0], "0000:3b:00.0");
    assert_string_equal(a10->addresses[1], "0000:86:00.0");
    assert_null(a10->profile);

    l40s = g_ptr_array_index(config->resources, 1);
    assert_string_equal(l40s->name, "nvidia.com/L40S-24Q");
    assert_int_equal(l40s->kind, VH_RESOURCE_KIND_SRIOV_VGPU);
    assert_int_equal(l40s->vendor, 0x10de);
    assert_int_equal(l40s->device, 0x26b9);
    assert_false(l40s->has_subsystem);
    assert_null(l40s->addresses);
    assert_string_equal(l40s->profile, "L40S-24Q");

    t4 = g_ptr_array_index(config->resources, 2);
    assert_string_equal(t4->name, "nvidia.com/T4-1Q");
    assert_int_equal(t4->kind, VH_RESOURCE_KIND_MDEV);
    assert_int_equal(t4->device, 0x1eb8);
    assert_string_equal(t4->profile, "GRID T4-1Q");

    assert_true(vh_config_is_denied(config, "0000:03:00.0"));
    assert_true(vh_config_is_denied(config, "0000:3b:00.1"));
    assert_false(vh_config_is_denied(config, "0000:3b:00.0"));
}

static void
test_defaults(void **state)
{
    g_autoptr(VhConfig) def = vh_config_new_default();
    g_autoptr(VhConfig) empty = load_ok("");
    g_autoptr(VhConfig) host_only = load_ok("[host]\n");

    for (guint i = 0; i < 3; i++) {
        const VhConfig *c = i == 0 ? def : i == 1 ? empty : host_only;
        assert_string_equal(c->sysfs_root, "/sys");
        assert_string_equal(c->state_dir, VH_DEFAULT_STATE_DIR);
        assert_string_equal(c->vfio_dir, VH_DEFAULT_VFIO_DIR);
        assert_string_equal(c->libvirt_run_dir, VH_DEFAULT_LIBVIRT_RUN_DIR);
        assert_null(c->pci_ids);
        assert_true(c->use_hwdb);
        assert_non_null(c->deny);
        assert_int_equal(g_strv_length(c->deny), 0);
        assert_int_equal(c->allocation, VH_ALLOCATION_PACK);
        assert_true(c->release_restores_driver);
        assert_int_equal(c->lease_grace_seconds, 120);
        assert_int_equal(c->resources->len, 0);
        assert_false(vh_config_is_denied(c, "0000:03:00.0"));
    }
    assert_null(def->path);
    assert_string_equal(vh_resource_kind_to_string(VH_RESOURCE_KIND_PASSTHROUGH), "passthrough");
    assert_string_equal(vh_resource_kind_to_string(VH_RESOURCE_KIND_SRIOV_VGPU), "sriov-vgpu");
    assert_string_equal(vh_resource_kind_to_string(VH_RESOURCE_KIND_MDEV), "mdev");
}

static void
test_kind_from_string(void **state)
{
    VhResourceKind kind = VH_RESOURCE_KIND_MDEV;

    assert_true(vh_resource_kind_from_string("passthrough", &kind));
    assert_int_equal(kind, VH_RESOURCE_KIND_PASSTHROUGH);
    assert_true(vh_resource_kind_from_string("sriov-vgpu", &kind));
    assert_int_equal(kind, VH_RESOURCE_KIND_SRIOV_VGPU);
    assert_true(vh_resource_kind_from_string("mdev", &kind));
    assert_int_equal(kind, VH_RESOURCE_KIND_MDEV);
    assert_false(vh_resource_kind_from_string("vgpu", &kind));
    assert_false(vh_resource_kind_from_string("Passthrough", &kind));
    assert_false(vh_resource_kind_from_string(NULL, &kind));
    assert_int_equal(kind, VH_RESOURCE_KIND_MDEV);
}

static void
test_file(void **state)
{
    g_autoptr(TestEnv) env = test_env_new_empty();
    g_autofree char *path = g_build_filename(env->dir, "vgpu-hook.conf", NULL);
    g_autofree char *missing = g_build_filename(env->dir, "missing.conf", NULL);
    g_autoptr(GError) error = NULL;
    g_autoptr(VhConfig) config = NULL;
    g_autoptr(VhConfig) optional = NULL;
    g_autoptr(VhConfig) required = NULL;
    g_autoptr(VhConfig) bad = NULL;

    test_write_file(path, "[host]\nstate_dir=/run/x\n");
    config = vh_config_load_file(path, FALSE, &error);
    assert_no_error(error);
    assert_string_equal(config->path, path);
    assert_string_equal(config->state_dir, "/run/x");

    /* The default file may be missing; a named one may not. */
    optional = vh_config_load_file(missing, TRUE, &error);
    assert_no_error(error);
    assert_non_null(optional);
    assert_string_equal(optional->sysfs_root, "/sys");
    required = vh_config_load_file(missing, FALSE, &error);
    assert_null(required);
    assert_vh_error(error, VH_ERROR_CONFIG, "missing.conf");
    g_clear_error(&error);

    /* Errors from a file name it, with the line. */
    test_write_file(path, "[host]\n\nstate_dir=relative\n");
    bad = vh_config_load_file(path, TRUE, &error);
    assert_null(bad);
    assert_vh_error(error, VH_ERROR_CONFIG, "vgpu-hook.conf:3: key 'state_dir' in [host]");
}

static void
test_unknown_key(void **state)
{
    load_fails("[host]\n"
               "sysfs_root=/sys\n"
               "sysfs_rot=/sys\n",
               3, "key 'sysfs_rot' in [host]", "unknown key");
    load_fails("[host]\n"
               "sysfs_root=/sys\n"
               "\n"
               "[resource \"nvidia.com/A10\"]\n"
               "kind=passthrough\n"
               "selector=10de:2236\n"
               "profle=L40S-24Q\n",
               7, "key 'profle' in [resource \"nvidia.com/A10\"]", "unknown key");
    /* The message lists what is known. */
    load_fails("[host]\nuse_hwbd=true\n", 2, "key 'use_hwbd'", "use_hwdb");
}

static void
test_unknown_group(void **state)
{
    load_fails("[host]\n"
               "sysfs_root=/sys\n"
               "\n"
               "# a comment\n"
               "[hots]\n"
               "x=1\n",
               5, "[hots]", "unknown group");
    load_fails("[resource nvidia.com/A10]\nkind=passthrough\n", 1,
               "[resource nvidia.com/A10]", "unknown group");
    load_fails("[resource \"\"]\nkind=passthrough\n", 1, "[resource \"\"]", "unknown group");
}

static void
test_bad_resource_name(void **state)
{
    load_fails("[host]\n"
               "\n"
               "[resource \"NVIDIA/A10\"]\n"
               "kind=passthrough\n"
               "selector=10de:2236\n",
               3, "[resource \"NVIDIA/A10\"]", "'NVIDIA/A10' is not a resource name");
    load_fails("[resource \"nvidia.com/A 10\"]\n"
               "kind=passthrough\n"
               "selector=10de:2236\n",
               1, NULL, "'nvidia.com/A 10' is not a resource name");
}

static void
test_bad_selector(void **state)
{
    static const char *const bad[] = {
        "10de-2236", "10de:22366", "10de:223", "xyz", "10de:2236:1", "0x10de:2236",
        "10de:", ":2236", "10de:gggg", "",
    };

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *text = g_strdup_printf("[resource \"nvidia.com/A10\"]\n"
                                                "kind=passthrough\n"
                                                "# the selector:\n"
                                                "selector=%s\n",
                                                bad[i]);
        load_fails(text, 4, "key 'selector' in [resource \"nvidia.com/A10\"]",
                   "expected vendor:device in hex");
    }
    /* Missing selector: reported at the group. */
    load_fails("[host]\n"
               "[resource \"nvidia.com/A10\"]\n"
               "kind=passthrough\n",
               2, "key 'selector'", "expected vendor:device");
}

static void
test_bad_subsystem(void **state)
{
    load_fails("[resource \"nvidia.com/A10\"]\n"
               "kind=passthrough\n"
               "selector=10de:2236\n"
               "subsystem=10de\n",
               4, "key 'subsystem' in [resource \"nvidia.com/A10\"]",
               "expected vendor:device in hex, e.g. subsystem=10de:1482");
}

static void
test_bad_address(void **state)
{
    load_fails("[host]\n"
               "sysfs_root=/sys\n"
               "deny=0000:03:00.0;0000:3b:20.0\n",
               3, "key 'deny' in [host]", "'0000:3b:20.0' is not a PCI address");
    load_fails("[host]\n"
               "deny=../../etc\n",
               2, "key 'deny' in [host]", "'../../etc' is not a PCI address");
    load_fails("[resource \"nvidia.com/A10\"]\n"
               "kind=passthrough\n"
               "selector=10de:2236\n"
               "address=0000:3b:00.0;3b:00.0\n",
               4, "key 'address' in [resource \"nvidia.com/A10\"]",
               "'3b:00.0' is not a PCI address");
}

static void
test_duplicate_resource(void **state)
{
    load_fails("[resource \"nvidia.com/A10\"]\n"
               "kind=passthrough\n"
               "selector=10de:2236\n"
               "\n"
               "[resource \"nvidia.com/L40S-24Q\"]\n"
               "kind=sriov-vgpu\n"
               "selector=10de:26b9\n"
               "profile=L40S-24Q\n"
               "\n"
               "[resource \"nvidia.com/A10\"]\n"
               "kind=passthrough\n"
               "selector=10de:2237\n",
               10, "[resource \"nvidia.com/A10\"]", "lines 1 and 10");
    load_fails("[host]\nsysfs_root=/sys\n[host]\nstate_dir=/run/x\n", 3, "[host]", "twice");
}

static void
test_duplicate_key(void **state)
{
    load_fails("[resource \"nvidia.com/A10\"]\n"
               "kind=passthrough\n"
               "selector=10de:2236\n"
               "selector = 10de:2237\n",
               4, "key 'selector' in [resource \"nvidia.com/A10\"]", "set twice (lines 3 and 4)");
}

static void
test_missing_kind(void **state)
{
    load_fails("[host]\n"
               "sysfs_root=/sys\n"
               "\n"
               "[resource \"nvidia.com/A10\"]\n"
               "selector=10de:2236\n",
               4, "key 'kind' in [resource \"nvidia.com/A10\"]", "kind is required");
}

static void
test_bad_kind(void **state)
{
    load_fails("[resource \"nvidia.com/A10\"]\n"
               "selector=10de:2236\n"
               "kind=vgpu\n",
               3, "key 'kind' in [resource \"nvidia.com/A10\"]",
               "'vgpu' is not passthrough, sriov-vgpu or mdev");
}

static void
test_passthrough_with_profile(void **state)
{
    load_fails("[resource \"nvidia.com/A10\"]\n"
               "kind=passthrough\n"
               "selector=10de:2236\n"
               "profile=A10-24Q\n",
               4, "key 'profile' in [resource \"nvidia.com/A10\"]",
               "a passthrough resource has no profile");
}

static void
test_vgpu_without_profile(void **state)
{
    load_fails("[host]\n"
               "[resource \"nvidia.com/L40S-24Q\"]\n"
               "kind=sriov-vgpu\n"
               "selector=10de:26b9\n",
               2, "key 'profile' in [resource \"nvidia.com/L40S-24Q\"]",
               "kind=sriov-vgpu needs profile=");
    load_fails("[resource \"nvidia.com/T4-1Q\"]\n"
               "kind=mdev\n"
               "selector=10de:1eb8\n"
               "profile=  \n",
               4, "key 'profile' in [resource \"nvidia.com/T4-1Q\"]",
               "kind=mdev needs profile=");
}

static void
test_bad_path(void **state)
{
    static const char *const keys[] = {
        "sysfs_root", "state_dir", "pci_ids", "vfio_dir", "libvirt_run_dir",
    };
    static const char *const values[] = { "run/vgpu-hook", "/run/../etc", "/run/..", "" };

    for (guint k = 0; k < G_N_ELEMENTS(keys); k++) {
        for (guint v = 0; v < G_N_ELEMENTS(values); v++) {
            g_autofree char *text = g_strdup_printf("[host]\nuse_hwdb=true\n%s=%s\n", keys[k],
                                                    values[v]);
            g_autofree char *key_part = g_strdup_printf("key '%s' in [host]", keys[k]);
            g_autofree char *reason = g_strdup_printf("'%s' is not an absolute path", values[v]);
            load_fails(text, 3, key_part, reason);
        }
    }
}

static void
test_bad_bool(void **state)
{
    load_fails("[host]\nsysfs_root=/sys\nuse_hwdb=yes\n", 3, "key 'use_hwdb' in [host]",
               "expected true or false");
    load_fails("[host]\nuse_hwdb=\n", 2, "key 'use_hwdb' in [host]", "expected true or false");
}

static void
test_bad_allocation(void **state)
{
    load_fails("[host]\n\n\nallocation=random\n", 4, "key 'allocation' in [host]",
               "'random' is neither pack nor spread");
    load_fails("[host]\nallocation=Pack\n", 2, "key 'allocation'", "neither pack nor spread");
}

static void
test_bad_release_driver(void **state)
{
    load_fails("[host]\nrelease_driver=nvidia\n", 2, "key 'release_driver' in [host]",
               "'nvidia' is neither restore nor vfio-pci");
}

static void
test_bad_lease_grace(void **state)
{
    static const char *const bad[] = { "-1", "86401", "abc", "1e3", "" };

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *text = g_strdup_printf("[host]\nlease_grace_seconds=%s\n", bad[i]);
        load_fails(text, 2, "key 'lease_grace_seconds' in [host]", "86400");
    }
}

static void
test_not_a_key_file(void **state)
{
    {
        g_autoptr(GError) error = NULL;
        const char *text = "[host\nsysfs_root=/sys\n";
        g_autoptr(VhConfig) config = vh_config_load_data(text, strlen(text), CONF_PATH, &error);

        assert_null(config);
        assert_vh_error(error, VH_ERROR_CONFIG, CONF_PATH ":1: not a key file");
    }
    {
        g_autoptr(GError) error = NULL;
        const char *text = "sysfs_root=/sys\n";
        g_autoptr(VhConfig) config = vh_config_load_data(text, strlen(text), NULL, &error);

        /* Without a path the message still says where it comes from. */
        assert_null(config);
        assert_vh_error(error, VH_ERROR_CONFIG, "(config):1: not a key file");
    }
    {
        /* a file that is not a configuration (--config /etc/shadow) is
         * never quoted: the line number says where */
        g_autoptr(GError) error = NULL;
        const char *text = "# x\n[host]\nroot:$6$s3cr3t:19000:0:99999:7:::\n";
        g_autoptr(VhConfig) config = vh_config_load_data(text, strlen(text), CONF_PATH, &error);

        assert_null(config);
        assert_vh_error(error, VH_ERROR_CONFIG, CONF_PATH ":3: not a key file");
        assert_null(strstr(error->message, "s3cr3t"));
    }
}

/* CRLF line ends (a file edited on Windows) parse and count lines alike. */
static void
test_crlf(void **state)
{
    g_autoptr(VhConfig) config = load_ok("[host]\r\nstate_dir=/run/x\r\nuse_hwdb=false\r\n");

    assert_string_equal(config->state_dir, "/run/x");
    assert_false(config->use_hwdb);
    load_fails("[host]\r\nstate_dir=/run/x\r\nallocation=bogus\r\n", 3,
               "key 'allocation' in [host]", "'bogus' is neither pack nor spread");
}

static void
test_gpu_section(void **state)
{
    g_autoptr(VhConfig) config = load_ok("[host]\ncache_dir=/var/tmp/c\nsriov_manage=/opt/sm\n"
                                         "[gpu \"0000:41:00.0\"]\nvfs=enabled\nvgpu_mode=mixed\n"
                                         "[gpu \"0000:42:00.0\"]\n");

    assert_string_equal(config->cache_dir, "/var/tmp/c");
    assert_string_equal(config->sriov_manage, "/opt/sm");
    assert_int_equal(config->gpus->len, 2);
    assert_true(vh_config_gpu(config, "0000:41:00.0")->enable_vfs);
    assert_int_equal(vh_config_gpu_mode(config, "0000:41:00.0"), VH_VGPU_MODE_MIXED);
    assert_false(vh_config_gpu(config, "0000:42:00.0")->enable_vfs);
    assert_int_equal(vh_config_gpu_mode(config, "0000:42:00.0"), VH_VGPU_MODE_EQUAL);
    assert_int_equal(vh_config_gpu_mode(config, "0000:43:00.0"), VH_VGPU_MODE_EQUAL);
    load_fails("[gpu \"0000:41:00.0\"]\nvgpu_mode=hetero\n", 2, "vgpu_mode",
               "neither equal nor mixed");
    load_fails("[gpu \"0000:41:00.0\"]\nvfs=yes\n", 2, "vfs", "neither enabled nor disabled");
    load_fails("[gpu \"41:00\"]\nvfs=enabled\n", 1, "gpu", "not a PCI address");
    load_fails("[gpu \"0000:41:00.0\"]\nmig=on\n", 2, "mig", "neither on-demand nor");
    load_fails("[gpu \"0000:41:00.0\"]\nvfs=enabled\nmig = 1g.18gb*4,3g.71gb*9\n", 3,
               "key 'mig' in [gpu \"0000:41:00.0\"]", "'3g.71gb*9' is not PROFILE[*COUNT]");
    load_fails("[gpu \"0000:41:00.0\"]\nmig = 1g.18gb,,3g.71gb\n", 2, "mig", "PROFILE");
}

/* mig = a layout (checked for form here, against the GPU by setup) or
 * on-demand; the origin names file, line and key for setup's errors. */
static void
test_gpu_mig(void **state)
{
    g_autoptr(VhConfig) config = load_ok("[gpu \"0000:41:00.0\"]\nvfs=enabled\n"
                                         "mig = 1g.18gb*4, 3g.71gb\n"
                                         "[gpu \"0000:42:00.0\"]\nmig=on-demand\n"
                                         "[gpu \"0000:43:00.0\"]\nvfs=enabled\n");
    const VhGpuDecl *layout = vh_config_gpu(config, "0000:41:00.0");
    const VhGpuDecl *demand = vh_config_gpu(config, "0000:42:00.0");

    (void)state;
    assert_string_equal(layout->mig_layout, "1g.18gb*4, 3g.71gb");
    assert_false(layout->mig_on_demand);
    assert_non_null(strstr(layout->mig_origin, ":3: key 'mig' in [gpu \"0000:41:00.0\"]"));
    assert_null(demand->mig_layout);
    assert_true(demand->mig_on_demand);
    assert_true(vh_config_gpu_mig_on_demand(config, "0000:42:00.0"));
    assert_false(vh_config_gpu_mig_on_demand(config, "0000:41:00.0"));
    assert_false(vh_config_gpu_mig_on_demand(config, "0000:43:00.0"));
    assert_null(vh_config_gpu(config, "0000:43:00.0")->mig_origin);
}

/* Keys in GKeyFile's locale syntax are unknown keys (GKeyFile would drop
 * them silently: deny[0]= would deny nothing). */
static void
test_locale_key(void **state)
{
    load_fails("[host]\nstate_dir=/run/x\ndeny[0]=0000:03:00.0\n", 3, "key 'deny[0]' in [host]",
               "unknown key");
    load_fails("[host]\ndeny[de_DE.UTF-8] = 0000:03:00.0\n", 2,
               "key 'deny[de_DE.UTF-8]' in [host]", "unknown key");
}

/* The example in README.md loads as it stands, and means what it says. */
static void
test_readme_example(void **state)
{
    g_autofree char *readme = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VhConfig) config = NULL;
    const char *start, *end;

    assert_true(g_file_get_contents(VH_TEST_SRCDIR "/README.md", &readme, NULL, &error));
    start = strstr(readme, "```ini\n[host]\n");
    assert_non_null(start);
    start += strlen("```ini\n");
    end = strstr(start, "```");
    assert_non_null(end);
    config = vh_config_load_data(start, (gsize)(end - start), "README.md", &error);
    if (config == NULL)
        fail_msg("README.md's example configuration does not load: %s", error->message);
    assert_true(vh_config_is_denied(config, "0000:03:00.0"));
    assert_int_equal(config->allocation, VH_ALLOCATION_PACK);
    assert_int_equal(config->resources->len, 1);
}

/* Directory options on command lines follow the file's rule. */
static void
test_path_rule(void **state)
{
    assert_true(vh_config_path_is_valid("/sys"));
    assert_false(vh_config_path_is_valid(""));
    assert_false(vh_config_path_is_valid(NULL));
    assert_false(vh_config_path_is_valid("rel/dir"));
    assert_false(vh_config_path_is_valid("/a/../b"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_kind_from_string),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_unknown_group),
        cmocka_unit_test(test_bad_resource_name),
        cmocka_unit_test(test_bad_selector),
        cmocka_unit_test(test_bad_subsystem),
        cmocka_unit_test(test_bad_address),
        cmocka_unit_test(test_duplicate_resource),
        cmocka_unit_test(test_duplicate_key),
        cmocka_unit_test(test_missing_kind),
        cmocka_unit_test(test_bad_kind),
        cmocka_unit_test(test_passthrough_with_profile),
        cmocka_unit_test(test_vgpu_without_profile),
        cmocka_unit_test(test_bad_path),
        cmocka_unit_test(test_bad_bool),
        cmocka_unit_test(test_bad_allocation),
        cmocka_unit_test(test_bad_release_driver),
        cmocka_unit_test(test_bad_lease_grace),
        cmocka_unit_test(test_not_a_key_file),
        cmocka_unit_test(test_crlf),
        cmocka_unit_test(test_gpu_section),
        cmocka_unit_test(test_gpu_mig),
        cmocka_unit_test(test_locale_key),
        cmocka_unit_test(test_readme_example),
        cmocka_unit_test(test_path_rule),
    };

    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

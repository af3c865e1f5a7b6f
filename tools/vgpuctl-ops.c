/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl prepare, release, bind, unbind, apply-profiles, leases: the hook's
 * work by hand, and host operations. */
#include "config.h"
#include "vgpuctl.h"

#include <libvirt/libvirt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int
run_lifecycle(VhCtl *ctl, const char *command, int argc, char **argv,
              gboolean (*fn)(VhConfig *, VhDomain *, GError **))
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VhDomain) domain = NULL;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command(command), NULL, &argc, &argv, 1, 1, &rc))
        return rc;
    if (!vh_ctl_setup(ctl, &error) || (domain = vh_domain_load_file(argv[1], &error)) == NULL ||
        !fn(ctl->config, domain, &error))
        return vh_ctl_fail("%s: %s", command, error->message);
    fprintf(stderr, "Domain '%s': %s done for %u named device(s)\n", domain->name, command,
            domain->devices->len);
    return 0;
}

int
vh_ctl_cmd_prepare(VhCtl *ctl, int argc, char **argv)
{
    return run_lifecycle(ctl, "prepare", argc, argv, vh_lifecycle_prepare);
}

/* libvirt calls the hook's release only after the domain stopped; by hand
 * it could take the devices of a running domain: refused while libvirt keeps
 * the domain's pid file. */
static gboolean
release_stopped(VhConfig *config, VhDomain *domain, GError **error)
{
    g_autofree char *pidfile = g_strdup_printf("%s/%s.pid", config->libvirt_run_dir,
                                               domain->name);

    if (g_file_test(pidfile, G_FILE_TEST_EXISTS)) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "domain '%s' is running (libvirt keeps %s): stop it first; its devices "
                    "stay with it", domain->name, pidfile);
        return FALSE;
    }
    return vh_lifecycle_release(config, domain, error);
}

int
vh_ctl_cmd_release(VhCtl *ctl, int argc, char **argv)
{
    return run_lifecycle(ctl, "release", argc, argv, release_stopped);
}

/* The running domain holding @dev or a member of its IOMMU group (binding
 * acts on the whole group), with that member in *@held (NULL if none). */
static const char *
group_holder(VhCtl *ctl, GHashTable *busy, const VhPciDevice *dev, char **held)
{
    g_autoptr(GPtrArray) members = NULL;
    const char *holder;

    if ((holder = g_hash_table_lookup(busy, dev->address)) != NULL) {
        *held = g_strdup(dev->address);
        return holder;
    }
    if (dev->iommu_group < 0)
        return NULL;
    members = vh_host_iommu_group_members(ctl->host, dev->iommu_group, NULL);
    for (guint i = 0; members && i < members->len; i++) {
        const char *addr = g_ptr_array_index(members, i);
        if ((holder = g_hash_table_lookup(busy, addr)) != NULL) {
            *held = g_strdup(addr);
            return holder;
        }
    }
    return NULL;
}

static int
bind_or_unbind(VhCtl *ctl, const char *command, int argc, char **argv, gboolean bind)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GHashTable) busy = NULL;
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(GPtrArray) done = g_ptr_array_new_with_free_func((GDestroyNotify)vh_vfio_binding_free);
    g_autoptr(GPtrArray) members = NULL;
    VhPciDevice *dev;
    g_autofree char *held = NULL;
    const char *holder, *denied_by;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command(command), NULL, &argc, &argv, 1, 1, &rc))
        return rc;
    if (!vh_ctl_setup(ctl, &error) || (busy = vh_inventory_busy_devices(ctl->config, &store, &error)) == NULL ||
        (dev = vh_host_get_device(ctl->host, argv[1], &error)) == NULL)
        return vh_ctl_fail("%s: %s", command, error->message);
    if ((denied_by = vh_host_denied_by(ctl->host, dev->address)) != NULL)
        return vh_ctl_fail("%s: %s is denied (deny= in %s lists %s, %s)", command, dev->address,
                           ctl->config->path ? ctl->config->path : "the configuration",
                           denied_by, strcmp(denied_by, dev->address) == 0
                                          ? "the device itself"
                                          : "its PF or a member of its IOMMU group");
    if ((holder = group_holder(ctl, busy, dev, &held)) != NULL && strcmp(held, dev->address) == 0)
        return vh_ctl_fail("%s: %s is held by running domain '%s'", command, dev->address, holder);
    if (holder != NULL)
        return vh_ctl_fail("%s: %s shares IOMMU group %d with %s, held by running domain '%s'; "
                           "stop '%s' first", command, dev->address, dev->iommu_group, held,
                           holder, holder);
    if (bind) {
        if (!vh_vfio_bind_group(ctl->host, argv[1], done, &error))
            return vh_ctl_fail("bind: %s", error->message);
        for (guint i = 0; i < done->len; i++) {
            const VhVfioBinding *b = g_ptr_array_index(done, i);
            printf("%s: %s -> vfio-pci\n", b->address, *b->driver ? b->driver : "(no driver)");
        }
        if (done->len == 0)
            printf("IOMMU group of %s already on vfio-pci\n", argv[1]);
        return 0;
    }
    members = vh_host_iommu_group_members(ctl->host, dev->iommu_group, &error);
    if (members == NULL)
        return vh_ctl_fail("unbind: %s", error->message);
    for (guint i = 0; i < members->len; i++) {
        const char *addr = g_ptr_array_index(members, i);
        g_autoptr(GError) local = NULL;
        /* "probe": the kernel gives the function back to its own driver. */
        if (!vh_vfio_unbind_device(ctl->host, addr, "probe", &local)) {
            rc = vh_ctl_fail("unbind: %s", local->message);
            continue;
        }
        printf("%s: released from vfio-pci\n", addr);
    }
    return rc;
}

int
vh_ctl_cmd_bind(VhCtl *ctl, int argc, char **argv)
{
    return bind_or_unbind(ctl, "bind", argc, argv, TRUE);
}

int
vh_ctl_cmd_unbind(VhCtl *ctl, int argc, char **argv)
{
    return bind_or_unbind(ctl, "unbind", argc, argv, FALSE);
}

static int apply_profiles_run(VhCtl *ctl, int argc, char **argv);

/* The time and result of the run are kept for `vgpuctl metrics` (once the
 * configuration, and so the state directory, is known). */
int
vh_ctl_cmd_apply_profiles(VhCtl *ctl, int argc, char **argv)
{
    int rc = apply_profiles_run(ctl, argc, argv);
    g_autoptr(GError) error = NULL;

    if (ctl->config && !vh_metrics_record_apply_profiles(ctl->config->state_dir, rc == 0, &error))
        fprintf(stderr, "vgpuctl: warning: apply-profiles: run not recorded for metrics: %s\n",
                error->message);
    return rc;
}

static int
apply_profiles_run(VhCtl *ctl, int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GHashTable) busy = NULL;
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(GPtrArray) lines = NULL;
    g_autoptr(GPtrArray) results = NULL;
    g_autofree char *text = NULL;
    const char *path;
    guint failed = 0;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("apply-profiles"), NULL, &argc, &argv, 0, 1, &rc))
        return rc;
    path = argc > 1 ? argv[1] : VH_DEFAULT_PROFILES;
    if (!vh_ctl_setup(ctl, &error) || (busy = vh_inventory_busy_devices(ctl->config, &store, &error)) == NULL)
        return vh_ctl_fail("apply-profiles: %s", error->message);
    if ((text = vh_file_read(path, VH_PROFILES_MAX_SIZE, VH_FILE_FOLLOW, NULL, &error)) == NULL)
        return vh_ctl_fail("apply-profiles: %s", error->message);
    if ((lines = vh_profiles_parse(text, path, &error)) == NULL)
        return vh_ctl_fail("apply-profiles: %s", error->message);
    results = vh_profiles_apply(ctl->host, lines, busy);
    for (guint i = 0; i < results->len; i++) {
        const VhProfileResult *r = g_ptr_array_index(results, i);
        static const char *const word[] = { "set", "ok", "skip", "FAIL" };
        fprintf(r->outcome == VH_PROFILE_FAILED ? stderr : stdout, "%s:%u: %s: %s\n", path,
                r->line->line, word[r->outcome], r->message);
        if (r->outcome == VH_PROFILE_FAILED)
            failed++;
    }
    /* the last line says the outcome, as every failing command's does */
    if (failed)
        rc = vh_ctl_fail("apply-profiles: %u of %u line(s) failed (FAIL lines above)", failed,
                         results->len);
    return rc;
}

/* The GPU instances of the VFs that leases hold, for MIG-backed vGPUs;
 * NULL when the host cannot be read (leases are shown without them). */
static VhCtlMig *
lease_instances(VhCtl *ctl, GPtrArray *leases)
{
    g_autoptr(GPtrArray) vfs = g_ptr_array_new();

    if (!vh_host_scan(ctl->host, NULL))
        return NULL;
    for (guint i = 0; i < leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(leases, i);
        if (lease->mdev_uuid == NULL && lease->device)
            g_ptr_array_add(vfs, lease->device);
    }
    g_ptr_array_add(vfs, NULL);
    return vh_ctl_mig_new_for_vfs(ctl->host, (const char *const *)vfs->pdata);
}

static void
add_instance_json(JsonBuilder *b, const VhVgpuMigInstance *gi)
{
    json_builder_set_member_name(b, "gpu_instance");
    if (gi == NULL) {
        json_builder_add_null_value(b);
        return;
    }
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "id");
    if (gi->id_known)
        json_builder_add_int_value(b, gi->id);
    else
        json_builder_add_null_value(b);
    json_builder_set_member_name(b, "profile");
    json_builder_add_string_value(b, gi->profile);
    json_builder_set_member_name(b, "placement");
    {
        g_autofree char *placement = g_strdup_printf("%u:%u", gi->start, gi->size);
        json_builder_add_string_value(b, placement);
    }
    json_builder_end_object(b);
}

int
vh_ctl_cmd_leases(VhCtl *ctl, int argc, char **argv)
{
    gboolean prune = FALSE;
    g_autofree char *uri = NULL;
    GOptionEntry entries[] = {
        { "prune", 0, 0, G_OPTION_ARG_NONE, &prune,
          "Undo the leases of domains that no longer run (they become reservations), and drop "
          "reservations of domains libvirt no longer knows", NULL },
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI for --prune (as virsh -c)", "URI" },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(GPtrArray) leases = NULL;
    g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(JsonBuilder) b = json_builder_new();
    g_autoptr(VhCtlMig) mig = NULL;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("leases"), entries, &argc, &argv, 0, 0, &rc))
        return rc;
    if (!vh_ctl_setup(ctl, &error))
        return vh_ctl_fail("leases: %s", error->message);
    if (prune) /* reconcile's lease part (reconcile also fixes devices) */
        return vh_ctl_reconcile(ctl, "leases --prune", uri, FALSE, VH_RECONCILE_LEASES, FALSE);
    if ((store = vh_lease_store_open(ctl->config, &error)) == NULL ||
        (leases = vh_lease_store_load(store, warnings, &error)) == NULL)
        return vh_ctl_fail("leases: %s", error->message);
    for (guint i = 0; i < warnings->len; i++)
        fprintf(stderr, "vgpuctl: warning: %s\n", (char *)g_ptr_array_index(warnings, i));
    mig = lease_instances(ctl, leases);
    json_builder_begin_array(b);
    if (!ctl->json)
        printf("%-38s %-9s %-24s %-6s %-16s %s\n", "DEVICE", "STATE", "RESOURCE", "LIVE",
               "DOMAIN", "GPU-INSTANCE");
    for (guint i = 0; i < leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(leases, i);
        gboolean live = vh_lease_is_live(store, lease);
        const VhVgpuMigInstance *gi = mig && lease->mdev_uuid == NULL
                                          ? vh_ctl_mig_instance_of(mig, lease->device)
                                          : NULL;
        if (ctl->json) {
            json_builder_begin_object(b);
            json_builder_set_member_name(b, "key");
            json_builder_add_string_value(b, lease->key);
            json_builder_set_member_name(b, "device");
            json_builder_add_string_value(b, lease->device);
            json_builder_set_member_name(b, "state");
            json_builder_add_string_value(b, vh_lease_state_to_string(lease->state));
            json_builder_set_member_name(b, "resource");
            json_builder_add_string_value(b, lease->resource);
            json_builder_set_member_name(b, "domain");
            json_builder_add_string_value(b, lease->domain);
            json_builder_set_member_name(b, "uuid");
            json_builder_add_string_value(b, lease->uuid);
            json_builder_set_member_name(b, "live");
            json_builder_add_boolean_value(b, live);
            add_instance_json(b, gi);
            json_builder_end_object(b);
        } else {
            g_autofree char *where = vh_ctl_mig_instance_text(gi);
            printf("%-38s %-9s %-24s %-6s %-16s %s\n", lease->key,
                   vh_lease_state_to_string(lease->state), lease->resource, live ? "yes" : "stale",
                   lease->domain, where);
        }
    }
    json_builder_end_array(b);
    if (ctl->json) {
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        vh_ctl_print_json(root);
    }
    return 0;
}

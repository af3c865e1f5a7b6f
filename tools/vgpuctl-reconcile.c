/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl reconcile, and the libvirt view it shares with leases --prune. */
#include "config.h"
#include "vgpuctl.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <stdlib.h>

/* libvirt's own error printing would add a second, multi-line message. */
static void
quiet_libvirt(void *data, virErrorPtr error)
{
}

/* What libvirt at @uri knows (defined and running domains); both tables
 * NULL when @offline or libvirt cannot be reached (said on stderr). */
static void
domains_view(const char *uri, gboolean offline, VhDomainsView *view)
{
    virConnectPtr conn;
    virDomainPtr *doms = NULL;
    int n;

    *view = (VhDomainsView){ NULL, NULL, 0 };
    if (offline)
        return;
    virSetErrorFunc(NULL, quiet_libvirt);
    view->taken_at = g_get_real_time() / G_USEC_PER_SEC;
    conn = virConnectOpen(uri);
    if (conn == NULL) {
        fprintf(stderr, "vgpuctl: warning: libvirt not reachable%s%s: reservations are kept, "
                "leases are judged by libvirt's pid files (use --offline to not ask)\n",
                uri ? " at " : "", uri ? uri : "");
        return;
    }
    n = virConnectListAllDomains(conn, &doms, 0);
    if (n >= 0) {
        view->defined = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
        view->running = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    }
    for (int i = 0; i < n; i++) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (virDomainGetUUIDString(doms[i], uuid) == 0) {
            g_hash_table_add(view->defined, g_strdup(uuid));
            if (virDomainIsActive(doms[i]) == 1)
                g_hash_table_add(view->running, g_strdup(uuid));
        }
        virDomainFree(doms[i]);
    }
    free(doms);
    virConnectClose(conn);
}

static void
domains_view_clear(VhDomainsView *view)
{
    g_clear_pointer(&view->defined, g_hash_table_unref);
    g_clear_pointer(&view->running, g_hash_table_unref);
}

static int
print_fixes(VhCtl *ctl, const char *command, GPtrArray *fixes, gboolean dry_run)
{
    guint failed = 0;

    for (guint i = 0; i < fixes->len; i++)
        failed += ((VhReconcileFix *)g_ptr_array_index(fixes, i))->failed ? 1 : 0;
    if (ctl->json) {
        g_autoptr(JsonBuilder) b = json_builder_new();
        g_autoptr(JsonNode) root = NULL;
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "dry_run");
        json_builder_add_boolean_value(b, dry_run);
        json_builder_set_member_name(b, "consistent");
        json_builder_add_boolean_value(b, fixes->len == 0);
        json_builder_set_member_name(b, "fixes");
        json_builder_begin_array(b);
        for (guint i = 0; i < fixes->len; i++) {
            const VhReconcileFix *fix = g_ptr_array_index(fixes, i);
            json_builder_begin_object(b);
            json_builder_set_member_name(b, "subject");
            json_builder_add_string_value(b, fix->subject);
            json_builder_set_member_name(b, "fixed");
            json_builder_add_boolean_value(b, !fix->failed && !dry_run);
            json_builder_set_member_name(b, "message");
            json_builder_add_string_value(b, fix->message);
            json_builder_end_object(b);
        }
        json_builder_end_array(b);
        json_builder_end_object(b);
        root = json_builder_get_root(b);
        vh_ctl_print_json(root);
    } else {
        for (guint i = 0; i < fixes->len; i++) {
            const VhReconcileFix *fix = g_ptr_array_index(fixes, i);
            if (fix->failed)
                vh_ctl_fail("%s: %s", command, fix->message);
            else
                printf("%s\n", fix->message);
        }
        if (fixes->len == 0)
            printf("consistent: nothing to fix\n");
    }
    if (failed)
        return vh_ctl_fail("%s: %u problem(s) could not be fixed (see above)", command, failed);
    return 0;
}

int
vh_ctl_reconcile(VhCtl *ctl, const char *command, const char *uri, gboolean offline,
                 VhReconcileScope scope, gboolean dry_run)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) fixes = g_ptr_array_new_with_free_func((GDestroyNotify)vh_reconcile_fix_free);
    VhDomainsView view;
    gboolean ok;

    /* Asked before the lock: see VhDomainsView. */
    domains_view(uri, offline, &view);
    ok = vh_reconcile(ctl->config, &view, scope, dry_run, fixes, &error);
    domains_view_clear(&view);
    if (!ok)
        return vh_ctl_fail("%s: %s", command, error->message);
    return print_fixes(ctl, command, fixes, dry_run);
}

int
vh_ctl_cmd_reconcile(VhCtl *ctl, int argc, char **argv)
{
    gboolean dry_run = FALSE;
    gboolean offline = FALSE;
    g_autofree char *uri = NULL;
    GOptionEntry entries[] = {
        { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run, "Say what would be fixed; change nothing",
          NULL },
        { "offline", 0, 0, G_OPTION_ARG_NONE, &offline,
          "Do not ask libvirt (boot time, before libvirtd): keep reservations, judge leases by "
          "libvirt's pid files", NULL },
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (as virsh -c)", "URI" },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("reconcile"), entries, &argc, &argv, 0, 0, &rc))
        return rc;
    if (!vh_ctl_setup(ctl, &error))
        return vh_ctl_fail("reconcile: %s", error->message);
    return vh_ctl_reconcile(ctl, "reconcile", uri, offline, VH_RECONCILE_ALL, dry_run);
}

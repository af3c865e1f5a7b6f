/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl rewrite, define, start: from named resources to running domains. */
#include "config.h"
#include "vgpuctl.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <string.h>

#define LOCK_TIMEOUT_MS 10000

static void
report_picks(const VhDomain *domain)
{
    for (guint i = 0; i < domain->devices->len; i++) {
        const VhDomainDevice *dev = g_ptr_array_index(domain->devices, i);
        g_autofree char *addr = vh_domain_device_pci_address(dev);
        g_autofree char *uuid = vh_domain_device_mdev_uuid(dev);
        fprintf(stderr, "  %s -> %s (%s)\n", dev->alias, addr ? addr : uuid ? uuid : "?",
                dev->resource);
    }
}

/* Load config, scan, read leases and build the allocator for @domain. */
static VhAllocator *
prepare_allocator(VhCtl *ctl, VhDomain *domain, VhLeaseStore **store_out, VhCatalog **catalog_out,
                  gboolean lock, GError **error)
{
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(GPtrArray) leases = NULL;
    g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(VhCatalog) catalog = NULL;
    g_autoptr(GHashTable) holders = NULL;
    VhAllocator *alloc;

    if ((store = vh_lease_store_open(ctl->config, error)) == NULL ||
        (lock && !vh_lease_store_lock(store, LOCK_TIMEOUT_MS, error)) ||
        (leases = vh_lease_store_load(store, warnings, error)) == NULL)
        return NULL;
    for (guint i = 0; i < warnings->len; i++)
        fprintf(stderr, "vgpuctl: warning: %s\n", (char *)g_ptr_array_index(warnings, i));
    holders = vh_lease_holders(store, leases, domain->uuid);
    if ((catalog = vh_catalog_build(ctl->host, holders, error)) == NULL)
        return NULL;
    alloc = vh_allocator_new(catalog, store, leases, domain->uuid);
    *store_out = g_steal_pointer(&store);
    *catalog_out = g_steal_pointer(&catalog);
    return alloc;
}

int
vh_ctl_cmd_rewrite(VhCtl *ctl, int argc, char **argv)
{
    gboolean reserve = FALSE;
    GOptionEntry entries[] = {
        { "reserve", 0, 0, G_OPTION_ARG_NONE, &reserve,
          "Also reserve the picked devices for this domain (as define does)", NULL },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(VhDomain) domain = NULL;
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(VhCatalog) catalog = NULL;
    g_autoptr(VhAllocator) alloc = NULL;
    g_autofree char *xml = NULL;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("rewrite"), entries, &argc, &argv, 1, 1, &rc))
        return rc;
    if (!vh_ctl_setup(ctl, &error) || (domain = vh_domain_load_file(argv[1], &error)) == NULL ||
        !vh_host_scan(ctl->host, &error) ||
        (alloc = prepare_allocator(ctl, domain, &store, &catalog, reserve, &error)) == NULL ||
        !vh_allocate_domain(alloc, domain, reserve ? store : NULL, &error))
        return vh_ctl_fail("rewrite: %s", error->message);
    xml = vh_domain_to_string(domain);
    fputs(xml, stdout);
    return 0;
}

/* libvirt prints every error on stderr by default; ours already carries it,
 * and a refusal is one line. */
static void
quiet_libvirt_errors(void *data, virErrorPtr error)
{
    (void)data;
    (void)error;
}

static virConnectPtr
connect_libvirt(const char *uri, GError **error)
{
    virConnectPtr conn;

    virSetErrorFunc(NULL, quiet_libvirt_errors);
    conn = virConnectOpen(uri);

    if (conn == NULL) {
        const virError *err = virGetLastError();
        g_set_error(error, VH_ERROR, VH_ERROR_FAILED,
                    "cannot connect to libvirt%s%s: %s (is libvirtd running? try -c qemu:///system)",
                    uri ? " at " : "", uri ? uri : "", err && err->message ? err->message : "unknown error");
    }
    return conn;
}

static void
set_libvirt_error(GError **error, const char *what)
{
    const virError *err = virGetLastError();

    g_set_error(error, VH_ERROR, VH_ERROR_FAILED, "%s: %s", what,
                err && err->message ? err->message : "unknown libvirt error");
}

/* Undo reservations written for @domain when libvirt refused it. */
static void
drop_reservations(VhLeaseStore *store, const VhDomain *domain)
{
    g_autoptr(GPtrArray) leases = vh_lease_store_load(store, NULL, NULL);

    for (guint i = 0; leases && i < leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(leases, i);
        if (lease->state == VH_LEASE_RESERVED && g_strcmp0(lease->uuid, domain->uuid) == 0)
            vh_lease_store_remove(store, lease->key, NULL);
    }
}

static gboolean
define_domain(virConnectPtr conn, VhLeaseStore *store, VhDomain *domain, GError **error)
{
    g_autofree char *xml = vh_domain_to_string(domain);
    virDomainPtr dom = virDomainDefineXML(conn, xml);

    if (dom == NULL) {
        g_autofree char *what = g_strdup_printf("libvirt refused to define domain '%s'", domain->name);
        set_libvirt_error(error, what);
        drop_reservations(store, domain);
        return FALSE;
    }
    virDomainFree(dom);
    return TRUE;
}

int
vh_ctl_cmd_define(VhCtl *ctl, int argc, char **argv)
{
    g_autofree char *uri = NULL;
    GOptionEntry entries[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (as virsh -c)", "URI" },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(VhDomain) domain = NULL;
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(VhCatalog) catalog = NULL;
    g_autoptr(VhAllocator) alloc = NULL;
    virConnectPtr conn = NULL;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("define"), entries, &argc, &argv, 1, 1, &rc))
        return rc;
    if (!vh_ctl_setup(ctl, &error) || (domain = vh_domain_load_file(argv[1], &error)) == NULL ||
        (conn = connect_libvirt(uri, &error)) == NULL || !vh_host_scan(ctl->host, &error) ||
        (alloc = prepare_allocator(ctl, domain, &store, &catalog, TRUE, &error)) == NULL ||
        !vh_allocate_domain(alloc, domain, store, &error) ||
        !define_domain(conn, store, domain, &error)) {
        rc = vh_ctl_fail("define: %s", error->message);
    } else {
        fprintf(stderr, "Domain '%s' defined (uuid %s):\n", domain->name, domain->uuid);
        report_picks(domain);
    }
    if (conn)
        virConnectClose(conn);
    return rc;
}

static VhDomain *
fetch_domain(virConnectPtr conn, const char *name, virDomainPtr *dom_out, GError **error)
{
    virDomainPtr dom = virDomainLookupByName(conn, name);
    char *xml;
    VhDomain *domain;

    if (dom == NULL) {
        g_autofree char *what = g_strdup_printf("no domain '%s'", name);
        set_libvirt_error(error, what);
        return NULL;
    }
    if (virDomainIsActive(dom) == 1) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY, "domain '%s' is already running", name);
        virDomainFree(dom);
        return NULL;
    }
    xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    if (xml == NULL) {
        set_libvirt_error(error, "cannot read the domain's XML");
        virDomainFree(dom);
        return NULL;
    }
    domain = vh_domain_parse(xml, strlen(xml), error);
    free(xml);
    if (domain == NULL) {
        virDomainFree(dom);
        return NULL;
    }
    *dom_out = dom;
    return domain;
}

int
vh_ctl_cmd_start(VhCtl *ctl, int argc, char **argv)
{
    g_autofree char *uri = NULL;
    GOptionEntry entries[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (as virsh -c)", "URI" },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(VhDomain) domain = NULL;
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(VhCatalog) catalog = NULL;
    g_autoptr(VhAllocator) alloc = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    virConnectPtr conn = NULL;
    virDomainPtr dom = NULL;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("start"), entries, &argc, &argv, 1, 1, &rc))
        return rc;
    if (!vh_ctl_setup(ctl, &error) || (conn = connect_libvirt(uri, &error)) == NULL ||
        (domain = fetch_domain(conn, argv[1], &dom, &error)) == NULL ||
        !vh_host_scan(ctl->host, &error) ||
        (alloc = prepare_allocator(ctl, domain, &store, &catalog, TRUE, &error)) == NULL)
        goto fail;
    before = vh_domain_to_string(domain);
    if (!vh_allocate_domain(alloc, domain, store, &error))
        goto fail;
    after = vh_domain_to_string(domain);
    if (strcmp(before, after) != 0) {
        fprintf(stderr, "Domain '%s': pinned devices were busy or gone; re-picked:\n", domain->name);
        report_picks(domain);
        if (!define_domain(conn, store, domain, &error))
            goto fail;
    }
    /* The hook takes the active leases at prepare; it needs the lock. */
    vh_lease_store_unlock(store);
    if (virDomainCreate(dom) < 0) {
        g_autofree char *what = g_strdup_printf("libvirt could not start domain '%s'", domain->name);
        set_libvirt_error(&error, what);
        goto fail;
    }
    fprintf(stderr, "Domain '%s' started\n", domain->name);
    goto out;
fail:
    rc = vh_ctl_fail("start: %s", error->message);
out:
    if (dom)
        virDomainFree(dom);
    if (conn)
        virConnectClose(conn);
    return rc;
}

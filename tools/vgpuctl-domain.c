/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl rewrite, define, start: from named resources to running domains. */
#include "config.h"
#include "vgpuctl.h"
#include "vgpuctl-virt.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <stdio.h>
#include <string.h>


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

/* The host, leases and catalogue for picking @domain's devices (under the
 * lease lock when @lock: the picks are written as reservations). */
static VhInventory *
open_inventory(VhCtl *ctl, VhDomain *domain, gboolean lock, GError **error)
{
    VhInventory *inv = vh_inventory_open(ctl->host, domain->uuid, lock ? VH_INVENTORY_LOCK : 0,
                                         error);

    for (guint i = 0; inv && i < inv->warnings->len; i++)
        fprintf(stderr, "vgpuctl: warning: %s\n", (char *)g_ptr_array_index(inv->warnings, i));
    return inv;
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
    g_autoptr(VhInventory) inv = NULL;
    g_autoptr(VhAllocator) alloc = NULL;
    g_autofree char *xml = NULL;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("rewrite"), entries, &argc, &argv, 1, 1, &rc))
        return rc;
    if (!vh_ctl_setup(ctl, &error) || (domain = vh_domain_load_file(argv[1], &error)) == NULL ||
        (inv = open_inventory(ctl, domain, reserve, &error)) == NULL ||
        !vh_allocate_domain((alloc = vh_inventory_allocator(inv)), domain,
                            reserve ? inv->store : NULL, &error))
        return vh_ctl_fail("rewrite: %s", error->message);
    xml = vh_domain_to_string(domain);
    fputs(xml, stdout);
    return 0;
}

/* libvirt prints every error on stderr by itself; ours are one line. */
static void
quiet_libvirt(void *data, virErrorPtr err)
{
    (void)data;
    (void)err;
}

virConnectPtr
vh_ctl_connect_libvirt(const char *uri, GError **error)
{
    virConnectPtr conn;

    virSetErrorFunc(NULL, quiet_libvirt);
    conn = virConnectOpen(uri);

    if (conn == NULL) {
        const virError *err = virGetLastError();
        g_set_error(error, VH_ERROR, VH_ERROR_FAILED,
                    "cannot connect to libvirt%s%s: %s (is libvirtd running? try -c qemu:///system)",
                    uri ? " at " : "", uri ? uri : "", err && err->message ? err->message : "unknown error");
    }
    return conn;
}

/* libvirt passes QEMU's messages on, some of them over several lines. */
void
vh_ctl_set_libvirt_error(GError **error, const char *what)
{
    const virError *err = virGetLastError();
    g_autofree char *msg = g_strdup(err && err->message ? err->message : "unknown libvirt error");

    g_strdelimit(msg, "\r\n", ' ');
    g_set_error(error, VH_ERROR, VH_ERROR_FAILED, "%s: %s", what, g_strstrip(msg));
}

static gboolean
define_domain(virConnectPtr conn, VhLeaseStore *store, VhDomain *domain, GError **error)
{
    g_autofree char *xml = vh_domain_to_string(domain);
    virDomainPtr dom = virDomainDefineXML(conn, xml);

    if (dom == NULL) {
        g_autofree char *what = g_strdup_printf("libvirt refused to define domain '%s'", domain->name);
        vh_ctl_set_libvirt_error(error, what);
        /* undo the reservations written for it */
        vh_lease_store_drop_reservations(store, domain->uuid, NULL);
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
    g_autoptr(VhInventory) inv = NULL;
    g_autoptr(VhAllocator) alloc = NULL;
    virConnectPtr conn = NULL;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("define"), entries, &argc, &argv, 1, 1, &rc))
        return rc;
    if (!vh_ctl_setup(ctl, &error) || (domain = vh_domain_load_file(argv[1], &error)) == NULL ||
        (conn = vh_ctl_connect_libvirt(uri, &error)) == NULL ||
        (inv = open_inventory(ctl, domain, TRUE, &error)) == NULL ||
        !vh_allocate_domain((alloc = vh_inventory_allocator(inv)), domain, inv->store, &error) ||
        !define_domain(conn, inv->store, domain, &error)) {
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
        vh_ctl_set_libvirt_error(error, what);
        return NULL;
    }
    if (virDomainIsActive(dom) == 1) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY, "domain '%s' is already running", name);
        virDomainFree(dom);
        return NULL;
    }
    xml = virDomainGetXMLDesc(dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE);
    if (xml == NULL) {
        vh_ctl_set_libvirt_error(error, "cannot read the domain's XML");
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
    g_autoptr(VhInventory) inv = NULL;
    g_autoptr(VhAllocator) alloc = NULL;
    g_autofree char *before = NULL;
    g_autofree char *after = NULL;
    virConnectPtr conn = NULL;
    virDomainPtr dom = NULL;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("start"), entries, &argc, &argv, 1, 1, &rc))
        return rc;
    if (!vh_ctl_setup(ctl, &error) || (conn = vh_ctl_connect_libvirt(uri, &error)) == NULL ||
        (domain = fetch_domain(conn, argv[1], &dom, &error)) == NULL ||
        (inv = open_inventory(ctl, domain, TRUE, &error)) == NULL)
        goto fail;
    alloc = vh_inventory_allocator(inv);
    before = vh_domain_to_string(domain);
    if (!vh_allocate_domain(alloc, domain, inv->store, &error))
        goto fail;
    after = vh_domain_to_string(domain);
    if (strcmp(before, after) != 0) {
        fprintf(stderr, "Domain '%s': pinned devices were busy or gone; re-picked:\n", domain->name);
        report_picks(domain);
        if (!define_domain(conn, inv->store, domain, &error))
            goto fail;
    }
    /* The hook takes the active leases at prepare; it needs the lock. */
    vh_lease_store_unlock(inv->store);
    if (virDomainCreate(dom) < 0) {
        g_autofree char *what = g_strdup_printf("libvirt could not start domain '%s'", domain->name);
        vh_ctl_set_libvirt_error(&error, what);
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

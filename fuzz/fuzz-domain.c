/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-domain: the domain XML rewriter. Parse; read every named device's
 * current source; point each at a PCI function and serialise; point each at
 * an mdev and serialise. Every serialisation must parse again, with the same
 * devices and the sources just written. */
#include "fuzz-common.h"
#include "vh-domain.h"
#include "vh-pci-address.h"

#include <libxml/parser.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_glib();
    xmlInitParser();
    return 0;
}

/* Serialise @domain, parse the text again and return the new domain. */
static VhDomain *
round_trip(VhDomain *domain, const char *step)
{
    g_autofree char *xml = vh_domain_to_string(domain);
    g_autoptr(GError) error = NULL;
    VhDomain *again;

    FUZZ_CHECK(xml != NULL, "%s: no output", step);
    if (fuzz_verbose())
        fprintf(stderr, "--- %s:\n%s", step, xml);
    again = vh_domain_parse(xml, strlen(xml), &error);
    FUZZ_CHECK(again != NULL, "%s: the output does not parse again: %s\n--- output:\n%s", step,
               error ? error->message : "(no error)", xml);
    FUZZ_CHECK(g_strcmp0(again->name, domain->name) == 0, "%s: name '%s' became '%s'", step,
               domain->name, again->name);
    FUZZ_CHECK(g_strcmp0(again->uuid, domain->uuid) == 0, "%s: uuid changed", step);
    FUZZ_CHECK(again->devices->len == domain->devices->len, "%s: %u devices became %u", step,
               domain->devices->len, again->devices->len);
    for (guint i = 0; i < domain->devices->len; i++) {
        const VhDomainDevice *a = g_ptr_array_index(domain->devices, i);
        const VhDomainDevice *b = g_ptr_array_index(again->devices, i);
        FUZZ_CHECK(strcmp(a->alias, b->alias) == 0 && strcmp(a->resource, b->resource) == 0 &&
                   g_strcmp0(a->want_address, b->want_address) == 0 &&
                   a->want_numa == b->want_numa && a->display == b->display,
                   "%s: device %u ('%s') changed", step, i, a->alias);
    }
    return again;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VhDomain) domain = vh_domain_parse((const char *)data, size, &error);
    g_autoptr(VhDomain) plain = NULL, as_pci = NULL, as_mdev = NULL;

    fuzz_report("domain", error);
    if (domain == NULL) {
        FUZZ_CHECK(error != NULL && error->message != NULL, "failure without an error");
        return 0;
    }
    FUZZ_CHECK(error == NULL, "success with an error set");
    FUZZ_CHECK(domain->name != NULL, "no name");

    for (guint i = 0; i < domain->devices->len; i++) {
        const VhDomainDevice *dev = g_ptr_array_index(domain->devices, i);
        g_autofree char *pci = vh_domain_device_pci_address(dev);
        g_autofree char *mdev = vh_domain_device_mdev_uuid(dev);
        FUZZ_CHECK(dev->hostdev != NULL, "device '%s' has no hostdev", dev->alias);
        FUZZ_CHECK(pci == NULL || vh_pci_address_is_valid(pci), "device '%s': PCI address '%s'",
                   dev->alias, pci);
        FUZZ_CHECK(mdev == NULL || (strlen(mdev) == 36 && mdev[8] == '-'),
                   "device '%s': mdev uuid '%s'", dev->alias, mdev);
    }
    /* Unchanged: what came in must go out parseable. */
    plain = round_trip(domain, "unchanged");

    /* Every device on a PCI function (alternately managed and not). */
    for (guint i = 0; i < domain->devices->len; i++) {
        VhDomainDevice *dev = g_ptr_array_index(domain->devices, i);
        g_autofree char *want = g_strdup_printf("%04x:%02x:%02x.%x", i & 0xffff, (i >> 3) & 0xff,
                                                (i + 1) & 0x1f, i & 7);
        g_autofree char *got = NULL;
        vh_domain_device_set_pci(dev, want, i % 2 == 0);
        got = vh_domain_device_pci_address(dev);
        FUZZ_CHECK(g_strcmp0(got, want) == 0, "device '%s': set %s, read %s", dev->alias, want,
                   got ? got : "(none)");
    }
    as_pci = round_trip(domain, "pci");
    for (guint i = 0; i < as_pci->devices->len; i++) {
        const VhDomainDevice *a = g_ptr_array_index(domain->devices, i);
        const VhDomainDevice *b = g_ptr_array_index(as_pci->devices, i);
        g_autofree char *want = vh_domain_device_pci_address(a);
        g_autofree char *got = vh_domain_device_pci_address(b);
        FUZZ_CHECK(g_strcmp0(got, want) == 0, "pci: device '%s' re-parsed as %s", a->alias,
                   got ? got : "(none)");
    }

    /* Every device on an mdev (display on for odd ones). */
    for (guint i = 0; i < domain->devices->len; i++) {
        VhDomainDevice *dev = g_ptr_array_index(domain->devices, i);
        g_autofree char *want = g_strdup_printf("1b4e28ba-2fa1-11d2-883f-%012x", i);
        g_autofree char *got = NULL;
        vh_domain_device_set_mdev(dev, want, i % 2 == 1);
        got = vh_domain_device_mdev_uuid(dev);
        FUZZ_CHECK(g_strcmp0(got, want) == 0, "device '%s': set mdev %s, read %s", dev->alias,
                   want, got ? got : "(none)");
        g_clear_pointer(&got, g_free);
        got = vh_domain_device_pci_address(dev);
        FUZZ_CHECK(got == NULL, "device '%s': an mdev still has PCI address %s", dev->alias, got);
    }
    as_mdev = round_trip(domain, "mdev");
    for (guint i = 0; i < as_mdev->devices->len; i++) {
        const VhDomainDevice *a = g_ptr_array_index(domain->devices, i);
        const VhDomainDevice *b = g_ptr_array_index(as_mdev->devices, i);
        g_autofree char *want = vh_domain_device_mdev_uuid(a);
        g_autofree char *got = vh_domain_device_mdev_uuid(b);
        FUZZ_CHECK(g_strcmp0(got, want) == 0, "mdev: device '%s' re-parsed as %s", a->alias,
                   got ? got : "(none)");
    }

    /* And a uuid for a domain without one. */
    vh_domain_ensure_uuid(domain);
    g_clear_pointer(&plain, vh_domain_free);
    plain = round_trip(domain, "uuid");
    return 0;
}

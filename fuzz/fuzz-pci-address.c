/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-pci-address: vh_pci_address_parse. Whatever it accepts must format to
 * the canonical (lower-case) form of the same text and parse back equal. */
#include "fuzz-common.h"
#include "vh-pci-address.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_glib();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = fuzz_text(data, size);
    g_autoptr(GError) error = NULL;
    VhPciAddress addr, again;
    char buf[VH_PCI_ADDRESS_STRLEN];
    gboolean ok = vh_pci_address_parse(text, &addr, &error);

    FUZZ_CHECK(ok == vh_pci_address_is_valid(text), "is_valid disagrees with parse");
    fuzz_report("pci-address", error);
    if (!ok) {
        FUZZ_CHECK(error != NULL && error->message != NULL, "failure without an error");
        return 0;
    }
    FUZZ_CHECK(error == NULL, "success with an error set");
    FUZZ_CHECK(addr.domain <= 0xffff && addr.bus <= 0xff && addr.slot <= 0x1f &&
               addr.function <= 7, "field out of range");
    vh_pci_address_format(&addr, buf);
    {
        g_autofree char *lower = g_ascii_strdown(text, -1);
        g_autofree char *str = vh_pci_address_to_string(&addr);
        FUZZ_CHECK(strcmp(buf, lower) == 0, "'%s' formats as '%s'", text, buf);
        FUZZ_CHECK(strcmp(buf, str) == 0, "format '%s' vs to_string '%s'", buf, str);
    }
    FUZZ_CHECK(vh_pci_address_parse(buf, &again, NULL), "'%s' does not re-parse", buf);
    FUZZ_CHECK(vh_pci_address_equal(&addr, &again), "'%s' re-parses differently", buf);
    return 0;
}

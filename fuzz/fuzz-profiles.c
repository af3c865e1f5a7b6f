/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-profiles: vh_profiles_parse (the boot-time profiles file). Every line
 * it accepts has a canonical address and a non-empty profile. */
#include "fuzz-common.h"
#include "vh-pci-address.h"
#include "vh-profiles.h"

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
    g_autoptr(GPtrArray) lines = vh_profiles_parse(text, "fuzz.profiles", &error);

    fuzz_report("profiles", error);
    if (lines == NULL) {
        FUZZ_CHECK(error != NULL && error->message != NULL, "failure without an error");
        return 0;
    }
    FUZZ_CHECK(error == NULL, "success with an error set");
    for (guint i = 0; i < lines->len; i++) {
        const VhProfileLine *line = g_ptr_array_index(lines, i);
        VhPciAddress addr;
        char buf[VH_PCI_ADDRESS_STRLEN];

        FUZZ_CHECK(line->line >= 1, "line number %u", line->line);
        FUZZ_CHECK(line->address && vh_pci_address_parse(line->address, &addr, NULL),
                   "line %u: bad address", line->line);
        vh_pci_address_format(&addr, buf);
        FUZZ_CHECK(strcmp(buf, line->address) == 0, "line %u: '%s' is not canonical",
                   line->line, line->address);
        FUZZ_CHECK(line->profile && line->profile[0] != '\0', "line %u: empty profile",
                   line->line);
    }
    return 0;
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-pci-address: strict parsing of DDDD:BB:SS.F; see the header. */
#include "vh-pci-address.h"
#include "vh-error.h"

#include <stdio.h>
#include <string.h>

/* Parse exactly @width hex digits from @p; no sign, no 0x, no spaces. */
static gboolean
parse_hex_field(const char *p, guint width, guint *out)
{
    guint value = 0;

    for (guint i = 0; i < width; i++) {
        int digit = g_ascii_xdigit_value(p[i]);
        if (digit < 0)
            return FALSE;
        value = value * 16 + (guint)digit;
    }
    *out = value;
    return TRUE;
}

gboolean
vh_pci_address_parse(const char *text, VhPciAddress *addr, GError **error)
{
    VhPciAddress parsed;

    if (text == NULL || strlen(text) != VH_PCI_ADDRESS_STRLEN - 1 ||
        text[4] != ':' || text[7] != ':' || text[10] != '.' ||
        !parse_hex_field(text, 4, &parsed.domain) ||
        !parse_hex_field(text + 5, 2, &parsed.bus) ||
        !parse_hex_field(text + 8, 2, &parsed.slot) ||
        !parse_hex_field(text + 11, 1, &parsed.function) ||
        parsed.slot > 0x1f || parsed.function > 7) {
        g_autofree char *shown = text ? g_strescape(text, NULL) : g_strdup("(null)");
        if (shown && strlen(shown) > 64)
            strcpy(shown + 61, "...");
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "'%s' is not a PCI address: expected DDDD:BB:SS.F "
                    "(e.g. 0000:3b:00.0, slot <= 1f, function <= 7)", shown);
        return FALSE;
    }
    *addr = parsed;
    return TRUE;
}

gboolean
vh_pci_address_is_valid(const char *text)
{
    VhPciAddress addr;

    return vh_pci_address_parse(text, &addr, NULL);
}

/* "%04x:%02x:%02x.%x", without printf: every device of a scan is named. */
static char *
put_hex(char *out, guint value, guint digits)
{
    static const char hex[] = "0123456789abcdef";

    for (guint i = digits; i > 0; i--)
        out[digits - i] = hex[(value >> (4 * (i - 1))) & 0xf];
    return out + digits;
}

void
vh_pci_address_format(const VhPciAddress *addr, char buf[VH_PCI_ADDRESS_STRLEN])
{
    char *p = put_hex(buf, addr->domain & 0xffff, 4);

    *p++ = ':';
    p = put_hex(p, addr->bus & 0xff, 2);
    *p++ = ':';
    p = put_hex(p, addr->slot & 0x1f, 2);
    *p++ = '.';
    p = put_hex(p, addr->function & 0x7, 1);
    *p = '\0';
}

char *
vh_pci_address_to_string(const VhPciAddress *addr)
{
    char buf[VH_PCI_ADDRESS_STRLEN];

    vh_pci_address_format(addr, buf);
    return g_strdup(buf);
}

gboolean
vh_pci_address_equal(const VhPciAddress *a, const VhPciAddress *b)
{
    return a->domain == b->domain && a->bus == b->bus &&
           a->slot == b->slot && a->function == b->function;
}

gboolean
vh_pci_address_same_slot(const char *a, const char *b)
{
    /* "dddd:bb:ss" is the first ten characters of the canonical form */
    return strncmp(a, b, VH_PCI_ADDRESS_STRLEN - 3) == 0;
}

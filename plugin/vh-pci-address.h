/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-pci-address: PCI addresses as sysfs names them (DDDD:BB:SS.F).
 *
 * Addresses come from users (domain XML, command line, config) and are turned
 * into sysfs paths, so parsing is strict: exact field widths, hex digits only,
 * slot <= 0x1f, function <= 7, nothing before or after. The canonical form is
 * lower case with all four fields, which is how the kernel names devices. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
    guint domain;   /* 0..0xffff */
    guint bus;      /* 0..0xff */
    guint slot;     /* 0..0x1f */
    guint function; /* 0..7 */
} VhPciAddress;

#define VH_PCI_ADDRESS_STRLEN 13 /* "dddd:bb:ss.f" + NUL */

gboolean vh_pci_address_parse(const char *text, VhPciAddress *addr, GError **error);
gboolean vh_pci_address_is_valid(const char *text);
void vh_pci_address_format(const VhPciAddress *addr, char buf[VH_PCI_ADDRESS_STRLEN]);
char *vh_pci_address_to_string(const VhPciAddress *addr);
gboolean vh_pci_address_equal(const VhPciAddress *a, const VhPciAddress *b);
/* Two canonical address strings name functions of one device (slot): a
 * GPU's HDMI audio or USB-C function beside it. */
gboolean vh_pci_address_same_slot(const char *a, const char *b);

G_END_DECLS

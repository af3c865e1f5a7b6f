/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-pci-address: strict DDDD:BB:SS.F parsing, canonical form, hostile input. */
#include "test-common.h"

static void
check_valid(const char *text, const char *canonical, guint domain, guint bus, guint slot,
            guint function)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *str = NULL;
    char buf[VH_PCI_ADDRESS_STRLEN];
    VhPciAddress addr = { 0xdead, 0xdead, 0xdead, 0xdead };

    if (!vh_pci_address_parse(text, &addr, &error))
        fail_msg("'%s' rejected: %s", text, error->message);
    assert_int_equal(addr.domain, domain);
    assert_int_equal(addr.bus, bus);
    assert_int_equal(addr.slot, slot);
    assert_int_equal(addr.function, function);
    vh_pci_address_format(&addr, buf);
    assert_string_equal(buf, canonical);
    str = vh_pci_address_to_string(&addr);
    assert_string_equal(str, canonical);
    assert_true(vh_pci_address_is_valid(text));
}

static void
test_valid(void **state)
{
    check_valid("0000:3b:00.0", "0000:3b:00.0", 0, 0x3b, 0, 0);
    check_valid("0000:3B:00.1", "0000:3b:00.1", 0, 0x3b, 0, 1);
    check_valid("ABCD:EF:1F.7", "abcd:ef:1f.7", 0xabcd, 0xef, 0x1f, 7);
    check_valid("ffff:ff:1f.7", "ffff:ff:1f.7", 0xffff, 0xff, 0x1f, 7);
    check_valid("0001:00:00.0", "0001:00:00.0", 1, 0, 0, 0);
    check_valid("0000:41:00.4", "0000:41:00.4", 0, 0x41, 0, 4);
    check_valid("0000:Af:0a.3", "0000:af:0a.3", 0, 0xaf, 0x0a, 3);
}

/* Every rejected string yields VH_ERROR_INVALID naming the string (escaped)
 * and leaves the output untouched. */
static void
check_invalid(const char *text, const char *shown)
{
    g_autoptr(GError) error = NULL;
    VhPciAddress addr = { 1, 2, 3, 4 };

    if (vh_pci_address_parse(text, &addr, &error))
        fail_msg("'%s' accepted as a PCI address", text ? text : "(null)");
    assert_vh_error(error, VH_ERROR_INVALID, shown);
    assert_contains(error->message, "is not a PCI address");
    assert_contains(error->message, "DDDD:BB:SS.F");
    assert_int_equal(addr.domain, 1);
    assert_int_equal(addr.bus, 2);
    assert_int_equal(addr.slot, 3);
    assert_int_equal(addr.function, 4);
    assert_false(vh_pci_address_is_valid(text));
}

static void
test_invalid(void **state)
{
    check_invalid("", "''");
    check_invalid(NULL, "'(null)'");
    check_invalid("3b:00.0", "'3b:00.0'");             /* domain required */
    check_invalid("00:3b:00.0", "'00:3b:00.0'");
    check_invalid("00000:3b:00.0", "'00000:3b:00.0'");
    check_invalid("0000:3b:00", "'0000:3b:00'");
    check_invalid("0000:3b:00.", "'0000:3b:00.'");
    check_invalid("0000:3b:0.0", "'0000:3b:0.0'");
    check_invalid("0000:3b:00.00", "'0000:3b:00.00'");
    check_invalid("0000:3b:20.0", "'0000:3b:20.0'");   /* slot > 0x1f */
    check_invalid("0000:3b:ff.0", "'0000:3b:ff.0'");
    check_invalid("0000:3b:00.8", "'0000:3b:00.8'");   /* function > 7 */
    check_invalid("0000:3b:00.f", "'0000:3b:00.f'");
    check_invalid("0000-3b-00.0", "'0000-3b-00.0'");
    check_invalid("0000:3b.00:0", "'0000:3b.00:0'");
    check_invalid("0000:3g:00.0", "'0000:3g:00.0'");
    check_invalid("000z:3b:00.0", "'000z:3b:00.0'");
}

static void
test_hostile(void **state)
{
    g_autofree char *long_text = g_strnfill(200, 'a');
    g_autoptr(GError) error = NULL;
    VhPciAddress addr;

    check_invalid("../../", "'../../'");
    check_invalid("0000:3b:00.0/../x", "'0000:3b:00.0/../x'");
    check_invalid("../3b:00.0/", "'../3b:00.0/'");
    check_invalid("0000:3b:00.0/", "'0000:3b:00.0/'");
    check_invalid("/000:3b:00.0", "'/000:3b:00.0'");
    check_invalid(" 0000:3b:00.0", "' 0000:3b:00.0'");
    check_invalid("0000:3b:00.0 ", "'0000:3b:00.0 '");
    check_invalid("000 :3b:00.0", "'000 :3b:00.0'");
    check_invalid("0000: 3b:00.0", "'0000: 3b:00.0'");
    check_invalid("0x00:3b:00.0", "'0x00:3b:00.0'");
    check_invalid("0000:0x:00.0", "'0000:0x:00.0'");
    check_invalid("0x0000:3b:00.0", "'0x0000:3b:00.0'");
    check_invalid("+000:3b:00.0", "'+000:3b:00.0'");
    check_invalid("-000:3b:00.0", "'-000:3b:00.0'");
    /* Control and high bytes are shown escaped, never raw. */
    check_invalid("0000:3b:00.0\n", "'0000:3b:00.0\\n'");
    check_invalid("0000:3b:00\n0", "'0000:3b:00\\n0'");
    check_invalid("0000:3b:00.\t", "'0000:3b:00.\\t'");
    check_invalid("0000:3b:00.\xff", "'0000:3b:00.\\377'");
    check_invalid("0000:3b:00.0\033[2J", "'0000:3b:00.0\\033[2J'");
    /* An embedded NUL ends the string: what is left is too short. */
    check_invalid("0000:3b\0:00.0", "'0000:3b'");

    /* A very long string is cut, not copied whole into the message. */
    assert_false(vh_pci_address_parse(long_text, &addr, &error));
    assert_vh_error(error, VH_ERROR_INVALID, "'aaaaaaaaaa");
    assert_contains(error->message, "...'");
    assert_true(strlen(error->message) < 200);
}

static void
test_equal(void **state)
{
    VhPciAddress a, b, c;

    assert_true(vh_pci_address_parse("0000:3b:00.0", &a, NULL));
    assert_true(vh_pci_address_parse("0000:3B:00.0", &b, NULL));
    assert_true(vh_pci_address_parse("0000:3b:00.1", &c, NULL));
    assert_true(vh_pci_address_equal(&a, &b));
    assert_false(vh_pci_address_equal(&a, &c));
    assert_int_equal(VH_PCI_ADDRESS_STRLEN, strlen("0000:3b:00.0") + 1);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_equal),
    };

    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

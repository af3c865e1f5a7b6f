/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-domain: the domain XML contract (xml-templates/, vh-domain.h: parsing, every refusal,
 * hostile documents) and rewriting, checked against golden files
 * (tests/golden/NAME.in.xml -> NAME.out.xml) so that a change in what is
 * preserved shows up as a diff. Set VH_UPDATE_GOLDEN=1 to rewrite the .out
 * files after an intended change, then review the diff. */
#include "test-common.h"
#include "vh-domain-backend.h"

#include <libxml/tree.h>

/* ---- the two readers agree ---------------------------------------------- */
/* Every document of this file goes through both readers (vh_domain_parse,
 * libxml2, and vh_domain_read, GMarkup: the hook's): the same verdict, the
 * same refusal (word for word, but for the parser's own account of a
 * document that is not well formed), the same model. */

/* Position of @node among the element children of its <devices>, -1 none. */
static int
hostdev_index(const VhDomain *domain, gpointer node)
{
    const VhDomainBackend *b = domain->backend;
    gpointer devices = vh_domain_child(b, b->root(domain->doc), "devices");
    int i = 0;

    for (gpointer c = devices ? b->first_child(devices) : NULL; c; c = b->next(c), i++) {
        if (c == node)
            return i;
    }
    return -1;
}

/* What the rest of the library reads of a device, as one line. */
static char *
device_summary(const VhDomain *domain, const VhDomainDevice *dev)
{
    g_autofree char *pci = vh_domain_device_pci_address(dev);
    g_autofree char *mdev = vh_domain_device_mdev_uuid(dev);

    return g_strdup_printf("alias=%s resource=%s address=%s numa=%d display=%d hostdev=%d "
                           "pci=%s mdev=%s", dev->alias, dev->resource ? dev->resource : "-",
                           dev->want_address ? dev->want_address : "-", dev->want_numa,
                           dev->display, hostdev_index(domain, dev->hostdev), pci ? pci : "-",
                           mdev ? mdev : "-");
}

static char *
domain_summary(VhDomain *domain)
{
    GString *out = g_string_new(NULL);
    g_autoptr(GPtrArray) plain = vh_domain_plain_pci_hostdevs(domain);
    g_autoptr(GError) error = NULL;

    g_string_append_printf(out, "name=%s uuid=%s\n", domain->name,
                           domain->uuid ? domain->uuid : "-");
    for (guint i = 0; i < domain->devices->len; i++) {
        g_autofree char *line = device_summary(domain, g_ptr_array_index(domain->devices, i));
        g_string_append_printf(out, "device %s\n", line);
    }
    for (guint i = 0; i < plain->len; i++) {
        g_autofree char *line = device_summary(domain, g_ptr_array_index(plain, i));
        g_string_append_printf(out, "plain %s\n", line);
    }
    if (!vh_domain_check_distinct_sources(domain, &error))
        g_string_append_printf(out, "sources: %s\n", error->message);
    return g_string_free(out, FALSE);
}

/* A refusal of the document as XML (the two parsers may find different
 * first faults), not of what it says. */
static gboolean
not_well_formed(const GError *error)
{
    return g_str_has_prefix(error->message, "domain XML is not well formed") ||
           g_str_has_prefix(error->message, "domain XML has a DOCTYPE") ||
           g_str_has_prefix(error->message, "domain XML declares encoding");
}

/* Both readers on @xml: assert they agree; the libxml2 reader's result. */
static VhDomain *
parse_both(const char *xml, gsize len, GError **error)
{
    g_autoptr(GError) xml_error = NULL, markup_error = NULL;
    VhDomain *by_xml = vh_domain_parse(xml, len, &xml_error);
    g_autoptr(VhDomain) by_markup = vh_domain_read(xml, len, &markup_error);

    if ((by_xml == NULL) != (by_markup == NULL))
        fail_msg("the readers disagree: libxml2 %s, GMarkup %s\n---\n%.2000s---",
                 xml_error ? xml_error->message : "accepts",
                 markup_error ? markup_error->message : "accepts", xml);
    if (by_xml == NULL) {
        assert_int_equal(xml_error->domain, markup_error->domain);
        assert_int_equal(xml_error->code, markup_error->code);
        assert_int_equal(not_well_formed(xml_error), not_well_formed(markup_error));
        if (!not_well_formed(xml_error))
            assert_string_equal(xml_error->message, markup_error->message);
        g_propagate_error(error, g_steal_pointer(&xml_error));
        return NULL;
    }
    {
        g_autofree char *a = domain_summary(by_xml);
        g_autofree char *b = domain_summary(by_markup);
        if (strcmp(a, b) != 0)
            fail_msg("the readers disagree on the model:\nlibxml2:\n%sGMarkup:\n%s---\n%.2000s---",
                     a, b, xml);
    }
    return by_xml;
}

/* From here on, each vh_domain_parse() of this file is checked against the
 * other reader. */
#define vh_domain_parse parse_both

#define UUID_A "6d5b1b8c-1f7e-4a51-9a53-4b0e6d0f4c11"
#define UUID_B "0f0e8a2a-5b3c-4c4d-8e9f-a0b1c2d3e4f5"

/* ---- helpers ------------------------------------------------------------ */

/* A domain named @name with @meta inside <vgpu:devices> and @devices inside
 * <devices>. */
static char *
domain_xml(const char *name, const char *meta, const char *devices)
{
    return g_strdup_printf("<domain type='kvm'>\n"
                           "  <name>%s</name>\n"
                           "  <metadata>\n"
                           "    <vgpu:devices xmlns:vgpu=\"urn:vgpu-hook:1\">\n"
                           "      %s\n"
                           "    </vgpu:devices>\n"
                           "  </metadata>\n"
                           "  <devices>\n"
                           "    %s\n"
                           "  </devices>\n"
                           "</domain>\n",
                           name, meta, devices);
}

#define HOSTDEV(alias) \
    "<hostdev mode='subsystem' type='pci' managed='no'><alias name='" alias "'/></hostdev>"
#define META(attrs) "<vgpu:device " attrs "/>"

static VhDomain *
parse_ok(const char *xml)
{
    g_autoptr(GError) error = NULL;
    VhDomain *domain = vh_domain_parse(xml, strlen(xml), &error);

    if (domain == NULL)
        fail_msg("refused: %s\n---\n%s---", error->message, xml);
    return domain;
}

/* @xml is refused with @code and a message containing @needle; the message
 * is returned (to check what it must not contain). */
static char *
parse_fails(const char *xml, gsize len, VhErrorCode code, const char *needle)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VhDomain) domain = vh_domain_parse(xml, len, &error);

    if (domain != NULL)
        fail_msg("accepted, expected an error containing \"%s\"\n---\n%s---", needle, xml);
    assert_vh_error(error, code, needle);
    return g_strdup(error->message);
}

static void
refused(const char *xml, VhErrorCode code, const char *needle)
{
    g_autofree char *msg = parse_fails(xml, strlen(xml), code, needle);
}

static void
refused_meta(const char *meta, const char *devices, VhErrorCode code, const char *needle)
{
    g_autofree char *xml = domain_xml("vm1", meta, devices);

    refused(xml, code, needle);
}

static VhDomainDevice *
device_by_alias(VhDomain *domain, const char *alias)
{
    for (guint i = 0; i < domain->devices->len; i++) {
        VhDomainDevice *dev = g_ptr_array_index(domain->devices, i);
        if (strcmp(dev->alias, alias) == 0)
            return dev;
    }
    fail_msg("no device with alias %s", alias);
    return NULL;
}

static char *
xml_prop(xmlNodePtr node, const char *name)
{
    xmlChar *value = xmlGetProp(node, BAD_CAST name);
    char *copy = value ? g_strdup((const char *)value) : NULL;

    xmlFree(value);
    return copy;
}

#define assert_prop(node, name, expected)                                          \
    do {                                                                           \
        g_autofree char *v_ = xml_prop((node), (name));                            \
        const char *e_ = (expected);                                               \
        if (g_strcmp0(v_, e_) != 0)                                                \
            fail_msg("attribute %s is '%s', expected '%s'", (name), v_ ? v_ : "(none)", \
                     e_ ? e_ : "(none)");                                          \
    } while (0)

static char *
source_path(const char *rel)
{
    const char *top = g_getenv("top_srcdir");

    /* make check exports a relative top_srcdir; a test run by hand from
     * anywhere falls back to the absolute one compiled in. */
    if (top == NULL || !g_file_test(top, G_FILE_TEST_IS_DIR))
        top = VH_TEST_SRCDIR;
    return g_build_filename(top, rel, NULL);
}

/* ---- the contract ------------------------------------------------------- */

static void
test_contract(void **state)
{
    g_autofree char *xml = domain_xml("vm1",
                                      META("alias=\"ua-gpu0\" resource=\"nvidia.com/L40S-24Q\""),
                                      HOSTDEV("ua-gpu0"));
    g_autoptr(VhDomain) domain = parse_ok(xml);
    const VhDomainDevice *dev;

    assert_string_equal(domain->name, "vm1");
    assert_null(domain->uuid);
    assert_int_equal(domain->devices->len, 1);
    dev = g_ptr_array_index(domain->devices, 0);
    assert_string_equal(dev->alias, "ua-gpu0");
    assert_string_equal(dev->resource, "nvidia.com/L40S-24Q");
    assert_null(dev->want_address);
    assert_int_equal(dev->want_numa, -1);
    assert_false(dev->display);
    assert_non_null(dev->meta);
    assert_non_null(dev->hostdev);
    assert_string_equal((const char *)((xmlNodePtr)dev->hostdev)->name, "hostdev");
    assert_null(vh_domain_device_pci_address(dev));
    assert_null(vh_domain_device_mdev_uuid(dev));
}

static void
test_all_attributes(void **state)
{
    g_autofree char *xml = domain_xml(
        "  multi ",
        META("alias='ua-a' resource='nvidia.com/L40S-24Q' numa='1' address='0000:41:00.5'")
        META("alias='ua-B_2' resource='nvidia.com/GRID_T4-2Q' display='on'")
        META("alias='ua-c' resource='example.com/a10' display='off' numa='1023'"),
        HOSTDEV("ua-c") HOSTDEV("ua-a")
        "<hostdev mode='subsystem' type='mdev' model='vfio-pci'><alias name='ua-B_2'/></hostdev>");
    g_autoptr(VhDomain) domain = parse_ok(xml);
    const VhDomainDevice *a, *b, *c;

    /* libvirt keeps a <name> as written: so do we (a trimmed name would
     * name another domain's pid file). */
    assert_string_equal(domain->name, "  multi ");
    assert_int_equal(domain->devices->len, 3);
    a = g_ptr_array_index(domain->devices, 0);
    b = g_ptr_array_index(domain->devices, 1);
    c = g_ptr_array_index(domain->devices, 2);
    assert_string_equal(a->alias, "ua-a");
    assert_string_equal(a->want_address, "0000:41:00.5");
    assert_int_equal(a->want_numa, 1);
    assert_false(a->display);
    assert_string_equal(b->alias, "ua-B_2");
    assert_true(b->display);
    assert_int_equal(b->want_numa, -1);
    assert_string_equal(c->resource, "example.com/a10");
    assert_false(c->display);
    assert_int_equal(c->want_numa, 1023);
    /* Each is linked to its own hostdev, whatever the order in <devices>. */
    assert_ptr_not_equal(a->hostdev, c->hostdev);
    assert_prop(b->hostdev, "type", "mdev");
}

/* address= is kept in canonical form, so comparisons with sysfs names work. */
static void
test_address_canonical(void **state)
{
    g_autofree char *xml = domain_xml(
        "vm1", META("alias='ua-a' resource='nvidia.com/A10' address='0000:3B:00.0'"),
        HOSTDEV("ua-a"));
    g_autoptr(VhDomain) domain = parse_ok(xml);

    assert_string_equal(device_by_alias(domain, "ua-a")->want_address, "0000:3b:00.0");
}

static void
test_uuid(void **state)
{
    const char *xml = "<domain><name>vm1</name><uuid> 6D5B1B8C-1F7E-4A51-9A53-4B0E6D0F4C11 "
                      "</uuid></domain>";
    g_autoptr(VhDomain) domain = parse_ok(xml);

    /* Canonical lower case: lease files and comparisons use it. */
    assert_string_equal(domain->uuid, UUID_A);
    assert_int_equal(domain->devices->len, 0);

    refused("<domain><name>vm1</name><uuid>not-a-uuid</uuid></domain>", VH_ERROR_INVALID,
            "domain 'vm1': <uuid> 'not-a-uuid' is not a UUID like");
    /* libvirt takes UUIDs without dashes; we need the canonical form. */
    refused("<domain><name>vm1</name><uuid>6d5b1b8c1f7e4a519a534b0e6d0f4c11</uuid></domain>",
            VH_ERROR_INVALID, "is not a UUID");
    refused("<domain><name>vm1</name><uuid>" UUID_A "0</uuid></domain>", VH_ERROR_INVALID,
            "is not a UUID");
    refused("<domain><name>vm1</name><uuid>6d5b1b8c-1f7e-4a51-9a53-4b0e6d0f4c1g</uuid></domain>",
            VH_ERROR_INVALID, "is not a UUID");
    refused("<domain><name>vm1</name><uuid></uuid></domain>", VH_ERROR_INVALID, "is not a UUID");
}

/* A domain without named devices parses (the hook sees every domain). */
static void
test_no_named_devices(void **state)
{
    g_autoptr(VhDomain) plain = parse_ok(
        "<domain type='kvm'><name>plain</name><devices>"
        "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0x3b' "
        "slot='0' function='0'/></source><alias name='ua-own'/></hostdev>"
        "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0x86' "
        "slot='0' function='0'/></source></hostdev>"
        "</devices></domain>");
    /* metadata in other namespaces, and a "devices" element that is not ours */
    g_autoptr(VhDomain) foreign = parse_ok(
        "<domain><name>f</name><metadata>"
        "<x:devices xmlns:x='urn:example:x'><x:device alias='bad' resource='bad'/></x:devices>"
        "<devices><device alias='bad' resource='bad'/></devices>"
        "</metadata></domain>");

    assert_int_equal(plain->devices->len, 0);
    assert_int_equal(foreign->devices->len, 0);
}

/* Two blocks in our namespace: the second one's devices would go unmanaged. */
static void
test_two_blocks(void **state)
{
    refused("<domain><name>vm1</name><metadata>"
            "<vgpu:devices xmlns:vgpu='urn:vgpu-hook:1'>"
            "<vgpu:device alias='ua-a' resource='nvidia.com/x'/></vgpu:devices>"
            "<v2:devices xmlns:v2='urn:vgpu-hook:1'>"
            "<v2:device alias='ua-b' resource='nvidia.com/y'/></v2:devices>"
            "</metadata><devices>" HOSTDEV("ua-a") HOSTDEV("ua-b") "</devices></domain>",
            VH_ERROR_INVALID,
            "domain 'vm1': <metadata> has more than one <devices> block in namespace "
            "urn:vgpu-hook:1; put all <vgpu:device> elements into one");
}

/* A <device> of another namespace inside our block is not ours. */
static void
test_foreign_namespace_device(void **state)
{
    g_autoptr(VhDomain) domain = parse_ok(
        "<domain><name>vm1</name><metadata>"
        "<vgpu:devices xmlns:vgpu='urn:vgpu-hook:1' xmlns:x='urn:example:other'>"
        "<x:device alias='ua-a' resource='nvidia.com/x'/>"
        "<device alias='ua-b' resource='nvidia.com/y'/>"
        "<vgpu:device alias='ua-c' resource='nvidia.com/z'/></vgpu:devices>"
        "</metadata><devices>" HOSTDEV("ua-c") "</devices></domain>");

    assert_int_equal(domain->devices->len, 1);
    assert_string_equal(((VhDomainDevice *)g_ptr_array_index(domain->devices, 0))->alias, "ua-c");
}

/* The hook and rewrite share one rule: two hostdevs never point at one
 * device (PCI function or mdev), named or plain. */
static void
test_distinct_sources(void **state)
{
#define AT(alias, fn)                                                                   \
    "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0x41' "      \
    "slot='0' function='" fn "'/></source><alias name='" alias "'/></hostdev>"
#define MDEV_AT(alias)                                                                  \
    "<hostdev mode='subsystem' type='mdev'><source><address "                           \
    "uuid='6D5B1B8C-1F7E-4A51-9A53-4B0E6D0F4C11'/></source><alias name='" alias "'/></hostdev>"
    g_autoptr(GError) error = NULL;
    g_autofree char *same_xml = domain_xml("vm1",
        META("alias='ua-a' resource='nvidia.com/x'") META("alias='ua-b' resource='nvidia.com/x'"),
        AT("ua-a", "4") AT("ua-b", "0x4"));
    g_autofree char *plain_xml = domain_xml("vm1", META("alias='ua-a' resource='nvidia.com/x'"),
        AT("ua-a", "4") AT("ua-other", "4"));
    g_autofree char *mdev_xml = domain_xml("vm1",
        META("alias='ua-a' resource='nvidia.com/x'") META("alias='ua-b' resource='nvidia.com/x'"),
        MDEV_AT("ua-a") MDEV_AT("ua-b"));
    g_autofree char *fine_xml = domain_xml("vm1",
        META("alias='ua-a' resource='nvidia.com/x'") META("alias='ua-b' resource='nvidia.com/x'"),
        AT("ua-a", "4") AT("ua-b", "5"));
    g_autoptr(VhDomain) same = parse_ok(same_xml);
    g_autoptr(VhDomain) plain = parse_ok(plain_xml);
    g_autoptr(VhDomain) mdev = parse_ok(mdev_xml);
    g_autoptr(VhDomain) fine = parse_ok(fine_xml);

    assert_false(vh_domain_check_distinct_sources(same, &error));
    assert_vh_error(error, VH_ERROR_INVALID,
                    "domain 'vm1': <hostdev> 'ua-a' and 'ua-b' both point at 0000:41:00.4");
    g_clear_error(&error);
    assert_false(vh_domain_check_distinct_sources(plain, &error));
    assert_vh_error(error, VH_ERROR_INVALID, "'ua-a' and 'ua-other' both point at 0000:41:00.4");
    g_clear_error(&error);
    assert_false(vh_domain_check_distinct_sources(mdev, &error));
    assert_vh_error(error, VH_ERROR_INVALID, "both point at 6d5b1b8c-1f7e-4a51-9a53-4b0e6d0f4c11");
    g_clear_error(&error);
    assert_true(vh_domain_check_distinct_sources(fine, &error));
    assert_no_error(error);
#undef AT
#undef MDEV_AT
}

/* ---- refusals ------------------------------------------------------------- */

static void
test_not_well_formed(void **state)
{
    /* The first error is reported, not what libxml2 says at the end of the
     * file after it (line 5: "Premature end of data"). */
    refused("<domain>\n  <name>vm1</name>\n  <devices>\n</domain>\n", VH_ERROR_INVALID,
            "domain XML is not well formed: line 4: Opening and ending tag mismatch: devices "
            "line 3 and domain");
    refused("<domain>\n<name>a & b</name>\n</domain>", VH_ERROR_INVALID,
            "not well formed: line 2: xmlParseEntityRef: no name");
    refused("<domain>\n<name>vm1</name>\n<memory unit='GiB'>8</memory x>\n</domain>",
            VH_ERROR_INVALID, "not well formed: line 3:");
    refused("", VH_ERROR_INVALID, "not well formed");
    refused("just text", VH_ERROR_INVALID, "not well formed: line 1");
    refused("<domain><name>a</name></domain><domain/>", VH_ERROR_INVALID, "not well formed");
    /* Undefined entity and a stray NUL byte */
    refused("<domain><name>&nope;</name></domain>", VH_ERROR_INVALID, "not well formed");
    {
        static const char nul[] = "<domain><name>a\0b</name></domain>";
        g_autofree char *msg = parse_fails(nul, sizeof(nul) - 1, VH_ERROR_INVALID,
                                           "not well formed");
    }
}

static void
test_root_not_domain(void **state)
{
    refused("<network><name>default</name></network>", VH_ERROR_INVALID,
            "not a libvirt domain: root element is <network>");
    refused("<!-- only a comment --><domains><name>a</name></domains>", VH_ERROR_INVALID,
            "not a libvirt domain: root element is <domains>");
}

/* libvirt's rules: not empty, no '/', no newline; the name as written. */
static void
test_bad_name(void **state)
{
    g_autofree char *long_name = g_strnfill(VH_DOMAIN_NAME_MAX + 1, 'a');
    g_autofree char *max_name = g_strnfill(VH_DOMAIN_NAME_MAX, 'b');
    g_autofree char *xml_long = g_strdup_printf("<domain><name>%s</name></domain>", long_name);
    g_autofree char *xml_max = g_strdup_printf("<domain><name>%s</name></domain>", max_name);
    g_autoptr(VhDomain) max = NULL;
    const char *kept[] = { "   ", " vm", "vm ", ".", "..", "vm\tone", "a\x7f" "b" };

    refused("<domain type='kvm'><memory>1</memory></domain>", VH_ERROR_INVALID,
            "domain <name> '' is missing or not usable");
    refused("<domain><name></name></domain>", VH_ERROR_INVALID, "is missing or not usable");
    refused("<domain><name>../../etc/passwd</name></domain>", VH_ERROR_INVALID,
            "'../../etc/passwd' is missing or not usable (libvirt's rules: not empty, no '/', "
            "no newline;");
    refused("<domain><name>a/b</name></domain>", VH_ERROR_INVALID, "'a/b' is missing");
    /* ESC is not even allowed in XML 1.0 */
    refused("<domain><name>vm&#x1b;[31mred</name></domain>", VH_ERROR_INVALID,
            "not well formed: line 1: xmlParseCharRef: invalid xmlChar value 27");
    /* a newline is shown escaped, not echoed raw */
    refused("<domain><name>a\nb</name></domain>", VH_ERROR_INVALID, "'a\\nb' is missing");
    refused("<domain><name> a\n</name></domain>", VH_ERROR_INVALID, "is missing");
    refused(xml_long, VH_ERROR_INVALID, "bytes)");
    max = parse_ok(xml_max);
    assert_string_equal(max->name, max_name);
    for (guint i = 0; i < G_N_ELEMENTS(kept); i++) {
        g_autofree char *escaped = g_markup_escape_text(kept[i], -1);
        g_autofree char *xml = g_strdup_printf("<domain><name>%s</name></domain>", escaped);
        g_autoptr(VhDomain) d = parse_ok(xml);
        assert_string_equal(d->name, kept[i]);
    }
    {
        /* Non-ASCII names are fine (libvirt allows them). */
        g_autoptr(VhDomain) utf8 = parse_ok("<domain><name>gpu-Grüße</name></domain>");
        assert_string_equal(utf8->name, "gpu-Grüße");
    }
}

static void
test_doctype_internal_entity(void **state)
{
    refused("<!DOCTYPE domain [<!ENTITY n \"vm1\">]>\n<domain><name>&n;</name></domain>",
            VH_ERROR_INVALID, "has a DOCTYPE: refused");
    /* Even an empty internal subset or an unused declaration. */
    refused("<!DOCTYPE domain []><domain><name>vm1</name></domain>", VH_ERROR_INVALID,
            "DOCTYPE");
    refused("<!DOCTYPE domain><domain><name>vm1</name></domain>", VH_ERROR_INVALID, "DOCTYPE");
}

static void
test_external_entity(void **state)
{
    g_autofree char *passwd = NULL;
    const char *leaks[] = { "root:", "/bin/", "nologin" };
    const char *docs[] = {
        "<!DOCTYPE domain [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
        "<domain><name>vm1</name><description>&xxe;</description></domain>",
        "<!DOCTYPE domain [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>\n"
        "<domain><name>&xxe;</name></domain>",
        "<!DOCTYPE domain SYSTEM \"file:///etc/passwd\">\n<domain><name>vm1</name></domain>",
        "<!DOCTYPE domain [<!ENTITY % p SYSTEM \"file:///etc/passwd\"> %p;]>\n"
        "<domain><name>vm1</name></domain>",
        "<!DOCTYPE domain [<!ENTITY xxe SYSTEM \"http://127.0.0.1:9/x\">]>\n"
        "<domain><name>&xxe;</name></domain>",
    };

    assert_true(g_file_get_contents("/etc/passwd", &passwd, NULL, NULL));
    assert_contains(passwd, "root:");
    for (guint i = 0; i < G_N_ELEMENTS(docs); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VhDomain) domain = vh_domain_parse(docs[i], strlen(docs[i]), &error);
        if (domain != NULL)
            fail_msg("accepted: %s", docs[i]);
        assert_int_equal(error->domain, VH_ERROR);
        assert_int_equal(error->code, VH_ERROR_INVALID);
        for (guint j = 0; j < G_N_ELEMENTS(leaks); j++)
            assert_not_contains(error->message, leaks[j]);
    }
}

/* XInclude is never processed: the element stays an unknown element. */
static void
test_xinclude_not_processed(void **state)
{
    const char *xml = "<domain><name>vm1</name><description>"
                      "<xi:include xmlns:xi='http://www.w3.org/2001/XInclude' "
                      "href='file:///etc/passwd' parse='text'/></description></domain>";
    g_autoptr(VhDomain) domain = parse_ok(xml);
    g_autofree char *out = vh_domain_to_string(domain);

    assert_contains(out, "href=\"file:///etc/passwd\"");
    assert_not_contains(out, "root:");
}

static void
test_billion_laughs(void **state)
{
    GString *xml = g_string_new("<?xml version='1.0'?>\n<!DOCTYPE domain [\n"
                                "<!ENTITY l0 \"lol\">\n");
    g_autoptr(GError) error = NULL;
    g_autoptr(VhDomain) domain = NULL;
    gint64 start;
    g_autofree char *text = NULL;

    for (int i = 1; i <= 12; i++) {
        g_string_append_printf(xml, "<!ENTITY l%d \"", i);
        for (int j = 0; j < 10; j++)
            g_string_append_printf(xml, "&l%d;", i - 1);
        g_string_append(xml, "\">\n");
    }
    g_string_append(xml, "]>\n<domain><name>vm1</name><description>&l12;</description>"
                         "<title>&l12;&l12;&l12;</title></domain>\n");
    text = g_string_free(xml, FALSE);
    start = g_get_monotonic_time();
    domain = vh_domain_parse(text, strlen(text), &error);
    assert_null(domain);
    assert_int_equal(error->domain, VH_ERROR);
    assert_int_equal(error->code, VH_ERROR_INVALID);
    /* 10^12 "lol"s if expanded; refused long before that (generous bound
     * for valgrind). */
    if (g_get_monotonic_time() - start > 2 * G_USEC_PER_SEC)
        fail_msg("entity bomb took %.1f s to refuse",
                 (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC);
}

/* One big entity used many times: nothing is expanded, so this is cheap,
 * and refused for its DOCTYPE. */
static void
test_quadratic_blowup(void **state)
{
    g_autofree char *value = g_strnfill(50000, 'a');
    GString *xml = g_string_new(NULL);
    g_autofree char *text = NULL;
    gint64 start;

    g_string_append_printf(xml, "<!DOCTYPE domain [<!ENTITY a \"%s\">]>\n<domain><name>vm1"
                                "</name><description>", value);
    for (int i = 0; i < 100000; i++)
        g_string_append(xml, "&a;");
    g_string_append(xml, "</description></domain>\n");
    text = g_string_free(xml, FALSE);
    assert_true(strlen(text) < VH_DOMAIN_MAX_SIZE);
    start = g_get_monotonic_time();
    {
        g_autofree char *msg = parse_fails(text, strlen(text), VH_ERROR_INVALID, "DOCTYPE");
    }
    if (g_get_monotonic_time() - start > 5 * G_USEC_PER_SEC)
        fail_msg("quadratic blowup took %.1f s to refuse",
                 (double)(g_get_monotonic_time() - start) / G_USEC_PER_SEC);
}

static void
test_too_large(void **state)
{
    gsize len = VH_DOMAIN_MAX_SIZE + 1;
    g_autofree char *big = g_malloc(len);
    g_autofree char *msg = NULL;
    g_autofree char *expected = g_strdup_printf("domain XML is %" G_GSIZE_FORMAT
                                                " bytes, more than the %d allowed",
                                                len, VH_DOMAIN_MAX_SIZE);
    const char *head = "<domain><name>big</name><description>";
    const char *tail = "</description></domain>";

    /* Garbage all through: a size error (not a syntax error) shows it was
     * refused before any parsing. */
    memset(big, 'x', len);
    msg = parse_fails(big, len, VH_ERROR_INVALID, expected);
    assert_not_contains(msg, "well formed");
    g_clear_pointer(&msg, g_free);

    /* A well-formed document one byte too large, too. */
    memcpy(big, head, strlen(head));
    memcpy(big + len - strlen(tail), tail, strlen(tail));
    msg = parse_fails(big, len, VH_ERROR_INVALID, "more than the 4194304 allowed");
    g_clear_pointer(&msg, g_free);

    /* ... and exactly the limit is fine. */
    memcpy(big + len - 1 - strlen(tail), tail, strlen(tail));
    {
        g_autoptr(GError) error = NULL;
        g_autoptr(VhDomain) domain = vh_domain_parse(big, len - 1, &error);
        assert_no_error(error);
        assert_string_equal(domain->name, "big");
    }
}

static void
test_bad_alias(void **state)
{
    refused_meta(META("alias='gpu0' resource='nvidia.com/L40S-24Q'"), HOSTDEV("gpu0"),
                 VH_ERROR_INVALID,
                 "domain 'vm1': <vgpu:device> alias 'gpu0' is not a user alias: it must start "
                 "with 'ua-' and use only letters, digits, '-' and '_'");
    refused_meta(META("alias='hostdev0' resource='nvidia.com/L40S-24Q'"), HOSTDEV("hostdev0"),
                 VH_ERROR_INVALID, "alias 'hostdev0' is not a user alias");
    refused_meta(META("resource='nvidia.com/L40S-24Q'"), HOSTDEV("ua-x"), VH_ERROR_INVALID,
                 "alias '(missing)' is not a user alias");
    refused_meta(META("alias='ua-' resource='nvidia.com/L40S-24Q'"), HOSTDEV("ua-"),
                 VH_ERROR_INVALID, "alias 'ua-' is not a user alias");
    refused_meta(META("alias='UA-gpu' resource='nvidia.com/L40S-24Q'"), HOSTDEV("UA-gpu"),
                 VH_ERROR_INVALID, "is not a user alias");
    refused_meta(META("alias='ua-gpu/0' resource='nvidia.com/L40S-24Q'"), HOSTDEV("ua-gpu/0"),
                 VH_ERROR_INVALID, "alias 'ua-gpu/0' is not a user alias");
    refused_meta(META("alias='ua-gpu 0' resource='nvidia.com/L40S-24Q'"), HOSTDEV("ua-gpu 0"),
                 VH_ERROR_INVALID, "is not a user alias");
    refused_meta(META("alias='ua-gpu.0' resource='nvidia.com/L40S-24Q'"), HOSTDEV("ua-gpu.0"),
                 VH_ERROR_INVALID, "is not a user alias");
    refused_meta(META("alias='ua-../../x' resource='nvidia.com/L40S-24Q'"), HOSTDEV("ua-x"),
                 VH_ERROR_INVALID, "is not a user alias");
    refused_meta(META("alias='ua-gpü' resource='nvidia.com/L40S-24Q'"), HOSTDEV("ua-gpü"),
                 VH_ERROR_INVALID, "is not a user alias");
    {
        /* 64 characters are fine, 65 are not */
        g_autofree char *tail = g_strnfill(61, 'a');
        g_autofree char *ok = g_strconcat("ua-", tail, NULL);
        g_autofree char *too_long = g_strconcat(ok, "a", NULL);
        g_autofree char *m1 = g_strdup_printf(META("alias='%s' resource='nvidia.com/x'"), ok);
        g_autofree char *h1 = g_strdup_printf(HOSTDEV("%s"), ok);
        g_autofree char *x1 = domain_xml("vm1", m1, h1);
        g_autofree char *m2 = g_strdup_printf(META("alias='%s' resource='nvidia.com/x'"), too_long);
        g_autofree char *h2 = g_strdup_printf(HOSTDEV("%s"), too_long);
        g_autoptr(VhDomain) d1 = parse_ok(x1);
        refused_meta(m2, h2, VH_ERROR_INVALID, "is not a user alias");
    }
}

static void
test_duplicate_alias(void **state)
{
    refused_meta(META("alias='ua-gpu0' resource='nvidia.com/L40S-24Q'")
                 META("alias='ua-gpu0' resource='nvidia.com/L40S-12Q'"),
                 HOSTDEV("ua-gpu0"), VH_ERROR_INVALID,
                 "domain 'vm1': alias 'ua-gpu0' is named twice in <vgpu:devices>");
    refused_meta(META("alias='ua-gpu0' resource='nvidia.com/L40S-24Q'"),
                 HOSTDEV("ua-gpu0") HOSTDEV("ua-gpu0"), VH_ERROR_INVALID,
                 "domain 'vm1': two <hostdev> elements have alias 'ua-gpu0'");
}

static void
test_unlinked(void **state)
{
    refused_meta(META("alias='ua-gpu0' resource='nvidia.com/L40S-24Q'"), HOSTDEV("ua-gpu1"),
                 VH_ERROR_NOT_FOUND,
                 "domain 'vm1': <hostdev> with alias 'ua-gpu1' has no <source> and no "
                 "<vgpu:device alias='ua-gpu1' resource='...'/> in <metadata> names it");
    refused_meta(META("alias='ua-gpu0' resource='nvidia.com/L40S-24Q'"), "", VH_ERROR_NOT_FOUND,
                 "domain 'vm1': alias 'ua-gpu0' (resource nvidia.com/L40S-24Q) has no <hostdev> "
                 "with <alias name='ua-gpu0'/> in <devices>");
    /* an alias on something that is not a hostdev does not count */
    refused_meta(META("alias='ua-gpu0' resource='nvidia.com/L40S-24Q'"),
                 "<interface type='network'><alias name='ua-gpu0'/></interface>",
                 VH_ERROR_NOT_FOUND, "has no <hostdev> with <alias name='ua-gpu0'/>");
    /* a hostdev with a user alias and no metadata but with a <source> is the
     * user's own: fine */
    {
        g_autofree char *xml = domain_xml(
            "vm1", "",
            "<hostdev mode='subsystem' type='pci'><source><address domain='0' bus='0x3b' "
            "slot='0' function='0'/></source><alias name='ua-mine'/></hostdev>");
        g_autoptr(VhDomain) domain = parse_ok(xml);
        assert_int_equal(domain->devices->len, 0);
    }
}

static void
test_bad_resource(void **state)
{
    const char *bad[] = { "L40S-24Q", "/L40S-24Q", "nvidia.com/", "NVIDIA.com/L40S",
                          "nvidia.com/L40S 24Q", "nvidia.com/../../etc", "nvidia.com/a/b",
                          "", "nvidia.com/L40S;rm" };

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *meta = g_strdup_printf(META("alias='ua-gpu0' resource='%s'"), bad[i]);
        g_autofree char *needle = g_strdup_printf(
            "domain 'vm1', alias 'ua-gpu0': resource '%s' is not a resource name like "
            "nvidia.com/L40S-24Q", bad[i]);
        refused_meta(meta, HOSTDEV("ua-gpu0"), VH_ERROR_INVALID, needle);
    }
    refused_meta(META("alias='ua-gpu0'"), HOSTDEV("ua-gpu0"), VH_ERROR_INVALID,
                 "resource '(missing)' is not a resource name");
}

static void
test_bad_numa(void **state)
{
    const char *bad[] = { "-1", "x", "1024", "", " 1", "0x1", "1.0", "99999999999999999999" };

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *meta =
            g_strdup_printf(META("alias='ua-gpu0' resource='nvidia.com/L40S-24Q' numa='%s'"), bad[i]);
        refused_meta(meta, HOSTDEV("ua-gpu0"), VH_ERROR_INVALID,
                     "domain 'vm1', alias 'ua-gpu0': numa=");
        refused_meta(meta, HOSTDEV("ua-gpu0"), VH_ERROR_INVALID, "is not a NUMA node number");
    }
    {
        g_autofree char *xml = domain_xml(
            "vm1", META("alias='ua-gpu0' resource='nvidia.com/L40S-24Q' numa='0'"),
            HOSTDEV("ua-gpu0"));
        g_autoptr(VhDomain) domain = parse_ok(xml);
        assert_int_equal(device_by_alias(domain, "ua-gpu0")->want_numa, 0);
    }
}

static void
test_bad_display(void **state)
{
    const char *bad[] = { "yes", "ON", "1", "", "true" };

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *meta = g_strdup_printf(
            META("alias='ua-gpu0' resource='nvidia.com/GRID_T4-2Q' display='%s'"), bad[i]);
        g_autofree char *needle = g_strdup_printf(
            "domain 'vm1', alias 'ua-gpu0': display='%s' must be on or off", bad[i]);
        refused_meta(meta, HOSTDEV("ua-gpu0"), VH_ERROR_INVALID, needle);
    }
}

static void
test_hostile_address(void **state)
{
    const char *bad[] = { "../../", "0000:3b:00.0/../x", "0000:3b:00.0/", "../../../sys",
                          "3b:00.0", "0000:3b:00.8", "0000:3b:20.0", " 0000:3b:00.0",
                          "0000:3b:00.0\n", "" };

    for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *meta = g_strdup_printf(
            META("alias='ua-gpu0' resource='nvidia.com/GA102GL_A10' address='%s'"), bad[i]);
        g_autofree char *xml = domain_xml("vm1", meta, HOSTDEV("ua-gpu0"));
        g_autofree char *msg = parse_fails(xml, strlen(xml), VH_ERROR_INVALID,
                                           "domain 'vm1', alias 'ua-gpu0': '");
        assert_contains(msg, "is not a PCI address");
    }
    /* the text is shown escaped */
    refused_meta(META("alias='ua-gpu0' resource='nvidia.com/GA102GL_A10' "
                      "address='0000:3b:00.0&#10;'"),
                 HOSTDEV("ua-gpu0"), VH_ERROR_INVALID, "'0000:3b:00.0\\n' is not a PCI address");
}

static void
test_load_file(void **state)
{
    g_autofree char *dir = test_tmpdir_new();
    g_autofree char *good = g_build_filename(dir, "good.xml", NULL);
    g_autofree char *bad = g_build_filename(dir, "bad.xml", NULL);
    g_autofree char *missing = g_build_filename(dir, "missing.xml", NULL);
    g_autofree char *xml = domain_xml("vm1", META("alias='ua-gpu0' resource='nvidia.com/x'"),
                                      HOSTDEV("ua-gpu0"));
    g_autoptr(GError) error = NULL;
    g_autoptr(VhDomain) domain = NULL;
    g_autoptr(VhDomain) none = NULL;

    test_write_file(good, xml);
    test_write_file(bad, "<domain>\n<name>x</name>\n<uuid>zz</uuid></domain>");
    domain = vh_domain_load_file(good, &error);
    assert_no_error(error);
    assert_int_equal(domain->devices->len, 1);

    none = vh_domain_load_file(bad, &error);
    assert_null(none);
    assert_vh_error(error, VH_ERROR_INVALID, bad);
    assert_contains(error->message, ": domain 'x': <uuid> 'zz' is not a UUID");
    g_clear_error(&error);

    none = vh_domain_load_file(missing, &error);
    assert_null(none);
    assert_vh_error(error, VH_ERROR_NOT_FOUND, "cannot read");
    assert_contains(error->message, missing);
    g_clear_error(&error);
    test_rm_rf(dir);
}

/* ---- reading what a hostdev points at --------------------------------- */

static VhDomain *
domain_with_source(const char *address_attrs)
{
    g_autofree char *dev = g_strdup_printf(
        "<hostdev mode='subsystem' type='pci'><source><address %s/></source>"
        "<alias name='ua-gpu0'/></hostdev>", address_attrs);
    g_autofree char *xml = domain_xml("vm1", META("alias='ua-gpu0' resource='nvidia.com/x'"), dev);

    return parse_ok(xml);
}

static void
check_pci_source(const char *attrs, const char *expected)
{
    g_autoptr(VhDomain) domain = domain_with_source(attrs);
    g_autofree char *got = vh_domain_device_pci_address(g_ptr_array_index(domain->devices, 0));

    if (g_strcmp0(got, expected) != 0)
        fail_msg("<address %s/>: got %s, expected %s", attrs, got ? got : "NULL",
                 expected ? expected : "NULL");
}

static void
test_source_pci_address(void **state)
{
    check_pci_source("domain='0x0000' bus='0x3b' slot='0x00' function='0x0'", "0000:3b:00.0");
    check_pci_source("domain='0X0001' bus='0XAF' slot='0x1f' function='0x7'", "0001:af:1f.7");
    /* decimal, as libvirt accepts it */
    check_pci_source("domain='0' bus='59' slot='0' function='1'", "0000:3b:00.1");
    check_pci_source("domain='65535' bus='255' slot='31' function='7'", "ffff:ff:1f.7");
    /* the guest-side <address> under <hostdev> is not the source */
    check_pci_source("function='0x0' slot='0x02' bus='0x41' domain='0x0000'", "0000:41:02.0");
    /* out of range, malformed, missing */
    check_pci_source("domain='0x10000' bus='0x3b' slot='0x00' function='0x0'", NULL);
    check_pci_source("domain='0x0000' bus='0x100' slot='0x00' function='0x0'", NULL);
    check_pci_source("domain='0x0000' bus='256' slot='0x00' function='0x0'", NULL);
    check_pci_source("domain='0x0000' bus='0x3b' slot='0x20' function='0x0'", NULL);
    check_pci_source("domain='0x0000' bus='0x3b' slot='32' function='0x0'", NULL);
    check_pci_source("domain='0x0000' bus='0x3b' slot='0x00' function='8'", NULL);
    check_pci_source("domain='0x0000' bus='0x3b' slot='0x00' function='0x8'", NULL);
    check_pci_source("domain='0x0000' bus='-1' slot='0x00' function='0x0'", NULL);
    check_pci_source("domain='0x0000' bus='0x' slot='0x00' function='0x0'", NULL);
    check_pci_source("domain='0x0000' bus='' slot='0x00' function='0x0'", NULL);
    check_pci_source("domain='0x0000' bus=' 59' slot='0x00' function='0x0'", NULL);
    check_pci_source("domain='0x0000' bus='3b' slot='0x00' function='0x0'", NULL);
    check_pci_source("domain='0x0000' bus='0x3b' slot='0x00'", NULL);
    check_pci_source("bus='0x3b' slot='0x00' function='0x0'", NULL);
    check_pci_source("uuid='" UUID_A "'", NULL);

    {
        g_autoptr(VhDomain) domain = domain_with_source("uuid='6D5B1B8C-1F7E-4A51-9A53-4B0E6D0F4C11'");
        g_autoptr(VhDomain) bad = domain_with_source("uuid='../../x'");
        g_autofree char *uuid = vh_domain_device_mdev_uuid(g_ptr_array_index(domain->devices, 0));
        g_autofree char *none = vh_domain_device_mdev_uuid(g_ptr_array_index(bad->devices, 0));
        assert_string_equal(uuid, UUID_A);
        assert_null(none);
    }
}

/* ---- rewriting -------------------------------------------------------------- */

static void
test_set_pci_and_mdev_attributes(void **state)
{
    g_autofree char *xml = domain_xml(
        "vm1", META("alias='ua-a' resource='nvidia.com/x'") META("alias='ua-b' resource='nvidia.com/y'"),
        "<hostdev mode='subsystem' type='mdev' model='vfio-pci' display='on'><alias name='ua-a'/></hostdev>"
        "<hostdev mode='subsystem' type='pci' managed='yes'><alias name='ua-b'/></hostdev>");
    g_autoptr(VhDomain) domain = parse_ok(xml);
    VhDomainDevice *a = device_by_alias(domain, "ua-a");
    VhDomainDevice *b = device_by_alias(domain, "ua-b");
    g_autofree char *addr = NULL;
    g_autofree char *uuid = NULL;

    vh_domain_device_set_pci(a, "0000:41:00.4", FALSE);
    assert_prop(a->hostdev, "mode", "subsystem");
    assert_prop(a->hostdev, "type", "pci");
    assert_prop(a->hostdev, "managed", "no");
    assert_prop(a->hostdev, "model", NULL);
    assert_prop(a->hostdev, "display", NULL);
    addr = vh_domain_device_pci_address(a);
    assert_string_equal(addr, "0000:41:00.4");
    vh_domain_device_set_pci(a, "0000:3b:00.0", TRUE);
    assert_prop(a->hostdev, "managed", "yes");
    g_free(addr);
    addr = vh_domain_device_pci_address(a);
    assert_string_equal(addr, "0000:3b:00.0");

    vh_domain_device_set_mdev(b, UUID_B, TRUE);
    assert_prop(b->hostdev, "type", "mdev");
    assert_prop(b->hostdev, "model", "vfio-pci");
    assert_prop(b->hostdev, "display", "on");
    assert_prop(b->hostdev, "managed", NULL);
    uuid = vh_domain_device_mdev_uuid(b);
    assert_string_equal(uuid, UUID_B);
    assert_null(vh_domain_device_pci_address(b));
    vh_domain_device_set_mdev(b, UUID_A, FALSE);
    assert_prop(b->hostdev, "display", NULL);
    g_free(uuid);
    uuid = vh_domain_device_mdev_uuid(b);
    assert_string_equal(uuid, UUID_A);

    /* Exactly one <source> after repeated rewrites. */
    {
        int sources = 0;
        for (xmlNodePtr c = ((xmlNodePtr)b->hostdev)->children; c; c = c->next)
            sources += c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, BAD_CAST "source") == 0;
        assert_int_equal(sources, 1);
    }
}

typedef struct {
    const char *alias;
    const char *pci;     /* set_pci with this address, or */
    const char *mdev;    /* set_mdev with this UUID */
    gboolean flag;       /* managed (pci) or display (mdev) */
} GoldenEdit;

typedef struct {
    const char *name;
    GoldenEdit edits[4];
} GoldenCase;

static const GoldenCase golden_cases[] = {
    { "contract", { { "ua-gpu0", "0000:41:00.4", NULL, FALSE } } },
    { "preserve", { { "ua-gpu0", "0000:41:00.5", NULL, FALSE },
                    { "ua-vdi", NULL, UUID_B, TRUE } } },
    { "replace-source", { { "ua-gpu0", "0000:86:00.0", NULL, FALSE } } },
    { "mdev", { { "ua-vgpu0", NULL, UUID_A, TRUE },
                { "ua-vgpu1", NULL, "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", FALSE } } },
    { "mdev-to-pci", { { "ua-gpu0", "0000:c1:01.7", NULL, FALSE } } },
    { "self-closing", { { "ua-gpu0", "abcd:ef:1f.7", NULL, TRUE },
                        { "ua-gpu1", "0000:41:00.4", NULL, FALSE } } },
};

static void
run_golden(const GoldenCase *gc)
{
    g_autofree char *in_rel = g_strdup_printf("tests/golden/%s.in.xml", gc->name);
    g_autofree char *out_rel = g_strdup_printf("tests/golden/%s.out.xml", gc->name);
    g_autofree char *in_path = source_path(in_rel);
    g_autofree char *out_path = source_path(out_rel);
    g_autoptr(GError) error = NULL;
    g_autoptr(VhDomain) domain = vh_domain_load_file(in_path, &error);
    g_autoptr(VhDomain) again = NULL;
    g_autofree char *got = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *twice = NULL;

    if (domain == NULL)
        fail_msg("%s: %s", in_path, error->message);
    for (guint i = 0; i < G_N_ELEMENTS(gc->edits) && gc->edits[i].alias; i++) {
        const GoldenEdit *e = &gc->edits[i];
        VhDomainDevice *dev = device_by_alias(domain, e->alias);
        if (e->pci)
            vh_domain_device_set_pci(dev, e->pci, e->flag);
        else
            vh_domain_device_set_mdev(dev, e->mdev, e->flag);
    }
    got = vh_domain_to_string(domain);
    if (g_getenv("VH_UPDATE_GOLDEN")) {
        g_file_set_contents(out_path, got, -1, &error);
        assert_no_error(error);
    }
    if (!g_file_get_contents(out_path, &expected, NULL, &error))
        fail_msg("%s: %s (run with VH_UPDATE_GOLDEN=1 to create it)", out_path, error->message);
    if (strcmp(got, expected) != 0)
        fail_msg("%s differs from %s:\n--- got\n%s--- expected\n%s", gc->name, out_path, got,
                 expected);

    /* The output is a domain we parse again to the same devices, and a
     * second round with the same picks changes nothing. */
    again = parse_ok(got);
    assert_int_equal(again->devices->len, domain->devices->len);
    for (guint i = 0; i < G_N_ELEMENTS(gc->edits) && gc->edits[i].alias; i++) {
        const GoldenEdit *e = &gc->edits[i];
        VhDomainDevice *dev = device_by_alias(again, e->alias);
        g_autofree char *now = e->pci ? vh_domain_device_pci_address(dev)
                                      : vh_domain_device_mdev_uuid(dev);
        VhPciAddress parsed;
        g_autofree char *canonical = NULL;
        if (e->pci) {
            assert_true(vh_pci_address_parse(e->pci, &parsed, NULL));
            canonical = vh_pci_address_to_string(&parsed);
        }
        assert_string_equal(now, e->pci ? canonical : e->mdev);
        if (e->pci)
            vh_domain_device_set_pci(dev, e->pci, e->flag);
        else
            vh_domain_device_set_mdev(dev, e->mdev, e->flag);
    }
    twice = vh_domain_to_string(again);
    assert_string_equal(twice, got);
}

static void
test_golden(void **state)
{
    for (guint i = 0; i < G_N_ELEMENTS(golden_cases); i++)
        run_golden(&golden_cases[i]);
}

/* What the golden files show, said once more as properties of the output,
 * so that a careless VH_UPDATE_GOLDEN cannot bless a regression. */
static void
test_preserve_properties(void **state)
{
    g_autofree char *in_path = source_path("tests/golden/preserve.in.xml");
    g_autofree char *input = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(VhDomain) domain = vh_domain_load_file(in_path, &error);
    g_autofree char *out = NULL;
    const char *kept[] = {
        "<!-- a comment before the root element -->",
        "<!-- our block, with a prefix of its own -->",
        "<!-- the user's own passthrough GPU: never touched -->",
        "<!-- filled in by vgpuctl -->",
        "<title>Grüße &amp; \"quotes\" &lt;tag&gt;</title>",
        "<![CDATA[raw <text> & stuff]]>",
        "<app:info xmlns:app=\"urn:example:app:1\" app:owner=\"ops\" version=\"2\">",
        "<app:note>kept as it is</app:note>",
        "<other:device alias=\"ua-gpu0\" resource=\"not a resource name\"/>",
        "<v:device alias=\"ua-gpu0\" resource=\"nvidia.com/L40S-24Q\" numa=\"0\"/>",
        "<v:device resource=\"nvidia.com/GRID_T4-2Q\" alias=\"ua-vdi\" display=\"on\"/>",
        "<future-element some=\"thing\"><child/></future-element>",
        "<uuid>6D5B1B8C-1F7E-4A51-9A53-4B0E6D0F4C11</uuid>",
        /* the user's own hostdevs, unchanged */
        "<hostdev mode=\"subsystem\" type=\"pci\" managed=\"yes\">\n      <source>\n"
        "        <address domain=\"0x0000\" bus=\"0x86\" slot=\"0x00\" function=\"0x0\"/>\n"
        "      </source>\n      <alias name=\"ua-mine\"/>",
        "<vendor id=\"0x1234\"/>",
        /* attribute order of a rewritten hostdev is the user's */
        "<hostdev managed=\"no\" type=\"pci\" mode=\"subsystem\">",
        "<rom bar=\"off\"/>",
        "<address type=\"pci\" domain=\"0x0000\" bus=\"0x00\" slot=\"0x07\" function=\"0x0\"/>",
        "<qemu:commandline>\n    <qemu:arg value=\"-S\"/>\n  </qemu:commandline>",
        "<?some-pi with data?>",
    };

    assert_no_error(error);
    assert_true(g_file_get_contents(in_path, &input, NULL, NULL));
    vh_domain_device_set_pci(device_by_alias(domain, "ua-gpu0"), "0000:41:00.5", FALSE);
    vh_domain_device_set_mdev(device_by_alias(domain, "ua-vdi"), UUID_B, TRUE);
    out = vh_domain_to_string(domain);
    for (guint i = 0; i < G_N_ELEMENTS(kept); i++)
        assert_contains(out, kept[i]);
    /* no XML declaration (virsh never prints one), ends with a newline */
    assert_false(g_str_has_prefix(out, "<?xml"));
    assert_true(g_str_has_suffix(out, "</domain>\n"));
    assert_contains(out, "<source><address domain=\"0x0000\" bus=\"0x41\" slot=\"0x00\" "
                         "function=\"0x5\"/></source>");
    assert_contains(out, "<hostdev mode=\"subsystem\" type=\"mdev\" model=\"vfio-pci\" "
                         "display=\"on\">\n      <source><address uuid=\"" UUID_B "\"/></source>");
    /* same number of elements, plus the two <source>s and <address>es */
    {
        g_autoptr(VhDomain) in = parse_ok(input);
        g_autoptr(VhDomain) re = parse_ok(out);
        guint n_in = 0, n_out = 0;
        for (xmlNodePtr n = xmlDocGetRootElement(in->doc); n; n = n->next)
            n_in += (guint)xmlChildElementCount(n);
        for (xmlNodePtr n = xmlDocGetRootElement(re->doc); n; n = n->next)
            n_out += (guint)xmlChildElementCount(n);
        assert_int_equal(n_in, n_out);
    }
}

static void
test_ensure_uuid(void **state)
{
    const char *xml = "<domain type='kvm'>\n  <name>vm1</name>\n  <memory>1</memory>\n</domain>\n";
    g_autoptr(VhDomain) domain = parse_ok(xml);
    g_autoptr(VhDomain) reparsed = NULL;
    g_autofree char *out = NULL;
    g_autofree char *expected = NULL;
    g_autofree char *uuid = NULL;

    vh_domain_ensure_uuid(domain);
    assert_non_null(domain->uuid);
    assert_true(vh_uuid_is_valid(domain->uuid));
    uuid = g_strdup(domain->uuid);
    out = vh_domain_to_string(domain);
    /* right after <name>, with its indentation */
    expected = g_strdup_printf("<domain type=\"kvm\">\n  <name>vm1</name>\n  <uuid>%s</uuid>\n"
                               "  <memory>1</memory>\n</domain>\n", uuid);
    assert_string_equal(out, expected);
    reparsed = parse_ok(out);
    assert_string_equal(reparsed->uuid, uuid);

    /* idempotent */
    vh_domain_ensure_uuid(domain);
    assert_string_equal(domain->uuid, uuid);
    g_free(out);
    out = vh_domain_to_string(domain);
    assert_string_equal(out, expected);

    /* a domain that has one keeps it, byte for byte */
    {
        const char *with = "<domain>\n  <name>vm2</name>\n  <uuid>" UUID_A "</uuid>\n</domain>\n";
        g_autoptr(VhDomain) d = parse_ok(with);
        g_autofree char *o = NULL;
        vh_domain_ensure_uuid(d);
        assert_string_equal(d->uuid, UUID_A);
        o = vh_domain_to_string(d);
        assert_string_equal(o, with);
    }
    /* compact documents get no stray whitespace; two domains get two UUIDs */
    {
        g_autoptr(VhDomain) d = parse_ok("<domain><name>vm3</name><vcpu>1</vcpu></domain>");
        g_autofree char *o = NULL;
        g_autofree char *e = NULL;
        vh_domain_ensure_uuid(d);
        assert_string_not_equal(d->uuid, uuid);
        o = vh_domain_to_string(d);
        e = g_strdup_printf("<domain><name>vm3</name><uuid>%s</uuid><vcpu>1</vcpu></domain>\n",
                            d->uuid);
        assert_string_equal(o, e);
    }
}

/* libvirt's status file of a running domain: every PCI hostdev's function
 * and mdev UUID, nothing else (a disk's PCI address), whatever the root. */
static void
test_live_pci_hostdevs(void **state)
{
    static const char status[] =
        "<domstatus state='running' pid='4242'>\n"
        "  <domain type='kvm' id='3'><name>vm1</name><devices>\n"
        "    <disk type='file'><address type='pci' domain='0x0000' bus='0x00' slot='0x04'"
        " function='0x0'/></disk>\n"
        "    <hostdev mode='subsystem' type='pci' managed='no'><driver name='vfio'/>\n"
        "      <source><address domain='0x0000' bus='0x3b' slot='0x00' function='0x0'/></source>\n"
        "      <address type='pci' domain='0x0000' bus='0x06' slot='0x00' function='0x0'/>\n"
        "    </hostdev>\n"
        "    <hostdev mode='subsystem' type='mdev' model='vfio-pci'><source>"
        "<address uuid='7d2a8b4c-2e3f-4a01-9c9d-5e4f3a2b6c7d'/></source></hostdev>\n"
        "    <hostdev mode='subsystem' type='pci'><source><address domain='0' bus='65'"
        " slot='0' function='4'/></source></hostdev>\n"
        "  </devices></domain>\n</domstatus>\n";
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) found = vh_domain_live_pci_hostdevs(status, strlen(status), &error);

    (void)state;
    assert_no_error(error);
    assert_int_equal(found->len, 3);
    assert_string_equal(g_ptr_array_index(found, 0), "0000:3b:00.0");
    assert_string_equal(g_ptr_array_index(found, 1), "7d2a8b4c-2e3f-4a01-9c9d-5e4f3a2b6c7d");
    assert_string_equal(g_ptr_array_index(found, 2), "0000:41:00.4");
    g_clear_pointer(&found, g_ptr_array_unref);
    /* not XML: an error, never a guess */
    assert_null(vh_domain_live_pci_hostdevs("<domstatus>", 11, &error));
    assert_non_null(error);
}

/* ---- the readers agree on a corpus --------------------------------------- */

static void
agree_on_file(const char *path)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    g_autoptr(GError) error = NULL;
    g_autoptr(VhDomain) domain = NULL;

    if (!g_file_get_contents(path, &text, &len, &error))
        fail_msg("%s: %s", path, error->message);
    domain = parse_both(text, len, &error);
}

/* Every domain document in the tree: the golden inputs, the templates, the
 * bad-inputs tier's domains. */
static void
test_readers_agree_files(void **state)
{
    const char *dirs[] = { "tests/golden", "xml-templates", "tests/bad-inputs" };
    guint n = 0;

    for (guint i = 0; i < G_N_ELEMENTS(dirs); i++) {
        g_autofree char *dir_path = source_path(dirs[i]);
        g_autoptr(GDir) dir = g_dir_open(dir_path, 0, NULL);
        const char *entry;

        assert_non_null(dir);
        while ((entry = g_dir_read_name(dir)) != NULL) {
            g_autofree char *path = g_build_filename(dir_path, entry, NULL);
            g_autofree char *inner = g_build_filename(path, "domain.xml", NULL);
            if (g_str_has_suffix(entry, ".xml")) {
                agree_on_file(path);
                n++;
            }
            if (g_file_test(path, G_FILE_TEST_IS_DIR)) { /* bad-inputs/cases */
                g_autoptr(GDir) cases = g_dir_open(path, 0, NULL);
                const char *c;
                while (cases && (c = g_dir_read_name(cases)) != NULL) {
                    g_autofree char *file = g_build_filename(path, c, "domain.xml", NULL);
                    if (g_file_test(file, G_FILE_TEST_IS_REGULAR)) {
                        agree_on_file(file);
                        n++;
                    }
                }
            }
        }
    }
    assert_true(n >= 20);
}

#define DEV0 "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0' " \
    "bus='0x3b' slot='0' function='0'/></source><alias name='ua-gpu0'/></hostdev>"
#define RES "resource='nvidia.com/L40S-24Q'"

/* Namespaces, references, whitespace, structure: where two XML parsers
 * could part ways. @ours: the libxml2 reader finds one device of ours. */
static void
test_readers_agree_edges(void **state)
{
    static const struct {
        const char *xml;
        int devices; /* -1: refused */
    } cases[] = {
        /* the default namespace is ours: so are its unprefixed elements */
        { "<domain><name>a</name><metadata><devices xmlns='urn:vgpu-hook:1'><device "
          "alias='ua-gpu0' " RES "/></devices></metadata><devices>" DEV0 "</devices></domain>", 1 },
        /* ... until xmlns='' takes it away */
        { "<domain><name>a</name><metadata><devices xmlns='urn:vgpu-hook:1'><device xmlns='' "
          "alias='ua-gpu0' " RES "/></devices></metadata><devices>" DEV0 "</devices></domain>", 0 },
        /* a device of another namespace inside our block is not ours */
        { "<domain><name>a</name><metadata><v:devices xmlns:v='urn:vgpu-hook:1'><x:device "
          "xmlns:x='urn:other' alias='ua-gpu0' " RES "/></v:devices></metadata><devices>" DEV0
          "</devices></domain>", 0 },
        /* nor one whose prefix was bound again to another URI */
        { "<domain><name>a</name><metadata><v:devices xmlns:v='urn:vgpu-hook:1'><v:device "
          "xmlns:v='urn:other' alias='ua-gpu0' " RES "/></v:devices></metadata><devices>" DEV0
          "</devices></domain>", 0 },
        /* an undeclared prefix names no namespace; xmlns:p='' declares none */
        { "<domain><name>a</name><metadata><v:devices xmlns:v=''><v:device alias='ua-gpu0' " RES
          "/></v:devices></metadata><p:devices xmlns:p=''>" DEV0 "</p:devices></domain>", 0 },
        { "<domain><name>a</name><metadata><vgpu:devices><vgpu:device alias='ua-gpu0' " RES
          "/></vgpu:devices></metadata><devices>" DEV0 "</devices></domain>", 0 },
        /* the namespace URI is compared exactly */
        { "<domain><name>a</name><metadata><v:devices xmlns:v='urn:vgpu-hook:1 '><v:device "
          "alias='ua-gpu0' " RES "/></v:devices></metadata><devices>" DEV0 "</devices></domain>", 0 },
        { "<domain><name>a</name><metadata><v:devices xmlns:v='URN:vgpu-hook:1'><v:device "
          "alias='ua-gpu0' " RES "/></v:devices></metadata><devices>" DEV0 "</devices></domain>", 0 },
        /* two blocks, one by default namespace: refused */
        { "<domain><name>a</name><metadata><devices xmlns='urn:vgpu-hook:1'/><v:devices "
          "xmlns:v='urn:vgpu-hook:1'/></metadata></domain>", -1 },
        /* attributes: matched by local name, prefixed or not */
        { "<domain><name>a</name><metadata><v:devices xmlns:v='urn:vgpu-hook:1'><v:device "
          "v:alias='ua-gpu0' " RES "/></v:devices></metadata><devices>" DEV0 "</devices></domain>", 1 },
        { "<domain><name>a</name><metadata><v:devices xmlns:v='urn:vgpu-hook:1'><v:device "
          "p:alias='ua-gpu0' " RES "/></v:devices></metadata><devices>" DEV0 "</devices></domain>", -1 },
        /* the same attribute twice: refused; through two prefixes of one
         * URI, libxml2 reports it but goes on (the first one counts) */
        { "<domain><name>a</name><metadata><v:devices xmlns:v='urn:vgpu-hook:1'><v:device "
          "alias='ua-gpu0' alias='ua-gpu1' " RES "/></v:devices></metadata></domain>", -1 },
        { "<domain><name>a</name><metadata><v:devices xmlns:v='urn:vgpu-hook:1' "
          "xmlns:w='urn:vgpu-hook:1'><v:device v:alias='ua-gpu0' w:alias='ua-gpu1' " RES
          "/></v:devices></metadata><devices>" DEV0 "</devices></domain>", 1 },
        /* an alias in another namespace still names the hostdev (local names) */
        { "<domain><name>a</name><metadata><v:devices xmlns:v='urn:vgpu-hook:1'><v:device "
          "alias='ua-gpu0' " RES "/></v:devices></metadata><devices><hostdev mode='subsystem' "
          "type='pci'><x:alias xmlns:x='urn:o' name='ua-gpu0'/></hostdev></devices></domain>", 1 },
        /* references, comments, CDATA in a name; a reference in an alias */
        { "<domain><name>v<!-- c -->m&amp;<![CDATA[<x>]]>&#x41;</name></domain>", 0 },
        { "<domain><name>a</name><metadata><v:devices xmlns:v='urn:vgpu-hook:1'><v:device "
          "alias='ua-&#x67;pu0' " RES "/></v:devices></metadata><devices>" DEV0 "</devices></domain>", 1 },
        /* whitespace: in attribute values (normalised), around a UUID, CR LF */
        { "<domain><name>a</name><metadata><v:devices xmlns:v='urn:vgpu-hook:1'><v:device "
          "alias='ua-gpu0' resource='nvidia.com/L40S-24Q\n'/></v:devices></metadata></domain>", -1 },
        { "<domain><name>a</name><metadata><v:devices xmlns:v='urn:vgpu-hook:1'><v:device "
          "alias='ua-gpu0' resource='nvidia.com/L40S-24Q&#10;'/></v:devices></metadata></domain>", -1 },
        { "<domain><name>a</name><uuid>\n  6D5B1B8C-1F7E-4A51-9A53-4B0E6D0F4C11\t</uuid></domain>", 0 },
        { "<domain>\r\n<name>a\r\nb</name></domain>", -1 },
        { "<domain><name>a&#13;b</name></domain>", 0 },
        { "<domain><name> a </name></domain>", 0 },
        /* structure: declarations, processing instructions, roots, depth */
        { "<?xml version='1.0' encoding='UTF-8'?>\n<domain><name>a</name></domain>", 0 },
        { "<?xml version='1.0' encoding='utf-8'?><domain><name>a</name></domain>", 0 },
        { "<?xml version='1.0' encoding='ISO-8859-1'?><domain><name>a</name></domain>", -1 },
        { " <?xml version='1.0'?><domain><name>a</name></domain>", -1 },
        { "<?pi x?><domain><?pi y?><name>a</name></domain><!-- end -->", 0 },
        { "<domain><name>a</name></domain><domain><name>b</name></domain>", -1 },
        { "<domain><name>a</name></domain>x", -1 },
        { "<domain><name>a</name></domain>\n\n", 0 },
        { "\xef\xbb\xbf<domain><name>a</name></domain>", 0 },
        { "<domain><name>a&foo;</name></domain>", -1 },
        { "<domain><name>a]]>b</name></domain>", -1 },
        { "<domain><name a='<'>a</name></domain>", -1 },
        { "<domain><name>a</name><!-- a -- b --></domain>", -1 },
        { "<domain><name>a</name><!-- a ---></domain>", -1 },
        { "<domain><name>a</name><!----><!-- - --></domain>", 0 },
        { "<domain><name a='x>y' b=\"]]\">a</name></domain>", 0 },
        { "<domain><name>a</name><description><![CDATA[ ]] > <x> ]]></description></domain>", 0 },
        { "<domain><name>a<!-- ]]> --></name></domain>", 0 },
        { "<domain><name>a\xc3</name></domain>", -1 },
        { "<domain><name>a\x7f</name></domain>", 0 },
        { "<domain><name>\xef\xbf\xbe</name></domain>", -1 },
        { "<domain><name>a</name></domain", -1 },
        { "<domain><name>a</Name></domain>", -1 },
        { "<x:domain xmlns:x='urn:x'><name>a</name></x:domain>", -1 },
        { "<p:domain><name>a</name></p:domain>", -1 },
        { "", -1 },
        { "   ", -1 },
    };

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(VhDomain) domain = parse_both(cases[i].xml, strlen(cases[i].xml), &error);
        int got = domain ? (int)domain->devices->len : -1;
        if (got != cases[i].devices)
            fail_msg("case %u: %d devices, expected %d (%s)\n---\n%s---", i, got,
                     cases[i].devices, error ? error->message : "accepted", cases[i].xml);
    }
}

/* Nested deeper than libxml2's limit: both refuse, and at the same depth. */
static void
test_readers_agree_depth(void **state)
{
    for (int depth = 250; depth <= 260; depth++) {
        GString *xml = g_string_new("<domain><name>a</name>");
        g_autofree char *text = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(VhDomain) domain = NULL;

        for (int i = 1; i < depth; i++)
            g_string_append(xml, "<d>");
        for (int i = 1; i < depth; i++)
            g_string_append(xml, "</d>");
        g_string_append(xml, "</domain>");
        text = g_string_free(xml, FALSE);
        domain = parse_both(text, strlen(text), &error);
    }
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_contract),
        cmocka_unit_test(test_all_attributes),
        cmocka_unit_test(test_address_canonical),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_no_named_devices),
        cmocka_unit_test(test_two_blocks),
        cmocka_unit_test(test_foreign_namespace_device),
        cmocka_unit_test(test_distinct_sources),
        cmocka_unit_test(test_not_well_formed),
        cmocka_unit_test(test_root_not_domain),
        cmocka_unit_test(test_bad_name),
        cmocka_unit_test(test_doctype_internal_entity),
        cmocka_unit_test(test_external_entity),
        cmocka_unit_test(test_xinclude_not_processed),
        cmocka_unit_test(test_billion_laughs),
        cmocka_unit_test(test_quadratic_blowup),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_bad_alias),
        cmocka_unit_test(test_duplicate_alias),
        cmocka_unit_test(test_unlinked),
        cmocka_unit_test(test_bad_resource),
        cmocka_unit_test(test_bad_numa),
        cmocka_unit_test(test_bad_display),
        cmocka_unit_test(test_hostile_address),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_source_pci_address),
        cmocka_unit_test(test_set_pci_and_mdev_attributes),
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_preserve_properties),
        cmocka_unit_test(test_ensure_uuid),
        cmocka_unit_test(test_live_pci_hostdevs),
        cmocka_unit_test(test_readers_agree_files),
        cmocka_unit_test(test_readers_agree_edges),
        cmocka_unit_test(test_readers_agree_depth),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-domain: parsing and rewriting domain XML; see the header. */
#include "vh-domain.h"
#include "vh-error.h"
#include "vh-ident.h"
#include "vh-file.h"
#include "vh-pci-address.h"
#include "vh-resource-name.h"

#include <libxml/parser.h>
#include <libxml/xmlsave.h>
#include <string.h>

static void
device_free(VhDomainDevice *dev)
{
    g_free(dev->alias);
    g_free(dev->resource);
    g_free(dev->want_address);
    g_free(dev);
}

void
vh_domain_free(VhDomain *domain)
{
    if (domain == NULL)
        return;
    if (domain->doc)
        xmlFreeDoc(domain->doc);
    g_free(domain->name);
    g_free(domain->uuid);
    if (domain->devices)
        g_ptr_array_unref(domain->devices);
    g_free(domain);
}

static gboolean
is_element(xmlNodePtr node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && xmlStrcmp(node->name, BAD_CAST name) == 0;
}

/* An element of ours: its name in the vgpu-hook namespace (a look-alike of
 * another namespace inside our block is someone else's). */
static gboolean
is_our_element(xmlNodePtr node, const char *name)
{
    return is_element(node, name) && node->ns != NULL && node->ns->href != NULL &&
           xmlStrcmp(node->ns->href, BAD_CAST VH_DOMAIN_NS) == 0;
}

static xmlNodePtr
child_element(xmlNodePtr parent, const char *name)
{
    for (xmlNodePtr c = parent ? parent->children : NULL; c; c = c->next) {
        if (is_element(c, name))
            return c;
    }
    return NULL;
}

/* The text exactly as written: libvirt keeps a <name> as written, and a
 * trimmed copy would name another domain's pid file. */
static char *
node_text(xmlNodePtr node)
{
    xmlChar *content = node ? xmlNodeGetContent(node) : NULL;
    char *text = content ? g_strdup((const char *)content) : NULL;

    xmlFree(content);
    return text;
}

static char *
prop(xmlNodePtr node, const char *name)
{
    xmlChar *value = xmlGetProp(node, BAD_CAST name);
    char *copy = value ? g_strdup((const char *)value) : NULL;

    xmlFree(value);
    return copy;
}

/* Quiet libxml2's default stderr printing; errors are reported via GError. */
static void
silent_error(void *ctx, const char *msg, ...)
{
}

/* The first error is the one that says what is wrong; libxml2 keeps going
 * after it and its "last error" is often a consequence at the end of the
 * file ("Premature end of data" for a tag mismatch in the middle). */
typedef struct {
    int line;
    char *message;
} FirstError;

#if LIBXML_VERSION >= 21200
static void
keep_first_error(void *data, const xmlError *err)
#else
static void
keep_first_error(void *data, xmlErrorPtr err)
#endif
{
    xmlParserCtxtPtr ctxt = data;
    FirstError *first = ctxt ? ctxt->_private : NULL;

    if (first == NULL || first->message != NULL || err == NULL ||
        err->level < XML_ERR_ERROR)
        return;
    first->line = err->line;
    first->message = g_strstrip(g_strdup(err->message ? err->message : "parse error"));
}

static xmlDocPtr
parse_document(const char *xml, gsize len, GError **error)
{
    xmlParserCtxtPtr ctxt;
    xmlDocPtr doc;
    FirstError first = { 0, NULL };

    if (len > VH_DOMAIN_MAX_SIZE) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "domain XML is %" G_GSIZE_FORMAT " bytes, more than the %d allowed", len,
                    VH_DOMAIN_MAX_SIZE);
        return NULL;
    }
    ctxt = xmlNewParserCtxt();
    if (ctxt == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_FAILED, "cannot create an XML parser");
        return NULL;
    }
    xmlSetGenericErrorFunc(NULL, silent_error);
    ctxt->_private = &first;
    ctxt->sax->serror = keep_first_error;
    /* No XML_PARSE_NOENT (entities stay unexpanded), no DTD loading, no
     * network; XML_PARSE_NONET also covers XInclude-style fetches. */
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, "domain.xml", NULL,
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (doc == NULL) {
        const xmlError *err = xmlCtxtGetLastError(ctxt);
        g_autofree char *msg = g_strdup(err && err->message ? err->message : "parse error");
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "domain XML is not well formed: line %d: %s",
                    first.message ? first.line : err ? err->line : 0,
                    first.message ? first.message : g_strstrip(msg));
        g_free(first.message);
        xmlFreeParserCtxt(ctxt);
        return NULL;
    }
    g_free(first.message);
    xmlFreeParserCtxt(ctxt);
    if (doc->intSubset || doc->extSubset) {
        xmlFreeDoc(doc);
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "domain XML has a DOCTYPE: refused (entities and DTDs are not allowed)");
        return NULL;
    }
    return doc;
}

/* No domain has more GPUs than this; the limit keeps parsing linear. */
#define VH_DOMAIN_MAX_DEVICES 256

static gboolean
alias_is_valid(const char *alias)
{
    if (alias == NULL || !g_str_has_prefix(alias, "ua-") || strlen(alias) > 64 || alias[3] == '\0')
        return FALSE;
    for (const char *p = alias; *p; p++) {
        if (!(g_ascii_isalnum(*p) || *p == '-' || *p == '_'))
            return FALSE;
    }
    return TRUE;
}

/* The <vgpu:devices> block, or NULL. A second block is refused: its
 * devices would silently go unmanaged (no lease, nothing prepared). */
static gboolean
find_devices_block(VhDomain *domain, xmlNodePtr root, xmlNodePtr *block, GError **error)
{
    xmlNodePtr metadata = child_element(root, "metadata");

    *block = NULL;
    for (xmlNodePtr c = metadata ? metadata->children : NULL; c; c = c->next) {
        if (!is_our_element(c, "devices"))
            continue;
        if (*block) {
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                        "domain '%s': <metadata> has more than one <devices> block in "
                        "namespace %s; put all <vgpu:device> elements into one",
                        domain->name, VH_DOMAIN_NS);
            return FALSE;
        }
        *block = c;
    }
    return TRUE;
}

static gboolean
parse_meta_device(VhDomain *domain, xmlNodePtr node, GError **error)
{
    g_autoptr(GError) local = NULL;
    VhDomainDevice *dev = g_new0(VhDomainDevice, 1);
    g_autofree char *numa = prop(node, "numa");
    g_autofree char *display = prop(node, "display");

    g_ptr_array_add(domain->devices, dev);
    dev->meta = node;
    dev->want_numa = -1;
    dev->alias = prop(node, "alias");
    dev->resource = prop(node, "resource");
    dev->want_address = prop(node, "address");
    if (!alias_is_valid(dev->alias)) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "domain '%s': <vgpu:device> alias '%.64s' is not a user alias: it must "
                    "start with 'ua-' and use only letters, digits, '-' and '_'",
                    domain->name, dev->alias ? dev->alias : "(missing)");
        return FALSE;
    }
    if (!vh_resource_name_is_valid(dev->resource)) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "domain '%s', alias '%s': resource '%.80s' is not a resource name like "
                    "nvidia.com/L40S-24Q", domain->name, dev->alias,
                    dev->resource ? dev->resource : "(missing)");
        return FALSE;
    }
    if (dev->want_address) {
        VhPciAddress addr;
        if (!vh_pci_address_parse(dev->want_address, &addr, &local)) {
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "domain '%s', alias '%s': %s",
                        domain->name, dev->alias, local->message);
            return FALSE;
        }
        g_free(dev->want_address);
        dev->want_address = vh_pci_address_to_string(&addr);
    }
    if (numa) {
        guint64 node_num;
        if (!g_ascii_string_to_unsigned(numa, 10, 0, 1023, &node_num, NULL)) {
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                        "domain '%s', alias '%s': numa='%.16s' is not a NUMA node number",
                        domain->name, dev->alias, numa);
            return FALSE;
        }
        dev->want_numa = (gint)node_num;
    }
    if (display && strcmp(display, "on") != 0 && strcmp(display, "off") != 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "domain '%s', alias '%s': display='%.16s' must be on or off",
                    domain->name, dev->alias, display);
        return FALSE;
    }
    dev->display = g_strcmp0(display, "on") == 0;
    for (guint i = 0; i + 1 < domain->devices->len; i++) {
        const VhDomainDevice *other = g_ptr_array_index(domain->devices, i);
        if (strcmp(other->alias, dev->alias) == 0) {
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                        "domain '%s': alias '%s' is named twice in <vgpu:devices>",
                        domain->name, dev->alias);
            return FALSE;
        }
    }
    return TRUE;
}

static char *
hostdev_alias(xmlNodePtr hostdev)
{
    xmlNodePtr alias = child_element(hostdev, "alias");

    return alias ? prop(alias, "name") : NULL;
}

/* Link each named device to its <hostdev>; check the reverse direction for
 * hostdevs that carry a user alias but have nothing to point at. */
static gboolean
link_hostdevs(VhDomain *domain, xmlNodePtr devices_node, GError **error)
{
    for (xmlNodePtr c = devices_node ? devices_node->children : NULL; c; c = c->next) {
        g_autofree char *alias = NULL;
        VhDomainDevice *owner = NULL;
        if (!is_element(c, "hostdev") || (alias = hostdev_alias(c)) == NULL)
            continue;
        for (guint i = 0; i < domain->devices->len; i++) {
            VhDomainDevice *dev = g_ptr_array_index(domain->devices, i);
            if (strcmp(dev->alias, alias) == 0)
                owner = dev;
        }
        if (owner == NULL) {
            if (child_element(c, "source") == NULL) {
                g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND,
                            "domain '%s': <hostdev> with alias '%.64s' has no <source> and no "
                            "<vgpu:device alias='%.64s' resource='...'/> in <metadata> names it",
                            domain->name, alias, alias);
                return FALSE;
            }
            continue;
        }
        if (owner->hostdev) {
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                        "domain '%s': two <hostdev> elements have alias '%s'", domain->name, alias);
            return FALSE;
        }
        owner->hostdev = c;
    }
    for (guint i = 0; i < domain->devices->len; i++) {
        const VhDomainDevice *dev = g_ptr_array_index(domain->devices, i);
        if (dev->hostdev == NULL) {
            g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND,
                        "domain '%s': alias '%s' (resource %s) has no <hostdev> with "
                        "<alias name='%s'/> in <devices>",
                        domain->name, dev->alias, dev->resource, dev->alias);
            return FALSE;
        }
    }
    return TRUE;
}

static gboolean
read_identity(VhDomain *domain, xmlNodePtr root, GError **error)
{
    domain->name = node_text(child_element(root, "name"));
    if (!vh_domain_name_is_valid(domain->name)) {
        g_autofree char *shown = domain->name ? g_strescape(domain->name, NULL) : NULL;
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "domain <name> '%.64s' is missing or not usable (libvirt's rules: not "
                    "empty, no '/', no newline; at most %d bytes)", shown ? shown : "",
                    VH_DOMAIN_NAME_MAX);
        return FALSE;
    }
    domain->uuid = node_text(child_element(root, "uuid"));
    if (domain->uuid) {
        /* libvirt parses a UUID (skipping surrounding blanks) and stores its
         * canonical lowercase form: compare that form. Without dashes is
         * refused: we need the canonical form in the document. */
        g_strstrip(domain->uuid);
        if (!vh_uuid_is_valid(domain->uuid)) {
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                        "domain '%s': <uuid> '%.40s' is not a UUID like "
                        "1b4e28ba-2fa1-11d2-883f-0016d3cca427", domain->name, domain->uuid);
            return FALSE;
        }
        for (char *p = domain->uuid; *p; p++)
            *p = g_ascii_tolower(*p);
    }
    return TRUE;
}

VhDomain *
vh_domain_parse(const char *xml, gsize len, GError **error)
{
    g_autoptr(VhDomain) domain = g_new0(VhDomain, 1);
    xmlNodePtr root, block;

    domain->devices = g_ptr_array_new_with_free_func((GDestroyNotify)device_free);
    domain->doc = parse_document(xml, len, error);
    if (domain->doc == NULL)
        return NULL;
    root = xmlDocGetRootElement(domain->doc);
    if (root == NULL || !is_element(root, "domain")) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "not a libvirt domain: root element is <%s>",
                    root ? (const char *)root->name : "none");
        return NULL;
    }
    /* libvirt's <domain> has no namespace; <x:domain xmlns:x="..."> is
     * another document, whose look-alike children must not be acted on. */
    if (root->ns != NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "not a libvirt domain: root element <domain> is in namespace '%.80s'",
                    root->ns->href ? (const char *)root->ns->href : "");
        return NULL;
    }
    if (!read_identity(domain, root, error))
        return NULL;
    if (!find_devices_block(domain, root, &block, error))
        return NULL;
    for (xmlNodePtr c = block ? block->children : NULL; c; c = c->next) {
        if (!is_our_element(c, "device"))
            continue;
        /* Each device is checked against the others (aliases) and against
         * every <hostdev>: bound the work a hostile document can ask for
         * while libvirtd waits on the hook. */
        if (domain->devices->len >= VH_DOMAIN_MAX_DEVICES) {
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                        "domain '%s': more than %d <vgpu:device> elements", domain->name,
                        VH_DOMAIN_MAX_DEVICES);
            return NULL;
        }
        if (!parse_meta_device(domain, c, error))
            return NULL;
    }
    if (!link_hostdevs(domain, child_element(root, "devices"), error))
        return NULL;
    return g_steal_pointer(&domain);
}

VhDomain *
vh_domain_load_file(const char *path, GError **error)
{
    g_autofree char *data = NULL;
    g_autoptr(GError) local = NULL;
    gsize len = 0;
    VhDomain *domain;

    data = vh_file_read(path, VH_DOMAIN_MAX_SIZE, VH_FILE_FOLLOW, &len, &local);
    if (data == NULL) {
        g_set_error(error, VH_ERROR, g_error_matches(local, VH_ERROR, VH_ERROR_NOT_FOUND)
                                         ? VH_ERROR_NOT_FOUND : VH_ERROR_INVALID,
                    "%s", local->message);
        return NULL;
    }
    domain = vh_domain_parse(data, len, &local);
    if (domain == NULL)
        g_set_error(error, local->domain, local->code, "%s: %s", path, local->message);
    return domain;
}

char *
vh_domain_to_string(VhDomain *domain)
{
    xmlChar *buf = NULL;
    int size = 0;
    char *out;

    xmlDocDumpFormatMemoryEnc(domain->doc, &buf, &size, "UTF-8", 0);
    /* Drop the XML declaration: virsh and libvirt never print one. */
    out = g_strdup(g_str_has_prefix((const char *)buf, "<?xml")
                       ? strchr((const char *)buf, '\n') + 1 : (const char *)buf);
    xmlFree(buf);
    return out;
}

void
vh_domain_ensure_uuid(VhDomain *domain)
{
    xmlNodePtr root = xmlDocGetRootElement(domain->doc);
    xmlNodePtr name = child_element(root, "name");
    xmlNodePtr node;

    if (domain->uuid)
        return;
    domain->uuid = g_uuid_string_random();
    node = xmlNewDocNode(domain->doc, NULL, BAD_CAST "uuid", BAD_CAST domain->uuid);
    if (name) {
        xmlAddNextSibling(name, node);
        /* keep the indentation of the element we follow */
        if (name->prev && name->prev->type == XML_TEXT_NODE)
            xmlAddPrevSibling(node, xmlNewDocText(domain->doc, name->prev->content));
    } else {
        xmlAddChild(root, node);
    }
}

static gboolean
is_linked(VhDomain *domain, xmlNodePtr hostdev)
{
    for (guint i = 0; i < domain->devices->len; i++) {
        const VhDomainDevice *dev = g_ptr_array_index(domain->devices, i);
        if (dev->hostdev == hostdev)
            return TRUE;
    }
    return FALSE;
}

GPtrArray *
vh_domain_plain_pci_hostdevs(VhDomain *domain)
{
    GPtrArray *plain = g_ptr_array_new_with_free_func((GDestroyNotify)device_free);
    xmlNodePtr devices = child_element(xmlDocGetRootElement(domain->doc), "devices");
    guint n = 0;

    for (xmlNodePtr c = devices ? devices->children : NULL; c; c = c->next) {
        g_autofree char *mode = NULL, *type = NULL;
        VhDomainDevice *dev;
        if (!is_element(c, "hostdev"))
            continue;
        n++;
        mode = prop(c, "mode");
        type = prop(c, "type");
        if (g_strcmp0(mode, "subsystem") != 0 || g_strcmp0(type, "pci") != 0 || is_linked(domain, c))
            continue;
        if (plain->len >= VH_DOMAIN_MAX_DEVICES)
            break;
        dev = g_new0(VhDomainDevice, 1);
        dev->alias = hostdev_alias(c);
        if (dev->alias == NULL)
            dev->alias = g_strdup_printf("hostdev %u", n);
        dev->want_numa = -1;
        dev->hostdev = c;
        g_ptr_array_add(plain, dev);
    }
    return plain;
}

static xmlNodePtr
source_address(const VhDomainDevice *dev)
{
    return child_element(child_element(dev->hostdev, "source"), "address");
}

/* libvirt writes "0x3b" but accepts decimal too. */
static gboolean
parse_number(const char *text, guint64 max, guint64 *out)
{
    if (text && (g_str_has_prefix(text, "0x") || g_str_has_prefix(text, "0X")))
        return text[2] && g_ascii_string_to_unsigned(text + 2, 16, 0, max, out, NULL);
    return text && g_ascii_string_to_unsigned(text, 10, 0, max, out, NULL);
}

/* DDDD:BB:SS.F of a libvirt <address domain= bus= slot= function=/>. */
static char *
pci_address_of(xmlNodePtr addr)
{
    g_autofree char *domain = NULL, *bus = NULL, *slot = NULL, *function = NULL;
    guint64 d, b, s, f;
    VhPciAddress pci;

    if (addr == NULL)
        return NULL;
    domain = prop(addr, "domain");
    bus = prop(addr, "bus");
    slot = prop(addr, "slot");
    function = prop(addr, "function");
    if (!domain || !bus || !slot || !function ||
        !parse_number(domain, 0xffff, &d) || !parse_number(bus, 0xff, &b) ||
        !parse_number(slot, 0x1f, &s) || !parse_number(function, 7, &f))
        return NULL;
    pci.domain = (guint)d;
    pci.bus = (guint)b;
    pci.slot = (guint)s;
    pci.function = (guint)f;
    return vh_pci_address_to_string(&pci);
}

char *
vh_domain_device_pci_address(const VhDomainDevice *dev)
{
    return pci_address_of(source_address(dev));
}

static void
collect_pci_hostdevs(xmlNodePtr node, GPtrArray *out)
{
    for (xmlNodePtr c = node ? node->children : NULL; c; c = c->next) {
        g_autofree char *type = NULL;
        char *address;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (strcmp((const char *)c->name, "hostdev") != 0) {
            collect_pci_hostdevs(c, out);
            continue;
        }
        type = prop(c, "type");
        if (g_strcmp0(type, "pci") == 0 &&
            (address = pci_address_of(child_element(child_element(c, "source"), "address"))))
            g_ptr_array_add(out, address);
        else if (g_strcmp0(type, "mdev") == 0 &&
                 (address = prop(child_element(child_element(c, "source"), "address"), "uuid"))) {
            if (vh_uuid_is_valid(address))
                g_ptr_array_add(out, g_ascii_strdown(address, -1));
            g_free(address);
        }
    }
}

GPtrArray *
vh_domain_live_pci_hostdevs(const char *xml, gsize len, GError **error);

GHashTable *
vh_domain_running_pci_holders(const char *run_dir, const char *except)
{
    GHashTable *holders = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    g_autoptr(GDir) dir = run_dir ? g_dir_open(run_dir, 0, NULL) : NULL;
    const char *entry;

    while (dir && (entry = g_dir_read_name(dir)) != NULL) {
        g_autofree char *name = NULL, *pidfile = NULL, *path = NULL, *xml = NULL;
        g_autoptr(GPtrArray) addresses = NULL;
        g_autoptr(GError) error = NULL;
        gsize len = 0;

        if (!g_str_has_suffix(entry, ".xml"))
            continue;
        name = g_strndup(entry, strlen(entry) - 4);
        if (g_strcmp0(name, except) == 0)
            continue;
        pidfile = g_strdup_printf("%s/%s.pid", run_dir, name);
        path = g_build_filename(run_dir, entry, NULL);
        /* most domains have no hostdev at all: no need to parse their XML
         * (an element named hostdev, in any namespace, has the word) */
        if (!g_file_test(pidfile, G_FILE_TEST_EXISTS) ||
            (xml = vh_file_read(path, VH_DOMAIN_MAX_SIZE, VH_FILE_NOFOLLOW, &len, &error)) == NULL ||
            g_strstr_len(xml, len, "hostdev") == NULL ||
            (addresses = vh_domain_live_pci_hostdevs(xml, len, &error)) == NULL) {
            if (error)
                g_debug("libvirt status file %s: %s", path, error->message);
            continue;
        }
        for (guint i = 0; i < addresses->len; i++) {
            const char *address = g_ptr_array_index(addresses, i);
            if (!g_hash_table_contains(holders, address))
                g_hash_table_insert(holders, g_strdup(address), g_strdup(name));
        }
    }
    return holders;
}

GPtrArray *
vh_domain_live_pci_hostdevs(const char *xml, gsize len, GError **error)
{
    xmlDocPtr doc = parse_document(xml, len, error);
    GPtrArray *out;

    if (doc == NULL)
        return NULL;
    out = g_ptr_array_new_with_free_func(g_free);
    collect_pci_hostdevs((xmlNodePtr)doc, out);
    xmlFreeDoc(doc);
    return out;
}

char *
vh_domain_device_mdev_uuid(const VhDomainDevice *dev)
{
    xmlNodePtr addr = source_address(dev);
    g_autofree char *uuid = addr ? prop(addr, "uuid") : NULL;

    return uuid && vh_uuid_is_valid(uuid) ? g_ascii_strdown(uuid, -1) : NULL;
}

static xmlNodePtr
first_element(xmlNodePtr parent)
{
    for (xmlNodePtr c = parent->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            return c;
    }
    return NULL;
}

/* Replace the hostdev's <source> with a fresh one holding @address_node; a
 * new <source> goes first, indented like the element it precedes. */
static void
replace_source(VhDomainDevice *dev, xmlNodePtr address_node)
{
    xmlNodePtr old = child_element(dev->hostdev, "source");
    xmlNodePtr source = xmlNewDocNode(dev->hostdev->doc, NULL, BAD_CAST "source", NULL);
    xmlNodePtr first;

    xmlAddChild(source, address_node);
    if (old) {
        xmlReplaceNode(old, source);
        xmlFreeNode(old);
    } else if ((first = first_element(dev->hostdev)) != NULL) {
        xmlAddPrevSibling(first, source);
        if (source->prev && source->prev->type == XML_TEXT_NODE)
            xmlAddPrevSibling(first, xmlNewDocText(dev->hostdev->doc, source->prev->content));
    } else {
        xmlAddChild(dev->hostdev, source);
    }
}

void
vh_domain_device_set_pci(VhDomainDevice *dev, const char *address, gboolean managed)
{
    VhPciAddress pci;
    xmlNodePtr node;
    char buf[16];

    g_return_if_fail(vh_pci_address_parse(address, &pci, NULL));
    node = xmlNewDocNode(dev->hostdev->doc, NULL, BAD_CAST "address", NULL);
    xmlSetProp(dev->hostdev, BAD_CAST "mode", BAD_CAST "subsystem");
    xmlSetProp(dev->hostdev, BAD_CAST "type", BAD_CAST "pci");
    xmlSetProp(dev->hostdev, BAD_CAST "managed", BAD_CAST(managed ? "yes" : "no"));
    xmlUnsetProp(dev->hostdev, BAD_CAST "model");
    xmlUnsetProp(dev->hostdev, BAD_CAST "display");
    g_snprintf(buf, sizeof(buf), "0x%04x", pci.domain);
    xmlSetProp(node, BAD_CAST "domain", BAD_CAST buf);
    g_snprintf(buf, sizeof(buf), "0x%02x", pci.bus);
    xmlSetProp(node, BAD_CAST "bus", BAD_CAST buf);
    g_snprintf(buf, sizeof(buf), "0x%02x", pci.slot);
    xmlSetProp(node, BAD_CAST "slot", BAD_CAST buf);
    g_snprintf(buf, sizeof(buf), "0x%x", pci.function);
    xmlSetProp(node, BAD_CAST "function", BAD_CAST buf);
    replace_source(dev, node);
}

void
vh_domain_device_set_mdev(VhDomainDevice *dev, const char *uuid, gboolean display)
{
    xmlNodePtr node = xmlNewDocNode(dev->hostdev->doc, NULL, BAD_CAST "address", NULL);

    xmlSetProp(dev->hostdev, BAD_CAST "mode", BAD_CAST "subsystem");
    xmlSetProp(dev->hostdev, BAD_CAST "type", BAD_CAST "mdev");
    xmlSetProp(dev->hostdev, BAD_CAST "model", BAD_CAST "vfio-pci");
    xmlUnsetProp(dev->hostdev, BAD_CAST "managed");
    if (display)
        xmlSetProp(dev->hostdev, BAD_CAST "display", BAD_CAST "on");
    else
        xmlUnsetProp(dev->hostdev, BAD_CAST "display");
    xmlSetProp(node, BAD_CAST "uuid", BAD_CAST uuid);
    replace_source(dev, node);
}

/* The source of any <hostdev>: "ADDR" for PCI, the UUID for an mdev. */
static char *
hostdev_source_key(xmlNodePtr hostdev)
{
    VhDomainDevice probe = { .hostdev = hostdev };
    char *uuid = vh_domain_device_mdev_uuid(&probe);

    return uuid ? uuid : vh_domain_device_pci_address(&probe);
}

gboolean
vh_domain_check_distinct_sources(const VhDomain *domain, GError **error)
{
    xmlNodePtr devices = child_element(xmlDocGetRootElement(domain->doc), "devices");
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    guint n = 0;

    for (xmlNodePtr c = devices ? devices->children : NULL; c; c = c->next) {
        g_autofree char *key = NULL;
        g_autofree char *alias = NULL;
        const char *first;
        if (!is_element(c, "hostdev") || (key = hostdev_source_key(c)) == NULL)
            continue;
        n++;
        alias = hostdev_alias(c);
        if (alias == NULL)
            alias = g_strdup_printf("hostdev %u", n);
        first = g_hash_table_lookup(seen, key);
        if (first) {
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                        "domain '%s': <hostdev> '%s' and '%s' both point at %s; give each "
                        "its own device (vgpuctl rewrite)", domain->name, first, alias, key);
            return FALSE;
        }
        g_hash_table_insert(seen, g_steal_pointer(&key), g_steal_pointer(&alias));
    }
    return TRUE;
}

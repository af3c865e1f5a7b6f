/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-domain-xml: the libxml2 reader of domain XML, whose documents can be
 * rewritten and printed (vgpuctl, the hook's migrate/restore); the rules are
 * vh-domain.c's, on this module's nodes (vh-domain-backend.h). */
#include "vh-domain.h"
#include "vh-domain-backend.h"
#include "vh-error.h"
#include "vh-file.h"
#include "vh-pci-address.h"

#include <libxml/parser.h>
#include <libxml/xmlsave.h>
#include <string.h>

static gboolean
is_element(xmlNodePtr node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && xmlStrcmp(node->name, BAD_CAST name) == 0;
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

static char *
prop(xmlNodePtr node, const char *name)
{
    xmlChar *value = node ? xmlGetProp(node, BAD_CAST name) : NULL;
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
    /* GMarkup reads UTF-8 only: both readers refuse any other encoding. */
    if (doc->encoding && g_ascii_strcasecmp((const char *)doc->encoding, "UTF-8") != 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "domain XML declares encoding '%.40s': refused (only UTF-8 is read)",
                    (const char *)doc->encoding);
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

/* ---- the nodes, for vh-domain.c -------------------------------------- */

static xmlNodePtr
element_from(xmlNodePtr node)
{
    while (node && node->type != XML_ELEMENT_NODE)
        node = node->next;
    return node;
}

static gpointer
x_root(gpointer doc)
{
    return xmlDocGetRootElement(doc);
}

static gpointer
x_first_child(gpointer node)
{
    return element_from(((xmlNodePtr)node)->children);
}

static gpointer
x_next(gpointer node)
{
    return element_from(((xmlNodePtr)node)->next);
}

static const char *
x_name(gpointer node)
{
    return (const char *)((xmlNodePtr)node)->name;
}

static const char *
x_ns(gpointer node)
{
    xmlNsPtr ns = ((xmlNodePtr)node)->ns;

    return ns && ns->href ? (const char *)ns->href : NULL;
}

static char *
x_prop(gpointer node, const char *name)
{
    return prop(node, name);
}

static char *
x_text(gpointer node)
{
    xmlChar *content = xmlNodeGetContent(node);
    char *text = content ? g_strdup((const char *)content) : NULL;

    xmlFree(content);
    return text;
}

static void
x_free_doc(gpointer doc)
{
    xmlFreeDoc(doc);
}

static char *
x_to_string(VhDomain *domain)
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

static void
x_ensure_uuid(VhDomain *domain)
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

static xmlDocPtr
doc_of(const VhDomainDevice *dev)
{
    return ((xmlNodePtr)dev->hostdev)->doc;
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
    xmlNodePtr source = xmlNewDocNode(doc_of(dev), NULL, BAD_CAST "source", NULL);
    xmlNodePtr first;

    xmlAddChild(source, address_node);
    if (old) {
        xmlReplaceNode(old, source);
        xmlFreeNode(old);
    } else if ((first = first_element(dev->hostdev)) != NULL) {
        xmlAddPrevSibling(first, source);
        if (source->prev && source->prev->type == XML_TEXT_NODE)
            xmlAddPrevSibling(first, xmlNewDocText(doc_of(dev), source->prev->content));
    } else {
        xmlAddChild(dev->hostdev, source);
    }
}

static void
x_set_pci(VhDomainDevice *dev, const char *address, gboolean managed)
{
    VhPciAddress pci;
    xmlNodePtr node;
    char buf[16];

    g_return_if_fail(vh_pci_address_parse(address, &pci, NULL));
    node = xmlNewDocNode(doc_of(dev), NULL, BAD_CAST "address", NULL);
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

static void
x_set_mdev(VhDomainDevice *dev, const char *uuid, gboolean display)
{
    xmlNodePtr node = xmlNewDocNode(doc_of(dev), NULL, BAD_CAST "address", NULL);

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

static const VhDomainBackend xml_backend = {
    .root = x_root,
    .first_child = x_first_child,
    .next = x_next,
    .name = x_name,
    .ns = x_ns,
    .prop = x_prop,
    .text = x_text,
    .free_doc = x_free_doc,
    .to_string = x_to_string,
    .ensure_uuid = x_ensure_uuid,
    .set_pci = x_set_pci,
    .set_mdev = x_set_mdev,
};

VhDomain *
vh_domain_parse(const char *xml, gsize len, GError **error)
{
    xmlDocPtr doc = parse_document(xml, len, error);

    return doc ? vh_domain_from_doc(&xml_backend, doc, error) : NULL;
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


/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-attach: one device for an existing domain; see the header. */
#include "vh-attach.h"
#include "vh-error.h"

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlDoc, xmlFreeDoc)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlBuffer, xmlBufferFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathContext, xmlXPathFreeContext)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlXPathObject, xmlXPathFreeObject)

/* Aliases are probed up to this many; no domain has more GPUs. */
#define VH_ATTACH_MAX_ALIAS 256

VhDomain *
vh_attach_domain_new(const char *name, const char *uuid, const char *alias, const char *resource,
                     GError **error)
{
    g_autofree char *n = g_markup_escape_text(name, -1);
    g_autofree char *u = g_markup_escape_text(uuid, -1);
    g_autofree char *a = g_markup_escape_text(alias, -1);
    g_autofree char *r = g_markup_escape_text(resource, -1);
    g_autofree char *xml = g_strdup_printf(
        "<domain type='kvm'><name>%s</name><uuid>%s</uuid><metadata>"
        "<vgpu:devices xmlns:vgpu='" VH_DOMAIN_NS "'><vgpu:device alias='%s' resource='%s'/>"
        "</vgpu:devices></metadata><devices>"
        "<hostdev mode='subsystem' type='pci' managed='no'><alias name='%s'/></hostdev>"
        "</devices></domain>", n, u, a, r, a);

    return vh_domain_parse(xml, strlen(xml), error);
}

char *
vh_attach_hostdev_xml(const VhDomainDevice *dev)
{
    g_autoptr(xmlBuffer) buf = xmlBufferCreate();

    xmlNodeDump(buf, ((xmlNodePtr)dev->hostdev)->doc, dev->hostdev, 0, 0);
    return g_strdup((const char *)xmlBufferContent(buf));
}

gboolean
vh_attach_alias_in_use(VhDomain *domain, const char *alias)
{
    g_autoptr(xmlXPathContext) ctx = xmlXPathNewContext(domain->doc);
    g_autoptr(xmlXPathObject) found = NULL;
    gboolean used = FALSE;

    if (vh_attach_find_device(domain, alias))
        return TRUE;
    found = xmlXPathEvalExpression((const xmlChar *)"/domain/devices/*/alias/@name", ctx);
    for (int i = 0; found && found->nodesetval && i < found->nodesetval->nodeNr; i++) {
        xmlChar *name = xmlNodeGetContent(found->nodesetval->nodeTab[i]);
        used |= g_strcmp0((const char *)name, alias) == 0;
        xmlFree(name);
    }
    return used;
}

char *
vh_attach_free_alias(VhDomain **domains)
{
    for (guint n = 0; n < VH_ATTACH_MAX_ALIAS; n++) {
        g_autofree char *alias = g_strdup_printf("ua-gpu%u", n);
        gboolean used = FALSE;
        for (VhDomain **d = domains; *d && !used; d++)
            used = vh_attach_alias_in_use(*d, alias);
        if (!used)
            return g_steal_pointer(&alias);
    }
    return NULL;
}

VhDomainDevice *
vh_attach_find_device(VhDomain *domain, const char *alias)
{
    for (guint i = 0; i < domain->devices->len; i++) {
        VhDomainDevice *dev = g_ptr_array_index(domain->devices, i);
        if (g_strcmp0(dev->alias, alias) == 0)
            return dev;
    }
    return NULL;
}

char *
vh_attach_device_key(const VhDomainDevice *dev)
{
    char *uuid = vh_domain_device_mdev_uuid(dev);

    return uuid ? uuid : vh_domain_device_pci_address(dev);
}

/* libvirt's metadata element: small, from libvirt, parsed as strictly as
 * a domain (no entities, no DTD, no network). */
static xmlDocPtr
parse_metadata(const char *text, GError **error)
{
    xmlDocPtr doc = xmlReadMemory(text, (int)strlen(text), "metadata.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);

    if (doc == NULL || doc->intSubset || xmlDocGetRootElement(doc) == NULL) {
        if (doc)
            xmlFreeDoc(doc);
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "the domain's <vgpu:devices> metadata is not well formed");
        return NULL;
    }
    return doc;
}

static gboolean
is_device(xmlNodePtr node)
{
    return node->type == XML_ELEMENT_NODE && strcmp((const char *)node->name, "device") == 0;
}

static char *
node_alias(xmlNodePtr node)
{
    xmlChar *value = xmlGetProp(node, (const xmlChar *)"alias");
    char *alias = g_strdup((const char *)value);

    xmlFree(value);
    return alias;
}

/* A copy of @from's attributes on a new namespace-less <device>. */
static void
copy_device(xmlNodePtr root, xmlNodePtr from)
{
    xmlNodePtr to = xmlNewChild(root, NULL, (const xmlChar *)"device", NULL);

    for (xmlAttrPtr a = from->properties; a; a = a->next) {
        xmlChar *value = xmlNodeListGetString(from->doc, a->children, 1);
        xmlNewProp(to, a->name, value);
        xmlFree(value);
    }
}

static char *
dump_root(xmlDocPtr doc)
{
    g_autoptr(xmlBuffer) buf = xmlBufferCreate();

    xmlNodeDump(buf, doc, xmlDocGetRootElement(doc), 0, 0);
    return g_strdup((const char *)xmlBufferContent(buf));
}

/* Rebuild the element without namespaces, skipping @skip's entry. Counts
 * the devices kept in *@kept and whether @skip was there in *@found. */
static xmlDocPtr
rebuild(const char *current, const char *skip, guint *kept, gboolean *found, GError **error)
{
    g_autoptr(xmlDoc) old = NULL;
    xmlDocPtr doc = xmlNewDoc((const xmlChar *)"1.0");
    xmlNodePtr root = xmlNewNode(NULL, (const xmlChar *)"devices");

    xmlDocSetRootElement(doc, root);
    *kept = 0;
    *found = FALSE;
    if (current == NULL)
        return doc;
    if ((old = parse_metadata(current, error)) == NULL) {
        xmlFreeDoc(doc);
        return NULL;
    }
    for (xmlNodePtr n = xmlDocGetRootElement(old)->children; n; n = n->next) {
        g_autofree char *alias = is_device(n) ? node_alias(n) : NULL;
        if (alias && g_strcmp0(alias, skip) == 0) {
            *found = TRUE;
            continue;
        }
        if (alias) {
            copy_device(root, n);
            (*kept)++;
        }
    }
    return doc;
}

char *
vh_attach_metadata_add(const char *current, const char *alias, const char *resource,
                       GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr dev;
    gboolean found;
    guint kept;

    if ((doc = rebuild(current, alias, &kept, &found, error)) == NULL)
        return NULL;
    if (found) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "alias '%s' is named in the domain's <vgpu:devices> already; pick another "
                    "with --alias", alias);
        return NULL;
    }
    dev = xmlNewChild(xmlDocGetRootElement(doc), NULL, (const xmlChar *)"device", NULL);
    xmlNewProp(dev, (const xmlChar *)"alias", (const xmlChar *)alias);
    xmlNewProp(dev, (const xmlChar *)"resource", (const xmlChar *)resource);
    return dump_root(doc);
}

char *
vh_attach_metadata_remove(const char *current, const char *alias, gboolean *found,
                          GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    gboolean was = FALSE;
    guint kept;

    if ((doc = rebuild(current, alias, &kept, &was, error)) == NULL)
        return NULL;
    if (found)
        *found = was;
    return kept ? dump_root(doc) : NULL;
}

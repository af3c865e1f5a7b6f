/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-domain-backend: what vh-domain needs of a parsed document, so that the
 * hook's reader (vh-domain-markup.c: GLib's GMarkup, no libxml2) and the
 * rewriting one (vh-domain-xml.c: libxml2) feed one set of rules
 * (vh-domain.c) and cannot disagree on what a domain names.
 *
 * Nodes are elements only (text is reached through text()); names are
 * local names as libxml2 gives them (an undeclared prefix stays part of the
 * name), ns() the namespace URI or NULL. prop() matches an attribute by
 * local name whatever its namespace, first in document order, as
 * xmlGetProp() does. Private to libvgpuhook; below vh-domain in the
 * layers (vh-domain.h names the struct this one fills). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

struct _VhDomain;
struct _VhDomainDevice;

typedef struct _VhDomainBackend VhDomainBackend;
struct _VhDomainBackend {
    gpointer (*root)(gpointer doc);
    gpointer (*first_child)(gpointer node); /* first child element, or NULL */
    gpointer (*next)(gpointer node);        /* next sibling element, or NULL */
    const char *(*name)(gpointer node);
    const char *(*ns)(gpointer node);
    char *(*prop)(gpointer node, const char *name);
    char *(*text)(gpointer node);           /* all text inside, as written */
    void (*free_doc)(gpointer doc);
    /* Rewriting; NULL in a reader that only reads (the hook's). */
    char *(*to_string)(struct _VhDomain *domain);
    void (*ensure_uuid)(struct _VhDomain *domain);
    void (*set_pci)(struct _VhDomainDevice *dev, const char *address, gboolean managed);
    void (*set_mdev)(struct _VhDomainDevice *dev, const char *uuid, gboolean display);
};

/* The rules of vh-domain.h on a parsed document (taken over, freed on
 * failure too). */
struct _VhDomain *vh_domain_from_doc(const VhDomainBackend *backend, gpointer doc,
                                     GError **error);

/* The first child element named @name (any namespace, as the rules say). */
gpointer vh_domain_child(const VhDomainBackend *backend, gpointer node, const char *name);

/* The hook's reader (vh-domain-markup.c): a document read with GMarkup
 * (VH_ERROR_INVALID when it is not one). The caller caps the size. */
gpointer vh_domain_markup_read(const char *xml, gsize len, GError **error);
extern const VhDomainBackend vh_domain_markup_backend;

G_END_DECLS

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-domain-markup: the hook's reader of domain XML, with GLib's GMarkup
 * (a real XML parser, of the subset without DTDs: it knows no DOCTYPE and
 * no external or user-defined entities, and reads UTF-8 only). It builds a
 * small element tree for the rules of vh-domain.c, with namespaces resolved
 * as libxml2 resolves them, and refuses what vh-domain-xml.c refuses: a
 * DOCTYPE, an encoding other than UTF-8, a document nested deeper than
 * libxml2's default limit, duplicate attributes.
 * tests/test-domain.c runs every document of its corpus through both
 * readers and asserts the same answer. */
#include "vh-domain-backend.h"
#include "vh-error.h"

#include <string.h>

/* libxml2's depth limit without XML_PARSE_HUGE (xmlParserMaxDepth: it
 * refuses an element when more than 256 are open; tests/test-domain.c
 * checks that both readers stop at the same depth). */
#define MARKUP_MAX_DEPTH 256

typedef struct MNode MNode;
struct MNode {
    char *name;         /* local name; prefix:local when the prefix is undeclared; NULL: text */
    char *ns;           /* namespace URI or NULL; for text: the text */
    char **attrs;       /* name, value, ..., NULL: names as prop() matches them */
    char **decls;       /* prefix ("" default), URI, ..., NULL: xmlns declarations here */
    MNode *parent, *first, *last, *next;
};

typedef struct {
    MNode *root;
    MNode *current;
    guint depth;
    guint events;       /* callbacks so far: an XML declaration must come first */
    gboolean decl_first; /* the document opens with "<?xml " (after a BOM) */
} MDoc;

static void
markup_free(gpointer data)
{
    MDoc *doc = data;
    MNode *node = doc ? doc->root : NULL;

    /* Iteratively, depth first: a node's children go before it. */
    while (node) {
        MNode *up;
        if (node->first) {
            MNode *child = node->first;
            node->first = NULL;
            node = child;
            continue;
        }
        up = node->next ? node->next : node->parent;
        g_free(node->name);
        g_free(node->ns);
        g_strfreev(node->attrs);
        g_strfreev(node->decls);
        g_free(node);
        node = up;
    }
    g_free(doc);
}

/* The URI bound to @prefix ("" for the default namespace) where @node
 * is, or NULL. */
static const char *
lookup_ns(const MNode *node, const char *prefix)
{
    if (strcmp(prefix, "xml") == 0)
        return "http://www.w3.org/XML/1998/namespace";
    for (; node; node = node->parent) {
        for (char **d = node->decls; d && d[0]; d += 2) {
            if (strcmp(d[0], prefix) == 0)
                return d[1];
        }
    }
    return NULL;
}

/* XML 1.0 allows no control characters but tab, newline and carriage
 * return, nor U+FFFE and U+FFFF, whether written or referenced (&#x1b;):
 * libxml2 refuses them, GMarkup would pass them on. */
static gboolean
chars_are_xml(const char *text, gsize len, GError **error)
{
    for (gsize i = 0; i < len; i++) {
        guchar c = (guchar)text[i];
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
            (c == 0xef && i + 2 < len && (guchar)text[i + 1] == 0xbf &&
             ((guchar)text[i + 2] == 0xbe || (guchar)text[i + 2] == 0xbf))) {
            g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                        "a character that XML does not allow (byte 0x%02x)", c);
            return FALSE;
        }
    }
    return TRUE;
}

static void
add_child(MDoc *doc, MNode *node)
{
    node->parent = doc->current;
    if (doc->current == NULL)
        doc->root = node;
    else if (doc->current->last)
        doc->current->last = doc->current->last->next = node;
    else
        doc->current->first = doc->current->last = node;
}

static gboolean
declarations(MNode *node, const char **names, const char **values, GError **error)
{
    g_autoptr(GPtrArray) decls = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    for (guint i = 0; names[i]; i++) {
        if (!chars_are_xml(values[i], strlen(values[i]), error))
            return FALSE;
        if (!g_hash_table_add(seen, (gpointer)names[i])) {
            g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                        "Attribute %s redefined", names[i]);
            return FALSE;
        }
        if (strcmp(names[i], "xmlns") == 0)
            g_ptr_array_add(decls, g_strdup(""));
        else if (g_str_has_prefix(names[i], "xmlns:") && *values[i]) /* libxml2 drops xmlns:p="" */
            g_ptr_array_add(decls, g_strdup(names[i] + 6));
        else
            continue;
        g_ptr_array_add(decls, g_strdup(values[i]));
    }
    if (decls->len > 0) {
        g_ptr_array_add(decls, NULL);
        node->decls = (char **)g_ptr_array_free(g_steal_pointer(&decls), FALSE);
    }
    return TRUE;
}

/* "p:local" -> "local" when p is bound (*uri set), else the name as is. */
static char *
resolve(const MNode *scope, const char *qname, gboolean element, const char **uri)
{
    const char *colon = strchr(qname, ':');
    g_autofree char *prefix = colon ? g_strndup(qname, (gsize)(colon - qname)) : NULL;

    *uri = NULL;
    if (colon == NULL) {
        if (element)
            *uri = lookup_ns(scope, ""); /* unprefixed attributes have none */
        return g_strdup(qname);
    }
    if ((*uri = lookup_ns(scope, prefix)) == NULL)
        return g_strdup(qname);
    return g_strdup(colon + 1);
}

static void
on_start(GMarkupParseContext *ctx, const char *qname, const char **names, const char **values,
         gpointer data, GError **error)
{
    MDoc *doc = data;
    MNode *node;
    g_autoptr(GPtrArray) attrs = NULL;
    const char *uri;

    doc->events++;
    if (doc->current == NULL && doc->root) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                    "Extra content at the end of the document");
        return;
    }
    if (doc->depth > MARKUP_MAX_DEPTH) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                    "Excessive depth in document: %d", MARKUP_MAX_DEPTH);
        return;
    }
    node = g_new0(MNode, 1);
    add_child(doc, node);
    doc->current = node;
    doc->depth++;
    if (!declarations(node, names, values, error))
        return;
    node->name = resolve(node, qname, TRUE, &uri);
    node->ns = uri && *uri ? g_strdup(uri) : NULL; /* xmlns="" is no namespace */
    attrs = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; names[i]; i++) {
        if (strcmp(names[i], "xmlns") == 0 || g_str_has_prefix(names[i], "xmlns:"))
            continue;
        g_ptr_array_add(attrs, resolve(node, names[i], FALSE, &uri));
        g_ptr_array_add(attrs, g_strdup(values[i]));
    }
    g_ptr_array_add(attrs, NULL);
    node->attrs = (char **)g_ptr_array_free(g_steal_pointer(&attrs), FALSE);
}

static void
on_end(GMarkupParseContext *ctx, const char *qname, gpointer data, GError **error)
{
    MDoc *doc = data;

    doc->events++;
    doc->current = doc->current->parent;
    doc->depth--;
}

static void
on_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data, GError **error)
{
    MDoc *doc = data;
    MNode *node;

    doc->events++;
    if (!chars_are_xml(text, len, error))
        return;
    if (doc->current == NULL) {
        for (gsize i = 0; i < len; i++) {
            if (!g_ascii_isspace(text[i])) {
                g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                            "Extra content at the end of the document");
                return;
            }
        }
        return;
    }
    node = g_new0(MNode, 1);
    node->ns = g_strndup(text, len);
    add_child(doc, node);
}

/* The value of pseudo-attribute @key= in an XML declaration, or NULL. */
static char *
decl_value(const char *decl, gsize len, const char *key)
{
    g_autofree char *text = g_strndup(decl, len);
    g_autofree char *pattern = g_strdup_printf("%s=", key);
    const char *at = strstr(text, pattern), *end;

    if (at == NULL || (at[strlen(pattern)] != '"' && at[strlen(pattern)] != '\''))
        return NULL;
    at += strlen(pattern);
    end = strchr(at + 1, *at);
    return end ? g_strndup(at + 1, (gsize)(end - at - 1)) : NULL;
}

/* Comments and processing instructions are skipped (libxml2 keeps them out
 * of the text too); an XML declaration must open the document and say
 * UTF-8 if it says anything; a DOCTYPE is refused. (CDATA comes as text:
 * G_MARKUP_TREAT_CDATA_AS_TEXT.) */
static void
on_passthrough(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data,
               GError **error)
{
    MDoc *doc = data;
    g_autofree char *encoding = NULL;

    if (len >= 9 && g_ascii_strncasecmp(text, "<!DOCTYPE", 9) == 0) {
        g_set_error_literal(error, VH_ERROR, VH_ERROR_INVALID, "domain XML has a DOCTYPE: "
                            "refused (entities and DTDs are not allowed)");
        return;
    }
    /* XML allows no "--" inside a comment (GMarkup does not check) */
    if (len >= 7 && strncmp(text, "<!--", 4) == 0 &&
        (g_strstr_len(text + 4, (gssize)len - 7, "--") || (len > 7 && text[len - 4] == '-'))) {
        g_set_error_literal(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                            "Double hyphen within comment");
        return;
    }
    if (len < 6 || strncmp(text, "<?xml", 5) != 0 || !g_ascii_isspace(text[5])) {
        doc->events++;
        return;
    }
    if (doc->events++ > 0 || !doc->decl_first) {
        g_set_error(error, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                    "XML declaration allowed only at the start of the document");
        return;
    }
    encoding = decl_value(text, len, "encoding");
    if (encoding && g_ascii_strcasecmp(encoding, "UTF-8") != 0)
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "domain XML declares encoding '%.40s': refused (only UTF-8 is read)", encoding);
}

/* Two rules of XML that GMarkup does not check, and that its callbacks
 * cannot see (they get "]]&gt;" and "&lt;" decoded): no "]]>" in content,
 * no raw '<' in an attribute value. Checked on the bytes, skipping CDATA
 * sections, comments and processing instructions; returns the rule broken,
 * or NULL. */
static const char *
raw_rule_broken(const char *xml, gsize len)
{
    const char *p = xml, *end = xml + len;

    while (p < end) {
        const char *lt = memchr(p, '<', (gsize)(end - p));
        const char *close = NULL;
        char quote = 0;

        if (g_strstr_len(p, (lt ? lt : end) - p, "]]>"))
            return "Sequence ']]>' not allowed in content";
        if (lt == NULL)
            return NULL;
        if (end - lt >= 9 && memcmp(lt, "<![CDATA[", 9) == 0)
            close = g_strstr_len(lt + 9, end - lt - 9, "]]>");
        else if (end - lt >= 4 && memcmp(lt, "<!--", 4) == 0)
            close = g_strstr_len(lt + 4, end - lt - 4, "-->");
        else if (end - lt >= 2 && (lt[1] == '?' || lt[1] == '!'))
            close = (close = memchr(lt + 2, '>', (gsize)(end - lt - 2))) ? close - 2 : NULL;
        else { /* a tag: to its '>', outside quotes */
            for (const char *c = lt + 1; c < end && close == NULL; c++) {
                if (quote && *c == '<')
                    return "Unescaped '<' not allowed in attributes values";
                if (quote && *c == quote)
                    quote = 0;
                else if (!quote && (*c == '"' || *c == '\''))
                    quote = *c;
                else if (!quote && *c == '>')
                    close = c - 2;
            }
        }
        if (close == NULL || close < lt)
            return NULL; /* unterminated: GMarkup says so */
        p = close + 3;
    }
    return NULL;
}

static const GMarkupParser parser = {
    .start_element = on_start,
    .end_element = on_end,
    .text = on_text,
    .passthrough = on_passthrough,
};

gpointer
vh_domain_markup_read(const char *xml, gsize len, GError **error)
{
    g_autoptr(GMarkupParseContext) ctx = NULL;
    g_autoptr(GError) local = NULL;
    MDoc *doc;
    int line = 0, col = 0;

    /* A UTF-8 byte order mark: libxml2 takes it, GMarkup would not. */
    if (len >= 3 && memcmp(xml, "\xef\xbb\xbf", 3) == 0) {
        xml += 3;
        len -= 3;
    }
    doc = g_new0(MDoc, 1);
    doc->decl_first = len >= 6 && memcmp(xml, "<?xml", 5) == 0 && g_ascii_isspace(xml[5]);
    ctx = g_markup_parse_context_new(&parser, G_MARKUP_TREAT_CDATA_AS_TEXT, doc, NULL);
    if (memchr(xml, '\0', len) != NULL)
        g_set_error_literal(&local, G_MARKUP_ERROR, G_MARKUP_ERROR_BAD_UTF8, "a NUL byte");
    else if (raw_rule_broken(xml, len))
        g_set_error_literal(&local, G_MARKUP_ERROR, G_MARKUP_ERROR_INVALID_CONTENT,
                            raw_rule_broken(xml, len));
    else if (g_markup_parse_context_parse(ctx, xml, (gssize)len, &local) &&
             g_markup_parse_context_end_parse(ctx, &local) && doc->root == NULL)
        g_set_error_literal(&local, G_MARKUP_ERROR, G_MARKUP_ERROR_EMPTY, "Document is empty");
    if (local == NULL)
        return doc;
    markup_free(doc);
    if (local->domain == VH_ERROR) {
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    if (g_str_has_prefix(local->message, "Error on line ")) { /* GMarkup's own: says where */
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "domain XML is not well formed: %s",
                    local->message + strlen("Error on "));
        return NULL;
    }
    g_markup_parse_context_get_position(ctx, &line, &col);
    g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "domain XML is not well formed: line %d: %s",
                line, local->message);
    return NULL;
}

/* ---- the nodes, for vh-domain.c -------------------------------------- */

static MNode *
element_from(MNode *node)
{
    while (node && node->name == NULL)
        node = node->next;
    return node;
}

static gpointer
m_root(gpointer doc)
{
    return ((MDoc *)doc)->root;
}

static gpointer
m_first_child(gpointer node)
{
    return element_from(((MNode *)node)->first);
}

static gpointer
m_next(gpointer node)
{
    return element_from(((MNode *)node)->next);
}

static const char *
m_name(gpointer node)
{
    return ((MNode *)node)->name;
}

static const char *
m_ns(gpointer node)
{
    return ((MNode *)node)->ns;
}

static char *
m_prop(gpointer node, const char *name)
{
    for (char **a = node ? ((MNode *)node)->attrs : NULL; a && a[0]; a += 2) {
        if (strcmp(a[0], name) == 0)
            return g_strdup(a[1]);
    }
    return NULL;
}

/* All text inside @node in document order (an explicit walk, no recursion). */
static char *
m_text(gpointer node)
{
    GString *text = g_string_new(NULL);
    MNode *top = node, *c = top->first;

    while (c) {
        if (c->name == NULL)
            g_string_append(text, c->ns);
        else if (c->first) {
            c = c->first;
            continue;
        }
        while (c != top && c->next == NULL)
            c = c->parent;
        c = c == top ? NULL : c->next;
    }
    return g_string_free(text, FALSE);
}

const VhDomainBackend vh_domain_markup_backend = {
    .root = m_root,
    .first_child = m_first_child,
    .next = m_next,
    .name = m_name,
    .ns = m_ns,
    .prop = m_prop,
    .text = m_text,
    .free_doc = markup_free,
};

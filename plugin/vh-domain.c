/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-domain: the rules for domain XML, on a document that either reader
 * parsed (vh-domain-backend.h); see the header. No libxml2 here: the hook's
 * worker links this file without it. */
#include "vh-domain.h"
#include "vh-domain-backend.h"
#include "vh-error.h"
#include "vh-ident.h"
#include "vh-file.h"
#include "vh-pci-address.h"
#include "vh-resource-name.h"

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
        domain->backend->free_doc(domain->doc);
    g_free(domain->name);
    g_free(domain->uuid);
    if (domain->devices)
        g_ptr_array_unref(domain->devices);
    g_free(domain);
}

static gboolean
is_element(const VhDomainBackend *b, gpointer node, const char *name)
{
    return strcmp(b->name(node), name) == 0;
}

/* An element of ours: its name in the vgpu-hook namespace (a look-alike of
 * another namespace inside our block is someone else's). */
static gboolean
is_our_element(const VhDomainBackend *b, gpointer node, const char *name)
{
    return is_element(b, node, name) && g_strcmp0(b->ns(node), VH_DOMAIN_NS) == 0;
}

gpointer
vh_domain_child(const VhDomainBackend *b, gpointer parent, const char *name)
{
    for (gpointer c = parent ? b->first_child(parent) : NULL; c; c = b->next(c)) {
        if (is_element(b, c, name))
            return c;
    }
    return NULL;
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
find_devices_block(VhDomain *domain, gpointer root, gpointer *block, GError **error)
{
    const VhDomainBackend *b = domain->backend;
    gpointer metadata = vh_domain_child(b, root, "metadata");

    *block = NULL;
    for (gpointer c = metadata ? b->first_child(metadata) : NULL; c; c = b->next(c)) {
        if (!is_our_element(b, c, "devices"))
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
parse_meta_device(VhDomain *domain, gpointer node, GError **error)
{
    const VhDomainBackend *b = domain->backend;
    g_autoptr(GError) local = NULL;
    VhDomainDevice *dev = g_new0(VhDomainDevice, 1);
    g_autofree char *numa = b->prop(node, "numa");
    g_autofree char *display = b->prop(node, "display");

    g_ptr_array_add(domain->devices, dev);
    dev->backend = b;
    dev->meta = node;
    dev->want_numa = -1;
    dev->alias = b->prop(node, "alias");
    dev->resource = b->prop(node, "resource");
    dev->want_address = b->prop(node, "address");
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
hostdev_alias(const VhDomainBackend *b, gpointer hostdev)
{
    gpointer alias = vh_domain_child(b, hostdev, "alias");

    return alias ? b->prop(alias, "name") : NULL;
}

/* Link each named device to its <hostdev>; check the reverse direction for
 * hostdevs that carry a user alias but have nothing to point at. */
static gboolean
link_hostdevs(VhDomain *domain, gpointer devices_node, GError **error)
{
    const VhDomainBackend *b = domain->backend;

    for (gpointer c = devices_node ? b->first_child(devices_node) : NULL; c; c = b->next(c)) {
        g_autofree char *alias = NULL;
        VhDomainDevice *owner = NULL;
        if (!is_element(b, c, "hostdev") || (alias = hostdev_alias(b, c)) == NULL)
            continue;
        for (guint i = 0; i < domain->devices->len; i++) {
            VhDomainDevice *dev = g_ptr_array_index(domain->devices, i);
            if (strcmp(dev->alias, alias) == 0)
                owner = dev;
        }
        if (owner == NULL) {
            if (vh_domain_child(b, c, "source") == NULL) {
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

/* The text exactly as written: libvirt keeps a <name> as written, and a
 * trimmed copy would name another domain's pid file. */
static char *
child_text(const VhDomainBackend *b, gpointer root, const char *name)
{
    gpointer node = vh_domain_child(b, root, name);

    return node ? b->text(node) : NULL;
}

static gboolean
read_identity(VhDomain *domain, gpointer root, GError **error)
{
    domain->name = child_text(domain->backend, root, "name");
    if (!vh_domain_name_is_valid(domain->name)) {
        g_autofree char *shown = domain->name ? g_strescape(domain->name, NULL) : NULL;
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "domain <name> '%.64s' is missing or not usable (libvirt's rules: not "
                    "empty, no '/', no newline; at most %d bytes)", shown ? shown : "",
                    VH_DOMAIN_NAME_MAX);
        return FALSE;
    }
    domain->uuid = child_text(domain->backend, root, "uuid");
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
vh_domain_from_doc(const VhDomainBackend *b, gpointer doc, GError **error)
{
    g_autoptr(VhDomain) domain = g_new0(VhDomain, 1);
    gpointer root, block;

    domain->backend = b;
    domain->doc = doc;
    domain->devices = g_ptr_array_new_with_free_func((GDestroyNotify)device_free);
    root = b->root(doc);
    if (root == NULL || !is_element(b, root, "domain")) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "not a libvirt domain: root element is <%s>",
                    root ? b->name(root) : "none");
        return NULL;
    }
    /* libvirt's <domain> has no namespace; <x:domain xmlns:x="..."> is
     * another document, whose look-alike children must not be acted on. */
    if (b->ns(root) != NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "not a libvirt domain: root element <domain> is in namespace '%.80s'",
                    b->ns(root));
        return NULL;
    }
    if (!read_identity(domain, root, error))
        return NULL;
    if (!find_devices_block(domain, root, &block, error))
        return NULL;
    for (gpointer c = block ? b->first_child(block) : NULL; c; c = b->next(c)) {
        if (!is_our_element(b, c, "device"))
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
    if (!link_hostdevs(domain, vh_domain_child(b, root, "devices"), error))
        return NULL;
    return g_steal_pointer(&domain);
}

static gboolean
size_ok(gsize len, GError **error)
{
    if (len > VH_DOMAIN_MAX_SIZE) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "domain XML is %" G_GSIZE_FORMAT " bytes, more than the %d allowed", len,
                    VH_DOMAIN_MAX_SIZE);
        return FALSE;
    }
    return TRUE;
}

VhDomain *
vh_domain_read(const char *xml, gsize len, GError **error)
{
    gpointer doc = size_ok(len, error) ? vh_domain_markup_read(xml, len, error) : NULL;

    return doc ? vh_domain_from_doc(&vh_domain_markup_backend, doc, error) : NULL;
}

/* Rewriting belongs to the libxml2 reader (vh-domain-xml.c). */
char *
vh_domain_to_string(VhDomain *domain)
{
    g_return_val_if_fail(domain->backend->to_string != NULL, NULL);
    return domain->backend->to_string(domain);
}

void
vh_domain_ensure_uuid(VhDomain *domain)
{
    g_return_if_fail(domain->backend->ensure_uuid != NULL);
    domain->backend->ensure_uuid(domain);
}

void
vh_domain_device_set_pci(VhDomainDevice *dev, const char *address, gboolean managed)
{
    g_return_if_fail(dev->backend->set_pci != NULL);
    dev->backend->set_pci(dev, address, managed);
}

void
vh_domain_device_set_mdev(VhDomainDevice *dev, const char *uuid, gboolean display)
{
    g_return_if_fail(dev->backend->set_mdev != NULL);
    dev->backend->set_mdev(dev, uuid, display);
}

static gboolean
is_linked(VhDomain *domain, gpointer hostdev)
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
    const VhDomainBackend *b = domain->backend;
    GPtrArray *plain = g_ptr_array_new_with_free_func((GDestroyNotify)device_free);
    gpointer devices = vh_domain_child(b, b->root(domain->doc), "devices");
    guint n = 0;

    for (gpointer c = devices ? b->first_child(devices) : NULL; c; c = b->next(c)) {
        g_autofree char *mode = NULL, *type = NULL;
        VhDomainDevice *dev;
        if (!is_element(b, c, "hostdev"))
            continue;
        n++;
        mode = b->prop(c, "mode");
        type = b->prop(c, "type");
        if (g_strcmp0(mode, "subsystem") != 0 || g_strcmp0(type, "pci") != 0 || is_linked(domain, c))
            continue;
        if (plain->len >= VH_DOMAIN_MAX_DEVICES)
            break;
        dev = g_new0(VhDomainDevice, 1);
        dev->backend = b;
        dev->alias = hostdev_alias(b, c);
        if (dev->alias == NULL)
            dev->alias = g_strdup_printf("hostdev %u", n);
        dev->want_numa = -1;
        dev->hostdev = c;
        g_ptr_array_add(plain, dev);
    }
    return plain;
}

static gpointer
source_address(const VhDomainBackend *b, gpointer hostdev)
{
    return vh_domain_child(b, vh_domain_child(b, hostdev, "source"), "address");
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
pci_address_of(const VhDomainBackend *b, gpointer addr)
{
    g_autofree char *domain = NULL, *bus = NULL, *slot = NULL, *function = NULL;
    guint64 d, bn, s, f;
    VhPciAddress pci;

    if (addr == NULL)
        return NULL;
    domain = b->prop(addr, "domain");
    bus = b->prop(addr, "bus");
    slot = b->prop(addr, "slot");
    function = b->prop(addr, "function");
    if (!domain || !bus || !slot || !function ||
        !parse_number(domain, 0xffff, &d) || !parse_number(bus, 0xff, &bn) ||
        !parse_number(slot, 0x1f, &s) || !parse_number(function, 7, &f))
        return NULL;
    pci.domain = (guint)d;
    pci.bus = (guint)bn;
    pci.slot = (guint)s;
    pci.function = (guint)f;
    return vh_pci_address_to_string(&pci);
}

char *
vh_domain_device_pci_address(const VhDomainDevice *dev)
{
    return pci_address_of(dev->backend, source_address(dev->backend, dev->hostdev));
}

char *
vh_domain_device_mdev_uuid(const VhDomainDevice *dev)
{
    const VhDomainBackend *b = dev->backend;
    gpointer addr = source_address(b, dev->hostdev);
    g_autofree char *uuid = addr ? b->prop(addr, "uuid") : NULL;

    return uuid && vh_uuid_is_valid(uuid) ? g_ascii_strdown(uuid, -1) : NULL;
}

/* Every <hostdev> at any depth (not inside another); an explicit stack, as a
 * status file is the user's too and its depth is the reader's limit. */
static void
collect_pci_hostdevs(const VhDomainBackend *b, gpointer root, GPtrArray *out)
{
    g_autoptr(GPtrArray) todo = g_ptr_array_new();

    g_ptr_array_add(todo, root);
    while (todo->len > 0) {
        gpointer c = g_ptr_array_steal_index(todo, todo->len - 1);
        g_autofree char *type = NULL;
        char *address;

        if (b->next(c))
            g_ptr_array_add(todo, b->next(c));
        if (strcmp(b->name(c), "hostdev") != 0) {
            if (b->first_child(c))
                g_ptr_array_add(todo, b->first_child(c));
            continue;
        }
        type = b->prop(c, "type");
        if (g_strcmp0(type, "pci") == 0 && (address = pci_address_of(b, source_address(b, c))))
            g_ptr_array_add(out, address);
        else if (g_strcmp0(type, "mdev") == 0 &&
                 (address = b->prop(source_address(b, c), "uuid")) != NULL) {
            if (vh_uuid_is_valid(address))
                g_ptr_array_add(out, g_ascii_strdown(address, -1));
            g_free(address);
        }
    }
}

GPtrArray *
vh_domain_live_pci_hostdevs(const char *xml, gsize len, GError **error)
{
    const VhDomainBackend *b = &vh_domain_markup_backend;
    gpointer doc = size_ok(len, error) ? vh_domain_markup_read(xml, len, error) : NULL;
    GPtrArray *out;

    if (doc == NULL)
        return NULL;
    out = g_ptr_array_new_with_free_func(g_free);
    if (b->root(doc))
        collect_pci_hostdevs(b, b->root(doc), out);
    b->free_doc(doc);
    return out;
}

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

/* The source of any <hostdev>: "ADDR" for PCI, the UUID for an mdev. */
static char *
hostdev_source_key(const VhDomainBackend *b, gpointer hostdev)
{
    VhDomainDevice probe = { .hostdev = hostdev, .backend = b };
    char *uuid = vh_domain_device_mdev_uuid(&probe);

    return uuid ? uuid : vh_domain_device_pci_address(&probe);
}

gboolean
vh_domain_check_distinct_sources(const VhDomain *domain, GError **error)
{
    const VhDomainBackend *b = domain->backend;
    gpointer devices = vh_domain_child(b, b->root(domain->doc), "devices");
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    guint n = 0;

    for (gpointer c = devices ? b->first_child(devices) : NULL; c; c = b->next(c)) {
        g_autofree char *key = NULL;
        g_autofree char *alias = NULL;
        const char *first;
        if (!is_element(b, c, "hostdev") || (key = hostdev_source_key(b, c)) == NULL)
            continue;
        n++;
        alias = hostdev_alias(b, c);
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

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl attach, detach: a named device for a domain that exists already.
 *
 * libvirt runs no hook for a hot-plug, so attach does what define and the
 * hook's prepare would, in this order, each step undone in reverse when a
 * later one fails (libvirt's or QEMU's refusal included): reserve a free
 * device under the lease lock, prepare it (running domain), add the
 * <vgpu:device> metadata, attach the <hostdev>. Detach asks libvirt to
 * remove the device and releases it only once libvirt confirms the removal
 * (the device-removed event, or the alias gone from the live XML); when
 * that does not come in time the lease stays active. */
#include "config.h"
#include "vgpuctl.h"
#include "vgpuctl-virt.h"

#include <libvirt/virterror.h>
#include <stdio.h>
#include <string.h>

#define DETACH_TIMEOUT_S 30
#define POLL_MS 200

typedef struct {
    VhCtl *ctl;
    virDomainPtr dom;
    char uuid[VIR_UUID_STRING_BUFLEN];
    const char *name;
    gboolean live, config;
    VhDomain *docs[3];      /* the live and/or inactive XML, NULL-terminated */
    char *key;              /* lease key of the device */
    gboolean requested;     /* libvirt took the detach request */
} Target;

static void
target_clear(Target *t)
{
    for (guint i = 0; t->docs[i]; i++)
        vh_domain_free(t->docs[i]);
    g_free(t->key);
    if (t->dom)
        virDomainFree(t->dom);
}

virDomainPtr
vh_ctl_lookup_targets(virConnectPtr conn, const char *name, gboolean *live, gboolean *config,
                      GError **error)
{
    virDomainPtr dom = virDomainLookupByName(conn, name);
    int active, persistent;

    if (dom == NULL) {
        g_autofree char *what = g_strdup_printf("no domain '%s'", name);
        vh_ctl_set_libvirt_error(error, what);
        return NULL;
    }
    active = virDomainIsActive(dom);
    persistent = virDomainIsPersistent(dom);
    if (!*live && !*config) {
        *live = active == 1;
        *config = persistent == 1;
    }
    if (*live && active != 1)
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "it is not running: leave out --live (its configuration is changed with "
                    "--config)");
    else if (*config && persistent != 1)
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "it is transient: it has no configuration; leave out --config");
    else
        return dom;
    virDomainFree(dom);
    return NULL;
}

static unsigned int
affect_flags(const Target *t)
{
    return (t->live ? VIR_DOMAIN_AFFECT_LIVE : 0) | (t->config ? VIR_DOMAIN_AFFECT_CONFIG : 0);
}

/* The live and/or inactive documents, as libvirt has them now. */
static gboolean
load_docs(Target *t, GError **error)
{
    guint n = 0;

    for (guint i = 0; i < 2; i++) {
        gboolean want = i == 0 ? t->live : t->config;
        char *xml;
        if (!want)
            continue;
        xml = virDomainGetXMLDesc(t->dom, i == 0 ? 0 : VIR_DOMAIN_XML_INACTIVE);
        if (xml == NULL) {
            vh_ctl_set_libvirt_error(error, "cannot read the domain's XML");
            return FALSE;
        }
        t->docs[n] = vh_domain_parse(xml, strlen(xml), error);
        free(xml);
        if (t->docs[n++] == NULL)
            return FALSE;
    }
    return TRUE;
}

static gboolean
open_target(VhCtl *ctl, virConnectPtr conn, const char *name, Target *t, GError **error)
{
    t->ctl = ctl;
    t->name = name;
    if ((t->dom = vh_ctl_lookup_targets(conn, name, &t->live, &t->config, error)) == NULL)
        return FALSE;
    if (virDomainGetUUIDString(t->dom, t->uuid) < 0) {
        vh_ctl_set_libvirt_error(error, "cannot read the domain's UUID");
        return FALSE;
    }
    return load_docs(t, error);
}

/* virDomainGetMetadata's element, or NULL when there is none. */
static gboolean
get_metadata(Target *t, unsigned int flag, char **out, GError **error)
{
    *out = virDomainGetMetadata(t->dom, VIR_DOMAIN_METADATA_ELEMENT, VH_DOMAIN_NS, flag);
    if (*out || virGetLastErrorCode() == VIR_ERR_NO_DOMAIN_METADATA)
        return TRUE;
    vh_ctl_set_libvirt_error(error, "cannot read the domain's vgpu metadata");
    return FALSE;
}

static gboolean
set_metadata(Target *t, unsigned int flag, const char *text, GError **error)
{
    if (virDomainSetMetadata(t->dom, VIR_DOMAIN_METADATA_ELEMENT, text,
                             text ? VH_ATTACH_METADATA_KEY : NULL, VH_DOMAIN_NS, flag) == 0)
        return TRUE;
    vh_ctl_set_libvirt_error(error, "libvirt refused the vgpu metadata");
    return FALSE;
}

static const char *
targets_text(const Target *t)
{
    return t->live && t->config ? "live, config" : t->live ? "live" : "config";
}

static void
print_result(const Target *t, const char *verb, const char *alias, const char *resource)
{
    if (!t->ctl->json) {
        printf("Domain '%s': %s %s (%s) as %s (%s)\n", t->name, verb, t->key ? t->key : "?",
               resource ? resource : "?", alias, targets_text(t));
        return;
    }
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "domain");
    json_builder_add_string_value(b, t->name);
    json_builder_set_member_name(b, "alias");
    json_builder_add_string_value(b, alias);
    json_builder_set_member_name(b, "resource");
    json_builder_add_string_value(b, resource);
    json_builder_set_member_name(b, "device");
    json_builder_add_string_value(b, t->key);
    json_builder_set_member_name(b, "action");
    json_builder_add_string_value(b, verb);
    json_builder_set_member_name(b, "live");
    json_builder_add_boolean_value(b, t->live);
    json_builder_set_member_name(b, "config");
    json_builder_add_boolean_value(b, t->config);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    vh_ctl_print_json(root);
}

/* A bare --config is virsh's flag (the persistent configuration); the
 * configuration file is given as --config=FILE (vgpuctl's main joins a
 * global "--config FILE" given before the command). */
static gboolean
take_config_flag(int *argc, char **argv)
{
    gboolean found = FALSE;
    int out = 1;

    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            for (; i < *argc; i++)
                argv[out++] = argv[i];
            break;
        }
        if (strcmp(argv[i], "--config") == 0)
            found = TRUE;
        else
            argv[out++] = argv[i];
    }
    *argc = out;
    argv[out] = NULL;
    return found;
}

/* ---- attach ------------------------------------------------------------ */

typedef struct {
    Target t;
    VhDomain *one;          /* the one-device document */
    VhDomainDevice *dev;
    gboolean reserved;
    char *meta_before[2];   /* per LIVE, CONFIG: what to put back */
    gboolean meta_set[2];
} Attach;

/* Reserve a free device under the lease lock, as define does; every lease
 * blocks, this domain's too (it must not get its own GPU twice). */
static gboolean
reserve_device(Attach *a, GError **error)
{
    g_autoptr(VhInventory) inv = vh_inventory_open(a->t.ctl->host, NULL, VH_INVENTORY_LOCK, error);
    g_autoptr(VhAllocator) alloc = NULL;

    if (inv == NULL)
        return FALSE;
    alloc = vh_inventory_allocator(inv);
    if (!vh_allocate_device(alloc, a->one, a->dev, inv->store, error))
        return FALSE;
    a->t.key = vh_attach_device_key(a->dev);
    a->reserved = TRUE;
    return TRUE;
}

static gboolean
add_metadata(Attach *a, GError **error)
{
    for (guint i = 0; i < 2; i++) {
        unsigned int flag = i == 0 ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG;
        g_autofree char *text = NULL;
        if (!(i == 0 ? a->t.live : a->t.config))
            continue;
        if (!get_metadata(&a->t, flag, &a->meta_before[i], error) ||
            (text = vh_attach_metadata_add(a->meta_before[i], a->dev->alias, a->dev->resource,
                                           error)) == NULL ||
            !set_metadata(&a->t, flag, text, error))
            return FALSE;
        a->meta_set[i] = TRUE;
    }
    return TRUE;
}

static gboolean
attach_hostdev(Attach *a, GError **error)
{
    g_autofree char *xml = vh_attach_hostdev_xml(a->dev);

    if (virDomainAttachDeviceFlags(a->t.dom, xml, affect_flags(&a->t)) == 0)
        return TRUE;
    g_autofree char *what = g_strdup_printf("libvirt refused to attach %s", a->t.key);
    vh_ctl_set_libvirt_error(error, what);
    return FALSE;
}

/* Undo in reverse; what could not be undone is appended to @why. */
static void
undo_attach(Attach *a, GString *why)
{
    g_autoptr(GError) local = NULL;

    for (guint i = 0; i < 2; i++) {
        unsigned int flag = i == 0 ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG;
        if (a->meta_set[i] && !set_metadata(&a->t, flag, a->meta_before[i], &local)) {
            g_string_append_printf(why, "; metadata left: %s", local->message);
            g_clear_error(&local);
        }
    }
    /* active (prepared) or reserved: undone and dropped alike */
    if (a->reserved && !vh_lifecycle_release_device(a->t.ctl->config, a->t.uuid, a->t.key, TRUE,
                                                    FALSE, &local))
        g_string_append_printf(why, "; %s", local->message);
}

static gboolean
run_attach(Attach *a, const char *resource, const char *alias, GError **error)
{
    g_autofree char *picked = alias ? g_strdup(alias) : vh_attach_free_alias(a->t.docs);

    for (guint i = 0; picked && a->t.docs[i]; i++) {
        if (vh_attach_alias_in_use(a->t.docs[i], picked)) {
            g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                        "alias '%s' is in use in domain '%s'; pick another with --alias", picked,
                        a->t.name);
            return FALSE;
        }
    }
    if (picked == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY, "no free ua-gpuN alias; give --alias");
        return FALSE;
    }
    if ((a->one = vh_attach_domain_new(a->t.name, a->t.uuid, picked, resource, error)) == NULL)
        return FALSE;
    a->dev = g_ptr_array_index(a->one->devices, 0);
    if (!reserve_device(a, error))
        return FALSE;
    if (a->t.live && !vh_lifecycle_prepare_device(a->t.ctl->config, a->one, a->dev->alias, error))
        return FALSE;
    return add_metadata(a, error) && attach_hostdev(a, error);
}

int
vh_ctl_cmd_attach(VhCtl *ctl, int argc, char **argv)
{
    g_autofree char *uri = NULL;
    g_autofree char *alias = NULL;
    Attach a = { 0 };
    GOptionEntry entries[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (as virsh -c)", "URI" },
        { "alias", 0, 0, G_OPTION_ARG_STRING, &alias,
          "User alias of the new device (default: the first free ua-gpuN)", "ALIAS" },
        { "live", 0, 0, G_OPTION_ARG_NONE, &a.t.live, "Attach to the running domain", NULL },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    virConnectPtr conn = NULL;
    int rc = 0;

    a.t.config = take_config_flag(&argc, argv);
    if (!vh_ctl_parse(ctl, vh_ctl_command("attach"), entries, &argc, &argv, 2, 2, &rc))
        return rc;
    if (!vh_ctl_setup(ctl, &error) || (conn = vh_ctl_connect_libvirt(uri, &error)) == NULL ||
        !open_target(ctl, conn, argv[1], &a.t, &error)) {
        rc = vh_ctl_fail("attach: domain '%s': %s", argv[1], error->message);
    } else if (!run_attach(&a, argv[2], alias, &error)) {
        g_autoptr(GString) why = g_string_new(NULL);
        undo_attach(&a, why);
        rc = vh_ctl_fail("attach: domain '%s', %s: %s; %s%s", argv[1], argv[2], error->message,
                         why->len ? "undo incomplete" : "nothing changed",
                         why->len ? why->str : "");
    } else {
        print_result(&a.t, "attached", a.dev->alias, a.dev->resource);
    }
    vh_domain_free(a.one);
    g_free(a.meta_before[0]);
    g_free(a.meta_before[1]);
    target_clear(&a.t);
    if (conn)
        virConnectClose(conn);
    return rc;
}

/* ---- detach ------------------------------------------------------------ */

typedef struct {
    const char *alias;
    gboolean removed;
} Removal;

static void
on_device_removed(virConnectPtr conn, virDomainPtr dom, const char *alias, void *opaque)
{
    Removal *r = opaque;

    (void)conn;
    (void)dom;
    if (g_strcmp0(alias, r->alias) == 0)
        r->removed = TRUE;
}

static void
on_tick(int timer, void *opaque)
{
    (void)timer;
    (void)opaque;
}

/* The event may come before we listen, or be lost with the connection:
 * the live XML is asked too. A domain that stopped has no device left. */
static gboolean
gone_from_live_xml(virDomainPtr dom, const char *alias)
{
    g_autoptr(VhDomain) doc = NULL;
    char *xml;

    if (virDomainIsActive(dom) != 1 || (xml = virDomainGetXMLDesc(dom, 0)) == NULL)
        return TRUE;
    doc = vh_domain_parse(xml, strlen(xml), NULL);
    free(xml);
    return doc && !vh_attach_alias_in_use(doc, alias);
}

/* Ask libvirt to remove @alias; for the live domain, wait (bounded) until
 * it confirms the removal. */
static gboolean
detach_and_wait(Target *t, virConnectPtr conn, const char *alias, guint timeout_s,
                GError **error)
{
    Removal r = { alias, FALSE };
    gint64 deadline = g_get_monotonic_time() + (gint64)timeout_s * G_USEC_PER_SEC;
    int cb = -1, timer;

    if (t->live)
        cb = virConnectDomainEventRegisterAny(conn, t->dom, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                              VIR_DOMAIN_EVENT_CALLBACK(on_device_removed), &r,
                                              NULL);
    if (virDomainDetachDeviceAlias(t->dom, alias, affect_flags(t)) < 0) {
        g_autofree char *what = g_strdup_printf("libvirt refused to detach '%s'", alias);
        vh_ctl_set_libvirt_error(error, what);
        if (cb >= 0)
            virConnectDomainEventDeregisterAny(conn, cb);
        return FALSE;
    }
    t->requested = TRUE;
    if (!t->live)
        return TRUE;
    timer = virEventAddTimeout(POLL_MS, on_tick, NULL, NULL);
    while (!r.removed && g_get_monotonic_time() < deadline) {
        if (virEventRunDefaultImpl() < 0)
            break;
        r.removed = r.removed || gone_from_live_xml(t->dom, alias);
    }
    if (timer >= 0)
        virEventRemoveTimeout(timer);
    if (cb >= 0)
        virConnectDomainEventDeregisterAny(conn, cb);
    if (r.removed)
        return TRUE;
    g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                "libvirt has not confirmed the removal of '%s' (%s) within %u s (the guest may "
                "still hold it); its lease stays active%s: run 'vgpuctl detach --live' again "
                "later, or stop the domain", alias, t->key ? t->key : "?", timeout_s,
                t->config ? " (the configuration no longer names it)" : "");
    return FALSE;
}

static gboolean
remove_metadata(Target *t, const char *alias, gboolean live, gboolean config, GError **error)
{
    for (guint i = 0; i < 2; i++) {
        unsigned int flag = i == 0 ? VIR_DOMAIN_AFFECT_LIVE : VIR_DOMAIN_AFFECT_CONFIG;
        g_autofree char *before = NULL;
        g_autofree char *after = NULL;
        g_autoptr(GError) local = NULL;
        if (!(i == 0 ? live : config))
            continue;
        if (!get_metadata(t, flag, &before, error))
            return FALSE;
        after = vh_attach_metadata_remove(before, alias, NULL, &local);
        if (local) {
            g_propagate_error(error, g_steal_pointer(&local));
            return FALSE;
        }
        if (before && !set_metadata(t, flag, after, error))
            return FALSE;
    }
    return TRUE;
}

/* After libvirt removed the device: the live part is undone; the lease
 * stays a reservation while the configuration still names the device, and
 * stays active while a running domain still has it (--config alone). */
static gboolean
release_after_detach(Target *t, gboolean running, gboolean persistent, GError **error)
{
    g_autoptr(GError) local = NULL;

    if (t->key == NULL || (running && !t->live))
        return TRUE;
    if (vh_lifecycle_release_device(t->ctl->config, t->uuid, t->key,
                                    t->ctl->config->release_restores_driver,
                                    persistent && !t->config, &local))
        return TRUE;
    if (g_error_matches(local, VH_ERROR, VH_ERROR_NOT_FOUND))
        return TRUE; /* defined without vgpuctl: no lease to drop */
    g_propagate_error(error, g_steal_pointer(&local));
    return FALSE;
}

static gboolean
run_detach(Target *t, virConnectPtr conn, const char *alias, guint timeout_s,
           const char **resource, GError **error)
{
    gboolean running = virDomainIsActive(t->dom) == 1;
    gboolean persistent = virDomainIsPersistent(t->dom) == 1;
    VhDomainDevice *dev = NULL;

    for (guint i = 0; t->docs[i] && dev == NULL; i++)
        dev = vh_attach_find_device(t->docs[i], alias);
    if (dev == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND,
                    "no <vgpu:device> with alias '%s' (see 'virsh dumpxml %s'; other devices "
                    "are detached with virsh)", alias, t->name);
        return FALSE;
    }
    *resource = dev->resource;
    t->key = vh_attach_device_key(dev);
    if (!detach_and_wait(t, conn, alias, timeout_s, error)) {
        /* libvirt changed the configuration at once, the live domain not
         * yet: the configuration must not name a device it no longer has
         * (the next start would refuse it) */
        if (t->requested && t->config)
            remove_metadata(t, alias, FALSE, TRUE, NULL);
        return FALSE;
    }
    return remove_metadata(t, alias, t->live, t->config, error) &&
           release_after_detach(t, running, persistent, error);
}

int
vh_ctl_cmd_detach(VhCtl *ctl, int argc, char **argv)
{
    g_autofree char *uri = NULL;
    gint timeout_s = DETACH_TIMEOUT_S;
    Target t = { 0 };
    GOptionEntry entries[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (as virsh -c)", "URI" },
        { "live", 0, 0, G_OPTION_ARG_NONE, &t.live, "Detach from the running domain", NULL },
        { "timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s,
          "Seconds to wait for libvirt to confirm a live removal (default 30)", "SECONDS" },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    const char *resource = NULL;
    virConnectPtr conn = NULL;
    int rc = 0;

    t.config = take_config_flag(&argc, argv);
    if (!vh_ctl_parse(ctl, vh_ctl_command("detach"), entries, &argc, &argv, 2, 2, &rc))
        return rc;
    if (timeout_s < 1 || timeout_s > 3600)
        return vh_ctl_fail("detach: --timeout must be 1 to 3600 seconds");
    /* before the connection: it takes its events from the default loop */
    virEventRegisterDefaultImpl();
    if (!vh_ctl_setup(ctl, &error) || (conn = vh_ctl_connect_libvirt(uri, &error)) == NULL ||
        !open_target(ctl, conn, argv[1], &t, &error) ||
        !run_detach(&t, conn, argv[2], (guint)timeout_s, &resource, &error))
        rc = vh_ctl_fail("detach: domain '%s', alias '%s': %s", argv[1], argv[2], error->message);
    else
        print_result(&t, "detached", argv[2], resource);
    target_clear(&t);
    if (conn)
        virConnectClose(conn);
    return rc;
}

const char vh_ctl_attach_description[] =
    "Targets, as virsh's: --live (the running domain) and --config (its persistent\n"
    "configuration; a bare --config here, the configuration file is --config=FILE).\n"
    "Default: --live when the domain runs, plus --config when it is persistent.\n"
    "The device is picked and reserved as define does, prepared as the hook does\n"
    "(live), named in <vgpu:devices> and attached; any failure undoes all of it.";
const char vh_ctl_detach_description[] =
    "Targets as for attach (--live, a bare --config). The device is released only\n"
    "after libvirt confirms its removal from the running domain; if that does not\n"
    "come within --timeout seconds, its lease stays active.";

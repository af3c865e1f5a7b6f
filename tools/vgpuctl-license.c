/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl license: a cloud-init NoCloud seed that licenses the guest's
 * NVIDIA driver (vh-license), built into an ISO by cloud-localds and
 * attached to the domain as a cdrom.
 *
 * The token is a secret: it goes into the seed's user-data and ISO only
 * (files 0600 under umask 077, each written to a fresh O_EXCL temporary file
 * and renamed into place), never into a message, the JSON output or the
 * domain XML (which names the ISO's path). */
#include "config.h"
#include "vgpuctl.h"
#include "vgpuctl-virt.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SEED_ALIAS "ua-vgpu-seed"

typedef struct {
    const char *name;
    char *dir;
    char *user_data;
    char *meta_data;
    char *iso;
    char *target;           /* cdrom target dev, NULL when not attached */
    gint feature;
    gboolean attached_before;
} Seed;

/* At most VH_LICENSE_TOKEN_MAX + 1 bytes: a larger file is refused. */
static char *
read_token(const char *path, gsize *len, GError **error)
{
    g_autofree char *buf = g_malloc(VH_LICENSE_TOKEN_MAX + 2);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    gsize got = 0;
    ssize_t n;

    if (fd < 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot open the token file %s: %s", path,
                    g_strerror(errno));
        return NULL;
    }
    while (got <= VH_LICENSE_TOKEN_MAX &&
           (n = read(fd, buf + got, VH_LICENSE_TOKEN_MAX + 1 - got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot read the token file %s: %s", path,
                        g_strerror(errno));
            close(fd);
            return NULL;
        }
        got += (gsize)n;
    }
    close(fd);
    buf[got] = '\0';
    *len = got;
    return g_steal_pointer(&buf);
}

/* @data into @path: a new 0600 file beside it, renamed over it. */
static gboolean
write_private(const char *path, const char *data, gsize len, GError **error)
{
    g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", path);
    int fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600);
    gboolean ok;

    if (fd < 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot create %s: %s", tmp, g_strerror(errno));
        return FALSE;
    }
    ok = write(fd, data, len) == (ssize_t)len && fsync(fd) == 0;
    ok = close(fd) == 0 && ok;
    if (ok && rename(tmp, path) == 0)
        return TRUE;
    g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot write %s: %s", path, g_strerror(errno));
    unlink(tmp);
    return FALSE;
}

/* The directory: traversable by QEMU's user (libvirt chowns the ISO, not
 * its directory), not listable. */
static gboolean
make_dir(const char *dir, GError **error)
{
    g_autofree char *parent = g_path_get_dirname(dir);

    gboolean created;

    if (g_mkdir_with_parents(parent, 0755) != 0 ||
        (!(created = mkdir(dir, 0711) == 0) && errno != EEXIST) ||
        (created && chmod(dir, 0711) != 0) ||
        (errno = 0, !g_file_test(dir, G_FILE_TEST_IS_DIR))) {
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot create the seed directory %s: %s", dir,
                    g_strerror(errno ? errno : ENOTDIR));
        return FALSE;
    }
    return TRUE;
}

/* cloud-localds: volume id "cidata", the two files at the ISO's root. */
static gboolean
build_iso(Seed *s, GError **error)
{
    g_autofree char *tool = g_find_program_in_path("cloud-localds");
    g_autofree char *tmp = g_strdup_printf("%s.XXXXXX", s->iso);
    g_autofree char *err_text = NULL;
    g_autoptr(GError) local = NULL;
    int fd, status = 0;

    if (tool == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_UNSUPPORTED,
                    "cloud-localds not found (apt-get install cloud-image-utils)");
        return FALSE;
    }
    if ((fd = g_mkstemp_full(tmp, O_WRONLY | O_CLOEXEC, 0600)) < 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot create %s: %s", tmp, g_strerror(errno));
        return FALSE;
    }
    close(fd);
    const char *argv[] = { tool, tmp, s->user_data, s->meta_data, NULL };
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL,
                      &err_text, &status, &local) ||
        !g_spawn_check_wait_status(status, NULL) || chmod(tmp, 0600) != 0 ||
        rename(tmp, s->iso) != 0) {
        char *nl = err_text ? strchr(g_strstrip(err_text), '\n') : NULL;
        if (nl)
            *nl = '\0';
        g_set_error(error, VH_ERROR, VH_ERROR_FAILED, "cloud-localds could not build %s: %s",
                    s->iso, local ? local->message : err_text && *err_text ? err_text
                                                                           : "failed");
        unlink(tmp);
        return FALSE;
    }
    return TRUE;
}

static gboolean
write_seed(Seed *s, const char *token, gsize len, const char *uuid, GError **error)
{
    g_autofree char *instance = g_strdup_printf("vgpu-%s-%" G_GINT64_FORMAT, uuid,
                                                g_get_real_time() / G_USEC_PER_SEC);
    g_autofree char *user = vh_license_user_data(s->name, s->feature, token, len, error);
    g_autofree char *meta = vh_license_meta_data(s->name, instance);
    gboolean ok;

    if (user == NULL || !make_dir(s->dir, error))
        return FALSE;
    ok = write_private(s->user_data, user, strlen(user), error) &&
         write_private(s->meta_data, meta, strlen(meta), error) && build_iso(s, error);
    memset(user, 0, strlen(user));
    return ok;
}

/* A free sdX in @domain (SATA: libvirt adds the controller if needed). */
static char *
free_target(VhDomain *domain)
{
    g_autofree char *xml = vh_domain_to_string(domain);

    for (char c = 'a'; c <= 'z'; c++) {
        g_autofree char *dq = g_strdup_printf("dev=\"sd%c\"", c);
        g_autofree char *sq = g_strdup_printf("dev='sd%c'", c);
        if (!strstr(xml, dq) && !strstr(xml, sq))
            return g_strdup_printf("sd%c", c);
    }
    return NULL;
}

/* Shut off or running, a persistent domain gets the cdrom in its
 * configuration (SATA takes no hot-plug; cloud-init reads the seed at boot
 * anyway); a transient one, live. */
static gboolean
attach_seed(Seed *s, virDomainPtr dom, VhDomain *domain, GError **error)
{
    unsigned int flags = virDomainIsPersistent(dom) == 1 ? VIR_DOMAIN_AFFECT_CONFIG
                                                         : VIR_DOMAIN_AFFECT_LIVE;
    g_autofree char *path = NULL;
    g_autofree char *xml = NULL;

    if (vh_attach_alias_in_use(domain, SEED_ALIAS)) {
        s->attached_before = TRUE; /* the ISO was replaced in place */
        return TRUE;
    }
    if ((s->target = free_target(domain)) == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY, "no free sdX target for the seed cdrom");
        return FALSE;
    }
    path = g_markup_escape_text(s->iso, -1);
    xml = g_strdup_printf("<disk type='file' device='cdrom'><driver name='qemu' type='raw'/>"
                          "<source file='%s'/><target dev='%s' bus='sata'/><readonly/>"
                          "<alias name='" SEED_ALIAS "'/></disk>", path, s->target);
    if (virDomainAttachDeviceFlags(dom, xml, flags) == 0)
        return TRUE;
    g_clear_pointer(&s->target, g_free);
    vh_ctl_set_libvirt_error(error, "libvirt refused the seed cdrom (the seed stays written; "
                                    "attach it by hand)");
    return FALSE;
}

static VhDomain *
load_domain(virConnectPtr conn, const char *name, virDomainPtr *dom, char uuid[VIR_UUID_STRING_BUFLEN],
            GError **error)
{
    g_autofree char *what = g_strdup_printf("no domain '%s'", name);
    char *xml;
    VhDomain *domain;

    if ((*dom = virDomainLookupByName(conn, name)) == NULL) {
        vh_ctl_set_libvirt_error(error, what);
        return NULL;
    }
    xml = virDomainGetXMLDesc(*dom, virDomainIsPersistent(*dom) == 1 ? VIR_DOMAIN_XML_INACTIVE : 0);
    if (xml == NULL || virDomainGetUUIDString(*dom, uuid) < 0) {
        free(xml);
        vh_ctl_set_libvirt_error(error, "cannot read the domain's XML");
        return NULL;
    }
    domain = vh_domain_parse(xml, strlen(xml), error);
    free(xml);
    return domain;
}

static gboolean
pick_feature(VhCtl *ctl, VhDomain *domain, gint *feature, GError **error)
{
    g_autoptr(VhCatalog) catalog = NULL;

    if (*feature >= 0) {
        if (vh_license_feature_is_valid(*feature))
            return TRUE;
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "--feature-type %d: expected 0 (unlicensed), 1 (NVIDIA vGPU), 2 (RTX Virtual "
                    "Workstation) or 4 (Virtual Compute Server)", *feature);
        return FALSE;
    }
    return vh_host_scan(ctl->host, error) &&
           (catalog = vh_catalog_build(ctl->host, NULL, error)) != NULL &&
           vh_license_pick_feature(catalog, domain, feature, error);
}

static void
print_seed(VhCtl *ctl, const Seed *s)
{
    if (!ctl->json) {
        printf("Domain '%s': FeatureType=%d; seed %s (user-data, meta-data in %s)%s%s%s\n",
               s->name, s->feature, s->iso, s->dir,
               s->target ? "; attached as cdrom " : s->attached_before ? "; its cdrom " : "",
               s->target ? s->target : s->attached_before ? "was attached already" : "",
               s->target || s->attached_before ? "" : "; not attached");
        return;
    }
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "domain");
    json_builder_add_string_value(b, s->name);
    json_builder_set_member_name(b, "feature_type");
    json_builder_add_int_value(b, s->feature);
    json_builder_set_member_name(b, "seed");
    json_builder_add_string_value(b, s->iso);
    json_builder_set_member_name(b, "user_data");
    json_builder_add_string_value(b, s->user_data);
    json_builder_set_member_name(b, "meta_data");
    json_builder_add_string_value(b, s->meta_data);
    json_builder_set_member_name(b, "attached");
    json_builder_add_boolean_value(b, s->target != NULL || s->attached_before);
    json_builder_set_member_name(b, "target");
    json_builder_add_string_value(b, s->target);
    json_builder_end_object(b);
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    vh_ctl_print_json(root);
}

static void
seed_clear(Seed *s)
{
    g_free(s->dir);
    g_free(s->user_data);
    g_free(s->meta_data);
    g_free(s->iso);
    g_free(s->target);
}

static gboolean
run_license(VhCtl *ctl, virConnectPtr conn, Seed *s, const char *token_path, const char *output,
            gboolean no_attach, GError **error)
{
    char uuid[VIR_UUID_STRING_BUFLEN];
    virDomainPtr dom = NULL;
    g_autoptr(VhDomain) domain = NULL;
    g_autofree char *token = NULL;
    gsize len = 0;
    gboolean ok;

    if ((token = read_token(token_path, &len, error)) == NULL ||
        (domain = load_domain(conn, s->name, &dom, uuid, error)) == NULL ||
        !pick_feature(ctl, domain, &s->feature, error)) {
        ok = FALSE;
    } else {
        s->dir = output ? g_strdup(output) : g_build_filename(VH_DEFAULT_SEED_DIR, s->name, NULL);
        s->user_data = g_build_filename(s->dir, "user-data", NULL);
        s->meta_data = g_build_filename(s->dir, "meta-data", NULL);
        s->iso = g_build_filename(s->dir, "seed.iso", NULL);
        ok = write_seed(s, token, len, uuid, error) &&
             (no_attach || attach_seed(s, dom, domain, error));
    }
    if (token)
        memset(token, 0, len);
    if (dom)
        virDomainFree(dom);
    return ok;
}

int
vh_ctl_cmd_license(VhCtl *ctl, int argc, char **argv)
{
    g_autofree char *uri = NULL;
    g_autofree char *token = NULL;
    g_autofree char *output = NULL;
    gboolean no_attach = FALSE;
    Seed s = { .feature = -1 };
    GOptionEntry entries[] = {
        { "connect", 'c', 0, G_OPTION_ARG_STRING, &uri, "libvirt URI (as virsh -c)", "URI" },
        { "token", 0, 0, G_OPTION_ARG_FILENAME, &token,
          "Client configuration token file from the NVIDIA License System (required)", "FILE" },
        { "feature-type", 0, 0, G_OPTION_ARG_INT, &s.feature,
          "gridd.conf FeatureType: 0, 1, 2 or 4 (default: from the domain's resources)", "N" },
        { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
          "Seed directory (default " VH_DEFAULT_SEED_DIR "/DOMAIN)", "DIR" },
        { "no-attach", 0, 0, G_OPTION_ARG_NONE, &no_attach,
          "Write the seed only; do not attach it as a cdrom", NULL },
        { NULL },
    };
    g_autoptr(GError) error = NULL;
    virConnectPtr conn = NULL;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("license"), entries, &argc, &argv, 1, 1, &rc))
        return rc;
    if (token == NULL)
        return vh_ctl_fail("license: --token FILE is required (try 'vgpuctl license --help')");
    umask(077);
    s.name = argv[1];
    if (!vh_ctl_setup(ctl, &error) || (conn = vh_ctl_connect_libvirt(uri, &error)) == NULL ||
        !run_license(ctl, conn, &s, token, output, no_attach, &error))
        rc = vh_ctl_fail("license: domain '%s': %s", argv[1], error->message);
    else
        print_seed(ctl, &s);
    seed_clear(&s);
    if (conn)
        virConnectClose(conn);
    return rc;
}

const char vh_ctl_license_description[] =
    "Writes DIR/user-data (#cloud-config: /etc/nvidia/gridd.conf with the FeatureType,\n"
    "the token into /etc/nvidia/ClientConfigToken/, restart nvidia-gridd), DIR/meta-data\n"
    "and DIR/seed.iso (cloud-localds, volume cidata), all 0600, and attaches the ISO\n"
    "as a SATA cdrom (persistent domain: its configuration, used from the next boot).\n"
    "FeatureType (NVIDIA Virtual GPU Client Licensing User Guide): 0 unlicensed,\n"
    "1 NVIDIA vGPU (any vGPU), 2 NVIDIA RTX Virtual Workstation (passthrough, the\n"
    "default there), 4 NVIDIA Virtual Compute Server. The token is never printed.";

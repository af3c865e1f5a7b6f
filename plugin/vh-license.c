/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-license: cloud-init seed for guest licensing; see the header. */
#include "vh-license.h"
#include "vh-error.h"

#include <string.h>

gboolean
vh_license_feature_is_valid(gint feature)
{
    return feature == 0 || feature == 1 || feature == 2 || feature == 4;
}

static const char *
feature_name(gint feature)
{
    switch (feature) {
    case 1: return "NVIDIA vGPU (license chosen from the vGPU profile)";
    case 2: return "NVIDIA RTX Virtual Workstation";
    case 4: return "NVIDIA Virtual Compute Server";
    default: return "unlicensed state";
    }
}

gboolean
vh_license_pick_feature(VhCatalog *catalog, VhDomain *domain, gint *feature, GError **error)
{
    gboolean vgpu = FALSE;

    if (domain->devices->len == 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND,
                    "domain '%s' names no GPU in <vgpu:devices>; give --feature-type", domain->name);
        return FALSE;
    }
    for (guint i = 0; i < domain->devices->len; i++) {
        const VhDomainDevice *dev = g_ptr_array_index(domain->devices, i);
        const VhResource *res = vh_catalog_lookup(catalog, dev->resource);
        if (res == NULL) {
            g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND,
                        "domain '%s', alias '%s': resource '%s' is unknown on this host, so its "
                        "kind is too; give --feature-type", domain->name, dev->alias,
                        dev->resource);
            return FALSE;
        }
        vgpu |= res->kind != VH_RESOURCE_KIND_PASSTHROUGH;
    }
    *feature = vgpu ? 1 : 2;
    return TRUE;
}

/* A client configuration token is a JWT: printable ASCII. */
static gboolean
token_is_valid(const char *token, gsize len, GError **error)
{
    gsize end = len;

    while (end > 0 && g_ascii_isspace(token[end - 1]))
        end--;
    if (end == 0 || len > VH_LICENSE_TOKEN_MAX) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "the token file is %s; expected the client configuration token from the "
                    "NVIDIA License System", end == 0 ? "empty" : "larger than 64 KiB");
        return FALSE;
    }
    for (gsize i = 0; i < end; i++) {
        if (!g_ascii_isprint(token[i])) {
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                        "the token file holds a non-printable byte at offset %" G_GSIZE_FORMAT
                        "; expected the client configuration token (a .tok file)", i);
            return FALSE;
        }
    }
    return TRUE;
}

/* A domain name as a hostname label (and in a YAML comment): letters,
 * digits and '-' only, so that no name can add YAML of its own. */
static char *
hostname_of(const char *domain_name)
{
    char *name = g_strndup(domain_name, 63);

    for (char *p = name; *p; p++) {
        if (!g_ascii_isalnum(*p) && *p != '-')
            *p = '-';
    }
    return *name ? name : (g_free(name), g_strdup("vgpu-guest"));
}

char *
vh_license_user_data(const char *domain_name, gint feature, const char *token, gsize len,
                     GError **error)
{
    g_autofree char *b64 = NULL;
    g_autofree char *host = hostname_of(domain_name);

    if (!vh_license_feature_is_valid(feature)) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "FeatureType %d is not one of 0, 1, 2, 4", feature);
        return NULL;
    }
    if (!token_is_valid(token, len, error))
        return NULL;
    b64 = g_base64_encode((const guchar *)token, len);
    /* The token file's modes are NVIDIA's (owner rwx, others read):
     * nvidia-gridd need not run as its owner. */
    return g_strdup_printf(
        "#cloud-config\n"
        "# NVIDIA vGPU software licensing for domain %s, written by vgpuctl license.\n"
        "write_files:\n"
        "  - path: " VH_LICENSE_TOKEN_PATH "\n"
        "    owner: root:root\n"
        "    permissions: '0744'\n"
        "    encoding: b64\n"
        "    content: %s\n"
        "  - path: " VH_LICENSE_GRIDD_CONF "\n"
        "    owner: root:root\n"
        "    permissions: '0644'\n"
        "    content: |\n"
        "      # %d = %s\n"
        "      FeatureType=%d\n"
        "runcmd:\n"
        "  - [systemctl, restart, nvidia-gridd]\n",
        host, b64, feature, feature_name(feature), feature);
}

char *
vh_license_meta_data(const char *domain_name, const char *instance_id)
{
    g_autofree char *host = hostname_of(domain_name);

    return g_strdup_printf("instance-id: %s\nlocal-hostname: %s\n", instance_id, host);
}

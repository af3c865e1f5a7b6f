/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-license: the guest side of NVIDIA vGPU software licensing, as a
 * cloud-init NoCloud seed (vgpuctl license).
 *
 * nvidia-gridd in the guest reads /etc/nvidia/gridd.conf, whose FeatureType
 * names the licensed product (NVIDIA Virtual GPU Client Licensing User
 * Guide, "Configuring a Licensed Client on Linux"):
 *   0  unlicensed state;
 *   1  NVIDIA vGPU: the driver picks the license from the vGPU's profile
 *      (Q: vWS, B: vPC, A: vApps, C: vCS) - for any vGPU, SR-IOV or mdev;
 *   2  NVIDIA RTX Virtual Workstation - a passthrough GPU used as vWS;
 *   4  NVIDIA Virtual Compute Server - a passthrough GPU used as vCS;
 * and the client configuration token from the NVIDIA License System in
 * /etc/nvidia/ClientConfigToken/. The seed's user-data writes both and
 * restarts nvidia-gridd; its meta-data gives the instance id (a new id
 * makes cloud-init apply the seed again on the next boot).
 *
 * The token is a secret: it is only ever base64-encoded into the
 * user-data, never put into a message. */
#pragma once

#include <glib.h>
#include "vh-catalog.h"
#include "vh-domain.h"

G_BEGIN_DECLS

#define VH_LICENSE_TOKEN_MAX (64 * 1024)
#define VH_LICENSE_TOKEN_PATH "/etc/nvidia/ClientConfigToken/client_configuration_token.tok"
#define VH_LICENSE_GRIDD_CONF "/etc/nvidia/gridd.conf"

/* Is @feature one of 0, 1, 2, 4? */
gboolean vh_license_feature_is_valid(gint feature);
/* The FeatureType fitting @domain's named devices, as @catalog knows their
 * resources: 1 when any is a vGPU, else 2 (passthrough). Refused when the
 * domain names no device or a resource this host does not know. */
gboolean vh_license_pick_feature(VhCatalog *catalog, VhDomain *domain, gint *feature,
                                 GError **error);
/* #cloud-config user-data for @feature and the token (@token, @len bytes:
 * printable, at most VH_LICENSE_TOKEN_MAX). */
char *vh_license_user_data(const char *domain_name, gint feature, const char *token, gsize len,
                           GError **error);
/* NoCloud meta-data: instance-id (printable, no spaces) and local-hostname
 * (the domain name with anything but letters, digits and - made -). */
char *vh_license_meta_data(const char *domain_name, const char *instance_id);

G_END_DECLS

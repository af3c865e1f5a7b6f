/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-attach: one named device for a domain that exists already (vgpuctl
 * attach/detach), the parts that need no libvirt connection.
 *
 * libvirt runs no hook for a hot-plug, so vgpuctl does what define and the
 * hook would: it builds a one-device domain document (the domain's name and
 * UUID, one <vgpu:device>, one empty <hostdev>) for the allocator and for
 * vh_lifecycle_prepare_device, then hands the filled-in <hostdev> to
 * virDomainAttachDeviceFlags. The <vgpu:device> entries of a domain are
 * changed through virDomainSetMetadata, which replaces the whole element of
 * the namespace: the functions here rewrite that element. libvirt puts the
 * element and its children into the namespace itself, and refuses a string
 * whose root declares the prefix already, so the text handed to it carries
 * no namespace at all. */
#pragma once

#include <glib.h>
#include "vh-domain.h"

G_BEGIN_DECLS

/* The metadata key (prefix) vgpuctl asks libvirt to use. */
#define VH_ATTACH_METADATA_KEY "vgpu"

/* A one-device domain @name/@uuid naming @resource as @alias. */
VhDomain *vh_attach_domain_new(const char *name, const char *uuid, const char *alias,
                               const char *resource, GError **error);

/* The <hostdev> of @dev as text for virDomainAttachDeviceFlags. */
char *vh_attach_hostdev_xml(const VhDomainDevice *dev);

/* Is @alias used in @domain, by a <vgpu:device> or any device's <alias>? */
gboolean vh_attach_alias_in_use(VhDomain *domain, const char *alias);
/* The first "ua-gpuN" free in every one of @domains (NULL-terminated). */
char *vh_attach_free_alias(VhDomain **domains);

/* The named device of @domain with @alias, or NULL. */
VhDomainDevice *vh_attach_find_device(VhDomain *domain, const char *alias);
/* The lease key of @dev: its mdev UUID or PCI address (NULL: no source). */
char *vh_attach_device_key(const VhDomainDevice *dev);

/* @current: what virDomainGetMetadata returned for the namespace (NULL: no
 * element). Returns the element to set with @alias added (refused when
 * present) or removed; NULL with no error when none is left (remove the
 * element then). Other attributes and devices are kept. */
char *vh_attach_metadata_add(const char *current, const char *alias, const char *resource,
                             GError **error);
char *vh_attach_metadata_remove(const char *current, const char *alias, gboolean *found,
                                GError **error);

G_END_DECLS

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-resource-name: the names domains ask for ("nvidia.com/L40S-24Q").
 *
 * Resource names follow NVIDIA's KubeVirt GPU device plugin, so that a VM
 * spec moved between KubeVirt and this host names the same thing:
 *   whole GPU: upper-case the device name, '/' and '.' -> '_', runs of white
 *              space -> '_', then drop everything but [A-Za-z0-9_]
 *              ("GA102GL [A10]" -> "GA102GL_A10"); unknown device: the id
 *              as sysfs shows it without 0x ("26b9");
 *   SR-IOV vGPU: the profile without "NVIDIA " ("L40S-24Q");
 *   mdev type: the type name with runs of white space -> '_' ("GRID_T4-1Q").
 * each behind the "nvidia.com/" prefix. */
#pragma once

#include <glib.h>
#include "vh-pci-names.h"

G_BEGIN_DECLS

#define VH_RESOURCE_PREFIX "nvidia.com/"

/* KubeVirt's transformation of a database device name ("GA102GL_A10"). */
char *vh_resource_suffix_from_device_name(const char *db_name);
/* Full names; @from_fallback (optional) says the database had no name.
 * vGPU type names (SR-IOV and mdev) turn white space into "_". */
char *vh_resource_name_for_gpu(VhPciNames *names, guint vendor, guint device,
                               gboolean *from_fallback);
char *vh_resource_name_for_vgpu_type(const char *type_name);
char *vh_resource_name_for_mdev_type(const char *type_name);

/* A resource name is "domain/name": [a-z0-9.-]+ "/" [A-Za-z0-9_.-]+. */
gboolean vh_resource_name_is_valid(const char *name);
/* The part of @name behind "nvidia.com/" (a vGPU resource's profile), or
 * @name itself for another prefix. */
const char *vh_resource_name_suffix(const char *name);

G_END_DECLS

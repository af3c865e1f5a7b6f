/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-vfio: binding PCI functions to vfio-pci and back.
 *
 * The kernel's sequence (as libvirt's virPCIDeviceBindToStub): write the
 * driver name to driver_override, write the address to the current driver's
 * unbind, then to bus/pci/drivers_probe, which binds the device to the
 * override. Undo: unbind from vfio-pci, clear driver_override (a lone
 * newline: an empty write never reaches the kernel), drivers_probe again so
 * the kernel picks the original driver. A whole GPU is usable only when
 * every function of its IOMMU group is on vfio-pci (or has no driver);
 * /dev/vfio/<group> appears once the group is viable. */
#pragma once

#include <glib.h>
#include "vh-host.h"

G_BEGIN_DECLS

#define VH_VFIO_DRIVER "vfio-pci"

/* One step of undo: @address was on @driver ("" = none) before. */
typedef struct {
    char *address;
    char *driver;
} VhVfioBinding;

void vh_vfio_binding_free(VhVfioBinding *binding);

gboolean vh_vfio_bind_device(VhHost *host, const char *address, GError **error);
gboolean vh_vfio_unbind_device(VhHost *host, const char *address, const char *original_driver,
                               GError **error);

/* What binding @gpu's IOMMU group would change, without changing anything:
 * appends to @plan a VhVfioBinding (address + current driver) for every
 * function not on vfio-pci yet. Refuses when the group holds a bridge, a
 * denied device, or a device of another slot that the host is using. A
 * caller records the plan before binding, so that a process killed half-way
 * leaves an undo record that covers what it did. */
gboolean vh_vfio_plan_group(VhHost *host, const char *gpu, GPtrArray *plan, GError **error);

/* Bind every function of @plan (from vh_vfio_plan_group). On failure, what
 * was done is undone. */
gboolean vh_vfio_bind_planned(VhHost *host, GPtrArray *plan, GError **error);

/* Plan and bind @gpu's group. On success @done lists what was rebound
 * (address + original driver), for release. */
gboolean vh_vfio_bind_group(VhHost *host, const char *gpu, GPtrArray *done, GError **error);

/* Wait (bounded) for <vfio_dir>/<group> to appear. */
gboolean vh_vfio_wait_group_node(VhHost *host, gint group, guint timeout_ms, GError **error);

G_END_DECLS

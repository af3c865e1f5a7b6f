/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libvgpuhook: NVIDIA GPUs and vGPUs for libvirt domains by name.
 *
 * Layers, lowest first (a module only calls the ones above it in this list):
 *   vh-sysfs        file access under the sysfs root
 *   vh-pci-address  DDDD:BB:SS.F parsing
 *   vh-vgpu-type    creatable_vgpu_types parsing, profile sizes
 *   vh-vgpu-cache   the full type table of a GPU, remembered while it is busy
 *   vh-mdev         mdev parent types
 *   vh-pci-device   one PCI function
 *   vh-pci-names    PCI IDs database, resource-name spelling
 *   vh-config       the configuration file
 *   vh-host         all devices, IOMMU groups
 *   vh-catalog      named resources and their counts
 *   vh-validate     host readiness findings
 *   vh-lease        leases and reservations in the state directory
 *   vh-metrics      hook outcome counters in the state directory
 *   vh-domain       domain XML with named devices
 *   vh-allocate     picking devices for a domain
 *   vh-vfio         vfio-pci binding of a GPU and its IOMMU group
 *   vh-sriov-vgpu   vGPU profiles on SR-IOV VFs
 *   vh-lifecycle    prepare/release/remap/reconnect (the hook's work)
 *   vh-profiles     boot-time static profiles (apply-profiles)
 *   vh-reconcile    restoring consistency after a kill or a crash (reconcile)
 */
#pragma once

#include "vh-error.h"
#include "vh-sysfs.h"
#include "vh-file.h"
#include "vh-pci-address.h"
#include "vh-vgpu-type.h"
#include "vh-vgpu-cache.h"
#include "vh-mdev.h"
#include "vh-pci-device.h"
#include "vh-pci-names.h"
#include "vh-config.h"
#include "vh-host.h"
#include "vh-catalog.h"
#include "vh-validate.h"
#include "vh-lease.h"
#include "vh-metrics.h"
#include "vh-domain.h"
#include "vh-allocate.h"
#include "vh-vfio.h"
#include "vh-sriov-vgpu.h"
#include "vh-lifecycle.h"
#include "vh-profiles.h"
#include "vh-reconcile.h"

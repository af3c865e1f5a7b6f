/* SPDX-License-Identifier: GPL-2.0-or-later */
/* libvgpuhook: NVIDIA GPUs and vGPUs for libvirt domains by name.
 *
 * Layers, lowest first: a module includes and calls only modules listed
 * before it (tests/test-layers.sh fails the build on an include that goes up;
 * docs/ARCHITECTURE.md draws the layers). tools/ and hooks/ use any of them.
 *   vh-error        the GError domain and codes
 *   vh-fault        test-only fault points (empty in a release build)
 *   vh-log          the debug trace switch and where the trace goes
 *   vh-lock         bounded flock on a state file; the one lock timeout
 *   vh-file         the one bounded, non-blocking way to read and write a file
 *   vh-sysfs        file access under the sysfs root
 *   vh-pci-address  DDDD:BB:SS.F parsing
 *   vh-ident        domain names and UUIDs, checked before they name a file
 *   vh-vgpu-type    creatable_vgpu_types parsing, profile sizes
 *   vh-vgpu-cache   the full type table of a GPU, remembered while it is busy
 *   vh-mdev         mdev parent types
 *   vh-mig          MIG arithmetic: instance profiles, placements, layouts
 *   vh-nvml-abi     our declarations of NVML's documented ABI
 *   vh-nvml         NVIDIA's NVML, loaded on first use (MIG, vGPU type queries)
 *   vh-pci-device   one PCI function
 *   vh-pci-names    PCI IDs database (libpci) and its names cache
 *   vh-resource-name  resource names ("nvidia.com/...") of GPUs and vGPU types
 *   vh-config       the configuration file
 *   vh-host         all devices, IOMMU groups
 *   vh-vgpu-gpu     one NVIDIA SR-IOV vGPU GPU: types, held types, capacity
 *   vh-catalog      named resources and their counts
 *   vh-validate     host readiness findings
 *   vh-lease        leases and reservations in the state directory
 *   vh-metrics      hook outcome counters in the state directory
 *   vh-domain-backend  what the domain rules need of a parsed document
 *   vh-domain-markup   the hook's reader of domain XML (GMarkup, no libxml2)
 *   vh-domain       domain XML with named devices: the rules, on either reader
 *   vh-domain-xml   the libxml2 reader, whose documents can be rewritten
 *   vh-allocate     picking devices for a domain
 *   vh-inventory    host, leases and catalogue read together (vgpuctl, remap)
 *   vh-vfio         vfio-pci binding of a GPU and its IOMMU group
 *   vh-sriov-vgpu   vGPU profiles on SR-IOV VFs
 *   vh-mig-instance GPU instances for MIG-backed vGPUs (on demand, layouts)
 *   vh-lifecycle    prepare/release/remap/reconnect (the hook's work)
 *   vh-profiles     boot-time static profiles (apply-profiles)
 *   vh-reconcile    restoring consistency after a kill or a crash (reconcile)
 *   vh-attach       one named device for an existing domain (vgpuctl attach/detach)
 *   vh-license      cloud-init seed that licenses a guest's NVIDIA driver
 */
#pragma once

#include "vh-error.h"
#include "vh-log.h"
#include "vh-lock.h"
#include "vh-file.h"
#include "vh-sysfs.h"
#include "vh-file.h"
#include "vh-pci-address.h"
#include "vh-ident.h"
#include "vh-vgpu-type.h"
#include "vh-vgpu-cache.h"
#include "vh-vgpu-gpu.h"
#include "vh-mdev.h"
#include "vh-pci-device.h"
#include "vh-pci-names.h"
#include "vh-resource-name.h"
#include "vh-config.h"
#include "vh-host.h"
#include "vh-catalog.h"
#include "vh-validate.h"
#include "vh-lease.h"
#include "vh-metrics.h"
#include "vh-domain.h"
#include "vh-allocate.h"
#include "vh-inventory.h"
#include "vh-vfio.h"
#include "vh-sriov-vgpu.h"
#include "vh-mig-instance.h"
#include "vh-lifecycle.h"
#include "vh-profiles.h"
#include "vh-reconcile.h"
#include "vh-nvml.h"
#include "vh-mig.h"
#include "vh-attach.h"
#include "vh-license.h"

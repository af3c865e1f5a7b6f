/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fake-host: build a fake sysfs tree from a short readable description.
 *
 * The unit tests and the demo run the real vgpu-hook code against a directory
 * that stands for /sys. This module writes that directory from a GKeyFile
 * description (see demo/demo-host.ini) the way the kernel lays it out: PCI
 * devices under devices/pci0000:00/, relative links from bus/pci/devices,
 * bus/pci/drivers/NAME and kernel/iommu_groups/N, SR-IOV PFs with their
 * generated VFs, NVIDIA SR-IOV vGPU files (nvidia/creatable_vgpu_types,
 * nvidia/current_vgpu_type) and mdev parents (class/mdev_bus).
 *
 * Writes into the tree have no effect by themselves; a driver emulator can
 * call fake_host_nvidia_recompute() after a write to current_vgpu_type to
 * redo what NVIDIA's vGPU manager does. The tables it needs are kept in
 * ROOT/.fake-host/, which no real sysfs has.
 *
 * Description format (a GKeyFile; group kind and name split at the first
 * space; unknown groups or keys, repeated groups or keys and malformed
 * values are errors naming the group and key):
 *
 *   [host]                  optional
 *     vfio_pci=true|false   default true: bus/pci/drivers/vfio-pci exists
 *     iommu=true|false      default true; false: no kernel/iommu_groups and
 *                           no iommu_group links (iommu_group= is ignored)
 *     nvidia_version=V      module/nvidia/version reads "V\n" (default: no
 *                           such file, as without NVIDIA's driver)
 *   [vgpu-family NAME]      NVIDIA SR-IOV vGPU type table
 *     framebuffer_gb=N      required, the GPU's memory
 *     types=ID:NAME;...     required, e.g. 1161:NVIDIA L40S-24Q; the size of
 *                           a type is the number ending its name (24)
 *   [mdev-family NAME]      NVIDIA mdev type table
 *     types=TYPEID:NAME:MAXINST;...  required, e.g. nvidia-230:GRID T4-1Q:16
 *   [device DDDD:BB:SS.F]   a PCI function, lower-case hex
 *     ids=VVVV:DDDD         required, vendor and device
 *     class=0xCCCCCC        required
 *     subsystem=VVVV:DDDD   default 0000:0000
 *     driver=NAME           default none
 *     iommu_group=N         default none
 *     numa_node=N           default -1
 *     sriov_totalvfs=N      makes the device an SR-IOV PF
 *     sriov_numvfs=N        default 0; VF i is generated at routing id
 *                           PF + 4 + i, in IOMMU group iommu_group + 1 + i
 *                           (groups that no other device may use)
 *     vgpu_family=NAME      PF only: VFs get nvidia/ vGPU files
 *     vf_types=VF:ID;...    types the VFs hold at start (current_vgpu_type)
 *     vgpu_dialect=proprietary|upstream   which NVIDIA driver (default
 *                           proprietary): its errnos, and what a VF holding
 *                           a type lists (the GPU's list / nothing)
 *     vgpu_mode=equal|mixed default equal: one type size per GPU; mixed:
 *                           placement slots (see fake-host.c)
 *     gpu_instances=TYPE:PROFILE[xSLOTS];...   PF only: the driver is a newer
 *                           one with per-VF nvidia/gpu_instance_id; a VF holding
 *                           type TYPE sits in a GPU instance of NVML profile id
 *                           PROFILE of ROOT/.fake-host/nvml.ini (tests/sim-nvml-
 *                           state.h), SLOTS of TYPE time-slicing in one (default
 *                           1). The file is rewritten with the creatable lists;
 *                           it is empty (the driver's ENXIO) on a VF without type
 *     mdev_family=NAME      the device is an mdev parent
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define FAKE_HOST_ERROR (fake_host_error_quark())

typedef enum {
    FAKE_HOST_ERROR_PARSE,   /* the description is not a valid key file */
    FAKE_HOST_ERROR_INVALID, /* a group or key is unknown, missing or malformed */
    FAKE_HOST_ERROR_EXISTS,  /* the output directory is not empty */
    FAKE_HOST_ERROR_IO,      /* creating a file, directory or link failed */
    FAKE_HOST_ERROR_STATE,   /* simulator state (vGPU types held) is inconsistent */
} FakeHostErrorCode;

GQuark fake_host_error_quark(void);

/* Which NVIDIA driver a simulated SR-IOV GPU runs ([device] vgpu_dialect=). */
typedef enum {
    FAKE_HOST_DIALECT_PROPRIETARY, /* NVIDIA's vGPU manager (R550-R580) */
    FAKE_HOST_DIALECT_UPSTREAM,    /* the upstream RFC v2 driver */
} FakeHostDialect;

/* Build the tree described by @ini_text under @root. @root must be missing
 * or an empty directory; a description error leaves nothing written. */
gboolean fake_host_build_from_data(const char *ini_text, const char *root,
                                   GError **error);

/* Same, reading the description from the file @path. */
gboolean fake_host_build_from_file(const char *path, const char *root,
                                   GError **error);

/* Rewrite nvidia/creatable_vgpu_types of every VF of @pf_addr from the VFs'
 * nvidia/current_vgpu_type, following the vGPU manager's homogeneous mode.
 * A list that reads the same already is left as it is (not replaced). The
 * PF's parsed state file is kept per process while its text is unchanged. */
gboolean fake_host_nvidia_recompute(const char *root, const char *pf_addr,
                                    GError **error);

/* The dialect of @pf_addr's driver (proprietary when unknown). */
FakeHostDialect fake_host_nvidia_dialect(const char *root, const char *pf_addr);

/* What the driver answers when type @id (not 0) is written to a VF of
 * @pf_addr that holds none: 0 when it fits, else the errno of its dialect:
 * proprietary EIO (the resource manager refuses); upstream ENODEV (unknown
 * type), EINVAL (another size in equal-size mode), ENOSPC (no room). */
int fake_host_nvidia_assign_errno(const char *root, const char *pf_addr, guint id);

/* Set the GPU's mode (mixed-size or equal-size), as nvidia-smi vgpu -shm
 * does: refused (FAKE_HOST_ERROR_STATE, "in use") while any VF holds a type.
 * The creatable lists are recomputed. */
gboolean fake_host_nvidia_set_mixed(const char *root, const char *pf_addr, gboolean mixed,
                                    GError **error);
/* MIG (the test NVML's state says MIG on for @pf_addr): after type @id (0:
 * none) was stored in a VF's current_vgpu_type (@vf_dir: the VF's device
 * directory), give the VF the lowest-id free GPU instance of the type's
 * profile (nvidia/gpu_instance_id, marked in_use for NVML), or take it
 * back. 0, or EIO when no instance is free. Does nothing with MIG off. */
int fake_host_nvidia_mig_bind(const char *root, const char *pf_addr, const char *vf_dir, guint id);

/* Whether the GPU runs mixed-size mode. */
gboolean fake_host_nvidia_is_mixed(const char *root, const char *pf_addr);
/* The placements (first slot) of vGPU type @id on PF @pf_addr in mixed-
 * size (@mixed) or equal-size mode: every one, or (@creatable) those free
 * given what the VFs hold; *@size = the slots one takes (1 GB each). NULL
 * when the PF has no vGPU state or the type is unknown. */
GArray *fake_host_nvidia_placements(const char *root, const char *pf_addr, guint id,
                                    gboolean mixed, gboolean creatable, guint *size);

G_END_DECLS

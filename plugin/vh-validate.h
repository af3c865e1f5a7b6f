/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-validate: is this host ready to give GPUs to VMs?
 *
 * The equivalent of the GPU Operator's sandbox validator for one host:
 * IOMMU enabled, vfio-pci available, every passthrough GPU's IOMMU group
 * usable (or fixable by binding its companions), the vGPU manager present
 * and VFs enabled on SR-IOV GPUs, profiles consistent. Each finding says
 * how to fix it. */
#pragma once

#include <glib.h>
#include "vh-catalog.h"

G_BEGIN_DECLS

typedef enum {
    VH_FINDING_OK,
    VH_FINDING_WARN,
    VH_FINDING_FAIL,
} VhFindingLevel;

typedef struct {
    VhFindingLevel level;
    char *subject;   /* "host", a device address or a resource name */
    char *message;   /* what was found, and for WARN/FAIL how to fix it */
} VhFinding;

void vh_finding_free(VhFinding *finding);
const char *vh_finding_level_to_string(VhFindingLevel level);

/* Findings for a scanned host; *@ready is FALSE when any is FAIL. */
GPtrArray *vh_validate_host(VhCatalog *catalog, gboolean *ready);

G_END_DECLS

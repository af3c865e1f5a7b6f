/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-error: the GError domain of libvgpuhook.
 *
 * Every failure the library reports carries one of these codes, so that front
 * ends can map them to exit codes and tests can assert on the kind of failure
 * as well as on the message text. A code says what happened (the operator's
 * deny list is not a device in use; a GPU with no room left for another vGPU
 * is not a device another domain holds; a lock held too long is neither); the
 * hook's refusal metrics take their `reason` label from it (vh-metrics.h). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VH_ERROR (vh_error_quark())

typedef enum {
    VH_ERROR_FAILED,        /* anything else */
    VH_ERROR_INVALID,       /* malformed input: address, UUID, name, XML, config */
    VH_ERROR_NOT_FOUND,     /* a device, resource, alias or file that is not there */
    VH_ERROR_IO,            /* a read or write under the sysfs root or state dir failed */
    VH_ERROR_BUSY,          /* held by another domain or the host, or in use */
    VH_ERROR_UNSUPPORTED,   /* the host cannot do what was asked (no IOMMU, no profile) */
    VH_ERROR_CONFIG,        /* the configuration file is wrong */
    VH_ERROR_DENIED,        /* the device (or one of its IOMMU group) is on the deny list */
    VH_ERROR_TIMEOUT,       /* another process held a lock of the state directory too long */
    VH_ERROR_NO_CAPACITY,   /* no room left: a resource, GPU or mdev type is used up */
} VhErrorCode;

GQuark vh_error_quark(void);

G_END_DECLS

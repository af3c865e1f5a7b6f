/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-domain: libvirt domain XML that names GPUs by resource.
 *
 *   <metadata>
 *     <vgpu:devices xmlns:vgpu="urn:vgpu-hook:1">
 *       <vgpu:device alias="ua-gpu0" resource="nvidia.com/L40S-24Q"
 *                    [numa="0"] [address="0000:41:00.4"] [display="on"]/>
 *     </vgpu:devices>
 *   </metadata>
 *   <devices><hostdev ...><alias name="ua-gpu0"/>...</hostdev></devices>
 *
 * The document comes from users, so it is parsed without network access,
 * without loading DTDs, without substituting entities, and refused if it has
 * a DOCTYPE at all (libvirt domain XML never needs one), declares an
 * encoding other than UTF-8, or is larger than VH_DOMAIN_MAX_SIZE. Only the
 * <hostdev>s linked to a named resource are ever changed; everything else is
 * written back as it came.
 *
 * Two readers apply the same rules (vh-domain-backend.h): vh_domain_parse()
 * (libxml2; the document can be rewritten and printed) and vh_domain_read()
 * (GLib's GMarkup; read only): the hook's worker reads with the latter, so
 * it neither loads libxml2 nor what Debian's libxml2 pulls in (ICU,
 * libstdc++), which was most of its start-up. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _VhDomainBackend VhDomainBackend; /* vh-domain-backend.h */

#define VH_DOMAIN_NS "urn:vgpu-hook:1"
#define VH_DOMAIN_MAX_SIZE (4 * 1024 * 1024)

typedef struct _VhDomainDevice {
    char *alias;            /* "ua-gpu0" */
    char *resource;         /* "nvidia.com/L40S-24Q" */
    char *want_address;     /* address= : this device and no other */
    gint want_numa;         /* numa= : preferred NUMA node, -1 none */
    gboolean display;       /* display="on" (mdev) */
    gpointer meta;          /* <vgpu:device> (the reader's node: xmlNodePtr of vh_domain_parse) */
    gpointer hostdev;       /* linked <hostdev> (idem) */
    const VhDomainBackend *backend;
} VhDomainDevice;

typedef struct _VhDomain {
    gpointer doc;           /* the reader's document: xmlDocPtr of vh_domain_parse */
    const VhDomainBackend *backend;
    char *name;
    char *uuid;             /* NULL when the document has none */
    GPtrArray *devices;     /* VhDomainDevice */
} VhDomain;

/* libxml2: the domain can be rewritten (vh_domain_to_string, set_pci ...). */
VhDomain *vh_domain_parse(const char *xml, gsize len, GError **error);
VhDomain *vh_domain_load_file(const char *path, GError **error);
/* GMarkup: the same rules, the same refusals, read only (the rewriting
 * functions below must not be called on its result). */
VhDomain *vh_domain_read(const char *xml, gsize len, GError **error);
void vh_domain_free(VhDomain *domain);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhDomain, vh_domain_free)

/* Serialise the (possibly rewritten) document (vh_domain_parse only). */
char *vh_domain_to_string(VhDomain *domain);

/* Give the domain a <uuid> when it has none (so leases can name it). */
void vh_domain_ensure_uuid(VhDomain *domain);

/* What a linked hostdev points at now (NULL when it has no source yet). */
/* The <hostdev mode='subsystem' type='pci'> elements no <vgpu:device> names,
 * as devices without resource (alias: the hostdev's, else "hostdev N");
 * at most VH_DOMAIN_MAX_DEVICES. */
GPtrArray *vh_domain_plain_pci_hostdevs(VhDomain *domain);

char *vh_domain_device_pci_address(const VhDomainDevice *dev);

/* The PCI functions that the <hostdev type='pci'> elements of any domain
 * XML name, and the UUIDs (lower case) of its <hostdev type='mdev'> (libvirt's status file of a running domain, RUN/NAME.xml, whose
 * root is <domstatus>): what a running domain holds, whatever our state
 * directory says. Parsed as vh_domain_parse parses (no network, no
 * entities, size cap). */
GPtrArray *vh_domain_live_pci_hostdevs(const char *xml, gsize len, GError **error);

/* PCI address or mdev UUID -> name of the running domain (RUN/NAME.pid and RUN/NAME.xml
 * exist) whose status file names it, every domain but @except: the record
 * of who holds a device that a damaged, renamed or lost lease cannot hide.
 * Unreadable status files are skipped (traced). */
GHashTable *vh_domain_running_pci_holders(const char *run_dir, const char *except);

/* One rule for the hook and rewrite: no two <hostdev>s of the domain point
 * at the same PCI function or mdev (one would take the other's device). */
gboolean vh_domain_check_distinct_sources(const VhDomain *domain, GError **error);
char *vh_domain_device_mdev_uuid(const VhDomainDevice *dev);

/* Point the hostdev at a PCI function (whole GPU: managed; SR-IOV vGPU VF:
 * unmanaged, it stays on the nvidia driver) or at an mdev. */
void vh_domain_device_set_pci(VhDomainDevice *dev, const char *address, gboolean managed);
void vh_domain_device_set_mdev(VhDomainDevice *dev, const char *uuid, gboolean display);

G_END_DECLS

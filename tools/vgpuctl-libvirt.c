/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl-libvirt: libvirt, loaded when a command first talks to libvirtd.
 *
 * Most commands (list, resources, validate, apply-profiles, ...) never do,
 * yet linking libvirt maps some fifty libraries (GnuTLS, Kerberos, curl,
 * ...) into every run of vgpuctl: 28 M instructions of relocation before
 * main(), more than half of what lspci needs for a whole listing
 * (bench/REPORT.md). So vgpuctl does not link libvirt: the definitions below,
 * with libvirt's own prototypes (libvirt.h is included, so the compiler
 * checks each one), load libvirt.so.0 on first use and call through.
 *
 * A libvirt function vgpuctl starts to use needs a line here; until it has
 * one the link fails with "undefined reference to `virXxx'".
 *
 * Not in a --enable-sanitizers build, which links libvirt instead: ASan's
 * xdr_* interceptors look for libtirpc when the process starts, and a
 * libvirt loaded later would call through their NULL pointers. */
#include "config.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#define VH_LIBVIRT_SONAME "libvirt.so.0"

static void *
libvirt_symbol(const char *name)
{
    static void *handle;
    void *symbol;

    if (handle == NULL && (handle = dlopen(VH_LIBVIRT_SONAME, RTLD_LAZY | RTLD_LOCAL)) == NULL) {
        fprintf(stderr, "vgpuctl: cannot load libvirt (%s): install the libvirt client "
                        "library (Debian: libvirt0)\n", dlerror());
        exit(1);
    }
    if ((symbol = dlsym(handle, name)) == NULL) {
        fprintf(stderr, "vgpuctl: %s has no %s: install libvirt 6.5 or newer\n",
                VH_LIBVIRT_SONAME, name);
        exit(1);
    }
    return symbol;
}

/* RET NAME PARAMS, called with ARGS: resolved once, then a plain call. */
#define VH_LIBVIRT_FN(ret, name, params, args)                                   \
    ret name params                                                               \
    {                                                                             \
        static ret (*real) params;                                                \
        if (real == NULL)                                                         \
            real = (ret (*) params)libvirt_symbol(#name);                          \
        return real args;                                                         \
    }

VH_LIBVIRT_FN(virConnectPtr, virConnectOpen, (const char *name), (name))
VH_LIBVIRT_FN(int, virConnectClose, (virConnectPtr conn), (conn))
VH_LIBVIRT_FN(int, virConnectListAllDomains,
              (virConnectPtr conn, virDomainPtr **domains, unsigned int flags),
              (conn, domains, flags))
VH_LIBVIRT_FN(virErrorPtr, virGetLastError, (void), ())
VH_LIBVIRT_FN(virDomainPtr, virDomainDefineXML, (virConnectPtr conn, const char *xml), (conn, xml))
VH_LIBVIRT_FN(virDomainPtr, virDomainLookupByName, (virConnectPtr conn, const char *name),
              (conn, name))
VH_LIBVIRT_FN(int, virDomainFree, (virDomainPtr domain), (domain))
VH_LIBVIRT_FN(int, virDomainIsActive, (virDomainPtr dom), (dom))
VH_LIBVIRT_FN(char *, virDomainGetXMLDesc, (virDomainPtr domain, unsigned int flags),
              (domain, flags))
VH_LIBVIRT_FN(int, virDomainCreate, (virDomainPtr domain), (domain))
VH_LIBVIRT_FN(int, virDomainGetUUIDString, (virDomainPtr domain, char *buf), (domain, buf))

VH_LIBVIRT_FN(int, virDomainIsPersistent, (virDomainPtr dom), (dom))
VH_LIBVIRT_FN(int, virGetLastErrorCode, (void), ())
VH_LIBVIRT_FN(int, virDomainAttachDeviceFlags,
              (virDomainPtr domain, const char *xml, unsigned int flags), (domain, xml, flags))
VH_LIBVIRT_FN(int, virDomainDetachDeviceAlias,
              (virDomainPtr domain, const char *alias, unsigned int flags), (domain, alias, flags))
VH_LIBVIRT_FN(char *, virDomainGetMetadata,
              (virDomainPtr domain, int type, const char *uri, unsigned int flags),
              (domain, type, uri, flags))
VH_LIBVIRT_FN(int, virDomainSetMetadata,
              (virDomainPtr domain, int type, const char *metadata, const char *key,
               const char *uri, unsigned int flags),
              (domain, type, metadata, key, uri, flags))
VH_LIBVIRT_FN(int, virConnectDomainEventRegisterAny,
              (virConnectPtr conn, virDomainPtr dom, int eventID,
               virConnectDomainEventGenericCallback cb, void *opaque, virFreeCallback freecb),
              (conn, dom, eventID, cb, opaque, freecb))
VH_LIBVIRT_FN(int, virConnectDomainEventDeregisterAny, (virConnectPtr conn, int callbackID),
              (conn, callbackID))
VH_LIBVIRT_FN(int, virEventRegisterDefaultImpl, (void), ())
VH_LIBVIRT_FN(int, virEventRunDefaultImpl, (void), ())
VH_LIBVIRT_FN(int, virEventAddTimeout,
              (int timeout, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff),
              (timeout, cb, opaque, ff))
VH_LIBVIRT_FN(int, virEventRemoveTimeout, (int timer), (timer))

/* void, so not through VH_LIBVIRT_FN (a void function cannot return a call). */
void
virSetErrorFunc(void *userData, virErrorFunc handler)
{
    static void (*real)(void *, virErrorFunc);

    if (real == NULL)
        real = (void (*)(void *, virErrorFunc))libvirt_symbol("virSetErrorFunc");
    real(userData, handler);
}

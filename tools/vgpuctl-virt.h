/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl-virt: the libvirt helpers the commands share. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

virConnectPtr vh_ctl_connect_libvirt(const char *uri, GError **error);
/* @what: libvirt's last error, on one line. */
void vh_ctl_set_libvirt_error(GError **error, const char *what);

/* The domain @name with what to change: --live/--config as given, else as
 * virsh does (live when it runs, config when it is persistent); refused
 * when asked for what the domain does not have. */
virDomainPtr vh_ctl_lookup_targets(virConnectPtr conn, const char *name, gboolean *live,
                                   gboolean *config, GError **error);

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-log: the debug trace of every decision that touches the host.
 *
 * The library calls g_debug() with the domain, device, sysfs path and value
 * at each such step (a sysfs write and its result, a vfio-pci bind step, a
 * profile, an mdev, a lease taken, released or taken over, an allocation).
 * The trace is off unless VGPU_HOOK_DEBUG=1 is in the environment or the
 * configuration says `[host] debug = true`. It goes to
 *   VGPU_HOOK_DEBUG_FILE, when set (appended, one line per message);
 *   else the systemd journal, when its socket exists (identifier vgpu-hook);
 *   else standard error for vgpuctl, and syslog (LOG_DEBUG) for the hook,
 *   whose standard error is the one line libvirt shows when a start fails
 *   (VGPU_HOOK_DEBUG=stderr sends the hook's trace there all the same).
 * Other messages (warnings, g_message) keep GLib's default handling. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
    VH_LOG_STDERR_OK = 1 << 0, /* vgpuctl: the trace may go to standard error */
} VhLogFlags;

/* Installs the log writer and reads VGPU_HOOK_DEBUG and VGPU_HOOK_DEBUG_FILE;
 * front ends call it first. A later call changes nothing. */
void vh_log_init(VhLogFlags flags);
/* Turns the trace on (`[host] debug = true`); installs the writer with the
 * defaults of the hook when no front end did. */
void vh_log_enable_debug(void);
gboolean vh_log_debug_enabled(void);

G_END_DECLS

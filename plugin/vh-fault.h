/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-fault: test-only fault injection, compiled out of release builds.
 *
 * `./configure --enable-fault-injection` defines VH_FAULT_INJECTION; then
 * VH_FAULT_POINT("name") marks a place between two state-changing steps
 * (a lease write, a sysfs write) and, at run time,
 *   VH_FAULT_KILL_AT=name[:nth]  SIGKILLs the process the nth time (default
 *                                the first) it passes that point;
 *   VH_FAULT_LIST=FILE           appends the name of every point passed to
 *                                FILE, one a line, so a test can enumerate
 *                                the points a run goes through.
 * Without the configure option the macro is ((void)0): no code, no strings.
 *
 * Point names are "module:step-done", e.g. "vfio:unbound" (the device was
 * unbound from its driver, drivers_probe not written yet). */
#pragma once

#include "config.h"
#include <glib.h>

G_BEGIN_DECLS

#ifdef VH_FAULT_INJECTION
void vh_fault_point(const char *name);
#define VH_FAULT_POINT(name) vh_fault_point(name)
#else
#define VH_FAULT_POINT(name) ((void)0)
#endif

G_END_DECLS

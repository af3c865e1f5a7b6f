/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sim-writelog: the simulated kernel's log of file-system changes (see
 * sim-writelog.c; enabled by VH_SIM_WRITE_LOG). sim-kernel.c calls these
 * from its open() and store paths; the other calls are interposed there. */
#pragma once

#include <glib.h>
#include <stddef.h>

/* An open() of @path relative to @dirfd with @flags: logged when it may
 * write or create. */
void sim_writelog_open(int dirfd, const char *path, int flags);

/* A store of @len bytes into the emulated attribute @path; @err is the
 * errno the emulation returned (0: accepted). */
void sim_writelog_store(const char *path, const char *data, size_t len, int err);

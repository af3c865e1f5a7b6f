/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hook-args: what the hook's front end (hooks/vgpu-hook.c, libc only) and its
 * worker (hooks/vgpu-hook-worker.c) agree on: which libvirt operations the
 * hook handles, how much domain XML it accepts on stdin, and the worker
 * module's entry point. Header-only and libc-only, so that the front end
 * links nothing else. */
#pragma once

#include <stddef.h>
#include <string.h>

/* The worker module the front end loads (next to it, else in
 * PKGLIBEXECDIR), and the one symbol that module exports. */
#define VH_HOOK_WORKER_MODULE "vgpu-hook-worker.so"
#define VH_HOOK_WORKER_ENTRY "vh_hook_worker_run"

/* argc/argv as the front end got them; @xml: the domain XML it read (@len
 * bytes, NUL-terminated), or NULL: read it from stdin when needed. Returns
 * the hook's exit status. */
typedef int (*VhHookWorkerRun)(int argc, char **argv, const char *xml, size_t len);

/* The most domain XML either reads (the worker's parser refuses more too). */
#define VH_HOOK_XML_MAX (4 * 1024 * 1024)

typedef enum { VH_HOOK_IGNORE, VH_HOOK_PREPARE, VH_HOOK_RELEASE, VH_HOOK_REMAP,
               VH_HOOK_RECONNECT } VhHookOp;

/* libvirt's OPERATION SUBOP pair: everything else exits 0 unread. */
static inline VhHookOp
vh_hook_classify(const char *op, const char *subop)
{
    if (strcmp(op, "prepare") == 0 && strcmp(subop, "begin") == 0)
        return VH_HOOK_PREPARE;
    if (strcmp(op, "release") == 0 && strcmp(subop, "end") == 0)
        return VH_HOOK_RELEASE;
    if ((strcmp(op, "migrate") == 0 || strcmp(op, "restore") == 0) && strcmp(subop, "begin") == 0)
        return VH_HOOK_REMAP;
    if (strcmp(op, "reconnect") == 0 && strcmp(subop, "begin") == 0)
        return VH_HOOK_RECONNECT;
    return VH_HOOK_IGNORE;
}

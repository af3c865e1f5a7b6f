/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-profiles: boot-time static vGPU profiles, the seed's ConfigMap format.
 *
 *   # comment
 *   0000:02:00.4=1161              profile by driver id
 *   0000:02:00.5 = L40S-24Q        or by name (resolved on this host)
 *
 * Applying follows the seed's loader: read before write, skip a VF that
 * already holds the profile, never touch a VF a running domain holds (a
 * live active lease) or one that holds another profile (the driver refuses
 * while a VM uses it), write without a trailing newline. */
#pragma once

#include <glib.h>
#include "vh-host.h"

G_BEGIN_DECLS

/* A profiles file is a line per VF: a few kilobytes. */
#define VH_PROFILES_MAX_SIZE (1024 * 1024)

typedef struct {
    guint line;
    char *address;
    char *profile;     /* as written: an id or a name */
} VhProfileLine;

typedef enum {
    VH_PROFILE_SET,       /* written */
    VH_PROFILE_UNCHANGED, /* already held */
    VH_PROFILE_SKIPPED,   /* held by a domain or another profile */
    VH_PROFILE_FAILED,
} VhProfileOutcome;

typedef struct {
    const VhProfileLine *line;
    VhProfileOutcome outcome;
    char *message;
} VhProfileResult;

void vh_profile_line_free(VhProfileLine *line);
void vh_profile_result_free(VhProfileResult *result);

/* Parse the whole file; every malformed line is an error naming its number
 * (all of them, one per line of the message). */
GPtrArray *vh_profiles_parse(const char *text, const char *path, GError **error);

/* Apply @lines; @busy (may be NULL) maps VF addresses that a running domain
 * holds to the domain's name. Returns VhProfileResult per line. */
GPtrArray *vh_profiles_apply(VhHost *host, GPtrArray *lines, GHashTable *busy);

G_END_DECLS

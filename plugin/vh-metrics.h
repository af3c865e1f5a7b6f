/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-metrics: what the hook and vgpuctl record for monitoring.
 *
 * Counters of hook outcomes (prepared, refused by reason, released, undo
 * failures) and the last `apply-profiles` run live in one small key file,
 * STATE/metrics, read by `vgpuctl metrics`. Several hooks run at once (one
 * per domain starting), so every update takes an exclusive flock on
 * STATE/metrics.lock, reads the file, changes it and replaces it atomically
 * (temporary file + fsync + rename): a crash leaves the old or the new file,
 * never a torn one, and no increment is lost.
 *
 * Counting is best effort: the hook's job comes first. An update that cannot
 * lock (within a short bound), read or write returns FALSE and the caller
 * goes on. A file that cannot be parsed is kept as STATE/metrics.damaged and
 * counting restarts from zero; the `resets` counter says how often that
 * happened. The state directory is on /run: counters also restart at boot,
 * as a Prometheus counter does when its process restarts. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Why a prepare was refused: a small stable set derived from VhErrorCode,
 * used as the `reason` label. */
typedef enum {
    VH_REFUSAL_OTHER,        /* VH_ERROR_FAILED, or an error of another domain */
    VH_REFUSAL_INVALID,      /* VH_ERROR_INVALID: malformed domain XML, address */
    VH_REFUSAL_NOT_FOUND,    /* VH_ERROR_NOT_FOUND: device or resource not there */
    VH_REFUSAL_IO,           /* VH_ERROR_IO: sysfs or state directory I/O */
    VH_REFUSAL_BUSY,         /* VH_ERROR_BUSY: held by another domain or the host */
    VH_REFUSAL_UNSUPPORTED,  /* VH_ERROR_UNSUPPORTED: the host cannot do it */
    VH_REFUSAL_CONFIG,       /* VH_ERROR_CONFIG: the configuration is wrong */
    VH_REFUSAL_DENIED,       /* VH_ERROR_DENIED: a device on the deny list */
    VH_REFUSAL_TIMEOUT,      /* VH_ERROR_TIMEOUT: the lease lock was held too long */
    VH_REFUSAL_NO_CAPACITY,  /* VH_ERROR_NO_CAPACITY: no room left for it */
    VH_REFUSAL_N,
} VhRefusal;

VhRefusal vh_refusal_from_error(const GError *error);
/* "other", "invalid", "not_found", "io", "busy", "unsupported", "config",
 * "denied", "timeout", "no_capacity". */
const char *vh_refusal_to_string(VhRefusal reason);

typedef struct {
    guint64 prepared;             /* prepares that took their devices */
    guint64 refused[VH_REFUSAL_N];
    guint64 released;             /* releases that gave active leases back */
    guint64 undo_failed;          /* release or undo that left changes behind */
    guint64 resets;               /* times a damaged file restarted counting */
    gint64 apply_last_run;        /* unix seconds of the last apply-profiles, 0: never */
    gboolean apply_last_success;
} VhMetrics;

/* Best-effort updates (see above); FALSE with @error when nothing was
 * recorded. @error may be NULL. */
gboolean vh_metrics_count_prepared(const char *state_dir, GError **error);
gboolean vh_metrics_count_refused(const char *state_dir, const GError *why, GError **error);
gboolean vh_metrics_count_released(const char *state_dir, GError **error);
/* @devices: how many devices one operation's undo left changed. */
gboolean vh_metrics_count_undo_failed(const char *state_dir, guint devices, GError **error);
gboolean vh_metrics_record_apply_profiles(const char *state_dir, gboolean success,
                                          GError **error);

/* Read the counters. A missing file is all zeros; a damaged one is moved
 * aside and reset (under the lock), with a one-line @warning (may be NULL)
 * that names it. NULL with @error only when the file exists but cannot be
 * read or locked. */
VhMetrics *vh_metrics_load(const char *state_dir, char **warning, GError **error);

G_END_DECLS

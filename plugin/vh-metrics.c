/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-metrics: outcome counters in the state directory; see the header. */
#include "vh-metrics.h"
#include "vh-error.h"
#include "vh-lock.h"
#include "vh-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define METRICS_FILE "metrics"
#define COUNTERS_GROUP "counters"
#define APPLY_GROUP "apply-profiles"
#define METRICS_MAX_SIZE (64 * 1024)

static const char *const refusal_names[VH_REFUSAL_N] = {
    [VH_REFUSAL_OTHER] = "other",
    [VH_REFUSAL_INVALID] = "invalid",
    [VH_REFUSAL_NOT_FOUND] = "not_found",
    [VH_REFUSAL_IO] = "io",
    [VH_REFUSAL_BUSY] = "busy",
    [VH_REFUSAL_UNSUPPORTED] = "unsupported",
    [VH_REFUSAL_CONFIG] = "config",
    [VH_REFUSAL_DENIED] = "denied",
    [VH_REFUSAL_TIMEOUT] = "timeout",
    [VH_REFUSAL_NO_CAPACITY] = "no_capacity",
};

VhRefusal
vh_refusal_from_error(const GError *error)
{
    if (error == NULL || error->domain != VH_ERROR)
        return VH_REFUSAL_OTHER;
    switch ((VhErrorCode)error->code) {
    case VH_ERROR_INVALID: return VH_REFUSAL_INVALID;
    case VH_ERROR_NOT_FOUND: return VH_REFUSAL_NOT_FOUND;
    case VH_ERROR_IO: return VH_REFUSAL_IO;
    case VH_ERROR_BUSY: return VH_REFUSAL_BUSY;
    case VH_ERROR_UNSUPPORTED: return VH_REFUSAL_UNSUPPORTED;
    case VH_ERROR_CONFIG: return VH_REFUSAL_CONFIG;
    case VH_ERROR_DENIED: return VH_REFUSAL_DENIED;
    case VH_ERROR_TIMEOUT: return VH_REFUSAL_TIMEOUT;
    case VH_ERROR_NO_CAPACITY: return VH_REFUSAL_NO_CAPACITY;
    case VH_ERROR_FAILED: break;
    }
    return VH_REFUSAL_OTHER;
}

const char *
vh_refusal_to_string(VhRefusal reason)
{
    return reason < VH_REFUSAL_N ? refusal_names[reason] : refusal_names[VH_REFUSAL_OTHER];
}

/* The counters of the file, by key. */
typedef struct {
    const char *key;
    gsize offset;
} CounterKey;

static const CounterKey counter_keys[] = {
    { "prepared", G_STRUCT_OFFSET(VhMetrics, prepared) },
    { "released", G_STRUCT_OFFSET(VhMetrics, released) },
    { "undo_failed", G_STRUCT_OFFSET(VhMetrics, undo_failed) },
    { "resets", G_STRUCT_OFFSET(VhMetrics, resets) },
};

static char *
refused_key(VhRefusal reason)
{
    return g_strconcat("refused_", refusal_names[reason], NULL);
}

static gboolean
get_counter(GKeyFile *kf, const char *group, const char *key, guint64 *value, GError **error)
{
    g_autofree char *text = g_key_file_get_value(kf, group, key, NULL);

    *value = 0;
    if (text == NULL)
        return TRUE; /* a counter added by a later version, or never counted */
    if (!g_ascii_string_to_unsigned(g_strstrip(text), 10, 0, G_MAXUINT64, value, NULL)) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "%s is not a count", key);
        return FALSE;
    }
    return TRUE;
}

static gboolean
metrics_parse(const char *data, gsize len, VhMetrics *m, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    guint64 when = 0;

    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, error))
        return FALSE;
    if (!g_key_file_has_group(kf, COUNTERS_GROUP)) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "no [%s] group", COUNTERS_GROUP);
        return FALSE;
    }
    for (guint i = 0; i < G_N_ELEMENTS(counter_keys); i++) {
        if (!get_counter(kf, COUNTERS_GROUP, counter_keys[i].key,
                         G_STRUCT_MEMBER_P(m, counter_keys[i].offset), error))
            return FALSE;
    }
    for (guint r = 0; r < VH_REFUSAL_N; r++) {
        g_autofree char *key = refused_key(r);
        if (!get_counter(kf, COUNTERS_GROUP, key, &m->refused[r], error))
            return FALSE;
    }
    if (!get_counter(kf, APPLY_GROUP, "last_run", &when, error) || when > G_MAXINT64)
        return FALSE;
    m->apply_last_run = (gint64)when;
    m->apply_last_success = g_key_file_get_boolean(kf, APPLY_GROUP, "success", NULL);
    return TRUE;
}

static char *
metrics_to_data(const VhMetrics *m, gsize *len)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();

    for (guint i = 0; i < G_N_ELEMENTS(counter_keys); i++)
        g_key_file_set_uint64(kf, COUNTERS_GROUP, counter_keys[i].key,
                              G_STRUCT_MEMBER(guint64, m, counter_keys[i].offset));
    for (guint r = 0; r < VH_REFUSAL_N; r++) {
        g_autofree char *key = refused_key(r);
        g_key_file_set_uint64(kf, COUNTERS_GROUP, key, m->refused[r]);
    }
    if (m->apply_last_run > 0) {
        g_key_file_set_int64(kf, APPLY_GROUP, "last_run", m->apply_last_run);
        g_key_file_set_boolean(kf, APPLY_GROUP, "success", m->apply_last_success);
    }
    return g_key_file_to_data(kf, len, NULL);
}

typedef enum { READ_OK, READ_DAMAGED, READ_FAILED } ReadResult;

/* Read @path into @m (zeros when missing). READ_DAMAGED sets @damage. */
static ReadResult
metrics_read(const char *path, VhMetrics *m, char **damage, GError **error)
{
    g_autofree char *data = NULL;
    g_autoptr(GError) local = NULL;
    gsize len = 0;

    memset(m, 0, sizeof(*m));
    data = vh_file_read(path, METRICS_MAX_SIZE, VH_FILE_NOFOLLOW, &len, &local);
    if (data == NULL && g_error_matches(local, VH_ERROR, VH_ERROR_NOT_FOUND))
        return READ_OK;
    if (data == NULL && g_error_matches(local, VH_ERROR, VH_ERROR_INVALID)) {
        g_clear_error(&local);
        g_set_error(&local, VH_ERROR, VH_ERROR_INVALID, "larger than %d bytes", METRICS_MAX_SIZE);
    } else if (data == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "%s", local->message);
        return READ_FAILED;
    } else {
        metrics_parse(data, len, m, &local);
    }
    if (local == NULL)
        return READ_OK;
    memset(m, 0, sizeof(*m));
    *damage = g_strdup(local->message);
    return READ_DAMAGED;
}

/* The lock file's descriptor, flocked; -1 with @error. */
static int
metrics_lock(const char *state_dir, GError **error)
{
    g_autofree char *path = g_build_filename(state_dir, METRICS_FILE ".lock", NULL);

    return vh_lock_file(path, VH_LOCK_TIMEOUT_MS, error);
}

typedef void (*MetricsChange)(VhMetrics *m, gconstpointer data);

/* Read, change, write back, all under the lock. A damaged file is kept as
 * METRICS.damaged for a look and counting restarts; @damage (may be NULL)
 * gets what was wrong with it. */
static gboolean
metrics_update(const char *state_dir, MetricsChange change, gconstpointer data, char **damage,
               GError **error)
{
    g_autofree char *path = g_build_filename(state_dir, METRICS_FILE, NULL);
    g_autofree char *why = NULL;
    g_autofree char *text = NULL;
    GError *local = NULL;
    VhMetrics m;
    gboolean ok = FALSE;
    gsize len;
    int fd = metrics_lock(state_dir, error);

    if (fd < 0)
        return FALSE;
    switch (metrics_read(path, &m, &why, error)) {
    case READ_FAILED:
        goto out;
    case READ_DAMAGED: {
        g_autofree char *aside = g_strconcat(path, ".damaged", NULL);
        if (rename(path, aside) < 0)
            aside[0] = '\0';
        g_autofree char *report = g_strdup_printf("counter file %s was damaged (%s)%s%s: "
                                                  "counting restarts from zero", path, why,
                                                  *aside ? "; kept as " : "", aside);
        m.resets = 1;
        if (damage)
            *damage = g_steal_pointer(&report);
        else
            g_message("%s", report); /* the hook: to syslog */
        break;
    }
    case READ_OK:
        break;
    }
    if (change)
        change(&m, data);
    text = metrics_to_data(&m, &len);
    ok = g_file_set_contents_full(path, text, (gssize)len, G_FILE_SET_CONTENTS_CONSISTENT, 0600,
                                  &local);
    if (!ok) {
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "%s", local->message);
        g_error_free(local);
    }
out:
    close(fd); /* releases the flock */
    return ok;
}

static void
add_prepared(VhMetrics *m, gconstpointer data)
{
    m->prepared++;
}

static void
add_refused(VhMetrics *m, gconstpointer data)
{
    m->refused[GPOINTER_TO_UINT(data)]++;
}

static void
add_released(VhMetrics *m, gconstpointer data)
{
    m->released++;
}

static void
add_undo_failed(VhMetrics *m, gconstpointer data)
{
    m->undo_failed += GPOINTER_TO_UINT(data);
}

static void
set_apply_run(VhMetrics *m, gconstpointer data)
{
    m->apply_last_run = g_get_real_time() / G_USEC_PER_SEC;
    m->apply_last_success = GPOINTER_TO_UINT(data);
}

gboolean
vh_metrics_count_prepared(const char *state_dir, GError **error)
{
    return metrics_update(state_dir, add_prepared, NULL, NULL, error);
}

gboolean
vh_metrics_count_refused(const char *state_dir, const GError *why, GError **error)
{
    return metrics_update(state_dir, add_refused, GUINT_TO_POINTER(vh_refusal_from_error(why)),
                          NULL, error);
}

gboolean
vh_metrics_count_released(const char *state_dir, GError **error)
{
    return metrics_update(state_dir, add_released, NULL, NULL, error);
}

gboolean
vh_metrics_count_undo_failed(const char *state_dir, guint devices, GError **error)
{
    return metrics_update(state_dir, add_undo_failed, GUINT_TO_POINTER(devices), NULL, error);
}

gboolean
vh_metrics_record_apply_profiles(const char *state_dir, gboolean success, GError **error)
{
    return metrics_update(state_dir, set_apply_run, GUINT_TO_POINTER(success ? 1 : 0), NULL,
                          error);
}

VhMetrics *
vh_metrics_load(const char *state_dir, char **warning, GError **error)
{
    g_autofree char *path = g_build_filename(state_dir, METRICS_FILE, NULL);
    g_autofree char *why = NULL;
    g_autofree VhMetrics *m = g_new0(VhMetrics, 1);
    g_autoptr(GError) local = NULL;

    /* Writers replace the file by rename: reading needs no lock. */
    switch (metrics_read(path, m, &why, error)) {
    case READ_FAILED:
        return NULL;
    case READ_OK:
        return g_steal_pointer(&m);
    case READ_DAMAGED:
        break;
    }
    /* Reset it under the lock (a writer may have done so meanwhile). */
    if (!metrics_update(state_dir, NULL, NULL, warning, &local)) {
        if (warning)
            *warning = g_strdup_printf("counter file %s is damaged (%s) and could not be reset "
                                       "(%s): counters shown as zero", path, why, local->message);
        return g_steal_pointer(&m);
    }
    g_clear_pointer(&why, g_free);
    metrics_read(path, m, &why, NULL);
    return g_steal_pointer(&m);
}

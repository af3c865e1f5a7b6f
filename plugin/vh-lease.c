/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-lease: lease files and the state-directory lock; see the header. */
#include "vh-lease.h"
#include "vh-ident.h"
#include "vh-lock.h"
#include "vh-error.h"
#include "vh-file.h"
#include "vh-mdev.h"
#include "vh-pci-address.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LEASE_GROUP "lease"
#define LEASE_MAX_SIZE (64 * 1024)

struct _VhLeaseStore {
    const VhConfig *config;
    char *dir;          /* STATE/leases */
    char *lock_path;
    int lock_fd;
};

const char *
vh_lease_state_to_string(VhLeaseState state)
{
    return state == VH_LEASE_ACTIVE ? "active" : "reserved";
}

VhLease *
vh_lease_new(const char *key, const char *device, const char *resource, const char *domain,
             const char *uuid, VhLeaseState state)
{
    VhLease *lease = g_new0(VhLease, 1);

    lease->key = g_strdup(key);
    lease->device = g_strdup(device);
    lease->resource = g_strdup(resource);
    lease->domain = g_strdup(domain);
    lease->uuid = g_strdup(uuid);
    lease->state = state;
    lease->since = g_get_real_time() / G_USEC_PER_SEC;
    lease->boot_id = g_strdup(vh_lease_current_boot_id());
    return lease;
}

const char *
vh_lease_current_boot_id(void)
{
    static gsize done;
    static char *boot_id;

    if (g_once_init_enter(&done)) {
        const char *path = g_getenv("VH_BOOT_ID_FILE");
        g_autofree char *text = vh_file_read(path && *path ? path
                                                           : "/proc/sys/kernel/random/boot_id",
                                             64, VH_FILE_NOFOLLOW, NULL, NULL);
        if (text && vh_mdev_uuid_is_valid(g_strstrip(text)))
            boot_id = g_ascii_strdown(text, -1);
        g_once_init_leave(&done, 1);
    }
    return boot_id;
}

gboolean
vh_lease_is_from_other_boot(const VhLease *lease)
{
    const char *now = vh_lease_current_boot_id();

    return lease->boot_id && now && strcmp(lease->boot_id, now) != 0;
}

void
vh_lease_free(VhLease *lease)
{
    if (lease == NULL)
        return;
    g_free(lease->key);
    g_free(lease->device);
    g_free(lease->mdev_uuid);
    g_free(lease->mdev_type);
    g_free(lease->resource);
    g_free(lease->domain);
    g_free(lease->uuid);
    g_free(lease->original_driver);
    g_free(lease->boot_id);
    g_strfreev(lease->companions);
    g_free(lease->gpu_instance_profile);
    g_free(lease->gpu_instance_placement);
    g_free(lease);
}

/* A key names a file: only addresses and UUIDs qualify. */
static gboolean
key_is_valid(const char *key)
{
    return vh_pci_address_is_valid(key) || vh_mdev_uuid_is_valid(key);
}

VhLeaseStore *
vh_lease_store_open(const VhConfig *config, GError **error)
{
    g_autoptr(VhLeaseStore) store = g_new0(VhLeaseStore, 1);

    store->config = config;
    store->lock_fd = -1;
    store->dir = g_build_filename(config->state_dir, "leases", NULL);
    store->lock_path = g_build_filename(config->state_dir, "lock", NULL);
    if (g_mkdir_with_parents(store->dir, 0700) < 0) {
        int err = errno;
        g_set_error(error, VH_ERROR, VH_ERROR_IO,
                    "cannot create state directory %s: %s (set [host] state_dir or --state-dir)",
                    store->dir, g_strerror(err));
        return NULL;
    }
    return g_steal_pointer(&store);
}

void
vh_lease_store_free(VhLeaseStore *store)
{
    if (store == NULL)
        return;
    vh_lease_store_unlock(store);
    g_free(store->dir);
    g_free(store->lock_path);
    g_free(store);
}

gboolean
vh_lease_store_lock(VhLeaseStore *store, guint timeout_ms, GError **error)
{
    if (store->lock_fd >= 0)
        return TRUE;
    store->lock_fd = vh_lock_file(store->lock_path, timeout_ms, error);
    return store->lock_fd >= 0;
}

void
vh_lease_store_unlock(VhLeaseStore *store)
{
    if (store->lock_fd < 0)
        return;
    flock(store->lock_fd, LOCK_UN);
    close(store->lock_fd);
    store->lock_fd = -1;
}

static char *
lease_path(VhLeaseStore *store, const char *key)
{
    return g_build_filename(store->dir, key, NULL);
}

/* The MIG fields (absent in leases of older versions: none). */
static gboolean
gpu_instance_parse(GKeyFile *kf, VhLease *lease)
{
    g_autofree char *id = g_key_file_get_string(kf, LEASE_GROUP, "gpu_instance", NULL);
    const char *profile, *placement;
    guint64 value = 0;
    guint start, size;
    char tail;

    lease->gpu_instance_profile = g_key_file_get_string(kf, LEASE_GROUP,
                                                        "gpu_instance_profile", NULL);
    lease->gpu_instance_placement = g_key_file_get_string(kf, LEASE_GROUP,
                                                          "gpu_instance_placement", NULL);
    lease->gpu_instance_created = g_key_file_get_boolean(kf, LEASE_GROUP,
                                                         "gpu_instance_created", NULL);
    profile = lease->gpu_instance_profile;
    placement = lease->gpu_instance_placement;
    if (id && !g_ascii_string_to_unsigned(id, 10, 0, G_MAXINT, &value, NULL))
        return FALSE;
    lease->has_gpu_instance = id != NULL;
    lease->gpu_instance = (guint)value;
    if (profile && (*profile == '\0' || strpbrk(profile, "/ \t") != NULL))
        return FALSE;
    if (placement && sscanf(placement, "%u:%u%c", &start, &size, &tail) != 2)
        return FALSE;
    /* destroying needs to know what to look for */
    return !lease->gpu_instance_created || (profile && (placement || id));
}

/* A field (or the whole [lease] group) that is not there: the checks
 * below say which fields must be. */
static gboolean
missing(const GError *error)
{
    return g_error_matches(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_KEY_NOT_FOUND) ||
           g_error_matches(error, G_KEY_FILE_ERROR, G_KEY_FILE_ERROR_GROUP_NOT_FOUND);
}

/* A string field; a value GKeyFile cannot read cleanly (an invalid escape
 * such as "\v", which it would pass through as is) marks the lease damaged:
 * written back, it would not be the same file. */
static char *
lease_string(GKeyFile *kf, const char *field, gboolean *bad)
{
    g_autoptr(GError) local = NULL;
    char *value = g_key_file_get_string(kf, LEASE_GROUP, field, &local);

    if (local && !missing(local)) {
        *bad = TRUE;
        g_clear_pointer(&value, g_free);
    }
    return value;
}

static VhLease *
lease_parse(const char *key, const char *data, gsize len, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autoptr(VhLease) lease = g_new0(VhLease, 1);
    g_autofree char *state = NULL;
    GError *local = NULL;
    gboolean bad = FALSE;

    /* GKeyFile quotes the offending line: never show a line of a file
     * that failed to parse (it may be anybody's) */
    if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &local)) {
        g_error_free(local);
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "not a lease file");
        return NULL;
    }
    lease->key = g_strdup(key);
    lease->device = lease_string(kf, "device", &bad);
    lease->resource = lease_string(kf, "resource", &bad);
    lease->domain = lease_string(kf, "domain", &bad);
    lease->uuid = lease_string(kf, "uuid", &bad);
    state = lease_string(kf, "state", &bad);
    lease->since = g_key_file_get_int64(kf, LEASE_GROUP, "since", NULL);
    lease->mdev_uuid = lease_string(kf, "mdev_uuid", &bad);
    lease->mdev_type = lease_string(kf, "mdev_type", &bad);
    lease->original_driver = lease_string(kf, "original_driver", &bad);
    lease->companions = g_key_file_get_string_list(kf, LEASE_GROUP, "companions", NULL, &local);
    if (local && !missing(local))
        bad = TRUE;
    g_clear_error(&local);
    lease->profile_written = g_key_file_get_boolean(kf, LEASE_GROUP, "profile_written", NULL);
    lease->mdev_created = g_key_file_get_boolean(kf, LEASE_GROUP, "mdev_created", NULL);
    lease->boot_id = lease_string(kf, "boot_id", &bad);
    if (bad) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "a value GKeyFile cannot read (an invalid escape or encoding)");
        return NULL;
    }
    if (!gpu_instance_parse(kf, lease)) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "malformed GPU-instance fields (gpu_instance, gpu_instance_profile, "
                    "gpu_instance_placement)");
        return NULL;
    }
    if (lease->device == NULL || !vh_pci_address_is_valid(lease->device) ||
        lease->resource == NULL || !vh_domain_name_is_valid(lease->domain) ||
        !vh_uuid_is_valid(lease->uuid) || lease->since <= 0 ||
        (g_strcmp0(state, "active") != 0 && g_strcmp0(state, "reserved") != 0) ||
        (lease->mdev_uuid && !vh_mdev_uuid_is_valid(lease->mdev_uuid)) ||
        (lease->boot_id && !vh_mdev_uuid_is_valid(lease->boot_id))) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "missing or malformed fields (device, resource, domain, uuid, state, since, "
                    "boot_id)");
        return NULL;
    }
    /* The file name is the device (or the mdev): a lease that names another
     * device must not make a release reset that one. */
    if (vh_pci_address_is_valid(key) ? strcmp(key, lease->device) != 0 || lease->mdev_uuid
                                     : g_ascii_strcasecmp(key, lease->mdev_uuid ? lease->mdev_uuid
                                                                                : "") != 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "its file name and its device=/mdev_uuid= disagree");
        return NULL;
    }
    for (guint i = 0; lease->companions && lease->companions[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(lease->companions[i], "=", 2);
        if (kv[0] == NULL || kv[1] == NULL || !vh_pci_address_is_valid(kv[0]) ||
            strchr(kv[1], '/') != NULL) {
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                        "companions= is not a list of ADDRESS=driver");
            return NULL;
        }
    }
    if (lease->original_driver && strchr(lease->original_driver, '/') != NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "original_driver= is not a driver name");
        return NULL;
    }
    lease->state = g_strcmp0(state, "active") == 0 ? VH_LEASE_ACTIVE : VH_LEASE_RESERVED;
    return g_steal_pointer(&lease);
}

VhLease *
vh_lease_store_get(VhLeaseStore *store, const char *key, GError **error)
{
    g_autofree char *path = NULL;
    g_autofree char *data = NULL;
    gsize len = 0;
    g_autoptr(GError) local = NULL;
    VhLease *lease;

    if (!key_is_valid(key)) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "'%s' is not a device address or UUID", key);
        return NULL;
    }
    path = lease_path(store, key);
    /* never a symlink, a FIFO or a device: reported as damaged, no byte
     * of it quoted (it may be anybody's file) */
    data = vh_file_read(path, LEASE_MAX_SIZE, VH_FILE_NOFOLLOW, &len, &local);
    if (data == NULL && g_error_matches(local, VH_ERROR, VH_ERROR_NOT_FOUND)) {
        g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND, "lease %s: %s", path, local->message);
        return NULL;
    }
    if (data == NULL) {
        /* the reason without the path vh_file_read put in front of it */
        const char *why = local->message;
        const char *after = strstr(why, path);
        if (g_error_matches(local, VH_ERROR, VH_ERROR_INVALID))
            why = "too large to be a lease";
        else if (after && strstr(after, ": "))
            why = strstr(after, ": ") + 2;
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "lease file %s is damaged (%s): check which domain uses %s, then remove "
                    "the file", path, why, key);
        return NULL;
    }
    lease = lease_parse(key, data, len, &local);
    if (lease == NULL)
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "lease file %s is damaged (%s): check which domain uses %s, then remove "
                    "the file", path, local->message, key);
    return lease;
}

GPtrArray *
vh_lease_store_load(VhLeaseStore *store, GPtrArray *warnings, GError **error)
{
    g_autoptr(GDir) dir = NULL;
    g_autoptr(GPtrArray) leases = g_ptr_array_new_with_free_func((GDestroyNotify)vh_lease_free);
    GError *local = NULL;
    const char *name;

    dir = g_dir_open(store->dir, 0, &local);
    if (dir == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot read leases: %s", local->message);
        g_error_free(local);
        return NULL;
    }
    while ((name = g_dir_read_name(dir)) != NULL) {
        g_autoptr(GError) bad = NULL;
        VhLease *lease;
        if (!key_is_valid(name))
            continue; /* temporary files of an interrupted write, foreign files */
        lease = vh_lease_store_get(store, name, &bad);
        if (lease) {
            g_ptr_array_add(leases, lease);
            continue;
        }
        if (warnings)
            g_ptr_array_add(warnings, g_strdup(bad->message));
        /* Unknown holder: keep the device out of reach (safe side). Its
         * uuid is not a UUID, so that no domain takes it for its own (libvirt
         * accepts the nil UUID) and put refuses to write it back. */
        lease = g_new0(VhLease, 1);
        lease->key = g_strdup(name);
        lease->device = g_strdup(vh_pci_address_is_valid(name) ? name : "0000:00:00.0");
        lease->resource = g_strdup("?");
        lease->domain = g_strdup("(damaged lease file)");
        lease->uuid = g_strdup("unknown");
        lease->state = VH_LEASE_ACTIVE;
        lease->since = G_MAXINT64; /* always within grace: live */
        g_ptr_array_add(leases, lease);
    }
    return g_steal_pointer(&leases);
}

gboolean
vh_lease_store_put(VhLeaseStore *store, const VhLease *lease, GError **error)
{
    g_autoptr(GKeyFile) kf = g_key_file_new();
    g_autofree char *path = NULL;
    g_autofree char *data = NULL;
    gsize len;
    GError *local = NULL;

    if (!key_is_valid(lease->key) || !vh_domain_name_is_valid(lease->domain) ||
        !vh_uuid_is_valid(lease->uuid)) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "refusing to write a lease with key '%s' for domain '%s'", lease->key,
                    lease->domain);
        return FALSE;
    }
    g_key_file_set_string(kf, LEASE_GROUP, "device", lease->device);
    if (lease->mdev_uuid)
        g_key_file_set_string(kf, LEASE_GROUP, "mdev_uuid", lease->mdev_uuid);
    if (lease->mdev_type)
        g_key_file_set_string(kf, LEASE_GROUP, "mdev_type", lease->mdev_type);
    g_key_file_set_string(kf, LEASE_GROUP, "resource", lease->resource);
    g_key_file_set_string(kf, LEASE_GROUP, "domain", lease->domain);
    g_key_file_set_string(kf, LEASE_GROUP, "uuid", lease->uuid);
    g_key_file_set_string(kf, LEASE_GROUP, "state", vh_lease_state_to_string(lease->state));
    g_key_file_set_int64(kf, LEASE_GROUP, "since", lease->since);
    if (lease->boot_id)
        g_key_file_set_string(kf, LEASE_GROUP, "boot_id", lease->boot_id);
    if (lease->original_driver)
        g_key_file_set_string(kf, LEASE_GROUP, "original_driver", lease->original_driver);
    if (lease->companions && lease->companions[0])
        g_key_file_set_string_list(kf, LEASE_GROUP, "companions",
                                   (const char *const *)lease->companions,
                                   g_strv_length(lease->companions));
    if (lease->profile_written)
        g_key_file_set_boolean(kf, LEASE_GROUP, "profile_written", TRUE);
    if (lease->mdev_created)
        g_key_file_set_boolean(kf, LEASE_GROUP, "mdev_created", TRUE);
    if (lease->has_gpu_instance)
        g_key_file_set_uint64(kf, LEASE_GROUP, "gpu_instance", lease->gpu_instance);
    if (lease->gpu_instance_profile)
        g_key_file_set_string(kf, LEASE_GROUP, "gpu_instance_profile",
                              lease->gpu_instance_profile);
    if (lease->gpu_instance_placement)
        g_key_file_set_string(kf, LEASE_GROUP, "gpu_instance_placement",
                              lease->gpu_instance_placement);
    if (lease->gpu_instance_created)
        g_key_file_set_boolean(kf, LEASE_GROUP, "gpu_instance_created", TRUE);
    data = g_key_file_to_data(kf, &len, NULL);
    path = lease_path(store, lease->key);
    if (!g_file_set_contents_full(path, data, (gssize)len, G_FILE_SET_CONTENTS_CONSISTENT,
                                  0600, &local)) {
        g_debug("lease: writing %s failed: %s", path, local->message);
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot write lease: %s", local->message);
        g_error_free(local);
        return FALSE;
    }
    g_debug("lease: %s = %s of domain '%s' (%s, device %s%s%s%s%s%s)", path,
            vh_lease_state_to_string(lease->state), lease->domain, lease->resource, lease->device,
            lease->mdev_uuid ? ", mdev " : "", lease->mdev_uuid ? lease->mdev_uuid : "",
            lease->profile_written ? ", profile written by the hook" : "",
            lease->mdev_created ? ", mdev created by the hook" : "",
            lease->companions && lease->companions[0] ? ", with companions" : "");
    return TRUE;
}

gboolean
vh_lease_store_remove(VhLeaseStore *store, const char *key, GError **error)
{
    g_autofree char *path = NULL;

    if (!key_is_valid(key)) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "'%s' is not a device address or UUID", key);
        return FALSE;
    }
    path = lease_path(store, key);
    g_debug("lease: removing %s", path);
    if (unlink(path) < 0 && errno != ENOENT) {
        int err = errno;
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot remove lease %s: %s", path,
                    g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

gboolean
vh_lease_store_drop_reservations(VhLeaseStore *store, const char *uuid, GError **error)
{
    g_autoptr(GPtrArray) leases = vh_lease_store_load(store, NULL, error);

    for (guint i = 0; leases && i < leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(leases, i);
        if (lease->state == VH_LEASE_RESERVED && g_strcmp0(lease->uuid, uuid) == 0 &&
            !vh_lease_store_remove(store, lease->key, error))
            return FALSE;
    }
    return leases != NULL;
}

gboolean
vh_lease_domain_has_pidfile(VhLeaseStore *store, const VhLease *lease)
{
    g_autofree char *pidfile = g_strdup_printf("%s/%s.pid", store->config->libvirt_run_dir,
                                               lease->domain);

    return g_file_test(pidfile, G_FILE_TEST_EXISTS);
}

gboolean
vh_lease_is_live(VhLeaseStore *store, const VhLease *lease)
{
    gint64 now = g_get_real_time() / G_USEC_PER_SEC;

    if (lease->state != VH_LEASE_ACTIVE)
        return TRUE;
    if (lease->since == G_MAXINT64) /* damaged: held by nobody we know */
        return TRUE;
    /* its domain died with the boot it ran in */
    if (vh_lease_is_from_other_boot(lease))
        return FALSE;
    if (now - lease->since < store->config->lease_grace_seconds)
        return TRUE;
    return vh_lease_domain_has_pidfile(store, lease);
}

void
vh_lease_clear_gpu_instance(VhLease *lease)
{
    lease->has_gpu_instance = FALSE;
    lease->gpu_instance = 0;
    lease->gpu_instance_created = FALSE;
    g_clear_pointer(&lease->gpu_instance_profile, g_free);
    g_clear_pointer(&lease->gpu_instance_placement, g_free);
}

void
vh_lease_make_reservation(VhLease *lease)
{
    lease->state = VH_LEASE_RESERVED;
    lease->profile_written = FALSE;
    lease->mdev_created = FALSE;
    g_clear_pointer(&lease->original_driver, g_free);
    g_clear_pointer(&lease->companions, g_strfreev);
    vh_lease_clear_gpu_instance(lease);
    lease->since = g_get_real_time() / G_USEC_PER_SEC;
    g_free(lease->boot_id);
    lease->boot_id = g_strdup(vh_lease_current_boot_id());
}

GPtrArray *
vh_lease_store_debris(VhLeaseStore *store)
{
    g_autoptr(GDir) dir = g_dir_open(store->dir, 0, NULL);
    GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    while (dir && (name = g_dir_read_name(dir)) != NULL) {
        /* g_file_set_contents writes KEY.XXXXXX, then renames it to KEY */
        const char *dot = strrchr(name, '.');
        g_autofree char *key = dot ? g_strndup(name, (gsize)(dot - name)) : NULL;
        if (!key_is_valid(name) && key && key_is_valid(key) && strlen(dot) == 7)
            g_ptr_array_add(names, g_strdup(name));
    }
    return names;
}

gboolean
vh_lease_store_remove_debris(VhLeaseStore *store, const char *name, GError **error)
{
    g_autofree char *path = lease_path(store, name);

    if (unlink(path) < 0 && errno != ENOENT) {
        int err = errno;
        g_set_error(error, VH_ERROR, VH_ERROR_IO, "cannot remove %s: %s", path, g_strerror(err));
        return FALSE;
    }
    return TRUE;
}

GHashTable *
vh_lease_holders(VhLeaseStore *store, GPtrArray *leases, const char *domain_uuid)
{
    GHashTable *holders = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

    for (guint i = 0; leases && i < leases->len; i++) {
        const VhLease *lease = g_ptr_array_index(leases, i);
        if (domain_uuid && g_strcmp0(lease->uuid, domain_uuid) == 0)
            continue;
        if (!vh_lease_is_live(store, lease))
            continue;
        g_hash_table_insert(holders, g_strdup(lease->key), g_strdup(lease->resource));
    }
    return holders;
}

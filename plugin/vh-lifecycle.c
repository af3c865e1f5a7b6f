/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-lifecycle: prepare, release, remap, reconnect; see the header. */
#include "vh-lifecycle.h"
#include "vh-allocate.h"
#include "vh-catalog.h"
#include "vh-error.h"
#include "vh-fault.h"
#include "vh-host.h"
#include "vh-inventory.h"
#include "vh-lease.h"
#include "vh-mdev.h"
#include "vh-metrics.h"
#include "vh-mig-instance.h"
#include "vh-resource-name.h"
#include "vh-sriov-vgpu.h"
#include "vh-vfio.h"

#include <stdarg.h>
#include <string.h>

#define VFIO_NODE_TIMEOUT_MS 3000

typedef struct {
    VhConfig *config;
    VhHost *host;       /* lazy: the domain's devices, re-read after a change */
    VhLeaseStore *store; /* locked */
    VhDomain *domain;
    GPtrArray *taken;   /* VhLease written by this prepare (for undo) */
    GPtrArray *before;  /* the lease each one replaced, or NULL */
    GHashTable *done;   /* lease key -> PrepareStep mask: what this call completed */
    GHashTable *running; /* PCI address -> other running domain (libvirt), read on demand */
    VhHost *scan;       /* scanned for @catalog; apart from @host, which is invalidated */
    VhCatalog *catalog; /* for whole-host checks; both built once, on first need */
    guint undo_failed;  /* undos that left a device changed (counted by the caller) */
    gboolean checking;  /* first pass: every refusal that needs no change, nothing taken */
} Prepare;

static VhLeaseStore *
open_locked_store(VhConfig *config, GError **error)
{
    g_autoptr(VhLeaseStore) store = vh_lease_store_open(config, error);

    if (store == NULL || !vh_lease_store_lock(store, VH_LOCK_TIMEOUT_MS, error))
        return NULL;
    return g_steal_pointer(&store);
}

/* Takes the lease lock; prepare_clear gives it back. */
static gboolean
prepare_begin(Prepare *p, VhConfig *config, VhDomain *domain, GError **error)
{
    g_autoptr(VhLeaseStore) store = open_locked_store(config, error);

    if (store == NULL)
        return FALSE;
    *p = (Prepare){ .config = config, .domain = domain, .store = g_steal_pointer(&store),
                    .host = vh_host_new(config),
                    .taken = g_ptr_array_new_with_free_func((GDestroyNotify)vh_lease_free),
                    .before = g_ptr_array_new_with_free_func((GDestroyNotify)vh_lease_free),
                    .done = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL) };
    return TRUE;
}

static void
prepare_clear(Prepare *p)
{
    g_clear_pointer(&p->taken, g_ptr_array_unref);
    g_clear_pointer(&p->before, g_ptr_array_unref);
    g_clear_pointer(&p->done, g_hash_table_unref);
    g_clear_pointer(&p->running, g_hash_table_unref);
    g_clear_pointer(&p->catalog, vh_catalog_free);
    g_clear_pointer(&p->scan, vh_host_free);
    g_clear_pointer(&p->host, vh_host_free);
    g_clear_pointer(&p->store, vh_lease_store_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Prepare, prepare_clear)

/* The catalogue, for the checks that need the whole host (a whole GPU's
 * membership, plain hostdevs): scanned once per operation. */
static VhCatalog *
prepare_catalog(Prepare *p, GError **error)
{
    if (p->catalog == NULL) {
        g_clear_pointer(&p->scan, vh_host_free);
        p->scan = vh_host_new(p->config);
        p->catalog = vh_catalog_build(p->scan, NULL, error);
    }
    return p->catalog;
}

/* The steps of a prepare that change a device. The lease records each
 * before it runs (a kill leaves an undo record); a failure of this call
 * undoes only those that completed. */
typedef enum {
    STEP_BOUND = 1 << 0,    /* the group went to vfio-pci */
    STEP_PROFILE = 1 << 1,  /* a vGPU profile was written */
    STEP_MDEV = 1 << 2,     /* an mdev was created */
    STEP_INSTANCE = 1 << 3, /* a GPU instance was created (mig = on-demand) */
} PrepareStep;

static void
step_done(Prepare *p, const char *key, PrepareStep step)
{
    guint mask = GPOINTER_TO_UINT(g_hash_table_lookup(p->done, key));

    g_hash_table_insert(p->done, g_strdup(key), GUINT_TO_POINTER(mask | step));
}

static gboolean undo_lease_steps(VhConfig *config, VhHost *host, const VhLease *lease,
                                 GString *done, GString *why, gboolean restore_driver);

/* A dead domain's changes are undone before its device changes hands: its
 * profile or mdev would otherwise stay behind with nobody to release it. */
static gboolean
reclaim_stale(Prepare *p, VhLease *old, GError **error)
{
    g_autoptr(GString) why = g_string_new(NULL);

    g_debug("domain '%s': %s: undoing what stopped domain '%s' set up (stale lease)",
            p->domain->name, old->device, old->domain);
    if (!undo_lease_steps(p->config, p->host, old, NULL, why, p->config->release_restores_driver)) {
        p->undo_failed++;
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "domain '%s': %s still carries what stopped domain '%s' set up, and undoing "
                    "it failed: %s", p->domain->name, old->device, old->domain, why->str);
        return FALSE;
    }
    /* killed here: the old lease is still on disk, its undo done; doing it
     * again changes nothing */
    VH_FAULT_POINT("lease:stale-undone");
    old->profile_written = FALSE;
    old->mdev_created = FALSE;
    g_clear_pointer(&old->original_driver, g_free);
    g_clear_pointer(&old->companions, g_strfreev);
    vh_lease_clear_gpu_instance(old);
    return TRUE;
}

/* Take the lease of @key for the domain, or explain who has it. */
/* Before a device without a lease of this domain is taken: no other running
 * domain's libvirt status file names it (a lease renamed, damaged or lost
 * must not hand a running domain's GPU to another). Read once a prepare. */
static gboolean
check_no_running_holder(Prepare *p, const char *key, const char *device,
                        const VhDomainDevice *dev, GError **error)
{
    const char *holder;

    if (p->running == NULL)
        p->running = vh_domain_running_pci_holders(p->config->libvirt_run_dir, p->domain->name);
    /* an mdev is named by its UUID (the lease key), a PCI function by its address */
    if ((holder = g_hash_table_lookup(p->running, key)) == NULL &&
        (holder = g_hash_table_lookup(p->running, device)) == NULL)
        return TRUE;
    g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                "domain '%s', alias '%s': %s (%s) is held by running domain '%s' (libvirt's "
                "status file names it; its lease is missing or damaged: run 'vgpuctl leases'); "
                "run 'vgpuctl start %s' to pick a free one", p->domain->name, dev->alias, device,
                dev->resource, holder, p->domain->name);
    return FALSE;
}

/* A VF about to be taken from a stopped domain's stale lease must fit the
 * profile wanted before that lease is undone: a prepare refused after the
 * undo would have changed the host (the reset profile) for nothing. */
static gboolean
check_fits_after_reclaim(Prepare *p, const char *device, const VhDomainDevice *dev,
                         GError **error)
{
    VhPciDevice *pci = vh_host_get_device(p->host, device, NULL);
    const char *profile = vh_config_resource_profile(p->config, dev->resource);

    if (pci == NULL || !pci->has_vgpu || profile == NULL)
        return TRUE;
    if (vh_sriov_vgpu_check_fits(p->host, device, profile, error))
        return TRUE;
    g_prefix_error(error, "domain '%s', alias '%s': ", p->domain->name, dev->alias);
    return FALSE;
}

/* Every refusal take_lease can give, none of which changes anything: asked
 * for all devices of a domain before the first is taken (a stale lease
 * taken over for one device must not be undone for a refusal of the next).
 * *@old_out (optional): the lease @key has now, if any. */
static gboolean
lease_may_be_taken(Prepare *p, const char *key, const char *device, const VhDomainDevice *dev,
                   VhLease **old_out, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(VhLease) old = vh_lease_store_get(p->store, key, &local);

    if (old == NULL && !g_error_matches(local, VH_ERROR, VH_ERROR_NOT_FOUND)) {
        g_propagate_error(error, g_steal_pointer(&local));
        return FALSE;
    }
    /* Only a device this domain prepared before skips the check: a
     * reservation (define, rewrite --reserve) can have been made while a
     * damaged lease hid the running domain that holds the device. */
    if ((old == NULL || g_strcmp0(old->uuid, p->domain->uuid) != 0 ||
         old->state != VH_LEASE_ACTIVE) &&
        !check_no_running_holder(p, key, device, dev, error))
        return FALSE;
    if (old && g_strcmp0(old->uuid, p->domain->uuid) != 0 && old->state == VH_LEASE_ACTIVE) {
        if (vh_lease_is_live(p->store, old)) {
            g_debug("domain '%s': %s: live lease of domain '%s': refused", p->domain->name,
                    device, old->domain);
            g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                        "domain '%s', alias '%s': %s (%s) is in use by running domain '%s'; "
                        "run 'vgpuctl start %s' to pick a free one",
                        p->domain->name, dev->alias, device, dev->resource, old->domain,
                        p->domain->name);
            return FALSE;
        }
        if (!check_fits_after_reclaim(p, device, dev, error))
            return FALSE;
    }
    if (old_out)
        *old_out = g_steal_pointer(&old);
    return TRUE;
}

static VhLease *
take_lease(Prepare *p, const char *key, const char *device, const VhDomainDevice *dev,
           GError **error)
{
    g_autoptr(VhLease) old = NULL;
    VhLease *lease;

    if (!lease_may_be_taken(p, key, device, dev, &old, error))
        return NULL;
    if (old && g_strcmp0(old->uuid, p->domain->uuid) != 0) {
        if (old->state == VH_LEASE_ACTIVE && !reclaim_stale(p, old, error))
            return NULL;
        g_message("domain '%s': taking over %s from %s lease of domain '%s'", p->domain->name,
                  device, old->state == VH_LEASE_ACTIVE ? "the stale" : "the reservation",
                  old->domain);
    }
    if (old && g_strcmp0(old->uuid, p->domain->uuid) == 0 && old->state == VH_LEASE_ACTIVE) {
        /* prepared already: keep its undo record (and a copy, so that a
         * failure of this call restores it rather than undoing it) */
        lease = g_steal_pointer(&old);
        g_debug("domain '%s': %s: its own active lease (prepared before), undo record kept",
                p->domain->name, device);
        g_ptr_array_add(p->before, vh_lease_store_get(p->store, key, NULL));
        lease->since = g_get_real_time() / G_USEC_PER_SEC;
        g_free(lease->boot_id);
        lease->boot_id = g_strdup(vh_lease_current_boot_id());
    } else {
        /* (a stopped domain's changes were undone by reclaim_stale) */
        lease = vh_lease_new(key, device, dev->resource, p->domain->name, p->domain->uuid,
                             VH_LEASE_ACTIVE);
        /* an mdev's lease is named by its UUID from its first write on */
        if (vh_mdev_uuid_is_valid(key))
            lease->mdev_uuid = g_strdup(key);
        g_ptr_array_add(p->before, g_steal_pointer(&old));
    }
    g_ptr_array_add(p->taken, lease);
    if (!vh_lease_store_put(p->store, lease, error))
        return NULL;
    VH_FAULT_POINT("lease:written");
    return lease;
}

/* The undo record is written before the first function is touched (from
 * the plan): a prepare killed half-way through the group leaves a lease
 * that release, a stale takeover or `vgpuctl reconcile` can undo. */
static gboolean
prepare_passthrough(Prepare *p, VhLease *lease, GError **error)
{
    g_autoptr(GPtrArray) plan = g_ptr_array_new_with_free_func((GDestroyNotify)vh_vfio_binding_free);
    g_autoptr(GPtrArray) companions = g_ptr_array_new_with_free_func(g_free);
    VhPciDevice *gpu = vh_host_get_device(p->host, lease->device, error);
    gint group;

    if (gpu == NULL)
        return FALSE;
    group = gpu->iommu_group;
    if (!vh_vfio_plan_group(p->host, lease->device, plan, error))
        return FALSE;
    for (guint i = 0; i < plan->len; i++) {
        const VhVfioBinding *b = g_ptr_array_index(plan, i);
        if (strcmp(b->address, lease->device) == 0 && lease->original_driver == NULL)
            lease->original_driver = g_strdup(b->driver);
        else if (strcmp(b->address, lease->device) != 0)
            g_ptr_array_add(companions, g_strdup_printf("%s=%s", b->address, b->driver));
    }
    if (lease->companions == NULL || lease->companions[0] == NULL) {
        g_ptr_array_add(companions, NULL);
        g_strfreev(lease->companions);
        lease->companions = (GStrv)g_ptr_array_free(g_steal_pointer(&companions), FALSE);
    }
    if (!vh_lease_store_put(p->store, lease, error))
        return FALSE;
    VH_FAULT_POINT("passthrough:recorded");
    /* (a bind that fails part-way gives back what it bound itself) */
    if (!vh_vfio_bind_planned(p->host, plan, error))
        return FALSE;
    step_done(p, lease->key, STEP_BOUND);
    VH_FAULT_POINT("passthrough:bound");
    return vh_vfio_wait_group_node(p->host, group, VFIO_NODE_TIMEOUT_MS, error);
}

/* This domain's own record names an instance (an earlier prepare, killed or
 * not): is it gone (never created, or destroyed since)? Then the record
 * is dropped, here and in the copy a failure would put back, and a new one
 * is made. FALSE with @error set when NVML cannot tell. */
static gboolean
recorded_instance_gone(Prepare *p, VhLease *lease, GError **error)
{
    g_autofree char *gpu = vh_mig_instance_gpu_of_vf(p->host, lease->device);
    gboolean exists = FALSE;

    if (gpu == NULL ||
        !vh_mig_instance_exists(gpu, lease->gpu_instance_profile, lease->has_gpu_instance,
                                lease->gpu_instance, lease->gpu_instance_placement, &exists,
                                error))
        return FALSE;
    if (exists)
        return FALSE;
    g_debug("domain '%s': %s: the %s instance its lease records is gone: making another",
            p->domain->name, lease->device, lease->gpu_instance_profile);
    vh_lease_clear_gpu_instance(lease);
    for (guint i = 0; i < p->taken->len; i++) {
        VhLease *before = g_ptr_array_index(p->before, i);
        if (g_ptr_array_index(p->taken, i) == lease && before)
            vh_lease_clear_gpu_instance(before);
    }
    return TRUE;
}

/* mig = on-demand: the GPU instance MIG-backed @profile needs, created when
 * no free one exists. Recorded first (profile and placement: a kill after
 * the create leaves a record that finds it), the id after the create. */
static gboolean
prepare_instance(Prepare *p, VhLease *lease, const char *profile, GError **error)
{
    VhMigDemand demand = { 0 };
    guint id = 0;
    gboolean ok;

    if (lease->gpu_instance_created && !recorded_instance_gone(p, lease, error))
        return error == NULL || *error == NULL; /* its own record, and the instance is there */
    if (!vh_mig_instance_plan(p->host, p->store, lease->device, profile, &demand, error))
        return FALSE;
    if (!demand.create) {
        vh_mig_demand_clear(&demand);
        return TRUE;
    }
    g_free(lease->gpu_instance_profile);
    lease->gpu_instance_profile = g_strdup(demand.profile);
    g_free(lease->gpu_instance_placement);
    lease->gpu_instance_placement = g_strdup_printf("%u:%u", demand.placement.start,
                                                    demand.placement.size);
    lease->gpu_instance_created = TRUE;
    ok = vh_lease_store_put(p->store, lease, error);
    if (ok) {
        VH_FAULT_POINT("mig:recorded");
        ok = vh_mig_instance_create(&demand, &id, error);
    }
    vh_mig_demand_clear(&demand);
    if (!ok)
        return FALSE;
    step_done(p, lease->key, STEP_INSTANCE);
    VH_FAULT_POINT("mig:created");
    lease->has_gpu_instance = TRUE;
    lease->gpu_instance = id;
    if (!vh_lease_store_put(p->store, lease, error))
        return FALSE;
    VH_FAULT_POINT("mig:id-recorded");
    return TRUE;
}

/* The instance the driver gave the VF, read back from gpu_instance_id,
 * recorded when the lease does not name one yet. Best effort: the record
 * is for operators; undo goes by what this lease created. */
static void
record_vf_instance(Prepare *p, VhLease *lease)
{
    guint id;

    if (lease->has_gpu_instance || !vh_mig_instance_of_vf(p->host, lease->device, &id))
        return;
    lease->has_gpu_instance = TRUE;
    lease->gpu_instance = id;
    vh_lease_store_put(p->store, lease, NULL);
}

/* A VF without a profile is marked as ours (profile_written) before the
 * write: a prepare killed right after it leaves a profile that the lease
 * says to reset (only a VF whose vGPU files read well: set_profile refuses
 * the others without writing). A VF that holds the profile already (a static one of
 * apply-profiles, or this domain's) is not marked: nobody resets it. */
static gboolean
prepare_vgpu(Prepare *p, VhLease *lease, const VhDomainDevice *dev, GError **error)
{
    const char *profile = vh_config_resource_profile(p->config, dev->resource);
    g_autofree char *gpu = NULL;
    gboolean written = FALSE;
    gboolean ok;
    VhPciDevice *vf;

    vf = vh_host_refresh_vgpu(p->host, lease->device, NULL);
    if (vf && vf->creatable_types && vf->current_vgpu_type == 0 && !lease->profile_written) {
        lease->profile_written = TRUE;
        if (!vh_lease_store_put(p->store, lease, error))
            return FALSE;
        VH_FAULT_POINT("vgpu:recorded");
    }
    gpu = vf && vf->physfn ? g_strdup(vf->physfn) : NULL;
    if (vf && vf->current_vgpu_type == 0 && gpu && vh_config_gpu_mig_on_demand(p->config, gpu) &&
        vh_vgpu_gpu_is_mig_backed(profile) && !prepare_instance(p, lease, profile, error)) {
        g_prefix_error(error, "domain '%s', alias '%s': ", p->domain->name, dev->alias);
        return FALSE;
    }
    ok = vh_sriov_vgpu_set_profile(p->host, lease->device, profile, &written, error);
    if (written)
        step_done(p, lease->key, STEP_PROFILE);
    if (!ok) {
        g_prefix_error(error, "domain '%s', alias '%s': ", p->domain->name, dev->alias);
        return FALSE;
    }
    if (gpu && vh_vgpu_gpu_is_mig_backed(profile))
        record_vf_instance(p, lease);
    return TRUE;
}

/* The parent and type for an mdev we have to create: the reservation knows;
 * otherwise the first parent that offers the resource's type. */
static gboolean
find_mdev_parent(Prepare *p, const VhDomainDevice *dev, const VhLease *reserved, char **parent,
                 char **type_id, GError **error)
{
    const char *wanted = vh_config_resource_profile(p->config, dev->resource);
    g_autoptr(GPtrArray) parents = NULL;

    if (reserved && reserved->mdev_type && vh_pci_address_is_valid(reserved->device) &&
        !vh_host_is_denied(p->host, reserved->device) &&
        g_strcmp0(reserved->resource, dev->resource) == 0) {
        *parent = g_strdup(reserved->device);
        *type_id = g_strdup(reserved->mdev_type);
        return TRUE;
    }
    parents = vh_mdev_parents(p->host->sysfs);
    for (guint i = 0; i < parents->len; i++) {
        const char *addr = g_ptr_array_index(parents, i);
        g_autoptr(GPtrArray) types = NULL;
        if (vh_host_is_denied(p->host, addr))
            continue;
        types = vh_mdev_types_load(p->host->sysfs, addr, NULL);
        for (guint t = 0; types && t < types->len; t++) {
            const VhMdevType *type = g_ptr_array_index(types, t);
            g_autofree char *name = vh_resource_name_for_mdev_type(type->name);
            if ((strcmp(name, dev->resource) == 0 || strcmp(type->name, wanted) == 0) &&
                type->available_instances > 0) {
                *parent = g_strdup(addr);
                *type_id = g_strdup(type->type_id);
                return TRUE;
            }
        }
    }
    g_set_error(error, VH_ERROR, VH_ERROR_NO_CAPACITY,
                "domain '%s', alias '%s': no mdev parent can create another %s instance",
                p->domain->name, dev->alias, dev->resource);
    return FALSE;
}

/* An mdev with @uuid exists already (created by an earlier prepare, by
 * hand, or left behind): is it of the type @dev names, and on which parent? */
static gboolean
existing_mdev_parent(Prepare *p, const VhDomainDevice *dev, const char *uuid, const char *type_id,
                     char **parent, GError **error)
{
    const char *wanted = vh_config_resource_profile(p->config, dev->resource);
    g_autofree char *name = vh_mdev_instance_type_name(p->host->sysfs, uuid);
    g_autofree char *resource = NULL;

    if (name == NULL)
        name = g_strdup(type_id);
    resource = vh_resource_name_for_mdev_type(name);
    if (strcmp(resource, dev->resource) != 0 && strcmp(name, wanted) != 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "domain '%s', alias '%s': mdev %s exists already as %s (type %s), not %s: "
                    "remove it or give the hostdev another UUID",
                    p->domain->name, dev->alias, uuid, name, type_id, dev->resource);
        return FALSE;
    }
    if ((*parent = vh_mdev_instance_parent(p->host->sysfs, uuid)) != NULL)
        return TRUE;
    g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND,
                "domain '%s', alias '%s': mdev %s exists but under no mdev parent of this host",
                p->domain->name, dev->alias, uuid);
    return FALSE;
}

static gboolean
prepare_mdev(Prepare *p, const VhDomainDevice *dev, const char *uuid, GError **error)
{
    g_autoptr(VhLease) reserved = vh_lease_store_get(p->store, uuid, NULL);
    g_autofree char *parent = NULL;
    g_autofree char *type_id = NULL;
    g_autofree char *existing = vh_mdev_instance_type(p->host->sysfs, uuid);
    VhLease *lease;

    if (existing) {
        if (!existing_mdev_parent(p, dev, uuid, existing, &parent, error))
            return FALSE;
        type_id = g_strdup(existing);
    } else if (!find_mdev_parent(p, dev, reserved, &parent, &type_id, error)) {
        return FALSE;
    }
    if (vh_host_is_denied(p->host, parent)) {
        g_set_error(error, VH_ERROR, VH_ERROR_DENIED,
                    "domain '%s', alias '%s': mdev %s is on %s, which is denied ([host] deny "
                    "lists it, its PF or a member of its IOMMU group)", p->domain->name,
                    dev->alias, uuid, parent);
        return FALSE;
    }
    if (p->checking)
        return lease_may_be_taken(p, uuid, parent, dev, NULL, error);
    lease = take_lease(p, uuid, parent, dev, error);
    if (lease == NULL)
        return FALSE;
    g_free(lease->mdev_uuid);
    lease->mdev_uuid = g_strdup(uuid);
    g_free(lease->mdev_type);
    lease->mdev_type = g_strdup(type_id);
    /* Taking over a dead domain's lease removed the mdev it had created. */
    g_free(existing);
    existing = vh_mdev_instance_type(p->host->sysfs, uuid);
    if (existing)
        return vh_lease_store_put(p->store, lease, error);
    /* Recorded before the create, as for a profile (prepare_vgpu). */
    lease->mdev_created = TRUE;
    if (!vh_lease_store_put(p->store, lease, error))
        return FALSE;
    VH_FAULT_POINT("mdev:recorded");
    if (!vh_mdev_create(p->host->sysfs, parent, type_id, uuid, error)) {
        g_prefix_error(error, "domain '%s', alias '%s': ", p->domain->name, dev->alias);
        return FALSE;
    }
    step_done(p, uuid, STEP_MDEV);
    return TRUE;
}

/* The device a hostdev points at must belong to the resource it names: the
 * XML is the user's, and a hand-edited address must not get a host NIC
 * bound to vfio-pci. A reservation of this domain for this device and
 * resource means `vgpuctl define` checked it already (the lean path); else
 * the whole host is scanned once (and the PCI IDs database read). */
static gboolean
check_membership(Prepare *p, const VhDomainDevice *dev, const char *address, GError **error)
{
    g_autoptr(VhLease) own = vh_lease_store_get(p->store, address, NULL);
    VhCatalog *catalog;
    VhResource *res;

    if (own && g_strcmp0(own->uuid, p->domain->uuid) == 0 &&
        g_strcmp0(own->resource, dev->resource) == 0)
        return TRUE;
    if ((catalog = prepare_catalog(p, error)) == NULL)
        return FALSE;
    res = vh_catalog_lookup(catalog, dev->resource);
    if (res && !vh_resource_check_hostdev_kind(res, FALSE, address, error)) {
        g_prefix_error(error, "domain '%s', alias '%s': ", p->domain->name, dev->alias);
        return FALSE;
    }
    for (guint i = 0; res && i < res->members->len; i++) {
        const VhResourceMember *m = g_ptr_array_index(res->members, i);
        if (strcmp(m->device->address, address) == 0)
            return TRUE;
    }
    g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                "domain '%s', alias '%s': %s is not a device of %s on this host%s; refusing to "
                "touch it (let 'vgpuctl define' pick the device)", p->domain->name, dev->alias,
                address, dev->resource, res ? "" : " (no such resource)");
    return FALSE;
}

static gboolean
prepare_device(Prepare *p, const VhDomainDevice *dev, GError **error)
{
    g_autofree char *uuid = vh_domain_device_mdev_uuid(dev);
    g_autofree char *address = NULL;
    const char *denied_by;
    VhPciDevice *pci;
    VhLease *lease;
    gboolean is_vgpu;

    if (uuid)
        return prepare_mdev(p, dev, uuid, error);
    address = vh_domain_device_pci_address(dev);
    if (address == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                    "domain '%s', alias '%s': the <hostdev> has no usable <source> address; "
                    "define the domain with 'vgpuctl define' (or 'vgpuctl rewrite')",
                    p->domain->name, dev->alias);
        return FALSE;
    }
    if ((denied_by = vh_host_denied_by(p->host, address)) != NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_DENIED,
                    "domain '%s', alias '%s': %s is denied ([host] deny lists %s, %s)",
                    p->domain->name, dev->alias, address, denied_by,
                    strcmp(denied_by, address) == 0 ? "the device itself"
                                                     : "its PF or a member of its IOMMU group");
        return FALSE;
    }
    pci = vh_host_get_device(p->host, address, error);
    if (pci == NULL) {
        g_prefix_error(error, "domain '%s', alias '%s': ", p->domain->name, dev->alias);
        return FALSE;
    }
    /* A VF is checked by the driver (creatable types); a whole GPU is about
     * to be bound to vfio-pci and must be one of the resource's. */
    is_vgpu = pci->has_vgpu; /* @pci does not outlive take_lease's undo */
    if (!is_vgpu && !check_membership(p, dev, address, error))
        return FALSE;
    g_debug("domain '%s', alias '%s': %s %s (%s)", p->domain->name, dev->alias, dev->resource,
            address, is_vgpu ? "vGPU VF" : "whole GPU");
    if (p->checking)
        return lease_may_be_taken(p, address, address, dev, NULL, error);
    lease = take_lease(p, address, address, dev, error);
    if (lease == NULL)
        return FALSE;
    if (is_vgpu)
        return prepare_vgpu(p, lease, dev, error);
    if (!prepare_passthrough(p, lease, error)) {
        g_prefix_error(error, "domain '%s', alias '%s': ", p->domain->name, dev->alias);
        return FALSE;
    }
    return TRUE;
}

/* manage_plain_hostdevs: the PCI <hostdev>s no <vgpu:device> names are
 * prepared as if named, at the address written, when the device belongs to
 * a resource (a whole GPU, or a VF by the profile it holds); others (a NIC)
 * are libvirt's business. Returns them, resource and address filled in. */
static GPtrArray *
adopt_plain_hostdevs(Prepare *p, GError **error)
{
    g_autoptr(GPtrArray) plain = vh_domain_plain_pci_hostdevs(p->domain);
    VhCatalog *catalog;

    if (plain->len == 0)
        return g_steal_pointer(&plain);
    if ((catalog = prepare_catalog(p, error)) == NULL)
        return NULL;
    for (guint i = 0; i < plain->len;) {
        VhDomainDevice *dev = g_ptr_array_index(plain, i);
        g_autofree char *address = vh_domain_device_pci_address(dev);
        const VhResource *res = address ? vh_catalog_resource_of_device(catalog, address) : NULL;
        const VhPciDevice *pci = address ? g_hash_table_lookup(catalog->host->by_address, address)
                                         : NULL;
        if (res == NULL && pci && pci->has_vgpu && !vh_host_is_denied(p->host, address)) {
            g_set_error(error, VH_ERROR, VH_ERROR_INVALID,
                        "domain '%s', <hostdev> '%s': VF %s holds no vGPU profile, so there is "
                        "none to give it; name its resource in a <vgpu:device> ('vgpuctl "
                        "define') or assign a profile ('vgpuctl apply-profiles')",
                        p->domain->name, dev->alias, address);
            return NULL;
        }
        if (res == NULL) {
            g_ptr_array_remove_index(plain, i);
            continue;
        }
        dev->resource = g_strdup(res->name);
        dev->want_address = g_steal_pointer(&address);
        i++;
    }
    return g_steal_pointer(&plain);
}

static void
append(GString *text, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* "a, b" lists for the operator, skipped when @text is NULL. */
static void
append(GString *text, const char *fmt, ...)
{
    va_list args;

    if (text == NULL)
        return;
    if (text->len)
        g_string_append(text, ", ");
    va_start(args, fmt);
    g_string_append_vprintf(text, fmt, args);
    va_end(args);
}

static void
add_failure(GString *why, const GError *error, gboolean *ok)
{
    g_string_append_printf(why, "%s%s", why->len ? "; " : "", error->message);
    *ok = FALSE;
}

/* Destroy the GPU instance @lease created (found by id, else placement). */
static gboolean
undo_instance(VhHost *host, const VhLease *lease, GString *done, GError **error)
{
    g_autofree char *gpu = vh_mig_instance_gpu_of_vf(host, lease->device);
    gboolean destroyed = FALSE;

    if (gpu == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND,
                    "%s: the GPU instance its lease created cannot be found: the VF is gone "
                    "(VFs disabled or the GPU rebound, which destroys instances)", lease->device);
        return FALSE;
    }
    if (!vh_mig_instance_destroy(gpu, lease->gpu_instance_profile, lease->has_gpu_instance,
                                 lease->gpu_instance, lease->gpu_instance_placement, &destroyed,
                                 error)) {
        g_prefix_error(error, "GPU %s: destroying the %s instance of %s: ", gpu,
                       lease->gpu_instance_profile, lease->device);
        return FALSE;
    }
    if (destroyed && lease->has_gpu_instance)
        append(done, "GPU instance %u (%s) destroyed", lease->gpu_instance,
               lease->gpu_instance_profile);
    else if (destroyed)
        append(done, "GPU instance %s at %s destroyed", lease->gpu_instance_profile,
               lease->gpu_instance_placement);
    return TRUE;
}

/* Undo one active lease's changes; what was done goes to @done (may be
 * NULL), errors to @why. Functions go back to their original drivers when
 * @restore_driver. Every step is idempotent: a lease whose undo was cut
 * short (or whose prepare was) is undone again from the same record. */
static gboolean
undo_lease_steps(VhConfig *config, VhHost *host, const VhLease *lease, GString *done,
                 GString *why, gboolean restore_driver)
{
    g_autoptr(GError) local = NULL;
    gboolean ok = TRUE;

    if (lease->mdev_uuid && lease->mdev_created) {
        if (vh_mdev_remove(host->sysfs, lease->mdev_uuid, config->reset_retries,
                           config->reset_retry_ms, &local))
            append(done, "mdev %s removed", lease->mdev_uuid);
        else
            add_failure(why, local, &ok);
    }
    g_clear_error(&local);
    if (!lease->mdev_uuid && lease->profile_written) {
        if (vh_sriov_vgpu_reset(host, lease->device, config->reset_retries,
                                config->reset_retry_ms, &local))
            append(done, "profile %s cleared",
                   vh_config_resource_profile(config, lease->resource));
        else
            add_failure(why, local, &ok);
    }
    g_clear_error(&local);
    /* after the profile: NVML refuses an instance a vGPU holds */
    if (ok && lease->gpu_instance_created && !undo_instance(host, lease, done, &local))
        add_failure(why, local, &ok);
    if (!restore_driver)
        return ok;
    /* Companions and the GPU are restored separately: a GPU that was on
     * vfio-pci already (original_driver unset) may still have had its
     * audio function moved. */
    for (guint i = 0; lease->companions && lease->companions[i]; i++) {
        g_auto(GStrv) kv = g_strsplit(lease->companions[i], "=", 2);
        g_clear_error(&local);
        if (kv[0] == NULL || !vh_pci_address_is_valid(kv[0]))
            continue;
        if (vh_vfio_unbind_device(host, kv[0], kv[1], &local))
            append(done, "%s back to %s", kv[0], kv[1] && *kv[1] ? kv[1] : "no driver");
        else
            add_failure(why, local, &ok);
    }
    g_clear_error(&local);
    if (lease->original_driver) {
        if (vh_vfio_unbind_device(host, lease->device, lease->original_driver, &local))
            append(done, "%s back to %s", lease->device,
                   *lease->original_driver ? lease->original_driver : "no driver");
        else
            add_failure(why, local, &ok);
    }
    return ok;
}

/* Undo as release does: drivers per the release_driver policy. */
gboolean
vh_lifecycle_undo_lease(VhConfig *config, VhHost *host, const VhLease *lease, GString *done,
                        GString *why)
{
    return undo_lease_steps(config, host, lease, done, why, config->release_restores_driver);
}

/* What this prepare changed on @lease's device: the steps it completed
 * (@steps), minus what it inherited from @before (an earlier prepare, a
 * dead domain's lease). Steps recorded but never run are not undone. */
static VhLease *
prepare_changes(const VhLease *lease, const VhLease *before, guint steps)
{
    gboolean inherited = before && before->state == VH_LEASE_ACTIVE;
    VhLease *changes = vh_lease_new(lease->key, lease->device, lease->resource, lease->domain,
                                    lease->uuid, lease->state);

    changes->mdev_uuid = g_strdup(lease->mdev_uuid);
    changes->mdev_type = g_strdup(lease->mdev_type);
    changes->profile_written = (steps & STEP_PROFILE) && lease->profile_written &&
                               !(inherited && before->profile_written);
    changes->mdev_created = (steps & STEP_MDEV) && lease->mdev_created &&
                            !(inherited && before->mdev_created);
    if ((steps & STEP_BOUND) && !(inherited && before->original_driver))
        changes->original_driver = g_strdup(lease->original_driver);
    if ((steps & STEP_BOUND) && !(inherited && before->companions && before->companions[0]))
        changes->companions = g_strdupv(lease->companions);
    if ((steps & STEP_INSTANCE) && lease->gpu_instance_created &&
        !(inherited && before->gpu_instance_created)) {
        changes->gpu_instance_created = TRUE;
        changes->has_gpu_instance = lease->has_gpu_instance;
        changes->gpu_instance = lease->gpu_instance;
        changes->gpu_instance_profile = g_strdup(lease->gpu_instance_profile);
        changes->gpu_instance_placement = g_strdup(lease->gpu_instance_placement);
    }
    return changes;
}

/* Undo what this call did, whatever the release policy (functions go back
 * to their drivers), and put back the leases it replaced. What could not
 * be undone joins @error's one line (a second line would be lost or
 * garbled by libvirt). */
static void
undo_prepare(Prepare *p, GError **error)
{
    g_autoptr(GString) why = g_string_new(NULL);

    for (guint i = p->taken->len; i > 0; i--) {
        VhLease *lease = g_ptr_array_index(p->taken, i - 1);
        VhLease *before = g_ptr_array_index(p->before, i - 1);
        guint steps = GPOINTER_TO_UINT(g_hash_table_lookup(p->done, lease->key));
        g_autoptr(VhLease) changes = prepare_changes(lease, before, steps);
        if (!undo_lease_steps(p->config, p->host, changes, NULL, why, TRUE))
            p->undo_failed++;
        if (before)
            vh_lease_store_put(p->store, before, NULL);
        else
            vh_lease_store_remove(p->store, lease->key, NULL);
    }
    if (why->len && error && *error) {
        g_message("domain '%s': undo after a failed prepare was incomplete: %s", p->domain->name,
                  why->str);
        char *message = g_strdup_printf("%s (and undoing it was incomplete: %s; run 'vgpuctl "
                                        "reconcile')", (*error)->message, why->str);
        g_free((*error)->message);
        (*error)->message = message;
    }
}

/* The domain whose lease holds @vf_address, for refusals (VhVgpuOwnerLookup). */
static char *
lease_owner(const char *vf_address, gpointer store)
{
    g_autoptr(VhLease) lease = vh_lease_store_get(store, vf_address, NULL);

    return lease && lease->domain ? g_strdup(lease->domain) : NULL;
}

/* Undos that failed are counted in @undo_failed, for the caller to record
 * once the lock is given back. */
static gboolean
prepare_domain(VhConfig *config, VhDomain *domain, guint *undo_failed, GError **error)
{
    g_auto(Prepare) p = { 0 };
    g_autoptr(GPtrArray) plain = NULL;
    gboolean ok = TRUE;

    if (domain->uuid == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_INVALID, "domain '%s' has no <uuid>", domain->name);
        return FALSE;
    }
    if (!vh_domain_check_distinct_sources(domain, error))
        return FALSE;
    if (!prepare_begin(&p, config, domain, error))
        return FALSE;
    g_debug("domain '%s': prepare %u named device(s)", domain->name, domain->devices->len);
    VH_FAULT_POINT("prepare:locked");
    vh_vgpu_gpu_set_owner_lookup(lease_owner, p.store);
    if (config->manage_plain_hostdevs)
        ok = (plain = adopt_plain_hostdevs(&p, error)) != NULL;
    /* two passes: the refusals that need no change first, for every device */
    for (guint pass = 0; pass < 2 && ok; pass++) {
        p.checking = pass == 0;
        for (guint i = 0; ok && i < domain->devices->len; i++)
            ok = prepare_device(&p, g_ptr_array_index(domain->devices, i), error);
        for (guint i = 0; ok && plain && i < plain->len; i++)
            ok = prepare_device(&p, g_ptr_array_index(plain, i), error);
    }
    p.checking = FALSE;
    vh_vgpu_gpu_set_owner_lookup(NULL, NULL);
    if (!ok)
        undo_prepare(&p, error);
    else
        VH_FAULT_POINT("prepare:done");
    *undo_failed = p.undo_failed;
    return ok;
}

static gboolean
has_plain_hostdevs(VhConfig *config, VhDomain *domain)
{
    g_autoptr(GPtrArray) plain = NULL;

    if (!config->manage_plain_hostdevs)
        return FALSE;
    plain = vh_domain_plain_pci_hostdevs(domain);
    return plain->len > 0;
}

/* NVML only for a domain that names a MIG-backed type (by its resource
 * name or a declared resource's profile): the hook never maps it for the
 * others, even on a host whose GPUs offer MIG-backed types. Callers allow
 * it again when done. */
static void
nvml_for_domain(const VhConfig *config, const VhDomain *domain)
{
    gboolean mig = FALSE;

    for (guint i = 0; i < domain->devices->len && !mig; i++) {
        const VhDomainDevice *dev = g_ptr_array_index(domain->devices, i);
        const char *slash = dev->resource ? strrchr(dev->resource, '/') : NULL;
        mig = slash && vh_vgpu_gpu_is_mig_backed(slash + 1);
        for (guint r = 0; !mig && dev->resource && r < config->resources->len; r++) {
            const VhResourceDecl *decl = g_ptr_array_index(config->resources, r);
            mig = decl->profile && g_strcmp0(decl->name, dev->resource) == 0 &&
                  vh_vgpu_gpu_is_mig_backed(decl->profile);
        }
    }
    vh_vgpu_gpu_set_nvml_allowed(mig);
}

static void
count_undo_failed(VhConfig *config, guint undo_failed)
{
    if (undo_failed > 0)
        vh_metrics_count_undo_failed(config->state_dir, undo_failed, NULL);
}

/* Counted here, once the outcome is known and the lease lock is given back
 * (other hooks wait on that). */
gboolean
vh_lifecycle_prepare(VhConfig *config, VhDomain *domain, GError **error)
{
    GError *local = NULL;
    guint undo_failed = 0;
    gboolean ok;

    if (domain->devices->len == 0 && !has_plain_hostdevs(config, domain))
        return TRUE;
    nvml_for_domain(config, domain);
    ok = prepare_domain(config, domain, &undo_failed, &local);
    vh_vgpu_gpu_set_nvml_allowed(TRUE);
    count_undo_failed(config, undo_failed);
    if (ok) {
        vh_metrics_count_prepared(config->state_dir, NULL);
        return TRUE;
    }
    vh_metrics_count_refused(config->state_dir, local, NULL);
    g_propagate_error(error, local);
    return FALSE;
}

/* Undoes the domain's active leases under the lock; what failed goes to
 * @why (one device per failure in @undo_failed). */
static gboolean
release_domain(VhConfig *config, VhDomain *domain, GString *why, guint *released,
               guint *undo_failed, GError **error)
{
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(VhHost) host = NULL;
    g_autoptr(GPtrArray) leases = NULL;

    if ((store = open_locked_store(config, error)) == NULL ||
        (leases = vh_lease_store_load(store, NULL, error)) == NULL)
        return FALSE;
    host = vh_host_new(config);
    for (guint i = 0; i < leases->len; i++) {
        VhLease *lease = g_ptr_array_index(leases, i);
        if (lease->state != VH_LEASE_ACTIVE || g_strcmp0(lease->uuid, domain->uuid) != 0)
            continue;
        g_debug("domain '%s': releasing %s (%s)", domain->name, lease->device, lease->resource);
        if (!vh_lifecycle_undo_lease(config, host, lease, NULL, why)) {
            (*undo_failed)++;
            continue; /* keep the undo record: release can be run again */
        }
        VH_FAULT_POINT("release:undone");
        /* Keep the device reserved for the domain; undo is recorded done. */
        vh_lease_make_reservation(lease);
        if (!vh_lease_store_put(store, lease, NULL))
            vh_lease_store_remove(store, lease->key, NULL);
        (*released)++;
    }
    return TRUE;
}

gboolean
vh_lifecycle_release(VhConfig *config, VhDomain *domain, GError **error)
{
    g_autoptr(GString) why = g_string_new(NULL);
    guint released = 0, undo_failed = 0;

    if (domain->uuid == NULL)
        return TRUE;
    if (!release_domain(config, domain, why, &released, &undo_failed, error))
        return FALSE;
    count_undo_failed(config, undo_failed);
    if (released > 0 && why->len == 0)
        vh_metrics_count_released(config->state_dir, NULL);
    if (why->len) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY, "domain '%s': release incomplete: %s",
                    domain->name, why->str);
        return FALSE;
    }
    return TRUE;
}

static char *
remap(VhConfig *config, VhDomain *domain, GError **error)
{
    g_autoptr(VhHost) host = NULL;
    g_autoptr(VhInventory) inv = NULL;
    g_autoptr(VhAllocator) alloc = NULL;
    g_autofree char *before = NULL;
    char *after;

    if (domain->devices->len == 0)
        return NULL;
    host = vh_host_new(config);
    if ((inv = vh_inventory_open(host, domain->uuid, VH_INVENTORY_LOCK, error)) == NULL)
        return NULL;
    alloc = vh_inventory_allocator(inv);
    before = vh_domain_to_string(domain);
    if (!vh_allocate_domain(alloc, domain, inv->store, error))
        return NULL;
    after = vh_domain_to_string(domain);
    if (strcmp(before, after) == 0) {
        g_free(after);
        return NULL;
    }
    return after;
}

char *
vh_lifecycle_remap(VhConfig *config, VhDomain *domain, GError **error)
{
    char *out;

    nvml_for_domain(config, domain);
    out = remap(config, domain, error);
    vh_vgpu_gpu_set_nvml_allowed(TRUE);
    return out;
}

/* The undo record of a lease rebuilt without one (state directory lost):
 * whatever the running domain's device carries now is what release must
 * take back, since the domain only got it through the hook. Companions of a
 * whole GPU are not known; the kernel picks drivers for them on unbind. */
static void
infer_undo(VhHost *host, VhLease *lease, const char *uuid, const char *address)
{
    g_autofree char *type = NULL;
    VhPciDevice *pci;

    if (uuid) {
        lease->mdev_uuid = g_strdup(uuid);
        type = vh_mdev_instance_type(host->sysfs, uuid);
        if (type) {
            lease->mdev_type = g_strdup(type);
            lease->mdev_created = TRUE;
        }
        return;
    }
    pci = vh_host_get_device(host, address, NULL);
    if (pci == NULL)
        return;
    if (pci->has_vgpu)
        lease->profile_written = pci->current_vgpu_type != 0;
    else if (g_strcmp0(pci->driver, "vfio-pci") == 0)
        lease->original_driver = g_strdup("probe");
}

gboolean
vh_lifecycle_reconnect(VhConfig *config, VhDomain *domain, GError **error)
{
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(VhHost) host = NULL;

    if (domain->devices->len == 0 || domain->uuid == NULL)
        return TRUE;
    if ((store = open_locked_store(config, error)) == NULL)
        return FALSE;
    host = vh_host_new(config);
    for (guint i = 0; i < domain->devices->len; i++) {
        const VhDomainDevice *dev = g_ptr_array_index(domain->devices, i);
        g_autofree char *uuid = vh_domain_device_mdev_uuid(dev);
        g_autofree char *address = uuid ? NULL : vh_domain_device_pci_address(dev);
        const char *key = uuid ? uuid : address;
        g_autoptr(VhLease) lease = key ? vh_lease_store_get(store, key, NULL) : NULL;
        if (key == NULL)
            continue;
        if (lease && g_strcmp0(lease->uuid, domain->uuid) == 0 && lease->state == VH_LEASE_ACTIVE)
            continue; /* intact, with its undo record */
        if (lease && g_strcmp0(lease->uuid, domain->uuid) != 0)
            g_warning("domain '%s' runs on %s, which a lease gave to domain '%s': the running "
                      "domain wins", domain->name, key, lease->domain);
        g_clear_pointer(&lease, vh_lease_free);
        lease = vh_lease_new(key, uuid ? "0000:00:00.0" : address, dev->resource, domain->name,
                             domain->uuid, VH_LEASE_ACTIVE);
        infer_undo(host, lease, uuid, address);
        if (!vh_lease_store_put(store, lease, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean
prepare_one_device(VhConfig *config, VhDomain *domain, const VhDomainDevice *dev,
                   guint *undo_failed, GError **error)
{
    g_auto(Prepare) p = { 0 };
    gboolean ok;

    if (!prepare_begin(&p, config, domain, error))
        return FALSE;
    ok = prepare_device(&p, dev, error);
    if (!ok)
        undo_prepare(&p, error);
    *undo_failed = p.undo_failed;
    return ok;
}

gboolean
vh_lifecycle_prepare_device(VhConfig *config, VhDomain *domain, const char *alias,
                            GError **error)
{
    const VhDomainDevice *dev = NULL;
    guint undo_failed = 0;
    gboolean ok;

    for (guint i = 0; i < domain->devices->len && dev == NULL; i++) {
        const VhDomainDevice *d = g_ptr_array_index(domain->devices, i);
        if (g_strcmp0(d->alias, alias) == 0)
            dev = d;
    }
    if (dev == NULL || domain->uuid == NULL) {
        g_set_error(error, VH_ERROR, VH_ERROR_NOT_FOUND, "domain '%s': no named device '%s'%s",
                    domain->name, alias, domain->uuid ? "" : " (and no <uuid>)");
        return FALSE;
    }
    ok = prepare_one_device(config, domain, dev, &undo_failed, error);
    count_undo_failed(config, undo_failed);
    return ok;
}

static gboolean
release_one_device(VhConfig *config, const char *uuid, const char *key, gboolean restore_driver,
                   gboolean keep_reservation, guint *undo_failed, GError **error)
{
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(VhLease) lease = NULL;
    g_autoptr(GString) why = g_string_new(NULL);

    if ((store = open_locked_store(config, error)) == NULL ||
        (lease = vh_lease_store_get(store, key, error)) == NULL)
        return FALSE;
    if (g_strcmp0(lease->uuid, uuid) != 0) {
        g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                    "%s is leased to domain '%s', not to this one: left as it is", key,
                    lease->domain);
        return FALSE;
    }
    if (lease->state == VH_LEASE_ACTIVE) {
        g_autoptr(VhHost) host = vh_host_new(config);
        if (!undo_lease_steps(config, host, lease, NULL, why, restore_driver)) {
            (*undo_failed)++;
            g_set_error(error, VH_ERROR, VH_ERROR_BUSY,
                        "domain '%s': undoing %s failed, its lease stays active: %s",
                        lease->domain, key, why->str);
            return FALSE;
        }
    }
    if (!keep_reservation)
        return vh_lease_store_remove(store, key, error);
    vh_lease_make_reservation(lease);
    return vh_lease_store_put(store, lease, error);
}

gboolean
vh_lifecycle_release_device(VhConfig *config, const char *uuid, const char *key,
                            gboolean restore_driver, gboolean keep_reservation, GError **error)
{
    guint undo_failed = 0;
    gboolean ok = release_one_device(config, uuid, key, restore_driver, keep_reservation,
                                     &undo_failed, error);

    count_undo_failed(config, undo_failed);
    return ok;
}

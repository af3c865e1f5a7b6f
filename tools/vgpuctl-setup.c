/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl setup: the vGPU host at boot, in NVIDIA's order: VFs (sriov-manage
 * -e, never a write to sriov_numvfs: NVIDIA's driver rejects it; it destroys
 * GPU instances, so they come after), then each GPU's MIG instances (MIG
 * mode must be on already: turning it on needs the VFs off, which setup
 * does not do behind the operator's back), then its vGPU mode, then static
 * profiles, then reconcile. Every step says
 * done, already, skipped or failed and why; one failed GPU does not stop
 * the others. Idempotent: a second run says "already". */
#include "config.h"
#include "vgpuctl.h"

#include <stdio.h>
#include <string.h>

const char vh_ctl_setup_description[] =
    "Runs after the NVIDIA vGPU manager and before libvirtd (vgpu-hook-setup.service):\n"
    "  enable-vfs  for each [gpu \"ADDR\"] with vfs=enabled: [host] sriov_manage -e ADDR\n"
    "  mig         for each [gpu \"ADDR\"] with mig=: MIG mode must be on; a layout\n"
    "              (mig = 1g.18gb*4,3g.71gb) gets its missing GPU instances (best fit)\n"
    "              and loses free ones it does not name; one a VF or lease holds is\n"
    "              never destroyed (the step fails, naming it); mig = on-demand: checked\n"
    "  vgpu-mode   for each [gpu \"ADDR\"] with vgpu_mode=: the GPU's equal/mixed mode,\n"
    "              set through NVML (refused while a VF holds a type)\n"
    "  profile     static profiles from FILE (default /etc/vgpu-hook/profiles)\n"
    "  reconcile   undo what a crash left (as reconcile --offline)\n"
    "Each step prints STEP DEVICE RESULT DETAIL, RESULT one of done, already, skipped,\n"
    "failed; --json prints {\"steps\": [...]} with the same fields.\n"
    "\n"
    "Exit status: 0 no step failed; 1 a step failed (see its detail); 2 usage.";

typedef struct {
    char *step;
    char *device;
    const char *result;
    char *detail;
} SetupStep;

static void
setup_step_free(SetupStep *s)
{
    g_free(s->step);
    g_free(s->device);
    g_free(s->detail);
    g_free(s);
}

static void add_step(GPtrArray *steps, const char *step, const char *device, const char *result,
                     const char *fmt, ...) G_GNUC_PRINTF(5, 6);

static void
add_step(GPtrArray *steps, const char *step, const char *device, const char *result,
         const char *fmt, ...)
{
    SetupStep *s = g_new0(SetupStep, 1);
    va_list args;

    s->step = g_strdup(step);
    s->device = g_strdup(device ? device : "-");
    s->result = result;
    va_start(args, fmt);
    s->detail = g_strdup_vprintf(fmt, args);
    va_end(args);
    g_ptr_array_add(steps, s);
}

static gint64
numvfs(VhCtl *ctl, const char *address)
{
    g_autofree char *rel = g_strdup_printf("bus/pci/devices/%s/sriov_numvfs", address);
    gint64 n = -1;

    vh_host_invalidate(ctl->host, address);
    return vh_sysfs_read_int(ctl->host->sysfs, rel, &n, NULL) ? n : -1;
}

/* The last non-empty line of @text, for a detail. */
static char *
last_line(const char *text)
{
    g_auto(GStrv) lines = g_strsplit(text ? text : "", "\n", -1);

    for (guint i = g_strv_length(lines); i-- > 0;) {
        if (*g_strstrip(lines[i]))
            return g_strdup(lines[i]);
    }
    return g_strdup("");
}

/* NVIDIA's sriov-manage, run directly (no shell): it unbinds and rebinds
 * the GPU with the driver's lock held. */
static gboolean
run_sriov_manage(VhCtl *ctl, const char *address, char **detail)
{
    const char *argv[] = { ctl->config->sriov_manage, "-e", address, NULL };
    g_autofree char *out = NULL, *err = NULL;
    g_autoptr(GError) error = NULL;
    gint status = 0;

    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                      &status, &error)) {
        *detail = g_strdup_printf("cannot run %s: %s (set [host] sriov_manage)",
                                  ctl->config->sriov_manage, error->message);
        return FALSE;
    }
    if (!g_spawn_check_wait_status(status, &error)) {
        g_autofree char *why = last_line(err && *err ? err : out);
        *detail = g_strdup_printf("%s -e %s failed (%s): %s", ctl->config->sriov_manage, address,
                                  error->message, why);
        return FALSE;
    }
    return TRUE;
}

static void
step_enable_vfs(VhCtl *ctl, const VhGpuDecl *decl, gboolean dry_run, GPtrArray *steps)
{
    gint64 before = numvfs(ctl, decl->address);
    g_autofree char *detail = NULL;
    gint64 after;

    if (!decl->enable_vfs) {
        add_step(steps, "enable-vfs", decl->address, "skipped", "vfs=enabled is not set");
        return;
    }
    if (before < 0) {
        add_step(steps, "enable-vfs", decl->address, "failed",
                 "%s is not an SR-IOV device here (no sriov_numvfs): check the address",
                 decl->address);
        return;
    }
    if (before > 0) {
        add_step(steps, "enable-vfs", decl->address, "already", "%" G_GINT64_FORMAT
                 " VFs enabled", before);
        return;
    }
    if (dry_run) {
        add_step(steps, "enable-vfs", decl->address, "skipped", "dry run: would run %s -e %s",
                 ctl->config->sriov_manage, decl->address);
        return;
    }
    if (!run_sriov_manage(ctl, decl->address, &detail)) {
        add_step(steps, "enable-vfs", decl->address, "failed", "%s", detail);
        return;
    }
    after = numvfs(ctl, decl->address);
    if (after <= 0)
        add_step(steps, "enable-vfs", decl->address, "failed",
                 "%s -e %s succeeded but the GPU has no VFs: is the vGPU manager loaded "
                 "(journalctl -k)?", ctl->config->sriov_manage, decl->address);
    else
        add_step(steps, "enable-vfs", decl->address, "done", "%s -e %s: %" G_GINT64_FORMAT
                 " VFs", ctl->config->sriov_manage, decl->address, after);
}

/* The VFs are there and idle: remember the GPU's type table now (setup is
 * a writer; reading commands never write it). */
static void
remember_table(VhCtl *ctl, const char *address)
{
    VhPciDevice *pf = vh_host_get_device(ctl->host, address, NULL);
    g_autoptr(VhVgpuGpu) gpu = pf && vh_pci_device_is_pf(pf) ? vh_vgpu_gpu_new(ctl->host, pf)
                                                             : NULL;

    if (gpu)
        vh_vgpu_gpu_remember(gpu);
}

/* The driver recomputed the creatable lists: later steps re-read them. */
static void
forget_vfs(VhCtl *ctl, const VhVgpuGpu *gpu)
{
    g_autoptr(GPtrArray) addresses = g_ptr_array_new_with_free_func(g_free);

    for (guint i = 0; i < gpu->vfs->len; i++)
        g_ptr_array_add(addresses, g_strdup(((VhPciDevice *)g_ptr_array_index(gpu->vfs, i))->address));
    for (guint i = 0; i < addresses->len; i++)
        vh_host_invalidate(ctl->host, g_ptr_array_index(addresses, i));
}

static void
step_mode(VhCtl *ctl, const VhGpuDecl *decl, gboolean dry_run, GPtrArray *steps)
{
    VhPciDevice *pf = vh_host_get_device(ctl->host, decl->address, NULL);
    g_autoptr(VhVgpuGpu) gpu = NULL;
    g_autoptr(GError) error = NULL;
    const char *want = vh_vgpu_mode_to_string(decl->mode);
    VhVgpuMode have;
    gboolean known;

    if (!decl->has_mode)
        return;
    if (pf == NULL || !vh_pci_device_is_pf(pf) ||
        (gpu = vh_vgpu_gpu_new(ctl->host, pf))->vfs->len == 0) {
        add_step(steps, "vgpu-mode", decl->address, "skipped",
                 "no SR-IOV vGPU VFs: enable them first (vfs=enabled)");
        return;
    }
    known = vh_vgpu_gpu_driver_mode(gpu, &have);
    if (known && have == decl->mode) {
        add_step(steps, "vgpu-mode", decl->address, "already", "%s-size", want);
        return;
    }
    if (!known && decl->mode == VH_VGPU_MODE_EQUAL) {
        /* The driver's default after boot and sriov-manage; VFs holding
         * types of two sizes would show it runs mixed-size. */
        g_autofree char *holders = vh_vgpu_gpu_describe_holders(gpu);
        if (vh_vgpu_gpu_holds_mixed_sizes(gpu))
            add_step(steps, "vgpu-mode", decl->address, "failed",
                     "the GPU runs mixed-size mode (%s); equal-size needs every VF released "
                     "first", holders);
        else
            add_step(steps, "vgpu-mode", decl->address, "already",
                     "equal-size: the driver's default after boot and sriov-manage");
        return;
    }
    if (dry_run) {
        g_autofree char *holders = vh_vgpu_gpu_describe_holders(gpu);
        add_step(steps, "vgpu-mode", decl->address, "skipped", "dry run: would set %s-size%s%s%s",
                 want, *holders ? " (refused now: " : "", holders, *holders ? ")" : "");
        return;
    }
    if (!vh_vgpu_gpu_set_driver_mode(gpu, decl->mode, &error)) {
        add_step(steps, "vgpu-mode", decl->address,
                 g_error_matches(error, VH_ERROR, VH_ERROR_UNSUPPORTED) ? "skipped" : "failed",
                 "%s", error->message);
        return;
    }
    add_step(steps, "vgpu-mode", decl->address, "done", "%s-size (NVML)", want);
    forget_vfs(ctl, gpu);
}

/* mig = on-demand: only MIG mode is checked; prepare makes instances. */
static void
step_mig_on_demand(const VhGpuDecl *decl, GPtrArray *steps)
{
    g_autoptr(GError) error = NULL;

    if (!vh_mig_instance_check_mode(decl->address, &error))
        add_step(steps, "mig", decl->address, "failed", "%s", error->message);
    else
        add_step(steps, "mig", decl->address, "already",
                 "mig = on-demand: MIG on; GPU instances are created at prepare and destroyed "
                 "at release");
}

static void
step_mig(VhCtl *ctl, const VhGpuDecl *decl, gboolean dry_run, GPtrArray *steps)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VhLeaseStore) store = NULL;
    VhMigLayoutResult result = { 0 };

    if (decl->mig_on_demand) {
        step_mig_on_demand(decl, steps);
        return;
    }
    if (decl->mig_layout == NULL)
        return;
    /* under the hook's lock: no prepare takes an instance meanwhile */
    if ((store = vh_lease_store_open(ctl->config, &error)) == NULL ||
        !vh_lease_store_lock(store, VH_LOCK_TIMEOUT_MS, &error) ||
        !vh_mig_instance_apply_layout(ctl->host, store, decl->address, decl->mig_layout,
                                      dry_run, &result, &error)) {
        if (g_error_matches(error, VH_ERROR, VH_ERROR_CONFIG))
            g_prefix_error(&error, "%s: ", decl->mig_origin);
        add_step(steps, "mig", decl->address, "failed", "%s", error->message);
    } else {
        add_step(steps, "mig", decl->address,
                 result.already ? "already" : dry_run ? "skipped" : "done", "%s%s",
                 dry_run && !result.already ? "dry run: " : "", result.detail);
    }
    vh_mig_layout_result_clear(&result);
}

static void
step_profiles(VhCtl *ctl, const char *path, gboolean dry_run, GPtrArray *steps)
{
    static const char *const result[] = { "done", "already", "skipped", "failed" };
    g_autoptr(GError) error = NULL;
    g_autoptr(GHashTable) busy = NULL;
    g_autoptr(VhLeaseStore) store = NULL;
    g_autoptr(GPtrArray) lines = NULL;
    g_autoptr(GPtrArray) results = NULL;
    g_autofree char *text = NULL;

    if (!g_file_test(path, G_FILE_TEST_EXISTS)) {
        add_step(steps, "profile", NULL, "skipped", "no static profiles (%s)", path);
        return;
    }
    if (!g_file_get_contents(path, &text, NULL, &error) ||
        (lines = vh_profiles_parse(text, path, &error)) == NULL) {
        add_step(steps, "profile", NULL, "failed", "%s", error->message);
        return;
    }
    if (dry_run) {
        for (guint i = 0; i < lines->len; i++) {
            const VhProfileLine *l = g_ptr_array_index(lines, i);
            add_step(steps, "profile", l->address, "skipped", "dry run: would assign %s",
                     l->profile);
        }
        return;
    }
    if ((busy = vh_inventory_busy_devices(ctl->config, &store, &error)) == NULL) {
        add_step(steps, "profile", NULL, "failed", "%s", error->message);
        return;
    }
    results = vh_profiles_apply(ctl->host, lines, busy);
    for (guint i = 0; i < results->len; i++) {
        const VhProfileResult *r = g_ptr_array_index(results, i);
        add_step(steps, "profile", r->line->address, result[r->outcome], "%s", r->message);
    }
}

static void
step_reconcile(VhCtl *ctl, gboolean dry_run, GPtrArray *steps)
{
    g_autoptr(GPtrArray) fixes = g_ptr_array_new_with_free_func((GDestroyNotify)vh_reconcile_fix_free);
    g_autoptr(GError) error = NULL;
    VhDomainsView view = { NULL, NULL, 0 }; /* before libvirtd: do not ask it */
    guint failed = 0;

    if (!vh_reconcile(ctl->config, &view, VH_RECONCILE_ALL, dry_run, fixes, &error)) {
        add_step(steps, "reconcile", NULL, "failed", "%s", error->message);
        return;
    }
    for (guint i = 0; i < fixes->len; i++) {
        const VhReconcileFix *fix = g_ptr_array_index(fixes, i);
        failed += fix->failed;
        add_step(steps, "reconcile", fix->subject,
                 fix->failed ? "failed" : dry_run ? "skipped" : "done", "%s", fix->message);
    }
    if (fixes->len == 0)
        add_step(steps, "reconcile", NULL, "already", "consistent: nothing to fix");
}

static int
print_steps(VhCtl *ctl, GPtrArray *steps)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    int rc = 0;

    json_builder_begin_object(b);
    json_builder_set_member_name(b, "steps");
    json_builder_begin_array(b);
    for (guint i = 0; i < steps->len; i++) {
        const SetupStep *s = g_ptr_array_index(steps, i);
        if (strcmp(s->result, "failed") == 0)
            rc = 1;
        if (!ctl->json) {
            printf("%-10s %-12s %-8s %s\n", s->step, s->device, s->result, s->detail);
            continue;
        }
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "step");
        json_builder_add_string_value(b, s->step);
        json_builder_set_member_name(b, "device");
        json_builder_add_string_value(b, s->device);
        json_builder_set_member_name(b, "result");
        json_builder_add_string_value(b, s->result);
        json_builder_set_member_name(b, "detail");
        json_builder_add_string_value(b, s->detail);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
    if (ctl->json) {
        g_autoptr(JsonNode) root = json_builder_get_root(b);
        vh_ctl_print_json(root);
    }
    if (rc)
        fprintf(stderr, "vgpuctl: setup: a step failed (see its detail)\n");
    return rc;
}

int
vh_ctl_cmd_setup(VhCtl *ctl, int argc, char **argv)
{
    gboolean dry_run = FALSE;
    g_autofree char *profiles = NULL;
    GOptionEntry entries[] = {
        { "dry-run", 'n', 0, G_OPTION_ARG_NONE, &dry_run, "Say what would be done; change nothing",
          NULL },
        { "profiles", 0, 0, G_OPTION_ARG_FILENAME, &profiles,
          "Static profiles file (default " VH_DEFAULT_PROFILES ")", "FILE" },
        { NULL },
    };
    g_autoptr(GPtrArray) steps = g_ptr_array_new_with_free_func((GDestroyNotify)setup_step_free);
    g_autoptr(GError) error = NULL;
    int rc = 0;

    if (!vh_ctl_parse(ctl, vh_ctl_command("setup"), entries, &argc, &argv, 0, 0, &rc))
        return rc;
    if (!vh_ctl_setup(ctl, &error))
        return vh_ctl_fail("setup: %s", error->message);
    for (guint i = 0; i < ctl->config->gpus->len; i++) {
        const VhGpuDecl *decl = g_ptr_array_index(ctl->config->gpus, i);
        step_enable_vfs(ctl, decl, dry_run, steps);
        if (!dry_run)
            remember_table(ctl, decl->address);
    }
    for (guint i = 0; i < ctl->config->gpus->len; i++)
        step_mig(ctl, g_ptr_array_index(ctl->config->gpus, i), dry_run, steps);
    for (guint i = 0; i < ctl->config->gpus->len; i++)
        step_mode(ctl, g_ptr_array_index(ctl->config->gpus, i), dry_run, steps);
    step_profiles(ctl, profiles ? profiles : VH_DEFAULT_PROFILES, dry_run, steps);
    step_reconcile(ctl, dry_run, steps);
    return print_steps(ctl, steps);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl: the operator's tool. Global options, command dispatch, helpers. */
#include "config.h"
#include "vgpuctl.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

static const VhCtlCommand commands[] = {
    { "list", "", "GPU-related devices (address, ids, name, resource, driver, profile), MIG instances",
      vh_ctl_cmd_list },
    { "resources", "", "per resource: capacity, allocatable, in use", vh_ctl_cmd_resources },
    { "validate", "", "host readiness report; exit 1 when the host is not ready",
      vh_ctl_cmd_validate },
    { "rewrite", "FILE", "print FILE with named devices filled in (no libvirt needed)",
      vh_ctl_cmd_rewrite },
    { "define", "FILE", "rewrite FILE, reserve its devices and define it in libvirt",
      vh_ctl_cmd_define },
    { "start", "DOMAIN", "re-pick busy devices of a defined domain, redefine, start",
      vh_ctl_cmd_start },
    { "attach", "DOMAIN RESOURCE", "give a defined or running domain one more named device",
      vh_ctl_cmd_attach, vh_ctl_attach_description },
    { "detach", "DOMAIN ALIAS", "take a named device from a domain; release it once removed",
      vh_ctl_cmd_detach, vh_ctl_detach_description },
    { "license", "DOMAIN", "cloud-init seed that licenses the guest's NVIDIA driver; attach it",
      vh_ctl_cmd_license, vh_ctl_license_description },
    { "prepare", "FILE", "what the hook does at prepare, by hand (profile, binding, leases)",
      vh_ctl_cmd_prepare },
    { "release", "FILE", "what the hook does at release, by hand", vh_ctl_cmd_release },
    { "apply-profiles", "[FILE]", "boot-time static vGPU profiles (<bus-id>=<profile> lines)",
      vh_ctl_cmd_apply_profiles },
    { "bind", "BDF", "bind a GPU and its IOMMU-group companions to vfio-pci", vh_ctl_cmd_bind },
    { "unbind", "BDF", "give a GPU's IOMMU group back to the host drivers", vh_ctl_cmd_unbind },
    { "leases", "", "leases, reservations, MIG GPU instances; --prune removes stale ones",
      vh_ctl_cmd_leases },
    { "export", "kubevirt", "print the permittedHostDevices block of a KubeVirt CR (YAML; --json)",
      vh_ctl_cmd_export, vh_ctl_export_description },
    { "metrics", "", "Prometheus text format for node_exporter (--output FILE)", vh_ctl_cmd_metrics },
    { "reconcile", "", "undo what killed hooks or dead domains left; say what was fixed",
      vh_ctl_cmd_reconcile },
    { "nvml", "", "read-only NVML probe: driver, MIG mode, GPU-instance profiles, vGPU types",
      vh_ctl_cmd_nvml },
    { "setup", "", "boot-time host setup: VFs, vGPU mode, static profiles, reconcile",
      vh_ctl_cmd_setup, vh_ctl_setup_description },
};

static GOptionEntry *
global_entries(VhCtl *ctl)
{
    GOptionEntry entries[] = {
        { "config", 0, 0, G_OPTION_ARG_FILENAME, &ctl->config_path,
          "Configuration file (default " VH_DEFAULT_CONFIG ")", "FILE" },
        { "sysfs-root", 0, 0, G_OPTION_ARG_FILENAME, &ctl->sysfs_root,
          "sysfs tree to use instead of [host] sysfs_root (default /sys)", "DIR" },
        { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &ctl->state_dir,
          "Lease and state directory (default " VH_DEFAULT_STATE_DIR ")", "DIR" },
        { "cache-dir", 0, 0, G_OPTION_ARG_FILENAME, &ctl->cache_dir,
          "vGPU type table cache (default " VH_DEFAULT_CACHE_DIR ")", "DIR" },
        { "json", 0, 0, G_OPTION_ARG_NONE, &ctl->json, "Print data as JSON", NULL },
        { NULL },
    };

    return g_memdup2(entries, sizeof(entries));
}

int
vh_ctl_fail(const char *fmt, ...)
{
    va_list args;
    g_autofree char *msg = NULL;

    va_start(args, fmt);
    msg = g_strdup_vprintf(fmt, args);
    va_end(args);
    fprintf(stderr, "vgpuctl: %s\n", msg);
    return 1;
}

static char *
command_summary(void)
{
    GString *out = g_string_new("Commands:\n");

    for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
        g_string_append_printf(out, "  %-16s %s\n", commands[i].name, commands[i].summary);
    g_string_append(out, "\nRun 'vgpuctl COMMAND --help' for a command's options; see vgpuctl(8).");
    return g_string_free(out, FALSE);
}

/* Path options follow the configuration's rule; an empty --config would
 * read nothing and quietly use the defaults. */
static gboolean
check_path_options(VhCtl *ctl, const VhCtlCommand *cmd)
{
    const char *bad = ctl->sysfs_root && !vh_config_path_is_valid(ctl->sysfs_root) ? "sysfs-root"
                      : ctl->state_dir && !vh_config_path_is_valid(ctl->state_dir) ? "state-dir"
                      : NULL;

    if (ctl->config_path && *ctl->config_path == '\0') {
        vh_ctl_fail("%s: --config '': expected a file name (try 'vgpuctl %s --help')", cmd->name,
                    cmd->name);
        return FALSE;
    }
    if (bad) {
        vh_ctl_fail("%s: --%s '%s': expected an absolute path without '..' (try 'vgpuctl %s "
                    "--help')", cmd->name, bad, strcmp(bad, "state-dir") == 0 ? ctl->state_dir
                    : ctl->sysfs_root, cmd->name);
        return FALSE;
    }
    return TRUE;
}

gboolean
vh_ctl_parse(VhCtl *ctl, const VhCtlCommand *cmd, GOptionEntry *entries, int *argc,
             char ***argv, int min_args, int max_args, int *exit_code)
{
    g_autofree char *prgname = g_strdup_printf("vgpuctl %s", cmd->name);
    g_autoptr(GOptionContext) context = g_option_context_new(cmd->args);
    g_autofree GOptionEntry *globals = global_entries(ctl);
    g_autoptr(GError) error = NULL;
    int nargs;

    /* "Usage: vgpuctl list [OPTION…]": GOption puts the program name first. */
    g_set_prgname(prgname);
    g_option_context_set_summary(context, cmd->summary);
    if (cmd->description)
        g_option_context_set_description(context, cmd->description);
    g_option_context_add_main_entries(context, globals, NULL);
    if (entries)
        g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, argc, argv, &error)) {
        vh_ctl_fail("%s: %s (try 'vgpuctl %s --help')", cmd->name, error->message, cmd->name);
        *exit_code = VH_CTL_EXIT_USAGE;
        return FALSE;
    }
    if (!check_path_options(ctl, cmd)) {
        *exit_code = VH_CTL_EXIT_USAGE;
        return FALSE;
    }
    nargs = *argc - 1;
    if (nargs < min_args || (max_args >= 0 && nargs > max_args)) {
        vh_ctl_fail("%s: expected %s%s (try 'vgpuctl %s --help')", cmd->name,
                    *cmd->args ? cmd->args : "no arguments",
                    nargs > max_args && max_args >= 0 ? ", got more" : "", cmd->name);
        *exit_code = VH_CTL_EXIT_USAGE;
        return FALSE;
    }
    return TRUE;
}

gboolean
vh_ctl_setup(VhCtl *ctl, GError **error)
{
    gboolean optional = ctl->config_path == NULL;
    const char *path = ctl->config_path ? ctl->config_path : VH_DEFAULT_CONFIG;

    ctl->config = vh_config_load_file(path, optional, error);
    if (ctl->config == NULL)
        return FALSE;
    if (ctl->sysfs_root) {
        g_free(ctl->config->sysfs_root);
        ctl->config->sysfs_root = g_strdup(ctl->sysfs_root);
    }
    if (ctl->state_dir) {
        g_free(ctl->config->state_dir);
        ctl->config->state_dir = g_strdup(ctl->state_dir);
    }
    if (ctl->cache_dir) {
        g_free(ctl->config->cache_dir);
        ctl->config->cache_dir = g_strdup(ctl->cache_dir);
    }
    ctl->host = vh_host_new(ctl->config);
    return TRUE;
}

void
vh_ctl_print_json(JsonNode *root)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autofree char *text = NULL;

    json_generator_set_pretty(gen, TRUE);
    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}

static void
print_usage(FILE *out)
{
    g_autofree char *summary = command_summary();

    fprintf(out, "Usage: vgpuctl [--config FILE] [--sysfs-root DIR] [--state-dir DIR] [--cache-dir DIR] "
                 "[--json] "
                 "COMMAND [ARGS]\n\nGPUs and vGPUs for libvirt domains by name.\n\n%s\n", summary);
}

/* Global options may come before the command ("vgpuctl --json list"):
 * move them behind it, where the command's own parser reads them. One with
 * a value is joined to it there ("--config=FILE", kept in @owned): attach
 * and detach read a bare --config as virsh's flag. */
static char **
command_first(int *argc, char **argv, int *cmd_index, GPtrArray *owned)
{
    static const char *const with_value[] = { "--config", "--sysfs-root", "--state-dir",
                                                 "--cache-dir", NULL };
    GPtrArray *out = g_ptr_array_new();
    int i = 1;

    while (i < *argc && g_str_has_prefix(argv[i], "--") && strcmp(argv[i], "--") != 0 &&
           strcmp(argv[i], "--help") != 0 && strcmp(argv[i], "--version") != 0) {
        i += g_strv_contains(with_value, argv[i]) && i + 1 < *argc ? 2 : 1;
    }
    *cmd_index = i;
    g_ptr_array_add(out, argv[0]);
    if (i < *argc)
        g_ptr_array_add(out, argv[i]);
    for (int j = 1; j < i; j++) {
        if (g_strv_contains(with_value, argv[j]) && j + 1 < i) {
            g_ptr_array_add(owned, g_strdup_printf("%s=%s", argv[j], argv[j + 1]));
            g_ptr_array_add(out, g_ptr_array_index(owned, owned->len - 1));
            j++;
        } else {
            g_ptr_array_add(out, argv[j]);
        }
    }
    for (int j = i + 1; j < *argc; j++)
        g_ptr_array_add(out, argv[j]);
    *argc = (int)out->len;
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(out, FALSE);
}

/* What the library reports as it goes ("taking over ... from a dead
 * domain"), shown once the command has not failed: a refusal is one line. */
static GString *pending_messages;

/* Library warnings reach the operator as one "vgpuctl: warning: " line each,
 * not GLib's "\n(vgpuctl:PID): vgpu-hook-WARNING **: TIME: ..." form. */
static void
log_handler(const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
    if (level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING)) {
        fprintf(stderr, "vgpuctl: warning: %s\n", message);
    } else if (level & G_LOG_LEVEL_MESSAGE) {
        if (pending_messages == NULL)
            pending_messages = g_string_new(NULL);
        g_string_append_printf(pending_messages, "vgpuctl: %s\n", message);
    } else {
        g_log_default_handler(domain, level, message, data);
    }
}

static void
flush_pending_messages(int rc)
{
    if (pending_messages == NULL)
        return;
    if (rc == 0 || rc == 3) /* 3: done, with some left out (export) */
        fputs(pending_messages->str, stderr);
    g_string_free(g_steal_pointer(&pending_messages), TRUE);
}

int
main(int argc, char **argv_in)
{
    VhCtl ctl = { 0 };
    const char *name;
    int rc = 2;
    int cmd_index;
    int argc_in = argc;
    g_autoptr(GPtrArray) owned = g_ptr_array_new_with_free_func(g_free);
    g_autofree char **argv = command_first(&argc, argv_in, &cmd_index, owned);

    if (cmd_index >= argc_in && cmd_index > 1) {
        vh_ctl_fail("no command given after the global options (try 'vgpuctl --help')");
        return VH_CTL_EXIT_USAGE;
    }

    setlocale(LC_ALL, "");
    vh_log_init(VH_LOG_STDERR_OK);
    g_log_set_default_handler(log_handler, NULL);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("vgpuctl %s\n", PACKAGE_VERSION);
        return 0;
    }
    name = argv[1];
    for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (strcmp(commands[i].name, name) == 0) {
            /* The command sees argv[0] = its own name, then its arguments. */
            rc = commands[i].run(&ctl, argc - 1, argv + 1);
            goto out;
        }
    }
    vh_ctl_fail("unknown command '%s' (try 'vgpuctl --help')", name);
    rc = VH_CTL_EXIT_USAGE;
out:
    flush_pending_messages(rc);
    vh_host_free(ctl.host);
    vh_config_free(ctl.config);
    g_free(ctl.config_path);
    g_free(ctl.sysfs_root);
    g_free(ctl.state_dir);
    g_free(ctl.cache_dir);
    return rc;
}

const VhCtlCommand *
vh_ctl_command(const char *name)
{
    for (guint i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    }
    g_assert_not_reached();
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl: shared state of the command-line front end. */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>
#include "vgpuhook.h"

typedef struct {
    char *config_path;
    char *sysfs_root;
    char *state_dir;
    char *cache_dir;
    gboolean json;
    VhConfig *config;
    VhHost *host;
} VhCtl;

typedef struct {
    const char *name;
    const char *args;       /* usage after the command name */
    const char *summary;
    int (*run)(VhCtl *ctl, int argc, char **argv);
    const char *description; /* optional: more --help text after the options */
} VhCtlCommand;

/* Parse the command's own options (plus the global ones) from argv; prints
 * --help and usage errors itself. Returns FALSE when the caller should exit
 * with *exit_code. */
gboolean vh_ctl_parse(VhCtl *ctl, const VhCtlCommand *cmd, GOptionEntry *entries,
                      int *argc, char ***argv, int min_args, int max_args, int *exit_code);
/* Load config and make the host model (no scan). */
gboolean vh_ctl_setup(VhCtl *ctl, GError **error);
int vh_ctl_fail(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* Exit status of a usage error (unknown command or option, wrong arguments),
 * apart from 1 so that scripts can tell a typo from a failure. */
#define VH_CTL_EXIT_USAGE 2
void vh_ctl_print_json(JsonNode *root);

int vh_ctl_cmd_list(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_resources(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_validate(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_rewrite(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_define(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_start(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_prepare(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_release(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_bind(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_unbind(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_apply_profiles(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_leases(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_export(VhCtl *ctl, int argc, char **argv);
extern const char vh_ctl_export_description[];
int vh_ctl_cmd_metrics(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_reconcile(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_nvml(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_attach(VhCtl *ctl, int argc, char **argv);
int vh_ctl_cmd_detach(VhCtl *ctl, int argc, char **argv);
extern const char vh_ctl_attach_description[];
extern const char vh_ctl_detach_description[];
int vh_ctl_cmd_license(VhCtl *ctl, int argc, char **argv);
extern const char vh_ctl_license_description[];
int vh_ctl_cmd_setup(VhCtl *ctl, int argc, char **argv);
extern const char vh_ctl_setup_description[];
#define VH_DEFAULT_PROFILES SYSCONFDIR_VGPU "/profiles"
/* Run vh_reconcile with libvirt's view at @uri (none when @offline) and
 * print one line per fix (failures on stderr) or JSON; the exit code. */
int vh_ctl_reconcile(VhCtl *ctl, const char *command, const char *uri, gboolean offline,
                     VhReconcileScope scope, gboolean dry_run);
const VhCtlCommand *vh_ctl_command(const char *name);

/* The GPU instances of this host's MIG GPUs (tools/vgpuctl-mig.c). */
typedef struct _VhCtlMig VhCtlMig;
/* Who holds VF @address ("web1 (active)"), newly allocated, or NULL. */
typedef char *(*VhCtlMigHolder)(const char *address);
VhCtlMig *vh_ctl_mig_new(VhCatalog *catalog);
/* Only the GPUs of @vfs (NULL-terminated VF addresses), built from @host. */
VhCtlMig *vh_ctl_mig_new_for_vfs(VhHost *host, const char *const *vfs);
void vh_ctl_mig_free(VhCtlMig *mig);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhCtlMig, vh_ctl_mig_free)
/* The layout of GPU @pf_address, NULL when it has none (no MIG-backed type). */
const VhVgpuMigLayout *vh_ctl_mig_layout(const VhCtlMig *mig, const char *pf_address);
const VhVgpuGpu *vh_ctl_mig_gpu_of_vf(const VhCtlMig *mig, const char *vf_address);
/* The instance VF @vf_address's vGPU sits in, or NULL. */
const VhVgpuMigInstance *vh_ctl_mig_instance_of(const VhCtlMig *mig, const char *vf_address);
/* "1 (2g.35gb at 0:2)", "? (1g.18gb at 6:1)" when the id is unknown, "-". */
char *vh_ctl_mig_instance_text(const VhVgpuMigInstance *gi);
/* "on", "off", or NULL when NVML did not say. */
const char *vh_ctl_mig_mode(const VhVgpuMigLayout *layout);
/* Text: per MIG GPU a heading and one line per instance. */
void vh_ctl_mig_print(const VhCtlMig *mig, VhCtlMigHolder holder);
/* JSON: the "mig" member's value of GPU @layout (null without one). */
typedef struct _VhJsonWriter VhJsonWriter;
void vh_ctl_mig_json(VhJsonWriter *w, const VhVgpuMigLayout *layout, VhCtlMigHolder holder);

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sim-nvml-ctl: change the simulated GPU state from a shell test, as the
 * driver or an operator would (tests/sim-nvml-state.h has the file):
 *
 *   sim-nvml-ctl ROOT rebind ADDR          what sriov-manage -e/-d does to
 *                                          MIG: every GPU instance is gone
 *   sim-nvml-ctl ROOT set ADDR KEY VALUE   one key of [gpu ADDR] (mig=1,
 *                                          in_use=3, instances=...)
 *   sim-nvml-ctl ROOT get ADDR KEY         print it
 *
 * After a change, the creatable lists and gpu_instance_id files of an SR-IOV
 * vGPU PF of the fake host are recomputed (fake_host_nvidia_recompute), as
 * the driver lists what instances allow at once.
 *
 * Exit 0 on success, 1 with one line on stderr otherwise. */
#include "fake-host.h"
#include "sim-nvml-state.h"

#include <stdio.h>
#include <string.h>

/* The fake host's vGPU files of @addr follow the new state; a GPU that is
 * not an SR-IOV vGPU PF of the fake host has none. */
static void
recompute(const char *root, const char *addr)
{
    g_autoptr(GError) error = NULL;

    if (!fake_host_nvidia_recompute(root, addr, &error) &&
        !g_error_matches(error, FAKE_HOST_ERROR, FAKE_HOST_ERROR_STATE))
        fprintf(stderr, "sim-nvml-ctl: warning: %s\n", error->message);
}

static int
set_key(const char *root, const char *addr, const char *key, const char *value)
{
    int fd = sim_nvml_state_lock(root);
    g_autoptr(GError) error = NULL;
    g_autoptr(GKeyFile) state = sim_nvml_state_load(root, &error);
    g_autofree char *group = g_strdup_printf("gpu %s", addr);
    gboolean ok = state != NULL;

    if (ok) {
        g_key_file_set_string(state, group, key, value);
        ok = sim_nvml_state_save(state, root, &error);
    }
    sim_nvml_state_unlock(fd);
    if (ok)
        recompute(root, addr);
    if (!ok)
        fprintf(stderr, "sim-nvml-ctl: %s\n", error ? error->message : "no nvml.ini under ROOT");
    return ok ? 0 : 1;
}

static int
get_key(const char *root, const char *addr, const char *key)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GKeyFile) state = sim_nvml_state_load(root, &error);
    g_autofree char *group = g_strdup_printf("gpu %s", addr);
    g_autofree char *value = state ? g_key_file_get_string(state, group, key, &error) : NULL;

    if (value == NULL) {
        fprintf(stderr, "sim-nvml-ctl: %s\n", error ? error->message : "no nvml.ini under ROOT");
        return 1;
    }
    printf("%s\n", value);
    return 0;
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;

    if (argc == 4 && strcmp(argv[2], "rebind") == 0) {
        if (sim_nvml_state_rebind(argv[1], argv[3], &error)) {
            recompute(argv[1], argv[3]);
            return 0;
        }
        fprintf(stderr, "sim-nvml-ctl: %s\n", error ? error->message : "no nvml.ini under ROOT");
        return 1;
    }
    if (argc == 6 && strcmp(argv[2], "set") == 0)
        return set_key(argv[1], argv[3], argv[4], argv[5]);
    if (argc == 5 && strcmp(argv[2], "get") == 0)
        return get_key(argv[1], argv[3], argv[4]);
    fprintf(stderr, "usage: sim-nvml-ctl ROOT rebind ADDR | set ADDR KEY VALUE | get ADDR KEY\n");
    return 2;
}

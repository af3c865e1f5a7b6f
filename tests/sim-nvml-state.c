/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sim-nvml-state: the simulated GPU state file; see the header. */
#include "sim-nvml-state.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

char *
sim_nvml_state_path(const char *root)
{
    return g_build_filename(root, ".fake-host", "nvml.ini", NULL);
}

GKeyFile *
sim_nvml_state_load(const char *root, GError **error)
{
    g_autofree char *path = sim_nvml_state_path(root);
    g_autoptr(GKeyFile) state = g_key_file_new();

    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return NULL;
    if (!g_key_file_load_from_file(state, path, G_KEY_FILE_NONE, error))
        return NULL;
    return g_steal_pointer(&state);
}

gboolean
sim_nvml_state_save(GKeyFile *state, const char *root, GError **error)
{
    g_autofree char *path = sim_nvml_state_path(root);

    return g_key_file_save_to_file(state, path, error);
}

int
sim_nvml_state_lock(const char *root)
{
    g_autofree char *path = g_build_filename(root, ".fake-host", "nvml.lock", NULL);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

    if (fd >= 0)
        flock(fd, LOCK_EX);
    return fd;
}

void
sim_nvml_state_unlock(int fd)
{
    if (fd >= 0)
        close(fd); /* drops the flock */
}

static gint
instance_compare(gconstpointer a, gconstpointer b)
{
    const SimNvmlInstance *x = a, *y = b;

    return (x->id > y->id) - (x->id < y->id);
}

GArray *
sim_nvml_state_instances(GKeyFile *state, const char *addr)
{
    g_autofree char *group = g_strdup_printf("gpu %s", addr);
    g_autofree char *text = g_key_file_get_string(state, group, "instances", NULL);
    g_auto(GStrv) items = g_strsplit(text ? text : "", ";", -1);
    GArray *out = g_array_new(FALSE, FALSE, sizeof(SimNvmlInstance));

    for (guint i = 0; items[i]; i++) {
        SimNvmlInstance gi;

        if (sscanf(items[i], "%u:%u:%u:%u", &gi.id, &gi.profile_id, &gi.start, &gi.size) == 4)
            g_array_append_val(out, gi);
    }
    g_array_sort(out, instance_compare);
    return out;
}

void
sim_nvml_state_set_instances(GKeyFile *state, const char *addr, GArray *instances)
{
    g_autofree char *group = g_strdup_printf("gpu %s", addr);
    g_autoptr(GString) text = g_string_new(NULL);

    for (guint i = 0; i < instances->len; i++) {
        const SimNvmlInstance *gi = &g_array_index(instances, SimNvmlInstance, i);
        g_string_append_printf(text, "%s%u:%u:%u:%u", i ? ";" : "", gi->id, gi->profile_id,
                               gi->start, gi->size);
    }
    g_key_file_set_string(state, group, "instances", text->str);
}

gboolean
sim_nvml_state_rebind(const char *root, const char *addr, GError **error)
{
    int fd = sim_nvml_state_lock(root);
    g_autoptr(GKeyFile) state = sim_nvml_state_load(root, error);
    g_autofree char *group = g_strdup_printf("gpu %s", addr);
    gboolean ok = TRUE;

    if (state && g_key_file_has_group(state, group)) {
        g_key_file_set_string(state, group, "instances", "");
        g_key_file_remove_key(state, group, "in_use", NULL);
        ok = sim_nvml_state_save(state, root, error);
    }
    sim_nvml_state_unlock(fd);
    return ok && (state != NULL || error == NULL || *error == NULL);
}

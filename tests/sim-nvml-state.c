/* SPDX-License-Identifier: GPL-2.0-or-later */
/* sim-nvml-state: the simulated GPU state file; see the header. */
#include "sim-nvml-state.h"
#include "vh-nvml-abi.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* ---- the MIG user guide's tables -------------------------------------------- */

static const SimModel sim_models[] = {
    { "H200", 0x2335, {
        { NVML_GPU_INSTANCE_PROFILE_1_SLICE, 19, 1, 7, "1g.18gb", 16384, "0,1,2,3,4,5,6:1" },
        { NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1, 20, 1, 1, "1g.18gb+me", 16384, "0,1,2,3,4,5,6:1" },
        { NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2, 15, 1, 4, "1g.35gb", 33280, "0,2,4,6:2" },
        { NVML_GPU_INSTANCE_PROFILE_2_SLICE, 14, 2, 3, "2g.35gb", 33280, "0,2,4:2" },
        { NVML_GPU_INSTANCE_PROFILE_3_SLICE, 9, 3, 2, "3g.71gb", 71424, "0,4:4" },
        { NVML_GPU_INSTANCE_PROFILE_4_SLICE, 5, 4, 1, "4g.71gb", 71424, "0:4" },
        { NVML_GPU_INSTANCE_PROFILE_7_SLICE, 0, 7, 1, "7g.141gb", 143360, "0:8" } } },
    { "H100-80GB", 0x2330, {
        { NVML_GPU_INSTANCE_PROFILE_1_SLICE, 19, 1, 7, "1g.10gb", 10240, "0,1,2,3,4,5,6:1" },
        { NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1, 20, 1, 1, "1g.10gb+me", 10240, "0,1,2,3,4,5,6:1" },
        { NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2, 15, 1, 4, "1g.20gb", 20480, "0,2,4,6:2" },
        { NVML_GPU_INSTANCE_PROFILE_2_SLICE, 14, 2, 3, "2g.20gb", 20480, "0,2,4:2" },
        { NVML_GPU_INSTANCE_PROFILE_3_SLICE, 9, 3, 2, "3g.40gb", 40960, "0,4:4" },
        { NVML_GPU_INSTANCE_PROFILE_4_SLICE, 5, 4, 1, "4g.40gb", 40960, "0:4" },
        { NVML_GPU_INSTANCE_PROFILE_7_SLICE, 0, 7, 1, "7g.80gb", 81920, "0:8" } } },
    { "A100-40GB", 0x20b0, {
        { NVML_GPU_INSTANCE_PROFILE_1_SLICE, 19, 1, 7, "1g.5gb", 5120, "0,1,2,3,4,5,6:1" },
        { NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV1, 20, 1, 1, "1g.5gb+me", 5120, "0,1,2,3,4,5,6:1" },
        { NVML_GPU_INSTANCE_PROFILE_1_SLICE_REV2, 15, 1, 4, "1g.10gb", 10240, "0,2,4,6:2" },
        { NVML_GPU_INSTANCE_PROFILE_2_SLICE, 14, 2, 3, "2g.10gb", 10240, "0,2,4:2" },
        { NVML_GPU_INSTANCE_PROFILE_3_SLICE, 9, 3, 2, "3g.20gb", 20480, "0,4:4" },
        { NVML_GPU_INSTANCE_PROFILE_4_SLICE, 5, 4, 1, "4g.20gb", 20480, "0:4" },
        { NVML_GPU_INSTANCE_PROFILE_7_SLICE, 0, 7, 1, "7g.40gb", 40960, "0:8" } } },
};

const SimModel *
sim_nvml_model_find(const char *model)
{
    for (guint i = 0; i < G_N_ELEMENTS(sim_models); i++)
        if (strcmp(model, sim_models[i].model) == 0)
            return &sim_models[i];
    return NULL;
}

const SimModel *
sim_nvml_state_mig_model(GKeyFile *state, const char *addr)
{
    g_autofree char *group = g_strdup_printf("gpu %s", addr);
    g_autofree char *mig = g_key_file_get_string(state, group, "mig", NULL);
    g_autofree char *model = g_key_file_get_string(state, group, "model", NULL);

    return g_strcmp0(mig, "1") == 0 && model ? sim_nvml_model_find(model) : NULL;
}

GArray *
sim_nvml_state_in_use(GKeyFile *state, const char *addr)
{
    g_autofree char *group = g_strdup_printf("gpu %s", addr);
    g_autofree char *text = g_key_file_get_string(state, group, "in_use", NULL);
    g_auto(GStrv) items = g_strsplit(text ? text : "", ";", -1);
    GArray *ids = g_array_new(FALSE, FALSE, sizeof(guint));

    for (guint i = 0; items[i]; i++) {
        guint64 id;
        if (g_ascii_string_to_unsigned(g_strstrip(items[i]), 10, 0, G_MAXUINT, &id, NULL)) {
            guint v = (guint)id;
            g_array_append_val(ids, v);
        }
    }
    return ids;
}

void
sim_nvml_state_set_in_use(GKeyFile *state, const char *addr, GArray *ids)
{
    g_autofree char *group = g_strdup_printf("gpu %s", addr);
    g_autoptr(GString) text = g_string_new(NULL);

    for (guint i = 0; i < ids->len; i++)
        g_string_append_printf(text, "%s%u", i ? ";" : "", g_array_index(ids, guint, i));
    if (ids->len)
        g_key_file_set_string(state, group, "in_use", text->str);
    else
        g_key_file_remove_key(state, group, "in_use", NULL);
}

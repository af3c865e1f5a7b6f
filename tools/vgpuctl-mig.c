/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl: the GPU instances of MIG GPUs, as list, leases and metrics show
 * them (vh_vgpu_gpu_mig_layout: NVML's instances, or without NVML where the
 * VFs' vGPUs place them in the built-in table). One set of words for all
 * three, so they never disagree. */
#include "config.h"
#include "vgpuctl.h"
#include "vgpuctl-json.h"

#include <stdio.h>
#include <string.h>

struct _VhCtlMig {
    GPtrArray *gpus;    /* VhVgpuGpu (borrowed from a catalogue, or owned) */
    GPtrArray *layouts; /* VhVgpuMigLayout, parallel to gpus; NULL entries allowed */
    GPtrArray *owned;   /* VhVgpuGpu built here (leases) */
};

static VhCtlMig *
mig_new(void)
{
    VhCtlMig *mig = g_new0(VhCtlMig, 1);

    mig->gpus = g_ptr_array_new();
    mig->layouts = g_ptr_array_new_with_free_func((GDestroyNotify)vh_vgpu_mig_layout_free);
    mig->owned = g_ptr_array_new_with_free_func((GDestroyNotify)vh_vgpu_gpu_free);
    return mig;
}

static void
mig_add(VhCtlMig *mig, const VhVgpuGpu *gpu)
{
    g_ptr_array_add(mig->gpus, (gpointer)gpu);
    g_ptr_array_add(mig->layouts, vh_vgpu_gpu_mig_layout(gpu));
}

VhCtlMig *
vh_ctl_mig_new(VhCatalog *catalog)
{
    VhCtlMig *mig = mig_new();

    for (guint i = 0; i < catalog->gpus->len; i++)
        mig_add(mig, g_ptr_array_index(catalog->gpus, i));
    return mig;
}

VhCtlMig *
vh_ctl_mig_new_for_vfs(VhHost *host, const char *const *vfs)
{
    VhCtlMig *mig = mig_new();

    for (guint i = 0; vfs[i]; i++) {
        VhVgpuGpu *gpu;
        if (vh_ctl_mig_gpu_of_vf(mig, vfs[i]))
            continue; /* its GPU is in already */
        if ((gpu = vh_vgpu_gpu_of_vf(host, vfs[i])) == NULL)
            continue;
        g_ptr_array_add(mig->owned, gpu);
        mig_add(mig, gpu);
    }
    return mig;
}

void
vh_ctl_mig_free(VhCtlMig *mig)
{
    if (mig == NULL)
        return;
    g_ptr_array_unref(mig->layouts);
    g_ptr_array_unref(mig->gpus);
    g_ptr_array_unref(mig->owned);
    g_free(mig);
}

const VhVgpuMigLayout *
vh_ctl_mig_layout(const VhCtlMig *mig, const char *pf_address)
{
    for (guint i = 0; i < mig->gpus->len; i++) {
        const VhVgpuGpu *gpu = g_ptr_array_index(mig->gpus, i);
        if (strcmp(gpu->pf->address, pf_address) == 0)
            return g_ptr_array_index(mig->layouts, i);
    }
    return NULL;
}

const VhVgpuGpu *
vh_ctl_mig_gpu_of_vf(const VhCtlMig *mig, const char *vf_address)
{
    for (guint i = 0; i < mig->gpus->len; i++) {
        const VhVgpuGpu *gpu = g_ptr_array_index(mig->gpus, i);
        for (guint v = 0; v < gpu->vfs->len; v++)
            if (strcmp(((const VhPciDevice *)g_ptr_array_index(gpu->vfs, v))->address,
                       vf_address) == 0)
                return gpu;
    }
    return NULL;
}

const VhVgpuMigInstance *
vh_ctl_mig_instance_of(const VhCtlMig *mig, const char *vf_address)
{
    for (guint i = 0; i < mig->gpus->len; i++) {
        const VhVgpuGpu *gpu = g_ptr_array_index(mig->gpus, i);
        const VhVgpuMigLayout *layout = g_ptr_array_index(mig->layouts, i);
        for (guint v = 0; layout && v < gpu->vfs->len; v++) {
            const VhPciDevice *vf = g_ptr_array_index(gpu->vfs, v);
            if (strcmp(vf->address, vf_address) == 0)
                return vh_vgpu_mig_layout_instance_of(layout, vf);
        }
    }
    return NULL;
}

char *
vh_ctl_mig_instance_text(const VhVgpuMigInstance *gi)
{
    if (gi == NULL)
        return g_strdup("-");
    return gi->id_known ? g_strdup_printf("%u (%s at %u:%u)", gi->id, gi->profile, gi->start,
                                          gi->size)
                        : g_strdup_printf("? (%s at %u:%u)", gi->profile, gi->start, gi->size);
}

const char *
vh_ctl_mig_mode(const VhVgpuMigLayout *layout)
{
    if (!layout->nvml)
        return NULL;
    return layout->mig_on ? "on" : "off";
}

/* "GPU 0000:41:00.0: MIG on, 3 GPU instances (NVML)". */
static void
print_heading(const VhVgpuGpu *gpu, const VhVgpuMigLayout *l)
{
    if (l->nvml)
        printf("GPU %s: MIG %s, %u GPU instance%s (NVML)\n", gpu->pf->address,
               l->mig_on ? "on" : "off", l->instances->len, l->instances->len == 1 ? "" : "s");
    else
        printf("GPU %s: MIG mode unknown, built-in %s MIG table (%s); the instances its VFs' "
               "vGPUs need:\n", gpu->pf->address, l->model ? l->model : "?",
               l->why ? l->why : "NVML not used");
}

void
vh_ctl_mig_print(const VhCtlMig *mig, VhCtlMigHolder holder)
{
    for (guint i = 0; i < mig->gpus->len; i++) {
        const VhVgpuGpu *gpu = g_ptr_array_index(mig->gpus, i);
        const VhVgpuMigLayout *l = g_ptr_array_index(mig->layouts, i);
        if (l == NULL)
            continue;
        printf("\n");
        print_heading(gpu, l);
        for (guint g = 0; g < l->instances->len; g++) {
            const VhVgpuMigInstance *gi = g_ptr_array_index(l->instances, g);
            g_autofree char *where = vh_ctl_mig_instance_text(gi);
            if (gi->type == NULL) {
                printf("  instance %s: free\n", where);
                continue;
            }
            printf("  instance %s: %s, %u of %u:", where, gi->type, gi->vfs->len, gi->slots);
            for (guint v = 0; v < gi->vfs->len; v++) {
                const VhPciDevice *vf = g_ptr_array_index(gi->vfs, v);
                g_autofree char *who = holder(vf->address);
                printf("%s VF %s%s%s%s", v ? "," : "", vf->address, who ? " (" : "",
                       who ? who : "", who ? ")" : "");
            }
            printf("\n");
        }
        if (l->unplaced)
            printf("  %u vGPU%s held in no instance the model can place (run 'vgpuctl nvml')\n",
                   l->unplaced, l->unplaced == 1 ? "" : "s");
    }
}

static void
json_string_or_null(VhJsonWriter *w, const char *member, const char *value)
{
    vh_json_member(w, member);
    if (value)
        vh_json_string(w, value);
    else
        vh_json_null(w);
}

static void
json_instance(VhJsonWriter *w, const VhVgpuMigInstance *gi, VhCtlMigHolder holder)
{
    g_autofree char *placement = g_strdup_printf("%u:%u", gi->start, gi->size);

    vh_json_begin_object(w);
    vh_json_member(w, "id");
    if (gi->id_known)
        vh_json_int(w, gi->id);
    else
        vh_json_null(w);
    json_string_or_null(w, "profile", gi->profile);
    json_string_or_null(w, "placement", placement);
    json_string_or_null(w, "type", gi->type);
    vh_json_member(w, "slots");
    if (gi->type)
        vh_json_int(w, gi->slots);
    else
        vh_json_null(w);
    vh_json_member(w, "free");
    vh_json_bool(w, gi->type == NULL);
    vh_json_member(w, "vgpus");
    vh_json_begin_array(w);
    for (guint v = 0; v < gi->vfs->len; v++) {
        const VhPciDevice *vf = g_ptr_array_index(gi->vfs, v);
        g_autofree char *who = holder(vf->address);
        vh_json_begin_object(w);
        json_string_or_null(w, "vf", vf->address);
        json_string_or_null(w, "leased_by", who);
        vh_json_end_object(w);
    }
    vh_json_end_array(w);
    vh_json_end_object(w);
}

void
vh_ctl_mig_json(VhJsonWriter *w, const VhVgpuMigLayout *l, VhCtlMigHolder holder)
{
    if (l == NULL) {
        vh_json_null(w);
        return;
    }
    vh_json_begin_object(w);
    json_string_or_null(w, "mode", vh_ctl_mig_mode(l));
    json_string_or_null(w, "source", l->nvml ? "nvml" : "built-in");
    json_string_or_null(w, "table", l->model);
    json_string_or_null(w, "nvml_error", l->nvml ? NULL : l->why);
    vh_json_member(w, "instances");
    vh_json_begin_array(w);
    for (guint g = 0; g < l->instances->len; g++)
        json_instance(w, g_ptr_array_index(l->instances, g), holder);
    vh_json_end_array(w);
    vh_json_member(w, "unplaced");
    vh_json_int(w, l->unplaced);
    vh_json_end_object(w);
}

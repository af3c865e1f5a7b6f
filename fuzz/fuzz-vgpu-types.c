/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-vgpu-types: vh_vgpu_types_parse (creatable_vgpu_types contents), the
 * framebuffer size of every name, and lookups by id and by name. */
#include "fuzz-common.h"
#include "vh-vgpu-type.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_init_glib();
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *text = fuzz_text(data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) types = vh_vgpu_types_parse(text, &error);

    /* The profile-name helpers also see user text (config, command line). */
    (void)vh_vgpu_profile_framebuffer_gb(text);
    (void)vh_vgpu_profile_framebuffer_gb(vh_vgpu_type_profile(text));
    fuzz_report("vgpu-types", error);
    if (types == NULL) {
        FUZZ_CHECK(error != NULL && error->message != NULL, "failure without an error");
        return 0;
    }
    FUZZ_CHECK(error == NULL, "success with an error set");
    for (guint i = 0; i < types->len; i++) {
        const VhVgpuType *type = g_ptr_array_index(types, i);
        const char *profile;
        const VhVgpuType *by_id, *by_name, *by_profile = NULL;
        guint gb;

        FUZZ_CHECK(type->id != 0, "type %u has id 0", i);
        FUZZ_CHECK(type->name != NULL && type->name[0] != '\0', "type %u has no name", i);
        profile = vh_vgpu_type_profile(type->name);
        gb = vh_vgpu_profile_framebuffer_gb(profile);
        FUZZ_CHECK(gb <= (1u << 20), "'%s' has %u GB", profile, gb);
        (void)vh_vgpu_profile_framebuffer_gb(type->name);

        by_id = vh_vgpu_types_find_id(types, type->id);
        FUZZ_CHECK(by_id != NULL && by_id->id == type->id, "id %u not found", type->id);
        by_name = vh_vgpu_types_find_name(types, type->name);
        FUZZ_CHECK(by_name != NULL, "name '%s' not found", type->name);
        FUZZ_CHECK(strcmp(vh_vgpu_type_profile(by_name->name), profile) == 0,
                   "lookup of '%s' found '%s'", type->name, by_name->name);
        /* A bare profile finds its type too, unless it looks like a type
         * name itself ("NVIDIA NVIDIA X": the prefix is stripped once). */
        if (!g_str_has_prefix(profile, "NVIDIA ")) {
            by_profile = vh_vgpu_types_find_name(types, profile);
            FUZZ_CHECK(by_profile != NULL, "profile '%s' not found", profile);
            FUZZ_CHECK(strcmp(vh_vgpu_type_profile(by_profile->name), profile) == 0,
                       "lookup of '%s' found '%s'", profile, by_profile->name);
        }
    }
    (void)vh_vgpu_types_find_name(types, text);
    return 0;
}

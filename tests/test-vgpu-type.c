/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-vgpu-type: creatable_vgpu_types parsing, profile names and sizes. */
#include "test-common.h"

static GPtrArray *
parse_ok(const char *text)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *types = vh_vgpu_types_parse(text, &error);

    if (types == NULL)
        fail_msg("creatable_vgpu_types rejected: %s", error->message);
    return types;
}

static void
assert_type(GPtrArray *types, guint index, guint id, const char *name)
{
    const VhVgpuType *type;

    assert_true(index < types->len);
    type = g_ptr_array_index(types, index);
    assert_int_equal(type->id, id);
    assert_string_equal(type->name, name);
}

static void
parse_fails(const char *text, const char *needle)
{
    g_autoptr(GError) error = NULL;
    GPtrArray *types = vh_vgpu_types_parse(text, &error);

    if (types != NULL) {
        g_ptr_array_unref(types);
        fail_msg("accepted: \"%s\"", text);
    }
    assert_vh_error(error, VH_ERROR_INVALID, needle);
    assert_contains(error->message, "creatable_vgpu_types");
}

/* As the driver prints it (and as the fake host writes it). */
static void
test_parse_with_header(void **state)
{
    g_autoptr(GPtrArray) types = parse_ok("ID    : vGPU Name\n"
                                          "1155  : NVIDIA L40S-1Q\n"
                                          "1161  : NVIDIA L40S-24Q\n"
                                          "1162  : NVIDIA L40S-48Q\n");

    assert_int_equal(types->len, 3);
    assert_type(types, 0, 1155, "NVIDIA L40S-1Q");
    assert_type(types, 1, 1161, "NVIDIA L40S-24Q");
    assert_type(types, 2, 1162, "NVIDIA L40S-48Q");
}

static void
test_parse_without_header(void **state)
{
    g_autoptr(GPtrArray) types = parse_ok("1414 : NVIDIA H200X-1-18C\n1415 : NVIDIA H200X-2-35C");

    assert_int_equal(types->len, 2);
    assert_type(types, 0, 1414, "NVIDIA H200X-1-18C");
    assert_type(types, 1, 1415, "NVIDIA H200X-2-35C");
}

static void
test_parse_empty(void **state)
{
    g_autoptr(GPtrArray) header_only = parse_ok("ID    : vGPU Name\n");
    g_autoptr(GPtrArray) empty = parse_ok("");
    g_autoptr(GPtrArray) null_text = parse_ok(NULL);
    g_autoptr(GPtrArray) blanks = parse_ok("\n\n   \n");

    /* A full GPU (or a VF holding a type) lists nothing: not an error. */
    assert_int_equal(header_only->len, 0);
    assert_int_equal(empty->len, 0);
    assert_int_equal(null_text->len, 0);
    assert_int_equal(blanks->len, 0);
}

static void
test_parse_whitespace(void **state)
{
    g_autoptr(GPtrArray) types = parse_ok("ID : vGPU Name   \n"
                                          "\n"
                                          "  1155 :   NVIDIA L40S-1Q   \n"
                                          "\t\n"
                                          "1161:NVIDIA L40S-24Q\t\n"
                                          "\n");
    g_autoptr(GPtrArray) crlf = parse_ok("ID    : vGPU Name\r\n"
                                         "1155  : NVIDIA L40S-1Q\r\n"
                                         "1161  : NVIDIA L40S-24Q\r\n");

    assert_int_equal(types->len, 2);
    assert_type(types, 0, 1155, "NVIDIA L40S-1Q");
    assert_type(types, 1, 1161, "NVIDIA L40S-24Q");
    /* No '\r' left in a name: it would never match a profile. */
    assert_int_equal(crlf->len, 2);
    assert_type(crlf, 0, 1155, "NVIDIA L40S-1Q");
    assert_type(crlf, 1, 1161, "NVIDIA L40S-24Q");
}

/* Names keep what follows the first colon, inner spaces included. */
static void
test_parse_name_text(void **state)
{
    g_autoptr(GPtrArray) types = parse_ok("17 : GRID T4-1Q\n18 : NVIDIA A:B  C\n");

    assert_type(types, 0, 17, "GRID T4-1Q");
    assert_type(types, 1, 18, "NVIDIA A:B  C");
}

static void
test_parse_garbage(void **state)
{
    parse_fails("ID : vGPU Name\n1155 : NVIDIA L40S-1Q\ngarbage\n", "line 3");
    /* the driver's file is not ours: never quoted */
    {
        g_autoptr(GError) error = NULL;
        g_assert_null(vh_vgpu_types_parse("ID : vGPU Name\ngarbage\n", &error));
        assert_null(strstr(error->message, "garbage"));
    }
    /* one id under two names, or one name under two ids: ambiguous */
    parse_fails("1161 : NVIDIA L40S-24Q\n1161 : NVIDIA L40S-12Q\n", "ambiguous, refused");
    parse_fails("1161 : NVIDIA L40S-24Q\n1160 : NVIDIA L40S-24Q\n", "line 2");
    {
        /* the same line twice is no contradiction */
        g_autoptr(GPtrArray) same = parse_ok("1161 : NVIDIA L40S-24Q\n1161 : NVIDIA L40S-24Q\n");
        assert_int_equal(same->len, 2);
    }
    /* Blank lines still count for the line number. */
    parse_fails("1155 : NVIDIA L40S-1Q\n\n\nno colon here\n", "line 4");
    /* The header is only accepted as the first line. */
    parse_fails("1155 : NVIDIA L40S-1Q\nID : vGPU Name\n", "line 2");
    parse_fails("abc : NVIDIA L40S-1Q\n", "line 1");
    parse_fails("1155 :\n", "line 1");
    parse_fails(": NVIDIA L40S-1Q\n", "line 1");
    parse_fails("1155 : NVIDIA L40S\x01-1Q\n", "line 1");
    parse_fails("1155 : NVIDIA L40S\t1Q\n", "line 1");
    parse_fails("0x483 : NVIDIA L40S-1Q\n", "line 1");
    parse_fails("-5 : NVIDIA L40S-1Q\n", "line 1");
    parse_fails("+5 : NVIDIA L40S-1Q\n", "line 1");
    parse_fails("12 34 : NVIDIA L40S-1Q\n", "line 1");
}

static void
test_parse_ids(void **state)
{
    g_autoptr(GPtrArray) max = parse_ok("4294967295 : NVIDIA X-1Q\n");

    assert_type(max, 0, 4294967295u, "NVIDIA X-1Q");
    /* 0 means "no type" in current_vgpu_type: never a valid id. */
    parse_fails("0 : NVIDIA L40S-1Q\n", "line 1");
    parse_fails("ID : vGPU Name\n0 : NVIDIA L40S-1Q\n", "line 2");
    parse_fails("4294967296 : NVIDIA L40S-1Q\n", "line 1");
    parse_fails("99999999999999999999999 : NVIDIA L40S-1Q\n", "line 1");
}

static void
test_parse_long_name(void **state)
{
    g_autofree char *name = g_strnfill(129, 'Q');
    g_autofree char *line = g_strdup_printf("7 : %s\n", name);
    g_autofree char *ok_name = g_strnfill(128, 'Q');
    g_autofree char *ok_line = g_strdup_printf("7 : %s\n", ok_name);
    g_autoptr(GPtrArray) types = parse_ok(ok_line);

    assert_type(types, 0, 7, ok_name);
    parse_fails(line, "line 1");
}

static void
test_profile(void **state)
{
    assert_string_equal(vh_vgpu_type_profile("NVIDIA L40S-24Q"), "L40S-24Q");
    assert_string_equal(vh_vgpu_type_profile("L40S-24Q"), "L40S-24Q");
    assert_string_equal(vh_vgpu_type_profile("NVIDIA H200X-1-18C"), "H200X-1-18C");
    assert_string_equal(vh_vgpu_type_profile("GRID T4-1Q"), "GRID T4-1Q");
    /* Only the exact "NVIDIA " prefix goes. */
    assert_string_equal(vh_vgpu_type_profile("NVIDIAL40S-24Q"), "NVIDIAL40S-24Q");
    assert_string_equal(vh_vgpu_type_profile("nvidia L40S-24Q"), "nvidia L40S-24Q");
}

static void
test_framebuffer(void **state)
{
    static const struct {
        const char *profile;
        guint gb;
    } table[] = {
        { "L40S-24Q", 24 },
        { "L40S-1Q", 1 },
        { "L40S-48Q", 48 },
        { "L40S-12A", 12 },
        { "H200X-1-18C", 18 },
        { "H200X-7-141C", 141 },
        { "A100-7-80C", 80 },
        { "A100D-80C", 80 },
        { "A16-1B", 1 },
        { "A16-16Q", 16 },
        { "GRID T4-16Q", 16 },
        { "NVIDIA L40S-24Q", 24 },
        /* no size in the name */
        { "L40S", 0 },
        { "L40S-", 0 },
        { "L40S-Q", 0 },
        { "L40S-24", 0 },
        { "L40S-24Q2", 0 },
        { "L40S-24Q-", 0 },
        { "L40S-24 Q", 0 },
        { "", 0 },
        { "X-99999999999999999999Q", 0 },
    };

    for (guint i = 0; i < G_N_ELEMENTS(table); i++) {
        guint gb = vh_vgpu_profile_framebuffer_gb(table[i].profile);
        if (gb != table[i].gb)
            fail_msg("%s: %u GB, expected %u", table[i].profile, gb, table[i].gb);
    }
}

static void
test_find(void **state)
{
    g_autoptr(GPtrArray) types = parse_ok("ID    : vGPU Name\n"
                                          "1155  : NVIDIA L40S-1Q\n"
                                          "1161  : NVIDIA L40S-24Q\n"
                                          "42 : GRID T4-1Q\n");
    const VhVgpuType *t;

    t = vh_vgpu_types_find_id(types, 1161);
    assert_non_null(t);
    assert_string_equal(t->name, "NVIDIA L40S-24Q");
    assert_null(vh_vgpu_types_find_id(types, 0));
    assert_null(vh_vgpu_types_find_id(types, 1160));
    assert_null(vh_vgpu_types_find_id(NULL, 1161));

    t = vh_vgpu_types_find_name(types, "L40S-24Q");
    assert_non_null(t);
    assert_int_equal(t->id, 1161);
    t = vh_vgpu_types_find_name(types, "NVIDIA L40S-1Q");
    assert_non_null(t);
    assert_int_equal(t->id, 1155);
    t = vh_vgpu_types_find_name(types, "GRID T4-1Q");
    assert_non_null(t);
    assert_int_equal(t->id, 42);
    assert_null(vh_vgpu_types_find_name(types, "L40S-2Q"));
    assert_null(vh_vgpu_types_find_name(types, "l40s-24q"));
    assert_null(vh_vgpu_types_find_name(types, "L40S-24"));
    assert_null(vh_vgpu_types_find_name(types, "NVIDIA L40S-24Q "));
    assert_null(vh_vgpu_types_find_name(NULL, "L40S-24Q"));
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_with_header),
        cmocka_unit_test(test_parse_without_header),
        cmocka_unit_test(test_parse_empty),
        cmocka_unit_test(test_parse_whitespace),
        cmocka_unit_test(test_parse_name_text),
        cmocka_unit_test(test_parse_garbage),
        cmocka_unit_test(test_parse_ids),
        cmocka_unit_test(test_parse_long_name),
        cmocka_unit_test(test_profile),
        cmocka_unit_test(test_framebuffer),
        cmocka_unit_test(test_find),
    };

    return cmocka_run_group_tests(tests, NULL, test_group_teardown);
}

/* SPDX-License-Identifier: GPL-2.0-or-later */
/* test-ctl-json: vgpuctl's streaming JSON writer (tools/vgpuctl-json.c)
 * writes exactly what json-glib's pretty generator writes for the same
 * document: vgpuctl list/resources --json kept their output byte for byte
 * when they moved to the writer. Each case builds one document twice, with
 * JsonBuilder and with the writer, through the same sequence of calls. */
#include "test-common.h"
#include "vgpuctl-json.h"

#include <json-glib/json-glib.h>

/* One document, written to both. */
typedef struct {
    JsonBuilder *b;
    VhJsonWriter *w;
} Both;

static void begin_object(Both *d) { json_builder_begin_object(d->b); vh_json_begin_object(d->w); }
static void end_object(Both *d) { json_builder_end_object(d->b); vh_json_end_object(d->w); }
static void begin_array(Both *d) { json_builder_begin_array(d->b); vh_json_begin_array(d->w); }
static void end_array(Both *d) { json_builder_end_array(d->b); vh_json_end_array(d->w); }
static void member(Both *d, const char *n) { json_builder_set_member_name(d->b, n); vh_json_member(d->w, n); }
static void string(Both *d, const char *v)
{
    if (v)
        json_builder_add_string_value(d->b, v);
    else
        json_builder_add_null_value(d->b);
    vh_json_string(d->w, v);
}
static void integer(Both *d, gint64 v) { json_builder_add_int_value(d->b, v); vh_json_int(d->w, v); }
static void boolean(Both *d, gboolean v) { json_builder_add_boolean_value(d->b, v); vh_json_bool(d->w, v); }
static void null(Both *d) { json_builder_add_null_value(d->b); vh_json_null(d->w); }

static Both *
both_new(void)
{
    Both *d = g_new0(Both, 1);

    d->b = json_builder_new();
    d->w = vh_json_writer_new();
    return d;
}

/* Compare and free. */
static void
assert_same(Both *d)
{
    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(d->b);
    g_autofree char *expected = NULL;

    json_generator_set_pretty(gen, TRUE);
    json_generator_set_root(gen, root);
    expected = json_generator_to_data(gen, NULL);
    assert_string_equal(vh_json_writer_text(d->w), expected);
    g_object_unref(d->b);
    vh_json_writer_free(d->w);
    g_free(d);
}

static void
test_layout(void **state)
{
    Both *d = both_new();

    (void)state;
    begin_array(d);
    begin_object(d);
    member(d, "address");
    string(d, "0000:41:00.4");
    member(d, "virtfns");
    begin_array(d);
    end_array(d);
    member(d, "empty");
    begin_object(d);
    end_object(d);
    member(d, "vgpu");
    begin_object(d);
    member(d, "current_type_id");
    integer(d, 1161);
    member(d, "creatable");
    begin_array(d);
    begin_object(d);
    member(d, "id");
    integer(d, -1);
    member(d, "big");
    integer(d, G_MAXINT64);
    member(d, "small");
    integer(d, G_MININT64);
    member(d, "ten");
    integer(d, 10);
    end_object(d);
    string(d, "x");
    integer(d, 0);
    end_array(d);
    end_object(d);
    member(d, "yes");
    boolean(d, TRUE);
    member(d, "no");
    boolean(d, FALSE);
    member(d, "none");
    null(d);
    member(d, "null string");
    string(d, NULL);
    end_object(d);
    begin_array(d);
    begin_array(d);
    end_array(d);
    end_array(d);
    string(d, "");
    end_array(d);
    assert_same(d);
}

static void
test_top_level(void **state)
{
    Both *d = both_new();

    (void)state;
    begin_array(d);
    end_array(d);
    assert_same(d);
    d = both_new();
    begin_object(d);
    end_object(d);
    assert_same(d);
}

/* Every byte value in a string (and in a member name), alone and in text. */
static void
test_escapes(void **state)
{
    (void)state;
    for (guint c = 1; c < 256; c++) {
        char one[2] = { (char)c, '\0' };
        g_autofree char *text = g_strdup_printf("a%sb%s", one, one);
        Both *d = both_new();
        begin_object(d);
        member(d, one);
        string(d, one);
        member(d, "text");
        string(d, text);
        end_object(d);
        assert_same(d);
    }
    {
        Both *d = both_new();
        begin_array(d);
        string(d, "NVIDIA L40S-24Q \"quoted\" back\\slash tab\t nl\n é ü 中");
        end_array(d);
        assert_same(d);
    }
}

/* Past the writer's first buffer (64 KiB): it grows like a GString. */
static void
test_large(void **state)
{
    Both *d = both_new();

    (void)state;
    begin_array(d);
    for (guint i = 0; i < 20000; i++) {
        g_autofree char *text = g_strdup_printf("device %u", i);
        begin_object(d);
        member(d, "address");
        string(d, text);
        member(d, "id");
        integer(d, i);
        end_object(d);
    }
    end_array(d);
    assert_same(d);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_top_level),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_large),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}

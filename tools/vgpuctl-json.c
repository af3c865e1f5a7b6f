/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl-json: streaming JSON in json-glib's pretty layout; see the header. */
#include "vgpuctl-json.h"

#include <string.h>

typedef struct {
    gboolean object;
    guint count;
} Level;

struct _VhJsonWriter {
    GString *out;
    GArray *levels;     /* Level: the open containers */
    const char *name;   /* set by vh_json_member() for the next value */
};

/* g_string_append_len() without the call when the text fits: the writer
 * appends a few bytes at a time, tens of thousands of times per listing. */
static inline void
put(GString *out, const char *text, gsize len)
{
    if (out->len + len < out->allocated_len) {
        memcpy(out->str + out->len, text, len);
        out->len += len;
        out->str[out->len] = '\0';
    } else {
        g_string_append_len(out, text, len);
    }
}

static inline void
put_c(GString *out, char c)
{
    put(out, &c, 1);
}

VhJsonWriter *
vh_json_writer_new(void)
{
    VhJsonWriter *w = g_new0(VhJsonWriter, 1);

    w->out = g_string_sized_new(64 * 1024);
    w->levels = g_array_new(FALSE, FALSE, sizeof(Level));
    return w;
}

void
vh_json_writer_free(VhJsonWriter *w)
{
    if (w == NULL)
        return;
    g_string_free(w->out, TRUE);
    g_array_unref(w->levels);
    g_free(w);
}

static void
indent(VhJsonWriter *w, guint depth)
{
    static const char spaces[] = "                                ";

    for (guint n = depth * 2; n > 0;) {
        guint chunk = MIN(n, sizeof(spaces) - 1);
        put(w->out, spaces, chunk);
        n -= chunk;
    }
}

/* json-glib's escapes: backslash and quote; control characters 0x01-0x1e
 * and DEL as \b \f \n \r \t or \u00xx. Everything else as is (UTF-8). */
/* The end of the string, a quote, a backslash, 0x01-0x1e or DEL. */
static inline gboolean
needs_escape(guchar c)
{
    return c < 0x1f || c == '"' || c == '\\' || c == 0x7f;
}

static void
append_quoted(GString *out, const char *text)
{
    put_c(out, '"');
    for (const char *p = text; *p; p++) {
        const char *run = p;
        while (!needs_escape((guchar)*p))
            p++;
        put(out, run, p - run);
        if (*p == '\0')
            break;
        switch (*p) {
        case '"': put(out, "\\\"", 2); break;
        case '\\': put(out, "\\\\", 2); break;
        case '\b': put(out, "\\b", 2); break;
        case '\f': put(out, "\\f", 2); break;
        case '\n': put(out, "\\n", 2); break;
        case '\r': put(out, "\\r", 2); break;
        case '\t': put(out, "\\t", 2); break;
        default: g_string_append_printf(out, "\\u00%02x", (guint)(guchar)*p); break;
        }
    }
    put_c(out, '"');
}

/* Separator, indentation and member name in front of a value. */
static void
before_value(VhJsonWriter *w)
{
    Level *top;

    if (w->levels->len == 0)
        return;
    top = &g_array_index(w->levels, Level, w->levels->len - 1);
    if (top->count++)
        put(w->out, ",\n", 2);
    else
        put_c(w->out, '\n');
    indent(w, w->levels->len);
    if (top->object) {
        append_quoted(w->out, w->name ? w->name : "");
        put(w->out, " : ", 3);
    }
    w->name = NULL;
}

static void
begin(VhJsonWriter *w, gboolean object)
{
    Level level = { object, 0 };

    before_value(w);
    put_c(w->out, object ? '{' : '[');
    g_array_append_val(w->levels, level);
}

static void
end(VhJsonWriter *w, char close)
{
    Level top = g_array_index(w->levels, Level, w->levels->len - 1);

    g_array_set_size(w->levels, w->levels->len - 1);
    if (top.count)
        put_c(w->out, '\n');
    /* json-glib indents even the closing brace of an empty object: "{    }" */
    if (top.count || top.object)
        indent(w, w->levels->len);
    put_c(w->out, close);
}

void vh_json_begin_object(VhJsonWriter *w) { begin(w, TRUE); }
void vh_json_end_object(VhJsonWriter *w) { end(w, '}'); }
void vh_json_begin_array(VhJsonWriter *w) { begin(w, FALSE); }
void vh_json_end_array(VhJsonWriter *w) { end(w, ']'); }

void
vh_json_member(VhJsonWriter *w, const char *name)
{
    w->name = name;
}

void
vh_json_string(VhJsonWriter *w, const char *value)
{
    before_value(w);
    if (value)
        append_quoted(w->out, value);
    else
        put(w->out, "null", 4);
}

void
vh_json_int(VhJsonWriter *w, gint64 value)
{
    char digits[24];
    char *p = digits + sizeof(digits);
    guint64 magnitude = value < 0 ? (guint64)0 - (guint64)value : (guint64)value;

    before_value(w);
    do {
        *--p = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (value < 0)
        *--p = '-';
    put(w->out, p, digits + sizeof(digits) - p);
}

void
vh_json_bool(VhJsonWriter *w, gboolean value)
{
    before_value(w);
    if (value)
        put(w->out, "true", 4);
    else
        put(w->out, "false", 5);
}

void
vh_json_null(VhJsonWriter *w)
{
    before_value(w);
    put(w->out, "null", 4);
}

const char *
vh_json_writer_text(VhJsonWriter *w)
{
    return w->out->str;
}

void
vh_json_writer_print(VhJsonWriter *w, FILE *out)
{
    fwrite(w->out->str, 1, w->out->len, out);
    fputc('\n', out);
}

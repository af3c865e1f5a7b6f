/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vgpuctl-json: JSON written as it is produced, for the long listings.
 *
 * `vgpuctl list --json` on a host with hundreds of functions built a
 * json-glib tree of thousands of nodes only to print and free it; building,
 * printing and freeing that tree cost more instructions than lspci needs for
 * the whole listing (bench/REPORT.md). The writer appends to one buffer
 * instead, in the layout json-glib's pretty printer uses (two spaces per
 * level, "name" : value, [] and {} when empty, the same string escapes), so
 * the output is unchanged byte for byte; tests/test-ctl-json.c compares the
 * two. Calls must nest properly: the writer does not check. */
#pragma once

#include <glib.h>
#include <stdio.h>

typedef struct _VhJsonWriter VhJsonWriter;

VhJsonWriter *vh_json_writer_new(void);
void vh_json_writer_free(VhJsonWriter *w);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(VhJsonWriter, vh_json_writer_free)

void vh_json_begin_object(VhJsonWriter *w);
void vh_json_end_object(VhJsonWriter *w);
void vh_json_begin_array(VhJsonWriter *w);
void vh_json_end_array(VhJsonWriter *w);
/* The name of the next value, inside an object. */
void vh_json_member(VhJsonWriter *w, const char *name);
/* A string, or null when @value is NULL. */
void vh_json_string(VhJsonWriter *w, const char *value);
void vh_json_int(VhJsonWriter *w, gint64 value);
void vh_json_bool(VhJsonWriter *w, gboolean value);
void vh_json_null(VhJsonWriter *w);

/* What was written so far. */
const char *vh_json_writer_text(VhJsonWriter *w);
/* Print the document and a newline to @out (as vh_ctl_print_json does). */
void vh_json_writer_print(VhJsonWriter *w, FILE *out);

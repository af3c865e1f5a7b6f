/* SPDX-License-Identifier: GPL-2.0-or-later */
/* hook-worker-standin: a stand-in for the hook's worker module
 * (vgpu-hook-worker.so) for tests/test-hook-front.sh. It records what the
 * front end hands over: its argv (one per line, without argv[0]) into
 * $VH_STANDIN_DIR/worker.args and the XML, byte for byte, into
 * $VH_STANDIN_DIR/worker.stdin; "module" into $VH_STANDIN_DIR/worker.kind.
 * Exits with status 0. */
#include "../hooks/hook-args.h"

#include <stdio.h>
#include <stdlib.h>

static int
record(const char *file, const char *data, size_t len)
{
    const char *dir = getenv("VH_STANDIN_DIR");
    char path[4096];
    FILE *f;

    if (dir == NULL || (size_t)snprintf(path, sizeof path, "%s/%s", dir, file) >= sizeof path ||
        (f = fopen(path, "w")) == NULL)
        return -1;
    if (len && fwrite(data, 1, len, f) != len) {
        fclose(f);
        return -1;
    }
    return fclose(f);
}

int vh_hook_worker_run(int argc, char **argv, const char *xml, size_t len);

int
vh_hook_worker_run(int argc, char **argv, const char *xml, size_t len)
{
    char args[65536];
    size_t n = 0;

    for (int i = 1; i < argc && n < sizeof args; i++)
        n += (size_t)snprintf(args + n, sizeof args - n, "%s\n", argv[i]);
    if (n > sizeof args)
        n = sizeof args;
    if (record("worker.args", args, n) != 0 || record("worker.stdin", xml, xml ? len : 0) != 0 ||
        record("worker.kind", "module\n", 7) != 0)
        return 99;
    return 0;
}

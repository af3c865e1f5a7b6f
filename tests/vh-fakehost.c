/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-fakehost: build a fake sysfs tree from a host description.
 *
 * `vh-fakehost DESCRIPTION.ini OUTDIR` writes the tree that OUTDIR stands for
 * (a fake /sys, see fake-host.h) for the demo and for tests driven from the
 * shell. Silent on success; one line on stderr and exit 1 on failure.
 *
 * Self-check by hand (glib libraries after the sources: Debian links with
 * --as-needed, so libraries named first are dropped):
 *   gcc -Wall -Wextra -Werror tests/fake-host.c tests/vh-fakehost.c \
 *       $(pkg-config --cflags --libs glib-2.0) -o /tmp/vh-fakehost
 *   rm -rf /tmp/demo-sys && /tmp/vh-fakehost demo/demo-host.ini /tmp/demo-sys
 *   lspci -A linux-sysfs -O sysfs.path=/tmp/demo-sys/bus/pci -nnk
 *   /tmp/vh-fakehost demo/demo-host.ini /tmp/demo-sys   # must refuse: not empty
 */
#include "fake-host.h"

#include <stdio.h>

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;

    if (argc == 2 && (g_str_equal(argv[1], "--help") || g_str_equal(argv[1], "-h"))) {
        printf("usage: vh-fakehost DESCRIPTION.ini OUTDIR\n"
               "Build the fake sysfs tree described by DESCRIPTION.ini in OUTDIR,\n"
               "which must be missing or empty.\n");
        return 0;
    }
    if (argc != 3) {
        fprintf(stderr, "usage: vh-fakehost DESCRIPTION.ini OUTDIR\n");
        return 1;
    }
    if (!fake_host_build_from_file(argv[1], argv[2], &error)) {
        fprintf(stderr, "vh-fakehost: %s\n", error->message);
        return 1;
    }
    return 0;
}

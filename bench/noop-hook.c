/* SPDX-License-Identifier: GPL-2.0-or-later */
/* noop-hook: the baseline for the hook benchmark. Does what any libvirt hook
 * must do at the least: read the domain XML on stdin to the end, exit 0. */
#include <unistd.h>

int
main(void)
{
    char buf[65536];

    while (read(0, buf, sizeof buf) > 0)
        ;
    return 0;
}

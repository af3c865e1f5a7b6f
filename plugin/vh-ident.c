/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vh-ident: domain names and UUIDs; see the header. */
#include "vh-ident.h"

#include <string.h>

gboolean
vh_uuid_is_valid(const char *uuid)
{
    static const guint groups[] = { 8, 4, 4, 4, 12 };
    const char *p = uuid;

    if (uuid == NULL || strlen(uuid) != 36)
        return FALSE;
    for (guint g = 0; g < G_N_ELEMENTS(groups); g++) {
        for (guint i = 0; i < groups[g]; i++, p++) {
            if (!g_ascii_isxdigit(*p))
                return FALSE;
        }
        if (g + 1 < G_N_ELEMENTS(groups) && *p++ != '-')
            return FALSE;
    }
    return *p == '\0';
}

gboolean
vh_domain_name_is_valid(const char *name)
{
    /* libvirt's rules, on the name exactly as libvirt stores it (no
     * trimming): not empty, no '/' (it names files under /run/libvirt/qemu),
     * no newline. The length cap is the file-name limit of NAME.pid. */
    if (name == NULL || *name == '\0' || strlen(name) > VH_DOMAIN_NAME_MAX ||
        !g_utf8_validate(name, -1, NULL))
        return FALSE;
    return strpbrk(name, "/\n") == NULL;
}

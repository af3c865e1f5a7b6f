/* SPDX-License-Identifier: GPL-2.0-or-later */
/* fuzz-config: vh_config_load_data (the GLib key file configuration). A
 * loaded config has canonical deny and resource addresses. */
#include "fuzz-common.h"
#include "vh-config.h"
#include "vh-pci-address.h"

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

static void
check_addresses(GStrv addresses, const char *what)
{
    for (guint i = 0; addresses && addresses[i]; i++) {
        VhPciAddress addr;
        char buf[VH_PCI_ADDRESS_STRLEN];

        FUZZ_CHECK(vh_pci_address_parse(addresses[i], &addr, NULL), "%s: '%s'", what,
                   addresses[i]);
        vh_pci_address_format(&addr, buf);
        FUZZ_CHECK(strcmp(buf, addresses[i]) == 0, "%s: '%s' is not canonical", what,
                   addresses[i]);
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(VhConfig) config = vh_config_load_data((const char *)data, size, "fuzz.conf", &error);

    fuzz_report("config", error);
    if (config == NULL) {
        FUZZ_CHECK(error != NULL && error->message != NULL, "failure without an error");
        return 0;
    }
    FUZZ_CHECK(error == NULL, "success with an error set");
    FUZZ_CHECK(config->sysfs_root && config->state_dir && config->vfio_dir &&
               config->libvirt_run_dir, "a path is NULL");
    check_addresses(config->deny, "deny");
    for (guint i = 0; config->deny && config->deny[i]; i++)
        FUZZ_CHECK(vh_config_is_denied(config, config->deny[i]), "'%s' not denied",
                   config->deny[i]);
    (void)vh_config_is_denied(config, "0000:00:00.0");
    for (guint i = 0; i < config->resources->len; i++) {
        const VhResourceDecl *decl = g_ptr_array_index(config->resources, i);
        VhResourceKind kind;

        FUZZ_CHECK(decl->name && decl->name[0], "resource %u has no name", i);
        FUZZ_CHECK(vh_resource_kind_from_string(vh_resource_kind_to_string(decl->kind), &kind) &&
                   kind == decl->kind, "resource '%s': kind %d", decl->name, decl->kind);
        check_addresses(decl->addresses, decl->name);
    }
    return 0;
}

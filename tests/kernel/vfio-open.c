/* SPDX-License-Identifier: GPL-2.0-or-later */
/* vfio-open: what QEMU does with a VFIO group, for the real-kernel tier.
 *
 *   vfio-open VFIO_DIR GROUP BDF...
 *
 * Opens VFIO_DIR/vfio (the container) and VFIO_DIR/GROUP, asks the kernel
 * whether the group is viable (every device of the group bound to vfio-pci
 * or to no driver), attaches the group to a type1 IOMMU container and gets a
 * device file descriptor for each BDF. Prints one line per step; exits 0
 * only when every step worked. Runs inside the guest of tests/kernel/run.sh;
 * never installed. */
#include <errno.h>
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static int
fail(const char *what)
{
    printf("vfio-open: %s: %s\n", what, strerror(errno));
    return 1;
}

int
main(int argc, char **argv)
{
    struct vfio_group_status status = { .argsz = sizeof(status) };
    char path[4096];
    int container, group;

    if (argc < 3) {
        fprintf(stderr, "usage: vfio-open VFIO_DIR GROUP [BDF...]\n");
        return 2;
    }
    snprintf(path, sizeof(path), "%s/vfio", argv[1]);
    container = open(path, O_RDWR);
    if (container < 0)
        return fail(path);
    if (ioctl(container, VFIO_GET_API_VERSION) != VFIO_API_VERSION) {
        printf("vfio-open: unexpected VFIO API version\n");
        return 1;
    }
    if (ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1_IOMMU) <= 0) {
        printf("vfio-open: the container has no type1 IOMMU support\n");
        return 1;
    }
    snprintf(path, sizeof(path), "%s/%s", argv[1], argv[2]);
    group = open(path, O_RDWR);
    if (group < 0)
        return fail(path);
    if (ioctl(group, VFIO_GROUP_GET_STATUS, &status) < 0)
        return fail("VFIO_GROUP_GET_STATUS");
    if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
        printf("vfio-open: group %s is not viable\n", argv[2]);
        return 1;
    }
    printf("vfio-open: group %s viable\n", argv[2]);
    if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0)
        return fail("VFIO_GROUP_SET_CONTAINER");
    if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1_IOMMU) < 0)
        return fail("VFIO_SET_IOMMU");
    for (int i = 3; i < argc; i++) {
        struct vfio_device_info info = { .argsz = sizeof(info) };
        int device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, argv[i]);
        if (device < 0)
            return fail(argv[i]);
        if (ioctl(device, VFIO_DEVICE_GET_INFO, &info) < 0)
            return fail("VFIO_DEVICE_GET_INFO");
        if (!(info.flags & VFIO_DEVICE_FLAGS_PCI)) {
            printf("vfio-open: %s is not a vfio-pci device\n", argv[i]);
            return 1;
        }
        printf("vfio-open: %s opened (%u regions, %u irqs)\n", argv[i], info.num_regions,
               info.num_irqs);
        close(device);
    }
    close(group);
    close(container);
    return 0;
}

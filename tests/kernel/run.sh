#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real-kernel tier: vfio-pci binding and SR-IOV against a real Linux kernel.
#
# Boots Debian's kernel (linux-image-amd64) under QEMU TCG on a q35 machine
# with an emulated Intel IOMMU, with a busybox initramfs (tests/kernel/init)
# that mounts this host's root read-only over 9p and chroots into it, so the
# freshly built vgpuctl and vgpu-hook run unchanged against the guest
# kernel's sysfs. The cases (tests/kernel/cases.sh) run in one boot:
#   - vgpuctl bind/unbind of a "GPU + HDMI audio" pair (edu + ich9-intel-hda,
#     one IOMMU group) and of a lone edu behind a PCIe root port;
#   - a group with a denied device: refused, nothing changed;
#   - prepare/release (vgpuctl and the hook executable): twice each, and
#     release after a failed prepare;
#   - SR-IOV: VFs of an NVMe PF; vgpuctl list --json --all against sysfs;
#     a VF to vfio-pci and back; the PF refused while its VFs are enabled;
#     a bind without the vfio-pci module fails and restores the driver;
#   - vgpuctl setup: VFs enabled through a stand-in sriov-manage
#     (tests/kernel/sriov-manage); done, then already; --dry-run changes
#     nothing; a failing sriov-manage fails the step, nothing written;
#   - libvirtd in the guest: vgpuctl define, virsh start (the hook binds the
#     pair, QEMU opens the VFIO group), virsh destroy (the hook restores).
# A small helper (tests/kernel/vfio-open) asks the guest kernel whether the
# group is viable and opens the devices through VFIO, as QEMU would.
#
# Needs root for the packages only: qemu-system-x86, linux-image-amd64,
# busybox-static, kmod, cpio, jq, nvme-cli (optional: without it the NVMe
# VFs stay offline and driverless). As root it installs what is missing
# (VH_KERNEL_TEST_INSTALL=no to forbid); otherwise it prints SKIP with the
# command to run and exits 77. Never a silent pass.
#
# Environment: VH_KERNEL_TEST=skip        skip the tier (it says so)
#              VH_KERNEL_TEST_BUILDDIR  build tree to test (default: top_builddir)
#              VH_KERNEL_TEST_KERNEL    kernel version (default: newest in /boot)
#              VH_KERNEL_TEST_TIMEOUT   seconds before QEMU is killed (default 300)
#              VH_KERNEL_TEST_KEEP=1    keep the work directory
#              VH_KERNEL_TEST_SCRIPT    guest script instead of cases.sh (debugging)
# Run alone: make check TESTS=tests/kernel/run.sh
set -uo pipefail

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_builddir=${VH_KERNEL_TEST_BUILDDIR:-${top_builddir:-$top_srcdir/_build}}
top_srcdir=$(cd "$top_srcdir" && pwd)
top_builddir=$(cd "$top_builddir" && pwd)
here=$top_srcdir/tests/kernel
timeout_s=${VH_KERNEL_TEST_TIMEOUT:-300}
packages=(qemu-system-x86 linux-image-amd64 busybox-static kmod cpio jq nvme-cli)

skip() { echo "SKIP: real-kernel tier: $*"; exit 77; }
[ "${VH_KERNEL_TEST:-}" = skip ] && skip "VH_KERNEL_TEST=skip is set"

# The kernel to boot: the newest in /boot whose modules are installed.
kernel_version() {
    local k v
    if [ -n "${VH_KERNEL_TEST_KERNEL:-}" ]; then
        [ -f "/boot/vmlinuz-$VH_KERNEL_TEST_KERNEL" ] && echo "$VH_KERNEL_TEST_KERNEL"
        return
    fi
    for k in $(ls -v /boot/vmlinuz-* 2>/dev/null | tac); do
        v=${k#/boot/vmlinuz-}
        [ -f "/lib/modules/$v/modules.dep" ] && { echo "$v"; return; }
    done
}
# Which prerequisite is missing, in words; empty when none is.
busybox_static() { [ -x /bin/busybox ] && [[ $(LC_ALL=C ldd /bin/busybox 2>&1) == *"not a dynamic"* ]]; }
missing() {
    command -v qemu-system-x86_64 > /dev/null || echo "qemu-system-x86_64 (qemu-system-x86)"
    [ -n "$(kernel_version)" ] || echo "a kernel in /boot with modules in /lib/modules (linux-image-amd64)"
    busybox_static || echo "a static /bin/busybox (busybox-static)"
    command -v modprobe > /dev/null || echo "modprobe (kmod)"
    command -v cpio > /dev/null || echo "cpio"
    command -v jq > /dev/null || echo "jq"
}
need=$(missing)
if [ -n "$need" ]; then
    if [ "$(id -u)" -eq 0 ] && [ "${VH_KERNEL_TEST_INSTALL:-yes}" != no ] && command -v apt-get > /dev/null; then
        echo "real-kernel tier: installing ${packages[*]} (missing: $(echo $need))"
        if ! busybox_static && dpkg-query -W -f='${Status}' busybox 2> /dev/null | grep -q installed; then
            echo "real-kernel tier: busybox-static replaces the dynamic busybox package"
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}" > /dev/null 2>&1 ||
            { apt-get update > /dev/null 2>&1 &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${packages[@]}" > /dev/null 2>&1; }
        need=$(missing)
    fi
    [ -z "$need" ] || skip "missing: $(echo $need | sed 's/) /), /g'); run as root: apt-get install ${packages[*]}"
fi
command -v nvme > /dev/null ||
    echo "note: nvme-cli not installed: the NVMe VFs stay offline and get no driver (apt-get install nvme-cli)"

kver=$(kernel_version)
kernel=/boot/vmlinuz-$kver
[ -r "$kernel" ] || skip "$kernel is not readable (run as root, or chmod a+r it)"
for tool in vgpuctl vgpu-hook tests/kernel/vfio-open; do
    [ -x "$top_builddir/$tool" ] || skip "$top_builddir/$tool not built (run make check)"
done
for dir in "$top_srcdir" "$top_builddir"; do
    case $dir in *[\ ,]*) skip "the path '$dir' has a space or a comma (9p and the kernel command line cannot pass it)" ;; esac
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vgpu-kernel.XXXXXX")
case $work in *[\ ,]*) rm -rf "$work"; skip "the path '$work' has a space or a comma; set TMPDIR" ;; esac
cleanup() {
    if [ "${VH_KERNEL_TEST_KEEP:-}" = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

# ---- the initramfs: static busybox, the modules (dependencies first), /init
initrd_dir=$work/initramfs
mkdir -p "$initrd_dir"/{bin,proc,sys,dev,root,lib/modules}
cp /bin/busybox "$initrd_dir/bin/busybox"
cp "$here/init" "$initrd_dir/init"
chmod 755 "$initrd_dir/init"
modules_list() {
    local m
    for m in "$@"; do
        modprobe --show-depends -S "$kver" "$m" 2> /dev/null | awk '$1 == "insmod" { print $2 }'
    done | awk '!seen[$0]++'
}
for m in virtio_pci 9pnet_virtio 9p vfio-pci; do
    [ -n "$(modprobe --show-depends -S "$kver" "$m" 2> /dev/null)" ] ||
        skip "kernel $kver has no module $m (and it is not built in)"
done
: > "$initrd_dir/modules.list"
while read -r ko; do
    name=${ko##*/}
    case $ko in
    *.ko.xz) name=${name%.xz}; xz -dc "$ko" > "$initrd_dir/lib/modules/$name" ;;
    *.ko.zst) name=${name%.zst}; zstd -qdc "$ko" > "$initrd_dir/lib/modules/$name" ;;
    *.ko.gz) name=${name%.gz}; gzip -dc "$ko" > "$initrd_dir/lib/modules/$name" ;;
    *) cp "$ko" "$initrd_dir/lib/modules/$name" ;;
    esac || skip "cannot unpack $ko"
    echo "/lib/modules/$name" >> "$initrd_dir/modules.list"
done < <(modules_list virtio_pci 9pnet_virtio 9p vfio vfio_iommu_type1 vfio-pci nvme snd_hda_intel)
(cd "$initrd_dir" && find . | cpio -o -H newc --quiet | gzip -1) > "$work/initrd.gz" ||
    { echo "FAIL: cannot build the initramfs"; echo "0 passed, 1 failed"; exit 1; }

# What cases.sh needs, and the test environment the guest would not inherit.
{
    printf 'VHK_BUILDDIR=%q\nVHK_SRCDIR=%q\n' "$top_builddir" "$top_srcdir"
    for var in G_DEBUG ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS G_SLICE; do
        [ -n "${!var:-}" ] && printf 'export %s=%q\n' "$var" "${!var}"
    done
} > "$work/env"
script=${VH_KERNEL_TEST_SCRIPT:-$here/cases.sh}
keep=
for dir in "$top_srcdir" "$top_builddir" "$(cd "$(dirname "$script")" && pwd)"; do
    case $dir in /tmp/* | /run/*) keep=$keep${keep:+,}$dir ;; esac
done

# ---- the machine: q35 + vIOMMU; GPU+audio pair in slot 5; a lone edu
# behind a root port; an SR-IOV NVMe PF behind another.
# shellcheck disable=SC2054 # the commas belong to QEMU options
qemu=(
    qemu-system-x86_64 -M q35,kernel-irqchip=split -accel tcg -m 1024 -smp 2
    -nodefaults -display none -monitor none -no-reboot
    -serial "file:$work/console.log"
    -device intel-iommu,intremap=on,caching-mode=on
    -kernel "$kernel" -initrd "$work/initrd.gz"
    -append "console=ttyS0 intel_iommu=on panic=-1 quiet loglevel=3 vhk_work=$work vhk_script=$script${keep:+ vhk_keep=$keep}"
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
    -virtfs "local,path=$work,mount_tag=work,security_model=none,multidevs=remap"
    -device edu,addr=05.0,multifunction=on
    -device ich9-intel-hda,addr=05.1
    -device pcie-root-port,id=rp1,chassis=1,addr=06.0
    -device edu,bus=rp1
    -device pcie-root-port,id=rp2,chassis=2,addr=07.0
    -device nvme-subsys,id=vhksubsys
    -device nvme,bus=rp2,serial=vhk0,subsys=vhksubsys,max_ioqpairs=12,msix_qsize=6,sriov_max_vfs=4,sriov_vq_flexible=8,sriov_vi_flexible=4
)
echo "== real-kernel tier: kernel $kver, tools from $top_builddir"
start=$(date +%s)
timeout -k 10 "$timeout_s" "${qemu[@]}" > "$work/qemu.log" 2>&1
qrc=$?
took=$(($(date +%s) - start))
echo "== boot and cases took ${took}s (QEMU exit $qrc)"

log=$work/cases.log
[ -f "$log" ] || : > "$log"
grep -v '^guest finished:' "$log"
passed=$(grep -c '^PASS: ' "$log")
failed=$(grep -c '^FAIL: ' "$log")
if ! grep -q '^DONE$' "$log"; then
    if [ $qrc -eq 124 ] || [ $qrc -eq 137 ]; then
        echo "FAIL: the guest did not finish within ${timeout_s}s"
    else
        echo "FAIL: the guest did not finish (QEMU exit $qrc)"
    fi
    failed=$((failed + 1))
    echo "---- QEMU output:"; tail -n 20 "$work/qemu.log"
    echo "---- console (last 40 lines):"; tail -n 40 "$work/console.log" 2> /dev/null
fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
    echo "FAIL: no case ran"
    failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

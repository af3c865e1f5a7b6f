#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# Real-libvirtd tier: vgpuctl define/start and the hook inside a real libvirtd.
#
# Installs a hook wrapper into /etc/libvirt/hooks/qemu.d/ that runs the
# freshly built vgpu-hook against the demo host (a fake sysfs tree) with the
# simulated kernel preloaded, restarts libvirtd (it only looks for hooks when
# it starts), defines and starts domains, and checks what the hook did and
# what `virsh start` says. This machine has no real GPU and QEMU runs under
# TCG, so every start fails after the prepare hook ("host doesn't support
# passthrough"); a second probe hook records the fake sysfs state at prepare.
# Everything installed is removed at exit.
#
# Needs root, libvirtd and virsh; otherwise it says so and exits 77 (SKIP).
# Run alone: make check TESTS=tests/integration/test-libvirt.sh
set -uo pipefail

# shellcheck source=tests/integration/libvirt-env.sh
. "$(dirname "$0")/libvirt-env.sh"
HOOK=$HOOK_DIR/50-vgpu-hook-test
PROBE=$HOOK_DIR/60-vgpu-hook-test-probe
vh_env_init "real-libvirtd tier" vh-test-

passed=0
failed=0

ok() { echo "PASS: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

vh_env_install_hook "$HOOK"
hooks+=("$PROBE")
cat > "$PROBE" <<WRAP
#!/bin/sh
# Records, at prepare, the devices' state the vgpu-hook just prepared.
cat > /dev/null
[ "\$2" = prepare ] || exit 0
{
  for vf in $sys/bus/pci/devices/*/nvidia/current_vgpu_type; do
    t=\$(cat "\$vf"); [ "\$t" = 0 ] || echo "\$(basename \$(dirname \$(dirname "\$vf"))) type \$t"
  done
  for d in 0000:3b:00.0 0000:3b:00.1 0000:86:00.0 0000:86:00.1; do
    echo "\$d driver \$(basename "\$(readlink $sys/bus/pci/devices/\$d/driver)")"
  done
} > $work/probe-\$1.txt
WRAP
chmod 755 "$PROBE"
vh_env_restart_libvirtd || exit 1

make_vm() { # NAME RESOURCE
    sed "s|@NAME@|$1|; s|@RESOURCE@|$2|" "$top_srcdir/tests/integration/vm-named.xml.in" > "$work/$1.xml"
    domains+=("$1")
}
source_of() { # NAME -> dddd:bb:ss.f of the hostdev as libvirt has it
    virsh -c $URI dumpxml "$1" | xmllint --xpath 'string(//hostdev/source/address/@bus)' - |
        { read -r bus; virsh -c $URI dumpxml "$1" |
          xmllint --xpath 'concat(//hostdev/source/address/@slot, " ", //hostdev/source/address/@function)' - |
          { read -r slot fn; printf '0000:%02x:%02x.%x\n' "$bus" "$slot" "$fn"; }; }
}
lease_state() { # KEY -> active|reserved|none
    local f=$work/state/leases/$1
    [ -f "$f" ] && sed -n 's/^state=//p' "$f" || echo none
}
type_of() { cat "$sys/bus/pci/devices/$1/nvidia/current_vgpu_type"; }
driver_of() { basename "$(readlink "$sys/bus/pci/devices/$1/driver")"; }

echo "== define: two domains from one template get distinct VFs"
make_vm vh-test-a nvidia.com/L40S-24Q
make_vm vh-test-b nvidia.com/L40S-24Q
check "define vh-test-a" vgpuctl define -c $URI "$work/vh-test-a.xml"
check "define vh-test-b" vgpuctl define -c $URI "$work/vh-test-b.xml"
a=$(source_of vh-test-a); b=$(source_of vh-test-b)
check "distinct VFs ($a, $b)" test -n "$a" -a -n "$b" -a "$a" != "$b"
virsh -c $URI dumpxml vh-test-a > "$work/a-dump.xml"
check "dumpxml keeps the vgpu metadata" grep -q 'resource="nvidia.com/L40S-24Q"' "$work/a-dump.xml"
check "dumpxml keeps foreign metadata" grep -q 'kept as is' "$work/a-dump.xml"
check "dumpxml keeps the alias" grep -q "alias name='ua-gpu0'" "$work/a-dump.xml"
check "hostdev stays unmanaged" grep -q "managed='no'" "$work/a-dump.xml"
check "reservations written" test "$(lease_state "$a")" = reserved -a "$(lease_state "$b")" = reserved
make_vm vh-test-c nvidia.com/L40S-24Q
out=$(vgpuctl define -c $URI "$work/vh-test-c.xml" 2>&1)
check "a third L40S-24Q define is refused: $out" grep -q "no free device for nvidia.com/L40S-24Q" <<<"$out"

echo "== start: the hook sets the profile at prepare and undoes it on release"
out=$(virsh -c $URI start vh-test-a 2>&1)
check "prepare set L40S-24Q (1161) on $a" grep -q "^$a type 1161$" "$work/probe-vh-test-a.txt"
check "start failed later, not in the hook: $out" bash -c "! grep -q vgpu-hook <<<\"\$1\"" _ "$out"
check "release reset the profile" test "$(type_of "$a")" = 0
check "release kept the reservation" test "$(lease_state "$a")" = reserved

echo "== refusal: a third 24Q domain on a GPU whose two 24Q are running"
vgpuctl prepare "$work/a-dump.xml" && touch "$run/vh-test-a.pid"
virsh -c $URI dumpxml vh-test-b > "$work/b-dump.xml"
vgpuctl prepare "$work/b-dump.xml" && touch "$run/vh-test-b.pid"
check "two 24Q held" test "$(type_of "$a")" = 1161 -a "$(type_of "$b")" = 1161
third=0000:41:00.6
[ "$third" = "$a" ] || [ "$third" = "$b" ] && third=0000:41:00.7
vgpuctl rewrite "$work/vh-test-c.xml" > /dev/null 2>&1  # no device: refused at define
sed "s|<alias name='ua-gpu0'/>|<source><address domain='0x0000' bus='0x41' slot='0x${third:8:2}' function='0x${third:11:1}'/></source><alias name='ua-gpu0'/>|" \
    "$work/vh-test-c.xml" > "$work/c-pinned.xml"
virsh -c $URI define "$work/c-pinned.xml" >/dev/null
out=$(virsh -c $URI start vh-test-c 2>&1)
check "virsh start shows the hook's reason: $out" grep -q "cannot take L40S-24Q" <<<"$out"
check "the reason names the holders" grep -q "holds L40S-24Q" <<<"$out"
check "no lease left for the refused domain" test "$(lease_state "$third")" = none
check "refused VF untouched" test "$(type_of "$third")" = 0

echo "== vgpuctl start re-picks a device another running domain holds"
rm -f "$run/vh-test-a.pid"; vgpuctl release "$work/a-dump.xml"
rm -f "$run/vh-test-b.pid"; vgpuctl release "$work/b-dump.xml"
make_vm vh-test-d nvidia.com/GA102GL_A10
check "define vh-test-d" vgpuctl define -c $URI "$work/vh-test-d.xml"
d=$(source_of vh-test-d)
# another domain runs on d's GPU (started by hand, pinned)
make_vm vh-test-e nvidia.com/GA102GL_A10
virsh -c $URI dumpxml vh-test-d | sed "s|<name>vh-test-d</name>|<name>vh-test-e</name>|; /<uuid>/d" > "$work/e-on-d.xml"
sed -i "s|<name>vh-test-e</name>|<name>vh-test-e</name><uuid>11111111-2222-3333-4444-555555555555</uuid>|" "$work/e-on-d.xml"
check "vh-test-e prepared on $d" vgpuctl prepare "$work/e-on-d.xml"
touch "$run/vh-test-e.pid"
out=$(vgpuctl start -c $URI vh-test-d 2>&1)
d2=$(source_of vh-test-d)
check "start re-picked ($d -> $d2)" test -n "$d2" -a "$d2" != "$d"
check "start said so: $out" grep -q "re-picked" <<<"$out"
check "vh-test-e still holds $d" test "$(lease_state "$d")" = active
rm -f "$run/vh-test-e.pid"; vgpuctl release "$work/e-on-d.xml"
check "release gave $d back to nvidia" test "$(driver_of "$d")" = nvidia

echo "== whole GPU: the group went to vfio-pci at prepare and came back on release"
# vgpuctl start vh-test-d above ran the hook on $d2 (an A10 and its audio function).
check "prepare bound $d2 to vfio-pci" grep -q "^$d2 driver vfio-pci$" "$work/probe-vh-test-d.txt"
check "and its audio function" grep -q "^${d2%.0}.1 driver vfio-pci$" "$work/probe-vh-test-d.txt"
orig=nvidia; [ "$d2" = 0000:86:00.0 ] && orig=vfio-pci   # the demo host's second A10 starts on vfio-pci
check "release restored the GPU's driver ($orig)" test "$(driver_of "$d2")" = "$orig"
orig_audio=snd_hda_intel; [ "$d2" = 0000:86:00.0 ] && orig_audio=   # ... and its audio function none
check "release restored the audio function's driver (${orig_audio:-none})" \
    test "$(driver_of "${d2%.0}.1")" = "$orig_audio"
check "no active lease left" bash -c '! grep -rqs "^state=active" "$1"' _ "$work/state/leases"

echo "== leases --prune: reservations of undefined domains, leases of dead domains"
virsh -c $URI undefine vh-test-a >/dev/null
vgpuctl prepare "$work/b-dump.xml" >/dev/null 2>&1   # active, no pid file: dead once grace (0 s) is over
sleep 1   # a lease of the second in which prune asks libvirt counts as a domain starting
out=$(vgpuctl leases --prune -c $URI 2>&1)
check "the reservation of undefined vh-test-a is gone: $out" test "$(lease_state "$a")" = none
check "the dead vh-test-b lease was undone, kept as a reservation (defined)" \
    test "$(type_of "$b")" = 0 -a "$(lease_state "$b")" = reserved
check "prune said what it released: $out" grep -q "released $b (domain 'vh-test-b' is not running)" <<<"$out"
check "vh-test-d keeps its reservation" test "$(lease_state "$d2")" = reserved

echo "== attach/detach: a shut-off domain's configuration"
plain_vm() { # NAME: a TCG domain with no device to prepare
    cat > "$work/$1.xml" <<XML
<domain type='qemu'><name>$1</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
<os><type arch='x86_64' machine='q35'>hvm</type></os><devices/></domain>
XML
    domains+=("$1")
    virsh -c $URI define "$work/$1.xml" >/dev/null
}
leases_of() { grep -ls "^domain=$1\$" "$work"/state/leases/* 2>/dev/null | wc -l; }
all_types_zero() { ! grep -qsv '^0$' "$sys"/bus/pci/devices/*/nvidia/current_vgpu_type; }
one_line() { test "$(wc -l <<<"$1")" -eq 1; }
plain_vm vh-test-f
out=$(vgpuctl attach -c $URI vh-test-f nvidia.com/L40S-24Q 2>&1)
check "attach to a shut-off domain: $out" grep -q "^Domain 'vh-test-f': attached .* as ua-gpu0 (config)$" <<<"$out"
f_vf=$(sed -n "s/.*attached \([0-9a-f:.]*\) .*/\1/p" <<<"$out")
virsh -c $URI dumpxml --inactive vh-test-f > "$work/f-dump.xml"
check "the hostdev is in the configuration" grep -q "alias name='ua-gpu0'" "$work/f-dump.xml"
check "and its <vgpu:device>" grep -q '<vgpu:device alias="ua-gpu0" resource="nvidia.com/L40S-24Q"/>' "$work/f-dump.xml"
vgpuctl rewrite "$work/f-dump.xml" > "$work/f-rewritten.xml" 2>&1
check "vgpuctl reads it back: the device keeps $f_vf" \
    grep -q "function=.0x${f_vf: -1}." "$work/f-rewritten.xml"
check "reserved ($f_vf), not prepared" test "$(lease_state "$f_vf")" = reserved -a "$(type_of "$f_vf")" = 0
out=$(vgpuctl attach -c $URI --json vh-test-f nvidia.com/GA102GL_A10 2>&1)
check "a second attach picks ua-gpu1 (--json): $out" grep -q '"alias" : "ua-gpu1"' <<<"$out"
out=$(vgpuctl attach -c $URI vh-test-f nvidia.com/L40S-24Q --alias ua-gpu1 2>&1)
check "an alias in use is refused in one line: $out" bash -c 'grep -q "alias .ua-gpu1. is in use" <<<"$1" && test $(wc -l <<<"$1") -eq 1' _ "$out"
out=$(vgpuctl detach -c $URI vh-test-f ua-gpu0 2>&1)
check "detach from the configuration: $out" grep -q "detached $f_vf" <<<"$out"
virsh -c $URI dumpxml --inactive vh-test-f > "$work/f-dump.xml"
check "hostdev gone" bash -c '! grep -q "ua-gpu0" "$1"' _ "$work/f-dump.xml"
check "the other device stays named" grep -q 'alias="ua-gpu1"' "$work/f-dump.xml"
check "the reservation is dropped" test "$(lease_state "$f_vf")" = none
vgpuctl detach -c $URI vh-test-f ua-gpu1 >/dev/null 2>&1
check "the last one takes the metadata element with it" bash -c '! virsh -c "$1" dumpxml --inactive vh-test-f | grep -q "urn:vgpu-hook"' _ $URI
check "no lease left for vh-test-f" test "$(leases_of vh-test-f)" = 0
out=$(vgpuctl attach -c $URI vh-test-f nvidia.com/NOPE 2>&1)
check "unknown resource: one line, nothing changed: $out" bash -c 'grep -q "unknown resource" <<<"$1" && test $(wc -l <<<"$1") -eq 1' _ "$out"
out=$(vgpuctl attach -c $URI --live vh-test-f nvidia.com/L40S-24Q 2>&1)
check "--live on a shut-off domain is refused: $out" grep -q "it is not running" <<<"$out"
check "still no lease" test "$(leases_of vh-test-f)" = 0
check "still no metadata" bash -c '! virsh -c "$1" dumpxml --inactive vh-test-f | grep -q "urn:vgpu-hook"' _ $URI

echo "== attach to a running domain: QEMU cannot open a fake device; all of it is undone"
plain_vm vh-test-g
if ! out=$(virsh -c $URI start vh-test-g 2>&1); then
    bad "a TCG domain without devices starts: $out"
else
    for r in nvidia.com/L40S-24Q nvidia.com/GA102GL_A10 nvidia.com/GRID_T4-1Q; do
        out=$(vgpuctl attach -c $URI vh-test-g "$r" 2>&1); rc=$?
        check "$r: refused (rc $rc) in one line: $out" bash -c 'test "$1" = 1 && test $(wc -l <<<"$2") -eq 1' _ $rc "$out"
        check "$r: libvirt's reason, and nothing changed" bash -c 'grep -q "libvirt refused to attach" <<<"$1" && grep -q "nothing changed$" <<<"$1"' _ "$out"
        check "$r: no lease" test "$(leases_of vh-test-g)" = 0
        check "$r: no profile left" all_types_zero
        check "$r: A10 and its audio function back on their drivers" \
            test "$(driver_of 0000:3b:00.0)" = nvidia -a "$(driver_of 0000:3b:00.1)" = snd_hda_intel
        check "$r: no mdev left" test -z "$(ls "$sys/bus/mdev/devices" 2>/dev/null)"
        check "$r: no metadata, no hostdev (live, config)" bash -c \
            '! virsh -c "$1" dumpxml vh-test-g | grep -q "urn:vgpu-hook\|<hostdev" && ! virsh -c "$1" dumpxml --inactive vh-test-g | grep -q "urn:vgpu-hook\|<hostdev"' _ $URI
    done
    out=$(vgpuctl detach -c $URI vh-test-g ua-gpu0 2>&1)
    check "detach of an alias the domain lacks: one line: $out" bash -c 'grep -q "no <vgpu:device> with alias .ua-gpu0." <<<"$1" && test $(wc -l <<<"$1") -eq 1' _ "$out"
    virsh -c $URI destroy vh-test-g >/dev/null 2>&1
fi

echo "== license: a cloud-init seed that licenses the guest, attached as a cdrom"
token=SECRET-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
printf 'eyJhbGciOi.%s.sig\n' "$token" > "$work/client.tok"
vgpuctl attach -c $URI --config vh-test-f nvidia.com/GA102GL_A10 >/dev/null 2>&1
seed=$work/seeds/vh-test-f
out=$(vgpuctl license -c $URI vh-test-f --token "$work/client.tok" --output "$seed" 2>&1)
check "license vh-test-f (a passthrough GPU): $out" grep -q "FeatureType=2; seed $seed/seed.iso.*attached as cdrom sd" <<<"$out"
check "the token is not in the output" bash -c '! grep -q "$1" <<<"$2"' _ "$token" "$out"
check "user-data: FeatureType=2" grep -q '^      FeatureType=2$' "$seed/user-data"
check "user-data: the token, base64" grep -q "content: $(base64 -w0 "$work/client.tok")\$" "$seed/user-data"
check "user-data passes cloud-init schema" cloud-init schema --config-file "$seed/user-data"
check "meta-data has an instance-id" grep -q '^instance-id: vgpu-' "$seed/meta-data"
check "files are 0600, the directory 0711" test "$(stat -c %a "$seed/user-data" "$seed/meta-data" "$seed/seed.iso" "$seed" | tr '\n' ' ')" = "600 600 600 711 "
check "no temporary file left" test "$(ls -A "$seed" | tr '\n' ' ')" = "meta-data seed.iso user-data "
check "the ISO is a NoCloud seed (volume id cidata)" bash -c 'isoinfo -d -i "$1" | grep -q "^Volume id: cidata$"' _ "$seed/seed.iso"
check "the ISO holds user-data and meta-data" bash -c 'test "$(isoinfo -f -R -i "$1" | sort | tr "\n" " ")" = "/meta-data /user-data "' _ "$seed/seed.iso"
virsh -c $URI dumpxml --inactive vh-test-f > "$work/f-seed.xml"
check "the cdrom is in the configuration" bash -c 'grep -q "<alias name=.ua-vgpu-seed./>" "$1" && grep -q "source file=.$2/seed.iso." "$1"' _ "$work/f-seed.xml" "$seed"
check "the token is not in the domain XML" bash -c '! grep -q "$1" "$2"' _ "$token" "$work/f-seed.xml"
out=$(vgpuctl license -c $URI vh-test-f --token "$work/client.tok" --output "$seed" --feature-type 4 2>&1)
check "again, --feature-type 4: the cdrom is kept: $out" grep -q "FeatureType=4.*its cdrom was attached already" <<<"$out"
check "user-data now FeatureType=4" grep -q '^      FeatureType=4$' "$seed/user-data"
check "still one seed cdrom" test "$(virsh -c $URI dumpxml --inactive vh-test-f | grep -c ua-vgpu-seed)" = 1
vgpuctl attach -c $URI --config vh-test-g nvidia.com/L40S-24Q >/dev/null 2>&1
out=$(vgpuctl license -c $URI --json vh-test-g --token "$work/client.tok" --output "$work/seeds/g" --no-attach 2>&1)
check "a vGPU domain gets FeatureType 1 (--json): $out" grep -q '"feature_type" : 1' <<<"$out"
check "--no-attach attaches nothing" bash -c '! virsh -c "$1" dumpxml --inactive vh-test-g | grep -q ua-vgpu-seed' _ $URI
out=$(vgpuctl license -c $URI vh-test-g --token "$work/client.tok" --output "$work/seeds/g" --feature-type 3 2>&1)
check "FeatureType 3 is refused in one line: $out" bash -c 'grep -q "expected 0 (unlicensed), 1" <<<"$1" && test $(wc -l <<<"$1") -eq 1' _ "$out"
head -c 100 /dev/urandom > "$work/binary.tok"
out=$(vgpuctl license -c $URI vh-test-g --token "$work/binary.tok" --output "$work/seeds/h" 2>&1)
check "a binary token file is refused, nothing written: $out" bash -c 'grep -q "non-printable byte" <<<"$1" && test ! -e "$2"' _ "$out" "$work/seeds/h"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# test-metrics: `vgpuctl metrics` after real hook runs, read by real clients.
#
#   top_builddir=_build tests/test-metrics.sh     (make check sets top_builddir)
#
# On a fake host with the simulated kernel preloaded (as tests/test-hook.sh),
# the built vgpu-hook and `vgpuctl prepare/release/apply-profiles` prepare,
# refuse and release domains; then the metrics must count exactly that, carry
# the same resource numbers as `vgpuctl resources --json`, and describe each
# device's lease and profile (label values escaped). The output is checked by
# `promtool check metrics` (Debian's prometheus package), parsed with the
# Prometheus Python client, written with --output (atomic, 0644, the old file
# kept on failure) and finally served by Debian's prometheus-node-exporter on
# a loopback port, whose /metrics must carry our samples.
#
# Without promtool, the node exporter or python3-prometheus-client the checks
# that need them are not run and the script exits 77 (skip) after the others
# passed, naming what is missing (scripts/deps.sh installs them).
set -u

TEST_NAME=test-metrics
# shellcheck source=tests/sim-host.sh
. "${top_srcdir:-$(dirname "$0")/..}/tests/sim-host.sh"
PY=/usr/bin/python3 # Debian's, with python3-prometheus-client
PROMTOOL=$(command -v promtool)
EXPORTER=$(command -v prometheus-node-exporter || echo /usr/bin/prometheus-node-exporter)
exporter_pid=
test_cleanup() {
    if [ -n "$exporter_pid" ]; then
        kill "$exporter_pid" 2>/dev/null
        wait "$exporter_pid" 2>/dev/null
    fi
}
skipped=()

succeeded() {
    [ "$rc" -eq 0 ] && [ ! -s "$err" ]
}

# value FILE SERIES: the value of the sample SERIES (name{labels} as written;
# passed through the environment: awk -v would undo the escapes).
value() {
    SERIES=$2 awk '{ v = $NF; $NF = ""; sub(/ $/, ""); if ($0 == ENVIRON["SERIES"]) print v }' "$1"
}

# has FILE SERIES VALUE
has() {
    local got
    got=$(value "$1" "$2")
    if [ "$got" = "$3" ]; then return 0; fi
    echo "    $2: expected '$3', got '$got'"
    return 1
}

# ---- what the hook and vgpuctl do --------------------------------------------------
MDEV=0b9e5ac4-3d35-4b4c-9c63-6b0b0c8a2b11
WEIRD='we"ird\vm'
domain vm1 1 0000:41:00.4 >"$tmp/vm1.xml"
domain vm2 2 0000:41:00.5 >"$tmp/vm2.xml"
domain vm3 3 0000:41:00.6 >"$tmp/vm3.xml"
domain "$WEIRD" 4 0000:42:00.4 >"$tmp/weird.xml"
domain pt 5 0000:3b:00.0 nvidia.com/GA102GL_A10 >"$tmp/pt.xml"
cat >"$tmp/mdev.xml" <<EOF
<domain type='kvm'>
  <name>desk</name>
  <uuid>00000000-0000-4000-8000-000000000006</uuid>
  <metadata>
    <vgpu:devices xmlns:vgpu="urn:vgpu-hook:1">
      <vgpu:device alias="ua-vgpu0" resource="nvidia.com/GRID_T4-1Q"/>
    </vgpu:devices>
  </metadata>
  <devices>
    <hostdev mode='subsystem' type='mdev' model='vfio-pci'>
      <source><address uuid='$MDEV'/></source>
      <alias name='ua-vgpu0'/>
    </hostdev>
  </devices>
</domain>
EOF

hook vm1 prepare begin - <"$tmp/vm1.xml"
check "hook: prepare vm1" succeeded
ctl prepare "$tmp/vm2.xml"
check "vgpuctl prepare vm2" test "$rc" -eq 0
hook vm3 prepare begin - <"$tmp/vm3.xml"
check "hook: third L40S-24Q on one GPU refused (no capacity)" \
    test "$rc" -eq 1 -a "$(grep -c framebuffer "$err")" -eq 1
# (it names our namespace: the front end hands only such documents to the parser)
printf '<domain xmlns:vgpu="urn:vgpu-hook:1"><name>broken</name><devices><hostdev>' >"$tmp/bad.xml"
hook broken prepare begin - <"$tmp/bad.xml"
check "hook: malformed XML refused (invalid)" test "$rc" -eq 1
hook "$WEIRD" prepare begin - <"$tmp/weird.xml"
check "hook: prepare a domain named $WEIRD" succeeded
touch "$run/$WEIRD.pid" # it runs
# a VF a running domain holds: busy (held), not a lack of room
domain thief 7 0000:42:00.4 >"$tmp/thief.xml"
hook thief prepare begin - <"$tmp/thief.xml"
check "hook: $WEIRD's VF refused to another domain (busy)" \
    test "$rc" -eq 1 -a "$(grep -c "in use by running domain" "$err")" -eq 1
hook pt prepare begin - <"$tmp/pt.xml"
check "hook: prepare the A10" succeeded
hook pt release end - <"$tmp/pt.xml"
check "hook: release the A10" succeeded
# the operator's deny list: a refusal of its own kind, not "busy"
sed 's/^\[host\]$/[host]\ndeny=0000:3b:00.0/' "$conf" >"$tmp/deny.conf"
sim "$HOOK" --config "$tmp/deny.conf" pt prepare begin - <"$tmp/pt.xml" >"$out" 2>"$err"
check "hook: the A10 on the deny list refused (denied)" \
    bash -c '[ "$1" -eq 1 ] && grep -q "is denied" "$2"' _ $? "$err"
ctl prepare "$tmp/mdev.xml"
check "vgpuctl prepare an mdev domain" test "$rc" -eq 0
touch "$run/desk.pid"
hook vm1 release end destroyed <"$tmp/vm1.xml"
check "hook: release vm1" succeeded
# the driver refuses the reset while a VM still holds the VF: undo fails
mkdir -p "$sys/.fake-host/held"
touch "$sys/.fake-host/held/0000:41:00.5"
hook vm2 release end destroyed <"$tmp/vm2.xml"
check "hook: release of vm2 fails while the VF is held" test "$rc" -eq 1
hook vm3 release end failed <"$tmp/vm3.xml"
check "hook: release after the refused prepare (nothing to give back)" succeeded

printf '0000:42:00.5=L40S-99Q\n' >"$tmp/bad-profiles"
ctl apply-profiles "$tmp/bad-profiles"
check "apply-profiles with an unknown profile fails" test "$rc" -ne 0
ctl metrics
cp "$out" "$tmp/after-bad-apply.prom"
check "... and metrics say the last run failed" \
    has "$tmp/after-bad-apply.prom" vgpu_hook_apply_profiles_last_run_success 0
printf '0000:42:00.5=L40S-24Q\n' >"$tmp/profiles"
before_apply=$(date +%s)
ctl apply-profiles "$tmp/profiles"
check "apply-profiles sets 42:00.5" test "$rc" -eq 0

# ---- the metrics ---------------------------------------------------------------
prom=$tmp/metrics.prom
ctl metrics
cp "$out" "$prom"
check "vgpuctl metrics exits 0 without warnings" succeeded
check "prepared: vm1, vm2, $WEIRD, pt, desk" has "$prom" vgpu_hook_prepared_total 5
check "refused: busy 1 (the VF $WEIRD holds)" has "$prom" 'vgpu_hook_prepare_refused_total{reason="busy"}' 1
check "refused: no_capacity 1 (the third 24Q)" has "$prom" 'vgpu_hook_prepare_refused_total{reason="no_capacity"}' 1
check "refused: invalid 1" has "$prom" 'vgpu_hook_prepare_refused_total{reason="invalid"}' 1
check "refused: denied 1 (the deny list is not busy)" has "$prom" 'vgpu_hook_prepare_refused_total{reason="denied"}' 1
for reason in other not_found io unsupported config timeout; do
    check "refused: $reason 0 (and present)" \
        has "$prom" "vgpu_hook_prepare_refused_total{reason=\"$reason\"}" 0
done
check "released: pt, vm1 (not vm3: it held nothing)" has "$prom" vgpu_hook_released_total 2
check "undo failures: vm2's VF" has "$prom" vgpu_hook_undo_failures_total 1
check "no counter file resets" has "$prom" vgpu_hook_metrics_file_resets_total 0
check "apply-profiles: last run succeeded" has "$prom" vgpu_hook_apply_profiles_last_run_success 1
last_run=$(value "$prom" vgpu_hook_apply_profiles_last_run_timestamp_seconds)
check "apply-profiles: last run time is now ($last_run)" \
    test "${last_run:-0}" -ge "$before_apply" -a "${last_run:-0}" -le "$(($(date +%s) + 1))"

check "vm1's VF: reserved for vm1, profile reset" has "$prom" \
    'vgpu_hook_device_info{address="0000:41:00.4",kind="sriov-vf",resource="",profile="",lease="reserved",domain="vm1"}' 1
check "vm2's VF: its lease is stale (vm2 stopped) and still holds L40S-24Q" has "$prom" \
    'vgpu_hook_device_info{address="0000:41:00.5",kind="sriov-vf",resource="nvidia.com/L40S-24Q",profile="L40S-24Q",lease="stale",domain="vm2"}' 1
check "the refused domain's VF: no lease" has "$prom" \
    'vgpu_hook_device_info{address="0000:41:00.6",kind="sriov-vf",resource="",profile="",lease="none",domain=""}' 1
check "$WEIRD's VF: active, the name escaped" has "$prom" \
    'vgpu_hook_device_info{address="0000:42:00.4",kind="sriov-vf",resource="nvidia.com/L40S-24Q",profile="L40S-24Q",lease="active",domain="we\"ird\\vm"}' 1
check "the profile apply-profiles set, no lease" has "$prom" \
    'vgpu_hook_device_info{address="0000:42:00.5",kind="sriov-vf",resource="nvidia.com/L40S-24Q",profile="L40S-24Q",lease="none",domain=""}' 1
check "the A10: reserved for pt after its release" has "$prom" \
    'vgpu_hook_device_info{address="0000:3b:00.0",kind="passthrough",resource="nvidia.com/GA102GL_A10",profile="",lease="reserved",domain="pt"}' 1
check "the T4 is an mdev parent" has "$prom" \
    'vgpu_hook_device_info{address="0000:af:00.0",kind="mdev-parent",resource="",profile="",lease="none",domain=""}' 1
check "desk's mdev: active" has "$prom" \
    "vgpu_hook_mdev_info{uuid=\"$MDEV\",parent=\"0000:af:00.0\",type=\"nvidia-230\",resource=\"nvidia.com/GRID_T4-1Q\",lease=\"active\",domain=\"desk\"}" 1
check "every sample line has HELP and TYPE for its family" \
    test "$(grep -c '^# TYPE vgpu_hook_' "$prom")" -eq "$(grep -c '^# HELP vgpu_hook_' "$prom")"

ctl resources --json
cp "$out" "$tmp/resources.json"

# ---- real parsers: promtool and the Prometheus Python client ---------------------------
if [ -n "$PROMTOOL" ]; then
    "$PROMTOOL" check metrics <"$prom" >"$out" 2>"$err"
    rc=$?
    check "promtool check metrics: no problems" test "$rc" -eq 0 -a ! -s "$out" -a ! -s "$err"
else
    skipped+=("promtool (package prometheus)")
fi

# compare.py PROM RESOURCES.JSON: the resource gauges equal `vgpuctl resources`,
# parsed by the Prometheus client library.
cat >"$tmp/compare.py" <<'EOF'
import json, sys
from prometheus_client.parser import text_string_to_metric_families

samples = {}
for family in text_string_to_metric_families(open(sys.argv[1]).read()):
    for s in family.samples:
        samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
bad = 0
resources = json.load(open(sys.argv[2]))
for res in resources:
    labels = tuple(sorted({"resource": res["name"], "kind": res["kind"]}.items()))
    for key in ("capacity", "allocatable", "in_use"):
        got = samples.get(("vgpu_hook_resource_" + key, labels))
        if got != res[key]:
            print(f"{res['name']} {key}: metrics {got}, vgpuctl resources {res[key]}")
            bad += 1
names = {k[0] for k in samples}
print(f"{len(resources)} resources, {len(samples)} samples, {len(names)} metric names")
sys.exit(1 if bad or not resources else 0)
EOF
if "$PY" -c 'import prometheus_client' 2>/dev/null; then
    "$PY" "$tmp/compare.py" "$prom" "$tmp/resources.json" >"$out" 2>"$err"
    rc=$?
    check "resource gauges equal 'vgpuctl resources --json' ($(tail -1 "$out"))" test "$rc" -eq 0
else
    skipped+=("python3-prometheus-client")
fi

# ---- --output ----------------------------------------------------------------------
textdir=$tmp/textfile
mkdir -p "$textdir"
file=$textdir/vgpu-hook.prom
(umask 077 && sim "$CTL" --config "$conf" metrics --output "$file" >"$out" 2>"$err")
rc=$?
check "--output writes the file, prints nothing" test "$rc" -eq 0 -a ! -s "$out" -a ! -s "$err"
check "... with mode 0644 whatever the umask" test "$(stat -c %a "$file")" = 644
check "... the same text as stdout" cmp -s "$file" "$prom"
check "... and no temporary file left" test "$(ls -A "$textdir")" = vgpu-hook.prom
cp "$file" "$tmp/good.prom"
sim "$CTL" --config "$conf" --sysfs-root "$tmp/no-such-sys" metrics --output "$file" \
    >"$out" 2>"$err"
rc=$?
check "a failing run exits 1 with one line naming the file" \
    test "$rc" -eq 1 -a "$(wc -l <"$err")" -eq 1 -a "$(grep -c "left $file" "$err")" -eq 1
check "... and leaves the last good file as it was" cmp -s "$file" "$tmp/good.prom"
ctl metrics --output "$tmp/no-such-dir/x.prom"
check "an unwritable --output: exit 1, one line" test "$rc" -eq 1 -a "$(wc -l <"$err")" -eq 1
ctl metrics --json
check "--json is refused" test "$rc" -eq 1 -a "$(grep -c 'not supported' "$err")" -eq 1

# ---- a damaged or unusable counter file ------------------------------------------------
printf 'garbage\n\0\1' >"$state/metrics"
ctl metrics
check "damaged counters: metrics still exits 0" test "$rc" -eq 0
check "... warns once, naming the file" \
    test "$(grep -c "warning: counter file $state/metrics was damaged" "$err")" -eq 1
check "... resets it" has "$out" vgpu_hook_metrics_file_resets_total 1
check "... counting from zero" has "$out" vgpu_hook_prepared_total 0
check "... and keeps the damaged copy" test -s "$state/metrics.damaged"
ctl metrics
check "the next run is clean" succeeded
rm -f "$state/metrics"
mkdir "$state/metrics" # the counters cannot be written at all
domain vm7 7 0000:41:00.6 >"$tmp/vm7.xml"
hook vm7 prepare begin - <"$tmp/vm7.xml"
check "an unwritable counter file never fails the hook" succeeded
hook vm7 release end destroyed <"$tmp/vm7.xml"
check "... nor its release" succeeded
rmdir "$state/metrics"

# ---- node_exporter's textfile collector serves the file ---------------------------------
# Port: a free one the kernel picks for a moment; node_exporter binds it next.
free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

if [ -x "$EXPORTER" ] && "$PY" -c 'import prometheus_client' 2>/dev/null; then
    port=$(free_port)
    "$EXPORTER" --web.listen-address="127.0.0.1:$port" --collector.disable-defaults \
        --collector.textfile --collector.textfile.directory="$textdir" \
        >"$tmp/exporter.log" 2>&1 &
    exporter_pid=$!
    scraped=$tmp/scraped.txt
    for _ in $(seq 50); do
        if "$PY" -c "import urllib.request,sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$port/metrics', timeout=5).read().decode())" \
            >"$scraped" 2>/dev/null; then
            break
        fi
        kill -0 "$exporter_pid" 2>/dev/null || break
        sleep 0.2
    done
    if [ -s "$scraped" ]; then
        pass "node_exporter (pid $exporter_pid) serves /metrics on 127.0.0.1:$port"
        # our samples, read back by the client library from node_exporter
        cat >"$tmp/served.py" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families

def load(path):
    out = {}
    for family in text_string_to_metric_families(open(path).read()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out

ours, served = load(sys.argv[1]), load(sys.argv[2])
missing = [k for k in ours if served.get(k) != ours[k]]
for k in missing[:10]:
    print("not served as written:", k, ours[k], served.get(k))
errors = [v for k, v in served.items() if k[0] == "node_textfile_scrape_error"]
print(f"{len(ours) - len(missing)} of {len(ours)} samples served; scrape error {errors}")
sys.exit(0 if ours and not missing and errors == [0.0] else 1)
EOF
        "$PY" "$tmp/served.py" "$file" "$scraped" >"$out" 2>"$err"
        rc=$?
        check "every sample of the file is served unchanged ($(tail -1 "$out"))" test "$rc" -eq 0
        check "... e.g. vgpu_hook_prepared_total 5" grep -qx 'vgpu_hook_prepared_total 5' "$scraped"
        check "... with our HELP text" grep -q '^# HELP vgpu_hook_undo_failures_total Devices' "$scraped"
    else
        cp "$tmp/exporter.log" "$err"
        : >"$out"
        fail "node_exporter did not serve /metrics on 127.0.0.1:$port"
    fi
    kill "$exporter_pid" 2>/dev/null
    wait "$exporter_pid" 2>/dev/null
    exporter_pid=
else
    skipped+=("prometheus-node-exporter")
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] || exit 1
if [ "${#skipped[@]}" -gt 0 ]; then
    echo "SKIP: not installed: ${skipped[*]} (scripts/deps.sh installs them); the other checks passed" >&2
    exit 77
fi
exit 0

#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-or-later
# bad-inputs: a table of hostile or broken inputs, each run against the built
# vgpu-hook / vgpuctl on a fresh fake host with the simulated kernel preloaded
# (the approach of tests/test-hook.sh).
#
#   top_builddir=_build tests/bad-inputs/run.sh [CASE...]   (make check sets it)
#   VH_BAD_INPUTS_JOBS=N (default 4) cases at once; VH_BAD_INPUTS_TIMEOUT=S per command
#
# One directory per case under tests/bad-inputs/cases/NAME/:
#   case        required, sourced by bash:
#                 desc="what the case feeds in"
#                 cmd="hook"             vgpu-hook --config CONF NAME prepare begin -
#                                        < domain.xml (NAME: hook_name=, default "bad")
#                 cmd="vgpuctl ARGS..."  vgpuctl --config CONF ARGS... (@DOMAIN@ in ARGS
#                                        is the path of the case's domain XML)
#                 rc=N                   expected exit status
#                 stderr="TEXT"          expected stderr substring (grep -F)
#                 stderr_lines=N         vgpuctl: exact number of stderr lines (optional)
#   domain.xml  the domain (default: ../../domain.xml, one L40S-24Q VF)
#   stdin.sh    instead of domain.xml: run with bash, its stdout is the hook's stdin
#               (documents too big to commit are generated here)
#   host.ini    fake host description (default: ../../host.ini; tests/fake-host.h)
#   config.ini  whole configuration (default: ../../config.ini); @SYS@ @STATE@ @DEV@
#               @RUN@ @WORK@ are replaced by the case's directories
#   config.add  lines appended to the configuration
#   state/      copied into the state directory before the run (leases/...)
#   setup.sh    sourced after the tree is built: mutations of the tree
#               ($sys $state $dev $run $work are set)
#
# For every case, beyond the exit status and the stderr text:
#  - the hook's stderr is one line starting with "vgpu-hook: " (libvirt shows it),
#    printable, at most 1000 bytes; a failing vgpuctl's last line starts "vgpuctl: ";
#  - nothing is written outside the sysfs root and the state directory: the rest of
#    the case directory is compared before/after, and (as root) the script runs in
#    a private mount namespace with empty tmpfs /tmp and /run that must stay empty
#    (otherwise only the command's own TMPDIR is watched);
#  - no active lease of the domain is left, and a refused command leaves the lease
#    files as they were;
#  - drivers, driver_override and current_vgpu_type of every device are as before,
#    no mdev was left behind, and no VF holds a profile without an active lease.
# Prints one PASS/FAIL line per case and "N passed, N failed"; exit 1 on failure.
set -u

srcdir=$(cd "$(dirname "$0")" && pwd)
builddir=$(cd "${top_builddir:-.}" && pwd)
HOOK=$builddir/vgpu-hook
CTL=$builddir/vgpuctl
FAKEHOST=$builddir/tests/vh-fakehost
SHIM=$builddir/tests/.libs/libsimkernel.so
TIMEOUT=${VH_BAD_INPUTS_TIMEOUT:-20}

for f in "$HOOK" "$CTL" "$FAKEHOST" "$SHIM"; do
    if [ ! -e "$f" ]; then
        echo "bad-inputs: $f is missing: run 'make check' (or build it) first" >&2
        exit 99
    fi
done
# libtool wrappers: run the real binaries (the wrapper would write into .libs);
# the hook is a plain program already (its front end links libc only) and
# execs the worker (its libtool wrapper) next to it
[ -x "$builddir/.libs/vgpuctl" ] && CTL=$builddir/.libs/vgpuctl
export LD_LIBRARY_PATH=$builddir/plugin/.libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# VH_BAD_INPUTS_ISOLATE=no: skip the private /tmp and /run (watch TMPDIR only)
isolate=${VH_BAD_INPUTS_ISOLATE:-}
if [ -z "$isolate" ]; then
    isolate=no
    case $builddir/:$srcdir/ in
    /tmp/* | */:/tmp/* | /run/* | */:/run/*) ;; # we would hide ourselves
    *)
        if [ "$(id -u)" -eq 0 ] && command -v unshare >/dev/null &&
            unshare -m sh -c 'mount -t tmpfs vh-probe /tmp' 2>/dev/null; then
            isolate=yes
        fi ;;
    esac
fi

# Outside /tmp: the command sees a private, empty /tmp. As root, the cases'
# trees live on a tmpfs mounted in a private mount namespace of this script
# (thousands of small files and links: a disk file system makes the table
# several times slower), which vanishes with it.
if [ -n "${VH_BAD_INPUTS_IN_NS:-}" ]; then
    top=$VH_BAD_INPUTS_IN_NS
    mount -t tmpfs -o size=2g,mode=0700 vh-bad-inputs "$top" || exit 99
    # and the commands find empty, private /tmp and /run, which must stay so
    mount -t tmpfs vh-tmp /tmp && mount -t tmpfs vh-run /run || exit 99
else
    top=$(mktemp -d "$builddir/tests/bad-inputs.XXXXXX") || exit 99
    trap 'chmod -R u+rwX "$top" 2>/dev/null; rm -rf "$top"' EXIT
    if [ "$isolate" = yes ]; then
        VH_BAD_INPUTS_IN_NS=$top unshare -m -- bash "$0" "$@"
        exit $?
    fi
fi

passed=0
failed=0
shopt -s nullglob

# snapshot WORK: the case directory in one find (forks are what makes a table
# of cases slow on a busy machine). Files outside sys/, dev/ and state/ by
# path, type, mode, size, mtime and link target ("rest"); the fake sysfs and
# dev trees by path, type and link target ("tree": drivers, mdev instances,
# vfio nodes) and the contents of driver_override and current_vgpu_type
# ("./sys/...:VALUE"); lease files by name and contents ("lease",
# "./state/leases/KEY:LINE"). Not compared: cap/ (our captures), the
# simulator's bookkeeping, and the rest of the state directory (lock, caches) and the vGPU type cache.
snapshot() {
    (cd "$1" && find . \( -path ./cap -o -path ./sys/.fake-host \) -prune -o \
        \( -path ./sys -o -path './sys/*' -o -path ./dev -o -path './dev/*' \) \
        \( \( -name driver_override -o -name current_vgpu_type \) -type f \
        -exec grep -H -e '' {} + -o -printf 'tree %p %y %l\n' \) -o \
        -path './state/leases/*' \( \( -type f -exec grep -H -e '' {} + \) , \
        -printf 'lease %p %y %l\n' \) -o \
        \( -path ./state -o -path './state/*' -o -path ./state.cache -o -path './state.cache/*' \) -o \
        -printf 'rest %p %y %m %s %T@ %l\n' | LC_ALL=C sort)
}

run_case() {
    local name=$1 dir=$srcdir/cases/$1
    local desc="" cmd="" rc="" stderr="" stderr_lines="" hook_name=bad
    local work=$top/$name sys dev run state conf input why=() got
    local -a argv

    # shellcheck disable=SC1090,SC1091
    . "$dir/case" || { why+=("cannot read $dir/case"); }
    sys=$work/sys dev=$work/dev run=$work/run state=$work/state conf=$work/vgpu-hook.conf
    # state.cache: the persistent vGPU type cache ([host] cache_dir), a
    # place of ours like the state directory
    mkdir -p "$work/cap" "$dev/vfio" "$run" "$state" "$state.cache"
    local host=$srcdir/host.ini
    [ -f "$dir/host.ini" ] && host=$dir/host.ini
    # one tree per description, built before the cases run (build_tree)
    local base=$top/.trees/${host//\//_}
    [ -d "$base" ] || why+=("no fake host tree for $host: $(cat "$base.log" 2>/dev/null)")
    cp -a "$base" "$sys"
    local cf=$srcdir/config.ini
    [ -f "$dir/config.ini" ] && cf=$dir/config.ini
    sed -e "s|@SYS@|$sys|g" -e "s|@STATE@|$state|g" -e "s|@DEV@|$dev|g" -e "s|@RUN@|$run|g" \
        -e "s|@WORK@|$work|g" -e "s|@SRC@|$srcdir|g" "$cf" >"$conf"
    [ -f "$dir/config.add" ] && sed -e "s|@SYS@|$sys|g" -e "s|@STATE@|$state|g" \
        -e "s|@WORK@|$work|g" "$dir/config.add" >>"$conf"
    [ -d "$dir/state" ] && cp -a "$dir/state/." "$state/"
    if [ -f "$dir/stdin.sh" ]; then
        input=$work/domain.xml
        bash "$dir/stdin.sh" >"$input"
    elif [ -f "$dir/domain.xml" ]; then
        input=$dir/domain.xml
    else
        input=$srcdir/domain.xml
    fi
    if [ -f "$dir/setup.sh" ]; then
        # shellcheck disable=SC1090,SC1091
        (cd "$work" && . "$dir/setup.sh") >"$work/cap/setup" 2>&1 ||
            why+=("setup.sh failed: $(head -c 300 "$work/cap/setup")")
    fi

    snapshot "$work" >"$work/cap/before"
    # Without a private /tmp (the build tree is under /tmp, or not root),
    # the shared /tmp cannot be watched: other tests of a parallel make
    # check write there. The command gets a TMPDIR of its own instead.
    mkdir -p "$work/cap/tmp"

    if [ "${cmd%% *}" = hook ]; then
        argv=("$HOOK" --config "$conf" "$hook_name" prepare begin -)
    else
        read -r -a argv <<<"${cmd#vgpuctl}"
        argv=("$CTL" --config "$conf" "${argv[@]//@DOMAIN@/$input}")
    fi
    local out=$work/cap/out err=$work/cap/err leak=$work/cap/leak
    TMPDIR=$work/cap/tmp LD_PRELOAD=$SHIM VH_SIM_SYSFS_ROOT=$sys VH_SIM_DEV_DIR=$dev \
        timeout "$TIMEOUT" "${argv[@]}" <"$input" >"$out" 2>"$err"
    got=$?
    if [ "$isolate" = yes ]; then
        # private /tmp and /run: anything there was written by a command
        # (cases run a few at once: this one, or one running beside it)
        local -a left
        left=(/tmp/* /tmp/.[!.]* /run/* /run/.[!.]*)
        if [ ${#left[@]} -gt 0 ]; then
            printf '%s\n' "${left[@]}" >"$leak"
            rm -rf "${left[@]}"
        fi
    else
        ls -A "$work/cap/tmp" >"$leak"
    fi

    # ---- checks ----
    local -a lines=()
    local all="" line LC_ALL=C
    mapfile -t lines <"$err"
    for line in "${lines[@]}"; do all+="$line"$'\n'; done
    [ "$got" = "$rc" ] || why+=("exit status $got, expected $rc")
    [ "$got" = 124 ] && why+=("timed out after ${TIMEOUT}s")
    if [ -n "$stderr" ] && [[ $all != *"$stderr"* ]]; then
        why+=("stderr lacks '$stderr'")
    fi
    for line in "${lines[@]}"; do
        if [[ $line == *[[:cntrl:]]* ]]; then
            why+=("stderr has control characters")
            break
        fi
    done
    if [ "${cmd%% *}" = hook ]; then
        if [ "$rc" != 0 ]; then
            [ ${#lines[@]} -eq 1 ] || why+=("hook stderr is ${#lines[@]} lines, not 1")
            [[ ${lines[0]:-} == "vgpu-hook: "* ]] || why+=("hook stderr does not start with 'vgpu-hook: '")
            [ ${#all} -le 1000 ] || why+=("hook stderr is ${#all} characters")
            [ -s "$out" ] && why+=("hook wrote to stdout")
        fi
    else
        if [ "$rc" != 0 ]; then
            [[ ${lines[-1]:-} == "vgpuctl: "* ]] || why+=("vgpuctl's last stderr line does not start with 'vgpuctl: '")
        fi
        if [ -n "$stderr_lines" ] && [ ${#lines[@]} -ne "$stderr_lines" ]; then
            why+=("stderr is ${#lines[@]} lines, expected $stderr_lines")
        fi
    fi
    if [[ $all == *[![:ascii:]]* ]]; then
        iconv -f UTF-8 -t UTF-8 "$err" >/dev/null 2>&1 || why+=("stderr is not UTF-8")
    fi
    [ -s "$leak" ] && why+=("wrote outside the case: $(head -c 200 "$leak" | tr '\n' ' ')")
    snapshot "$work" >"$work/cap/after"
    if ! cmp -s "$work/cap/before" "$work/cap/after"; then
        diff "$work/cap/before" "$work/cap/after" | grep '^[<>]' >"$work/cap/diff"
        grep -q '^. rest ' "$work/cap/diff" &&
            why+=("files outside sysfs root and state dir changed: $(grep '^. rest ' "$work/cap/diff" | head -3 | tr '\n' ' ')")
        grep -q '^. \(tree \|\./sys/\|\./dev/\)' "$work/cap/diff" &&
            why+=("devices changed: $(grep '^. \(tree \|\./sys/\|\./dev/\)' "$work/cap/diff" | head -4 | tr '\n' ' ')")
        if [ "$rc" != 0 ] || [ "${cmd%% *}" != hook ]; then
            grep -q '^. \(lease \|\./state/\)' "$work/cap/diff" &&
                why+=("lease files changed: $(grep '^. \(lease \|\./state/\)' "$work/cap/diff" | head -3 | tr '\n' ' ')")
        fi
        grep -q '^> \./state/leases/.*:state=active$' "$work/cap/diff" &&
            why+=("an active lease is left: $(grep '^> \./state/leases/.*:state=active$' "$work/cap/diff" | head -2 | tr '\n' ' ')")
    fi
    local vf p
    for vf in "$sys"/bus/pci/devices/*/nvidia/current_vgpu_type; do
        [ -f "$vf" ] || continue
        p=
        read -r p <"$vf" 2>/dev/null
        vf=${vf%/nvidia/current_vgpu_type}
        vf=${vf##*/}
        case $p in '' | 0 | *[!0-9]*) continue ;; esac
        if ! grep -qsx 'state=active' "$state/leases/$vf"; then
            why+=("VF $vf holds profile $p without an active lease")
        fi
    done

    if [ ${#why[@]} -eq 0 ]; then
        echo "PASS: $name: $desc"
    else
        echo "FAIL: $name: $desc"
        printf '    %s\n' "${why[@]}"
        sed 's/^/    stderr: /' "$err" | head -c 1500 | head -8
        [ -s "$out" ] && sed 's/^/    stdout: /' "$out" | head -c 600 | head -4
    fi
    # keep the top directory small: drop the case's tree (a tmpfs as root:
    # it goes with the namespace)
    [ -n "${VH_BAD_INPUTS_IN_NS:-}" ] || rm -rf "$work"
    [ -f "$work/domain.xml" ] && : >"$work/domain.xml"
}

if [ $# -gt 0 ]; then
    cases=("$@")
else
    cases=()
    for d in "$srcdir"/cases/*/; do
        cases+=("$(basename "$d")")
    done
fi
# build_tree HOST.INI: the fake host, once per description (vh-fakehost is
# slower than cp -a, which copies it for each case).
build_tree() {
    local base=$top/.trees/${1//\//_}
    [ -d "$base" ] && return
    mkdir -p "$top/.trees"
    "$FAKEHOST" "$1" "$base" >"$base.log" 2>&1 || rm -rf "$base"
}

# Cases are independent (own tree, state and namespace): run a few at once.
jobs=${VH_BAD_INPUTS_JOBS:-4}
for c in "${cases[@]}"; do
    if [ -f "$srcdir/cases/$c/host.ini" ]; then
        build_tree "$srcdir/cases/$c/host.ini"
    else
        build_tree "$srcdir/host.ini"
    fi
done
for c in "${cases[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
        wait -n
    done
    run_case "$c" >"$top/$c.result" 2>&1 &
done
wait
for c in "${cases[@]}"; do
    cat "$top/$c.result"
    if head -n 1 "$top/$c.result" | grep -q '^PASS: '; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]

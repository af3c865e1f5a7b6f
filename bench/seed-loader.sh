#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# seed-loader.sh SYSFS_ROOT PROFILES [FAILDIR]: one pass of the seed's vGPU
# profile loader (the inner `while IFS= read -r line` loop of the loader
# DaemonSet in cozystack-gpu-passthrough-and-vgpu.txt), unchanged except
# that /sys is SYSFS_ROOT, the ConfigMap file is PROFILES and the per-bus
# failure flags live in FAILDIR (default /tmp) instead of /tmp. The outer
# `while true ... sleep 60` loop and the SIGTERM trap are left out.
#
# bench/run.sh runs it with the simulated kernel preloaded (so the writes to
# current_vgpu_type are checked and applied as NVIDIA's driver would) and
# compares it with `vgpuctl apply-profiles` on the same file and tree.
set -u
sys=$1
profiles=$2
faildir=${3:-/tmp}
while IFS= read -r line; do
  # strip leading/trailing whitespace and any trailing comment
  line=$(printf '%s' "$line" | sed 's/[[:space:]]*#.*$//;s/^[[:space:]]*//;s/[[:space:]]*$//')
  [ -z "$line" ] && continue
  bus=${line%%=*}; profile=${line#*=}
  [ "$bus" = "$line" ] && { echo "skip malformed line: $line"; continue; }
  path="$sys/bus/pci/devices/$bus/nvidia/current_vgpu_type"
  [ -w "$path" ] || { echo "skip $bus (no $path)"; continue; }
  # read-before-write: skip if the profile already matches
  current=$(cat "$path" 2>/dev/null || printf '')
  if [ "$current" = "$profile" ]; then
    continue
  fi
  # printf '%s' avoids a trailing newline that some driver
  # versions reject as 'invalid argument'.
  if printf '%s' "$profile" > "$path" 2>/dev/null; then
    echo "set $bus -> $profile (was $current)"
    # clear the per-bus failure flag once a write succeeds
    rm -f "$faildir/.fail.$bus" 2>/dev/null
  else
    if [ ! -e "$faildir/.fail.$bus" ]; then
      echo "WARN: write rejected for $bus -> $profile (current=$current); will retry quietly until success"
      : > "$faildir/.fail.$bus"
    fi
  fi
done < "$profiles"

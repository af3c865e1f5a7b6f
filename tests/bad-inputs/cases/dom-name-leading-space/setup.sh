# SPDX-License-Identifier: GPL-2.0-or-later
# the victim starts through the hook (its lease names it exactly), then runs
sed -e 's|<name>bad</name>|<name> victim</name>|' -e 's|0000000000b1|0000000000c1|' \
    "$srcdir/domain.xml" >"$work/victim.xml"
LD_PRELOAD=$SHIM VH_SIM_SYSFS_ROOT=$sys VH_SIM_DEV_DIR=$dev \
    "$HOOK" --config "$conf" " victim" prepare begin - <"$work/victim.xml"
touch "$run/ victim.pid"

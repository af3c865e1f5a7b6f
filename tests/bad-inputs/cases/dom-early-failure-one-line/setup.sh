# SPDX-License-Identifier: GPL-2.0-or-later
# a running domain holds 12Q on another VF of the GPU
sed -e 's|<name>bad</name>|<name>victim</name>|' -e 's|0000000000b1|0000000000c1|' \
    -e "s|function='0x4'|function='0x5'|" -e 's|L40S-24Q|L40S-12Q|' \
    "$srcdir/domain.xml" >"$work/victim.xml"
LD_PRELOAD=$SHIM VH_SIM_SYSFS_ROOT=$sys VH_SIM_DEV_DIR=$dev \
    "$HOOK" --config "$conf" victim prepare begin - <"$work/victim.xml"
touch "$run/victim.pid"
# the VF asked for refuses a reset (the simulator's "held")
mkdir -p "$sys/.fake-host/held"
touch "$sys/.fake-host/held/0000:41:00.4"

# SPDX-License-Identifier: GPL-2.0-or-later
# the victim runs on 0000:41:00.5 with a profile, through the hook
sed -e 's|<name>bad</name>|<name>victim</name>|' -e 's|0000000000b1|0000000000c1|' \
    -e "s|function='0x4'|function='0x5'|" "$srcdir/domain.xml" >"$work/victim.xml"
LD_PRELOAD=$SHIM VH_SIM_SYSFS_ROOT=$sys VH_SIM_DEV_DIR=$dev \
    "$HOOK" --config "$conf" victim prepare begin - <"$work/victim.xml"
touch "$run/victim.pid"
# a lease of domain 'bad' whose name and device= disagree
printf '[lease]\ndevice=0000:41:00.5\nresource=nvidia.com/L40S-24Q\ndomain=bad\nuuid=00000000-0000-4000-8000-0000000000b1\nstate=active\nsince=1\nprofile_written=true\n' \
    >"$state/leases/0000:41:00.4"

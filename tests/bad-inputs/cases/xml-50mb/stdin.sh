# SPDX-License-Identifier: GPL-2.0-or-later
# 50 MB: a valid domain padded with a huge comment
printf "<domain type='kvm'><name>bad</name><uuid>00000000-0000-4000-8000-0000000000b1</uuid><!-- "
head -c 52428800 /dev/zero | tr '\0' 'x'
printf ' --></domain>\n'

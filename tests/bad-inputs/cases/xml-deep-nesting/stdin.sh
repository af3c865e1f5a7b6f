# SPDX-License-Identifier: GPL-2.0-or-later
printf "<domain type='kvm' xmlns:vgpu='urn:vgpu-hook:1'><name>bad</name><uuid>00000000-0000-4000-8000-0000000000b1</uuid><metadata>"
yes '<a>' | head -n 100000 | tr -d '\n'
yes '</a>' | head -n 100000 | tr -d '\n'
printf "</metadata></domain>\n"

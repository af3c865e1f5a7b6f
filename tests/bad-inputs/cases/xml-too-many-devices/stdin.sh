# SPDX-License-Identifier: GPL-2.0-or-later
printf "<domain type='kvm'><name>bad</name><uuid>00000000-0000-4000-8000-0000000000b1</uuid>"
printf "<metadata><vgpu:devices xmlns:vgpu='urn:vgpu-hook:1'>"
seq 0 64999 | sed 's|.*|<vgpu:device alias="ua-&" resource="nvidia.com/L40S-24Q"/>|' | tr -d '\n'
printf "</vgpu:devices></metadata><devices/></domain>\n"

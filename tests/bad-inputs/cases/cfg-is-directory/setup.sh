rm -f "$work/vgpu-hook.conf"; mkdir "$work/vgpu-hook.conf"

rm -f "$work/vgpu-hook.conf"

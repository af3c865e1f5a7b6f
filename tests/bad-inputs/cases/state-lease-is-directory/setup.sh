mkdir -p "$state/leases/0000:41:00.4/sub"

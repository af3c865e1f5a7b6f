mkdir -p "$state/lock"

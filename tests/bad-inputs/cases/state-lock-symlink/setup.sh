echo keep >"$work/victim"; ln -s "$work/victim" "$state/lock"

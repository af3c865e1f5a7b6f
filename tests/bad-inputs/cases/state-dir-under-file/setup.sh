echo plain >"$work/plainfile"

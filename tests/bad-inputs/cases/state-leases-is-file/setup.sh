echo x >"$state/leases"

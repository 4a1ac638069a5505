"""smtp.bz, the provider: its HTTP API, the monthly quota, its own suppression list."""

"""Where jobs run: database leases, the scheduler service, Ray."""

"""Maintenance-log connectors: CMMS-style CSV/JSON exports into maintenance records."""

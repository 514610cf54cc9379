"""Basic types every package may use: errors, the name registry, records, settings."""

"""PlantPulse's one typed, frozen configuration and its sections."""

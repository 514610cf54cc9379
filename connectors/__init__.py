"""PlantPulse connectors package."""

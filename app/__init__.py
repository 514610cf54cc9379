"""PlantPulse app package."""

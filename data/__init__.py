"""PlantPulse data package."""

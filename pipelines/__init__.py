"""PlantPulse pipelines package."""

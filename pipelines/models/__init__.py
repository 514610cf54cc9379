"""The model registry as a service: register, list, show, promote and roll back model versions."""

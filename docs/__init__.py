"""The project's reports (evaluation, benchmarks), shipped as package data: the dashboard shows them."""

"""Sensor-file connectors (CSV, Parquet): wide or long files into columnar readings."""

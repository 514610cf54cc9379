"""The ingest job: files and streams -> connectors -> one transaction in the database."""

"""The database: engine, schema, migrations, bulk writing, the image store, repositories."""

"""The store: schema, migrations, ingest and the mapping of real exports."""

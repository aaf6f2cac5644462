"""Alembic environment: migrations run from geo.storage.store.migrate with a connection supplied."""
from alembic import context

from geo.storage.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` run by hand: build an engine from the URL
    import sqlalchemy as sa
    connection = sa.create_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()

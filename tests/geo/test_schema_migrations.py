"""The migrations build exactly the schema that geo/schema.py declares (one declaration of the
contract's tables: a new drop file needs its migration, and this test says which is missing)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from geo import schema
from geo.model import FILES
from geo.store import Store


def test_migrations_match_the_declared_schema(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/m.sqlite")
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == [], f"geo/schema.py and the migrations disagree: {diff}"


def test_every_contract_file_has_its_table_and_columns():
    for spec in FILES:
        table = schema.DROP_TABLES[spec.table]
        stored = set(table.c.keys())
        for col in spec.columns:
            if col.kind in ("float",) and col.name in ("latitude", "longitude"):
                continue          # converted to easting/northing on ingest
            assert col.name in stored, f"{spec.name}.{col.name} has no column in {table.name}"

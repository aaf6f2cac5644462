"""The migrations build exactly the schema that geo/storage/schema.py declares (one declaration of the
contract's tables: a new drop file needs its migration, and this test says which is missing)."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from geo.storage import schema
from geo.model import FILES
from geo.storage.store import Store


def test_migrations_match_the_declared_schema(tmp_path):
    store = Store(f"sqlite:///{tmp_path}/m.sqlite")
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diff == [], f"geo/storage/schema.py and the migrations disagree: {diff}"


def test_every_contract_file_has_its_table_and_columns():
    for spec in FILES:
        table = schema.DROP_TABLES[spec.table]
        stored = set(table.c.keys())
        for col in spec.columns:
            if col.kind in ("float",) and col.name in ("latitude", "longitude"):
                continue          # converted to easting/northing on ingest
            assert col.name in stored, f"{spec.name}.{col.name} has no column in {table.name}"


def test_drop_tables_are_derived_from_the_declaration():
    """Each drop table is the contract's declaration of its file (geo.model.CONTRACT): its stored
    columns in order, their types and nullability, the natural key and the declared indexes;
    a migration that disagrees with the declaration fails the autogenerate check above."""
    import sqlalchemy as sa

    from geo.model import CONTRACT
    assert set(schema.DROP_TABLES) == {spec.table for spec in CONTRACT.files}
    kinds = {"date": sa.Date, "datetime": sa.DateTime, "int": sa.Integer, "float": sa.Float,
             "bool": sa.Boolean}
    for spec in CONTRACT.files:
        table = schema.DROP_TABLES[spec.table]
        stored = spec.stored_columns()
        assert list(table.c.keys()) == ["id", *[c.name for c in stored], "extra", "row_hash",
                                        "run_id"], spec.name
        for col in stored:
            t = table.c[col.name]
            assert isinstance(t.type, kinds.get(col.kind, sa.String)), f"{spec.name}.{col.name}"
            if col.required:
                assert not t.nullable or col.nullable, f"{spec.name}.{col.name}"
        for col in spec.columns:
            assert (col.name in table.c) == col.stored, f"{spec.name}.{col.name}"
        (uq,) = [c for c in table.constraints if isinstance(c, sa.UniqueConstraint)]
        assert [c.name for c in uq.columns] == ["source", *spec.key]
        assert {ix.name for ix in table.indexes} == {f"ix_{spec.table}_{c}" for c in spec.indexes}

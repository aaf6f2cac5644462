"""Adding a drop file is one declaration plus its validation rules (issue 17).

A toy file declared in a temporary registry (``CONTRACT.extend``; nothing is added to the
production contract) is picked up by the schema (its table, and the migration check naming the
missing migration), by validation (column checks and its registered rule hold rows), by the
generator's header and by erasure (its rows go with the child, its mentions are scrubbed).
"""
from __future__ import annotations

import secrets

import pandas as pd
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from api.jobs.erase import erase_subject
from api.minimise import Minimiser
from geo.storage import schema
from geo.storage.ingest import ingest_drop
from geo.model import CONTRACT, Column, Erasure, FileSpec
from geo.storage.store import open_store

VISITS = FileSpec(
    "school_visits", "school_visits", ("visit_id",), (
        Column("visit_id", "id", True), Column("child_id", "id", True),
        Column("visited_at", "datetime", True), Column("companions", "refs"),
        Column("venue", "location"), Column("source", size=64)),
    locations=("venue",),
    personal=("child_id", "visited_at", "companions", "venue"),
    erasure=Erasure("deleted with the child; companions mentions scrubbed", with_child=True,
                    mentions=(("companions", "visit_mentions"),)),
    derived=(Column("child_key", size=200, nullable=False, after="child_id"),),
    indexes=("child_key",))


@pytest.fixture
def toy():
    contract = CONTRACT.extend(VISITS)

    @contract.rule("school_visits")
    def _visits(ctx, frame, problems, warnings):
        problems.add(frame["visited_at"] < pd.Timestamp("2000-01-01"), "visited_at",
                     "a school visit before 2000")
        return ctx.resolve_children(frame, problems, warnings, "school visits")

    return contract


def test_the_registry_refuses_an_incomplete_declaration():
    with pytest.raises(ValueError, match="declares its erasure"):
        CONTRACT.extend(FileSpec("notes", "notes", ("note_id",), (
            Column("note_id", "id", True), Column("about", "refs")), personal=("about",)))
    with pytest.raises(ValueError, match="references to people are personal"):
        CONTRACT.extend(FileSpec("notes", "notes", ("note_id",), (
            Column("note_id", "id", True), Column("about", "refs"))))
    with pytest.raises(ValueError, match="derived child_key"):
        CONTRACT.extend(FileSpec("notes", "notes", ("note_id",), (
            Column("note_id", "id", True), Column("child_id", "id")), personal=("child_id",),
            erasure=Erasure("with the child", with_child=True)))
    with pytest.raises(KeyError):
        CONTRACT.rule("no_such_file")
    assert "school_visits" not in CONTRACT.by_name       # the production contract is untouched


def test_schema_and_migration_check_pick_up_a_declared_file(toy, tmp_path):
    table = schema.tables_of(toy)["school_visits"]
    assert list(table.c.keys()) == ["id", "source", "visit_id", "child_id", "child_key",
                                    "visited_at", "companions", "venue", "extra", "row_hash",
                                    "run_id"]
    assert not table.c.visited_at.nullable and not table.c.child_key.nullable
    assert isinstance(table.c.visited_at.type, sa.DateTime)
    assert {ix.name for ix in table.indexes} == {"ix_school_visits_child_key"}
    assert schema.tables_of(CONTRACT) is schema.DROP_TABLES
    # the migration check (tests/geo/test_schema_migrations.py) names the missing migration
    meta = sa.MetaData()
    for t in schema.metadata.tables.values():
        t.to_metadata(meta)
    schema.drop_table(VISITS, meta)
    store = open_store(f"sqlite:///{tmp_path}/m.sqlite")
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), meta)
    added = [d[1].name for d in diff if d[0] == "add_table"]
    assert added == ["school_visits"] and len(diff) == len(added) + 1   # and its index
    store.engine.dispose()


def _drop(path, toy):
    path.mkdir()
    header = toy.header("school_visits")
    assert header == ["visit_id", "child_id", "visited_at", "companions", "venue", "source"]
    pd.DataFrame({"child_id": ["C1", "C2"], "given_name": ["Toyone", "Toytwo"],
                  "family_name": ["Testfamily", "Testfamily"], "source": "toy"}
                 ).to_csv(path / "children.csv", index=False)
    pd.DataFrame([["V1", "C1", "2017-03-01 10:00", "child:C2", "", "toy"],
                  ["V2", "C2", "2017-03-02 10:00", "child:C1;person:Z9", "", "toy"],
                  ["V3", "C1", "not a date", "", "", "toy"],
                  ["V4", "C2", "1999-03-02 10:00", "", "", "toy"],
                  ["V5", "C1", "2017-04-01 10:00", "", "", "toy"]],
                 columns=header).to_csv(path / "school_visits.csv", index=False)
    return path


def test_validation_and_erasure_pick_up_a_declared_file(toy, tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/w.sqlite")
    visits = schema.tables_of(toy)["school_visits"]
    visits.create(store.engine)
    report = ingest_drop(store, _drop(tmp_path / "drop", toy), geocode=False, contract=toy)
    rep = report.files["school_visits.csv"]
    assert (rep.read, rep.accepted, rep.held) == (5, 3, 2)
    with store.engine.connect() as conn:
        held = dict(conn.execute(sa.select(schema.held_rows.c.line, schema.held_rows.c.reason)
                                 .where(schema.held_rows.c.file == "school_visits.csv")).all())
        rows = dict(conn.execute(sa.select(visits.c.visit_id, visits.c.child_key)).all())
    assert held[4].startswith("not a date-time")              # the column check
    assert held[5] == "a school visit before 2000"            # the rule registered on the file
    assert rows == {"V1": "toy/C1", "V2": "toy/C2", "V5": "toy/C1"}

    out = erase_subject(store, "child", "toy/C1", "Erasure request upheld by the DPO", "dpo.test",
                        "admin", Minimiser(secrets.token_hex(32)), contract=toy)
    assert out.counts["school_visits"] == 2 and out.counts["visit_mentions"] == 1
    with store.engine.connect() as conn:
        left = conn.execute(sa.select(visits.c.visit_id, visits.c.companions)).all()
    assert [tuple(r) for r in left] == [("V2", "person:Z9")]
    store.engine.dispose()

"""`wayfinder synth --style exports` and the example mappings of data/mappings/: the three
systems' exports, read through their mappings, make the same store as the same data in contract
form, and every planted bad row is still held."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from geo.storage.ingest import ingest_drop
from geo.storage.store import open_store

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = [ROOT / "data" / "mappings" / n for n in
            ("police_compact.yaml", "carefirst.yaml", "rhi_mosaic.yaml")]
KEYS = {"children": "child_id", "episodes": "episode_id", "return_interviews": "rhi_id",
        "persons": "person_id"}


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    from api.cli import app
    out = tmp_path_factory.mktemp("synth") / "exports"
    res = CliRunner().invoke(app, ["synth", "--style", "exports", "--out", str(out),
                                   "--scale", "sample", "--seed", "3"])
    assert res.exit_code == 0, res.output
    return out


def _rows(store, table):
    # the surrogate id follows insertion order, which differs between the two drops' files
    df = store.table(table).drop(columns=["id", "run_id", "extra"], errors="ignore")
    return df.sort_values(["source", KEYS[table]]).reset_index(drop=True)


def test_the_exports_ingest_to_the_contract_forms_store(tmp_path, exports):
    names = {p.name for p in exports.iterdir()}
    assert {"COMPACT_nominals.csv", "COMPACT_occurrences.csv", "Carefirst_extract.xlsx",
            "MOSAIC_RHI_report.csv", "MOSAIC_young_people.csv"} <= names
    mapped = open_store(f"sqlite:///{tmp_path / 'mapped.sqlite'}")
    report = ingest_drop(mapped, exports, geocode=False, mapping=MAPPINGS)
    out = report.to_json()
    assert out["files"]["COMPACT_occurrences.csv"]["as"] == "episodes.csv"
    assert out["files"]["COMPACT_occurrences.csv"]["filtered"] == 3        # TEST records
    assert out["files"]["Carefirst_extract.xlsx [Missing Episodes]"]["as"] == "episodes.csv"
    assert out["files"]["persons.csv"]["as"] == "persons.csv"              # a contract file
    assert out["mapping"]["skipped"] == {} and out["mapping"]["warnings"] == []
    contract = open_store(f"sqlite:///{tmp_path / 'contract.sqlite'}")
    want = ingest_drop(contract, exports / "contract", geocode=False)
    truth = json.loads((exports / "contract" / "truth.json").read_text())
    # every planted bad row is held either way
    held = lambda rep: sum(r.held for r in rep.files.values())  # noqa: E731
    assert held(report) == held(want) == len(truth["bad_rows"])
    for table in KEYS:
        got, exp = _rows(mapped, table), _rows(contract, table)
        assert len(got) == len(exp) > 0, table
        pd.testing.assert_frame_equal(got[exp.columns], exp, check_dtype=False, obj=table)
    # mapped codes outside a values table are held naming the export's column
    from geo.storage.ingest import held_rows
    h = held_rows(mapped, report.run_id)
    codes = h[h["reason"].str.startswith("unknown code")]
    assert len(codes) and set(codes["file"]) <= {
        "COMPACT_occurrences.csv", "COMPACT_nominals.csv", "Carefirst_extract.xlsx [Clients]",
        "Carefirst_extract.xlsx [Missing Episodes]", "MOSAIC_RHI_report.csv"}
    mapped.engine.dispose()
    contract.engine.dispose()


def test_the_committed_examples_ingest_end_to_end(tmp_path):
    from api.cli import app
    db = f"sqlite:///{tmp_path / 'ex.sqlite'}"
    args = ["ingest", str(ROOT / "data" / "mappings" / "examples"), "--db", db, "--json",
            "--no-geocode"]
    for m in MAPPINGS:
        args += ["--mapping", str(m)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    files = json.loads(res.stdout)["files"]
    assert sum(f["accepted"] for f in files.values()) > 500
    for name, f in files.items():
        assert f["read"] == f["accepted"] + f["held"], name

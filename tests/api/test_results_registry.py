"""The registry of results (geo/results.py) says what `wayfinder analyse` and `network` write:
every file it declares is written on the committed sample with exactly the declared columns (the
contract's among them, in the contract's order), every declared result is stored, and its layer
and route exist with their roles (issue 17)."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from geo import results as R
from geo.disclosure import COUNT_FIELDS, DERIVED_FIELDS
from geo.storage.store import open_store

ROOT = Path(__file__).resolve().parents[2]
REF = ROOT / "data" / "reference"


@pytest.fixture(scope="module")
def outputs(tmp_path_factory, sample_drop):
    """The committed sample through reference, ingest, analyse and network (in-process CLI)."""
    work = tmp_path_factory.mktemp("registry")
    url = f"sqlite:///{work / 'wf.sqlite'}"
    runner = CliRunner()
    for step in (["reference", "--db", url,
                  "--codepoint", str(REF / "gazetteer" / "codepoint_open_2014_b.csv"),
                  "--wards", str(REF / "boundaries" / "birmingham_wards_2013.geojson"),
                  "--lsoa", str(REF / "boundaries" / "birmingham_lsoa_2011.geojson")],
                 ["ingest", str(sample_drop), "--db", url],
                 ["analyse", "--db", url, "--out", str(work / "out"), "--permutations", "99"],
                 ["network", "--db", url, "--out", str(work / "out")]):
        r = runner.invoke(app, step)
        assert r.exit_code == 0, f"wayfinder {step[0]}: {r.output}{r.exception!r}"
    store = open_store(url)
    yield work / "out", store
    store.engine.dispose()


def _columns(path: Path) -> list[str] | None:
    """The columns a file carries (None: a GeoJSON or JSON list without features/records)."""
    if path.suffix == ".csv":
        return list(pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns)
    doc = json.loads(path.read_text(encoding="utf-8"))
    if path.suffix == ".geojson":
        keys = {tuple(f["properties"]) for f in doc["features"]}
        assert len(keys) <= 1, f"{path.name}: features with different properties"
        return list(keys.pop()) if keys else None
    if isinstance(doc, list):
        return list(doc[0]) if doc else None
    return list(doc)


def _in_order(contract, columns) -> bool:
    it = iter(columns)
    return all(c in it for c in contract)


def test_every_declared_file_is_written_with_the_declared_columns(outputs):
    out, store = outputs
    declared = [r for r in R.RESULTS if r.file and r.step != "results"]   # run's record: test_pipeline
    written = {p.name for p in out.iterdir()}
    assert {r.file for r in declared} == written, "the registry and the writers disagree on files"
    checked = 0
    for r in declared:
        if r.columns is None:      # GraphML, GEXF
            assert (out / r.file).stat().st_size > 0
            continue
        cols = _columns(out / r.file)
        if cols is None:           # no features on the sample: the stored frame has the columns
            stored = store.read_result(r.name)
            cols = [c for c in stored.columns if c != "geometry"]
        assert cols == list(r.columns), r.file
        assert _in_order(r.contract, cols), f"{r.file}: contract columns out of order"
        checked += 1
    assert checked >= 15


def test_every_declared_result_is_stored(outputs):
    _, store = outputs
    stored = set(store.result_names())
    # every result stored is declared and every declared result is stored (`analyse` and
    # `network` are runs of the pipeline's steps, so the groups step stores the co-episode pairs)
    assert set(R.stored_names()) == stored
    for r in R.RESULTS:
        if r.name and r.columns and r.file and not r.file.endswith(".json"):
            frame = store.read_result(r.name)
            assert set(r.contract) <= set(frame.columns), r.name


def test_steps_files_and_disclosure_rules_agree_with_the_api():
    from api.jobs import pipeline
    from api.jobs.layers import LAYERS
    from api.roles import COLLECTION_ROLES, ROUTES
    assert pipeline.STEP_FILES["analyses"] == (
        "area_hotspots_ward.geojson", "found_at_clusters.geojson", "premises_of_concern.csv",
        "area_trends.csv", "space_time.json", "space_time_clusters.geojson")
    assert pipeline.STEP_FILES["results"] == ("pipeline_run.json",)
    assert len(R.BY_KEY) == len(R.RESULTS)
    for r in R.RESULTS:
        assert r.step in R.STEPS and r.step in pipeline.STEPS
        if r.layer:
            assert r.layer in LAYERS and COLLECTION_ROLES[r.layer], r.key
        if r.route:
            assert ROUTES[r.route].roles, r.key
        assert set(r.counts) <= COUNT_FIELDS and set(r.derived) <= DERIVED_FIELDS
    # what the disclosure rules band: counts of children and episodes on the area maps, the
    # premises' counts and their score and explanation
    assert R.AREA_HOTSPOTS_WARD.counts == ("episodes", "children")
    assert {"score", "explanation"} <= set(R.PREMISES_OF_CONCERN.derived)


def test_no_result_name_is_written_out_beside_the_registry():
    """Writers and readers name results through the registry, not string literals."""
    call = re.compile(r"(write_result|read_result|\.result)\(\s*f?[\"']")
    offenders = []
    for pkg in ("api", "maps", "network", "geo"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if call.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{i}")
    assert offenders == []

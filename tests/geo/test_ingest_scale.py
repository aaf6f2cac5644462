"""Ingest of a generated city-scale drop: held rows match what was planted, and a process killed
mid-ingest leaves whole files only, which a re-run completes."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import sqlalchemy as sa

from geo.storage import schema
from geo.storage.ingest import held_rows, ingest_drop
from geo.storage.store import open_store


@pytest.fixture(scope="module")
def city_drop(tmp_path_factory):
    from geo.scenario.generator import generate
    out = tmp_path_factory.mktemp("city") / "drop"
    truth = generate(out, seed=11, scale="city")
    return out, truth


@pytest.fixture(scope="module")
def clean_counts(city_drop, tmp_path_factory):
    """Rows per table after an uninterrupted ingest."""
    url = f"sqlite:///{tmp_path_factory.mktemp('clean') / 'w.sqlite'}"
    store = open_store(url)
    report = ingest_drop(store, city_drop[0], geocode=False)
    counts = {t: _count(store, t) for t in schema.DROP_TABLES}
    counts["minimal_children"] = _from_episode(store)
    held = held_rows(store, report.run_id)
    store.engine.dispose()
    return counts, report, held


def _count(store, table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(
            schema.metadata.tables[table])).scalar()


def test_held_rows_are_exactly_the_planted_bad_rows(city_drop, clean_counts):
    _, truth = city_drop
    _, report, held = clean_counts
    planted = {(b["file"], b["line"]) for b in truth["bad_rows"]}
    assert set(zip(held["file"], held["line"])) == planted
    for name, r in report.files.items():
        assert r.read == r.accepted + r.held == truth["counts"][name], name


def test_killed_ingest_leaves_whole_files_and_rerun_completes(city_drop, clean_counts, tmp_path):
    drop, _ = city_drop
    counts, _, _ = clean_counts
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    open_store(url).engine.dispose()                  # migrate before timing the kill
    cmd = [sys.executable, "-m", "api.cli", "ingest", str(drop), "--db", url, "--no-geocode"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = open_store(url)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:           # kill as soon as the first file is committed
            if _count(store, "children") > 0:
                break
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        partial = {t: _count(store, t) for t in schema.DROP_TABLES}
        whole = {t: counts[t] for t in schema.DROP_TABLES}
        assert partial["children"] > 0
        assert partial != whole, "the kill came too late to test anything"
        for table, n in partial.items():
            if table != "children":
                assert n in (0, counts[table]), (table, n)
        # children: its own file, plus the minimal children committed with the episodes file
        assert partial["children"] in (counts["children"] - counts["minimal_children"],
                                       counts["children"])
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr
        assert {t: _count(store, t) for t in schema.DROP_TABLES} == whole
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        store.engine.dispose()


def _from_episode(store) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(schema.children)
                            .where(schema.children.c.from_episode)).scalar()


def test_json_report_matches_the_contract(city_drop, tmp_path):
    drop, truth = city_drop
    url = f"sqlite:///{tmp_path / 'w.sqlite'}"
    cmd = [sys.executable, "-m", "api.cli", "ingest", str(drop), "--db", url, "--json",
           "--no-geocode"]
    first = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    second = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    for name, r in first["files"].items():
        assert set(r) >= {"read", "accepted", "new", "held", "warnings"}
        assert r["read"] == r["accepted"] + r["held"] and r["new"] == r["accepted"]
        assert second["files"][name]["new"] == 0
        assert second["files"][name]["accepted"] == r["accepted"]

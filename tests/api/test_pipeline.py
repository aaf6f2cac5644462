"""`wayfinder run` (api.jobs.pipeline): contract outputs, the run record, progress, resuming after a
failed or killed step, and identical outputs on a Dask LocalCluster (api.jobs.partition).

One small generated drop (synth scale "sample") is ingested once without geocoding; each test
works on its own copy of that SQLite file.
"""
from __future__ import annotations

import io
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from api.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_FILES = ["identity.csv", "co_missing_groups.json", "bridging_persons.csv",
                  "graph.graphml", "graph.gexf", "cytoscape.json", "i2_entities.csv",
                  "i2_links.csv", "area_hotspots_ward.geojson", "area_hotspots_lsoa.geojson",
                  "found_at_clusters.geojson", "premises_of_concern.csv", "area_trends.csv"]
COMPARED = ["identity.csv", "co_missing_groups.json", "bridging_persons.csv", "i2_entities.csv",
            "i2_links.csv", "cytoscape.json", "area_hotspots_ward.geojson",
            "found_at_clusters.geojson", "premises_of_concern.csv", "area_trends.csv"]
PERMS = 99  # permutations of the hot spot statistics: enough to exercise them, quick


@pytest.fixture(scope="module")
def base_db(tmp_path_factory) -> Path:
    """Reference data and a generated sample drop, ingested but not yet geocoded."""
    from geo.storage.ingest import ingest_drop
    from geo.places.reference import load_bundled
    from geo.storage.store import open_store
    from geo.scenario.generator import generate
    tmp = tmp_path_factory.mktemp("pipeline")
    generate(tmp / "drop", seed=5, scale="sample")
    path = tmp / "base.sqlite"
    store = open_store(f"sqlite:///{path}")
    load_bundled(store)
    ingest_drop(store, tmp / "drop", geocode=False)
    store.engine.dispose()
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path


def _copy(base: Path, tmp: Path) -> str:
    dst = tmp / "w.sqlite"
    shutil.copy(base, dst)
    return f"sqlite:///{dst}"


def _opts(out: Path, **kw):
    from api.jobs.pipeline import RunOptions
    return RunOptions(out=out, seed=3, permutations=PERMS, **kw)


@pytest.fixture(scope="module")
def reference_run(base_db, tmp_path_factory):
    """An uninterrupted single-process run with a rendered progress display."""
    from rich.console import Console

    from api.jobs.pipeline import Progress, run_pipeline
    from geo.storage.store import open_store
    tmp = tmp_path_factory.mktemp("ref")
    store = open_store(_copy(base_db, tmp))
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=140)
    with Progress(console=console) as progress:
        report = run_pipeline(store, _opts(tmp / "out"), progress)
    return {"store": store, "out": tmp / "out", "report": report, "progress": progress,
            "rendered": buf.getvalue()}


def _same_outputs(a: Path, b: Path) -> None:
    for name in COMPARED:
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs"


def test_run_writes_contract_files_stores_results_and_records_steps(reference_run):
    from api.jobs.pipeline import STEPS, latest_record
    out, store, report = reference_run["out"], reference_run["store"], reference_run["report"]
    for name in CONTRACT_FILES:
        assert (out / name).stat().st_size > 0, name
    ident = pd.read_csv(out / "identity.csv")
    assert list(ident.columns) == ["record", "kind", "person_id", "match_weight"]
    assert set(ident["kind"]) <= {"child", "person"} and ident["record"].str.contains("/").all()
    assert list(pd.read_csv(out / "bridging_persons.csv").columns) == \
        ["rank", "person_id", "children", "score"]
    groups = json.loads((out / "co_missing_groups.json").read_text())
    assert isinstance(groups, list)
    for g in groups:
        assert {"group_id", "members", "co_episodes", "first", "last", "shared_places"} <= set(g)
    poc = pd.read_csv(out / "premises_of_concern.csv")
    assert {"rank", "premises_id", "score", "q_value", "explanation"} <= set(poc.columns)
    ward = json.loads((out / "area_hotspots_ward.geojson").read_text())
    assert len(ward["features"]) == 40 and "gi_z" in ward["features"][0]["properties"]
    # geocoding happened in the pipeline, and identities are stored
    assert report.steps["geocode"]["summary"]["texts"] > 0
    assert len(store.table("geocodes")) == report.steps["geocode"]["summary"]["texts"]
    assert len(store.table("identity_links")) == len(ident)
    for name in ("area_hotspots_ward", "premises_of_concern", "co_missing_groups",
                 "bridging_persons", "network_measures", "co_episode_pairs"):
        assert name in store.result_names()
    # the tiles step stored the pre-generalised tiles of every view, counting every found-at point
    tiles = report.steps["tiles"]["summary"]["found_at"]
    assert set(tiles) == {"full", "case", "licensing"} and all(v["cells"] > 0 for v in tiles.values())
    ev = store.frame("place_events")
    assert all(v["points"] == int((ev["kind"] == "found_at").sum()) for v in tiles.values())
    rec = latest_record(store)
    assert rec["fingerprint"] == report.fingerprint
    assert [s for s in STEPS[1:] if rec["steps"][s]["status"] == "done"] == list(STEPS[1:])
    for s in STEPS[1:]:
        assert rec["steps"][s]["seconds"] >= 0 and rec["steps"][s]["peak_rss_mb"] > 50
    doc = json.loads((out / "pipeline_run.json").read_text())
    assert doc["fingerprint"] == report.fingerprint and "identity.csv" in doc["files"]
    # in pipeline order, the steps of the second process included (all but results itself)
    assert list(doc["steps"]) == list(STEPS[1:-1])     # no --drop: no ingest


def test_every_step_reports_progress_with_eta(reference_run):
    from api.jobs.pipeline import STEPS
    events, rendered = reference_run["progress"].events, reference_run["rendered"]
    for step in STEPS[1:]:
        kinds = [e[1] for e in events if e[0] == step]
        assert kinds[0] == "start" and kinds[-1] == "done", (step, kinds)
        assert step in rendered
    # steps with units advance through all of them
    graph_units = sum(e[2] for e in events if e[0] == "graph" and e[1] == "advance")
    graph_total = [e[3] for e in events if e[0] == "graph" and e[1] == "start"][0]
    assert graph_units == graph_total == 8
    assert "eta" in rendered and "elapsed" in rendered and "100%" in rendered


def test_resume_after_everything_done_skips_every_step(reference_run):
    from api.jobs.pipeline import Progress, run_pipeline
    store, out = reference_run["store"], reference_run["out"]
    before = {n: (out / n).stat().st_mtime_ns for n in CONTRACT_FILES}
    report = run_pipeline(store, _opts(out), Progress(enabled=False))
    assert all(r.get("skipped") for r in report.steps.values())
    assert before == {n: (out / n).stat().st_mtime_ns for n in CONTRACT_FILES}
    # a missing output file makes its step (and the later ones) run again
    (out / "co_missing_groups.json").unlink()
    report = run_pipeline(store, _opts(out), Progress(enabled=False))
    assert [s for s, r in report.steps.items() if not r.get("skipped")] == ["groups", "tiles", "results"]
    assert (out / "co_missing_groups.json").exists()


def test_failed_step_resumes_from_its_stored_input(base_db, reference_run, tmp_path):
    import api.jobs.pipeline as pl
    from geo.storage.store import open_store
    store = open_store(_copy(base_db, tmp_path))
    out = tmp_path / "out"

    def broken_graph(ctx):
        ctx.progress.start("graph", total=1)
        raise RuntimeError("worker lost")

    with pytest.raises(pl.PipelineError, match="step graph failed: RuntimeError: worker lost"):
        pl.run_pipeline(store, _opts(out), steps={"graph": broken_graph})
    rec = pl.latest_record(store)
    status = {s: rec["steps"][s]["status"] for s in rec["steps"]}
    # the tiles read nothing of the graph's: the analyses' process may have made them meanwhile
    assert status.pop("tiles", "done") == "done"
    assert status == {"geocode": "done", "identity": "done", "analyses": "done", "graph": "failed"}
    assert "worker lost" in rec["steps"]["graph"]["error"]

    calls = []

    def counted(name):
        real = pl.STEP_FUNCTIONS[name]

        def wrapper(ctx):
            calls.append(name)
            return real(ctx)
        return wrapper

    report = pl.run_pipeline(store, _opts(out),
                             steps={s: counted(s) for s in pl.STEPS[1:]})
    assert calls == ["graph", "groups", "tiles", "results"]
    assert all(report.steps[s]["skipped"] for s in ("geocode", "identity", "analyses"))
    _same_outputs(out, reference_run["out"])

    # --restart forgets the record and runs every step again (steps replaced by recorders)
    calls.clear()

    def recorder(name):
        def step(ctx):
            ctx.progress.start(name, total=1)
            calls.append(name)
            return {}
        return step

    # in one process, so that the recorders all append to this list
    pl.run_pipeline(store, _opts(out, resume=False, settings=Settings(pipeline_workers=1)),
                    steps={s: recorder(s) for s in pl.STEPS[1:]})
    assert calls == list(pl.STEPS[1:])


def test_analyses_beside_the_graph_give_the_outputs_of_one_process(base_db, reference_run,
                                                                   tmp_path):
    """The reference run had the analyses in a second process (api.jobs.beside): a run in one
    process gives the same files, stored results and run record entries."""
    import api.jobs.pipeline as pl
    from api.jobs.incremental import output_differences
    from geo.storage.store import open_store
    assert reference_run["report"].steps["analyses"]["process"] == "beside"
    assert "peak_rss_mb_all" in reference_run["report"].steps["graph"]
    store = open_store(_copy(base_db, tmp_path))
    out = tmp_path / "out"
    report = pl.run_pipeline(store, _opts(out, settings=Settings(pipeline_workers=1)))
    assert "process" not in report.steps["analyses"]
    assert output_differences(out, reference_run["out"], store, reference_run["store"]) == []
    ref = pl.latest_record(reference_run["store"])
    assert ref["steps"]["analyses"]["status"] == "done"
    assert ref["steps"]["analyses"]["summary"] == report.steps["analyses"]["summary"]


def test_analyses_held_for_the_graph_build_start_after_it_with_the_same_outputs(
        base_db, reference_run, tmp_path):
    """From ``pipeline_hold_episodes`` episodes the analyses' process waits for the graph's build
    (api.jobs.beside.WAITS): it starts its step only after the build phase ended, reports how
    long it was held, and the outputs are those of a run that did not hold it."""
    from datetime import datetime, timedelta

    import api.jobs.pipeline as pl
    from api.jobs.incremental import output_differences
    from geo.storage.store import open_store
    assert "held_seconds" not in reference_run["report"].steps["analyses"]   # small: not held
    store = open_store(_copy(base_db, tmp_path))
    out = tmp_path / "out"
    report = pl.run_pipeline(store, _opts(out, settings=Settings(pipeline_hold_episodes=0)))
    an, gr = report.steps["analyses"], report.steps["graph"]
    assert an["process"] == "beside" and an["held_seconds"] > 0
    started = datetime.fromisoformat(an["finished_at"]) - timedelta(seconds=an["seconds"])
    gstart = datetime.fromisoformat(gr["finished_at"]) - timedelta(seconds=gr["seconds"])
    build_end = gstart + timedelta(seconds=gr["summary"]["phase_seconds"]["frames"]
                                   + gr["summary"]["phase_seconds"]["graph"])
    assert started >= build_end - timedelta(seconds=0.5)
    assert output_differences(out, reference_run["out"], store, reference_run["store"]) == []


def test_a_held_step_is_released_when_the_step_it_waits_for_fails(base_db, tmp_path):
    """The graph fails before its build ends: the held analyses are released (never waited
    for while they wait), run, and are recorded; the run stops with the graph's error."""
    import api.jobs.pipeline as pl
    from geo.storage.store import open_store
    store = open_store(_copy(base_db, tmp_path))

    def broken_graph(ctx):
        raise RuntimeError("no edges")

    t0 = time.perf_counter()
    with pytest.raises(pl.PipelineError, match="step graph failed: RuntimeError: no edges"):
        pl.run_pipeline(store, _opts(tmp_path / "out", settings=Settings(pipeline_hold_episodes=0)),
                        steps={"graph": broken_graph})
    rec = pl.latest_record(store)
    assert rec["steps"]["graph"]["status"] == "failed"
    assert rec["steps"]["analyses"]["status"] == "done"
    assert rec["steps"]["analyses"]["process"] == "beside"
    assert time.perf_counter() - t0 < 600


def test_a_failed_step_beside_the_graph_is_recorded_and_resumed(base_db, reference_run, tmp_path):
    """The analyses fail in their second process while the graph, groups and tiles run here:
    the run stops with the analyses' error when it joins that process (before the results), the
    steps it ran here are recorded done, and a resumed run starts again at the analyses."""
    import api.jobs.pipeline as pl
    from geo.storage.store import open_store
    store = open_store(_copy(base_db, tmp_path))
    out = tmp_path / "out"

    def broken_analyses(ctx):
        raise RuntimeError("permutations lost")

    with pytest.raises(pl.PipelineError, match="step analyses failed: RuntimeError: permutations lost"):
        pl.run_pipeline(store, _opts(out), steps={"analyses": broken_analyses})
    rec = pl.latest_record(store)
    assert {s: rec["steps"][s]["status"] for s in rec["steps"]} == {
        "geocode": "done", "identity": "done", "analyses": "failed", "graph": "done",
        "groups": "done", "tiles": "done"}
    assert "process" not in rec["steps"]["tiles"]    # the failed process took no other step
    assert rec["steps"]["analyses"]["process"] == "beside"

    report = pl.run_pipeline(store, _opts(out))
    assert [s for s in pl.STEPS[1:] if not report.steps[s].get("skipped")] == \
        ["analyses", "graph", "groups", "tiles", "results"]
    _same_outputs(out, reference_run["out"])


def _status(db_path: Path) -> dict:
    con = sqlite3.connect(db_path, timeout=5)
    try:
        row = con.execute("SELECT value FROM settings WHERE key = 'pipeline_run:latest'").fetchone()
        if not row:
            return {}
        rec = con.execute("SELECT value FROM settings WHERE key = ?",
                          ("pipeline_run:" + row[0],)).fetchone()
        return {s: r["status"] for s, r in json.loads(rec[0])["steps"].items()} if rec else {}
    except sqlite3.OperationalError:
        return {}
    finally:
        con.close()


def test_killed_run_resumes_at_the_step_it_was_in(base_db, reference_run, tmp_path):
    from api.jobs.beside import BESIDE
    url = _copy(base_db, tmp_path)
    db_path = tmp_path / "w.sqlite"
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "api.cli", "run", "--db", url, "--out", str(out), "--seed", "3",
           "--permutations", str(PERMS), "--quiet", "--json"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 240  # a loaded machine is slow
    status = {}
    while time.time() < deadline:      # kill inside a step that comes after identity
        status = _status(db_path)
        # geocoding runs in the second process beside identity (api.jobs.beside): both done
        if status.get("identity") == status.get("geocode") == "done" \
                and "running" in status.values():
            break
        if status.get("results") == "done":
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert status.get("identity") == "done", status
    status = _status(db_path)
    assert status.get("results") != "done", "the run finished before it could be killed"
    running = [s for s, v in status.items() if v == "running"]
    # killed inside a step: recorded as running, never as done; a step in the second process
    # (api.jobs.beside) may have been running at the same time
    assert len(running) == 1 or (len(running) == 2 and set(running) & set(BESIDE)), status

    r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["steps"]["geocode"].get("skipped") and report["steps"]["identity"].get("skipped")
    assert not report["steps"][running[0]].get("skipped")
    _same_outputs(out, reference_run["out"])


def test_run_command_fails_with_one_line_reason(tmp_path):
    from typer.testing import CliRunner

    from api.cli import app
    r = CliRunner().invoke(app, ["run", "--db", f"sqlite:///{tmp_path}/nope/w.sqlite",
                                 "--out", str(tmp_path / "o"), "--quiet"])
    assert r.exit_code != 0 and "does not exist" in r.output
    r = CliRunner().invoke(app, ["run", "--db", f"sqlite:///{tmp_path}/w.sqlite", "--out",
                                 str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:1",
                                 "--local-cluster", "2"])
    assert r.exit_code != 0 and "either --scheduler or --local-cluster" in r.output


@pytest.fixture(scope="module")
def dask_client():
    from api.jobs.partition import make_client
    client, cluster = make_client(local_cluster=2, processes=False)
    yield client
    client.close()
    cluster.close()


def test_dask_local_cluster_gives_identical_outputs(base_db, reference_run, dask_client,
                                                    tmp_path):
    from api.jobs.pipeline import Progress, run_pipeline
    from geo.storage.store import open_store
    store = open_store(_copy(base_db, tmp_path))
    progress = Progress(enabled=False)
    report = run_pipeline(store, _opts(tmp_path / "out", client=dask_client), progress)
    ref_store = reference_run["store"]
    cols = ["text", "easting", "northing", "precision", "confidence", "method", "match_id",
            "ward_code", "lsoa_code"]
    a = store.table("geocodes")[cols].sort_values("text").reset_index(drop=True)
    b = ref_store.table("geocodes")[cols].sort_values("text").reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(store.read_result("co_episode_pairs"),
                                  ref_store.read_result("co_episode_pairs"))
    _same_outputs(tmp_path / "out", reference_run["out"])
    # the groups step ran as several partitions on the cluster
    start = [e for e in progress.events if e[0] == "groups" and e[1] == "start"][0]
    assert start[3] >= 4
    assert report.steps["groups"]["summary"]["pairs"] > 0


def test_partitioned_pairs_equal_single_pass_on_dense_cross_boundary_data(reference_run,
                                                                          dask_client):
    """Many pairs across authorities (shared homes), across grid blocks (found points on block
    edges) and between named children: the partitions and their cross-boundary pass find
    exactly the pairs of one pass."""
    from api.jobs.partition import BLOCK_M, co_episode_pairs_partitioned, pair_partitions
    from api.jobs.pipeline import GROUP_COLUMNS, GROUP_FRAMES, co_episode_pairs_single
    frames = reference_run["store"].frames(GROUP_FRAMES, columns=GROUP_COLUMNS)
    rng = np.random.default_rng(11)
    ep = frames["episodes"].copy()
    ch = frames["children"].copy()
    n = len(ep)
    # squeeze every report into two days and every found point next to a block corner
    t0 = pd.Timestamp("2016-06-01", tz="UTC")
    ep["reported_at"] = t0 + pd.to_timedelta(rng.integers(0, 48 * 60, n), unit="m")
    ep["returned_at"] = ep["reported_at"] + pd.to_timedelta(rng.integers(30, 600, n), unit="m")
    corner_e, corner_n = 408 * 1000.0, 288 * 1000.0
    assert corner_e % BLOCK_M == 0 and corner_n % BLOCK_M == 0
    ep["found_e"] = corner_e + rng.normal(0, 300, n)
    ep["found_n"] = corner_n + rng.normal(0, 300, n)
    ep["found_precision"] = "postcode"
    # few homes, shared by children of different authorities
    homes = np.array(["B7 4PS", "B5 4BU", "B12 9QN", "B29 6AA"])
    ch["placement_postcode"] = homes[rng.integers(0, len(homes), len(ch))]
    auth = np.array(["Birmingham", "Sandwell", "Walsall", None], dtype=object)
    ch["responsible_authority"] = auth[rng.integers(0, len(auth), len(ch))]
    dense = {**frames, "episodes": ep, "children": ch}
    plan = pair_partitions(dense, 250.0)
    names = [p["name"] for p in plan]
    assert "home:cross-boundary" in names and sum(x.startswith("found:") for x in names) >= 4
    single = co_episode_pairs_single(dense, "6h", 250.0)
    parted = co_episode_pairs_partitioned(dask_client, dense, "6h", 250.0)
    assert set(single["reason"]) >= {"home", "found"} and len(single) > 200
    pd.testing.assert_frame_equal(parted, single)
    # without the cross-boundary pass, pairs of children placed out of area would be lost
    from api.jobs.partition import _pairs_task
    within = pd.concat([_pairs_task(ep.iloc[p["rows"]], ch, None, None, p["reasons"], "6h", 250.0)
                        for p in plan if p["name"].startswith("home:")
                        and p["name"] != "home:cross-boundary"])
    assert len(within.drop_duplicates(["episode_a", "episode_b"])) < \
        (single["reason"] == "home").sum()


def test_a_step_beside_others_reads_nothing_they_write_and_writes_nothing_they_read():
    """api.jobs.beside.BESIDE may run a step in a second process only beside steps that share
    no stored result with it either way (their frames come from the drop tables and identity
    links, which none of them writes)."""
    from api.jobs.analyse import ANALYSES
    from api.jobs.beside import BESIDE
    from api.jobs.pipeline import STEP_INPUTS
    from geo import results as R

    def reads(step):
        if step == "analyses":
            return {n for a in ANALYSES for n in a.inputs.results}
        if step == "tiles":     # the place events (test below: a new result leaves them current)
            return set()
        return set(STEP_INPUTS[step].results)

    # geocoding writes the geocodes and the premises' coordinates, identity the identity links
    assert not {"geocodes", "premises"} & set(STEP_INPUTS["identity"].all_tables())
    assert "identity_links" not in STEP_INPUTS["geocode"].all_tables()
    for side, mains in BESIDE.items():
        for main in mains:
            assert not reads(side) & set(R.stored_names(main)), (side, main)
            assert not reads(main) & set(R.stored_names(side)), (side, main)
            assert not set(R.stored_names(side)) & set(R.stored_names(main)), (side, main)


def test_tiles_stay_current_when_a_result_is_written_after_them(base_db, tmp_path):
    """The tiles read the place events, not the stored results: a result written after the tiles
    step (by the analyses or graph running at the same time, api.jobs.beside) leaves the stored
    tiles of this store state, and the tiles step has nothing to do."""
    import api.jobs.pipeline as pl
    from api.jobs.tiles import build_for_install
    from geo.storage.store import open_store
    store = open_store(_copy(base_db, tmp_path))
    opts = _opts(tmp_path / "out", settings=Settings())
    first = pl.run_steps(store, opts, ("geocode", "identity", "tiles"))["tiles"]["found_at"]
    assert all(not v["current"] and v["cells"] > 0 for v in first.values())
    store.write_result("area_trends", pd.DataFrame({"ward_code": ["E05001"], "n": [1]}))
    again = build_for_install(store, Settings())["found_at"]
    assert all(v == {"current": True} for v in again.values())

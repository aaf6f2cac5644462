"""`wayfinder run --incremental` (api.jobs.incremental, issue #19 item 3): a day's new data
(the episodes, return interviews and intelligence of the last days, held back from a generated
drop) run incrementally on a store that had a full run on the rest gives exactly the files and
stored results of a full run on a fresh store holding the same rows; with no new data every
step is skipped.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

PERMS = 99
#: the newest share of episodes and intelligence held back as the new day's data
HELD_BACK = 0.05


def split_drop(drop: Path, base: Path, new: Path, share: float = HELD_BACK) -> dict:
    from geo.scenario.newday import hold_back_newest
    return hold_back_newest(drop, base, new, share)


def _opts(out: Path, **kw):
    from api.jobs.pipeline import RunOptions
    return RunOptions(out=out, seed=3, permutations=PERMS, **kw)


def _store(path: Path, *drops: Path):
    from geo.places.reference import load_bundled
    from geo.storage.ingest import ingest_drop
    from geo.storage.store import open_store
    store = open_store(f"sqlite:///{path}")
    load_bundled(store)
    for d in drops:
        ingest_drop(store, d, geocode=False)
    return store


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A full run on the base store, then `--incremental --drop NEW`; and a full run on a fresh
    store that ingested the same two drops."""
    from api.jobs.pipeline import run_pipeline
    from geo.scenario.generator import generate
    tmp = tmp_path_factory.mktemp("incremental")
    generate(tmp / "drop", seed=5, scale="sample")
    held = split_drop(tmp / "drop", tmp / "base", tmp / "new")
    inc = _store(tmp / "inc.sqlite", tmp / "base")
    base_report = run_pipeline(inc, _opts(tmp / "out_inc"))
    report = run_pipeline(inc, _opts(tmp / "out_inc", drop=tmp / "new", incremental=True))
    full = _store(tmp / "full.sqlite", tmp / "base", tmp / "new")
    full_report = run_pipeline(full, _opts(tmp / "out_full"))
    return {"tmp": tmp, "held": held, "inc": inc, "full": full, "base_report": base_report,
            "report": report, "full_report": full_report}


def test_split_holds_back_a_day_of_each_kind(runs):
    assert all(n > 0 for n in runs["held"].values()), runs["held"]
    ingest = runs["report"].steps["ingest"]
    assert ingest["mode"] == "delta"
    assert ingest["delta"]["new_rows"]["episodes.csv"] == runs["held"]["episodes"]


def test_incremental_outputs_equal_a_full_run_on_the_same_data(runs):
    from api.jobs.incremental import output_differences
    tmp = runs["tmp"]
    assert output_differences(tmp / "out_inc", tmp / "out_full", runs["inc"], runs["full"]) == []


def test_output_differences_finds_a_changed_file_and_result(runs, tmp_path):
    import shutil
    from api.jobs.incremental import output_differences
    other = tmp_path / "out"
    shutil.copytree(runs["tmp"] / "out_full", other)
    with open(other / "area_trends.csv", "a") as f:
        f.write("\n")
    diffs = output_differences(runs["tmp"] / "out_inc", other, runs["inc"], runs["inc"])
    assert diffs == ["file area_trends.csv"]


def test_incremental_run_reports_what_it_did_per_step(runs):
    steps = runs["report"].steps
    # no child or person record came with the new day: identity is skipped, its links kept
    assert steps["identity"]["mode"] == "skipped" and steps["identity"]["skipped"]
    # new texts only were geocoded
    assert steps["geocode"]["mode"] == "delta"
    assert 0 < steps["geocode"]["delta"]["texts"] < runs["base_report"].steps["geocode"][
        "summary"]["texts"]
    # co-episode pairs on the delta, with its size
    assert steps["groups"]["mode"] == "delta"
    assert steps["groups"]["delta"]["episodes"] >= runs["held"]["episodes"]
    assert steps["groups"]["delta"]["episodes_searched"] < len(runs["inc"].table("episodes"))
    # new episodes change the place events every analysis reads: all rerun, in full
    assert steps["analyses"]["mode"] == "full" and steps["graph"]["mode"] == "full"
    # pipeline_run.json (written by the results step) says the same for the steps before it
    doc = json.loads((runs["tmp"] / "out_inc" / "pipeline_run.json").read_text())
    assert {s: r["mode"] for s, r in doc["steps"].items()} == {
        s: r["mode"] for s, r in steps.items() if s != "results"}
    assert doc["steps"]["groups"]["delta"] == steps["groups"]["delta"]


def test_incremental_run_without_new_data_skips_every_step(runs):
    from api.jobs.pipeline import run_pipeline
    out = runs["tmp"] / "out_inc"
    stamps = {p.name: p.stat().st_mtime_ns for p in out.iterdir() if p.name != "pipeline_run.json"}
    report = run_pipeline(runs["inc"], _opts(out, incremental=True))
    modes = {s: r["mode"] for s, r in report.steps.items()}
    # results always writes this run's report (pipeline_run.json); nothing else ran
    assert modes == {**{s: "skipped" for s in modes if s != "results"}, "results": "full"}
    assert stamps == {p.name: p.stat().st_mtime_ns for p in out.iterdir()
                      if p.name != "pipeline_run.json"}


def test_cli_run_incremental(runs):
    """`wayfinder run --incremental` through the command line: nothing new, nothing runs but
    the report; --incremental with --restart is refused."""
    from typer.testing import CliRunner

    from api import cli
    db, out = f"sqlite:///{runs['tmp'] / 'inc.sqlite'}", str(runs["tmp"] / "out_inc")
    args = ["run", "--db", db, "--out", out, "--seed", "3", "--permutations", str(PERMS),
            "--quiet"]
    r = CliRunner()
    res = r.invoke(cli.app, [*args, "--incremental", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout.strip().splitlines()[-1])
    assert {s: st["mode"] for s, st in doc["steps"].items() if s != "results"} == {
        s: "skipped" for s in ("geocode", "identity", "analyses", "graph", "groups", "tiles")}
    res = r.invoke(cli.app, [*args, "--incremental", "--restart"])
    assert res.exit_code != 0 and "--incremental or --restart" in res.output


def test_only_the_analyses_whose_inputs_changed_rerun(runs, tmp_path):
    """New intelligence alone changes what premises of concern and the graph read, not the
    place events: the other analyses are skipped."""
    import sqlite3

    from api.jobs.pipeline import run_pipeline
    from geo.storage.store import open_store
    with sqlite3.connect(runs["tmp"] / "inc.sqlite") as src, \
            sqlite3.connect(tmp_path / "s.sqlite") as dst:
        src.backup(dst)         # with what the open store still holds in its WAL
    out = tmp_path / "out"
    store = open_store(f"sqlite:///{tmp_path / 's.sqlite'}")
    # the signatures name the output folder: a full run into this one first
    run_pipeline(store, _opts(out, resume=False))
    intel = pd.read_csv(runs["tmp"] / "new" / "intelligence.csv", dtype=str)
    more = tmp_path / "more"
    more.mkdir()
    intel.assign(intel_id=intel["intel_id"] + "-x").to_csv(more / "intelligence.csv", index=False)
    report = run_pipeline(store, _opts(out, drop=more, incremental=True))
    steps = report.steps
    assert steps["analyses"]["mode"] == "partial"
    ran = {a for a, how in steps["analyses"]["analyses"].items() if how == "full"}
    assert ran == {"premises_of_concern"}
    assert steps["identity"]["mode"] == "skipped" and steps["graph"]["mode"] == "full"


def test_co_episode_pairs_on_a_delta_equal_the_full_search():
    """``co_episode_pairs_delta`` from the pairs of an older state (the newest 1% of episodes
    not yet there, every 40th episode since changed: found elsewhere, found with nobody)
    equals the full search on the current episodes, at city scale."""
    import tempfile

    from api.jobs.pairs import co_episode_pairs_delta, co_episode_pairs_single
    from geo.scenario.generator import generate
    from tests.network.test_groups import frames_from_drop
    with tempfile.TemporaryDirectory() as tmp:
        truth = generate(Path(tmp), seed=2, scale="city")
        now = frames_from_drop(Path(tmp), truth)
    ep = now["episodes"].reset_index(drop=True)
    new = ep["reported_at"] > ep["reported_at"].quantile(0.99)
    ri = now["return_interviews"]
    full = co_episode_pairs_single(now, window="6h", distance=250.0)
    for every in (None, 40):        # new episodes only; new and changed ones
        changed = ((pd.Series(range(len(ep))) % every == 0) if every else pd.Series(False, index=ep.index)) & ~new
        old_ep = ep[~new].copy()
        old_ep.loc[changed, "found_e"] = old_ep.loc[changed, "found_e"] + 5000.0
        old_ep["found_with"] = [[] if c else fw for c, fw in zip(changed[~new], old_ep["found_with"])]
        then = {**now, "episodes": old_ep,
                "return_interviews": ri[~ri["episode_key"].isin(ep.loc[new, "episode_key"])]}
        previous = co_episode_pairs_single(then, window="6h", distance=250.0)
        dirty = set(ep.loc[new | changed, "episode_key"])
        pairs, sizes = co_episode_pairs_delta(now, "6h", 250.0, previous, dirty)
        pd.testing.assert_frame_equal(pairs, full)
        assert sizes["pairs_found"] > 0 and not previous.equals(full)
        if every is None:           # a day's data: only the last week or so is searched
            assert sizes["episodes_searched"] < len(ep) / 10, sizes


def test_frame_tables_cover_what_each_frame_reads(runs):
    """A frame that read a table its FRAME_TABLES entry does not name would let an incremental
    run skip a step whose input changed: read every frame and compare the tables it touched."""
    from api.jobs.incremental import FRAME_TABLES
    store = runs["full"]
    read: list[str] = []
    table = store.table

    def spy(name, columns=None):
        read.append(name)
        return table(name, columns)

    store.table = spy
    try:
        for name in FRAME_TABLES:
            read.clear()
            store.frame(name)
            assert set(read) <= set(FRAME_TABLES[name]), (name, sorted(set(read) - set(FRAME_TABLES[name])))
    finally:
        del store.table
    frames = {n[len("_frame_"):] for n in dir(type(store)) if n.startswith("_frame_")}
    from api.jobs.analyse import ANALYSES
    used = {f for a in ANALYSES for f in a.inputs.frames}
    assert used <= frames and used <= set(FRAME_TABLES), sorted(used - set(FRAME_TABLES))


def test_each_analysis_reads_only_the_frames_it_declares(runs, tmp_path):
    """An analysis reading a frame missing from its declared inputs would be skipped by an
    incremental run when that frame changed: run each one (few permutations, on a copy of the
    store) and compare the frames it asked for with its declaration."""
    from api.jobs import analyse
    from geo.storage.store import open_store
    import sqlite3
    with sqlite3.connect(runs["tmp"] / "full.sqlite") as src, sqlite3.connect(tmp_path / "copy.sqlite") as dst:
        src.backup(dst)                           # the WAL's pages too
    store = open_store(f"sqlite:///{tmp_path / 'copy.sqlite'}")
    for a in analyse.ANALYSES:
        frames = analyse._Frames(store)
        asked: set[str] = set()
        get = frames.get

        def spy(name, get=get):
            asked.add(name)
            return get(name)

        frames.get = spy
        (tmp_path / "out").mkdir(exist_ok=True)
        a.run(store, frames, tmp_path / "out", None, None, 0, 9)
        assert asked and asked <= set(a.inputs.frames), (a.name, sorted(asked - set(a.inputs.frames)))

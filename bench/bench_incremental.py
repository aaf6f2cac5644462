#!/usr/bin/env python
"""`wayfinder run --incremental` against a full run on the same data (issue #19 item 3).

    .venv/bin/python bench/bench_incremental.py [--scale region] [--share 0.003] [--seed 1]
                                                [--permutations 999] [--work DIR]

A generated drop (``wayfinder synth``, reused when DIR/drop/truth.json exists) is split with
``geo.scenario.newday.hold_back_newest``: the newest `share` of episodes (with their return
interviews) and of intelligence are "the new day". Store A takes the bundled reference data
and a full ``wayfinder run --drop BASE`` (setup, timed for the record). Store B is a copy of A
at that point. Then, each in its own child process (wall seconds; CPU seconds and peak RSS of
that process from ``os.wait4``):

* incremental: ``wayfinder run --db A --out OUT_A --drop NEW --incremental``;
* full (the peer): ``wayfinder run --db B --out OUT_B --drop NEW``: today's way, every step
  again on base + new;

and the outputs of the two are compared (``api.jobs.incremental.output_differences``: every
file byte for byte, every stored result, identity links, geocodes, tile cells). Writes
DIR/bench.json; the lead copies the table into bench/RESULTS_pipeline.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
#: the command line of this tree (not an installed `wayfinder` of another checkout)
WF = [sys.executable, "-m", "api.cli"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def timed(cmd: list[str], tree: Path = ROOT) -> dict:
    """Run `cmd` as a child (the code of ``tree``); wall seconds, its CPU seconds and peak RSS
    (MB), stdout."""
    t0 = time.perf_counter()
    with open(os.devnull, "w") as null:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=null, cwd=tree, text=True,
                             env={**ENV, "PYTHONPATH": str(tree)})
        out = p.stdout.read()
        _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        raise SystemExit(f"failed ({rc}): {' '.join(cmd)}")
    return {"cmd": " ".join(["wayfinder", *cmd[len(WF):]]), "seconds": round(wall, 1),
            "cpu_seconds": round(ru.ru_utime + ru.ru_stime, 1),
            "peak_rss_mb": round(ru.ru_maxrss / 1024), "report": json.loads(out)}


def run_cmd(db: Path, out: Path, drop: Path, permutations: int, seed: int, *extra) -> list[str]:
    return [*WF, "run", "--db", f"sqlite:///{db}", "--out", str(out), "--drop", str(drop),
            "--permutations", str(permutations), "--seed", str(seed), "--quiet", "--json",
            *extra]


def steps_of(report: dict) -> dict:
    return {s: {"mode": r.get("mode"), "seconds": r.get("seconds"),
                "cpu_seconds": r.get("cpu_seconds"), "peak_rss_mb": r.get("peak_rss_mb"),
                **({"delta": r["delta"]} if r.get("delta") else {}),
                **({"analyses": r["analyses"]} if r.get("analyses") else {})}
            for s, r in report["steps"].items()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="region")
    ap.add_argument("--share", type=float, default=0.003)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--permutations", type=int, default=999)
    ap.add_argument("--work", type=Path, default=Path("/tmp/wf_bench_incremental"))
    ap.add_argument("--earlier-code", type=Path, default=None,
                    help="a checkout of an earlier commit: its incremental run on a third copy "
                         "of the store, right after this code's, to compare the two on one "
                         "machine state (outputs compared too)")
    ap.add_argument("--intelligence-day", action="store_true",
                    help="only the second comparison, on the stores of an earlier run: a day "
                         "of new intelligence alone (the held-back intelligence again, new ids)")
    a = ap.parse_args()
    if a.intelligence_day:
        return intelligence_day(a)
    from geo.scenario.newday import hold_back_newest
    w = a.work / a.scale
    w.mkdir(parents=True, exist_ok=True)
    res = {"machine": "2 cores, 24 GB RAM, shared", "uptime_before": uptime(),
           "scale": a.scale, "share": a.share, "permutations": a.permutations}
    if not (w / "drop" / "truth.json").exists():
        subprocess.run([*WF, "synth", "--out", str(w / "drop"), "--seed", str(a.seed),
                        "--scale", a.scale], check=True, cwd=ROOT, capture_output=True, env=ENV)
    for d in ("base", "new", "out_a", "out_b", "out_c", "out_base", "out_new"):
        shutil.rmtree(w / d, ignore_errors=True)
    for f in w.glob("*.sqlite*"):       # the stores, their journals and .keys folders
        shutil.rmtree(f) if f.is_dir() else f.unlink()
    res["held_back"] = hold_back_newest(w / "drop", w / "base", w / "new", a.share)
    db_a, db_b = w / "a.sqlite", w / "b.sqlite"
    from geo.places.reference import load_bundled
    from geo.storage.store import open_store
    store = open_store(f"sqlite:///{db_a}")
    load_bundled(store)
    store.engine.dispose()
    print("base full run ...", flush=True)
    res["base_full"] = timed(run_cmd(db_a, w / "out_a", w / "base", a.permutations, a.seed))
    db_c = w / "c.sqlite"
    for db in (db_b, db_c) if a.earlier_code else (db_b,):
        with sqlite3.connect(db_a) as src, sqlite3.connect(db) as dst:
            src.backup(dst)
        shutil.copytree(Path(f"{db_a}.keys"), Path(f"{db}.keys"))
    if a.earlier_code:      # the earlier code's run starts from the base run's files too
        shutil.copytree(w / "out_a", w / "out_base")
    print("incremental run ...", flush=True)
    res["incremental"] = timed(run_cmd(db_a, w / "out_a", w / "new", a.permutations, a.seed,
                                       "--incremental"))
    if a.earlier_code:
        # in the base run's output folder (the folder is part of every step's input signature:
        # another folder would rerun every step), this code's outputs moved aside meanwhile
        print("incremental run, earlier code ...", flush=True)
        (w / "out_a").rename(w / "out_new")
        (w / "out_base").rename(w / "out_a")
        res["incremental_earlier"] = timed(
            run_cmd(db_c, w / "out_a", w / "new", a.permutations, a.seed, "--incremental"),
            tree=a.earlier_code.resolve())
        (w / "out_a").rename(w / "out_c")
        (w / "out_new").rename(w / "out_a")
    print("full run on base + new ...", flush=True)
    res["full"] = timed(run_cmd(db_b, w / "out_b", w / "new", a.permutations, a.seed))
    from api.jobs.incremental import output_differences
    res["differences"] = output_differences(w / "out_a", w / "out_b",
                                            open_store(f"sqlite:///{db_a}"),
                                            open_store(f"sqlite:///{db_b}"))
    if a.earlier_code:
        res["differences_earlier"] = output_differences(
            w / "out_a", w / "out_c", open_store(f"sqlite:///{db_a}"),
            open_store(f"sqlite:///{db_c}"))
    res["uptime_after"] = uptime()
    for k in ("base_full", "incremental", "incremental_earlier", "full"):
        if k in res:
            res[k]["steps"] = steps_of(res[k].pop("report"))
    (w / "bench.json").write_text(json.dumps(res, indent=1, default=str))
    inc, full = res["incremental"], res["full"]
    print(json.dumps({"held_back": res["held_back"], "incremental_s": inc["seconds"],
                      "full_s": full["seconds"], "ratio": round(full["seconds"] / inc["seconds"], 2),
                      "differences": res["differences"],
                      **({"incremental_earlier_s": res["incremental_earlier"]["seconds"],
                          "differences_earlier": res["differences_earlier"]}
                         if a.earlier_code else {})}, indent=1))


def intelligence_day(a) -> None:
    """A day bringing intelligence only (no episodes): on stores A and B as an earlier run left
    them (equal outputs), A runs --incremental and B a full run; outputs compared."""
    import pandas as pd

    from api.jobs.incremental import output_differences
    from geo.storage.store import open_store
    w = a.work / a.scale
    res = {"machine": "2 cores, 24 GB RAM, shared", "uptime_before": uptime()}
    intel = pd.read_csv(w / "new" / "intelligence.csv", dtype=str, keep_default_na=False)
    day = w / "intel_day"
    shutil.rmtree(day, ignore_errors=True)
    day.mkdir()
    intel.assign(intel_id=intel["intel_id"] + "-d2").to_csv(day / "intelligence.csv", index=False)
    res["held_back"] = {"intelligence": len(intel)}
    res["incremental"] = timed(run_cmd(w / "a.sqlite", w / "out_a", day, a.permutations, a.seed,
                                       "--incremental"))
    res["full"] = timed(run_cmd(w / "b.sqlite", w / "out_b", day, a.permutations, a.seed))
    res["differences"] = output_differences(w / "out_a", w / "out_b",
                                            open_store(f"sqlite:///{w / 'a.sqlite'}"),
                                            open_store(f"sqlite:///{w / 'b.sqlite'}"))
    res["uptime_after"] = uptime()
    for k in ("incremental", "full"):
        res[k]["steps"] = steps_of(res[k].pop("report"))
    (w / "bench_intelligence_day.json").write_text(json.dumps(res, indent=1, default=str))
    inc, full = res["incremental"], res["full"]
    print(json.dumps({"incremental_s": inc["seconds"], "full_s": full["seconds"],
                      "cpu_ratio": round(full["cpu_seconds"] / inc["cpu_seconds"], 2),
                      "differences": res["differences"]}, indent=1))


if __name__ == "__main__":
    main()

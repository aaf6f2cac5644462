"""Why the space-time scan flags some null drops (issue 13): the same drop scanned with the
resolved person ids, the generator's true child ids, and one id per event, plus what the
data hold that could tie time to place.

Run: ``.venv/bin/python bench/scan_null_identity.py --null housemates --first 0 --drops 40
[--replications 999] [--log FILE]``

Each drop is made exactly as ``bench/bench_null_spacetime.py`` makes it (seed 1000 + i, city
scale, ingest, identity resolution with seed i) and its found-at events are scanned three ways
with the same scan seed (i) and settings as ``wayfinder analyse``:

* ``resolved``: the person ids identity resolution gave (the scan as it runs on main);
* ``true``: the child each event's record belongs to in ``truth.json`` (``identities``), so the
  time-line permutation swaps the time-lines of real children;
* ``event``: every event its own "child" (the plain event permutation; no per-child de-duplication).

Logged per drop (one JSON line): the three p-values and top LLRs, the identity figures among the
scanned events (true children, resolved ids, true children split over several ids, ids merging
several true children), events the one-child-once-per-place-and-unit rule drops under each id,
the events of moved children (``truth["moved_children"]``), and a direct check that a child's
found-at place does not depend on the date under the generator's null: the share of the events
of children with two or more at the child's modal 250 m cell, by quarter of the year (constant
when place and date are independent), and whether one child's episodes bunch in time: the
pairs of one child's events at most 14 days apart, against 999 permutations of the event times
(under the generator's null, where every episode's day is drawn on its own, its p is uniform).
``--no-scan`` logs these figures without the three scans.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.simplefilter("ignore")


def scan_p(ev, person, seed: int, R: int) -> dict:
    """The scan as ``wayfinder analyse`` runs it, with ``person`` as the child of each event."""
    from geo.stats.scan import prepare, space_time_scans
    data = prepare(ev.assign(person_id=person))
    (retro, info), (pro, _) = space_time_scans(data, replications=R, seed=seed)
    ps = list(retro["p_value"]) + list(pro["p_value"])
    return {"p": float(min(ps)) if ps else 1.0, "llr": float(retro["llr"].iloc[0]) if len(retro) else 0.0,
            "events": int(data.C), "reps": int(info.get("replications_run", 0))}


def within_child_pairs(t, child, days: float = 14.0) -> int:
    """Pairs of one child's events at most ``days`` apart (``t`` in days)."""
    import numpy as np
    o = np.lexsort((t, child))
    c, tt = child[o], t[o]
    total, lag = 0, 1
    while lag < len(tt):
        same = (c[lag:] == c[:-lag]) & (tt[lag:] - tt[:-lag] <= days)
        if not same.any():
            break
        total += int(same.sum())
        lag += 1
    return total


def one_drop(i: int, work: Path, R: int, null: str, scan: bool = True) -> dict:
    import numpy as np
    import pandas as pd
    from api.jobs.identity import save_identities
    from geo.places.reference import load_bundled
    from geo.scenario.generator import generate
    from geo.stats.hotspots import filter_events
    from geo.stats.scan import EXCLUDE_PRECISION
    from geo.storage.ingest import ingest_drop
    from geo.storage.store import open_store
    from network.identity import records_from_frames, resolve_identities

    t0 = time.perf_counter()
    d = work / f"{null}{i}"
    shutil.rmtree(d, ignore_errors=True)
    truth = generate(d / "drop", seed=1000 + i, scale="city", null=True if null == "plain" else null)
    store = open_store(f"sqlite:///{d / 'wf.sqlite'}")
    load_bundled(store)
    ingest_drop(store, d / "drop")
    save_identities(store, resolve_identities(records_from_frames(store.frame("children"), store.frame("persons")),
                                              store.table("identity_overrides"), seed=i))
    ev, ep = store.frame("place_events"), store.frame("episodes")
    store.engine.dispose()
    shutil.rmtree(d, ignore_errors=True)

    # the scan's events as prepare reads them (found-at, located, not area centroids)
    f = filter_events(ev, ("found_at",), None, None).dropna(subset=["easting", "northing", "at"])
    f = f[~f["precision"].astype("string").isin(list(EXCLUDE_PRECISION)).fillna(False).to_numpy(bool)]
    f = f.reset_index(drop=True)
    child_key = f["episode_key"].map(ep.set_index("episode_key")["child_key"])
    tid = child_key.map(truth["identities"]).astype("string")
    resolved = f["person_id"].astype("string")
    row = {"drop": i, "seed": 1000 + i, "null": null, "replications": R, "found_at_events": int(len(f)),
           "events_without_true_child": int(tid.isna().sum())}
    # identity among the scanned events
    pairs = pd.DataFrame({"t": tid, "r": resolved}).dropna()
    per_true = pairs.groupby("t")["r"].nunique()
    per_res = pairs.groupby("r")["t"].nunique()
    row.update({"true_children": int(len(per_true)), "resolved_ids": int(len(per_res)),
                "true_children_split": int((per_true > 1).sum()),
                "events_of_split_children": int(pairs["t"].isin(per_true.index[per_true > 1]).sum()),
                "resolved_ids_merging": int((per_res > 1).sum()),
                "events_of_merged_ids": int(pairs["r"].isin(per_res.index[per_res > 1]).sum()),
                "events_of_moved_children": int(tid.isin(set(truth.get("moved_children", []))).sum())})
    # one child once per 250 m cell and 7-day unit: events dropped under each id
    cell = np.floor(f[["easting", "northing"]].to_numpy(float) / 250.0).astype(np.int64)
    at = pd.to_datetime(f["at"], utc=True)
    week = ((at.max().floor("D") + pd.Timedelta(days=1) - at).dt.total_seconds() // (7 * 86400)).astype(int)
    key = pd.DataFrame({"e": cell[:, 0], "n": cell[:, 1], "u": week.to_numpy()})
    for name, p in (("resolved", resolved), ("true", tid)):
        row[f"dedup_dropped_{name}"] = int(key.assign(p=p.fillna("?").to_numpy()).duplicated().sum())
    # time vs place under the generator's null: share of each child's events at its modal cell, by quarter
    cm = pd.DataFrame({"t": tid, "c": cell[:, 0] * 10**6 + cell[:, 1], "q": at.dt.quarter.to_numpy()}).dropna()
    multi = cm.groupby("t")["c"].transform("size") >= 2
    cm = cm[multi.to_numpy()]
    modal = cm.groupby("t")["c"].agg(lambda s: s.value_counts().index[0])
    cm["at_modal"] = cm["c"].to_numpy() == modal.reindex(cm["t"]).to_numpy()
    row["share_at_modal_cell_by_quarter"] = {int(q): round(float(v), 3) for q, v in cm.groupby("q")["at_modal"].mean().items()}
    tc = pd.DataFrame({"t": tid, "d": ((at - at.min()).dt.total_seconds() / 86400).to_numpy()}).dropna()
    child, days = pd.factorize(tc["t"])[0], tc["d"].to_numpy()
    obs = within_child_pairs(days, child)
    rng = np.random.default_rng(i)
    sims = np.array([within_child_pairs(days[rng.permutation(len(days))], child) for _ in range(999)])
    row.update({"within_child_pairs_14d": obs, "within_child_pairs_14d_null_mean": round(float(sims.mean()), 1),
                "within_child_pairs_14d_p": float((1 + (sims >= obs).sum()) / 1000)})
    t1 = time.perf_counter()
    ids = {"resolved": resolved, "true": tid.fillna(resolved),
           "event": pd.Series([f"ev{j}" for j in range(len(f))], dtype="string")}
    for name, p in ids.items() if scan else ():
        r = scan_p(f, p.to_numpy(), i, R)
        row.update({f"p_{name}": r["p"], f"llr_{name}": r["llr"], f"events_{name}": r["events"],
                    f"reps_{name}": r["reps"]})
    row["seconds"] = {"prepare": round(t1 - t0, 1), "scans": round(time.perf_counter() - t1, 1)}
    return row


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--drops", type=int, default=20)
    ap.add_argument("--replications", type=int, default=999)
    ap.add_argument("--null", default="housemates", choices=("plain", "housemates"))
    ap.add_argument("--log", type=Path, default=Path(tempfile.gettempdir()) / "scan_null_identity.jsonl")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "scan_null_identity")
    ap.add_argument("--no-scan", action="store_true", help="the identity, place and timing figures only")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    for i in range(a.first, a.first + a.drops):
        row = one_drop(i, a.work, a.replications, a.null, scan=not a.no_scan)
        with open(a.log, "a") as fh:
            fh.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()

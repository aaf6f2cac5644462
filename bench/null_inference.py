#!/usr/bin/env python
"""Null and planted evaluation of the premises-of-concern test and the found-at cluster scan (issue 13).

    .venv/bin/python bench/null_inference.py [--nulls 20] [--housemates 20] [--planted 5]
                                             [--workers 2] [--replications 999] [--full]
                                             [--work DIR] [--reuse] [--identity] [--out bench/RESULTS_inference.md]

Per drop: ``geo.scenario.generator.generate`` (city scale; ``null=True`` for the plain null, ``null="housemates"``
for the housemates null of ``geo.scenario.nulls``: children go missing on their own timelines and
are found back at their own homes, so housemates share a found-at place by chance; planted drops
as generated), the bundled Birmingham
reference data, ``geo.storage.ingest.ingest_drop`` into a fresh SQLite store, then the analyses:
by default the two this evaluation is about, called exactly as ``wayfinder analyse`` calls them
(``api.jobs.analyse.run_analyse``: the study area's postcodes, the store's children,
geocodes, links and intelligence); with ``--full`` the whole ``run_analyse``.

Reports per drop: premises flagged at q < 0.05, found-at clusters and clusters with q < 0.05
(locations of concern); on planted drops the planted venues' recall in the top 20 and the top-5
precision. Targets (issue 13): flagged premises in at most 1 of 20 null drops and significant
clusters in at most 1 of 20; planted recall >= 0.9 and top-5 precision >= 0.8.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def one_drop(work: str, kind: str, seed: int, replications: int, full: bool, reuse: bool = False,
             identity: bool = False, habitual_episodes: int = 2) -> dict:
    """Generate, ingest and analyse one city drop; the figures of the evaluation."""
    warnings.simplefilter("ignore")
    import pandas as pd

    from geo.storage.ingest import ingest_drop
    from geo.places.reference import load_bundled
    from geo.storage.store import open_store
    from geo.scenario.generator import generate

    t0 = time.perf_counter()
    folder = Path(work) / f"{kind}_{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "wf.sqlite"
    if reuse and db.exists() and (folder / "drop" / "truth.json").exists() and (folder / "ready").exists():
        truth = json.loads((folder / "drop" / "truth.json").read_text())
        store = open_store(f"sqlite:///{db}")
    else:
        truth = generate(folder / "drop", seed=seed, scale="city",
                         null={"null": True, "housemates": "housemates", "planted": False}[kind])
        if db.exists():
            db.unlink()
        store = open_store(f"sqlite:///{db}")
        load_bundled(store)
        ingest_drop(store, folder / "drop")
        (folder / "ready").write_text("ingested\n")
    if identity and not (folder / "identity").exists():
        _resolve_identities(store, seed)
        (folder / "identity").write_text("resolved\n")
    t1 = time.perf_counter()
    if full:
        from api.jobs.analyse import run_analyse
        run_analyse(store, folder / "out", seed=seed, permutations=replications)
        poc = store.read_result("premises_of_concern")
        cl = store.read_result("found_at_clusters")
    else:
        poc, cl = _two_analyses(store, seed, replications, habitual_episodes)
    t2 = time.perf_counter()
    q = pd.to_numeric(poc["q_value"], errors="coerce")
    out = {"kind": kind, "seed": seed, "premises": int(len(poc)), "premises_flagged": int((q < 0.05).sum()),
           "clusters": int(len(cl)), "clusters_significant": int((pd.to_numeric(cl["q_value"]) < 0.05).sum()) if len(cl) else 0,
           "min_cluster_p": float(pd.to_numeric(cl["p_value"]).min()) if len(cl) else None,
           "min_premises_p": float(pd.to_numeric(poc["p_value"]).min()),
           "prepare_s": round(t1 - t0, 1), "analyse_s": round(t2 - t1, 1)}
    planted = set(truth["venue_hotspots"])
    if planted:
        top20, top5 = set(poc.head(20)["premises_id"]), list(poc.head(5)["premises_id"])
        out["planted"] = len(planted)
        out["recall_top20"] = round(len(top20 & planted) / len(planted), 3)
        out["precision_top5"] = round(sum(p in planted for p in top5) / 5, 3)
        out["planted_significant"] = int(poc[poc["premises_id"].isin(planted)]["q_value"].lt(0.05).sum())
        out["other_flagged"] = out["premises_flagged"] - out["planted_significant"]
    out.update(_planted_place(truth, cl))
    store.engine.dispose()
    return out


def _planted_place(truth: dict, cl) -> dict:
    """The generator's planted found-at place (``truth["space_time_clusters"]``: ten children
    found at one postcode within three weeks): is it in a found-at cluster (hull within 50 m), with
    which p and q, and is that cluster a location of concern (q < 0.05)."""
    places = truth.get("space_time_clusters") or []
    if not places:
        return {}
    import numpy as np
    import pandas as pd
    import shapely

    best = {"planted_place_in_cluster": 0, "planted_place_p": None, "planted_place_q": None,
            "planted_place_significant": 0}
    if len(cl) and "geometry" in cl:
        for pl in places:
            d = shapely.distance(np.asarray(cl.geometry), shapely.points(pl["easting"], pl["northing"]))
            near = np.flatnonzero(d <= 50.0)
            if len(near):
                q = pd.to_numeric(cl["q_value"]).to_numpy()[near]
                j = near[int(np.nanargmin(q))] if np.isfinite(q).any() else near[0]
                best = {"planted_place_in_cluster": 1, "planted_place_p": float(cl["p_value"].iloc[j]),
                        "planted_place_q": float(cl["q_value"].iloc[j]),
                        "planted_place_significant": int(float(cl["q_value"].iloc[j]) < 0.05)}
    return best


def _resolve_identities(store, seed: int) -> None:
    """``wayfinder identity`` as the pipeline runs it (api.jobs.pipeline.step_identity): records of one
    child across sources become one person_id, so its placement from any record is its home."""
    from api.jobs.identity import save_identities
    from network.identity import records_from_frames, resolve_identities
    try:
        persons = store.frame("persons")
    except Exception:
        persons = None
    records = records_from_frames(store.frame("children"), persons)
    save_identities(store, resolve_identities(records, store.table("identity_overrides"), seed=seed))


def _two_analyses(store, seed: int, replications: int, habitual_episodes: int = 2):
    """Premises of concern and found-at clusters with the arguments ``run_analyse`` passes."""
    from geo.stats.clusters import found_at_clusters
    from geo.places.located import study_postcodes
    from geo.stats.venues import premises_of_concern

    def frame(name):
        try:
            return store.frame(name)
        except Exception:
            return None
    ev, premises = store.frame("place_events"), store.frame("premises")
    background = study_postcodes(store.frame("postcodes"), store.frame("areas"))
    cl = found_at_clusters(ev, premises, children=frame("children"), postcodes=background,
                           replications=replications, seed=seed, habitual_episodes=habitual_episodes)
    poc = premises_of_concern(premises, ev, geocodes=frame("geocodes"), links=frame("links"), postcodes=background,
                              intelligence=frame("intelligence"), children=frame("children"))
    return poc, cl


def _table(rows: list[dict]) -> str:
    lines = ["| drop | seed | premises flagged (q<0.05) | clusters | significant clusters | min cluster p | "
             "planted recall top 20 | planted top-5 precision | other premises flagged | planted place p / q | prepare s | analyse s |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['kind']} | {r['seed']} | {r['premises_flagged']} | {r['clusters']} | "
                     f"{r['clusters_significant']} | {'' if r['min_cluster_p'] is None else format(r['min_cluster_p'], '.3f')} | "
                     f"{r.get('recall_top20', '')} | "
                     f"{r.get('precision_top5', '')} | {r.get('other_flagged', '')} | {_pq(r)} | {r['prepare_s']} | {r['analyse_s']} |")
    return "\n".join(lines)


def _pq(r: dict) -> str:
    if "planted_place_in_cluster" not in r:
        return ""
    if not r["planted_place_in_cluster"]:
        return "not in a cluster"
    return f"{r['planted_place_p']:.2g} / {r['planted_place_q']:.2g}"


def summarise(rows: list[dict]) -> dict:
    s = {}
    for kind in ("null", "housemates", "planted"):
        rs = [r for r in rows if r["kind"] == kind]
        if not rs:
            continue
        s[kind] = {"drops": len(rs),
                   "drops_with_flagged_premises": sum(r["premises_flagged"] > 0 for r in rs if kind != "planted")
                   if kind != "planted" else None,
                   "drops_with_significant_clusters": sum(r["clusters_significant"] > 0 for r in rs)
                   if kind != "planted" else None,
                   "flagged_premises_total": sum(r["premises_flagged"] for r in rs),
                   "significant_clusters_total": sum(r["clusters_significant"] for r in rs)}
        if kind == "planted":
            s[kind]["recall_top20_min"] = min(r["recall_top20"] for r in rs)
            s[kind]["precision_top5_min"] = min(r["precision_top5"] for r in rs)
            s[kind]["other_flagged_total"] = sum(r["other_flagged"] for r in rs)
            s[kind]["planted_place_in_cluster"] = sum(r.get("planted_place_in_cluster", 0) for r in rs)
            s[kind]["planted_place_significant"] = sum(r.get("planted_place_significant", 0) for r in rs)
    return s


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nulls", type=int, default=20)
    ap.add_argument("--housemates", type=int, default=20)
    ap.add_argument("--planted", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--replications", type=int, default=999)
    ap.add_argument("--full", action="store_true", help="run the whole wayfinder analyse per drop")
    ap.add_argument("--work", default="/tmp/wf_null_inference")
    ap.add_argument("--reuse", action="store_true", help="reuse drops already generated and ingested in --work")
    ap.add_argument("--identity", action="store_true", help="resolve identities first, as `wayfinder run` does")
    ap.add_argument("--habitual-episodes", type=int, default=2,
                    help="found_at_clusters(habitual_episodes=): 0 turns the child's own habitual places off")
    ap.add_argument("--out", default=str(ROOT / "bench" / "RESULTS_inference.md"))
    a = ap.parse_args(argv)
    jobs = ([("null", 100 + i) for i in range(a.nulls)] + [("housemates", 200 + i) for i in range(a.housemates)]
            + [("planted", 300 + i) for i in range(a.planted)])
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=a.workers) as pool:
        futs = [pool.submit(one_drop, a.work, k, s, a.replications, a.full, a.reuse, a.identity,
                            a.habitual_episodes) for k, s in jobs]
        rows, failed = [], []
        for (k, s), f in zip(jobs, futs):
            try:
                rows.append(f.result())
            except Exception as exc:  # a drop the generator cannot write is reported, not fatal
                failed.append({"kind": k, "seed": s, "error": f"{type(exc).__name__}: {exc}"})
                print(json.dumps(failed[-1]), flush=True)
                continue
            print(json.dumps(rows[-1]), flush=True)
    summary = summarise(rows)
    print(json.dumps(summary, indent=1))
    cmd = "python bench/null_inference.py " + " ".join(argv if argv is not None else sys.argv[1:])
    load = os.getloadavg()
    text = (f"# Null and planted evaluation of premises of concern and found-at clusters (issue 13)\n\n"
            f"Machine: {os.cpu_count()} cores, {platform.system()} {platform.machine()}, Python "
            f"{platform.python_version()}; shared with other engineers' jobs (load average at the end "
            f"{load[0]:.1f}). Command: `{cmd.strip()}` ({len(rows)} drops, {a.replications} Monte Carlo "
            f"replications, {'whole wayfinder analyse' if a.full else 'the two analyses as run_analyse calls them'}; "
            f"{time.time() - t0:.0f} s wall).\n\n"
            "Targets: premises flagged at q < 0.05 in at most 1 of 20 null drops; significant found-at "
            "clusters in at most 1 of 20; planted venues' recall in the top 20 >= 0.9 and top-5 precision >= 0.8.\n\n"
            "## Summary\n\n```json\n" + json.dumps(summary, indent=1) + "\n```\n\n## Every drop\n\n" + _table(rows) + "\n"
            + ("\nDrops the generator could not write: " + "; ".join(f"{f['kind']} {f['seed']} ({f['error']})"
                                                              for f in failed) + "\n" if failed else ""))
    Path(a.out).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

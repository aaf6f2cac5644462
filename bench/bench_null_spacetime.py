"""Null rates of the space-time inference (issue 13, items 3-5) over generated null city drops.

Run: ``.venv/bin/python bench/bench_null_spacetime.py --drops 20 --replications 999
[--null plain|housemates] [--scan-only] [--own-place-rule]``

Each drop: ``geo.scenario.generator.generate(seed=1000+i, scale="city", null=True)`` (no planted structure,
same volumes; ``--null housemates``: children also found back at their own homes,
:mod:`geo.scenario.nulls`), the bundled Birmingham reference data, ingest and geocoding into
SQLite, identity resolution, then exactly the analyses ``wayfinder analyse`` runs for space and
time (``--scan-only``: the scan alone):

* Knox (500 m, 14 days) with the child time-line permutation (and, for comparison, the old event
  permutation): p < 0.05?
* the near-repeat table: any cell with BH q < 0.05?
* Kulldorff's space-time permutation scan, retrospective and prospective (shared permutations):
  any reported cluster with p < 0.05 (the p-value is one test over both analyses)? the most
  likely cluster of each analysis, the prospective recurrence interval, BH q.
* emerging hot spots on complete months: share of wards with a category other than no_pattern.

One JSON line per drop goes to ``--log`` as it finishes (a partial run keeps its drops); the
summary table is printed as Markdown, with the scan's false-alarm rate, its exact
(Clopper-Pearson) 95 % interval, the one-sided binomial test against 5 % and a KS test of the
drops' p-values against U(0, 1) (``--summary-only --log LOG`` re-reads a log). Targets (issue 13): Knox p < 0.05 in at most 2 of 20 drops,
scan clusters with p < 0.05 in at most 1 of 20, emerging categories on at most 5 % of ward-runs.
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


def one_drop(i: int, work: Path, R: int, ehs_only: bool = False, null="plain", scan_only: bool = False,
             own_place_rule: bool = False) -> dict:
    import pandas as pd
    from api.jobs.identity import save_identities
    from geo.storage.ingest import ingest_drop
    from geo.places.reference import load_bundled
    from geo.stats.scan import space_time_scans
    from geo.stats.spacetime import knox_test, near_repeat
    from geo.storage.store import open_store
    from geo.scenario.generator import generate
    from network.identity import records_from_frames, resolve_identities

    t0 = time.perf_counter()
    d = work / f"null{i}"
    shutil.rmtree(d, ignore_errors=True)
    generate(d / "drop", seed=1000 + i, scale="city", null=True if null == "plain" else null)
    store = open_store(f"sqlite:///{d / 'wf.sqlite'}")
    load_bundled(store)
    ingest_drop(store, d / "drop")
    if ehs_only:   # episode counts per ward-month need no identity resolution
        row = {"drop": i, "seed": 1000 + i, "ehs_only": True}
        row.update(_ehs(store, store.frame("place_events")))
        store.engine.dispose()
        shutil.rmtree(d, ignore_errors=True)
        return row
    ids = resolve_identities(records_from_frames(store.frame("children"), store.frame("persons")),
                             store.table("identity_overrides"), seed=i)
    save_identities(store, ids)
    ev = store.frame("place_events")
    t1 = time.perf_counter()
    row = {"drop": i, "seed": 1000 + i, "null": null, "replications": R, "own_place_rule": own_place_rule}
    if not scan_only:
        kx = knox_test(ev, seed=i, permutations=R)
        kx_event = knox_test(ev, seed=i, permutations=R, permute="event")
        nr = near_repeat(ev, seed=i, permutations=R)
        row.update({"events": int(kx["n_events"]), "knox_p": kx["p_value"], "knox_event_perm_p": kx_event["p_value"],
                    "near_repeat_min_q": float(nr["q_value"].min()),
                    "near_repeat_cells_q05": int((nr["q_value"] < 0.05).sum())})
    t2 = time.perf_counter()
    (retro, info), (pro, _) = space_time_scans(ev, replications=R, seed=i, children=store.frame("children"),
                                               own_place_rule=own_place_rule)
    t3 = time.perf_counter()
    from geo.stats.permutation import bh_qvalues
    allp = pd.concat([retro["p_value"], pro["p_value"]]).to_numpy(float)
    q = bh_qvalues(allp) if len(allp) else allp
    row.update({"scan_events": int(info["events"]), "scan_own_place_left_out": info.get("own_place_events_left_out"),
                "scan_replications_run": info.get("replications_run"),
                "scan_retro_p": float(retro["p_value"].iloc[0]) if len(retro) else 1.0,
                "scan_retro_llr": float(retro["llr"].iloc[0]) if len(retro) else 0.0,
                "scan_pro_p": float(pro["p_value"].iloc[0]) if len(pro) else 1.0,
                "scan_pro_llr": float(pro["llr"].iloc[0]) if len(pro) else 0.0,
                "scan_pro_recurrence_days": float(pro["recurrence_days"].iloc[0]) if len(pro) else None,
                "scan_min_p": float(allp.min()) if len(allp) else 1.0,
                "scan_min_q": float(q.min()) if len(q) else 1.0})
    if not scan_only:
        row.update(_ehs(store, ev))
    store.engine.dispose()
    shutil.rmtree(d, ignore_errors=True)
    row["seconds"] = {"prepare": round(t1 - t0, 1), "knox_near_repeat": round(t2 - t1, 1),
                      "scan": round(t3 - t2, 1), "total": round(time.perf_counter() - t0, 1)}
    return row


def _ehs(store, ev) -> dict:
    """Emerging hot spots exactly as ``wayfinder analyse`` runs them (complete months, exposure)."""
    from api.jobs.analyse import ward_exposure
    from geo.stats.hotspots import filter_events
    from geo.stats.spacetime import complete_months, emerging_hotspots, monthly_series
    from geo.stats.weights import queen_weights
    areas = store.frame("areas")
    wards = areas[areas["level"] == "ward"].reset_index(drop=True)
    s = monthly_series(ev, wards, level="ward")
    s = complete_months(s, last_at=filter_events(ev)["at"].max())
    w = queen_weights(wards, ids=wards["area_code"].to_numpy(), islands="nearest")
    pop, per = ward_exposure(store.frame("populations"), store.frame("postcodes"), wards["area_code"].to_numpy())
    eh = emerging_hotspots(s, w, population=pop, per=per)
    return {"ehs_share": float((eh["category"] != "no_pattern").mean()), "ehs_wards": int(len(eh)),
            "ehs_months": int(eh["months"].iloc[0]) if len(eh) else 0,
            "ehs_categories": eh["category"].value_counts().to_dict()}


def summary(all_rows: list[dict]) -> str:
    rows = [r for r in all_rows if not r.get("ehs_only")]
    full = [r for r in rows if "knox_p" in r]
    ehs_rows = [r for r in all_rows if r.get("ehs_only")] or [r for r in full if "ehs_wards" in r]
    n = len(rows)
    if not n:
        return "no drops"
    c = lambda rs, f: sum(1 for r in rs if f(r))
    lines = [f"| test | drops flagged | target |", "|---|---|---|"]
    if full:
        lines += [f"| Knox p < 0.05, child time-line permutation | {c(full, lambda r: r['knox_p'] < 0.05)} of {len(full)} | <= 2 of 20 |",
                  f"| Knox p < 0.05, event permutation (before) | {c(full, lambda r: r['knox_event_perm_p'] < 0.05)} of {len(full)} | |",
                  f"| near-repeat table: any cell q < 0.05 | {c(full, lambda r: r['near_repeat_min_q'] < 0.05)} of {len(full)} | |"]
    lines += [f"| scan: any reported cluster p < 0.05 (the one test over both analyses) | {c(rows, lambda r: r['scan_min_p'] < 0.05)} of {n} | <= 1 of 20 |",
              f"| scan: retrospective most likely cluster p < 0.05 | {c(rows, lambda r: r['scan_retro_p'] < 0.05)} of {n} | |",
              f"| scan: prospective most likely cluster p < 0.05 | {c(rows, lambda r: r['scan_pro_p'] < 0.05)} of {n} | |",
              f"| scan: prospective recurrence interval > 365 days | {c(rows, lambda r: (r.get('scan_pro_recurrence_days') or 0) > 365)} of {n} | |"]
    lines.append(_scan_rate_line(rows))
    if ehs_rows:
        wards = sum(r["ehs_wards"] for r in ehs_rows)
        flagged = sum(r["ehs_share"] * r["ehs_wards"] for r in ehs_rows)
        lines.append(f"| emerging hot spots ({len(ehs_rows)} drops): ward-runs with a category | {flagged:.0f} of {wards} ({flagged / max(wards, 1):.1%}) | <= 5 % |")
    return "\n".join(lines)


def _scan_rate_line(rows: list[dict]) -> str:
    """The scan's false-alarm rate with its exact (Clopper-Pearson) 95 % interval, the binomial test
    of "at most 5 %", and the Kolmogorov-Smirnov test of the drops' p-values against U(0, 1) (under a
    valid test they are uniform; the sequential p-values of early-stopped drops, h / r, are coarse but
    valid, Besag & Clifford 1991, so a KS test that rejects points at the test, not at chance)."""
    from scipy.stats import binomtest, kstest
    p = [r["scan_min_p"] for r in rows]
    k, n = sum(x < 0.05 for x in p), len(p)
    ci = binomtest(k, n, 0.05).proportion_ci(method="exact")
    above = binomtest(k, n, 0.05, alternative="greater").pvalue
    ks = kstest(p, "uniform")
    return (f"| scan: false-alarm rate, exact 95 % CI; one-sided binomial P(>= {k} of {n} at 5 %); KS of p vs U(0,1) "
            f"| {k}/{n} = {k / n:.1%} ({ci.low:.1%} - {ci.high:.1%}); P = {above:.3f}; KS D = {ks.statistic:.3f}, "
            f"p = {ks.pvalue:.3f} | 5 % |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--drops", type=int, default=20)
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--replications", type=int, default=999)
    ap.add_argument("--log", type=Path, default=Path(tempfile.gettempdir()) / "null_spacetime.jsonl")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "null_spacetime")
    ap.add_argument("--summary-only", action="store_true")
    ap.add_argument("--ehs-only", action="store_true", help="emerging hot spots only (no identity, Knox, scan)")
    ap.add_argument("--scan-only", action="store_true", help="the space-time scan only (no Knox, near-repeat, EHS)")
    ap.add_argument("--own-place-rule", action="store_true",
                    help="leave out events at a child's own places (geo.places.located.at_own_place; off by default)")
    ap.add_argument("--null", default="plain", choices=("plain", "housemates"), help="the generator's null model")
    a = ap.parse_args()
    a.work.mkdir(parents=True, exist_ok=True)
    if not a.summary_only:
        for i in range(a.first, a.first + a.drops):
            row = one_drop(i, a.work, a.replications, a.ehs_only, a.null, a.scan_only,
                           a.own_place_rule)
            with open(a.log, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(json.dumps(row), flush=True)
    rows = [json.loads(x) for x in open(a.log)] if a.log.exists() else []
    print(summary(rows))


if __name__ == "__main__":
    main()

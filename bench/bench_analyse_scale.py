"""Benchmark (issues 5, 9): each analysis of `wayfinder analyse` on a store's frames, CPU and wall.

Run: ``.venv/bin/python bench/bench_analyse_scale.py sqlite:///STORE K [--old-knox COMMIT]``

The store's ``place_events`` are copied ``K`` times (new event, episode and person keys; times
shifted by up to 20 days) to reach national volume from a region store without a second
ingest. ``--old-knox COMMIT`` also times ``knox_test`` as it was at ``COMMIT`` (read with
``git show``) with 0 and 4 permutations, to extrapolate its cost for 999.
"""
import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

warnings.simplefilter("ignore")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def timed(name, f):
    t, c = time.perf_counter(), time.process_time()
    r = f()
    print(f"{name}: cpu {time.process_time() - c:.2f} s, wall {time.perf_counter() - t:.2f} s", flush=True)
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("db")
    ap.add_argument("copies", type=int, nargs="?", default=1)
    ap.add_argument("--old-knox", default=None)
    a = ap.parse_args()
    from geo.stats.clusters import found_at_clusters
    from geo.stats.hotspots import area_hotspots
    from geo.stats.spacetime import area_trends, emerging_hotspots, knox_test, monthly_series
    from geo.storage.store import open_store
    from geo.stats.venues import premises_of_concern
    from geo.stats.weights import queen_weights

    s = open_store(a.db)
    ev = timed("load place_events", lambda: s.frame("place_events"))
    areas, premises, postcodes = s.frame("areas"), s.frame("premises"), s.frame("postcodes")
    others = {n: s.frame(n) for n in ("geocodes", "links", "intelligence", "children")}
    if a.copies > 1:
        rng = np.random.default_rng(0)
        parts = []
        for r in range(a.copies):
            e = ev.copy()
            for c in ("event_key", "episode_key", "person_id"):
                e[c] = e[c].astype(str) + f"#{r}"
            e["at"] = e["at"] + pd.to_timedelta(rng.integers(-20, 20, len(e)), unit="D")
            parts.append(e)
        ev = pd.concat(parts, ignore_index=True)
    print("place events", len(ev), flush=True)
    for level in ("ward", "lsoa"):
        ar = areas[areas.level == level]
        pop = postcodes.groupby({"ward": "ward_code", "lsoa": "lsoa_code"}[level]).size()
        timed(f"area_hotspots {level}", lambda: area_hotspots(ev, ar, population=pop, permutations=999, seed=1))
    timed("found_at_clusters", lambda: found_at_clusters(ev, premises))
    timed("premises_of_concern", lambda: premises_of_concern(premises, ev, **others))
    wards = areas[areas.level == "ward"].reset_index(drop=True)
    series = timed("monthly_series", lambda: monthly_series(ev, wards, level="ward"))
    timed("area_trends", lambda: area_trends(series))
    timed("emerging_hotspots", lambda: emerging_hotspots(series, queen_weights(wards, ids=wards.area_code.to_numpy(), islands="nearest")))
    k = timed("knox_test", lambda: knox_test(ev, seed=1))
    print({x: k[x] for x in ("n_events", "n_used", "close_in_space", "statistic", "expected", "p_value")})
    if a.old_knox:
        src = subprocess.run(["git", "show", f"{a.old_knox}:geo/stats/spacetime.py"], cwd=ROOT, check=True,
                             capture_output=True, text=True).stdout
        path = Path(tempfile.mkdtemp()) / "old_spacetime.py"
        path.write_text(src)
        spec = importlib.util.spec_from_file_location("old_spacetime", path)
        old = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(old)
        for R in (0, 4):
            k = timed(f"old knox_test, {R} permutations", lambda: old.knox_test(ev, permutations=R, seed=1))
            print("  close in space", k["close_in_space"])


if __name__ == "__main__":
    main()

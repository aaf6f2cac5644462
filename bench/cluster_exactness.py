#!/usr/bin/env python
"""HDBSCAN exactness on a city store's found-at points (issue 13 item 10).

    .venv/bin/python bench/cluster_exactness.py --db sqlite:///STORE [--min-samples 5]

On the distinct (child, location) points that ``found_at_clusters`` clusters (postcode centroids
repeat): the adjusted Rand index against the exact path (scikit-learn HDBSCAN on every row) of
(a) the old cap of each location's multiplicity at ``min_samples``, (b) the k-NN graph path, (c)
the tiled path (1,500 m tiles). Prints one JSON line per comparison.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--min-samples", type=int, default=5)
    a = ap.parse_args(argv)
    from sklearn.cluster import HDBSCAN
    from sklearn.metrics import adjusted_rand_score

    from geo.stats.clusters import _clustered_events, approximation_report, cluster_points
    from geo.stats.hotspots import DEFAULT_KINDS, filter_events
    from geo.places.located import home_points
    from geo.storage.store import open_store

    store = open_store(a.db)
    ev = store.frame("place_events")
    pts = _clustered_events(filter_events(ev, DEFAULT_KINDS), ("area", "none"), True,
                            home_points(store.frame("children"), ev), 50.0)
    pairs = pts.drop_duplicates(["person_id", "easting", "northing"])
    uniq, inv = np.unique(pairs[["easting", "northing"]].to_numpy(float), axis=0, return_inverse=True)
    w = np.bincount(inv.ravel()).astype(np.int64)
    kw = dict(min_samples=a.min_samples, min_cluster_size=a.min_samples)
    print(json.dumps({"points": int(w.sum()), "locations": int(len(uniq)), "max_multiplicity": int(w.max()),
                      "locations_repeated": int((w > 1).sum())}))
    t = time.perf_counter()
    exact = cluster_points(uniq, w, method="hdbscan", tile_m=None, **kw)
    t_exact = time.perf_counter() - t
    # the old behaviour: multiplicity capped at min_samples before scikit-learn
    cap = np.minimum(w, a.min_samples)
    rep = np.repeat(np.arange(len(uniq)), cap)
    lab = HDBSCAN(min_cluster_size=a.min_samples, min_samples=a.min_samples, algorithm="kd_tree",
                  cluster_selection_method="leaf", copy=True).fit(uniq[rep]).labels_
    capped = np.full(len(uniq), -1)
    capped[rep] = lab
    ex, cp = np.repeat(exact, w), np.repeat(capped, w)
    print(json.dumps({"path": "capped at min_samples (before issue 13)", "ari": round(adjusted_rand_score(ex, cp), 4),
                      "noise_status_differs": round(float(np.mean((ex < 0) != (cp < 0))), 4),
                      "clusters_exact": int(len(np.unique(ex[ex >= 0]))), "clusters_approx": int(len(np.unique(cp[cp >= 0]))),
                      "exact_s": round(t_exact, 2)}))
    # the yardstick: scikit-learn against itself on the same rows in another order (tied
    # mutual-reachability edges make its spanning tree order-dependent)
    rows = np.repeat(np.arange(len(uniq)), w)
    perm = np.random.default_rng(0).permutation(len(rows))
    lab = HDBSCAN(min_cluster_size=a.min_samples, min_samples=a.min_samples, algorithm="kd_tree",
                  cluster_selection_method="leaf", copy=True).fit(uniq[rows[perm]]).labels_
    again = np.empty(len(rows), np.int64)
    again[perm] = lab
    print(json.dumps({"path": "exact, rows permuted (scikit-learn against itself)",
                      "ari": round(adjusted_rand_score(ex, again), 4),
                      "noise_status_differs": round(float(np.mean((ex < 0) != (again < 0))), 4)}))
    for path in ("graph", 1500.0):
        t = time.perf_counter()
        r = approximation_report(uniq, w, path, eps_m=150.0, **kw)
        r["s"] = round(time.perf_counter() - t, 2)
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

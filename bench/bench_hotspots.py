"""Benchmark (issue 5): Gi* with 999 permutations on a 10k-cell grid against esda, and
DBSCAN / HDBSCAN on 1M found-at points around postcode centroids.

Run: ``.venv/bin/python bench/bench_hotspots.py [--skip-nonumba] [--points 1000000]``

* Gi*: a 100 x 100 grid of 100 m cells (10,000 cells, queen contiguity), Poisson counts with a
  planted hot block. ``geo.stats.getis_ord.gi_star(x, w, 999)`` against
  ``esda.G_Local(x, w, transform="B", star=True, permutations=999)`` on the same weights.
  *Cold* = a new Python process (interpreter start, imports, weights from the same .npz,
  compute), timed from outside by the parent. *Warm* = the same call again in an already warm
  process (best of 3 for ours, of 2 for esda). esda is run with numba (JIT compile in every new
  process: that is its cold cost) and, when ``--skip-nonumba`` is not given, without numba
  (``sys.modules["numba"] = None`` in the child: esda then falls back to plain Python).
* Clustering: 1,000,000 points: postcode centroids from the bundled Code-Point Open file drawn
  with a heavy-tailed popularity (most points repeat a centroid, as geocoded found-at texts
  do) and 20 % jittered by 30 m (address / premises precision), plus 6 planted dense spots.
  ``geo.stats.clusters.cluster_points`` (duplicates merged with sample weights; HDBSCAN on the
  weighted k-NN mutual-reachability graph of the distinct coordinates above 40k rows), each
  method in its own process: wall, CPU (``time.process_time``) and peak RSS. The peers,
  scikit-learn ``DBSCAN`` and ``HDBSCAN`` on the raw 1M points, in the same run, with a time
  limit (``--naive-timeout``). Clustering only: ``--only-clusters``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable

CHILD = r'''
import sys, time, json
t0 = time.perf_counter()
mode, path, perms = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "esda_nonumba":
    sys.modules["numba"] = None
import numpy as np, scipy.sparse as sp
d = np.load(path)
x = d["x"]
m = sp.csr_matrix((d["data"], d["indices"], d["indptr"]), shape=tuple(d["shape"]))
t1 = time.perf_counter()
if mode == "ours":
    from geo.stats.getis_ord import gi_star
    from geo.stats.weights import SpatialWeights
    w = SpatialWeights(m, np.arange(m.shape[0]), "queen")
    t2 = time.perf_counter()
    r = gi_star(x, w, permutations=perms, seed=1)
    z, p = r.z, r.p_sim
else:
    import warnings; warnings.simplefilter("ignore")
    import esda, libpysal
    w = libpysal.weights.WSP(m).to_W(silence_warnings=True)
    t2 = time.perf_counter()
    g = esda.G_Local(x, w, transform="B", star=True, permutations=perms, seed=1, n_jobs=1)
    z, p = g.Zs, g.p_sim
t3 = time.perf_counter()
print(json.dumps({"import_load_s": t2 - t0, "compute_s": t3 - t2, "z0": float(z[0]),
                  "hot_p": float(p[int(d["hot"])])}))
'''


def machine() -> str:
    mem = ""
    try:
        mem = f", {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GB RAM"
    except (ValueError, OSError):
        pass
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",)
    return (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores{mem}, "
            f"Python {platform.python_version()}, load average {load[0]:.1f} at start")


def grid_data(tmp: Path):
    from geo.stats.hotspots import make_grid
    from geo.stats.weights import queen_weights
    grid = make_grid((400000, 280000, 410000, 290000), 100.0)
    w = queen_weights(grid)
    rng = np.random.default_rng(0)
    x = rng.poisson(2.0, w.n).astype(float)
    hot = 50 * 100 + 50
    block = np.r_[hot, w.neighbours(hot)]
    x[block] += rng.poisson(6.0, len(block))
    m = w.sparse
    path = tmp / "grid.npz"
    np.savez(path, x=x, data=m.data, indices=m.indices, indptr=m.indptr, shape=np.array(m.shape), hot=hot)
    return x, w, path


def cold(mode: str, path: Path, perms: int, timeout: float) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t = time.perf_counter()
    try:
        res = subprocess.run([PY, "-c", CHILD, mode, str(path), str(perms)], capture_output=True, text=True,
                             timeout=timeout, env=env, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"mode": mode, "wall_s": None, "timeout_s": timeout}
    wall = time.perf_counter() - t
    if res.returncode:
        return {"mode": mode, "wall_s": None, "error": res.stderr.strip().splitlines()[-1:]}
    out = json.loads(res.stdout.strip().splitlines()[-1])
    return {"mode": mode, "wall_s": wall, **out}


def warm_ours(x, w, perms, reps=3):
    from geo.stats.getis_ord import gi_star
    gi_star(x, w, permutations=perms, seed=1)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        r = gi_star(x, w, permutations=perms, seed=1)
        ts.append(time.perf_counter() - t)
    return min(ts), r


def warm_esda(x, w, perms, reps=2):
    import warnings
    warnings.simplefilter("ignore")
    import esda
    import libpysal
    lw = libpysal.weights.WSP(w.sparse).to_W(silence_warnings=True)
    esda.G_Local(x, lw, transform="B", star=True, permutations=perms, seed=1, n_jobs=1)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        g = esda.G_Local(x, lw, transform="B", star=True, permutations=perms, seed=1, n_jobs=1)
        ts.append(time.perf_counter() - t)
    return min(ts), g


def points_1m(n: int, seed: int = 0) -> np.ndarray:
    import pandas as pd
    pc = pd.read_csv(ROOT / "data/reference/gazetteer/codepoint_open_2014_b.csv", header=None, usecols=[2, 3])
    xy = pc.to_numpy(float)
    xy = xy[(xy[:, 0] > 0) & (xy[:, 1] > 0)]
    rng = np.random.default_rng(seed)
    pop = rng.pareto(1.2, len(xy)) + 1.0  # heavy-tailed popularity of a postcode
    pick = rng.choice(len(xy), n, p=pop / pop.sum())
    pts = xy[pick].copy()
    jit = rng.random(n) < 0.2
    pts[jit] += rng.normal(0, 30, (jit.sum(), 2))
    spots = xy[rng.choice(len(xy), 6, replace=False)]
    k = n // 200
    pts[:6 * k] = np.repeat(spots, k, axis=0) + rng.normal(0, 20, (6 * k, 2))
    return pts


PEER = r'''
import sys, time, resource, numpy as np
from sklearn.cluster import DBSCAN, HDBSCAN
p = np.load(sys.argv[2]); t = time.perf_counter(); c = time.process_time()
if sys.argv[1] == "dbscan":
    l = DBSCAN(eps=150, min_samples=50, algorithm="kd_tree", n_jobs=2).fit(p).labels_
else:
    l = HDBSCAN(min_samples=50, min_cluster_size=200, algorithm="kd_tree", cluster_selection_method="leaf",
                copy=True, n_jobs=2).fit(p).labels_
print(time.perf_counter() - t, time.process_time() - c, l.max() + 1,
      resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
'''

CLUSTER_CHILD = r'''
import sys, time, resource, json, warnings
warnings.simplefilter("ignore")
import numpy as np
from geo.stats.clusters import cluster_points
method, path = sys.argv[1], sys.argv[2]
kw = json.loads(sys.argv[3])
p = np.load(path)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter(); c = time.process_time()
lab = cluster_points(p, method=method, **kw)
print(json.dumps({"seconds": time.perf_counter() - t, "cpu_s": time.process_time() - c,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_after_load_mb": rss0, "clusters": int(lab.max() + 1),
                  "noise_share": float((lab < 0).mean())}))
'''


def bench_clusters(n: int, naive_timeout: float) -> list[dict]:
    """Each method in its own process (peak RSS per method); the peers with a time limit."""
    pts = points_1m(n)
    uniq = len(np.unique(pts, axis=0))
    rows = []
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "p.npy"
        np.save(f, pts)
        for method, kw in (("dbscan", dict(eps_m=150.0, min_samples=50, n_jobs=2)),
                           ("hdbscan", dict(eps_m=150.0, min_samples=50, min_cluster_size=200, n_jobs=2))):
            r = subprocess.run([PY, "-c", CLUSTER_CHILD, method, str(f), json.dumps(kw)], capture_output=True,
                               text=True, env=env, cwd=ROOT)
            out = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else {"error": r.stderr[-300:]}
            rows.append({"method": f"ours {method}", "points": n, "unique": uniq, **out, **kw})
        for method in ("dbscan", "hdbscan"):
            name = f"sklearn {method.upper()} on raw points (peer)"
            try:
                r = subprocess.run([PY, "-c", PEER, method, str(f)], capture_output=True, text=True,
                                   timeout=naive_timeout)
                ok = r.returncode == 0
                v = r.stdout.split() if ok else []
                rows.append({"method": name, "points": n,
                             "seconds": float(v[0]) if ok else None, "cpu_s": float(v[1]) if ok else None,
                             "clusters": int(v[2]) if ok else None, "peak_rss_mb": float(v[3]) if ok else None,
                             "note": "" if ok else (r.stderr.strip().splitlines() or ["failed"])[-1]})
            except subprocess.TimeoutExpired:
                rows.append({"method": name, "points": n, "seconds": None,
                             "note": f"did not finish within {naive_timeout:.0f} s (killed)"})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--permutations", type=int, default=999)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--skip-nonumba", action="store_true")
    ap.add_argument("--skip-clusters", action="store_true")
    ap.add_argument("--only-clusters", action="store_true", help="skip the Gi* part")
    ap.add_argument("--nonumba-timeout", type=float, default=900)
    ap.add_argument("--naive-timeout", type=float, default=300)
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    print("machine:", machine())
    res = {"machine": machine(), "permutations": a.permutations}
    if a.only_clusters:
        res["clusters"] = bench_clusters(a.points, a.naive_timeout)
        for row in res["clusters"]:
            print("clusters", json.dumps(row))
        print("load average at end:", os.getloadavg())
        print("json", json.dumps(res, default=str))
        return
    with tempfile.TemporaryDirectory() as d:
        x, w, path = grid_data(Path(d))
        print(f"grid: {w.n} cells, queen, {w.sparse.nnz} links")
        res["cold"] = [cold("ours", path, a.permutations, 600), cold("esda", path, a.permutations, 900)]
        if not a.skip_nonumba:
            res["cold"].append(cold("esda_nonumba", path, a.permutations, a.nonumba_timeout))
        for c in res["cold"]:
            print("cold", json.dumps(c))
        t_ours, r = warm_ours(x, w, a.permutations)
        t_esda, g = warm_esda(x, w, a.permutations)
        res["warm"] = {"ours_s": t_ours, "esda_numba_s": t_esda}
        res["parity"] = {"max_abs_z_diff": float(np.max(np.abs(r.z - g.Zs)))}
        print("warm", json.dumps(res["warm"]), "parity", json.dumps(res["parity"]))
    c = {k["mode"]: k for k in res["cold"]}
    if c["ours"]["wall_s"] and c["esda"]["wall_s"]:
        print(f"cold ratio esda(numba)/ours: {c['esda']['wall_s'] / c['ours']['wall_s']:.1f}x")
    if c.get("esda_nonumba", {}).get("wall_s"):
        print(f"cold ratio esda(no numba)/ours: {c['esda_nonumba']['wall_s'] / c['ours']['wall_s']:.1f}x")
    print(f"warm ratio esda(numba)/ours: {t_esda / t_ours:.1f}x")
    if not a.skip_clusters:
        res["clusters"] = bench_clusters(a.points, a.naive_timeout)
        for row in res["clusters"]:
            print("clusters", json.dumps(row))
    print("json", json.dumps(res, default=str))


if __name__ == "__main__":
    main()

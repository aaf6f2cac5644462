"""Benchmark (issue 19, item 4): Gi* with 999 permutations on a 10k-cell grid, ours against
esda with numba, warm and cold, in the same run.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_gi.py [--numba-path DIR] [--reps 3]``

* Data: the grid of ``bench/bench_hotspots.py`` (100 x 100 cells of 100 m, queen contiguity,
  78,804 links, Poisson(2) counts with a planted hot block), written once to an .npz that every
  child process loads.
* Ours: ``geo.stats.getis_ord.gi_star(x, w, 999, seed=1)`` with its defaults (two-sided p-values, as
  the pipeline runs it); also timed with ``alternative="directed"``, the definition esda's
  default ``p_sim`` uses. Peer: ``esda.G_Local(x, w, transform="B", star=True,
  permutations=999, seed=1, n_jobs=1)`` with its defaults (keeps the simulations); also timed
  with ``keep_simulations=False``. esda must find numba (``--numba-path`` adds a directory
  holding numba and llvmlite to the peer's ``PYTHONPATH`` only, so the project's venv is left
  as it is); the child checks that esda's ``compute_chunk`` is a numba dispatcher.
* Cold: a new Python process per run, timed from outside by the parent (interpreter start,
  imports, loading the weights, the first call; for esda that includes numba's JIT compile;
  ``NUMBA_CACHE_DIR`` points at a fresh empty directory each time). ``--reps`` runs each,
  ours and esda alternating, median reported.
* Warm: one process per side; the first call is not timed, then ``--reps`` timed calls,
  median reported. Local Moran (ours ``local_moran(x, w, 999)`` against
  ``esda.Moran_Local(..., transformation="r", n_jobs=1)``) is timed the same way unless
  ``--no-moran``.
* Parity: max |z - esda Zs| over the 10,000 cells (analytic z, the same definition); the
  permutation p-values cannot agree draw for draw (different generators), so the mean
  |our directed p - esda p_sim| is reported as a Monte Carlo check.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))
from bench_hotspots import grid_data, machine  # noqa: E402

CHILD = r'''
import sys, time, json
t0 = time.perf_counter()
side, kind, path, perms, reps, out, moran = sys.argv[1:8]
perms, reps, moran = int(perms), int(reps), moran == "1"
import numpy as np, scipy.sparse as sp
d = np.load(path)
x = d["x"]
m = sp.csr_matrix((d["data"], d["indices"], d["indptr"]), shape=tuple(d["shape"]))
res = {}
if side == "ours":
    from geo.stats.getis_ord import gi_star
    from geo.stats.moran_local import local_moran
    from geo.stats.weights import SpatialWeights
    w = SpatialWeights(m, np.arange(m.shape[0]), "queen")

    def gi(variant="default"):
        alt = "directed" if variant == "directed" else "two-sided"
        r = gi_star(x, w, permutations=perms, seed=1, alternative=alt)
        return r.z, r.p_sim

    def lisa():
        return local_moran(x, w, perms, seed=1).Is
    variants = ("directed",)
else:
    import warnings
    warnings.simplefilter("ignore")
    import numba, esda, libpysal
    from esda.crand import compute_chunk
    res.update(numba=numba.__version__, esda=esda.__version__, esda_uses_numba=hasattr(compute_chunk, "py_func"))
    w = libpysal.weights.WSP(m).to_W(silence_warnings=True)

    def gi(variant="default"):
        g = esda.G_Local(x, w, transform="B", star=True, permutations=perms, seed=1, n_jobs=1,
                         keep_simulations=variant != "no_keep")
        return g.Zs, g.p_sim

    def lisa():
        return esda.Moran_Local(x, w, transformation="r", permutations=perms, seed=1, n_jobs=1).Is
    variants = ("no_keep",)
t1 = time.perf_counter()
z, p = gi()
t2 = time.perf_counter()
res.update(import_load_s=t1 - t0, first_call_s=t2 - t1)
extra = {}
if kind == "warm":
    def timed(f, *a):
        f(*a)
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            r = f(*a)
            ts.append(time.perf_counter() - t)
        return ts, r
    res["gi_s"], _ = timed(gi)
    for v in variants:
        res["gi_" + v + "_s"], r = timed(gi, v)
        if v == "directed":
            extra["p_directed"] = r[1]
    if moran:
        res["moran_s"], extra["Is"] = timed(lisa)
np.savez(out, z=z, p=p, **extra)
print(json.dumps(res))
'''


def child(side: str, kind: str, path: Path, perms: int, reps: int, out: Path, moran: bool,
          numba_path: str | None, timeout: float) -> dict:
    pp = [str(ROOT)] + ([numba_path] if side == "esda" and numba_path else [])
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(pp), NUMBA_CACHE_DIR=cache)
        t = time.perf_counter()
        r = subprocess.run([PY, "-c", CHILD, side, kind, str(path), str(perms), str(reps), str(out),
                            "1" if moran else "0"], capture_output=True, text=True, env=env, cwd=ROOT,
                           timeout=timeout)
        wall = time.perf_counter() - t
    if r.returncode:
        raise SystemExit(f"{side} {kind} failed:\n{r.stderr[-2000:]}")
    return {"wall_s": wall, **json.loads(r.stdout.strip().splitlines()[-1])}


def uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return f"load average {os.getloadavg()}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--permutations", type=int, default=999)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--numba-path", default=None, help="directory holding numba + llvmlite for esda")
    ap.add_argument("--no-moran", action="store_true")
    ap.add_argument("--timeout", type=float, default=1200)
    a = ap.parse_args()
    med = statistics.median
    res = {"machine": machine(), "uptime_start": uptime(), "permutations": a.permutations, "reps": a.reps,
           "command": " ".join([Path(PY).name] + sys.argv)}
    print("machine:", res["machine"], "|", res["uptime_start"], flush=True)
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        x, w, path = grid_data(d)
        print(f"grid: {w.n} cells, queen, {w.sparse.nnz} links", flush=True)
        cold = {"ours": [], "esda": []}
        for i in range(a.reps):
            for side in ("ours", "esda"):
                c = child(side, "cold", path, a.permutations, a.reps, d / f"{side}_cold{i}.npz", False,
                          a.numba_path, a.timeout)
                cold[side].append(c)
                print("cold", side, i, json.dumps(c), flush=True)
        warm = {side: child(side, "warm", path, a.permutations, a.reps, d / f"{side}_warm.npz",
                            not a.no_moran, a.numba_path, a.timeout) for side in ("ours", "esda")}
        for side in warm:
            print("warm", side, json.dumps(warm[side]), flush=True)
        o, e = np.load(d / "ours_warm.npz"), np.load(d / "esda_warm.npz")
        parity = {"max_abs_z_diff": float(np.max(np.abs(o["z"] - e["z"]))),
                  "mean_abs_p_directed_minus_esda_p_sim": float(np.mean(np.abs(o["p_directed"] - e["p"]))),
                  "hot_cell_p": {"ours_two_sided": float(o["p"][int(np.load(path)["hot"])]),
                                 "ours_directed": float(o["p_directed"][int(np.load(path)["hot"])]),
                                 "esda_p_sim": float(e["p"][int(np.load(path)["hot"])])}}
        if "Is" in o:
            parity["moran_max_abs_I_diff"] = float(np.max(np.abs(o["Is"] - e["Is"])))
    summary = {
        "cold_wall_s": {s: med([c["wall_s"] for c in cold[s]]) for s in cold},
        "cold_first_call_s": {s: med([c["first_call_s"] for c in cold[s]]) for s in cold},
        "cold_import_load_s": {s: med([c["import_load_s"] for c in cold[s]]) for s in cold},
        "warm_gi_s": {s: med(warm[s]["gi_s"]) for s in warm},
        "warm_ours_directed_s": med(warm["ours"]["gi_directed_s"]),
        "warm_esda_no_keep_s": med(warm["esda"]["gi_no_keep_s"]),
    }
    if not a.no_moran:
        summary["warm_moran_s"] = {s: med(warm[s]["moran_s"]) for s in warm}
    cw, ww = summary["cold_wall_s"], summary["warm_gi_s"]
    summary["ratio_cold_wall"] = cw["esda"] / cw["ours"]
    summary["ratio_warm"] = ww["esda"] / ww["ours"]
    summary["ratio_warm_directed_vs_esda_no_keep"] = summary["warm_esda_no_keep_s"] / summary["warm_ours_directed_s"]
    if not a.no_moran:
        summary["ratio_warm_moran"] = summary["warm_moran_s"]["esda"] / summary["warm_moran_s"]["ours"]
    res.update(cold=cold, warm=warm, parity=parity, summary=summary, uptime_end=uptime(),
               esda={k: warm["esda"].get(k) for k in ("esda", "numba", "esda_uses_numba")})
    print("summary", json.dumps(summary, indent=1))
    print("parity", json.dumps(parity))
    print("end:", res["uptime_end"])
    print("json", json.dumps(res))


if __name__ == "__main__":
    main()

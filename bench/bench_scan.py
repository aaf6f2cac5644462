"""Benchmark (issue 13): Kulldorff's space-time permutation scan at city and national scale.

Run: ``.venv/bin/python bench/bench_scan.py --db sqlite:///STORE --events 800000 [--replications 999]
[--early-stop 50|off] [--code /work/main] [--workers N]`` (``--code``: time another checkout's
``geo.stats.scan`` on the same input, e.g. the code before a change; ``--workers``: processes for the
replicates, default the scan's own default, the cores available; not passed to code without it)

* ``--db``: the found-at events of a store (e.g. a city drop after ``wayfinder run``).
* ``--events N``: N found-at events sampled on the bundled Code-Point Open postcodes of the
  B postcode area (every postcode equally likely, as the generator's background), times uniform
  over a year, 340,000 children: the national drop's volume of located found-at events without
  the hour of generation and ingest. No space-time structure.

Each case runs in a fresh process: the retrospective and prospective scans together
(``geo.stats.scan.space_time_scans``, shared permutations, 250 m cells, radius <= 1 km, 7-day units,
windows up to 8 weeks), reporting wall time, CPU time and peak RSS (``ru_maxrss``) of the process and,
separately, of its replicate workers (``workers_cpu_s``, ``workers_peak_rss_mb``: each worker's own peak).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r'''
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np, pandas as pd
from geo.stats.scan import prepare, space_time_scans
src, R = sys.argv[2], int(sys.argv[3])
early = None if sys.argv[4] == "off" else int(sys.argv[4])
if src.startswith("events:"):
    n = int(src.split(":")[1])
    rng = np.random.default_rng(0)
    cp = pd.read_csv(sys.argv[1] + "/data/reference/gazetteer/codepoint_open_2014_b.csv", header=None,
                     usecols=[2, 3]).to_numpy(float)
    cp = cp[(cp[:, 0] > 0) & (cp[:, 1] > 0)]
    xy = cp[rng.integers(0, len(cp), n)]
    ev = pd.DataFrame({"easting": xy[:, 0], "northing": xy[:, 1], "kind": "found_at", "precision": "postcode",
                       "person_id": rng.integers(0, 340000, n).astype(str),
                       "at": pd.Timestamp("2016-04-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 365, n), unit="D")})
else:
    from geo.storage.store import open_store
    ev = open_store(src).frame("place_events")
t0, c0 = time.perf_counter(), time.process_time()
data = prepare(ev)
t1 = time.perf_counter()
kw = {} if sys.argv[5] == "default" else {"workers": int(sys.argv[5])}
res = space_time_scans(data, replications=R, seed=0, early_stop=early, **kw)
t2, c2 = time.perf_counter(), time.process_time()
out = {"code": sys.argv[1], "workers": sys.argv[5], "load": open("/proc/loadavg").read().split()[0], "source": src, "events": int(data.C), "locations": int(data.L), "circles": int(data.valid.sum()),
       "units": int(data.U), "replications": R, "replications_run": res[0][1].get("replications_run"), "prepare_s": round(t1 - t0, 2), "scan_wall_s": round(t2 - t1, 1),
       "cpu_s": round(c2 - c0, 1), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
       "workers_cpu_s": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime, 1),
       "workers_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
       "top": [{"analysis": info["analysis"], "llr": float(cl.llr.iloc[0]) if len(cl) else None,
                "p": float(cl.p_value.iloc[0]) if len(cl) else None, "observed": int(cl.observed.iloc[0]) if len(cl) else None}
               for cl, info in res]}
print(json.dumps(out))
'''


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", action="append", default=[])
    ap.add_argument("--events", type=int, action="append", default=[])
    ap.add_argument("--replications", type=int, default=999)
    ap.add_argument("--early-stop", default="50", help="sequential Monte Carlo h, or 'off'")
    ap.add_argument("--code", default=str(ROOT), help="checkout whose geo.stats.scan to time (e.g. main, to compare)")
    ap.add_argument("--workers", default="default", help="processes for the replicates (default: the scan's default)")
    a = ap.parse_args()
    for src in a.db + [f"events:{n}" for n in a.events]:
        r = subprocess.run([sys.executable, "-c", CHILD, a.code, src, str(a.replications), a.early_stop, a.workers],
                           capture_output=True, text=True)
        print(r.stdout.strip() or r.stderr[-2000:], flush=True)


if __name__ == "__main__":
    main()

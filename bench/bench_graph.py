#!/usr/bin/env python
"""The graph step of the pipeline alone, on an existing store, for two checkouts of the code.

    .venv/bin/python bench/bench_graph.py --db sqlite:///STORE --work DIR --code NAME=PATH ...

For each ``--code NAME=PATH`` (a checkout of Wayfinder, e.g. ``before=/tmp/main_copy`` and
``after=.``) runs, in a fresh child process with that checkout first on ``sys.path``, what the
pipeline's graph step computes: the frames read from the store, the person-place graph (the
columnar ``person_place_tables`` where the checkout has it, else ``person_place_graph``), bridging
persons, centrality, places linking children, components, the child-adult links and every
export (GraphML, GEXF, Cytoscape, i2); nothing is written to the store. Per phase: wall and CPU
seconds and the process's peak RSS so far. The output files of the checkouts are compared byte
for byte (``cmp``) and the result frames with ``pandas.testing``. Writes ``DIR/NAME.json``;
prints a Markdown table.
"""
from __future__ import annotations

import argparse
import filecmp
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r'''
import json, resource, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
db, out = sys.argv[2], Path(sys.argv[3])
out.mkdir(parents=True, exist_ok=True)
from geo.storage.store import open_store
from api.jobs.pipeline import adult_links_of, network_frames
import network.graph as ng
from network.exports import write_all
from network.measures import bridging_persons, centrality, components, places_linking_children
build = getattr(ng, "person_place_tables", None) or ng.person_place_graph
phases = []
def phase(name, f, *a, **k):
    w, c = time.perf_counter(), time.process_time()
    r = f(*a, **k)
    phases.append({"phase": name, "wall": round(time.perf_counter() - w, 2),
                   "cpu": round(time.process_time() - c, 2),
                   "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)})
    return r
frames = phase("frames", network_frames, open_store(db))
G = phase("graph", build, *[frames[k] for k in ("children", "persons", "episodes", "return_interviews",
                                                 "place_events", "premises", "intelligence", "links")])
del frames
b = phase("bridging", bridging_persons, G)
m = phase("centrality", centrality, G, seed=0)
p = phase("places", places_linking_children, G)
c = phase("components", components, G)
a = phase("adult_links", adult_links_of, G)
phase("exports", write_all, G, out)
for name, df in (("bridging", b), ("measures", m), ("places", p), ("components", c), ("adult_links", a)):
    df.to_pickle(out / f"{name}.pkl")
print(json.dumps({"builder": build.__name__, "nodes": G.number_of_nodes(),
                  "edges": G.number_of_edges(), "phases": phases}))
'''


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--code", action="append", required=True, help="NAME=PATH")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    runs = {}
    for spec in args.code:
        name, path = spec.split("=", 1)
        out = work / name
        r = subprocess.run([sys.executable, "-c", CHILD, str(Path(path).resolve()), args.db, str(out)],
                           capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(Path(path).resolve())})
        if r.returncode:
            sys.exit(f"{name} failed:\n{r.stderr[-3000:]}")
        runs[name] = json.loads(r.stdout.strip().splitlines()[-1])
        (work / f"{name}.json").write_text(json.dumps(runs[name], indent=1))
    names = list(runs)
    print("| phase | " + " | ".join(f"{n} wall s | {n} CPU s | {n} peak RSS MB" for n in names) + " |")
    print("|---|" + "---|---|---|" * len(names))
    for i, ph in enumerate(runs[names[0]]["phases"]):
        cells = []
        for n in names:
            q = runs[n]["phases"][i]
            cells += [str(q["wall"]), str(q["cpu"]), str(q["peak_rss_mb"])]
        print(f"| {ph['phase']} | " + " | ".join(cells) + " |")
    tot = {n: (round(sum(q["wall"] for q in runs[n]["phases"]), 1),
               round(sum(q["cpu"] for q in runs[n]["phases"]), 1),
               max(q["peak_rss_mb"] for q in runs[n]["phases"])) for n in names}
    print("| total | " + " | ".join(f"{w} | {c} | {p}" for w, c, p in tot.values()) + " |")
    for n in names:
        print(f"{n}: builder {runs[n]['builder']}, {runs[n]['nodes']} nodes, {runs[n]['edges']} edges")
    if len(names) == 2:
        import pandas as pd
        a, b = work / names[0], work / names[1]
        for f in sorted(a.iterdir()):
            if f.suffix == ".pkl":
                x, y = pd.read_pickle(f), pd.read_pickle(b / f.name)
                try:
                    pd.testing.assert_frame_equal(x.reset_index(drop=True), y.reset_index(drop=True))
                    print(f"{f.name}: equal ({len(x)} rows)")
                except AssertionError as exc:
                    print(f"{f.name}: DIFFERENT {str(exc)[:200]}")
            else:
                same = filecmp.cmp(f, b / f.name, shallow=False)
                print(f"{f.name}: {'identical' if same else 'DIFFERENT'} ({f.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

"""Benchmark of the scenario generator: wall time and peak RSS per scale.

Run: .venv/bin/python bench/bench_synth.py [city region national] [--seed N]
Each scale runs in a fresh subprocess so peak RSS (ru_maxrss of the child) is that scale's alone.
Results are printed as a Markdown table (copy into bench/RESULTS_synth.md).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys, time
from geo.scenario.generator import generate
t0 = time.perf_counter()
truth = generate(sys.argv[1], seed=int(sys.argv[2]), scale=sys.argv[3])
print(json.dumps({"seconds": time.perf_counter() - t0, "counts": truth["counts"], "bad": len(truth["bad_rows"])}))
"""


def run(scale: str, seed: int) -> dict:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        p = subprocess.run([sys.executable, "-c", CHILD, d, str(seed), scale], capture_output=True, text=True,
                           cwd=Path(__file__).resolve().parents[1], check=True)
        wall = time.perf_counter() - t0
        size = sum(f.stat().st_size for f in Path(d).iterdir())
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out = json.loads(p.stdout.strip().splitlines()[-1])
    return {"scale": scale, "wall_s": wall, "generate_s": out["seconds"], "peak_rss_mb": peak,
            "mb_on_disk": size / 1e6, **out}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("scales", nargs="*", default=["city", "region", "national"])
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    print("| scale | generate (s) | wall incl. start-up (s) | peak RSS (MB) | episodes | children | RHIs | drop size (MB) |")
    print("|---|---|---|---|---|---|---|---|")
    for s in a.scales:
        r = run(s, a.seed)
        c = r["counts"]
        print(f"| {s} | {r['generate_s']:.1f} | {r['wall_s']:.1f} | {r['peak_rss_mb']:.0f} | {c['episodes.csv']} | "
              f"{c['children.csv']} | {c['return_interviews.csv']} | {r['mb_on_disk']:.0f} |", flush=True)


if __name__ == "__main__":
    main()

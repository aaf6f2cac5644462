"""Ingest throughput and peak memory at a given scale on SQLite and PostGIS.

Each measurement runs `wayfinder reference` then `wayfinder ingest` in a fresh process under
/usr/bin/time, so peak RSS is the ingest process's own. The drop is generated once per scale
(`wayfinder synth`) unless --drop names one.

    .venv/bin/python bench/bench_ingest.py --scale city
    .venv/bin/python bench/bench_ingest.py --scale national --drop /tmp/national1

The peer for ingest is the naive path: pandas.read_csv + DataFrame.to_sql of the same files
(no validation, no geocoding), measured in the same run on the same backend, ratio reported.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WF = [sys.executable, "-m", "api.cli"]
REF = ROOT / "data" / "reference"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stdout of a command run under /usr/bin/time -v."""
    t0 = time.perf_counter()
    res = subprocess.run(["/usr/bin/time", "-v", *cmd], capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{res.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", res.stderr).group(1))
    return wall, rss / 1024, res.stdout


def new_db(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / f'bench_{uuid.uuid4().hex[:6]}.sqlite'}"
    import sqlalchemy as sa
    name = f"wf_bench_{uuid.uuid4().hex[:8]}"
    eng = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(sa.text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    eng = sa.create_engine(url)
    with eng.begin() as c:
        c.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    eng.dispose()
    return url


NAIVE = """
import sys, time, pandas as pd, sqlalchemy as sa
from pathlib import Path
eng = sa.create_engine(sys.argv[2])
for p in sorted(Path(sys.argv[1]).glob('*.csv')):
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    df.to_sql('naive_' + p.stem, eng, if_exists='replace', index=False, chunksize=50000,
              method='multi' if eng.dialect.name == 'postgresql' else None)
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scale", default="city", choices=["sample", "city", "region", "national"])
    ap.add_argument("--drop", type=Path)
    ap.add_argument("--backends", default="sqlite,postgis")
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wf_bench_"))
    drop = args.drop
    if drop is None:
        drop = tmp / "drop"
        wall, rss, _ = timed([*WF, "synth", "--out", str(drop), "--seed", str(args.seed),
                              "--scale", args.scale])
        print(f"synth {args.scale}: {wall:.1f} s, peak RSS {rss:.0f} MB")
    rows = sum(max(0, sum(1 for _ in open(p, encoding="utf-8")) - 1) for p in drop.glob("*.csv"))
    results = []
    for backend in args.backends.split(","):
        db = new_db(backend, tmp)
        timed([*WF, "reference", "--db", db,
               "--codepoint", str(REF / "gazetteer" / "codepoint_open_2014_b.csv"),
               "--wards", str(REF / "boundaries" / "birmingham_wards_2013.geojson"),
               "--lsoa", str(REF / "boundaries" / "birmingham_lsoa_2011.geojson")])
        wall, rss, out = timed([*WF, "ingest", str(drop), "--db", db, "--json"])
        report = json.loads(out)
        wall2, rss2, out2 = timed([*WF, "ingest", str(drop), "--db", db, "--json"])
        new2 = sum(f["new"] for f in json.loads(out2)["files"].values())
        naive_wall, naive_rss, _ = timed([sys.executable, "-c", NAIVE, str(drop), db])
        results.append({"backend": backend, "rows": rows, "ingest_s": round(wall, 1),
                        "rows_per_s": round(rows / wall), "peak_rss_mb": round(rss),
                        "geocoded_texts": report["geocoded"],
                        "reingest_s": round(wall2, 1), "reingest_new": new2,
                        "naive_read_csv_to_sql_s": round(naive_wall, 1),
                        "naive_peak_rss_mb": round(naive_rss),
                        "ratio_naive_over_ingest": round(naive_wall / wall, 2)})
        print(json.dumps(results[-1]))
    print(json.dumps({"scale": args.scale, "drop": str(drop), "cpus": os.cpu_count(),
                      "results": results}, indent=1))


if __name__ == "__main__":
    main()

"""Worst case of a pre-generalised tile: every found-at point at its own spot (not on a few
thousand places as in bench_api.py), so cluster-zoom tiles hold up to cells_per_side ** 2 cells.

    .venv/bin/python bench/bench_tiles_dense.py [--points 1000000] [--db wf_tiles_dense]

In a throwaway PostGIS database: ``n`` points uniform over Birmingham (Web Mercator), their
cells (``geo.tilesets.generalise``) written as ``api.jobs.tilesets.write`` writes them, and the raw
points in a table with a GiST index (as ``api.jobs.layers.write_postgis``). Then, one tile at a time
(service time, no queueing), every z10-14 tile over Birmingham twice: from the cells
(``api.jobs.tilesets.tile``, ST_AsMVT over the cells) and from the points (ST_AsMVT over the raw
points, what tipg and the street zooms do). Prints a Markdown table (append it to
bench/RESULTS_api.md by hand with the load).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "api"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--db", default="wf_tiles_dense")
    args = ap.parse_args()
    from api_fixtures import drop_pg_database, fresh_pg_database
    from api.jobs import tilesets
    from geo.storage.store import open_store
    from geo.tilesets import generalise, tiles_over
    url = fresh_pg_database(args.db)
    try:
        store = open_store(url)
        eng = store.engine
        rng = np.random.default_rng(5)
        # Birmingham: lon -2.03..-1.72, lat 52.38..52.61 in Web Mercator
        x = rng.uniform(-225_980, -191_470, args.points)
        y = rng.uniform(6_874_000, 6_916_000, args.points)
        t0 = time.perf_counter()
        cells = generalise(x, y).assign(band=None)
        t_gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        tilesets.write(eng, "dense", "full", cells, "bench")
        t_write = time.perf_counter() - t0
        raw = eng.raw_connection()
        with raw.driver_connection.cursor() as cur:
            cur.execute("CREATE TABLE dense_points (fid serial PRIMARY KEY, geom geometry(Point, 3857))")
            with cur.copy("COPY dense_points (geom) FROM STDIN") as copy:
                for a, b in zip(x, y):
                    copy.write_row([f"SRID=3857;POINT({a} {b})"])
            cur.execute("CREATE INDEX dense_points_geom ON dense_points USING gist (geom)")
            cur.execute("ANALYZE dense_points")
            cur.execute("ANALYZE tileset_cells")
        raw.driver_connection.commit()
        raw.close()
        print(f"{args.points} points; {len(cells)} cells made in {t_gen:.1f}s, written in {t_write:.1f}s; "
              f"load {os.getloadavg()}", flush=True)
        raw_sql = ("SELECT ST_AsMVT(q, 'dense', 4096, 'geom') FROM (SELECT fid, ST_AsMVTGeom(geom, "
                   "ST_TileEnvelope(%(z)s, %(x)s, %(y)s), 4096, 64, true) AS geom FROM dense_points "
                   "WHERE geom && ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => 64.0 / 4096)) q")
        print("| zoom | tiles | cells per tile (max) | from cells p50 / p99 / max ms | "
              "from points p50 / p99 / max ms | points per tile (max) | load before / after |")
        print("|---|---|---|---|---|---|---|")
        bounds = (-2.03, 52.38, -1.72, 52.61)
        for z in (10, 11, 12, 13, 14):
            tiles = tiles_over(bounds, z)
            load0 = os.getloadavg()[0]
            per = cells[cells["z"] == z].groupby(["tx", "ty"]).size()
            npts = []
            tc, tr = [], []
            for _ in range(2):
                for _, tx, ty in tiles:
                    t0 = time.perf_counter()
                    tilesets.tile(eng, "dense", "full", z, tx, ty, 4096, 64)
                    tc.append(time.perf_counter() - t0)
                    t0 = time.perf_counter()
                    with eng.connect() as conn:
                        conn.exec_driver_sql(raw_sql, {"z": z, "x": tx, "y": ty}).scalar()
                    tr.append(time.perf_counter() - t0)
            size = 2 * 20037508.342789244 / (1 << z)
            for _, tx, ty in tiles:
                ix = np.floor((x + 20037508.342789244) / size) == tx
                npts.append(int((ix & (np.floor((20037508.342789244 - y) / size) == ty)).sum()))
            q = lambda v, f: np.quantile(np.array(v) * 1000, f)
            print(f"| {z} | {len(tiles)} | {int(per.max())} | {q(tc, .5):.1f} / {q(tc, .99):.1f} / "
                  f"{max(tc) * 1000:.1f} | {q(tr, .5):.1f} / {q(tr, .99):.1f} / {max(tr) * 1000:.1f} | "
                  f"{max(npts)} | {load0:.1f} / {os.getloadavg()[0]:.1f} |", flush=True)
    finally:
        drop_pg_database(args.db)


if __name__ == "__main__":
    main()

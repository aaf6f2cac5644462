"""Service time of one uncached found_at tile, one request at a time (not part of the test run).

    PYTHONPATH=$PWD .venv/bin/python bench/bench_tiles_service.py --db-name wf_api_bench \
        [--tipg /path/to/venv/bin/python] [--rounds 2]

On a database populated by bench/bench_api.py (its tilesets built): every found_at tile over
Birmingham at z10-15 (the zooms made from the cells), in three ways, one after another with no
queue, so that the figures depend far less on the machine's load than a 50-connection run:

1. in process, no HTTP: the tile made on request from the cells (``api.jobs.tilesets.tile``:
   ST_AsMVT over the tile's cells) against read from the store (``api.jobs.tilesets.stored_tile``,
   made in advance by the tiles step); with ``EXPLAIN ANALYZE`` of the cells query of the
   densest tile of each zoom;
2. over HTTP on one keep-alive connection, the tile cache off (``WAYFINDER_TILE_CACHE_SIZE=0``):
   the whole request (authentication, purpose, audit commit, the stored tile);
3. with ``--tipg``: tipg serving the same tiles from the points, the same way.

Prints a Markdown table per part (p50 / p99 / max ms per zoom).
"""
from __future__ import annotations

import argparse
import http.client
import os
import secrets
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests" / "api"))

from bench_api import start_tipg, start_wayfinder, stop, tiles_over_birmingham, token_for, wait_up  # noqa: E402

PURPOSE = "purpose=service+time+benchmark"
ZOOMS = range(10, 16)


def stats(ms: list[float]) -> str:
    a = np.asarray(ms)
    return f"{np.percentile(a, 50):.2f} / {np.percentile(a, 99):.2f} / {a.max():.2f}"


def timed(fn, rounds: int) -> list[float]:
    out = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def in_process(url: str, rounds: int) -> None:
    from api.jobs import tilesets
    from api.settings import Settings
    from geo.storage.store import open_store
    engine = open_store(url).engine
    s = Settings()
    print("\n### In process: from the cells vs stored (full view)\n")
    print("| zoom | tiles | stored | from cells p50 / p99 / max ms | stored p50 / p99 / max ms | "
          "densest tile: cells, EXPLAIN ANALYZE execution ms |")
    print("|---|---|---|---|---|---|")
    for z in ZOOMS:
        tiles = tiles_over_birmingham(z)
        cells_ms, stored_ms, n_stored = [], [], 0
        for _, x, y in tiles:
            cells_ms += timed(lambda: tilesets.tile(engine, "found_at", "full", z, x, y,
                                                    s.tile_extent, s.tile_buffer), rounds)
            stored_ms += timed(lambda: tilesets.stored_tile(engine, "found_at", "full", z, x, y,
                                                            s.tile_extent, s.tile_buffer), rounds)
            n_stored += tilesets.stored_tile(engine, "found_at", "full", z, x, y, s.tile_extent,
                                             s.tile_buffer) is not None
        with engine.connect() as conn:
            tx, ty, n = conn.exec_driver_sql(
                "SELECT tx, ty, count(*) FROM tileset_cells WHERE layer='found_at' AND view='full' "
                "AND z=%(z)s GROUP BY tx, ty ORDER BY 3 DESC LIMIT 1", {"z": z}).one()
            plan = _explain(conn, tilesets, z, int(tx), int(ty), s)
        print(f"| {z} | {len(tiles)} | {n_stored} | {stats(cells_ms)} | {stats(stored_ms)} | "
              f"{n}, {plan} |", flush=True)


def _explain(conn, tilesets, z, x, y, s) -> str:
    """EXPLAIN ANALYZE of the cells query of :func:`api.jobs.tilesets._render` (its execution
    time and the scan it uses)."""
    minx, miny, maxx, maxy, pad = tilesets._tile_box(z, x, y, s.tile_extent, s.tile_buffer)
    rows = conn.exec_driver_sql(
        "EXPLAIN ANALYZE SELECT ST_AsMVT(q, 'found_at', %(e)s, 'geom') FROM (SELECT c.points, c.band, "
        "ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(c.x, c.y), 3857), ST_TileEnvelope(%(z)s, %(x)s, %(y)s), "
        "%(e)s, %(b)s, true) AS geom FROM tileset_cells c WHERE c.layer='found_at' AND c.view='full' "
        "AND c.z=%(z)s AND c.tx BETWEEN %(x0)s AND %(x1)s AND c.ty BETWEEN %(y0)s AND %(y1)s "
        "AND c.x BETWEEN %(minx)s AND %(maxx)s AND c.y BETWEEN %(miny)s AND %(maxy)s) q",
        {"e": s.tile_extent, "b": s.tile_buffer, "z": z, "x": x, "y": y, "x0": x - 1, "x1": x + 1,
         "y0": y - 1, "y1": y + 1, "minx": minx - pad, "maxx": maxx + pad, "miny": miny - pad,
         "maxy": maxy + pad}).scalars().all()
    scan = next((r.strip().removeprefix("->").strip().split("  ")[0] for r in rows if "Scan" in r), "?")
    execution = next(r for r in rows if r.startswith("Execution Time"))
    return f"{execution.split(':')[1].strip()} ({scan})"


def over_http(port: int, token: str | None, paths: list[tuple[int, str]], rounds: int,
              label: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=900)   # the first builds the layers
    headers = {"Accept-Encoding": "gzip", **({"Authorization": f"Bearer {token}"} if token else {})}
    by_zoom: dict[int, list[float]] = {}
    errors = 0
    for _ in range(rounds):
        for z, p in paths:
            t = time.perf_counter()
            conn.request("GET", p, headers=headers)
            r = conn.getresponse()
            r.read()
            by_zoom.setdefault(z, []).append((time.perf_counter() - t) * 1000)
            errors += r.status != 200
    allms = [v for vs in by_zoom.values() for v in vs]
    print(f"\n### Over HTTP, one connection: {label} ({errors} errors)\n")
    print("| zoom | requests | p50 / p99 / max ms |\n|---|---|---|")
    for z, ms in sorted(by_zoom.items()):
        print(f"| {z} | {len(ms)} | {stats(ms)} |")
    print(f"| all | {len(allms)} | {stats(allms)} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db-name", required=True)
    ap.add_argument("--port", type=int, default=8795)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--tipg", help="python of a venv with tipg and uvicorn installed")
    args = ap.parse_args()
    from api.service.auth import add_user
    from api_fixtures import pg_url
    from geo.storage.store import open_store
    url = pg_url(args.db_name)
    print(f"load average before: {os.getloadavg()}")
    in_process(url, args.rounds)
    pw, user = secrets.token_urlsafe(16), f"bench_{secrets.token_hex(3)}"
    add_user(open_store(url).engine, user, "analyst", pw)
    paths = [(z, f"/collections/found_at/tiles/WebMercatorQuad/{z}/{x}/{y}?{PURPOSE}")
             for z in ZOOMS for (_, x, y) in tiles_over_birmingham(z)]
    srv = start_wayfinder(url, args.port, 1, {"WAYFINDER_TILE_CACHE_SIZE": "0"})
    try:
        wait_up(args.port)
        tok = token_for(args.port, user, pw)
        over_http(args.port, tok, paths[:1], 1, "warm-up (layers built)")
        over_http(args.port, tok, paths, args.rounds, "Wayfinder, tile cache off")
    finally:
        stop(srv)
    if args.tipg:
        srv = start_tipg(args.tipg, url, args.port + 1)
        try:
            wait_up(args.port + 1, "/collections")
            tt = [(z, p.replace("/collections/found_at/", "/collections/public.api_layer_found_at_full/")
                   .split("?")[0]) for z, p in paths]
            over_http(args.port + 1, None, tt, args.rounds, "tipg (from the points)")
        finally:
            stop(srv)
    print(f"\nload average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()

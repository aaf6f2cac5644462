"""Load benchmark of the API on loopback against PostGIS (not part of the test run).

    .venv/bin/python bench/bench_api.py [--episodes 200000] [--seconds 60] [--connections 50]
                                        [--workers 1] [--tipg /path/to/venv/bin/python]
                                        [--reuse] [--no-nocache]

Load average (1/5/15 min) is recorded before and after each test; the cached-tile test runs after
every tile has been requested a few times (steady state of each worker's tile cache).

Builds a synthetic store in a throwaway PostGIS database (tests/api/api_fixtures.populate, scaled:
found-at points spread over 3,000 places across the city), starts ``uvicorn`` on 127.0.0.1 and
drives it with ``wrk`` (Debian package; a Python load generator when wrk is missing):

- ``items_1000``: ``/collections/found_at/items?limit=1000&offset=...`` (1,000-feature pages);
- ``tiles``: ``/collections/found_at/tiles/WebMercatorQuad/{z}/{x}/{y}`` over Birmingham at z12-14
  (tile cache on, the default: once warm, every request is answered by ``AuditMiddleware``'s
  cached-tile path, ``api.service.routes.tiles.cached_tile``, still authenticated, authorised and audited)
  and ``tiles_nocache`` (``WAYFINDER_TILE_CACHE_SIZE=0``: every tile made on request; at z12-14
  from the pre-generalised cells of ``api.jobs.tilesets``, built first as ``wayfinder run`` builds them);
- with ``--tipg``: tipg (developmentseed) serving the same PostGIS table
  (``api_layer_found_at_full``) with the same tiles, same connections, same run.

Every request sends ``Accept-Encoding: gzip``, as a map client in a browser does: Wayfinder sends
a cached tile gzip-compressed (compressed once, kept in the tile cache) to such clients.

Appends a table to bench/RESULTS_api.md.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "api"))


def tiles_over_birmingham(z: int) -> list[tuple[int, int, int]]:
    def xy(lon, lat):
        n = 1 << z
        r = math.radians(lat)
        return (int((lon + 180) / 360 * n),
                int((1 - math.log(math.tan(r) + 1 / math.cos(r)) / math.pi) / 2 * n))
    x0, y0 = xy(-2.03, 52.61)
    x1, y1 = xy(-1.72, 52.38)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    v, unit = float(m.group(1)), m.group(2)
    return v / 1000 if unit == "us" else v * 1000 if unit == "s" else v


def run_wrk(port: int, token: str | None, paths: list[str], seconds: float, connections: int) -> dict:
    lua = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    lua.write("paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n")
    # as a map client (MapLibre in a browser) asks: tiles may come gzip-compressed
    lua.write('wrk.headers["Accept-Encoding"] = "gzip"\n')
    if token:
        lua.write(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    lua.write("math.randomseed(7)\nrequest = function()\n"
              "  return wrk.format('GET', paths[math.random(#paths)])\nend\n")
    lua.close()
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency",
                          "-s", lua.name, f"http://127.0.0.1:{port}"],
                         capture_output=True, text=True).stdout
    os.unlink(lua.name)
    lat = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", out, re.M))
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    kinds = {"non2xx": int(non2xx.group(1)) if non2xx else 0}
    if sock:
        kinds.update(zip(("connect", "read", "write", "timeout"), map(int, sock.groups())))
    print("wrk errors:", kinds, flush=True)
    return {"requests": reqs, "rps": rps, "errors": errors, "error_kinds": kinds,
            "p50_ms": round(_ms(lat["50"]), 2),
            "p90_ms": round(_ms(lat["90"]), 2), "p99_ms": round(_ms(lat["99"]), 2)}


def run_python(port: int, token: str | None, paths: list[str], seconds: float, connections: int) -> dict:
    lat, errors, lock = [], [0], threading.Lock()
    stop = time.monotonic() + seconds

    def worker(seed):
        rnd, mine = random.Random(seed), []
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < stop:
            t0 = time.perf_counter()
            try:
                conn.request("GET", rnd.choice(paths),
                             headers={"Authorization": f"Bearer {token}"} if token else {})
                r = conn.getresponse()
                r.read()
                ok = r.status == 200
            except Exception:
                ok = False
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            mine.append(time.perf_counter() - t0)
            if not ok:
                with lock:
                    errors[0] += 1
        with lock:
            lat.extend(mine)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(connections)]
    t0 = time.monotonic()
    [t.start() for t in ts]
    [t.join() for t in ts]
    lat.sort()
    q = lambda f: round(lat[min(len(lat) - 1, int(f * len(lat)))] * 1000, 2)
    return {"requests": len(lat), "rps": round(len(lat) / (time.monotonic() - t0), 1),
            "errors": errors[0], "p50_ms": q(.5), "p90_ms": q(.9), "p99_ms": q(.99)}


def wait_up(port: int, path: str = "/healthz", tries: int = 240) -> None:
    for _ in range(tries):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise RuntimeError(f"server on {port} did not come up")


def start_tipg(python: str, url: str, port: int, workers: int | None = None):
    """tipg (the peer) serving the found_at layer table Wayfinder wrote to PostGIS, on ``port``."""
    env = {**os.environ, "DATABASE_URL": url.replace("+psycopg", ""),
           "TIPG_TABLE_CONFIG__public_api_layer_found_at_full__geomcol": "geom"}
    cmd = [python, "-m", "uvicorn", "tipg.main:app", "--host", "127.0.0.1", "--port", str(port),
           "--log-level", "warning"] + (["--workers", str(workers)] if workers else [])
    return subprocess.Popen(cmd, env=env, start_new_session=True)


def start_wayfinder(url: str, port: int, workers: int, extra_env: dict | None = None):
    env = {**os.environ, "WAYFINDER_DB": url, "WAYFINDER_RATE_PER_MINUTE": "0", **(extra_env or {})}
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "api.service.app:create_app", "--host", "127.0.0.1",
           "--port", str(port), "--log-level", "warning", "--workers", str(workers)]
    return subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)


def stop(srv) -> None:
    """Stop a server and its workers (a worker busy building layers may ignore SIGTERM)."""
    srv.terminate()
    try:
        srv.wait(30)
    except subprocess.TimeoutExpired:
        print("server did not stop within 30 s: killed", flush=True)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(srv.pid, signal.SIGKILL)
    srv.wait(30)


def token_for(port: int, user: str, pw: str) -> str:
    c = http.client.HTTPConnection("127.0.0.1", port)
    c.request("POST", "/auth/token", body=f"username={user}&password={pw}",
              headers={"Content-Type": "application/x-www-form-urlencoded"})
    return json.loads(c.getresponse().read())["access_token"]


def warm(port: int, token: str | None, paths: list[str], threads: int = 1) -> None:
    """Request every path once (``threads`` connections in parallel)."""
    def run(part):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        for p in part:
            c.request("GET", p, headers={"Accept-Encoding": "gzip",
                                         **({"Authorization": f"Bearer {token}"} if token else {})})
            c.getresponse().read()
    ts = [threading.Thread(target=run, args=(paths[i::threads],)) for i in range(threads)]
    [t.start() for t in ts]
    [t.join() for t in ts]


def loadavg() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def measured(load, port, token, paths, seconds, connections) -> dict:
    before = loadavg()
    r = load(port, token, paths, seconds, connections)
    r["load_before"], r["load_after"] = before, loadavg()
    return r


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=200_000)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--port", type=int, default=8765)
    ap.add_argument("--tipg", help="python of a venv with tipg installed")
    ap.add_argument("--no-nocache", action="store_true", help="skip the tiles_nocache test")
    ap.add_argument("--reuse", action="store_true", help="reuse the populated database")
    ap.add_argument("--db-name", default="wf_api_bench", help="PostgreSQL database of the bench")
    ap.add_argument("--no-items", action="store_true", help="skip the items test")
    args = ap.parse_args()
    from api_fixtures import fresh_pg_database, pg_url, populate
    from api.service.auth import add_user
    from geo.storage.store import open_store
    load = run_wrk if shutil.which("wrk") else run_python
    url = pg_url(args.db_name)
    pw = secrets.token_urlsafe(16)
    user = f"bench_{secrets.token_hex(3)}"
    if not args.reuse:
        url = fresh_pg_database(args.db_name)
        t = time.time()
        populate(open_store(url), n_children=max(30, args.episodes // 5), n_episodes=args.episodes,
                 n_places=3000, n_found_places=3000, spread_m=1500.0)
        print(f"populated {args.episodes} episodes in {time.time() - t:.1f}s", flush=True)
    add_user(open_store(url).engine, user, "analyst", pw)
    # the pre-generalised tiles, as the ``tiles`` step of ``wayfinder run`` writes them (in a
    # process of its own, so that its memory is not held by this one during the tests)
    t = time.time()
    built = subprocess.run([sys.executable, "-c",
                            "import json, sys; from geo.storage.store import open_store; "
                            "from api.jobs.tiles import build_for_install; "
                            "print(json.dumps(build_for_install(open_store(sys.argv[1]))))", url],
                           cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]
    tileset = {"seconds": round(time.time() - t, 1), **json.loads(built)}
    print("tilesets", tileset, flush=True)
    # found_at is person-level (issue 15): every request states a purpose (so no cached tile of
    # it is answered by the middleware's fast path: it goes the normal way, which audits it)
    purpose = "purpose=load+benchmark"
    items = [f"/collections/found_at/items?limit=1000&offset={o}&{purpose}"
             for o in range(0, max(1, args.episodes - 1000), 1000)]
    tiles = [f"/collections/found_at/tiles/WebMercatorQuad/{z}/{x}/{y}?{purpose}" for zz in (12, 13, 14)
             for (z, x, y) in tiles_over_birmingham(zz)]
    res = {}
    runs = (("", {}),) + (() if args.no_nocache else (("_nocache", {"WAYFINDER_TILE_CACHE_SIZE": "0"}),))
    for label, env in runs:
        srv = start_wayfinder(url, args.port, args.workers, env)
        try:
            wait_up(args.port)
            tok = token_for(args.port, user, pw)
            t = time.time()
            warm(args.port, tok, [items[0]] * args.workers * 2)
            print(f"layers ready in {time.time() - t:.1f}s", flush=True)
            if not label:
                if not args.no_items:
                    res["items_1000"] = measured(load, args.port, tok, items, args.seconds,
                                                 args.connections)
                    print("items", res["items_1000"], flush=True)
                # steady state of the tile cache: every tile requested a few times (each worker
                # keeps its own cache) before the cached-tile test
                t = time.time()
                warm(args.port, tok, tiles * 2 * args.workers, threads=4)
                print(f"tiles warmed in {time.time() - t:.1f}s", flush=True)
            res["tiles" + label] = measured(load, args.port, tok, tiles, args.seconds, args.connections)
            print("tiles" + label, res["tiles" + label], flush=True)
        finally:
            stop(srv)
    if args.tipg:
        srv = start_tipg(args.tipg, url, args.port + 1, args.workers)
        try:
            wait_up(args.port + 1, "/collections")
            tt = [p.replace("/collections/found_at/", "/collections/public.api_layer_found_at_full/")
                  .split("?")[0] for p in tiles]
            res["tipg_tiles"] = measured(load, args.port + 1, None, tt, args.seconds, args.connections)
            print("tipg", res["tipg_tiles"], flush=True)
        finally:
            stop(srv)
    out = ROOT / "bench" / "RESULTS_api.md"
    with out.open("a") as f:
        f.write(f"\n## {time.strftime('%Y-%m-%d %H:%M')} PostGIS, {args.episodes} episodes "
                f"({args.episodes} found-at points), {args.connections} connections, "
                f"{args.seconds:.0f} s per test, {args.workers} worker(s), load: {load.__name__}\n\n")
        f.write(f"Machine: {os.cpu_count()} cores; load average (1, 5, 15 min) before/after each test.\n\n")
        f.write(f"Tilesets (tiles step, api.jobs.tiles.build_for_install): {tileset['seconds']} s; "
                f"{json.dumps({k: v for k, v in tileset.items() if k != 'seconds'})}\n\n")
        f.write("| test | requests | req/s | p50 ms | p90 ms | p99 ms | errors | error kinds | load before | load after |\n"
                "|---|---|---|---|---|---|---|---|---|---|\n")
        for k, v in res.items():
            f.write(f"| {k} | {v['requests']} | {v['rps']} | {v['p50_ms']} | {v['p90_ms']} | "
                    f"{v['p99_ms']} | {v['errors']} | {v.get('error_kinds', '')} | "
                    f"{v.get('load_before', '')} | {v.get('load_after', '')} |\n")
        if "tipg_tiles" in res and "tiles_nocache" in res:
            f.write(f"\ntiles/s ratio wayfinder (cache) / tipg: "
                    f"{res['tiles']['rps'] / max(res['tipg_tiles']['rps'], 1e-9):.2f}; "
                    f"wayfinder (no cache: each tile made on request, z12-14 from the tilesets) / tipg: "
                    f"{res['tiles_nocache']['rps'] / max(res['tipg_tiles']['rps'], 1e-9):.2f}\n")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

"""Attack a local Wayfinder server as issue 15 did, and report findings (want: zero).

    python bench/attack.py [--db sqlite:///PATH] [--flood 600] [--clients 40] [--out FILE.md]

Starts ``wayfinder serve`` on 127.0.0.1 (loopback only) over a copy of the store (default: the
small synthetic API test store, built in a temporary folder; synthetic people only), creates one
user per role, and runs, with bounded counts and time:

1. the role walk: every route of ``/openapi.json`` plus every pack kind (and two kinds not in the
   matrix) and every layer's items and tiles, for every role; each answer is checked against the
   matrix (allowed or 403) and, for minimised roles, each field against the disclosure policy
   (``tests/api/routes/test_security.check_record``) and for record keys and names;
2. token forgeries: ``alg=none``, a wrong key, a 10-year token signed with the real key, an
   issue time in the future, a role claim changed, a token replayed after its refresh;
3. login flood: ``--flood`` wrong passwords from ``--clients`` rotating ``X-Forwarded-For``
   values, then the right password for the locked account; the server's RSS before and after;
4. bad inputs that used to give 500s; a Host header reflected; response headers;
4b. two workers: a second server process on the same store: a token refreshed on one is refused
   by the other, failed logins split over both lock the account;
5. audit tampering on copies of the store (SQLite): an edited row, an edited and re-hashed row,
   the newest rows deleted, every row deleted: ``wayfinder audit verify`` must exit non-zero
   naming the entry each time, and 0 on the untouched copy.

Prints a Markdown report (and writes it to ``--out``); exit 1 when there is any finding.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import jwt

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "api"), str(ROOT / "tests" / "api" / "routes")]
ORIG_KEY_DIR = os.environ.get("WAYFINDER_KEY_DIR")      # where the given store's keys are
os.environ.setdefault("WAYFINDER_KEY_DIR", tempfile.mkdtemp(prefix="wf-attack-keys-"))

from api import roles  # noqa: E402
from api.minimise import view_for  # noqa: E402

ROLES = ("analyst", "mog_member", "cog_member", "mase_member", "licensing_officer", "admin")
PURPOSE = "purpose=attack+walk"
WF = [sys.executable, "-m", "api.cli"]


class Findings(list):
    def add(self, area: str, text: str) -> None:
        self.append((area, text))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _store(db: str | None, work: Path) -> str:
    """A copy of ``db`` (SQLite) or the API test store, in ``work``."""
    target = work / "wayfinder.sqlite"
    if db:
        from api.keys import key_dir_for
        src = Path(db.split("///", 1)[1])
        shutil.copy(src, target)
        for suffix in ("-wal", "-shm"):
            if Path(str(src) + suffix).exists():
                shutil.copy(str(src) + suffix, str(target) + suffix)
        mine = os.environ.pop("WAYFINDER_KEY_DIR")
        if ORIG_KEY_DIR:
            os.environ["WAYFINDER_KEY_DIR"] = ORIG_KEY_DIR
        keys = key_dir_for(db)             # the store's own keys, so that its trail verifies
        os.environ["WAYFINDER_KEY_DIR"] = mine
        if keys.is_dir():
            shutil.copytree(keys, key_dir_for(f"sqlite:///{target}"))
    else:
        from api_fixtures import open_populated
        open_populated(f"sqlite:///{target}").engine.dispose()
    return f"sqlite:///{target}"


def _serve(url: str, port: int, env: dict) -> subprocess.Popen:
    code = ("import uvicorn; from api.service.app import create_app; "
            f"uvicorn.run(create_app({url!r}), host='127.0.0.1', port={port}, log_level='warning')")
    p = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return p
        except httpx.HTTPError:
            time.sleep(0.25)
        if p.poll() is not None:
            raise SystemExit(f"server did not start: {p.stderr.read().decode()[-500:]}")
    raise SystemExit("server did not start within 150 s")


def two_workers(c, c2, passwords: dict, f: Findings) -> int:
    """A second server process on the same store stands for a second uvicorn worker: a token
    refreshed on one must be refused by the other, and failed logins must count across both."""
    tok = c.post("/auth/token", data={"username": "t_analyst", "password": passwords["analyst"]}).json()["access_token"]
    auth = {"Authorization": f"Bearer {tok}"}
    if c2.get("/auth/me", headers=auth).status_code != 200:
        f.add("workers", "a valid token refused by the second worker")
    if c.post("/auth/refresh", headers=auth).status_code != 200:
        f.add("workers", "refresh failed")
    time.sleep(6)                                   # the other worker's user cache (5 s)
    if c2.get("/auth/me", headers=auth).status_code != 401:
        f.add("workers", "a token revoked on one worker still works on another")
    codes = [(c, c2)[i % 2].post("/auth/token", data={"username": "t_mase_member",
                                                     "password": f"wrong-{i}-password"}).status_code
             for i in range(10)]
    right = [w.post("/auth/token", data={"username": "t_mase_member", "password": passwords["mase_member"]}).status_code
             for w in (c, c2)]
    if right != [429, 429]:
        f.add("workers", f"10 failures split over two workers did not lock the account ({codes} then {right})")
    return 3


def _route_names() -> dict:
    """Route path -> route name (the matrix's key), from the routers the app includes."""
    from api.service.routes import (admin, analyses, auth, collections, licensing, network, profiles,
                            scorecards, tiles)
    from api.service.routes import web
    out = {"/healthz": "health"}
    for mod in (auth, collections, tiles, analyses, network, profiles, scorecards, licensing, admin, web):
        for r in mod.router.routes:
            out[re.sub(r":[a-z]+\}", "}", r.path)] = r.name
            out[r.path] = r.name
    return out


def role_walk(c: httpx.Client, tokens: dict, child: str, f: Findings, counts: dict,
              subject_name: list = ()) -> None:
    from test_security import RECORD_KEY, check_record, walk
    spec = c.get("/openapi.json").json()
    sample = {"collection_id": "hotspots_ward", "z": "0", "x": "0", "y": "0", "feature_id": "1",
              "premises_id": "PR000", "person_ref": child, "kind": "mog"}
    paths = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path in ("/auth/token", "/auth/refresh", "/healthz") or method != "get":
                continue
            url = re.sub(r"\{(\w+)(:[a-z]+)?\}", lambda m: sample.get(m.group(1), "x"), path)
            paths.append((_route_names().get(path), path, url))
    for role in ROLES:
        h = {"Authorization": f"Bearer {tokens[role]}"}
        view = view_for(role)
        for name, path, url in paths:
            r = c.get(f"{url}?{PURPOSE}&from=2017-01-01&to=2017-06-30", headers=h)
            counts["requests"] += 1
            if r.status_code >= 500:
                f.add("walk", f"{role} {url}: {r.status_code}")
            allowed = roles.allowed(name or "", role, "mog")
            if allowed and r.status_code in (401, 403):
                f.add("matrix", f"{role} {url}: {r.status_code}, allowed by the matrix")
            if not allowed and r.status_code != 403:
                f.add("matrix", f"{role} {url}: {r.status_code}, want 403 (route {name})")
            if r.headers.get("x-content-type-options") != "nosniff":
                f.add("headers", f"{role} {url}: no nosniff")
            if r.status_code == 200 and view in ("case", "licensing"):
                if RECORD_KEY.search(r.text):
                    f.add("walk", f"{role} {url}: record key or name {RECORD_KEY.search(r.text).group(0)!r}")
                if "json" in r.headers.get("content-type", ""):
                    try:
                        walk(r.json(), view, path)
                    except AssertionError as exc:
                        f.add("fields", f"{role} {url}: {exc}")
        # packs
        for kind in ("mog", "cog", "mase", "licensing", "weekly"):
            q = f"/packs/{kind}?from=2017-01-01&to=2017-06-30&{PURPOSE}" + (f"&child={child}" if kind == "mase" else "")
            r = c.get(q, headers=h)
            counts["requests"] += 1
            allowed = role in roles.PACK_ROLES.get(kind, ())
            if allowed and r.status_code != 200:
                f.add("packs", f"{role} {kind}: {r.status_code} (allowed)")
            if not allowed and r.status_code != 403:
                f.add("packs", f"{role} {kind}: {r.status_code}, want 403")
            text = r.text
            if kind == "mase" and role == "mase_member":
                # the member asked for this child with a purpose: its own pack names it (only)
                for name in subject_name:
                    text = text.replace(name, "")
            if allowed and view != "full" and RECORD_KEY.search(text):
                f.add("packs", f"{role} {kind}: record key or name in the pack "
                               f"{RECORD_KEY.search(text).group(0)!r}")
        if role in roles.PACK_ROLES["mase"] and role != "analyst":
            r = c.get(f"/packs/mase?from=2017-01-01&to=2017-06-30&{PURPOSE}&child=police/C0000", headers=h)
            if r.status_code != 400:
                f.add("packs", f"{role}: raw child id answered {r.status_code}")
        # layers
        for cid, allowed in roles.COLLECTION_ROLES.items():
            base = f"/collections/{cid}/items?limit=10000"
            r = c.get(f"{base}&{PURPOSE}", headers=h)
            counts["requests"] += 1
            if role not in allowed:
                if r.status_code != 403:
                    f.add("layers", f"{role} {cid}: {r.status_code}, want 403")
                continue
            if cid in roles.PERSON_LEVEL_COLLECTIONS and c.get(base, headers=h).status_code != 400:
                f.add("layers", f"{role} {cid}: no purpose asked")
            if r.status_code != 200:
                f.add("layers", f"{role} {cid}: {r.status_code}")
                continue
            if view != "full":
                for feat in r.json()["features"]:
                    try:
                        check_record(feat["properties"], view, cid)
                    except AssertionError as exc:
                        f.add("fields", f"{role} {cid}: {exc}")
                        break


def forgeries(c: httpx.Client, url: str, tokens: dict, passwords: dict, f: Findings) -> int:
    from api.keys import keys_for
    from geo.storage.store import open_store
    key = keys_for(open_store(url).engine).token
    now = dt.datetime.now(dt.timezone.utc)
    base = {"sub": "t_mog_member", "role": "mog_member", "iat": now, "jti": secrets.token_hex(8),
            "exp": now + dt.timedelta(minutes=5)}
    cases = {
        "alg none": jwt.encode({**base}, None, algorithm="none"),
        "wrong key": jwt.encode(base, "x" * 40, algorithm="HS256"),
        "10-year token, real key": jwt.encode({**base, "exp": now + dt.timedelta(days=3650)}, key, algorithm="HS256"),
        "issued in the future": jwt.encode({**base, "iat": now + dt.timedelta(days=2),
                                            "exp": now + dt.timedelta(days=2, minutes=5)}, key, algorithm="HS256"),
        "role raised, wrong key": jwt.encode({**base, "role": "analyst"}, "y" * 40, algorithm="HS256"),
        "role raised, real key (role differs from the user's)": jwt.encode({**base, "role": "analyst"}, key, algorithm="HS256"),
        "no jti": jwt.encode({k: v for k, v in base.items() if k != "jti"}, key, algorithm="HS256"),
    }
    for name, tok in cases.items():
        r = c.get("/collections", headers={"Authorization": f"Bearer {tok}"})
        if r.status_code != 401:
            f.add("tokens", f"{name}: {r.status_code}")
    tok = c.post("/auth/token", data={"username": "t_cog_member", "password": passwords["cog_member"]}).json()["access_token"]
    time.sleep(1.05)
    new = c.post("/auth/refresh", headers={"Authorization": f"Bearer {tok}"})
    if new.status_code != 200:
        f.add("tokens", f"refresh failed: {new.status_code}")
    if c.get("/collections", headers={"Authorization": f"Bearer {tok}"}).status_code != 401:
        f.add("tokens", "token replayed after its refresh")
    if c.post("/auth/refresh", headers={"Authorization": f"Bearer {tok}"}).status_code != 401:
        f.add("tokens", "a token refreshed twice")
    return len(cases) + 3


def flood(c: httpx.Client, pid: int, passwords: dict, n: int, clients: int, f: Findings) -> dict:
    import concurrent.futures as cf
    before = _rss_mb(pid)
    t0 = time.perf_counter()

    def one(i):
        r = c.post("/auth/token", data={"username": f"t_{ROLES[i % 5]}", "password": f"guess-{i}-xxxxxxxx"},
                   headers={"X-Forwarded-For": f"198.51.100.{i % clients}"})
        return r.status_code
    with cf.ThreadPoolExecutor(clients) as ex:
        codes = list(ex.map(one, range(n)))
    wall = time.perf_counter() - t0
    after = _rss_mb(pid)
    right = c.post("/auth/token", data={"username": "t_analyst", "password": passwords["analyst"]},
                   headers={"X-Forwarded-For": "192.0.2.1"})
    wrong = c.post("/auth/token", data={"username": "t_analyst", "password": "not-the-password"})
    if 200 in codes:
        f.add("login", "a guess succeeded")
    if right.status_code == 200:
        f.add("login", "the right password accepted for an account under a guessing attack")
    if right.status_code != wrong.status_code or right.json() != wrong.json():
        f.add("login", "a locked account answers differently for the right password")
    if after - before > 300:
        f.add("login", f"RSS grew {after - before:.0f} MB during the flood")
    return {"guesses": n, "clients": clients, "401": codes.count(401), "429": codes.count(429),
            "wall_s": round(wall, 1), "rss_before_mb": round(before), "rss_after_mb": round(after)}


def bad_inputs(c: httpx.Client, tokens: dict, f: Findings) -> int:
    h = {"Authorization": f"Bearer {tokens['analyst']}"}
    hm = {"Authorization": f"Bearer {tokens['mog_member']}"}
    cases = [("GET", "/collections/hotspots_ward/items?datetime=-0", h),
             ("GET", f"/packs/mog?from=nan&to=2017-01-31&{PURPOSE}", hm),
             ("GET", f"/packs/mog?from=-0&to=2017-01-31&{PURPOSE}", hm),
             ("GET", "/static/%00", {}), ("GET", "/static/..%2f..%2fapi%2fkeys.py", {}),
             ("GET", "/analyses/premises/a/b", h)]
    for method, url, hh in cases:
        r = c.request(method, url, headers=hh)
        if r.status_code >= 500:
            f.add("inputs", f"{url}: {r.status_code}")
    tj = c.get("/collections/hotspots_ward/tiles/WebMercatorQuad/tilejson.json",
               headers={**h, "Host": "evil.example"})
    if "evil.example" in tj.text:
        f.add("headers", "Host header reflected in TileJSON")
    if c.get("/docs").status_code == 200 and "cdn" in c.get("/docs").text:
        f.add("headers", "/docs loads swagger-ui from a CDN")
    page = c.get("/?f=html")       # "/" is the OGC landing page; the web page is its HTML form
    if "default-src 'self'" not in page.headers.get("content-security-policy", ""):
        f.add("headers", "the page has no strict CSP")
    if c.get("/collections", headers=h).headers.get("cache-control") != "no-store":
        f.add("headers", "data without Cache-Control: no-store")
    return len(cases) + 4


def tampering(url: str, work: Path, f: Findings) -> list[str]:
    """Each case on a fresh copy of the store and its key directory."""
    from api.keys import key_dir_for
    src = Path(url.split("///", 1)[1])
    keys = key_dir_for(url)
    lines = []

    def copy(tag):
        d = work / f"tamper-{tag}"
        d.mkdir()
        shutil.copy(src, d / "wf.sqlite")
        for suffix in ("-wal", "-shm"):           # SQLite's write-ahead log holds the newest rows
            if Path(str(src) + suffix).exists():
                shutil.copy(str(src) + suffix, str(d / "wf.sqlite") + suffix)
        env = {**os.environ, "WAYFINDER_KEY_DIR": str(d / "keys")}
        from api.keys import _slug
        shutil.copytree(keys, d / "keys" / _slug(str((d / "wf.sqlite").resolve())))
        return d / "wf.sqlite", env

    def verify(db, env):
        r = subprocess.run(WF + ["audit", "verify", "--db", f"sqlite:///{db}"], cwd=ROOT, env=env,
                           capture_output=True, text=True)
        return r.returncode, (r.stdout + r.stderr).strip()

    db, env = copy("none")
    code, msg = verify(db, env)
    lines.append(f"untouched copy: exit {code}: {msg}")
    if code != 0:
        f.add("audit", f"untouched trail does not verify: {msg}")
    n = sqlite3.connect(db).execute("SELECT max(id) FROM audit_log").fetchone()[0]
    mid = max(1, n // 2)
    cases = {
        "edit a disclosure row": [f"UPDATE audit_log SET what = 'nothing', purpose = NULL WHERE id = {mid}"],
        "truncate the newest rows": [f"DELETE FROM audit_log WHERE id > {mid}",
                                     "DELETE FROM settings WHERE key = 'audit_head'"],
        "delete every row": ["DELETE FROM audit_log", "DELETE FROM settings WHERE key = 'audit_head'"],
    }
    for tag, stmts in cases.items():
        db, env = copy(tag.replace(" ", "-"))
        con = sqlite3.connect(db)
        for s in stmts:
            con.execute(s)
        con.commit()
        con.close()
        code, msg = verify(db, env)
        lines.append(f"{tag}: exit {code}: {msg}")
        if code == 0:
            f.add("audit", f"{tag} not detected")
    # edit and re-hash every later row with plain SHA-256 (what the old chain allowed)
    db, env = copy("rehash")
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    rows = [dict(r) for r in con.execute("SELECT * FROM audit_log ORDER BY id")]
    prev = rows[mid - 2]["hash"] if mid > 1 else "0" * 64
    for row in rows[mid - 1:]:
        if row["id"] == mid:
            row["what"] = "nothing disclosed"
        canon = json.dumps([row["id"], row["at"], row["user_name"], row["role"], row["action"],
                            row["route"], row["what"], row["purpose"], row["result_count"],
                            row["status"], row["client"], row["request_id"], row["token_id"]],
                           separators=(",", ":"), ensure_ascii=False)
        new = hashlib.sha256((canon + prev).encode()).hexdigest()
        con.execute("UPDATE audit_log SET what = ?, prev_hash = ?, hash = ? WHERE id = ?",
                    (row["what"], prev, new, row["id"]))
        prev = new
    con.execute("UPDATE settings SET value = ? WHERE key = 'audit_head'", (f"{rows[-1]['id']}:{prev}",))
    con.commit()
    con.close()
    code, msg = verify(db, env)
    lines.append(f"edit and re-hash (SHA-256) from entry {mid}: exit {code}: {msg}")
    if code == 0:
        f.add("audit", "edit and re-hash not detected")
    return lines


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", help="sqlite:///PATH of a store to copy (default: the API test store)")
    ap.add_argument("--flood", type=int, default=600)
    ap.add_argument("--clients", type=int, default=40)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    f = Findings()
    work = Path(tempfile.mkdtemp(prefix="wf-attack-"))
    url = _store(a.db, work)
    from api.service.auth import add_user
    from geo.storage.store import open_store
    store = open_store(url)
    passwords = {r: secrets.token_urlsafe(18) for r in ROLES}
    for r in ROLES:
        add_user(store.engine, f"t_{r}", r, passwords[r])
    store.engine.dispose()
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    server = _serve(url, port, env)
    counts = {"requests": 0}
    report = {}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as c:
            tokens = {r: c.post("/auth/token", data={"username": f"t_{r}", "password": passwords[r]}).json()["access_token"]
                      for r in ROLES}
            from api.keys import keys_for
            from geo.disclosure import pseudonym
            eps = open_store(url).frame("episodes")
            pid = eps["person_id"].value_counts().index[0]
            child = pseudonym(keys_for(open_store(url).engine).pseudonym, pid)
            t = time.perf_counter()
            pk = c.get(f"/packs/mog?from=2017-01-01&to=2017-12-31&{PURPOSE}",
                       headers={"Authorization": f"Bearer {tokens['mog_member']}"})
            first = time.perf_counter() - t
            t = time.perf_counter()
            c.get(f"/packs/mog?from=2017-01-01&to=2017-12-31&{PURPOSE}",
                  headers={"Authorization": f"Bearer {tokens['mog_member']}"})
            cached = time.perf_counter() - t
            t = time.perf_counter()
            c.get(f"/packs/mog?from=2017-04-01&to=2017-06-30&{PURPOSE}",
                  headers={"Authorization": f"Bearer {tokens['mog_member']}"})
            report["pack mog: first request / same again (cached) / another period (store read once) (s)"] = (
                f"{first:.2f} / {cached:.3f} / {time.perf_counter() - t:.2f} (status {pk.status_code})")
            t = time.perf_counter()
            kids = open_store(url).frame("children")
            named = kids[kids["person_id"] == pid]
            subject_name = sorted(f"{g} {n}".strip() for g, n in zip(named["given_name"], named["family_name"]))
            role_walk(c, tokens, child, f, counts, subject_name)
            report["role walk"] = f"{counts['requests']} requests, 6 roles, {time.perf_counter() - t:.1f} s"
            report["token forgeries"] = f"{forgeries(c, url, tokens, passwords, f)} cases"
            report["bad inputs and headers"] = f"{bad_inputs(c, tokens, f)} cases"
            port2 = _free_port()
            server2 = _serve(url, port2, env)
            try:
                with httpx.Client(base_url=f"http://127.0.0.1:{port2}", timeout=60) as c2:
                    report["two workers (revocation, login failures shared)"] = f"{two_workers(c, c2, passwords, f)} cases"
            finally:
                server2.terminate()
                server2.wait(10)
            report["login flood"] = json.dumps(flood(c, server.pid, passwords, a.flood, a.clients, f))
        c2 = subprocess.run(WF + ["audit", "verify", "--db", url], cwd=ROOT, env=env,
                            capture_output=True, text=True)
        report["audit after the run"] = (c2.stdout + c2.stderr).strip()
    finally:
        server.terminate()
        server.wait(10)
    report["audit tampering"] = "; ".join(tampering(url, work, f))
    lines = [f"attack on {a.db or 'the API test store'} ({time.perf_counter() - t0:.0f} s, loopback)", ""]
    lines += [f"- **{k}**: {v}" for k, v in report.items()]
    lines += ["", f"**findings: {len(f)}**"] + [f"- {area}: {text}" for area, text in f]
    text = "\n".join(lines)
    print(text)
    if a.out:
        a.out.write_text(text + "\n")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if f else 0


if __name__ == "__main__":
    sys.exit(main())

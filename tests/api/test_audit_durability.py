"""Audit durability (DPA 2018 s.62: the logs must not be lossy).

A request's audit entry is committed before its response is sent, so (1) an answered request's
entry is in ``audit_log`` at once, seen from another connection, with no flush; (2) if the entry
cannot be written the request is refused (503) and nothing is disclosed; (3) a served process
killed with SIGKILL right after answering has every answered request in the log and the chain
still verifies.
"""
from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.service.app import create_app
from api.service.auth import add_user
from api.settings import Settings
from api.tables import audit_log

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_url(store_url):
    """An empty store URL on each backend (``store_url`` from tests/conftest.py)."""
    return store_url


def _entries(url: str, like: str) -> list[str]:
    """The ``what`` of entries matching ``like``, read on a fresh engine (committed rows only)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(select(audit_log.c.what)
                                     .where(audit_log.c.what.like(like))).scalars())
    finally:
        engine.dispose()


def test_entry_committed_before_response(app, as_role, store):
    """Every answered request (allowed or denied) already has its entry, with no flush."""
    url = store.url if isinstance(store.url, str) else str(store.url)
    for i in range(20):
        tag = secrets.token_hex(4)
        role, path, status = [("analyst", f"/auth/me?n={tag}", 200),
                              ("admin", f"/collections?n={tag}", 403),
                              (None, f"/auth/me?n={tag}", 401)][i % 3]
        r = as_role(role, "GET", path)
        assert r.status_code == status, r.text
        assert _entries(url, f"%n={tag}%") == [path], (path, status)


def test_unwritable_audit_refuses_the_request(tmp_path, monkeypatch):
    """No entry, no answer: the route's data are withheld and the caller gets 503."""
    url = f"sqlite:///{tmp_path / 'refuse.sqlite'}"
    app = create_app(url, Settings(rate_per_minute=0))
    pw = secrets.token_urlsafe(16)
    add_user(app.state.wf.store.engine, "t_refuse", "analyst", pw)
    with TestClient(app) as client:
        tok = client.post("/auth/token", data={"username": "t_refuse", "password": pw}).json()
        headers = {"Authorization": f"Bearer {tok['access_token']}"}
        assert client.get("/auth/me", headers=headers).status_code == 200

        def broken(engine, entries):
            raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))
        monkeypatch.setattr("api.jobs.audit.append_entries", broken)
        r = client.get("/auth/me", headers=headers)
        assert r.status_code == 503 and "audit" in r.json()["description"]
        assert "t_refuse" not in r.text           # nothing of the route's answer
        assert client.get("/auth/me").status_code == 503      # denials too: no unlogged answer
        monkeypatch.undo()
        assert client.get("/auth/me", headers=headers).status_code == 200


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sigkill_after_responses_loses_no_entry(db_url, tmp_path):
    """A served process (uvicorn) killed right after answering: every answered request is in the
    log, and ``wayfinder audit verify`` passes."""
    from geo.storage.store import open_store
    store = open_store(db_url)
    pw = secrets.token_urlsafe(16)
    add_user(store.engine, "t_kill", "analyst", pw)
    store.engine.dispose()
    port = _free_port()
    env = {**os.environ, "WAYFINDER_RATE_PER_MINUTE": "0", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "api.cli", "serve", "--db", db_url,
                             "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        token = httpx.post(base + "/auth/token",
                           data={"username": "t_kill", "password": pw}).json()["access_token"]
        answered: list[tuple[str, int]] = []
        lock = threading.Lock()
        stop = threading.Event()

        def client(k: int):
            with httpx.Client(base_url=base, timeout=5) as c:
                i = 0
                while not stop.is_set():
                    i += 1
                    tag = f"{k}-{i}"
                    if i % 4 == 0:   # a denial (analyst may not read the audit trail)
                        path, h = f"/audit?n={tag}", {"Authorization": f"Bearer {token}"}
                    elif i % 4 == 1:  # no token
                        path, h = f"/auth/me?n={tag}", {}
                    else:
                        path, h = f"/auth/me?n={tag}", {"Authorization": f"Bearer {token}"}
                    try:
                        r = c.get(path, headers=h)
                    except httpx.HTTPError:
                        return          # the server is gone
                    with lock:
                        answered.append((path, r.status_code))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        while True:                     # kill while requests are still in flight
            with lock:
                if len(answered) >= 300:
                    break
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        stop.set()
        for t in threads:
            t.join(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert len(answered) >= 300
    assert {s for _, s in answered} == {200, 401, 403}
    logged = set(_entries(db_url, "%?n=%"))
    missing = [p for p, _ in answered if p not in logged]
    assert not missing, f"{len(missing)} of {len(answered)} answered requests not in the log: {missing[:5]}"
    res = subprocess.run([sys.executable, "-m", "api.cli", "audit", "verify", "--db", db_url],
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "intact" in res.stdout


def test_group_commit_batches_verify(store):
    """Entries of many concurrent requests, committed in shared batches, get consecutive ids and
    keep the chain intact, on both backends."""
    import asyncio
    from api.jobs.audit import AuditEntry, AuditTrail, append_entries, verify
    append_entries(store.engine, [AuditEntry("consultation", "t_batch", "analyst", "/x", f"/x?{i}")
                                  for i in range(120)])
    trail = AuditTrail(store.engine)

    async def many():
        return await asyncio.gather(*(trail.record_async(
            AuditEntry("consultation", "t_batch", "analyst", "/y", f"/y?{i}", None, i, 200))
            for i in range(300)))
    try:
        ids = asyncio.run(many())
    finally:
        trail.close()
    assert sorted(ids) == list(range(min(ids), min(ids) + 300))
    assert trail.commits < 300             # shared commits
    res = verify(store.engine)
    assert res.ok, res.message

"""Issue 15, finding 5: password guessing is limited before any hashing, per account and per
client address, with bounded state; forwarded headers are not believed unless configured; a
locked account answers the same whatever the password; a flood does not grow memory."""
from __future__ import annotations

import secrets
import threading
import time

import pytest
from fastapi.testclient import TestClient

from api.service.app import create_app
from api.service.auth import LoginGuard, add_user
from api.service.security_state import PRUNE_EVERY
from api.settings import Settings


@pytest.fixture
def served(store_url):
    from geo.storage.store import open_store
    store = open_store(store_url)
    pw = secrets.token_urlsafe(16)
    add_user(store.engine, "chair", "mog_member", pw)
    app = create_app(store, Settings(login_rate_per_minute=5, login_account_failures=4,
                                     lockout_seconds=60, rate_per_minute=0))
    with TestClient(app) as c:
        yield app, c, pw
    store.engine.dispose()


def _login(c, name, pw, **headers):
    return c.post("/auth/token", data={"username": name, "password": pw}, headers=headers)


def test_locked_account_same_answer_and_no_hashing(served, monkeypatch):
    app, c, pw = served
    for i in range(4):
        assert _login(c, "chair", f"wrong-{i}-password", **{"X-Forwarded-For": f"10.0.0.{i}"}).status_code == 401
    hashed = []
    monkeypatch.setattr("api.service.auth.check_password", lambda h, p: hashed.append(1) or False)
    wrong = _login(c, "chair", "wrong-again-password")
    right = _login(c, "chair", pw)
    assert wrong.status_code == right.status_code == 429           # the right password too
    assert wrong.json() == right.json() and hashed == []            # no Argon2 run at all
    assert int(right.headers["retry-after"]) > 0


def test_unknown_accounts_limited_alike(served):
    app, c, _ = served
    codes = [_login(c, "nobody", f"guess-{i}-password").status_code for i in range(5)]
    assert codes[:4] == [401] * 4 and codes[4] == 429


def test_forwarded_for_not_believed_unless_configured(served):
    """Rotating X-Forwarded-For does not give a fresh per-address allowance."""
    app, c, _ = served
    codes = [_login(c, f"user{i}", "some-wrong-password", **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code
             for i in range(8)]
    assert 429 in codes and codes.index(429) <= 5
    app.state.wf.settings.trusted_proxies = "testclient"            # the TestClient's peer
    app.state.wf.login_guard.state.prune(now=1e12)                  # every count over
    codes = [_login(c, f"other{i}", "some-wrong-password", **{"X-Forwarded-For": f"203.0.113.{i}"}).status_code
             for i in range(8)]
    assert codes == [401] * 8                                       # now each address is its own


def test_flood_state_and_hashing_bounded(served):
    """600 guesses from 40 addresses: bounded limiter state, at most 2 hashes at once."""
    app, c, _ = served
    guard = LoginGuard(app.state.wf.store.engine, per_minute=20, account_failures=10, max_keys=100,
                       hash_concurrency=2)
    app.state.wf.login_guard = guard
    app.state.wf.settings.trusted_proxies = "testclient"
    peak, now = [0], [0]
    lock = threading.Lock()
    real = app.state.wf.auth.login.__func__

    def counting(self, name, password, g=None, client="unknown"):
        if g is None:                  # the hash itself, inside the guard's slot
            with lock:
                now[0] += 1
                peak[0] = max(peak[0], now[0])
            try:
                return real(self, name, password)
            finally:
                with lock:
                    now[0] -= 1
        return real(self, name, password, g, client)
    app.state.wf.auth.login = counting.__get__(app.state.wf.auth)
    codes = []

    def client(i):
        for j in range(15):
            r = _login(c, f"target{j % 3}", f"guess-{i}-{j}-xxxx", **{"X-Forwarded-For": f"198.51.100.{i}"})
            codes.append(r.status_code)
    threads = [threading.Thread(target=client, args=(i,)) for i in range(40)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(codes) == 600 and set(codes) <= {401, 429}
    assert codes.count(401) <= 3 * (10 + 2 - 1)         # locked after 10 (+1 per extra hash slot)
    assert peak[0] <= 2 and guard.size() <= 2 * (100 + PRUNE_EVERY)
    assert time.perf_counter() - t0 < 120


def test_guard_bounded(served):
    app, _, _ = served
    g = LoginGuard(app.state.wf.store.engine, per_minute=5, max_keys=50)
    for i in range(600):
        g.failed(f"name{i}", f"10.{i // 256 % 256}.{i % 256}.1")
    assert g.size() <= 2 * (50 + PRUNE_EVERY)


def test_concurrent_failures_all_counted(served):
    """No failure is lost when several requests count on the same row at once (compare-and-set),
    including the first ones, which race to insert the row."""
    from api.service.security_state import Entry, SecurityState
    app, _, _ = served
    state = SecurityState(app.state.wf.store.engine)
    for key in ("fresh-row", "fresh-row"):                  # first from nothing, then on a row
        start = state.get("account", key)
        barrier = threading.Barrier(8)

        def bump():
            barrier.wait()
            for _ in range(10):
                state.update("account", key, lambda old, now: Entry((old.n if old else 0) + 1, now, 0.0))
        threads = [threading.Thread(target=bump) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert state.get("account", key).n == (start.n if start else 0) + 80

"""Issue 15: token revocation and the login limits were held in one process's memory, so with two
uvicorn workers a revoked token still worked on the other worker and each worker gave a guesser
its own allowance. Two app instances on one store stand for two workers: what one revokes or
counts, the other refuses or counts too."""
from __future__ import annotations

import secrets
import time

import pytest
from fastapi.testclient import TestClient

from api.service.app import create_app
from api.service.auth import add_user
from api.settings import Settings
from geo.storage.store import open_store


@pytest.fixture
def workers(store_url):
    """Two (or three) workers: separate apps and engines on one store."""
    pw = secrets.token_urlsafe(16)
    stores, clients = [], []
    settings = dict(login_rate_per_minute=1000, login_account_failures=4, lockout_seconds=60,
                    rate_per_minute=0, user_cache_seconds=0.3)
    first = open_store(store_url)
    add_user(first.engine, "chair", "mog_member", pw)
    stores.append(first)
    for _ in range(2):
        stores.append(open_store(store_url))
    apps = [create_app(s, Settings(**settings)) for s in stores]
    ctxs = [TestClient(a) for a in apps]
    clients = [c.__enter__() for c in ctxs]
    yield clients, pw
    for c in ctxs:
        c.__exit__(None, None, None)
    for s in stores:
        s.engine.dispose()


def _login(c, name, pw):
    return c.post("/auth/token", data={"username": name, "password": pw})


def _me(c, token):
    return c.get("/auth/me", headers={"Authorization": f"Bearer {token}"}).status_code


def test_token_revoked_by_one_worker_is_refused_by_the_others(workers):
    (a, b, c), pw = workers
    old = _login(a, "chair", pw).json()["access_token"]
    assert _me(a, old) == _me(b, old) == 200              # b has verified (and cached) it
    new = a.post("/auth/refresh", headers={"Authorization": f"Bearer {old}"})
    assert new.status_code == 200
    assert _me(a, old) == 401                              # at once where it was revoked
    assert _me(c, old) == 401                              # at once in a worker that never saw it
    time.sleep(0.4)                                        # user_cache_seconds
    assert _me(b, old) == 401                              # and in one that had it cached
    # nor renewed a second time on another worker
    assert b.post("/auth/refresh", headers={"Authorization": f"Bearer {old}"}).status_code == 401
    assert _me(b, new.json()["access_token"]) == 200


def test_account_failures_count_across_workers(workers):
    (a, b, c), pw = workers
    for i, w in enumerate((a, b, a, b)):                   # 4 failures, 2 on each worker
        assert _login(w, "chair", f"wrong-{i}-password").status_code == 401
    for w in (a, b, c):                                    # locked everywhere, right password too
        r = _login(w, "chair", pw)
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0


def test_client_address_limit_across_workers(store_url):
    stores = [open_store(store_url) for _ in range(2)]
    apps = [create_app(s, Settings(login_rate_per_minute=5, login_account_failures=100,
                                   rate_per_minute=0)) for s in stores]
    with TestClient(apps[0]) as a, TestClient(apps[1]) as b:
        codes = [_login((a, b)[i % 2], f"name{i}", "some-wrong-password").status_code for i in range(8)]
    for s in stores:
        s.engine.dispose()
    assert codes[:5] == [401] * 5 and codes[5:] == [429] * 3     # 5 a minute per address, not per worker

from __future__ import annotations
import sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import os
import secrets

import pytest
from fastapi.testclient import TestClient

from api.service.app import create_app
from api.service.auth import add_user
from api.settings import Settings
from api_fixtures import ROLES, drop_pg_database, fresh_pg_database, open_populated

BACKENDS = ["sqlite", "postgis"]


def _pg_available() -> bool:
    try:
        import psycopg
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", connect_timeout=2):
            return True
    except Exception:
        return False


@pytest.fixture(scope="session", params=BACKENDS)
def store(request, tmp_path_factory):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('api') / 'wf.sqlite'}"
    else:
        if not _pg_available():
            if os.environ.get("WAYFINDER_REQUIRE_POSTGIS") == "1":
                pytest.fail("PostGIS required but not reachable on 127.0.0.1:5432")
            pytest.skip("PostGIS not reachable on 127.0.0.1:5432")
        name = f"wf_api_test_{os.getpid()}"
        url = fresh_pg_database(name)
        store = open_populated(url)
        yield store
        store.engine.dispose()
        drop_pg_database(name)
        return
    yield open_populated(url)


@pytest.fixture(scope="session")
def passwords(store):
    pw = {}
    for role in ROLES:
        pw[role] = secrets.token_urlsafe(16)
        add_user(store.engine, f"t_{role}", role, pw[role])
    return pw


@pytest.fixture(scope="session")
def app(store, passwords):
    return create_app(store, Settings(rate_per_minute=0, login_rate_per_minute=1000))


@pytest.fixture(scope="session")
def client(app):
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def tokens(client, passwords):
    out = {}
    for role, pw in passwords.items():
        r = client.post("/auth/token", data={"username": f"t_{role}", "password": pw})
        assert r.status_code == 200, r.text
        out[role] = r.json()["access_token"]
    return out


@pytest.fixture(scope="session")
def as_role(client, tokens):
    def call(role, method, url, **kw):
        headers = kw.pop("headers", {})
        if role is not None:
            headers["Authorization"] = f"Bearer {tokens[role]}"
        return client.request(method, url, headers=headers, **kw)
    return call

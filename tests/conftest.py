"""Shared fixtures: stores on both backends, the bundled reference data, the sample drop.

PostGIS tests talk to a real PostGIS on 127.0.0.1:5432 (set up by `make test`, which runs
scripts/ensure_postgis.sh and sets WAYFINDER_REQUIRE_POSTGIS=1 so they fail rather than skip).
Each test that asks for a PostGIS store gets its own throwaway database.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
# the install keys (api.keys) of every test store go to a throwaway directory, one per store
os.environ.setdefault("WAYFINDER_KEY_DIR", __import__("tempfile").mkdtemp(prefix="wf-test-keys-"))
SAMPLE_DROP = ROOT / "data" / "sample"
PG_ADMIN_URL = os.environ.get("WAYFINDER_TEST_PG",
                              "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _pg_admin():
    engine = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        engine.dispose()
        if os.environ.get("WAYFINDER_REQUIRE_POSTGIS") == "1":
            pytest.fail(f"PostGIS required but not reachable at {PG_ADMIN_URL}: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_ADMIN_URL} (run `make test`)")
    return engine


@pytest.fixture
def postgis_url():
    """A fresh PostGIS database, dropped afterwards."""
    admin = _pg_admin()
    name = f"wf_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    eng.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'wayfinder.sqlite'}"


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def store_url(request, tmp_path):
    """The same test on both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'wayfinder.sqlite'}"
    return request.getfixturevalue("postgis_url")


@pytest.fixture
def store(store_url):
    from geo.storage.store import open_store
    s = open_store(store_url)
    yield s
    s.engine.dispose()


@pytest.fixture
def reference_store(store):
    """A store with the bundled Birmingham postcodes, wards and LSOAs loaded."""
    from geo.places.reference import load_bundled
    load_bundled(store)
    return store


@pytest.fixture(scope="session")
def sample_drop() -> Path:
    assert (SAMPLE_DROP / "episodes.csv").exists(), "data/sample is missing: run wayfinder synth"
    return SAMPLE_DROP

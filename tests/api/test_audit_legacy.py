"""Issue 15: audit trails written before entries were MACed (plain SHA-256 chain) failed
``wayfinder audit verify``. They are verified as a legacy segment (the old chain checked as such,
reported as "legacy, not MACed, N entries up to <time>") followed by the MACed chain, whose first
entry MACs the legacy head and which the external anchor covers. Tampering in either segment is
still detected, and a trail rewritten wholly in the old format is not taken for a legacy one."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from api.jobs.audit import (GENESIS, HEAD_KEY, AuditEntry, AuditTrail, legacy_hash, verify)
from api.cli import app
from api.tables import api_setting, audit_log, create_tables

LEGACY = 10


def _old_trail(engine, n=LEGACY, start=dt.datetime(2026, 11, 20, 9, 0)):
    """Entries as the service wrote them before the MAC: no client, request id or token id,
    hash = SHA-256(canonical of ten columns + previous hash), the head in settings."""
    create_tables(engine)
    prev = GENESIS
    with engine.begin() as conn:
        for i in range(1, n + 1):
            row = {"id": i, "at": start + dt.timedelta(minutes=i), "user_name": f"old{i}", "role": "analyst",
                   "action": "disclosure" if i % 3 == 0 else "consultation", "route": "/collections",
                   "what": f"old what {i}", "purpose": "case review", "result_count": i, "status": 200,
                   "prev_hash": prev}
            row["hash"] = prev = legacy_hash(row, prev)
            conn.execute(audit_log.insert().values(**row))
        conn.execute(api_setting.delete().where(api_setting.c.key == HEAD_KEY))
        conn.execute(api_setting.insert().values(key=HEAD_KEY, value=f"{n}:{prev}"))
    return start + dt.timedelta(minutes=n)


@pytest.fixture
def mixed(store_url):
    from geo.storage.store import open_store
    store = open_store(store_url)
    last_old = _old_trail(store.engine)
    trail = AuditTrail(store.engine)
    for i in range(10):
        trail.record(AuditEntry("consultation", f"new{i}", "analyst", "/collections", f"new what {i}",
                                "case review", i, 200, client="10.0.0.1", request_id=f"r{i}", token_id=f"t{i}"))
    trail.close()
    yield store, store_url, last_old
    store.engine.dispose()


def _rows(engine):
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings()]


def test_legacy_segment_then_maced_chain_verifies(mixed):
    store, url, last_old = mixed
    res = verify(store.engine)
    assert res.ok and res.entries == 20 and res.legacy == LEGACY, res
    assert f"legacy, not MACed, {LEGACY} entries up to {last_old:%Y-%m-%dT%H:%M:%S}" in res.message
    r = CliRunner().invoke(app, ["audit", "verify", "--db", url])
    assert r.exit_code == 0 and "legacy, not MACed, 10 entries" in r.output


def test_edit_in_legacy_segment_detected(mixed):
    store, _, _ = mixed
    with store.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == 4).values(what="nothing to see"))
    res = verify(store.engine)
    assert not res.ok and res.first_bad_id == 4, res


def test_legacy_segment_edited_and_rehashed_detected(mixed):
    """SHA-256 is public: the legacy chain can be recomputed, but the first MACed entry MACs
    the legacy head, so the rewrite shows where the MACed chain starts."""
    store, _, _ = mixed
    rows = _rows(store.engine)
    prev = rows[2]["hash"]
    with store.engine.begin() as conn:
        for row in rows[3:LEGACY]:
            if row["id"] == 4:
                row["what"] = "nothing to see"
            row["prev_hash"] = prev
            row["hash"] = prev = legacy_hash(row, prev)
            conn.execute(update(audit_log).where(audit_log.c.id == row["id"])
                         .values(what=row["what"], prev_hash=row["prev_hash"], hash=row["hash"]))
    res = verify(store.engine)
    assert not res.ok and res.first_bad_id == LEGACY + 1, res


def test_edit_in_maced_segment_detected(mixed):
    store, url, _ = mixed
    with store.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == 15).values(purpose="none"))
    res = verify(store.engine)
    assert not res.ok and res.first_bad_id == 15, res
    assert CliRunner().invoke(app, ["audit", "verify", "--db", url]).exit_code == 1


def test_maced_entries_rewritten_in_the_old_format_detected(mixed):
    """Downgrade: every entry re-hashed as legacy (client and ids emptied): the anchor names
    MACed entries, and a trail with no MACed entry at all is not accepted either."""
    store, _, _ = mixed
    prev = GENESIS
    with store.engine.begin() as conn:
        for row in _rows(store.engine):
            row.update(client=None, request_id=None, token_id=None, prev_hash=prev)
            row["hash"] = prev = legacy_hash(row, prev)
            conn.execute(update(audit_log).where(audit_log.c.id == row["id"])
                         .values(client=None, request_id=None, token_id=None, prev_hash=row["prev_hash"],
                                 hash=row["hash"]))
    res = verify(store.engine)
    assert not res.ok, res


def test_legacy_only_trail_is_not_taken_as_intact(store_url):
    from geo.storage.store import open_store
    store = open_store(store_url)
    _old_trail(store.engine)
    res = verify(store.engine)
    assert not res.ok and res.legacy == LEGACY and "legacy, not MACed, 10 entries" in res.message
    store.engine.dispose()

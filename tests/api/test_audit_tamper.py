"""Issue 15, finding 4: the audit trail cannot be rewritten undetected. Entries are MACed with a
key outside the store and the chain head is anchored in an append-only file, so an edited row, an
edited-and-re-hashed row (plain SHA-256 or any key but the install's), the newest rows deleted
and every row deleted are all reported by ``verify`` and by ``wayfinder audit verify`` (non-zero,
naming the entry); on PostgreSQL the service can write through a role that may only INSERT."""
from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
import sqlalchemy as sa
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from api.jobs.audit import (GENESIS, AuditEntry, AuditTrail, _canonical, _utc_text, append_entries,
                       create_writer_role, entry_hash, keys_of, verify)
from api.cli import app
from api.tables import audit_log


def _trail(store_url, n=20):
    from geo.storage.store import open_store
    store = open_store(store_url)
    trail = AuditTrail(store.engine)
    for i in range(n):
        trail.record(AuditEntry("disclosure" if i % 5 == 0 else "consultation", f"u{i}", "analyst",
                                "/collections", f"what {i}", "case review", i, 200,
                                client="10.0.0.1", request_id=f"r{i}", token_id=f"t{i}"))
    trail.close()
    assert verify(store.engine).ok
    return store


def _cli_verify(url):
    return CliRunner().invoke(app, ["audit", "verify", "--db", url])


def test_edit_detected(store_url):
    store = _trail(store_url)
    with store.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == 5).values(purpose="nothing to see"))
    res = verify(store.engine)
    assert not res.ok and res.first_bad_id == 5
    r = _cli_verify(store_url)
    assert r.exit_code != 0 and "5" in r.stderr


@pytest.mark.parametrize("key", ["sha256", "guessed"])
def test_edit_and_rehash_detected(store_url, key):
    """Rewrite a disclosure row and re-compute every hash after it, as the old plain SHA-256
    chain allowed (or with a guessed key): the MACs under the install's key do not match."""
    store = _trail(store_url)
    with store.engine.begin() as conn:
        rows = [dict(r) for r in conn.execute(select(audit_log).order_by(audit_log.c.id)).mappings()]
        prev = rows[4]["hash"]
        for row in rows[5:]:
            if row["id"] == 6:
                row["what"] = "pack mog (nothing disclosed)"
            if key == "sha256":
                canon = _canonical([row["id"], _utc_text(row["at"]), row["user_name"], row["role"],
                                    row["action"], row["route"], row["what"], row["purpose"],
                                    row["result_count"], row["status"], row["client"],
                                    row["request_id"], row["token_id"]])
                new = hashlib.sha256((canon + prev).encode()).hexdigest()
            else:
                new = entry_hash({**row, "prev_hash": prev}, prev, "a-guessed-key-of-32-characters!!")
            conn.execute(update(audit_log).where(audit_log.c.id == row["id"])
                         .values(what=row["what"], prev_hash=prev, hash=new))
            prev = new
    res = verify(store.engine)
    assert not res.ok and res.first_bad_id == 6, res
    assert _cli_verify(store_url).exit_code != 0


def test_truncation_of_newest_rows_detected(store_url):
    store = _trail(store_url)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_log).where(audit_log.c.id > 15))
        # and the in-database head put back to match, as someone with the database would
        conn.exec_driver_sql("DELETE FROM settings WHERE key = 'audit_head'")
    res = verify(store.engine)
    assert not res.ok and res.first_bad_id == 16 and "anchor" in res.message, res
    r = _cli_verify(store_url)
    assert r.exit_code != 0 and "16" in r.stderr


def test_deletion_of_everything_detected(store_url):
    store = _trail(store_url)
    with store.engine.begin() as conn:
        conn.execute(delete(audit_log))
        conn.exec_driver_sql("DELETE FROM settings WHERE key = 'audit_head'")
    res = verify(store.engine)
    assert not res.ok and res.first_bad_id == 1 and "20" in res.message, res
    assert _cli_verify(store_url).exit_code != 0


def test_anchor_forgery_and_removal_detected(store_url):
    store = _trail(store_url)
    path = keys_of(store.engine).anchor
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    path.write_text(text + f"99 {'0' * 64} 2026-01-01T00:00:00.000000Z {'0' * 64}\n")
    res = verify(store.engine)
    assert not res.ok and "forged" in res.message
    path.unlink()
    res = verify(store.engine)
    assert not res.ok and "anchor" in res.message
    path.write_text(text)
    assert verify(store.engine).ok and _cli_verify(store_url).exit_code == 0


def test_entries_carry_client_request_and_token(store_url):
    store = _trail(store_url, 3)
    with store.engine.connect() as conn:
        row = conn.execute(select(audit_log).where(audit_log.c.id == 2)).mappings().one()
    assert (row["client"], row["request_id"], row["token_id"]) == ("10.0.0.1", "r1", "t1")
    # the MAC covers them: changing the client address is an edit
    with store.engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == 2).values(client="10.9.9.9"))
    assert verify(store.engine).first_bad_id == 2


def test_audit_key_is_outside_the_store_with_mode_0600(store_url):
    store = _trail(store_url, 1)
    keys = keys_of(store.engine)
    for name in ("audit", "token", "pseudonym"):
        p = keys.directory / f"{name}.key"
        assert stat.S_IMODE(p.stat().st_mode) == 0o600
    assert stat.S_IMODE(keys.directory.stat().st_mode) == 0o700
    with store.engine.connect() as conn:
        values = [v for (v,) in conn.exec_driver_sql("SELECT value FROM settings")]
    assert keys.audit not in values and keys.token not in values and keys.pseudonym not in values


@pytest.mark.postgis
def test_insert_only_writer_role(postgis_url):
    """PostgreSQL: the service writes the audit through a role that cannot UPDATE or DELETE."""
    from geo.storage.store import open_store
    store = open_store(postgis_url)
    append_entries(store.engine, [AuditEntry("login", "u0", "admin")])
    url = create_writer_role(store.engine, "wf_audit_test_writer")
    writer = sa.create_engine(url)
    try:
        trail = AuditTrail(writer)
        ids = [trail.record(AuditEntry("consultation", f"w{i}", "analyst", "/x", "w")) for i in range(3)]
        trail.close()
        assert ids == [2, 3, 4]
        for stmt in ("UPDATE audit_log SET what = 'x' WHERE id = 2", "DELETE FROM audit_log",
                     "TRUNCATE audit_log", "UPDATE settings SET value = 'x'",
                     "SELECT * FROM app_users"):
            with pytest.raises(sa.exc.ProgrammingError, match="permission denied"):
                with writer.begin() as conn:
                    conn.exec_driver_sql(stmt)
        assert verify(store.engine).ok
    finally:
        writer.dispose()
        with store.engine.begin() as conn:
            conn.exec_driver_sql("REVOKE ALL ON audit_log FROM wf_audit_test_writer")
            conn.exec_driver_sql("REVOKE USAGE ON SCHEMA public FROM wf_audit_test_writer")
            db = conn.exec_driver_sql("SELECT current_database()").scalar()
            conn.exec_driver_sql(f'REVOKE CONNECT ON DATABASE "{db}" FROM wf_audit_test_writer')
            conn.exec_driver_sql("DROP ROLE wf_audit_test_writer")


def test_cli_pack_audited_before_the_file_with_purpose_and_recipients(tmp_path, monkeypatch):
    """Finding 11: the CLI pack records its disclosure (purpose, recipients, the resolved
    child's pseudonym) before it writes the file; no entry, no file; the file has mode 0600."""
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(__file__)))
    from api_fixtures import open_populated
    url = f"sqlite:///{tmp_path / 'p.sqlite'}"
    store = open_populated(url)
    out = tmp_path / "mase.html"
    r = CliRunner().invoke(app, ["pack", "mase", "--db", url, "--from", "2017-01-01", "--to",
                                 "2017-06-30", "--child", "police/C0000", "--out", str(out),
                                 "--purpose", "MASE South review", "--recipients", "MASE South panel"])
    assert r.exit_code == 0, r.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    with store.engine.connect() as conn:
        row = conn.execute(select(audit_log).order_by(audit_log.c.id.desc())).mappings().first()
    import re
    assert row["action"] == "disclosure" and row["purpose"] == "MASE South review"
    # the resolved child (a resolved person since the MOG merge), by pseudonym, never the key
    assert "MASE South panel" in row["what"] and re.search(r"child C-[0-9A-F]{10}", row["what"])
    assert "C0000" not in re.sub(r"C-[0-9A-F]{10}", "", row["what"])

    def broken(*a, **k):
        raise RuntimeError("disk full")
    monkeypatch.setattr("api.jobs.audit.append_entries", broken)
    out2 = tmp_path / "mog.html"
    r = CliRunner().invoke(app, ["pack", "mog", "--db", url, "--from", "2017-01-01", "--to",
                                 "2017-06-30", "--out", str(out2)])
    assert r.exit_code != 0 and "audit" in r.stderr and not out2.exists()
    # a licensing pack kind is not in the matrix: refused
    r = CliRunner().invoke(app, ["pack", "mog", "--db", url, "--from", "2017-01-01", "--to",
                                 "2017-06-30", "--out", str(out2), "--role", "cog_member"])
    assert r.exit_code != 0 and "may not receive" in r.stderr

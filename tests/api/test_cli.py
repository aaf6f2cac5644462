"""wayfinder users / audit commands (contract: exit 0 on success, non-zero with a reason)."""
import secrets

import pytest
from typer.testing import CliRunner

from api import cli  # noqa: E402


@pytest.fixture()
def db(tmp_path):
    return f"sqlite:///{tmp_path / 'cli.sqlite'}"


def test_users_and_audit_commands(db):
    r = CliRunner()
    pw = secrets.token_urlsafe(16)
    res = r.invoke(cli.app, ["users", "add", "alice", "--role", "analyst", "--db", db], input=pw + "\n")
    assert res.exit_code == 0, res.output
    res = r.invoke(cli.app, ["users", "add", "alice", "--role", "analyst", "--db", db], input=pw + "\n")
    assert res.exit_code != 0 and "already exists" in res.output
    res = r.invoke(cli.app, ["users", "add", "bob", "--role", "wizard", "--db", db], input=pw + "\n")
    assert res.exit_code != 0 and "unknown role" in res.output
    res = r.invoke(cli.app, ["users", "add", "carol", "--role", "admin", "--db", db], input="short\n")
    assert res.exit_code != 0 and "at least" in res.output
    res = r.invoke(cli.app, ["users", "add", "dan", "--role", "admin", "--db", db], input="")
    assert res.exit_code != 0
    assert r.invoke(cli.app, ["users", "disable", "alice", "--db", db]).exit_code == 0
    assert r.invoke(cli.app, ["users", "disable", "nobody", "--db", db]).exit_code != 0
    out = r.invoke(cli.app, ["users", "list", "--db", db]).output
    assert "alice\tanalyst\tdisabled" in out and pw not in out
    res = r.invoke(cli.app, ["audit", "verify", "--db", db])
    assert res.exit_code == 0 and "intact" in res.output
    assert "user alice added" in r.invoke(cli.app, ["audit", "list", "--db", db]).output
    # tamper with an entry: verify names it and fails
    from sqlalchemy import update
    from api.tables import audit_log
    from geo.storage.store import open_store
    with open_store(db).engine.begin() as conn:
        conn.execute(update(audit_log).where(audit_log.c.id == 1).values(user_name="someone else"))
    res = r.invoke(cli.app, ["audit", "verify", "--db", db])
    assert res.exit_code != 0 and "entry 1" in res.output

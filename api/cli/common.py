"""Commands of the `wayfinder` CLI, one module per domain, each with `register(app)`.

The helpers here are shared by every command module: one way to fail with a one-line reason and
one way to open the store.
"""
from __future__ import annotations

from typing import Optional

import sqlalchemy as sa
import typer

from geo.storage.protocol import StoreLike

DB_HELP = "SQLAlchemy URL of the store (default: $WAYFINDER_DB, then sqlite:///wayfinder.sqlite)"


def fail(message: str, code: int = 1) -> None:
    """Stop with a one-line reason on stderr and a non-zero exit."""
    typer.echo(f"wayfinder: {' '.join(str(message).split())}", err=True)
    raise typer.Exit(code)


def db_url(db: Optional[str]) -> str:
    """`--db`, else WAYFINDER_DB (api.settings), else the SQLite file in the current folder."""
    from api.settings import Settings
    return db or Settings().db


def store_for(db: Optional[str]):
    """Open (and migrate) the store at `db`, or fail with the reason."""
    from geo.storage.store import StoreError, open_store
    try:
        return open_store(db_url(db))
    except StoreError as exc:
        fail(str(exc))


def audit_command(store: StoreLike, action: str, what: str, purpose: Optional[str] = None) -> None:
    """Record a command in the audit trail (DPA 2018 s.62(1): collection, combination,
    disclosure); a command that cannot be recorded fails with the reason."""
    from api.jobs.audit import record_command
    try:
        record_command(store.engine, action, what, purpose)
    except Exception as exc:  # noqa: BLE001 - one-line reason
        fail(f"done, but not recorded in the audit trail: {str(exc).splitlines()[0]}")


def require_episodes(store: StoreLike) -> None:
    """Fail with the next step when the store holds no missing episodes (nothing ingested yet),
    instead of analysing nothing and reporting zeros as if they were findings."""
    try:
        with store.engine.connect() as conn:
            n = conn.exec_driver_sql("SELECT count(*) FROM episodes").scalar()
    except sa.exc.SQLAlchemyError:  # a store without the table holds no episodes either
        n = 0
    if not n:
        fail("the store holds no episodes: run `wayfinder ingest DROP_FOLDER` first")

"""Security state every worker process shares: login limits and revoked token ids, in the store.

With several uvicorn workers (or hosts) on one store, state held in one process's memory is
per worker: a token revoked by a refresh on one worker kept working on the others, and each
worker gave a guesser its own allowance. Here the state is a small table (``geo.storage.schema.
security_state``: kind, key, n, at, until), read and written in short transactions, with Unix
times so every process agrees on them. Bounded: every :data:`PRUNE_EVERY` writes per process,
rows that no longer matter (a bucket full again, a lockout over, a revoked token expired) are
deleted, and each kind is cut to its ``max_keys`` most recently updated rows, so a flood of new
names or addresses cannot grow the table.

Two writers updating the same row at once do not lose a count: each write is a compare-and-set
on the row it read (an insert only where no row was), tried again when another writer got in
first (on PostgreSQL ``SELECT ... FOR UPDATE`` makes the retry rare: only two first inserts race).
"""
from __future__ import annotations

import threading
import time
from typing import Callable, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geo.storage.schema import security_state

#: prune and cap the table after this many writes by one process
PRUNE_EVERY = 16
#: compare-and-set attempts before giving up (each lost attempt means another writer succeeded)
_RETRIES = 50


class Entry(NamedTuple):
    n: float
    at: float
    until: float


def _insert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


class SecurityState:
    """Rows of ``security_state`` by (kind, key); see the module docstring."""

    def __init__(self, engine: Engine, max_keys: int = 10_000):
        from api.tables import create_tables
        create_tables(engine)
        self.engine = engine
        self.max_keys = max_keys
        self._writes = 0
        self._lock = threading.Lock()
        #: kind -> the age (seconds since ``at``) after which a row of that kind no longer matters
        self.stale_after: dict[str, float] = {}

    def get(self, kind: str, key: str) -> Entry | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(security_state.c.n, security_state.c.at, security_state.c.until)
                               .where(security_state.c.kind == kind, security_state.c.key == key[:200])).first()
        return None if row is None else Entry(float(row.n), float(row.at), float(row.until))

    def update(self, kind: str, key: str, change: Callable[[Entry | None, float], Entry | None]) -> Entry | None:
        """Replace the row with ``change(old_or_None, now)`` (None deletes it), as a compare-and-set:
        the write names the row it read (or inserts only where there was none), and when another
        writer got in between, the change is read and applied again, so no update is lost."""
        key = key[:200]
        t = security_state
        where = (t.c.kind == kind) & (t.c.key == key)
        for _ in range(_RETRIES):
            with self.engine.begin() as conn:
                q = sa.select(t.c.n, t.c.at, t.c.until).where(where)
                if conn.dialect.name == "postgresql":
                    q = q.with_for_update()
                row = conn.execute(q).first()
                old = None if row is None else Entry(float(row.n), float(row.at), float(row.until))
                new = change(old, time.time())
                if new is None:
                    if old is not None:
                        conn.execute(sa.delete(t).where(where))
                    return None
                if old is None:
                    ins = _insert(conn.dialect.name)(t).values(kind=kind, key=key, n=new.n, at=new.at,
                                                               until=new.until)
                    done = conn.execute(ins.on_conflict_do_nothing(index_elements=["kind", "key"])
                                        .returning(t.c.key)).first()
                else:
                    done = conn.execute(sa.update(t).where(where, t.c.n == old.n, t.c.at == old.at,
                                                           t.c.until == old.until)
                                        .values(n=new.n, at=new.at, until=new.until)
                                        .returning(t.c.key)).first()
            if done is not None:                # (rowcount is -1 here on psycopg 3: RETURNING tells)
                self._wrote()
                return new
        raise RuntimeError(f"security state {kind!r} row kept changing under {_RETRIES} tries")

    def put(self, kind: str, key: str, n: float, until: float) -> None:
        self.update(kind, key, lambda old, now: Entry(n, now, until))

    def delete(self, kind: str, key: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(security_state).where(security_state.c.kind == kind,
                                                         security_state.c.key == key[:200]))

    def count(self, kind: str | None = None) -> int:
        q = sa.select(sa.func.count()).select_from(security_state)
        if kind is not None:
            q = q.where(security_state.c.kind == kind)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar())

    def _wrote(self) -> None:
        with self._lock:
            self._writes += 1
            due = self._writes % PRUNE_EVERY == 0
        if due:
            self.prune()

    def prune(self, now: float | None = None) -> None:
        """Delete rows that no longer matter and cut each kind to its ``max_keys`` newest rows."""
        now = time.time() if now is None else now
        t = security_state
        with self.engine.begin() as conn:
            # a lockout over (or a revoked token expired) and nothing counted since
            for kind, age in self.stale_after.items():
                conn.execute(sa.delete(t).where(t.c.kind == kind, t.c.until <= now, t.c.at <= now - age))
            kinds = [k for (k,) in conn.execute(sa.select(t.c.kind).distinct())]
            for kind in kinds:
                cut = conn.execute(sa.select(t.c.at).where(t.c.kind == kind).order_by(t.c.at.desc())
                                   .offset(self.max_keys).limit(1)).scalar()
                if cut is not None:
                    conn.execute(sa.delete(t).where(t.c.kind == kind, t.c.at <= cut))

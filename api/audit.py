"""Hash-chained audit trail (Data Protection Act 2018 Part 3, s.62).

Every consultation, disclosure, alteration, combination, erasure and denied request is one row
of ``audit_log``: who (user name and role), when, the action, the route, *what* (a description
of the request: layer, filters, pseudonymous subject; never names, dates of birth, addresses or
coordinates of a person), the stated purpose, the result count and the HTTP status.

Chain: ``hash = sha256(canonical(entry) + prev_hash)`` where ``canonical`` is the JSON array
``[id, at, user_name, role, action, route, what, purpose, result_count, status]`` (``at`` as
``YYYY-MM-DDTHH:MM:SS.ffffffZ``). The first entry's ``prev_hash`` is 64 zeros. ``api_setting``
keeps the head (last id and hash) so that removing the newest entries is detected as well.
Ids are consecutive, so a removed entry in the middle leaves a gap and a broken link.

Durability: an entry is committed before the request it records is answered. Requests hand
their entry to one writer thread and wait (off the event loop) until the transaction holding it
has committed; the writer commits whatever has queued while the previous commit ran in one
transaction (group commit), so many concurrent requests share one commit and one pass over the
chain lock. If the entry cannot be written the request is not answered with data: the caller gets
the error (the service answers 503). Nothing is buffered past a response, so a process that dies
loses no entry of an answered request.
"""
from __future__ import annotations

import contextlib

import datetime as dt
import hashlib
import json
import logging
import asyncio
import threading
from collections import deque
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from api.tables import api_setting, audit_log, create_tables, utcnow

log = logging.getLogger("wayfinder.audit")

ACTIONS = ("consultation", "disclosure", "alteration", "combination", "erasure", "collection",
           "denied", "login")
GENESIS = "0" * 64
HEAD_KEY = "audit_head"


@dataclass
class AuditEntry:
    action: str
    user_name: str | None = None
    role: str | None = None
    route: str | None = None
    what: str | None = None
    purpose: str | None = None
    result_count: int | None = None
    status: int | None = None
    at: dt.datetime = field(default_factory=utcnow)

    def __post_init__(self):
        if self.action not in ACTIONS:
            raise ValueError(f"unknown audit action {self.action!r}")


def _utc_text(at: dt.datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_canonical = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def entry_hash(row: dict, prev_hash: str) -> str:
    """Hash of one audit row (a mapping of the ``audit_log`` columns) chained to ``prev_hash``."""
    canonical = _canonical(
        [int(row["id"]), _utc_text(row["at"]), row.get("user_name"), row.get("role"),
         row["action"], row.get("route"), row.get("what"), row.get("purpose"),
         None if row.get("result_count") is None else int(row["result_count"]),
         None if row.get("status") is None else int(row["status"])])
    return hashlib.sha256((canonical + prev_hash).encode("utf-8")).hexdigest()


def _ensure_head(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.execute(select(api_setting.c.value).where(api_setting.c.key == HEAD_KEY)).first():
            return
        last = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(1)).mappings().first()
        value = f"{last['id']}:{last['hash']}" if last else f"0:{GENESIS}"
        with contextlib.suppress(IntegrityError):   # another process created it first
            conn.execute(api_setting.insert().values(key=HEAD_KEY, value=value))


def append_entries(engine: Engine, entries: list[AuditEntry]) -> list[int]:
    """Append ``entries`` to the chain in one transaction; returns their ids."""
    if not entries:
        return []
    with engine.begin() as conn:
        return append_in(conn, entries)


_COLUMNS = ("id", "at", "user_name", "role", "action", "route", "what", "purpose", "result_count",
            "status", "prev_hash", "hash")


def append_in(conn, entries: list[AuditEntry]) -> list[int]:
    """Append ``entries`` to the chain inside the caller's transaction ``conn`` (so that a change
    and the entry recording it commit together, e.g. an erasure); returns their ids.

    Runs on the driver's cursor, four statements whatever the batch size, the INSERT as one
    ``executemany`` (psycopg pipelines its rows in one round trip): this is on every request's
    path, and SQLAlchemy's per-statement machinery cost more than the SQL itself."""
    if not entries:
        return []
    ph = "?" if conn.dialect.paramstyle == "qmark" else "%s"     # sqlite3 / psycopg
    at_bind = audit_log.c.at.type.bind_processor(conn.dialect) or (lambda v: v)
    head, log_ = api_setting.name, audit_log.name
    cur = conn.connection.cursor()
    try:
        # The head row is the chain lock: writing it first takes the row lock on PostgreSQL and
        # the database write lock on SQLite (whose driver opens the transaction at the first
        # write, so a read before it would not be isolated), before the last entry is read (by a
        # statement of its own, so that PostgreSQL reads it after the lock is granted).
        # PostgreSQL commits with the server's synchronous_commit (on by default): an entry
        # acknowledged is on disk.
        cur.execute(f"UPDATE {head} SET value = value WHERE key = {ph}", (HEAD_KEY,))
        cur.execute(f"SELECT id, hash FROM {log_} ORDER BY id DESC LIMIT 1")
        last = cur.fetchone()
        seq, prev = (int(last[0]), last[1]) if last else (0, GENESIS)
        ids: list[int] = []
        rows: list[tuple] = []
        for e in entries:
            seq += 1
            row = {"id": seq, "at": e.at, "user_name": e.user_name, "role": e.role,
                   "action": e.action, "route": e.route, "what": e.what, "purpose": e.purpose,
                   "result_count": e.result_count, "status": e.status, "prev_hash": prev}
            row["hash"] = prev = entry_hash(row, prev)
            row["at"] = at_bind(e.at)
            rows.append(tuple(row[c] for c in _COLUMNS))
            ids.append(seq)
        # executemany: one statement text (parsed once by the driver), rows pipelined by psycopg
        cur.executemany(f"INSERT INTO {log_} ({', '.join(_COLUMNS)}) "
                        f"VALUES ({', '.join([ph] * len(_COLUMNS))})", rows)
        cur.execute(f"UPDATE {head} SET value = {ph} WHERE key = {ph}", (f"{seq}:{prev}", HEAD_KEY))
    finally:
        cur.close()
    return ids


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    message: str
    first_bad_id: int | None = None


def verify(engine: Engine, batch: int = 5000) -> VerifyResult:
    """Walk the chain from the first entry; report the first altered or missing entry."""
    prev, expected_id, n = GENESIS, 1, 0
    with engine.connect() as conn:
        head = conn.execute(select(api_setting.c.value).where(api_setting.c.key == HEAD_KEY)).scalar()
        last_id = 0
        while True:
            rows = conn.execute(select(audit_log).where(audit_log.c.id > last_id)
                                .order_by(audit_log.c.id).limit(batch)).mappings().all()
            if not rows:
                break
            for row in rows:
                rid = int(row["id"])
                if rid != expected_id:
                    return VerifyResult(False, n, f"audit entry {expected_id} is missing "
                                        f"(next entry present is {rid})", expected_id)
                if row["prev_hash"] != prev:
                    return VerifyResult(False, n, f"audit entry {rid} does not follow entry "
                                        f"{rid - 1} (chain broken: entry {rid - 1} altered or replaced)", rid)
                if entry_hash(dict(row), prev) != row["hash"]:
                    return VerifyResult(False, n, f"audit entry {rid} was altered "
                                        "(its content does not match its hash)", rid)
                prev = row["hash"]
                expected_id += 1
                n += 1
                last_id = rid
    if head is not None:
        head_id, _, head_hash = head.partition(":")
        head_id = int(head_id)
        if head_id > n:
            return VerifyResult(False, n, f"audit entries {n + 1} to {head_id} are missing "
                                f"(the chain head records {head_id} entries, {n} found)", n + 1)
        if head_id > 0:
            with engine.connect() as conn:
                h = conn.execute(select(audit_log.c.hash).where(audit_log.c.id == head_id)).scalar()
            if h != head_hash:
                return VerifyResult(False, n, f"audit entry {head_id} was altered or replaced "
                                    "(does not match the recorded chain head)", head_id)
    return VerifyResult(True, n, f"audit trail intact: {n} entries")


class AuditWriteError(RuntimeError):
    """The audit entry could not be committed: the request it records must not be answered."""


class _Pending:
    """An entry waiting for its commit; ``done`` is a callable (threads) or an asyncio future."""
    __slots__ = ("entry", "done", "id", "error")

    def __init__(self, entry: AuditEntry, done):
        self.entry, self.done, self.id, self.error = entry, done, None, None


def _resolve(futures: list) -> None:
    for fut in futures:
        if not fut.done():
            fut.set_result(None)


class AuditTrail:
    """Durable audit writes with group commit.

    :meth:`record` (threads) and :meth:`record_async` (the event loop) return only once the
    entry is committed, and return its id; they raise :class:`AuditWriteError` when it could not
    be. One writer thread takes every entry queued so far (up to ``batch_size``) and appends them
    in one transaction, so concurrent requests share commits; an idle trail commits a lone entry
    at once (no timer, no added latency beyond the commit itself).
    """

    def __init__(self, engine: Engine, batch_size: int = 500, retries: int = 3,
                 timeout: float = 30.0):
        self.engine = engine
        self.batch_size = batch_size
        self.retries = retries
        self.timeout = timeout
        create_tables(engine)
        _ensure_head(engine)
        self._q: deque[_Pending] = deque()
        self._cv = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self.failures = 0
        self.commits = 0

    # -- submitting ------------------------------------------------------------------------------
    def _submit(self, entry: AuditEntry, done) -> _Pending:
        p = _Pending(entry, done)
        with self._cv:
            if self._thread is None or not self._thread.is_alive():
                self._closed = False
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()
            self._q.append(p)
            self._cv.notify_all()
        return p

    def record(self, entry: AuditEntry) -> int:
        """Commit ``entry`` (waiting for the batch that holds it); returns its id."""
        ev = threading.Event()
        p = self._submit(entry, ev.set)
        if not ev.wait(self.timeout):
            raise AuditWriteError(f"audit entry not committed within {self.timeout:g} s")
        if p.error is not None:
            raise AuditWriteError(f"audit entry not committed: {p.error}") from p.error
        return p.id

    async def record_async(self, entry: AuditEntry) -> int:
        """As :meth:`record`, awaited on the event loop without holding a worker thread."""
        fut = asyncio.get_running_loop().create_future()
        p = self._submit(entry, fut)
        try:
            await asyncio.wait_for(fut, self.timeout)
        except asyncio.TimeoutError:
            raise AuditWriteError(f"audit entry not committed within {self.timeout:g} s") from None
        if p.error is not None:
            raise AuditWriteError(f"audit entry not committed: {p.error}") from p.error
        return p.id

    def record_now(self, entry: AuditEntry) -> int:
        """Write synchronously (CLI, alterations): returns the entry id."""
        return self.record(entry)

    # -- the writer --------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._q and not self._closed:
                    self._cv.wait()
                if not self._q:      # closed and drained
                    return
                batch = [self._q.popleft() for _ in range(min(len(self._q), self.batch_size))]
                self._busy = True
            error = None
            for attempt in range(self.retries):
                try:
                    ids = append_entries(self.engine, [p.entry for p in batch])
                    for p, i in zip(batch, ids):
                        p.id = i
                    error = None
                    self.commits += 1
                    break
                except Exception as exc:  # database trouble: retry, then fail the requests
                    error = exc
                    log.warning("audit write failed (attempt %d): %s", attempt + 1, exc)
            if error is not None:
                self.failures += len(batch)
                log.error("audit entries not written: %d requests refused", len(batch))
            waiting: dict = {}      # event loop -> its futures, woken with one call per batch
            for p in batch:
                p.error = error
                if isinstance(p.done, asyncio.Future):
                    waiting.setdefault(p.done.get_loop(), []).append(p.done)
                else:
                    p.done()
            for loop, futures in waiting.items():
                with contextlib.suppress(Exception):   # a closed event loop: nobody waits
                    loop.call_soon_threadsafe(_resolve, futures)
            with self._cv:
                self._busy = False
                self._cv.notify_all()

    def flush(self) -> None:
        """Wait until nothing is queued or being written (entries are durable once their
        ``record`` returns; this only matters for callers that did not wait)."""
        with self._cv:
            while self._q or self._busy:
                if self._thread is None or not self._thread.is_alive():
                    return
                self._cv.wait(0.1)

    def close(self) -> None:
        with self._cv:
            self._closed = True
            self._cv.notify_all()
            t = self._thread
        if t is not None and t.is_alive():
            t.join(timeout=10)
        self._thread = None

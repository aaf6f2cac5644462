"""Tamper-evident audit trail (Data Protection Act 2018 Part 3, s.62).

Every consultation, disclosure, alteration, combination, erasure, collection and denied request is
one row of ``audit_log``: who (user name and role), when, the action, the route, *what* (a
description of the request: layer, filters, pseudonymous subject; never names, dates of birth,
addresses or coordinates of a person), the stated purpose, the result count, the HTTP status, and
the client address, request id and token id.

Chain: ``hash = HMAC-SHA256(audit key, canonical(entry) + prev_hash)`` where ``canonical`` is the
JSON array ``[id, at, user_name, role, action, route, what, purpose, result_count, status, client,
request_id, token_id]`` (``at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ``); the first entry's
``prev_hash`` is 64 zeros. The audit key is held outside the store (``api.keys``: the
``WAYFINDER_AUDIT_KEY`` environment secret or ``audit.key``, mode 0600, in the key directory), so
someone who can write the database cannot re-compute the MACs of an edited row.

Anchor: after each committed batch, the id and MAC of its newest entry are appended, themselves
MACed, to an append-only file outside the database (``audit.anchor`` in the key directory, or
``WAYFINDER_AUDIT_ANCHOR``). :func:`verify` walks the chain and then checks every anchor line
against the database: removing the newest entries, or every entry, is detected because the anchor
names entries that are no longer there. (An SQLite store keeps the head in ``settings`` too.)

PostgreSQL: :func:`create_writer_role` makes a role with INSERT and SELECT on ``audit_log`` only
(no UPDATE, DELETE or TRUNCATE); with ``WAYFINDER_AUDIT_DB`` set to a URL of that role the service
writes its entries through it, and the chain lock is an advisory lock (no table privilege needed).
SQLite has no roles: whoever can write the file can delete rows, which the MACs and the anchor
detect but cannot prevent (docs/SECURITY.md).

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
import hmac
import json
import os
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
    client: str | None = None
    request_id: str | None = None
    token_id: str | None = None

    def __post_init__(self):
        if self.action not in ACTIONS:
            raise ValueError(f"unknown audit action {self.action!r}")


def _utc_text(at: dt.datetime) -> str:
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_canonical = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def entry_hash(row: dict, prev_hash: str, key: str | bytes) -> str:
    """MAC of one audit row (a mapping of the ``audit_log`` columns) chained to ``prev_hash``."""
    canonical = _canonical(
        [int(row["id"]), _utc_text(row["at"]), row.get("user_name"), row.get("role"),
         row["action"], row.get("route"), row.get("what"), row.get("purpose"),
         None if row.get("result_count") is None else int(row["result_count"]),
         None if row.get("status") is None else int(row["status"]),
         row.get("client"), row.get("request_id"), row.get("token_id")])
    k = key.encode() if isinstance(key, str) else key
    return hmac.new(k, (canonical + prev_hash).encode("utf-8"), hashlib.sha256).hexdigest()


# -- keys and the external anchor --------------------------------------------------------------

_KEYS: dict = {}


def legacy_hash(row: dict, prev_hash: str) -> str:
    """The plain SHA-256 chain of trails written before entries were MACed (issue 15): the JSON
    array of the first ten columns (no client, request id or token id) plus ``prev_hash``. Anyone
    can recompute it, so it shows only that the legacy entries were not changed *without* changing
    what follows them: the first MACed entry's MAC covers the legacy head (its ``prev_hash``)."""
    canonical = _canonical(
        [int(row["id"]), _utc_text(row["at"]), row.get("user_name"), row.get("role"),
         row["action"], row.get("route"), row.get("what"), row.get("purpose"),
         None if row.get("result_count") is None else int(row["result_count"]),
         None if row.get("status") is None else int(row["status"])])
    return hashlib.sha256((canonical + prev_hash).encode("utf-8")).hexdigest()


def _legacy_row(row: dict) -> bool:
    """A row that could predate the MAC (the columns added with it are empty)."""
    return row.get("client") is None and row.get("request_id") is None and row.get("token_id") is None


def keys_of(engine: Engine):
    """The install's keys for the store behind ``engine`` (``api.keys.keys_for``, once per URL)."""
    url = engine.url.render_as_string(hide_password=False)
    k = _KEYS.get(url)
    if k is None:
        from api.keys import keys_for
        k = _KEYS[url] = keys_for(engine)
    return k


def _anchor_mac(key: str, seq: int, mac: str) -> str:
    return hmac.new(key.encode(), f"anchor {seq} {mac}".encode(), hashlib.sha256).hexdigest()


def anchor(engine: Engine, seq: int, mac: str) -> None:
    """Append the committed head ``(seq, mac)`` to the external anchor file (O_APPEND, 0600)."""
    if seq <= 0:
        return
    keys = keys_of(engine)
    path = keys.anchor
    line = f"{seq} {mac} {_utc_text(utcnow())} {_anchor_mac(keys.audit, seq, mac)}\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode("ascii"))
        finally:
            os.close(fd)
    except OSError as exc:   # the entry is committed; say loudly that it is not anchored
        log.error("audit anchor %s not written: %s", path, exc)


def read_anchors(engine: Engine) -> tuple[dict[int, str], list[int]]:
    """The anchored heads ``{id: mac}`` of the anchor file and the line numbers of lines whose
    own MAC is wrong (forged or damaged)."""
    keys = keys_of(engine)
    out, bad = {}, []
    try:
        text = keys.anchor.read_text(encoding="ascii")
    except FileNotFoundError:
        return out, bad
    for no, line in enumerate(text.splitlines(), 1):
        parts = line.split()
        if len(parts) != 4 or not parts[0].isdigit():
            bad.append(no)
            continue
        seq, mac, _, amac = int(parts[0]), parts[1], parts[2], parts[3]
        if not hmac.compare_digest(amac, _anchor_mac(keys.audit, seq, mac)):
            bad.append(no)
            continue
        out[seq] = mac
    return out, bad


def _ensure_head(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.execute(select(api_setting.c.value).where(api_setting.c.key == HEAD_KEY)).first():
            return
        last = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(1)).mappings().first()
        value = f"{last['id']}:{last['hash']}" if last else f"0:{GENESIS}"
        with contextlib.suppress(IntegrityError):   # another process created it first
            conn.execute(api_setting.insert().values(key=HEAD_KEY, value=value))


def append_entries(engine: Engine, entries: list[AuditEntry]) -> list[int]:
    """Append ``entries`` to the chain in one transaction, then anchor the new head; returns
    their ids."""
    if not entries:
        return []
    with engine.begin() as conn:
        ids, head = _append(conn, entries)
    anchor(engine, *head)
    return ids


_COLUMNS = ("id", "at", "user_name", "role", "action", "route", "what", "purpose", "result_count",
            "status", "client", "request_id", "token_id", "prev_hash", "hash")


def append_in(conn, entries: list[AuditEntry]) -> list[int]:
    """Append ``entries`` to the chain inside the caller's transaction ``conn`` (so that a change
    and the entry recording it commit together, e.g. an erasure); returns their ids. The head
    committed before them is anchored now, theirs once the caller's transaction commits."""
    if not entries:
        return []
    ids, head = _append(conn, entries, anchor_prior=True)
    from sqlalchemy import event
    event.listen(conn, "commit", lambda c: anchor(c.engine, *head), once=True)
    return ids


def _append(conn, entries: list[AuditEntry], anchor_prior: bool = False):
    """Runs on the driver's cursor, four statements whatever the batch size, the INSERT as one
    ``executemany`` (psycopg pipelines its rows in one round trip): this is on every request's
    path, and SQLAlchemy's per-statement machinery cost more than the SQL itself. Returns the
    ids and the new head ``(id, mac)``."""
    key = keys_of(conn.engine).audit
    pg = conn.dialect.name == "postgresql"
    ph = "?" if conn.dialect.paramstyle == "qmark" else "%s"     # sqlite3 / psycopg
    at_bind = audit_log.c.at.type.bind_processor(conn.dialect) or (lambda v: v)
    head, log_ = api_setting.name, audit_log.name
    cur = conn.connection.cursor()
    try:
        # The chain lock, taken before the last entry is read (by a statement of its own, so
        # that PostgreSQL reads it after the lock is granted). PostgreSQL: an advisory lock (an
        # INSERT-only role may take it). SQLite: writing the head row takes the database write
        # lock (the driver opens the transaction at the first write, so a read before it would
        # not be isolated). PostgreSQL commits with synchronous_commit (on by default): an
        # entry acknowledged is on disk.
        if pg:
            cur.execute("SELECT pg_advisory_xact_lock(7261083, 1)")
        else:
            cur.execute(f"UPDATE {head} SET value = value WHERE key = {ph}", (HEAD_KEY,))
        cur.execute(f"SELECT id, hash FROM {log_} ORDER BY id DESC LIMIT 1")
        last = cur.fetchone()
        seq, prev = (int(last[0]), last[1]) if last else (0, GENESIS)
        if anchor_prior and last:
            anchor(conn.engine, seq, prev)
        ids: list[int] = []
        rows: list[tuple] = []
        for e in entries:
            seq += 1
            row = {"id": seq, "at": e.at, "user_name": e.user_name, "role": e.role,
                   "action": e.action, "route": e.route, "what": e.what, "purpose": e.purpose,
                   "result_count": e.result_count, "status": e.status,
                   "client": (e.client or None) and str(e.client)[:64],
                   "request_id": (e.request_id or None) and str(e.request_id)[:64],
                   "token_id": (e.token_id or None) and str(e.token_id)[:64], "prev_hash": prev}
            row["hash"] = prev = entry_hash(row, prev, key)
            row["at"] = at_bind(e.at)
            rows.append(tuple(row[c] for c in _COLUMNS))
            ids.append(seq)
        # executemany: one statement text (parsed once by the driver), rows pipelined by psycopg
        cur.executemany(f"INSERT INTO {log_} ({', '.join(_COLUMNS)}) "
                        f"VALUES ({', '.join([ph] * len(_COLUMNS))})", rows)
        if not pg:
            cur.execute(f"UPDATE {head} SET value = {ph} WHERE key = {ph}", (f"{seq}:{prev}", HEAD_KEY))
    finally:
        cur.close()
    return ids, (seq, prev)


def record_command(engine: Engine, action: str, what: str, purpose: str | None = None,
                   role: str = "cli", result_count: int | None = None) -> int:
    """Record a command-line action (collection by ingest, combination by analyse, network and
    ego, disclosure by pack) as the operator (``cli:<login>``); returns the entry id. Raises when
    it cannot be recorded: the caller does not go on (or says the record is missing)."""
    import getpass
    try:
        who = getpass.getuser()
    except (OSError, KeyError):  # no login name in a container
        who = str(os.getuid())
    create_tables(engine)
    return append_entries(engine, [AuditEntry(
        action=action, user_name=f"cli:{who}", role=role, route="cli", what=what[:2000],
        purpose=purpose, result_count=result_count, status=0)])[0]


def subject(engine: Engine, person_id) -> str:
    """The pseudonym under which an audit entry names a person (never the id)."""
    from geo.disclosure import pseudonym
    return pseudonym(keys_of(engine).pseudonym, person_id) or "?"


def create_writer_role(engine: Engine, role: str = "wayfinder_audit",
                       password: str | None = None) -> str:
    """PostgreSQL: a login role that may INSERT into (and SELECT from) ``audit_log`` and nothing
    else: no UPDATE, DELETE or TRUNCATE, no other table. Returns the URL to give the service as
    ``WAYFINDER_AUDIT_DB``. Run by the database owner."""
    import re
    if engine.dialect.name != "postgresql":
        raise ValueError("an INSERT-only audit role needs PostgreSQL (SQLite has no roles: "
                         "see docs/SECURITY.md)")
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", role):
        raise ValueError("role name: lower-case letters, digits and _")
    create_tables(engine)
    with engine.begin() as conn:
        exists = conn.exec_driver_sql("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).first()
        pw = "" if password is None else " PASSWORD %s"
        args = () if password is None else (password,)
        verb = "ALTER" if exists else "CREATE"
        conn.exec_driver_sql(f'{verb} ROLE "{role}" LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE'
                             f' NOINHERIT{pw}', args)
        db = conn.exec_driver_sql("SELECT current_database()").scalar()
        conn.exec_driver_sql(f'GRANT CONNECT ON DATABASE "{db}" TO "{role}"')
        conn.exec_driver_sql(f'GRANT USAGE ON SCHEMA public TO "{role}"')
        conn.exec_driver_sql(f'REVOKE ALL ON audit_log FROM "{role}"')
        conn.exec_driver_sql(f'REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC')
        conn.exec_driver_sql(f'GRANT INSERT, SELECT ON audit_log TO "{role}"')
    url = engine.url.set(username=role, password=password)
    return url.render_as_string(hide_password=False)


@dataclass
class VerifyResult:
    ok: bool
    entries: int
    message: str
    first_bad_id: int | None = None
    #: entries of the legacy segment (plain SHA-256 chain, written before the MAC) at the start
    legacy: int = 0


def verify(engine: Engine, batch: int = 5000) -> VerifyResult:
    """Walk the chain from the first entry checking each MAC with the audit key, then check the
    external anchor: report the first altered or missing entry.

    A trail begun before entries were MACed starts with a legacy segment: entries chained by
    plain SHA-256 (:func:`legacy_hash`), checked as such, followed by the MACed chain, whose first
    entry MACs the legacy head. Legacy entries are accepted only before the first MACed one."""
    key = keys_of(engine).audit
    prev, expected_id, n = GENESIS, 1, 0
    legacy, legacy_at, maced = 0, None, False
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
                if hmac.compare_digest(entry_hash(dict(row), prev, key), row["hash"]):
                    maced = True
                elif (not maced and _legacy_row(row)
                      and hmac.compare_digest(legacy_hash(dict(row), prev), row["hash"])):
                    legacy, legacy_at = legacy + 1, row["at"]
                else:
                    return VerifyResult(False, n, f"audit entry {rid} was altered "
                                        "(its MAC does not match its content under the audit key)"
                                        + (f"; entries 1 to {legacy} are a legacy segment (SHA-256, not MACed)"
                                           if legacy else ""), rid, legacy)
                prev = row["hash"]
                expected_id += 1
                n += 1
                last_id = rid
        macs_at = {}
        anchors, bad = read_anchors(engine)
        if anchors:
            wanted = [i for i in anchors if i <= n]
            for i in range(0, len(wanted), 1000):
                part = wanted[i:i + 1000]
                macs_at.update(conn.execute(select(audit_log.c.id, audit_log.c.hash)
                                            .where(audit_log.c.id.in_(part))).all())
    if bad:
        return VerifyResult(False, n, f"the external anchor {keys_of(engine).anchor} has "
                            f"{len(bad)} forged or damaged line(s), first line {bad[0]}", None)
    top = max(anchors) if anchors else 0
    if top > n:
        return VerifyResult(False, n, f"audit entries {n + 1} to {top} are missing (the external "
                            f"anchor records {top} entries, {n} found)", n + 1)
    for seq in sorted(anchors):
        if macs_at.get(seq) != anchors[seq]:
            return VerifyResult(False, n, f"audit entry {seq} was altered or replaced (does not "
                                "match the external anchor)", seq)
    if legacy and n == legacy:      # nothing MACed pins it: a whole trail re-hashed as legacy
        return VerifyResult(False, n, f"legacy, not MACed, {legacy} entries up to {_utc_text(legacy_at)} "
                            "and no MACed entry after them: a trail rewritten in the old format "
                            "would look the same (start the service or run any audited command so a "
                            "MACed entry follows, then verify again)", None, legacy)
    if n > legacy and not anchors:
        return VerifyResult(False, n, f"the external anchor {keys_of(engine).anchor} is missing "
                            f"or empty while the trail holds {n - legacy} MACed entries", None, legacy)
    if anchors and min(anchors) <= legacy:
        return VerifyResult(False, n, f"audit entry {min(anchors)} was altered or replaced (the "
                            "external anchor records it as MACed)", min(anchors), legacy)
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
    if legacy:
        return VerifyResult(True, n, f"audit trail intact: legacy, not MACed, {legacy} entries up to "
                            f"{_utc_text(legacy_at)} (entries 1 to {legacy}, SHA-256 chain); then "
                            f"{n - legacy} MACed entries anchored from there, newest anchored entry {top}",
                            legacy=legacy)
    return VerifyResult(True, n, f"audit trail intact: {n} entries, newest anchored entry {top}")


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
        if engine.dialect.name != "postgresql":     # PostgreSQL: the anchor alone (the
            _ensure_head(engine)                    # INSERT-only role cannot write settings)
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

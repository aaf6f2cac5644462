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

Writes go through one background writer thread that commits in batches (group commit), so the
request path never waits on the chain lock; :meth:`AuditTrail.flush` waits for the queue to drain.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import queue
import threading
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
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


def entry_hash(row: dict, prev_hash: str) -> str:
    """Hash of one audit row (a mapping of the ``audit_log`` columns) chained to ``prev_hash``."""
    canonical = json.dumps(
        [int(row["id"]), _utc_text(row["at"]), row.get("user_name"), row.get("role"),
         row["action"], row.get("route"), row.get("what"), row.get("purpose"),
         None if row.get("result_count") is None else int(row["result_count"]),
         None if row.get("status") is None else int(row["status"])],
        separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((canonical + prev_hash).encode("utf-8")).hexdigest()


def _ensure_head(engine: Engine) -> None:
    with engine.begin() as conn:
        if conn.execute(select(api_setting.c.value).where(api_setting.c.key == HEAD_KEY)).first():
            return
        last = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(1)).mappings().first()
        value = f"{last['id']}:{last['hash']}" if last else f"0:{GENESIS}"
        try:
            conn.execute(api_setting.insert().values(key=HEAD_KEY, value=value))
        except IntegrityError:  # another process created it first
            pass


def append_entries(engine: Engine, entries: list[AuditEntry]) -> list[int]:
    """Append ``entries`` to the chain in one transaction; returns their ids."""
    if not entries:
        return []
    ids: list[int] = []
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
        # the head row is the chain lock (row lock on PostgreSQL; SQLite serialises writers)
        conn.execute(select(api_setting.c.value).where(api_setting.c.key == HEAD_KEY).with_for_update())
        last = conn.execute(select(audit_log.c.id, audit_log.c.hash)
                            .order_by(audit_log.c.id.desc()).limit(1)).first()
        seq, prev = (int(last[0]), last[1]) if last else (0, GENESIS)
        rows = []
        for e in entries:
            seq += 1
            row = {"id": seq, "at": e.at, "user_name": e.user_name, "role": e.role,
                   "action": e.action, "route": e.route, "what": e.what, "purpose": e.purpose,
                   "result_count": e.result_count, "status": e.status}
            row["prev_hash"] = prev
            row["hash"] = prev = entry_hash(row, prev)
            rows.append(row)
            ids.append(seq)
        conn.execute(audit_log.insert(), rows)
        conn.execute(update(api_setting).where(api_setting.c.key == HEAD_KEY)
                     .values(value=f"{seq}:{prev}"))
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


class AuditTrail:
    """Queue + one writer thread committing batches of entries to the chain."""

    def __init__(self, engine: Engine, batch_size: int = 500):
        self.engine = engine
        self.batch_size = batch_size
        create_tables(engine)
        _ensure_head(engine)
        self._q: queue.Queue[AuditEntry | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.failures = 0

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
                self._thread.start()

    def record(self, entry: AuditEntry) -> None:
        self._start()
        self._q.put(entry)

    def record_now(self, entry: AuditEntry) -> int:
        """Write synchronously (CLI, alterations): returns the entry id."""
        self.flush()
        return append_entries(self.engine, [entry])[0]

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                self._q.task_done()
                return
            batch = [item]
            while len(batch) < self.batch_size:
                try:
                    nxt = self._q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._q.put(None)
                    self._q.task_done()
                    break
                batch.append(nxt)
            for attempt in range(5):
                try:
                    append_entries(self.engine, batch)
                    break
                except Exception:  # pragma: no cover - database trouble; retry then count
                    log.exception("audit write failed (attempt %d)", attempt + 1)
                    if attempt == 4:
                        self.failures += len(batch)
            for _ in batch:
                self._q.task_done()

    def flush(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._q.join()

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._q.put(None)
            self._thread.join(timeout=10)
        self._thread = None

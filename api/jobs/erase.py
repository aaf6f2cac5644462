"""Erasure of a child's or a person's records (DPA 2018 Part 3: erasure, logged under s.62).

``wayfinder erase --db URL (child|person) REF --reason TEXT --by NAME`` and the admin route
``POST /erasures`` (:mod:`api.service.routes.admin`) both call :func:`erase_subject`.

``REF`` is a record key (``police/C0012``), a resolved ``person_id`` (``P000042``) or the
subject's pseudonym (``C-3F2A9B10C4``). The subject is the real individual behind it: every child
and person record that identity resolution joined to it is erased, in one transaction:

- the ``children`` / ``persons`` records;
- for children, their ``episodes`` and the ``return_interviews`` of those episodes;
- ``links`` with the subject at either end;
- mentions in other records: ``intelligence.subjects`` entries (an item left with no subject is
  deleted; the subject's name is redacted from its text), ``episodes.found_with`` and
  ``return_interviews.associates`` entries of other children;
- ``identity_links`` and ``identity_overrides`` naming the records;
- ``held_rows`` (rows held by ingest) of the subject's records;
- stored analysis results that name the subject, the records or the erased episodes (they are
  derived and would re-disclose the data): removed, to be rebuilt by ``wayfinder analyse``.

References are resolved as everywhere else (DATA_CONTRACT.md, ``network.graph.resolve_ref``):
a typed or bare id first in the referring record's source, then as an id unique across sources,
then as a full name. The same transaction appends one ``erasure`` audit entry: who, the
pseudonymous subject, the reason and the counts, never the data. A later re-ingest of a drop
that still holds the records brings them back: erase at the source system too.
"""
from __future__ import annotations

import contextlib

import io
import json
from pathlib import Path
import re
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from geo.storage import schema
from geo.model import CONTRACT, Contract
from geo.storage.protocol import StoreLike

KINDS = ("child", "person")
#: Every drop table holding personal data, and how erasure covers it: read from the contract's
#: declaration (geo.model, FileSpec.erasure; tests/api/test_erase.py checks the coverage).
COVERED = {spec.table: spec.erasure.how for spec in CONTRACT.personal_files()}
#: Drop tables whose erasure is written out below (not by a declared rule): the subject's own
#: records, return interviews by episode, links by either end, intelligence subjects and text.
ERASED_BY_NAME = ("children", "persons", "return_interviews", "links", "intelligence")
#: Drop tables without personal data.
NO_PERSONAL_DATA = tuple(spec.table for spec in CONTRACT.files if not spec.personal)
REDACTED = "[erased]"


class ErasureError(ValueError):
    """The request is malformed (the store is unchanged)."""


class SubjectNotFound(ErasureError):
    """No such child or person in the store (the store is unchanged)."""


@dataclass
class ErasureReport:
    kind: str
    subject: str               # pseudonym
    counts: dict = field(default_factory=dict)
    results_removed: list = field(default_factory=list)
    audit_id: int | None = None
    exports_removed: list = field(default_factory=list)

    @property
    def total(self) -> int:
        return int(sum(self.counts.values()))

    def summary(self) -> str:
        parts = [f"{k} {v}" for k, v in self.counts.items() if v]
        text = f"erased {self.kind} {self.subject}: " + (", ".join(parts) or "nothing")
        if self.results_removed:
            text += "; analysis results removed (re-run wayfinder analyse): " + \
                    ", ".join(self.results_removed)
        if self.exports_removed:
            text += (f"; {len(self.exports_removed)} export files naming them removed (re-run "
                     "wayfinder network / analyse): " + ", ".join(Path(p).name for p in self.exports_removed))
        return text

    def to_json(self) -> dict:
        return {"kind": self.kind, "subject": self.subject, "counts": self.counts,
                "results_removed": self.results_removed, "audit_id": self.audit_id,
                "exports_removed": self.exports_removed}


def _norm(text) -> str:
    return " ".join(str(text).lower().replace("_", " ").split())


def _split(cell) -> list[str]:
    if cell is None or (isinstance(cell, float) and pd.isna(cell)):
        return []
    return [p.strip() for p in str(cell).split(";") if p.strip()]


class _Records:
    """Every child and person record with its resolved person_id, for resolving references."""

    def __init__(self, conn):
        ch = conn.execute(sa.select(schema.children.c.source, schema.children.c.child_id,
                                    schema.children.c.given_name,
                                    schema.children.c.family_name)).all()
        pe = conn.execute(sa.select(schema.persons.c.source, schema.persons.c.person_id,
                                    schema.persons.c.given_name,
                                    schema.persons.c.family_name)).all()
        links = dict(conn.execute(sa.select(schema.identity_links.c.record,
                                            schema.identity_links.c.person_id)).all())
        self.child = {(s, i): links.get(f"{s}/{i}", f"{s}/{i}") for s, i, _, _ in ch}
        self.person = {(s, i): links.get(f"{s}/{i}", f"{s}/{i}") for s, i, _, _ in pe}
        self.names: dict[str, set] = {}
        self.by_id: dict[tuple[str, str], set] = {}
        for kind, rows, table in (("child", ch, self.child), ("person", pe, self.person)):
            for s, i, g, f in rows:
                pid = table[(s, i)]
                self.by_id.setdefault((kind, i), set()).add(pid)
                name = _norm(f"{g or ''} {f or ''}")
                if name:
                    self.names.setdefault(name, set()).add(pid)

    def resolve(self, ref: str, source: str | None, expect: str = "person") -> str | None:
        """The person_id a written reference points at (None: unresolved or not a person)."""
        text = str(ref).strip()
        m = re.match(r"^\s*(child|person|premises|place|vehicle)\s*:\s*(.+)$", text, re.I)
        if m:
            kind, val = m.group(1).lower(), m.group(2).strip()
            if kind not in KINDS:
                return None
            order = (kind,)
        else:
            val = text
            order = ("child", "person") if expect == "child" else ("person", "child")
        for kind in order:
            table = self.child if kind == "child" else self.person
            if (source or "", val) in table:
                return table[(source or "", val)]
            ids = self.by_id.get((kind, val), set())
            if len(ids) == 1:
                return next(iter(ids))
        if m:
            return None
        ids = self.names.get(_norm(text), set())
        return next(iter(ids)) if len(ids) == 1 else None


def _subject(conn, recs: _Records, kind: str, ref: str, minimiser) -> tuple[str, list, list]:
    """Resolve REF to (person_id, child record keys, person record keys)."""
    ref = (ref or "").strip()
    if not ref:
        raise ErasureError("give the record key, person_id or pseudonym of the subject")
    child_pids = set(recs.child.values())
    pids = child_pids | set(recs.person.values())
    pid = None
    if ref.startswith(("C-", "A-")):
        for p in pids:
            k = "child" if p in child_pids else "person"
            if minimiser.pseudonym(p, k) == ref:
                pid = p
                break
    elif ref in pids:
        pid = ref
    else:
        src, _, rid = ref.partition("/")
        table = recs.child if kind == "child" else recs.person
        pid = table.get((src, rid))
    if pid is None:
        raise SubjectNotFound(f"no {kind} {ref!r} in the store")
    child_keys = [k for k, p in recs.child.items() if p == pid]
    person_keys = [k for k, p in recs.person.items() if p == pid]
    if kind == "child" and not child_keys:
        raise ErasureError(f"{ref!r} is not a child: use `person`")
    if kind == "person" and not person_keys:
        raise ErasureError(f"{ref!r} is a child: use `child`")
    return pid, child_keys, person_keys


def _in_pairs(table, a: str, b: str, pairs: list):
    return sa.or_(*[sa.and_(table.c[a] == x, table.c[b] == y) for x, y in pairs]) \
        if pairs else sa.false()


def _chunks(seq, n=500):
    seq = list(seq)
    for i in range(0, len(seq), n):
        yield seq[i:i + n]


def _mentions(values, terms) -> bool:
    return any(t in values for t in terms)


def _result_mentions(frame: pd.DataFrame, terms: set[str]) -> bool:
    for c in frame.columns:
        s = frame[c]
        if s.dtype != object:
            continue
        for v in s:
            if isinstance(v, str):
                if v in terms:
                    return True
            elif v is not None and hasattr(v, "__iter__") and not isinstance(v, (bytes, dict)):
                with contextlib.suppress(TypeError):   # a cell that is not a list
                    if any(isinstance(x, str) and x in terms for x in v):
                        return True
    return False


@dataclass
class _Subject:
    """The subject of one erasure, inside its transaction: who, and the records that are theirs."""
    conn: sa.Connection
    recs: _Records
    pid: str
    child_keys: list
    person_keys: list
    counts: dict = field(default_factory=dict)

    @property
    def keys(self) -> set[str]:
        return {f"{s}/{i}" for s, i in self.child_keys + self.person_keys}

    @property
    def ids(self) -> set[str]:
        return {i for _, i in self.child_keys + self.person_keys}

    @property
    def names(self) -> set[str]:
        return {_norm(x) for x in self.recs.names if self.pid in self.recs.names[x]}

    def is_subject(self, r, source, expect="person") -> bool:
        return self.recs.resolve(r, source, expect) == self.pid


def _check_request(kind: str, reason: str, by: str) -> tuple[str, str]:
    """The reason and the authoriser, normalised; ErasureError when the request is malformed."""
    if kind not in KINDS:
        raise ErasureError(f"kind must be child or person, not {kind!r}")
    reason = " ".join((reason or "").split())
    by = (by or "").strip()
    if len(reason) < 5:
        raise ErasureError("reason: state why the records are erased (5 characters or more)")
    if not by:
        raise ErasureError("by: name who authorised the erasure")
    return reason, by


def _lock_sqlite(store: StoreLike, conn) -> None:
    """On SQLite take the write lock first: the driver would open the transaction only at the
    first write, leaving the reads of the erasure outside it."""
    if store.engine.dialect.name == "sqlite":
        conn.execute(sa.update(schema.settings).where(schema.settings.c.key == "audit_head")
                     .values(value=schema.settings.c.value))


def _erase_records(sub: _Subject, contract: Contract) -> list[str]:
    """The subject's own records: episodes and their return interviews, every table whose rows
    belong to one child (child_key), the child and person records. Returns the episode keys."""
    t, conn, counts = schema, sub.conn, sub.counts
    ep_keys: list[str] = []
    for part in _chunks(f"{s}/{i}" for s, i in sub.child_keys):
        ep_keys += [f"{s}/{e}" for s, e in conn.execute(
            sa.select(t.episodes.c.source, t.episodes.c.episode_id)
            .where(t.episodes.c.child_key.in_(part))).all()]
    n = 0
    for part in _chunks(ep_keys):
        n += conn.execute(t.return_interviews.delete()
                          .where(t.return_interviews.c.episode_key.in_(part))).rowcount
    counts["return_interviews"] = n
    # every table whose rows belong to one child (child_key): episodes, CSE assessments,
    # education records (declared ``Erasure(with_child=True)``)
    tables = schema.tables_of(contract)
    for table in [tables[f.table] for f in contract.personal_files() if f.erasure.with_child]:
        n = 0
        for part in _chunks(f"{s}/{i}" for s, i in sub.child_keys):
            n += conn.execute(table.delete().where(table.c.child_key.in_(part))).rowcount
        counts[table.name] = n
    n = 0
    for part in _chunks(sub.child_keys):
        n += conn.execute(t.children.delete()
                          .where(_in_pairs(t.children, "source", "child_id", part))).rowcount
    counts["children"] = n
    n = 0
    for part in _chunks(sub.person_keys):
        n += conn.execute(t.persons.delete()
                          .where(_in_pairs(t.persons, "source", "person_id", part))).rowcount
    counts["persons"] = n
    return ep_keys


def _erase_links(sub: _Subject) -> None:
    """Links with the subject at either end."""
    t = schema
    lk = sub.conn.execute(sa.select(t.links.c.id, t.links.c.source, t.links.c.from_ref,
                                    t.links.c.to_ref)).all()
    gone = [r.id for r in lk
            if sub.is_subject(r.from_ref, r.source) or sub.is_subject(r.to_ref, r.source)]
    for part in _chunks(gone):
        sub.conn.execute(t.links.delete().where(t.links.c.id.in_(part)))
    sub.counts["links"] = len(gone)


def _scrub_list_column(sub: _Subject, terms: set[str], table, col: str, expect: str,
                       count_key: str) -> None:
    """Drop the subject from a list cell (``a;b;c``) of other records."""
    conn = sub.conn
    like = sa.or_(*[sa.func.lower(table.c[col]).like(f"%{x.lower()}%") for x in terms]) \
        if terms else sa.false()
    rows = conn.execute(sa.select(table.c.id, table.c.source, table.c[col]).where(like)).all()
    changed = 0
    for r in rows:
        items = _split(r[2])
        keep = [x for x in items if not sub.is_subject(x, r.source, expect)]
        if len(keep) != len(items):
            conn.execute(table.update().where(table.c.id == r.id)
                         .values({col: ";".join(keep) or None}))
            changed += 1
    sub.counts[count_key] = changed


def _scrub_mentions(sub: _Subject, terms: set[str], contract: Contract) -> None:
    """Mentions in list cells of other records (declared ``Erasure(mentions=...)``)."""
    tables = schema.tables_of(contract)
    for spec in contract.personal_files():
        for col, count_key in spec.erasure.mentions:
            _scrub_list_column(sub, terms, tables[spec.table], col, "person", count_key)


def _scrub_intelligence(sub: _Subject, terms: set[str], names: set[str]) -> None:
    """Intelligence: drop the subject from subjects (an item left with none is deleted); redact
    its names from the text."""
    t, conn = schema, sub.conn
    like = sa.or_(*[sa.func.lower(t.intelligence.c.subjects).like(f"%{x.lower()}%") for x in terms],
                  *[sa.func.lower(t.intelligence.c.text).like(f"%{x}%") for x in names]) \
        if terms else sa.false()
    rows = conn.execute(sa.select(t.intelligence.c.id, t.intelligence.c.source,
                                  t.intelligence.c.subjects, t.intelligence.c.text)
                        .where(like)).all()
    deleted = redacted = 0
    for r in rows:
        items = _split(r.subjects)
        keep = [x for x in items if not sub.is_subject(x, r.source, "person")]
        text = r.text
        for nm in names:
            if text:
                text = re.sub(re.escape(nm).replace(r"\ ", r"\s+"), REDACTED, text, flags=re.I)
        if items and not keep:
            conn.execute(t.intelligence.delete().where(t.intelligence.c.id == r.id))
            deleted += 1
        elif len(keep) != len(items) or text != r.text:
            conn.execute(t.intelligence.update().where(t.intelligence.c.id == r.id)
                         .values(subjects=";".join(keep) or None, text=text))
            redacted += 1
    sub.counts["intelligence"] = deleted
    sub.counts["intelligence_redacted"] = redacted


def _erase_identity(sub: _Subject) -> None:
    """Identity links and analyst overrides naming the records."""
    t = schema
    n = m = 0
    for part in _chunks(sub.keys):
        n += sub.conn.execute(t.identity_links.delete()
                              .where(t.identity_links.c.record.in_(part))).rowcount
        m += sub.conn.execute(t.identity_overrides.delete().where(
            t.identity_overrides.c.record_a.in_(part) |
            t.identity_overrides.c.record_b.in_(part))).rowcount
    sub.counts["identity_links"] = n
    sub.counts["identity_overrides"] = m


def _erase_held_rows(sub: _Subject) -> None:
    """Rows held by ingest that carry the records."""
    t, ids = schema, sub.ids
    id_col = {"child": "child_id", "person": "person_id"}
    held = sub.conn.execute(sa.select(t.held_rows.c.id, t.held_rows.c.file, t.held_rows.c.raw)
                            .where(sa.or_(*[t.held_rows.c.raw.like(f"%{x}%") for x in ids]))
                            ).all() if ids else []
    gone = []
    for r in held:
        try:
            raw = json.loads(r.raw)
        except (TypeError, ValueError):
            continue
        if not isinstance(raw, dict):
            continue
        stem = str(r.file).rsplit("/", 1)[-1].lower()
        col = id_col["person"] if stem.startswith("persons") or \
            ("person_id" in raw and "child_id" not in raw) else id_col["child"]
        own = sub.child_keys if col == "child_id" else sub.person_keys
        val = str(raw.get(col, "")).strip()
        src = str(raw.get("source", "")).strip()
        if any(val == i and (not src or src == s) for s, i in own):
            gone.append(r.id)
    for part in _chunks(gone):
        sub.conn.execute(t.held_rows.delete().where(t.held_rows.c.id.in_(part)))
    sub.counts["held_rows"] = len(gone)


def _remove_results(sub: _Subject, ep_keys: list[str]) -> list[str]:
    """Derived results naming the subject, the records or the erased episodes; their names."""
    t, conn = schema, sub.conn
    rterms = {sub.pid} | sub.keys | set(ep_keys)
    removed = []
    for name in list(conn.execute(sa.select(t.results.c.name)).scalars()):
        payload = conn.execute(sa.select(t.results.c.payload)
                               .where(t.results.c.name == name)).scalar()
        try:
            frame = pd.read_parquet(io.BytesIO(payload))
        except (ValueError, TypeError, OSError):   # not a parquet payload: nothing to read
            continue
        if _result_mentions(frame, rterms):
            conn.execute(t.results.delete().where(t.results.c.name == name))
            removed.append(name)
    return removed


def erase_subject(store: StoreLike, kind: str, ref: str, reason: str, by: str, role: str,
                  minimiser, route: str = "wayfinder erase",
                  contract: Contract = CONTRACT) -> ErasureReport:
    """Erase a child's or person's records in one transaction with its audit entry.

    ``minimiser`` gives the pseudonym recorded in the audit entry (and resolves pseudonyms).
    The tables covered by rule (deleted with the child, mentions scrubbed) are read from the
    ``contract``'s declaration.
    Raises :class:`ErasureError` when the subject is unknown or the request is malformed.
    """
    from api.jobs.audit import AuditEntry, _ensure_head, append_in
    from api.jobs.exports import export_dirs, remove_naming
    from api.tables import create_tables
    reason, by = _check_request(kind, reason, by)
    create_tables(store.engine)
    _ensure_head(store.engine)
    with store.engine.begin() as conn:
        _lock_sqlite(store, conn)
        recs = _Records(conn)
        pid, child_keys, person_keys = _subject(conn, recs, kind, ref, minimiser)
        sub = _Subject(conn, recs, pid, child_keys, person_keys)
        pkind = "child" if child_keys else "person"
        subject = minimiser.pseudonym(pid, pkind)
        ep_keys = _erase_records(sub, contract)
        _erase_links(sub)
        names = sub.names
        terms = sub.ids | names
        _scrub_mentions(sub, terms, contract)
        _scrub_intelligence(sub, terms, names)
        _erase_identity(sub)
        _erase_held_rows(sub)
        removed = _remove_results(sub, ep_keys)
        # pre-generalised tiles count the subject's points: gone until rebuilt from what is left
        # (the service does at its next layer build, `wayfinder run` in its tiles step)
        conn.execute(schema.tileset_tiles.delete())
        conn.execute(schema.tileset_cells.delete())
        conn.execute(schema.tilesets.delete())
        report = ErasureReport(kind=pkind, subject=subject, counts=sub.counts,
                               results_removed=removed)
        # exports on disk (network, analyses) naming the subject go too (api.jobs.exports)
        report.exports_removed = remove_naming(export_dirs(conn), {pid} | sub.keys | names)
        report.audit_id = append_in(conn, [AuditEntry(
            action="erasure", user_name=by[:120], role=role, route=route,
            what=report.summary()[:2000], purpose=reason[:300], result_count=report.total,
            status=200)])[0]
    return report

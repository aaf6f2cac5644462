"""Resolved persons for the measures: frames with ``person_id`` from identity links covering
every child and person record, resolved in memory (``network.identity``, with the analysts'
overrides) when the stored links do not, saying so on stderr; ``wayfinder identity resolve`` or
``wayfinder network`` stores them (the identity step, api.jobs.pipeline)."""
from __future__ import annotations

import sys

import pandas as pd

from geo.storage.protocol import StoreLike


def load_resolved(store: StoreLike, names, missing_ok=()) -> dict:
    """Frames ``names`` of the store with ``person_id`` from identity links covering every child
    and person record (resolved in memory when the stored links do not)."""
    wanted = list(dict.fromkeys(["children", "persons", *names]))
    frames = store.frames(wanted, missing_ok=set(missing_ok) | {"persons"})
    resolve_in_memory(store, frames)
    return frames


def resolve_in_memory(store: StoreLike, frames: dict) -> bool:
    """When the stored identity links do not cover every child and person record of ``frames``
    (identity resolution not run since the last ingest), resolve identities in memory (with the
    analysts' overrides) and set ``person_id`` on every frame; True when it did."""
    from geo.storage.store import _rows_of
    records = store.table("identity_links", ("record",))["record"]
    ch, pe = frames.get("children"), frames.get("persons")
    keys = [f[k] for f, k in ((ch, "child_key"), (pe, "person_key")) if f is not None]
    keys = pd.concat(keys, ignore_index=True) if keys else pd.Series(dtype=object)
    # Arrow's hash lookup of half a million record keys, not a Python set of each side
    if not len(keys) or (_rows_of(keys, records) >= 0).all():
        return False
    from api.jobs.network import apply_identities
    from network.identity import person_id_map, records_from_frames, resolve_identities
    print("wayfinder: identity links do not cover every record: resolving identities "
          "in memory (run `wayfinder identity resolve` to store them)", file=sys.stderr)
    identities = resolve_identities(records_from_frames(ch, pe), store.table("identity_overrides"))
    pmap = person_id_map(identities)
    apply_identities(frames, pmap)
    for name in ("education", "cse_assessments"):
        f = frames.get(name)
        if f is not None and len(f) and "child_key" in f:
            f["person_id"] = f["child_key"].map(pmap).fillna(f["person_id"])
    return True


def save_identities(store: StoreLike, identities: pd.DataFrame) -> None:
    """Replace the ``identity_links`` table with this resolution."""
    from geo.storage import schema
    cols = [c for c in ("record", "kind", "person_id", "match_weight", "evidence")
            if c in identities.columns]
    rows = identities[cols].assign(match_weight=identities["match_weight"].astype(float))
    with store.engine.begin() as conn:
        conn.execute(schema.identity_links.delete())
        store.insert_frame(conn, schema.identity_links, rows)   # the bulk path (COPY on PostGIS)


def identity_records(store: StoreLike) -> pd.DataFrame:
    """The child and person records identity resolution links."""
    from network.identity import records_from_frames
    # one call: the two frames share the geocodes and identity links tables, read once
    frames = store.frames(["children", "persons"], missing_ok=["persons"])   # None: no persons loaded
    return records_from_frames(frames["children"], frames["persons"])


def resolve_and_save(store: StoreLike, threshold: float, seed: int) -> pd.DataFrame:
    """Resolve identities (with the analysts' overrides) and store them in identity_links."""
    from network.identity import resolve_identities
    identities = resolve_identities(identity_records(store), store.table("identity_overrides"),
                                    threshold=threshold, seed=seed)
    save_identities(store, identities)
    return identities


def record_identity_change(store: StoreLike, user: str, what: str, route: str) -> None:
    """Log a merge or split as a ``combination`` event (api.jobs.audit)."""
    from api.jobs.audit import AuditEntry, append_entries
    append_entries(store.engine, [AuditEntry(action="combination", user_name=user, role="analyst",
                                             route=route, what=what)])


def add_override(store: StoreLike, record_a: str, record_b: str | None, action: str, by: str,
                  reason: str | None) -> None:
    """An analyst's link or unlink of records, reused by every later resolution."""
    from geo.storage import schema
    from geo.storage.store import utcnow
    with store.engine.begin() as conn:
        conn.execute(schema.identity_overrides.insert(), [{
            "record_a": record_a, "record_b": record_b, "action": action, "by_user": by,
            "at": utcnow(), "reason": reason}])

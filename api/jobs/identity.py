"""Resolved persons for the measures: frames with ``person_id`` from identity links covering
every child and person record, resolved in memory (``network.identity``, with the analysts'
overrides) when the stored links do not, saying so on stderr; ``wayfinder identity resolve`` or
``wayfinder network`` stores them (the identity step, api.jobs.pipeline)."""
from __future__ import annotations

import sys

from geo.store_protocol import StoreLike


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
    links = store.table("identity_links")
    ch, pe = frames.get("children"), frames.get("persons")
    keys = set(ch["child_key"]) if ch is not None else set()
    if pe is not None:
        keys |= set(pe["person_key"])
    if not keys or keys <= set(links["record"]):
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

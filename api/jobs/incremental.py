"""Incremental runs (``wayfinder run --incremental``, issue #19 item 3): each step of the
pipeline, and each analysis inside the analyses step, declares the store tables, stored results
and parameters it reads; the run keeps a signature of those inputs from the step's last
successful run, and ``--incremental`` skips a step (or analysis) whose inputs are unchanged,
keeping its stored results and files.

Signatures
----------
Per table, read with one aggregate query (no rows are read):

* drop tables: row count, largest ``id`` (new rows) and largest ``run_id`` (a re-ingest that
  changes a row's content writes it with the new run's id, geo/storage/ingest.py ``_upsert``);
* ``geocodes``: count, largest ``id``, latest ``updated_at`` (a re-geocode or an analyst's
  override stamps it) and the override count;
* ``identity_overrides``: count and largest id; reference tables (postcodes, areas, addresses,
  MASE areas): count;
* ``identity_links``: a content hash of ``record, person_id, match_weight`` (re-resolution can
  move records between persons without changing the count);
* a stored result: the SHA-1 of its payload;

and for every signature the number of erasures in the audit trail (an erasure scrubs list
columns in place, which changes neither counts nor ids). The signature is the SHA-1 of these
with the step's parameters and output folder.

The frames a step reads map to the tables they are built from (``FRAME_TABLES``, following
geo/storage/store.py): a frame with ``person_id`` reads ``identity_links``, one with geocoded
columns reads ``geocodes``.

What reruns
-----------
A step whose signature changed reruns in full, except where it does real delta work:
``geocode`` geocodes only texts not yet geocoded (always so), and the co-episode pairs of
``groups`` are recomputed only for episodes that are new or changed (``co_episode_pairs_delta``).
Identity resolution reruns in full when children or persons change: its Fellegi-Sunter model
is global (u from a seeded sample of all record pairs, m by EM over all candidate pairs, value
frequencies for the term-frequency adjustment), so a new record can change every match weight
and no update of the touched clusters alone reproduces the full run's weights. The graph and
its measures (sampled betweenness, Louvain) and every permutation test are global too and rerun
in full when their inputs change ("but only those", issue #19).
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from geo.storage import schema
from geo.storage.protocol import StoreLike

MEMORY_KEY = "pipeline_inputs"

#: the store tables each frame of docs/FRAMES.md is built from (geo/storage/store.py)
FRAME_TABLES: dict[str, tuple[str, ...]] = {
    "children": ("children", "geocodes", "identity_links"),
    "persons": ("persons", "geocodes", "identity_links"),
    "episodes": ("episodes", "geocodes", "identity_links"),
    "return_interviews": ("return_interviews", "episodes", "identity_links"),
    "place_events": ("episodes", "return_interviews", "geocodes", "identity_links"),
    "premises": ("premises", "areas"),
    "places": ("places",),
    "intelligence": ("intelligence", "geocodes"),
    "links": ("links",),
    "cse_assessments": ("cse_assessments", "identity_links"),
    "crimes": ("crimes", "geocodes"),
    "education": ("education", "identity_links"),
    "populations": ("populations",),
    "areas": ("areas",),
    "postcodes": ("postcodes",),
    "geocodes": ("geocodes",),
}

REFERENCE_TABLES = ("postcodes", "areas", "addresses", "mase_areas")


@dataclass(frozen=True)
class Inputs:
    """What a step or analysis reads: frames (mapped to tables), further tables, stored results
    and the names of the run parameters that change its output."""
    frames: tuple[str, ...] = ()
    tables: tuple[str, ...] = ()
    results: tuple[str, ...] = ()
    params: tuple[str, ...] = ()

    def all_tables(self) -> tuple[str, ...]:
        names = set(self.tables)
        for f in self.frames:
            names.update(FRAME_TABLES[f])
        return tuple(sorted(names))


def table_signature(conn, name: str):
    """A cheap summary of one table that changes whenever its content can have changed."""
    t = schema.metadata.tables[name]
    if name in schema.DROP_TABLES:
        n, mx, run = conn.execute(sa.select(sa.func.count(), sa.func.max(t.c.id),
                                            sa.func.max(t.c.run_id))).one()
        return [int(n), mx, run]
    if name == "geocodes":
        n, mx, last, ov = conn.execute(sa.select(
            sa.func.count(), sa.func.max(t.c.id), sa.func.max(t.c.updated_at),
            sa.func.sum(sa.case((t.c.override.is_(True), 1), else_=0)))).one()
        return [int(n), mx, str(last), int(ov or 0)]
    if name == "identity_overrides":
        return [int(v or 0) for v in conn.execute(sa.select(sa.func.count(),
                                                            sa.func.max(t.c.id))).one()]
    if name == "identity_links":
        df = pd.read_sql(sa.select(t.c.record, t.c.person_id, t.c.match_weight)
                         .order_by(t.c.record), conn)
        return [len(df), frame_hash(df)]
    return int(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar())


def frame_hash(df: pd.DataFrame) -> str:
    """SHA-1 of a frame's content (row order included), via pandas' vectorised row hashes."""
    h = pd.util.hash_pandas_object(df, index=False).to_numpy()
    return hashlib.sha1(np.ascontiguousarray(h).tobytes()).hexdigest()


def result_signature(conn, name: str) -> str | None:
    payload = conn.execute(sa.select(schema.results.c.payload)
                           .where(schema.results.c.name == name)).scalar()
    return None if payload is None else hashlib.sha1(payload).hexdigest()


def erasures(conn) -> int:
    a = schema.audit_log
    return int(conn.execute(sa.select(sa.func.count()).where(a.c.action == "erasure")).scalar())


def signature(store: StoreLike, inputs: Inputs, params: dict, memo: dict | None = None) -> str:
    """The signature of `inputs` as the store holds them now, with the parameters named.
    ``memo`` keeps table signatures between calls that see the same store state."""
    memo = {} if memo is None else memo
    doc = {"params": {k: params.get(k) for k in sorted(inputs.params)}}
    with store.engine.connect() as conn:
        for n in inputs.all_tables():
            if ("table", n) not in memo:
                memo[("table", n)] = table_signature(conn, n)
        doc["tables"] = {n: memo[("table", n)] for n in inputs.all_tables()}
        doc["results"] = {n: result_signature(conn, n) for n in sorted(inputs.results)}
        doc["erasures"] = erasures(conn)
    return hashlib.sha1(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------
# the memory of the last successful run of each step (settings table)
# ---------------------------------------------------------------------------------------------
class Memory:
    """Per step and per analysis: the signature of its inputs at its last successful run and
    that run's summary (kept in the ``settings`` table under ``pipeline_inputs``)."""

    def __init__(self, store: StoreLike):
        self.store = store
        with store.engine.connect() as conn:
            raw = conn.execute(sa.select(schema.settings.c.value)
                               .where(schema.settings.c.key == MEMORY_KEY)).scalar()
        self.doc = json.loads(raw) if raw else {}
        self._deferred: list | None = None

    def defer(self, into: list) -> None:
        """Keep later :meth:`put` calls in ``into`` instead of writing them (a step run in a
        second process, ``api.jobs.beside``: the parent writes them, so no write is lost)."""
        self._deferred = into

    def get(self, kind: str, name: str) -> dict | None:
        return self.doc.get(kind, {}).get(name)

    def unchanged(self, kind: str, name: str, sig: str) -> bool:
        entry = self.get(kind, name)
        return entry is not None and entry.get("signature") == sig

    def put(self, kind: str, name: str, sig: str, summary: dict | None = None, **extra) -> None:
        self.doc.setdefault(kind, {})[name] = {"signature": sig, "summary": summary or {}, **extra}
        if self._deferred is not None:
            self._deferred.append((kind, name, sig, summary, extra))
            return
        with self.store.engine.begin() as conn:
            conn.execute(schema.settings.delete().where(schema.settings.c.key == MEMORY_KEY))
            conn.execute(schema.settings.insert(), {"key": MEMORY_KEY,
                                                    "value": json.dumps(self.doc, default=str)})


# ---------------------------------------------------------------------------------------------
# checking: two runs' outputs
# ---------------------------------------------------------------------------------------------
#: members of pipeline_run.json that differ between runs however equal their outputs
RUN_MEMBERS = ("fingerprint", "params", "steps")


def stored_state(store: StoreLike) -> dict:
    """What a run leaves in the store: every stored result (payload, parameters, rows), the
    identity links, the geocodes (less ids and times), the pre-generalised tile cells and the
    tiles made from them in advance."""
    with store.engine.connect() as conn:
        res = {r.name: (hashlib.sha1(bytes(r.payload)).hexdigest(), r.params, r.rows)
               for r in conn.execute(sa.select(schema.results.c.name, schema.results.c.payload,
                                               schema.results.c.params, schema.results.c.rows))}
    return {"results": res,
            "identity_links": store.table("identity_links").sort_values("record"),
            "geocodes": store.table("geocodes").drop(columns=["id", "updated_at"])
            .sort_values("text"),
            "tileset_cells": store.table("tileset_cells").sort_values(
                ["layer", "view", "z", "tx", "ty"]),
            # the tiles made in advance, by their MVT bytes (the gzip header holds a time)
            "tileset_tiles": _tiles(store)}


def _tiles(store: StoreLike) -> pd.DataFrame:
    t = schema.tileset_tiles
    keys = [t.c.layer, t.c.view, t.c.z, t.c.x, t.c.y, t.c.extent, t.c.buffer]
    df = store.read_sql(sa.select(*keys, t.c.mvt).order_by(*keys))
    df["mvt"] = [hashlib.sha1(bytes(b)).hexdigest() for b in df["mvt"]]
    return df


def output_differences(out_a, out_b, store_a: StoreLike, store_b: StoreLike) -> list[str]:
    """Every way two runs' outputs differ: files of the output folders (byte for byte;
    pipeline_run.json less its timings and step records) and what they stored. Empty when the
    same."""
    from pathlib import Path
    out_a, out_b = Path(out_a), Path(out_b)
    diffs = []
    names_a = sorted(p.name for p in out_a.iterdir())
    names_b = sorted(p.name for p in out_b.iterdir())
    if names_a != names_b:
        diffs.append(f"files: {sorted(set(names_a) ^ set(names_b))}")
    for name in sorted(set(names_a) & set(names_b)):
        a, b = (out_a / name).read_bytes(), (out_b / name).read_bytes()
        if name == "pipeline_run.json":
            a, b = ({k: v for k, v in json.loads(x).items() if k not in RUN_MEMBERS}
                    for x in (a, b))
        if a != b:
            diffs.append(f"file {name}")
    sa_, sb = stored_state(store_a), stored_state(store_b)
    for name in sorted(set(sa_["results"]) | set(sb["results"])):
        if sa_["results"].get(name) != sb["results"].get(name):
            diffs.append(f"stored result {name}")
    for key in ("identity_links", "geocodes", "tileset_cells", "tileset_tiles"):
        a, b = sa_[key].reset_index(drop=True), sb[key].reset_index(drop=True)
        if not a.equals(b):
            diffs.append(f"table {key}")
    return diffs

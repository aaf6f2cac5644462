"""Victims and suspects of crimes and non-crimes, resolved to persons.

``crimes.csv`` writes its victims and suspects as ``;`` lists of typed references
(``child:ID``, ``person:ID``) or names (shared/DATA_CONTRACT.md). They are resolved here exactly
as every other reference of the graph (``network.graph.resolve_ref``: the row's own source first,
then an id unique across sources, then a full name), so a victim recorded by the police as
``child:P123`` and by children's services as ``child:CF9`` is one child once identity resolution
has linked the two records. Victims are tried as children first, suspects as persons first.
"""
from __future__ import annotations

import pandas as pd

from network.graph import build_ref_index, resolve_refs

ROLES = {"victim": ("victims", "child"), "suspect": ("suspects", "person")}
COLUMNS = ["crime_key", "role", "ref", "node", "node_kind"]


def crime_parties(crimes: pd.DataFrame, children: pd.DataFrame | None,
                  persons: pd.DataFrame | None) -> pd.DataFrame:
    """One row per (crime, role, resolved party): ``crime_key``, ``role`` (victim / suspect),
    ``ref`` (as written), ``node`` (person_id, or ``child:ID`` / ``person:ID`` / ``name:TEXT``
    when no record matches) and ``node_kind`` (child / person). Junk (``not known``) is dropped."""
    if crimes is None or len(crimes) == 0:
        return pd.DataFrame(columns=COLUMNS)
    idx = build_ref_index(children, persons)
    parts = []
    for role, (col, expect) in ROLES.items():
        long = crimes[["crime_key", "source", col]].explode(col).dropna(subset=[col])
        long = long.rename(columns={col: "ref"})
        long = long[long["ref"].astype(str).str.strip() != ""]
        res = resolve_refs(long.reset_index(drop=True), idx, expect=expect)
        if len(res):
            parts.append(res.assign(role=role))
    if not parts:
        return pd.DataFrame(columns=COLUMNS)
    out = pd.concat(parts, ignore_index=True)
    out = out[out["node_kind"].isin(("child", "person"))]
    return out[COLUMNS].drop_duplicates(["crime_key", "role", "node"]).reset_index(drop=True)


CSE_FRAMES = ("cse_assessments", "crimes", "episodes", "children", "persons")


def cse_inputs(frames: dict) -> dict:
    """The inputs of ``geo.meetings.cse.cse_scorecard`` from loaded frames (``Store.frames`` or the API's
    layer cache) plus ``parties``; a frame that could not be loaded stops with the reason
    (``persons`` may be missing)."""
    for name in CSE_FRAMES[:4]:
        if frames.get(name) is None:
            raise LookupError(f"the store cannot give the {name} frame: run wayfinder ingest")
    out = {name: frames.get(name) for name in CSE_FRAMES}
    out["parties"] = crime_parties(out["crimes"], out["children"], out["persons"])
    return out


def with_identities(frames: dict, identity_links: pd.DataFrame | None,
                    overrides: pd.DataFrame | None = None, seed: int = 0) -> tuple[dict, str]:
    """The frames with ``person_id`` resolved. When the store holds identity links (``wayfinder
    identity resolve`` / ``network`` / ``run``) the frames already carry them; otherwise records
    are resolved here, in memory, with the same method and defaults (network.identity), so a
    child recorded by two sources is one child either way. Returns (frames, how)."""
    if identity_links is not None and len(identity_links):
        return frames, "stored"
    children, persons = frames.get("children"), frames.get("persons")
    if children is None or len(children) == 0:
        return frames, "none needed"
    from network.identity import records_from_frames, resolve_identities
    ids = resolve_identities(records_from_frames(children, persons), overrides, seed=seed)
    pid = dict(zip(ids["record"], ids["person_id"]))
    out = dict(frames)
    for name, key in (("children", "child_key"), ("persons", "person_key"), ("episodes", "child_key"),
                      ("cse_assessments", "child_key")):
        f = frames.get(name)
        if f is not None and len(f) and key in f:
            f = f.copy()
            f["person_id"] = f[key].map(pid).fillna(f[key])
            out[name] = f
    return out, "resolved in memory for this scorecard (wayfinder identity resolve stores it)"

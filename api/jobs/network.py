"""The network job: the frames and identities of the identity, graph and groups steps, and
``wayfinder network`` as a run of those steps of the pipeline (api.jobs.pipeline).

``wayfinder network --db URL --out DIR [--seed N]`` resolves identities (``network.identity``),
stores them (table ``identity_links``), builds the person-place graph, finds co-missing groups,
ranks bridging persons, computes measures, writes the contract files into DIR and saves the
results in the store (``co_missing_groups``, ``bridging_persons``, ``network_measures``,
``places_linking_children``, ``network_components``, ``network_adult_links``) for the API.
Betweenness is exact up to 2,000 nodes, else estimated from seeded pivots, capped by graph size
(``network.measures.centrality``); the choice is stored in ``network_measures.measures_method``
and printed in the summary line (``betweenness=exact`` / ``betweenness=sampled:k=N``).

``wayfinder ego REF --depth 2 [--from DATE] [--to DATE] --db URL [--out FILE]`` writes the ego
network of a child or person (person_id or record key ``SOURCE/ID``) as Cytoscape.js JSON
(stdout or FILE; ``.graphml`` / ``.gexf`` by extension, ``.csv`` = i2 links).
"""
from __future__ import annotations

import json
from pathlib import Path
import pandas as pd

from geo.storage.protocol import StoreLike

FRAMES = ("children", "persons", "episodes", "return_interviews", "place_events", "premises",
          "intelligence", "links")
#: the columns of the larger frames the person-place graph reads (network.graph; the place
#: events' from the episodes and return interviews): their tables' other columns (categories,
#: risk grades, factors, school and other identifiers) are not read for the graph
GRAPH_COLUMNS = {
    "episodes": ("source", "episode_id", "child_id", "child_key", "reported_at", "returned_at",
                 "last_seen_text", "found_text", "found_with",
                 *(f"last_seen_{c}" for c in ("e", "n", "precision", "ward", "lsoa")),
                 *(f"found_{c}" for c in ("e", "n", "precision", "confidence", "ward", "lsoa"))),
    "return_interviews": ("source", "episode_key", "notified_at", "held_at", "associates",
                          "places"),
    "children": ("source", "child_id", "given_name", "family_name", "dob", "sex", "care_status",
                 "cse_risk", "placement_postcode", "placement_e", "placement_n",
                 "placement_ward"),
}


def load_frames(store: StoreLike, resolve: bool = True) -> tuple[dict, pd.DataFrame | None]:
    """The frames the network analyses need, with ``person_id`` set from a fresh identity
    resolution when ``resolve`` (returned as the second value), else as the store holds it
    (then only the columns the graph reads, :data:`GRAPH_COLUMNS`; identity reads more)."""
    # a frame the store cannot build (empty table, no geocodes) is None, but for the two the
    # network cannot do without
    frames = store.frames(FRAMES, missing_ok=[n for n in FRAMES if n not in ("children", "episodes")],
                          columns=None if resolve else GRAPH_COLUMNS)
    identities = None
    if resolve:
        from network.identity import person_id_map, records_from_frames, resolve_identities
        records = records_from_frames(frames["children"], frames["persons"])
        identities = resolve_identities(records, store.table("identity_overrides"))
        apply_identities(frames, person_id_map(identities))
    return frames, identities


def apply_identities(frames: dict, pmap: dict) -> None:
    """Set ``person_id`` on every frame from a ``{record: person_id}`` map (in place)."""
    ch, pe, ep = frames.get("children"), frames.get("persons"), frames.get("episodes")
    if ch is not None and len(ch):
        ch["person_id"] = ch["child_key"].map(pmap).fillna(ch["person_id"])
    if pe is not None and len(pe):
        pe["person_id"] = pe["person_key"].map(pmap).fillna(pe["person_id"])
    if ep is not None and len(ep):
        ep["person_id"] = ep["child_key"].map(pmap).fillna(ep["person_id"])
        by_ep = pd.Series(ep["person_id"].to_numpy(), index=ep["episode_key"].to_numpy())
        by_ep = by_ep[~by_ep.index.duplicated()]
        for name in ("return_interviews", "place_events"):
            f = frames.get(name)
            if f is not None and len(f):
                f["person_id"] = f["episode_key"].map(by_ep).fillna(f["person_id"])


def betweenness_method(measures: pd.DataFrame) -> str:
    """``exact``, ``sampled:k=N`` or ``sampled:k=N(capped)`` from the ``measures_method`` of
    ``network.measures.centrality`` (the full wording is stored with ``network_measures``)."""
    if len(measures) == 0 or "measures_method" not in measures.columns:
        return "none"
    text = str(measures["measures_method"].iloc[0])
    if text.startswith("betweenness exact"):
        return "exact"
    import re
    k = re.search(r"k=(\d+)", text)
    return f"sampled:k={k.group(1) if k else '?'}" + ("(capped)" if "capped" in text else "")

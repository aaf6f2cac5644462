"""The person-place graph.

Built from the frames of ``docs/FRAMES.md`` as node and edge tables (:class:`PersonPlaceGraph`,
:func:`person_place_tables`): what the pipeline's measures and exports read at national scale
(2.6M edges), with no Python object per edge. :func:`person_place_graph` gives the same graph as
a ``networkx.MultiDiGraph`` for small views (ego networks, the API, the packs); the measures
and exports accept either (:func:`node_items`, :func:`node_attr`, :func:`edge_table`).

Nodes (attribute ``kind``)
    ``child``     a resolved child, node id = ``person_id``
    ``person``    a resolved adult or young person who is not among the children, node id =
                  ``person_id``; names and descriptions that match no record become
                  ``name:TEXT`` nodes with ``unresolved=True``
    ``place``     geocoded locations merged by proximity within a precision class
                  (``place:E:N:PRECISION``); texts that were never geocoded become
                  ``place:TEXT`` nodes without coordinates
    ``premises``  licensed premises, ``premises:ID``; a point the geocoder matched to a
                  premises (``match_id`` ``premises:ID`` in ``place_events``) is that premises;
                  an unmatched premises- or address-precision place within ``premises_radius``
                  metres of a premises (or named by its trading name) is that premises
    ``vehicle``   ``vehicle:REG`` (upper case, no spaces)

Edges (key = relation, or ``relation/intel`` for intelligence) carry
    ``relation``      found_at, last_seen_at, went_to, associate, found_with, seen_with,
                      frequents, resides_at, works_at, drives_for, transported_by,
                      mentioned_with, other
    ``first``/``last``  ISO 8601 UTC of the earliest / latest date, or None
    ``intelligence``  True when every record behind the edge is intelligence: such an edge
                      is a graded allegation, never a fact; exports mark it so
    ``count``         number of records
    ``restricted``    True when the edge reveals restricted data (a child's home/placement)
    ``eid``           the edge's row in the graph's provenance columns

and four provenance lists, read with :func:`edge_list` (one edge) or
:func:`joined_edge_lists` (many): ``sources`` (record keys the edge was read from: episode,
RHI, link, intel), ``dates`` (ISO 8601 UTC date-times, may be empty), ``gradings`` (3x5x2 codes
such as ``2B P`` where the record carried one) and ``texts`` (up to 5 written place texts).
They are kept as pyarrow list columns in ``G.graph["edge_lists"]``, indexed by ``eid``: at
national scale (2.6M edges) Python lists of Python strings on every edge cost gigabytes.

References are resolved as DATA_CONTRACT.md says: typed ``child:ID`` / ``person:ID`` /
``premises:ID`` / ``place:TEXT`` / ``vehicle:REG``; a bare value is tried as an id of the
expected kind, then as a full name, then kept as an unresolved name.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

__all__ = [
    "RELATIONS",
    "RefIndex",
    "build_ref_index",
    "resolve_refs",
    "merge_places",
    "person_place_graph",
    "person_place_tables",
    "person_place_tables_of",
    "PersonPlaceGraph",
    "LIST_ATTRS",
    "edge_list",
    "joined_edge_lists",
    "edge_table",
    "node_items",
    "node_ids",
    "node_attr",
]

RELATIONS = (
    "found_at", "last_seen_at", "went_to", "associate", "found_with", "seen_with",
    "frequents", "resides_at", "works_at", "drives_for", "transported_by",
    "mentioned_with", "other",
)
PERSON_KINDS = ("child", "person")
_JUNK = {"", "not known", "unknown", "n/a", "na", "none", "nil", "no", "unk", "not stated",
         "refused", "would not say", "nan"}

# merge radius (metres) and class per precision: points of one class within the radius are one
# place (single linkage). Coarse points are never merged into fine ones.
PRECISION_CLASS = {"premises": "fine", "address": "fine", "postcode": "postcode",
                   "street": "street", "area": "area"}
MERGE_RADIUS = {"fine": 30.0, "postcode": 30.0, "street": 100.0, "area": 1.0}


def _norm(text) -> str:
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    return re.sub(r"\s+", " ", str(text)).strip().lower()


def _norm_reg(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", str(text)).upper()


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return [v for v in value if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if isinstance(value, float) and np.isnan(value):
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(";") if v.strip()]
    return [value]


def _iso(ts) -> str | None:
    if ts is None or ts is pd.NaT:
        return None
    try:
        t = pd.Timestamp(ts)
    except (TypeError, ValueError):
        return None
    if pd.isna(t):
        return None
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    return t.tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _col(frame: pd.DataFrame | None, name: str, default=None) -> pd.Series:
    if frame is None:
        return pd.Series(dtype=object)
    if name in frame.columns:
        return frame[name]
    return pd.Series([default] * len(frame), index=frame.index, dtype=object)


def _empty(frame) -> bool:
    return frame is None or len(frame) == 0


def _is_arrow_str(dtype) -> bool:
    """Whether ``dtype`` is pandas' default ``str`` dtype (Arrow-backed, NaN for missing): what
    a frame infers from an object array of strings."""
    return (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"
            and dtype.na_value is np.nan)


def _objects(values) -> np.ndarray:
    """Object ndarray of a Series (None for missing strings). Arrow-backed strings are
    converted by pyarrow in C; ``Series.to_numpy(dtype=object)`` would iterate them in Python."""
    if isinstance(values, pd.Series):
        arr = values.array
        if hasattr(arr, "__arrow_array__"):
            import pyarrow as pa
            out = pa.array(arr).to_numpy(zero_copy_only=False)
            return out if out.dtype == object else out.astype(object)
        return values.to_numpy(dtype=object)
    return np.asarray(values, dtype=object)


# --------------------------------------------------------------------------- references
@dataclass
class RefIndex:
    """Lookup tables that turn written references into node ids.

    ``child_ids`` / ``person_ids`` map ``(source, id)`` and ``id`` to person_id; ``names`` maps a
    normalised full name to person_id (only names that identify one person); ``kinds`` maps
    person_id to ``child`` or ``person``.
    """
    child_by_src: dict = field(default_factory=dict)
    child_by_id: dict = field(default_factory=dict)
    person_by_src: dict = field(default_factory=dict)
    person_by_id: dict = field(default_factory=dict)
    _names: dict | None = None
    kinds: dict = field(default_factory=dict)
    premises: set = field(default_factory=set)
    place_texts: dict = field(default_factory=dict)
    _frames: tuple = ()

    @property
    def names(self) -> dict:
        """Normalised full name -> person_id, built on first use (names that identify one
        person only; a name shared by a child and a different person is dropped)."""
        if self._names is None:
            children, persons = self._frames or (None, None)
            names: dict = {}
            if not _empty(children):
                names.update(_unique_map(_names(children), children["person_id"].astype(str).tolist()))
            if not _empty(persons):
                pnames = _unique_map(_names(persons), persons["person_id"].astype(str).tolist())
                for k, v in pnames.items():
                    if k in names and names[k] != v:
                        names[k] = None
                    else:
                        names.setdefault(k, v)
            self._names = {k: v for k, v in names.items() if v is not None and k}
        return self._names

    def let_go_of_frames(self) -> None:
        """Build :attr:`names` now and drop the children and persons frames it is made from."""
        self.names  # noqa: B018 - built on first use
        self._frames = ()


def _unique_map(keys: list, values: list) -> dict:
    """Map key -> value, dropping keys that map to more than one value (and empty keys)."""
    df = pd.DataFrame({"k": keys, "v": values}, dtype=object).drop_duplicates()
    df = df[df["k"].notna() & (df["k"] != "")]
    df = df[~df["k"].duplicated(keep=False)]
    return dict(zip(df["k"].tolist(), df["v"].tolist()))


def _names(frame: pd.DataFrame) -> list:
    """Normalised ``given family`` full names of a frame (vectorised)."""
    full = (_col(frame, "given_name", "").fillna("").astype(str) + " "
            + _col(frame, "family_name", "").fillna("").astype(str))
    return full.str.replace(r"\s+", " ", regex=True).str.strip().str.lower().tolist()


def build_ref_index(children: pd.DataFrame | None = None, persons: pd.DataFrame | None = None,
                    premises: pd.DataFrame | None = None) -> RefIndex:
    """Index the children, persons and premises frames for reference resolution."""
    idx = RefIndex(_frames=(children, persons))
    if not _empty(children):
        pid = children["person_id"].astype(str).tolist()
        src = _col(children, "source", "").fillna("").astype(str).tolist()
        cid = children["child_id"].astype(str).tolist()
        idx.child_by_src = dict(zip(zip(src, cid), pid))
        idx.child_by_id = _unique_map(cid, pid)
        idx.kinds.update(dict.fromkeys(pid, "child"))
    if not _empty(persons):
        pid = persons["person_id"].astype(str).tolist()
        src = _col(persons, "source", "").fillna("").astype(str).tolist()
        sid = persons["person_id_src"].astype(str).tolist()
        idx.person_by_src = dict(zip(zip(src, sid), pid))
        idx.person_by_id = _unique_map(sid, pid)
        for p in pid:
            idx.kinds.setdefault(p, "person")
    if not _empty(premises):
        idx.premises = set(premises["premises_id"].astype(str))
    return idx


def resolve_ref(ref, source: str | None, idx: RefIndex, expect: str = "person") -> tuple[str, str] | None:
    """Resolve one written reference to ``(node_id, kind)``, or None for junk.

    ``expect`` is the kind a bare value is tried as first (``child`` or ``person``).
    """
    text = str(ref).strip()
    low = _norm(text)
    if low in _JUNK:
        return None
    m = re.match(r"^\s*(child|person|premises|place|vehicle)\s*:\s*(.+)$", text, re.I)
    src = source or ""
    if m:
        kind, val = m.group(1).lower(), m.group(2).strip()
        if kind == "child":
            p = idx.child_by_src.get((src, val)) or idx.child_by_id.get(val)
            return (p, "child") if p else (f"child:{val}", "child")
        if kind == "person":
            p = idx.person_by_src.get((src, val)) or idx.person_by_id.get(val)
            if p:
                return p, idx.kinds.get(p, "person")
            return f"person:{val}", "person"
        if kind == "premises":
            return f"premises:{val}", "premises"
        if kind == "vehicle":
            return f"vehicle:{_norm_reg(val)}", "vehicle"
        ptxt = _norm(val)
        if ptxt in _JUNK:
            return None
        return idx.place_texts.get(ptxt, f"place:{ptxt}"), "place"
    order = ("child", "person") if expect == "child" else ("person", "child")
    for kind in order:
        if kind == "child":
            p = idx.child_by_src.get((src, text)) or idx.child_by_id.get(text)
        else:
            p = idx.person_by_src.get((src, text)) or idx.person_by_id.get(text)
        if p:
            return p, idx.kinds.get(p, kind)
    p = idx.names.get(low)
    if p:
        return p, idx.kinds.get(p, "person")
    return f"name:{low}", "person"


def resolve_refs(rows: pd.DataFrame, idx: RefIndex, expect: str = "person") -> pd.DataFrame:
    """Resolve a long frame of references.

    ``rows`` has columns ``ref`` and ``source``; returns it with ``node`` and ``node_kind``
    (rows whose reference is junk are dropped). Distinct (ref, source) pairs are resolved once.
    """
    if len(rows) == 0:
        return rows.assign(node=pd.Series(dtype=object), node_kind=pd.Series(dtype=object))
    keys = rows[["ref", "source"]].astype(str).drop_duplicates()
    res = [resolve_ref(r, s, idx, expect) for r, s in zip(keys["ref"], keys["source"])]
    keys["node"] = [x[0] if x else None for x in res]
    keys["node_kind"] = [x[1] if x else None for x in res]
    out = rows.astype({"ref": str, "source": str}).merge(keys, on=["ref", "source"], how="left")
    return out[out["node"].notna()].reset_index(drop=True)


# --------------------------------------------------------------------------- places
def merge_places(points: pd.DataFrame, premises: pd.DataFrame | None = None,
                 premises_radius: float = 30.0) -> pd.Series:
    """Assign each geocoded point to a place node id.

    ``points`` has ``easting``, ``northing``, ``precision`` (BNG metres) and optionally
    ``match_id`` (the geocoder's match, ``geo.places.geocode``). A point whose ``match_id`` is
    ``premises:ID`` is that premises node directly. Other points of one precision class
    (premises+address, postcode, street, area) within ``MERGE_RADIUS`` metres of each other are
    single-linkage merged (KD-tree pairs, connected components: no all-pairs loop). Where the
    geocoder gave no match, fine (premises/address) places within ``premises_radius`` metres of
    a premises become ``premises:ID``, as do fine points whose text is a premises' trading name
    (optionally after ``outside``/``near``/``at``/``the``); a point the geocoder matched to
    something else (a postcode, a named place, a street) is never re-read as a premises. Points
    without coordinates get None.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    out = pd.Series([None] * len(points), index=points.index, dtype=object)
    if len(points) == 0:
        return out
    e = pd.to_numeric(points["easting"], errors="coerce").to_numpy(float)
    n = pd.to_numeric(points["northing"], errors="coerce").to_numpy(float)
    prec = _col(points, "precision", "postcode").fillna("postcode").astype(str).str.lower()
    cls = prec.map(PRECISION_CLASS).fillna("none").to_numpy()
    ok = np.isfinite(e) & np.isfinite(n) & (cls != "none")
    prem_tree = prem_ids = None
    if not _empty(premises):
        pe = pd.to_numeric(premises["easting"], errors="coerce").to_numpy(float)
        pn = pd.to_numeric(premises["northing"], errors="coerce").to_numpy(float)
        pok = np.isfinite(pe) & np.isfinite(pn)
        if pok.any():
            prem_tree = cKDTree(np.c_[pe[pok], pn[pok]])
            prem_ids = premises["premises_id"].astype(str).to_numpy()[pok]
    values = np.empty(len(points), dtype=object)
    values[:] = None
    # what the geocoder matched the text to (``match_id``): a ``premises:ID`` match is that
    # premises, whatever its precision class or distance; any other match (postcode, named
    # place, street, area) is never re-read as a premises by distance or trading name
    mid = _col(points, "match_id").astype(object)
    mid = mid.where(mid.notna(), "").astype(str).str.strip()
    matched = (mid != "").to_numpy()
    by_mid = mid.str.startswith("premises:").to_numpy(dtype=bool) & ok
    mid = mid.to_numpy(dtype=object)
    values[by_mid] = mid[by_mid]
    # a fine point whose text names a premises (``outside X``, ``the X``) is that premises,
    # even when the register holds no coordinates for it
    named = by_mid.copy()
    if not _empty(premises) and "text" in points.columns:
        pn = premises["name"].astype(str).str.lower().str.replace(r"\s+", " ", regex=True).str.strip()
        pmap = pd.Series(premises["premises_id"].astype(str).to_numpy(), index=pn.to_numpy())
        pmap = pmap[~pmap.index.duplicated(keep=False)]
        # only fine points the geocoder did not match can be named premises: normalise their
        # texts only
        cand = np.flatnonzero(np.isin(cls, ["fine"]) & ~matched)
        txt = (points["text"].iloc[cand].astype("string").str.lower()
               .str.replace(r"\s+", " ", regex=True).str.strip()
               .str.replace(r"^(outside|near|at|the)\s+", "", regex=True))
        hit = np.full(len(points), None, dtype=object)
        hit[cand] = txt.map(pmap).to_numpy(dtype=object)
        by_name = pd.notna(hit) & np.isin(cls, ["fine"]) & ~matched
        values[by_name] = np.array(["premises:" + str(x) for x in hit[by_name]], dtype=object)
        named |= by_name
    for c, radius in MERGE_RADIUS.items():
        sel = np.flatnonzero(ok & (cls == c) & ~named)
        if len(sel) == 0:
            continue
        xy = np.c_[e[sel], n[sel]]
        # identical points first (cheap), then pairs within the radius between distinct points
        uxy, inv = _unique_rows(np.round(xy, 1))
        tree = cKDTree(uxy)
        pairs = tree.query_pairs(radius, output_type="ndarray")
        m = len(uxy)
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m))
        _, lab = connected_components(graph, directed=False)
        ce = np.bincount(lab, weights=uxy[:, 0]) / np.bincount(lab)
        cn = np.bincount(lab, weights=uxy[:, 1]) / np.bincount(lab)
        names = np.array([f"place:{int(round(a))}:{int(round(b))}:{c}" for a, b in zip(ce, cn)],
                         dtype=object)
        point_names = names[lab[inv]]
        if c == "fine" and prem_tree is not None:
            d, j = prem_tree.query(np.c_[ce, cn], distance_upper_bound=premises_radius)
            hit = np.isfinite(d)
            prem_names = names.copy()
            prem_names[hit] = np.array([f"premises:{prem_ids[k]}" for k in j[hit]], dtype=object)
            # only points the geocoder did not match are snapped to a nearby premises
            snap = ~matched[sel]
            point_names = np.where(snap, prem_names[lab[inv]], point_names)
        values[sel] = point_names
    out[:] = values
    return out


def _unique_rows(r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(r, axis=0, return_inverse=True)`` of points rounded to 0.1 m: the same
    distinct rows in the same (x, then y) order, found by a sort of one integer key per point
    instead of a sort of rows."""
    k = np.rint(r * 10).astype(np.int64)
    k -= k.min(axis=0)
    key = k[:, 0] * (int(k[:, 1].max()) + 1) + k[:, 1]
    _, first, inv = np.unique(key, return_index=True, return_inverse=True)
    return r[first], inv.ravel()


# --------------------------------------------------------------------------- graph
class _EdgeBuffer:
    """Collects edge records as columns, aggregated once into graph edges."""

    def __init__(self):
        self.parts: list[pd.DataFrame] = []

    def add(self, u, v, relation, source, date=None, grading=None, intelligence=False,
            restricted=False, text=None):
        n = len(u)
        if n == 0:
            return

        def arr(x):
            if isinstance(x, pd.Series):
                # Arrow strings are kept as they are (the frame would infer
                # them back from Python objects: a Python string per record, gigabytes at
                # national scale, only to be dropped again)
                if _is_arrow_str(x.dtype):
                    return x.array
                return _objects(x)
            if isinstance(x, (np.ndarray, list)):
                return x
            return [x] * n

        # dates as UTC seconds now, part by part (what the aggregation reads): the parts then
        # concatenate as one datetime64 column, not as an object column of Timestamps and None
        # (anything not already date-times is parsed value by value, as the concatenated
        # object column was)
        dates = date if isinstance(date, pd.Series) else pd.Series(
            date if isinstance(date, (np.ndarray, list)) else [date] * n, dtype=object)
        dates = _utc_seconds(dates if dates.dtype.kind == "M" else dates.astype(object))
        self.parts.append(pd.DataFrame({
            "u": arr(u), "v": arr(v), "relation": arr(relation), "source": arr(source),
            "date": dates, "grading": arr(grading), "intelligence": arr(intelligence),
            "restricted": arr(restricted), "text": arr(text)}))

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=["u", "v", "relation", "source", "date", "grading",
                                         "intelligence", "restricted", "text"])
        df = pd.concat(self.parts, ignore_index=True)
        df = df[df["u"].notna() & df["v"].notna() & (df["u"] != df["v"])]
        return df


def _grading(row_eval, intel_eval, handling) -> str | None:
    parts = []
    for x in (row_eval, intel_eval):
        if x is None or (isinstance(x, float) and np.isnan(x)):
            continue
        s = str(x).strip()
        if s.endswith(".0"):
            s = s[:-2]
        parts.append(s)
    code = "".join(parts)
    if handling is not None and not (isinstance(handling, float) and np.isnan(handling)) and str(handling).strip():
        code = f"{code} {str(handling).strip()}".strip()
    return code or None


class _Nodes:
    """Node attributes by node id while the graph is built; the first writer of an attribute
    wins (children are added before persons, so a child stays a child; premises from the
    register before premises named in references); missing values are not written."""

    def __init__(self):
        self.attrs: dict[str, dict] = {}

    def add(self, nid, **attrs) -> None:
        if nid is None:
            return
        cur = self.attrs.setdefault(nid, {})
        for k, v in attrs.items():
            if v is None or (isinstance(v, float) and np.isnan(v)):
                continue
            cur.setdefault(k, v)

    def __contains__(self, nid) -> bool:
        return nid in self.attrs

    def note(self, frame: pd.DataFrame) -> None:
        """Add the nodes of resolved references (``node``, ``node_kind``) that are not resolved
        people (those were added from their own frames)."""
        for nid, kind in frame[["node", "node_kind"]].drop_duplicates().itertuples(index=False):
            if kind in ("child", "person") and not str(nid).startswith(("name:", "child:", "person:")):
                continue
            label = str(nid).split(":", 1)[-1]
            self.add(nid, kind=kind, label=label,
                     unresolved=True if str(nid).startswith(("name:", "child:", "person:")) else None)


@dataclass
class PersonPlaceGraph:
    """The person-place graph as tables: ``nodes`` (node id -> attribute dict, sorted by id),
    ``edges`` (the edge table of :func:`edge_table`: one row per edge, row = ``eid``, sorted by
    ``(u, v, key)``) and ``lists`` (the provenance list columns, :data:`LIST_ATTRS`, indexed by
    ``eid``). The measures and exports read it as they read the networkx graph of
    :func:`person_place_graph` (``network.measures``, ``network.exports``), without an object
    per edge; :meth:`to_networkx` gives the networkx graph for small views (ego networks)."""
    nodes: dict
    edges: pd.DataFrame
    lists: dict
    #: frames derived from the tables once and read by several measures (``edge_frame``)
    derived: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def graph(self) -> dict:
        """The graph-level data, as ``networkx.Graph.graph`` holds it."""
        return {"edge_table": self.edges, "edge_lists": self.lists}

    def number_of_nodes(self) -> int:
        return len(self.nodes)

    def number_of_edges(self) -> int:
        return len(self.edges)

    def _ends(self) -> tuple[pd.Index, np.ndarray, np.ndarray]:
        """The node ids (with any edge end that is not a node: networkx would add it bare) and
        each edge's two ends as positions among them; made once per graph."""
        if "ends" not in self.derived:
            eu = self.edges["u"].astype(object).to_numpy()
            ev = self.edges["v"].astype(object).to_numpy()
            ids = pd.Index(list(self.nodes), dtype=object).union(
                pd.Index(np.r_[eu, ev]).unique(), sort=False)
            self.derived["ends"] = (ids, ids.get_indexer(eu), ids.get_indexer(ev))
        return self.derived["ends"]

    def within(self, centres, depth: int) -> set:
        """The nodes at most ``depth`` steps from any of ``centres`` (node ids), ignoring
        direction: every node an ego network of that depth can reach."""
        ids, u, v = self._ends()
        reached = np.zeros(len(ids), dtype=bool)
        at = ids.get_indexer(list(centres))
        reached[at[at >= 0]] = True
        frontier = reached.copy()
        for _ in range(depth if len(u) else 0):
            step = frontier[u] | frontier[v]
            new = np.zeros(len(ids), dtype=bool)
            new[u[step]] = True
            new[v[step]] = True
            frontier = new & ~reached
            reached |= frontier
        return set(ids[reached])

    def to_networkx(self, nodes: set | None = None) -> nx.MultiDiGraph:
        """The same graph as a ``networkx.MultiDiGraph``: node attributes, one edge per row of
        the edge table (key = relation, ``relation/intel`` for intelligence) with ``relation,
        intelligence, restricted, count, first, last, eid``; nodes and edges added in sorted
        order; the tables kept in ``G.graph``. With ``nodes`` (e.g. :meth:`within`), only those
        nodes and the edges between them, each with its ``eid`` in the whole table: the ego
        networks of a national graph without the national graph in networkx."""
        G = nx.MultiDiGraph()
        G.add_nodes_from(self.nodes.items() if nodes is None else
                         ((n, d) for n, d in self.nodes.items() if n in nodes))
        if len(self.edges) == 0:
            return G
        t = self.edges
        eids = range(len(t))
        if nodes is not None:
            ids, u, v = self._ends()
            inside = ids.isin(list(nodes))
            keep = inside[u] & inside[v]
            t, eids = t[keep], np.flatnonzero(keep).tolist()
        relations = {r: sys.intern(r) for r in t["relation"].cat.categories.tolist()}

        def rows():
            for eid, (u, v, key, rel, intel, restr, cnt, first, last) in zip(eids, zip(
                    t["u"], t["v"], t["key"], t["relation"], t["intelligence"].tolist(),
                    t["restricted"].tolist(), t["count"].tolist(), t["first"], t["last"])):
                yield (u, v, key, {
                    "relation": relations[rel], "intelligence": intel, "restricted": restr,
                    "count": cnt, "first": first if isinstance(first, str) else None,
                    "last": last if isinstance(last, str) else None, "eid": eid})
        G.add_edges_from(rows())
        G.graph["edge_lists"] = self.lists
        G.graph["edge_table"] = self.edges
        return G


def person_place_graph(children: pd.DataFrame | None = None, persons: pd.DataFrame | None = None,
                       episodes: pd.DataFrame | None = None,
                       return_interviews: pd.DataFrame | None = None,
                       place_events: pd.DataFrame | None = None,
                       premises: pd.DataFrame | None = None,
                       intelligence: pd.DataFrame | None = None,
                       links: pd.DataFrame | None = None,
                       *, include_homes: bool = True, premises_radius: float = 30.0
                       ) -> nx.MultiDiGraph:
    """Build the person-place graph from the frames of ``docs/FRAMES.md`` as a networkx graph:
    :func:`person_place_tables` with the same arguments, then
    :meth:`PersonPlaceGraph.to_networkx`.

    Parameters
    ----------
    children, persons, episodes, return_interviews, place_events, premises, intelligence, links
        Frames as loaded by ``geo.storage.store``; any may be None. ``person_id`` columns carry the
        resolved identity (``network.identity``). When ``place_events`` is None the found and
        last-seen points are read from ``episodes``.
    include_homes
        Add ``resides_at`` edges from children to their home/placement postcode place
        (``restricted=True``; children's home locations are restricted data).
    premises_radius
        Metres within which a premises/address-precision place is taken to be a premises.

    Returns
    -------
    networkx.MultiDiGraph with node attribute ``kind`` (child, person, place, premises,
    vehicle) and the edge attributes listed in the module docstring. Deterministic: nodes and
    edges are added in sorted order.

    Notes
    -----
    A link-analysis graph in the sense of i2 Analyst's Notebook / "entity-link-property"
    models; intelligence edges keep their 3x5x2 grading (College of Policing, *Intelligence
    management*, APP 2021) and ``intelligence=True`` so they are never presented as fact.
    """
    return person_place_tables(children, persons, episodes, return_interviews, place_events,
                               premises, intelligence, links, include_homes=include_homes,
                               premises_radius=premises_radius).to_networkx()


def person_place_tables(children: pd.DataFrame | None = None, persons: pd.DataFrame | None = None,
                        episodes: pd.DataFrame | None = None,
                        return_interviews: pd.DataFrame | None = None,
                        place_events: pd.DataFrame | None = None,
                        premises: pd.DataFrame | None = None,
                        intelligence: pd.DataFrame | None = None,
                        links: pd.DataFrame | None = None,
                        *, include_homes: bool = True, premises_radius: float = 30.0
                        ) -> PersonPlaceGraph:
    """The person-place graph as tables (:class:`PersonPlaceGraph`); the arguments of
    :func:`person_place_graph`. The steps (:func:`person_place_tables_of`): people and premises
    nodes, geocoded points merged into places (their edges), found-with, RHI associates, links,
    intelligence, then the edge records aggregated into edges."""
    return person_place_tables_of(
        {"children": children, "persons": persons, "episodes": episodes,
         "return_interviews": return_interviews, "place_events": place_events,
         "premises": premises, "intelligence": intelligence, "links": links},
        include_homes=include_homes, premises_radius=premises_radius)


def _columns(frame: pd.DataFrame, names) -> list:
    """The columns ``names`` of ``frame`` as object arrays (None for a missing column), made
    column-wise (``itertuples`` over Arrow strings builds each value in Python)."""
    return [_objects(frame[c]) if c in frame.columns else np.full(len(frame), None, dtype=object)
            for c in names]


def _missing(v) -> bool:
    """What :meth:`_Nodes.add` does not write: None and float NaN."""
    return v is None or (isinstance(v, float) and np.isnan(v))


def _full_name(given, family) -> str:
    return " ".join(x for x in (given, family) if isinstance(x, str) and x)


def person_place_tables_of(frames: dict, *, include_homes: bool = True,
                           premises_radius: float = 30.0) -> PersonPlaceGraph:
    """:func:`person_place_tables` of a dict of the frames (the names of ``docs/FRAMES.md``,
    as ``api.jobs.network.load_frames`` gives them), taking each frame out of the dict as soon
    as the build has read it for the last time: the caller's frames (gigabytes at national
    scale) are not all held while the edges are aggregated. The same tables."""
    children, persons, premises = (frames.get(n) for n in ("children", "persons", "premises"))
    idx = build_ref_index(children, persons, premises)
    idx.let_go_of_frames()
    nodes = _Nodes()
    _add_people(nodes, children, persons)
    _add_premises(nodes, premises)
    buf = _EdgeBuffer()
    intel_places = _add_place_edges(nodes, buf, idx, frames.get("episodes"),
                                    frames.pop("place_events", None),
                                    children if include_homes else None, persons,
                                    frames.get("intelligence"), premises, premises_radius)
    del children, persons, premises
    for name in ("children", "persons", "premises"):
        frames.pop(name, None)
    _add_found_with(nodes, buf, idx, frames.pop("episodes", None))
    _add_associates(nodes, buf, idx, frames.pop("return_interviews", None))
    _add_links(nodes, buf, idx, frames.pop("links", None))
    _add_intelligence(nodes, buf, idx, frames.pop("intelligence", None), intel_places)
    del intel_places
    return _aggregate_edges(nodes, buf, idx)


def _add_people(nodes: _Nodes, children, persons) -> None:
    """Child and person nodes (records, label, the attributes the exports show)."""
    if not _empty(children):
        recs = _records_of(children, "child_key")
        ch = children.drop_duplicates("person_id")
        pids = ch["person_id"].astype(str).tolist()
        attrs = nodes.attrs
        for pid, given, family, care, cse, sex in zip(pids, *_columns(
                ch, ("given_name", "family_name", "care_status", "cse_risk", "sex"))):
            if pid in attrs:
                nodes.add(pid, records=recs.get(pid))
                nodes.add(pid, kind="child", label=_full_name(given, family) or pid,
                          care_status=care, cse_risk=cse, sex=sex)
                continue
            # a new node: its attributes in the order ``_Nodes.add`` would write them
            d = {} if (rec := recs.get(pid)) is None else {"records": rec}
            d["kind"] = "child"
            d["label"] = _full_name(given, family) or pid
            for k, v in (("care_status", care), ("cse_risk", cse), ("sex", sex)):
                if not _missing(v):
                    d[k] = v
            attrs[pid] = d
    if not _empty(persons):
        recs = _records_of(persons, "person_key")
        attrs = nodes.attrs
        ps = persons.drop_duplicates("person_id")
        pids = ps["person_id"].astype(str).tolist()
        for pid, given, family, role, sex, dob in zip(pids, *_columns(
                ps, ("given_name", "family_name", "role", "sex", "dob"))):
            if pid in attrs and "records" in attrs[pid]:
                attrs[pid]["records"] = sorted(set(attrs[pid]["records"]) | set(recs.get(pid, [])))
            else:
                nodes.add(pid, records=recs.get(pid))
            nodes.add(pid, kind="person", label=_full_name(given, family) or pid,
                      role=role, sex=sex, dob=_date(dob))


def _add_premises(nodes: _Nodes, premises) -> None:
    """Premises nodes from the register."""
    if _empty(premises):
        return
    for r in premises.drop_duplicates("premises_id").itertuples(index=False):
        nodes.add(f"premises:{r.premises_id}", kind="premises", label=str(r.name),
                  premises_type=getattr(r, "premises_type", None),
                  postcode=getattr(r, "postcode", None),
                  easting=_f(getattr(r, "easting", None)), northing=_f(getattr(r, "northing", None)),
                  status=getattr(r, "status", None))


def _add_place_edges(nodes: _Nodes, buf: "_EdgeBuffer", idx: RefIndex, episodes, place_events,
                     children, persons, intelligence, premises, premises_radius: float):
    """Geocoded points merged into place nodes (:func:`merge_places`), the edges of people to
    them, and the written place texts they resolve (``idx.place_texts``). Returns the places of
    intelligence items (``intel_key, node``) or None."""
    pts = _place_points(episodes, place_events, children, persons, intelligence)
    del place_events    # the caller's only reference (gigabytes at national scale): read now
    if len(pts) == 0:
        return None
    pts["node"] = merge_places(pts, premises, premises_radius).to_numpy()
    pts = pts[pts["node"].notna()]
    # place node attributes: mean coordinates, most frequent text, precision (vectorised)
    prem = pts["node"].str.startswith("premises:")
    for nid in pd.unique(pts.loc[prem, "node"]):
        nodes.add(nid, kind="premises", label=nid.split(":", 1)[1])
    pl = pts.loc[~prem, ["node", "easting", "northing", "precision", "restricted", "text"]]
    if len(pl):
        agg = pl.groupby("node", sort=True).agg(easting=("easting", "mean"),
                                                northing=("northing", "mean"),
                                                precision=("precision", "first"),
                                                restricted=("restricted", "all"))
        tx = pl[["node", "text"]].dropna()
        tx = tx.assign(text=tx["text"].astype(str))
        tc = tx.groupby(["node", "text"]).size().rename("k").reset_index()
        label = tc.sort_values(["node", "k", "text"], ascending=[True, False, True]) \
            .drop_duplicates("node").set_index("node")["text"]
        texts = _agg_lists(tc.sort_values(["node", "text"]), "node", "text", 10)
        for nid, e, n, pr, rs in agg[["easting", "northing", "precision", "restricted"]].itertuples(name=None):
            nodes.add(nid, kind="place", label=label.get(nid, nid), easting=float(e),
                      northing=float(n), precision=str(pr), texts=texts.get(nid, []),
                      restricted=bool(rs))
        del agg, tx, tc, label, texts
    del pl, prem  # copies of the points: not held while the edge records are made
    # written place text -> place node (the last point of a text wins), vectorised
    tn = pd.DataFrame({"t": _objects(pts["text"]), "node": _objects(pts["node"])})
    tn = tn[tn["t"].map(type) == str].drop_duplicates(keep="last")
    key = tn["t"].str.replace(r"\s+", " ", regex=True).str.strip().str.lower()
    ok_t = ~key.isin(list(_JUNK))
    tmap = pd.Series(tn["node"].to_numpy(dtype=object)[ok_t.to_numpy()],
                     index=key[ok_t].to_numpy(dtype=object))
    tmap = tmap[~tmap.index.duplicated(keep="last")]
    idx.place_texts = dict(zip(tmap.index.tolist(), tmap.tolist()))
    del tn, key, ok_t, tmap
    # the places of intelligence items
    who = pts["who"].notna()
    intel = None if "intel_key" not in pts.columns else \
        pts.loc[~who & pts["intel_key"].notna(), ["intel_key", "node"]]
    # the people's points only, with the columns the edges read (the points are let go first)
    pts = pts.loc[who, ["who", "node", "relation", "source", "at", "restricted", "text"]]
    buf.add(pts["who"], pts["node"], pts["relation"], pts["source"], pts["at"],
            intelligence=False, restricted=pts["restricted"], text=pts["text"])
    return intel


def _add_found_with(nodes: _Nodes, buf: "_EdgeBuffer", idx: RefIndex, episodes) -> None:
    """``found_with`` edges of episodes (a bare reference is tried as a child first)."""
    if _empty(episodes) or "found_with" not in episodes.columns:
        return
    fw = episodes[["episode_key", "person_id", "source", "reported_at", "found_with"]]
    fw = fw[fw["found_with"].notna()].copy()     # most episodes name no one: [] is no edge
    fw["ref"] = fw["found_with"].map(_as_list)
    fw = fw.explode("ref")
    fw = fw[fw["ref"].notna()]
    fw = resolve_refs(fw, idx, expect="child")
    buf.add(fw["person_id"].astype(str), fw["node"], "found_with", fw["episode_key"],
            fw["reported_at"])
    nodes.note(fw)


def _add_associates(nodes: _Nodes, buf: "_EdgeBuffer", idx: RefIndex, return_interviews) -> None:
    """``associate`` edges of return interviews, dated when held (else when notified)."""
    if _empty(return_interviews) or "associates" not in return_interviews.columns:
        return
    ri = return_interviews[["rhi_key", "person_id", "source", "associates"]].copy()
    ri["at"] = _col(return_interviews, "held_at")
    ri["at"] = ri["at"].where(ri["at"].notna(), _col(return_interviews, "notified_at"))
    ri = ri[ri["associates"].notna()]       # an interview naming no one: [] is no edge
    ri["ref"] = ri["associates"].map(_as_list)
    ri = ri.explode("ref")
    ri = ri[ri["ref"].notna()]
    ri = resolve_refs(ri, idx, expect="person")
    buf.add(ri["person_id"].astype(str), ri["node"], "associate", ri["rhi_key"], ri["at"])
    nodes.note(ri)


def _add_links(nodes: _Nodes, buf: "_EdgeBuffer", idx: RefIndex, links) -> None:
    """The edges of the links file (intelligence where its source is intelligence or graded)."""
    if _empty(links):
        return
    lk = links.copy()
    lk["source"] = _col(lk, "source", "").fillna("").astype(str)
    a = resolve_refs(lk.assign(ref=lk["from_ref"]), idx)
    a = a[["link_key", "node", "node_kind", "ref"]].rename(columns={"node": "u", "node_kind": "uk"})
    b = resolve_refs(lk.assign(ref=lk["to_ref"]), idx)
    b = b[["link_key", "node", "node_kind"]].rename(columns={"node": "v", "node_kind": "vk"})
    ab = lk.merge(a[["link_key", "u", "uk"]], on="link_key").merge(b, on="link_key")
    for side, k in (("u", "uk"), ("v", "vk")):
        nodes.note(ab.rename(columns={side: "node", k: "node_kind"}))
    rel = ab["relation"].fillna("other").astype(str).str.lower()
    rel = rel.where(rel.isin(RELATIONS), "other")
    sref = _col(ab, "source_ref", "").fillna("").astype(str)
    grading = _col(ab, "grading").where(_col(ab, "grading").notna(), None)
    is_intel = sref.str.lower().str.startswith("intel") | grading.notna().to_numpy()
    buf.add(ab["u"], ab["v"], rel, sref.where(sref != "", ab["link_key"]),
            _col(ab, "observed_at"), grading=grading, intelligence=is_intel)


def _add_intelligence(nodes: _Nodes, buf: "_EdgeBuffer", idx: RefIndex, intelligence,
                      intel_places) -> None:
    """``mentioned_with`` intelligence edges: the subjects of an item with each other and with
    its premises, vehicle and place, and those things with each other."""
    if _empty(intelligence):
        return
    it = intelligence.copy()
    it["source"] = _col(it, "source", "").fillna("").astype(str)
    it["grade"] = [g if isinstance(g, str) and g.strip() else _grading(a, b, c)
                   for g, a, b, c in zip(_col(it, "grading"), _col(it, "source_eval"),
                                         _col(it, "intel_eval"), _col(it, "handling"))]
    subj = it[["intel_key", "source", "subjects"]].copy()
    subj["ref"] = subj["subjects"].map(_as_list)
    subj = subj.explode("ref")
    subj = subj[subj["ref"].notna()]
    subj = resolve_refs(subj, idx, expect="person")[["intel_key", "node", "node_kind"]]
    nodes.note(subj)
    # things the intel item is about besides its subjects
    extra = []
    if "premises_id" in it.columns:
        p = it[it["premises_id"].notna() & (it["premises_id"].astype(str) != "")]
        extra.append(pd.DataFrame({"intel_key": p["intel_key"],
                                   "node": "premises:" + p["premises_id"].astype(str),
                                   "node_kind": "premises"}))
    if "vehicle" in it.columns:
        v = it[it["vehicle"].notna() & (it["vehicle"].astype(str).str.strip() != "")]
        vn = ["vehicle:" + _norm_reg(x) for x in v["vehicle"]]
        extra.append(pd.DataFrame({"intel_key": v["intel_key"], "node": vn, "node_kind": "vehicle"}))
        for x in vn:
            nodes.add(x, kind="vehicle", label=x.split(":", 1)[1])
    if intel_places is not None:
        extra.append(intel_places.assign(node_kind="place"))
    things = pd.concat([x for x in extra if len(x)] or [pd.DataFrame(columns=["intel_key", "node", "node_kind"])],
                       ignore_index=True)
    meta = it[["intel_key", "recorded_at", "grade"]]
    # subject x subject (ordered pairs u<v) and subject -> thing
    ss = subj.merge(subj, on="intel_key", suffixes=("_a", "_b"))
    ss = ss[ss["node_a"].astype(str) < ss["node_b"].astype(str)].merge(meta, on="intel_key")
    buf.add(ss["node_a"], ss["node_b"], "mentioned_with", ss["intel_key"], ss["recorded_at"],
            grading=ss["grade"], intelligence=True)
    st = subj.merge(things, on="intel_key", suffixes=("_a", "_b")).merge(meta, on="intel_key")
    buf.add(st["node_a"], st["node_b"], "mentioned_with", st["intel_key"], st["recorded_at"],
            grading=st["grade"], intelligence=True)
    # an item with no person subject still ties its premises, vehicle and place together
    tt = things.merge(things, on="intel_key", suffixes=("_a", "_b"))
    tt = tt[tt["node_a"].astype(str) < tt["node_b"].astype(str)].merge(meta, on="intel_key")
    buf.add(tt["node_a"], tt["node_b"], "mentioned_with", tt["intel_key"], tt["recorded_at"],
            grading=tt["grade"], intelligence=True)


#: the columns of an edge table (:func:`edge_table`)
EDGE_COLUMNS = ("u", "v", "key", "relation", "intelligence", "count", "first", "last", "restricted")


def _aggregate_edges(nodes: _Nodes, buf: "_EdgeBuffer", idx: RefIndex) -> PersonPlaceGraph:
    """The edge records aggregated into edges, one per (u, v, key) (key = relation, or
    ``relation/intel`` for intelligence), sorted: count, first and last dates, restricted when
    any record is, and the provenance list columns; the nodes the edges name that no step
    added (unresolved references) are added.

    The records are sorted once by (u, v, key, source); an edge is then a run of rows, so its
    id, count, first/last and flags are numpy reductions over the runs, and each date is
    parsed and written as ISO text once (:func:`_utc_seconds`, :func:`_iso_arrow`)."""
    import pyarrow as pa
    ed = buf.frame()
    buf.parts.clear()
    ed["u"] = ed["u"].astype(str)
    ed["v"] = ed["v"].astype(str)
    for nid in pd.unique(pd.concat([ed["u"], ed["v"]])):
        if nid not in nodes:
            nodes.add(nid, kind=_kind_from_id(nid, idx), label=nid.split(":", 1)[-1],
                      unresolved=nid.startswith(("name:", "child:", "person:")) or None)
    node_attrs = dict(sorted(nodes.attrs.items()))
    if len(ed) == 0:
        empty = pd.DataFrame({c: pd.Series(dtype=object) for c in EDGE_COLUMNS})
        for c in ("u", "v", "key", "relation"):
            empty[c] = pd.Categorical([])
        empty = empty.astype({"intelligence": bool, "count": np.int64, "restricted": bool})
        lists = {name: pa.array([], pa.list_(pa.string())) for name in LIST_ATTRS}
        return PersonPlaceGraph(node_attrs, empty, lists)
    ed["ts"] = ed.pop("date").to_numpy()      # UTC seconds already (_EdgeBuffer.add)
    ed["intelligence"] = ed["intelligence"].astype(bool)
    ed["restricted"] = ed["restricted"].fillna(False).astype(bool)
    ed["relation"] = ed["relation"].astype(str)
    ed["key"] = np.where(ed["intelligence"], ed["relation"] + "/intel", ed["relation"])
    ed["source"] = ed["source"].astype(str)
    ed = ed.sort_values(["u", "v", "key", "source"], kind="stable")
    n = len(ed)
    # runs of equal (u, v, key) are the edges (eid in sorted order); runs of equal source
    # within an edge are its distinct sources
    codes = {c: pd.factorize(ed[c])[0] for c in ("u", "v", "key", "source")}
    new = np.ones(n, dtype=bool)
    new[1:] = ((codes["u"][1:] != codes["u"][:-1]) | (codes["v"][1:] != codes["v"][:-1])
               | (codes["key"][1:] != codes["key"][:-1]))
    new_source = new.copy()
    new_source[1:] |= codes["source"][1:] != codes["source"][:-1]
    del codes
    starts = np.flatnonzero(new)
    eid = np.cumsum(new) - 1
    m = len(starts)
    ts = ed["ts"].to_numpy()
    del ed["ts"]
    tsi = ts.view(np.int64)
    nat = np.isnat(ts)
    first = np.minimum.reduceat(np.where(nat, np.iinfo(np.int64).max, tsi), starts)
    first = np.where(first == np.iinfo(np.int64).max, np.iinfo(np.int64).min, first)
    last = np.maximum.reduceat(tsi, starts)  # NaT is the smallest int64
    iso = _iso_arrow(ts)

    def usable(values):
        return np.fromiter((isinstance(x, str) for x in values), dtype=bool, count=n)

    def distinct(values, keep):
        """Rows of ``keep`` whose (edge, value) was not seen before in the edge."""
        rows = np.flatnonzero(keep)
        vc = pd.factorize(values[rows])[0]
        dup = pd.Series(eid[rows] * (int(vc.max()) + 1 if len(vc) else 1) + vc).duplicated().to_numpy()
        return rows[~dup]

    src_rows = np.flatnonzero(new_source)
    dated = np.flatnonzero(~nat)
    dated = dated[np.lexsort((tsi[dated], eid[dated]))]
    grading = ed["grading"].to_numpy(dtype=object)      # each made into objects once
    text = ed["text"].to_numpy(dtype=object)
    g_rows = distinct(grading, usable(grading) & (grading != ""))
    t_rows = distinct(text, usable(text))
    lists = {
        "sources": _list_array(eid[src_rows], pa.array(ed["source"].array[src_rows]).cast(pa.string()), m),
        "dates": _list_array(eid[dated], iso.take(pa.array(dated)), m),
        "gradings": _list_array(eid[g_rows], pa.array(grading[g_rows], pa.string()), m),
        "texts": _list_array(eid[t_rows], pa.array(text[t_rows], pa.string()), m, limit=5)}
    del grading, text
    table = pd.DataFrame({
        "u": pd.Categorical(ed["u"].array[starts]), "v": pd.Categorical(ed["v"].array[starts]),
        "key": pd.Categorical(ed["key"].to_numpy(dtype=object)[starts]),
        "relation": pd.Categorical(ed["relation"].to_numpy(dtype=object)[starts]),
        "intelligence": ed["intelligence"].to_numpy(bool)[starts],
        "count": np.diff(np.r_[starts, n]).astype(np.int64),
        "first": _iso_arrow(first.view("datetime64[s]")).to_numpy(zero_copy_only=False),
        "last": _iso_arrow(last.view("datetime64[s]")).to_numpy(zero_copy_only=False),
        "restricted": np.logical_or.reduceat(ed["restricted"].to_numpy(bool), starts)})
    return PersonPlaceGraph(node_attrs, table, lists)


def edge_table(G) -> pd.DataFrame | None:
    """The graph's edges as columns ``u, v, key, relation, intelligence, count, first, last,
    restricted`` (categoricals for the ids), row = ``eid``, sorted by ``(u, v, key)``, which is
    ``G.edges(keys=True)`` order, when ``G`` is a :class:`PersonPlaceGraph` or was built by
    :func:`person_place_graph` and has not gained or lost an edge since; else None."""
    if isinstance(G, PersonPlaceGraph):
        return G.edges
    t = G.graph.get("edge_table")
    if t is None or len(t) != G.number_of_edges():
        return None
    return t


def node_items(G):
    """``(node id, attribute dict)`` of every node, in the graph's node order, of a networkx
    graph or a :class:`PersonPlaceGraph`."""
    return G.nodes.items() if isinstance(G, PersonPlaceGraph) else G.nodes(data=True)


def node_ids(G) -> list:
    """The node ids in the graph's node order (networkx graph or :class:`PersonPlaceGraph`)."""
    return list(G.nodes) if isinstance(G, PersonPlaceGraph) else list(G.nodes())


def node_attr(G, name: str) -> dict:
    """``{node: value}`` of one node attribute where nodes have it (``nx.get_node_attributes``
    for a networkx graph or a :class:`PersonPlaceGraph`)."""
    return {n: d[name] for n, d in node_items(G) if name in d}


#: the provenance lists of an edge, kept as columns of the graph (``G.graph["edge_lists"]``)
LIST_ATTRS = ("sources", "dates", "gradings", "texts")


def _list_array(eid: np.ndarray, values, m: int, limit: int | None = None):
    """A pyarrow ListArray of ``m`` string lists: row ``i`` holds the ``values`` (a pyarrow
    string array) whose ``eid`` (non-decreasing) is ``i``, in order, at most ``limit`` each.
    One offsets array and one string buffer instead of a Python list of Python strings per
    edge."""
    import pyarrow as pa
    eid = np.asarray(eid, dtype=np.int64)
    if limit is not None and len(eid):
        starts = np.searchsorted(eid, eid, side="left")
        keep = (np.arange(len(eid)) - starts) < limit
        eid, values = eid[keep], values.filter(pa.array(keep))
    offsets = np.zeros(m + 1, dtype=np.int32)
    np.cumsum(np.bincount(eid, minlength=m), out=offsets[1:])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values.cast(pa.string()))


def _utc_seconds(values: pd.Series) -> np.ndarray:
    """Date-times as numpy ``datetime64[s]`` UTC, floored to the second (NaT where missing):
    the instant the ISO text of :func:`_iso_arrow` writes."""
    t = pd.to_datetime(values, utc=True, errors="coerce", format="mixed") if values.dtype == object \
        else pd.to_datetime(values, utc=True, errors="coerce")
    return t.dt.tz_convert(None).to_numpy().astype("datetime64[s]")


_ISO_LEN = 20  # YYYY-MM-DDTHH:MM:SSZ


def _iso_arrow(seconds: np.ndarray):
    """ISO 8601 UTC text (``YYYY-MM-DDTHH:MM:SSZ``, null where NaT) of ``datetime64[s]``
    values as a pyarrow string array, written digit by digit in numpy (``strftime`` makes a
    Python string per value)."""
    import pyarrow as pa
    s = np.asarray(seconds, dtype="datetime64[s]")
    n = len(s)
    valid = ~np.isnat(s)
    s = s[valid]
    days = s.astype("datetime64[D]")
    months = s.astype("datetime64[M]")
    year = s.astype("datetime64[Y]").astype(np.int64) + 1970
    if len(s) and (year.min() < 1000 or year.max() > 9999):
        out = pd.Series(s).dt.strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(dtype=object)
        full = np.full(n, None, dtype=object)
        full[valid] = out
        return pa.array(full, pa.string())
    month = months.astype(np.int64) % 12 + 1
    day = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    sod = (s - days.astype("datetime64[s]")).astype(np.int64)
    buf = np.empty((len(s), _ISO_LEN), dtype=np.uint8)
    for col, (value, width) in zip((0, 5, 8, 11, 14, 17),
                                   ((year, 4), (month, 2), (day, 2), (sod // 3600, 2),
                                    (sod // 60 % 60, 2), (sod % 60, 2))):
        for k in range(width):
            buf[:, col + k] = 48 + value // 10 ** (width - 1 - k) % 10
    for col, ch in ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "Z")):
        buf[:, col] = ord(ch)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.where(valid, _ISO_LEN, 0), out=offsets[1:])
    otype, atype = ((np.int32, pa.string()) if offsets[-1] < 2 ** 31
                    else (np.int64, pa.large_string()))
    bitmap = None if valid.all() else pa.py_buffer(np.packbits(valid, bitorder="little"))
    arr = pa.Array.from_buffers(atype, n, [bitmap, pa.py_buffer(offsets.astype(otype)),
                                           pa.py_buffer(buf.reshape(-1))],
                                null_count=int(n - valid.sum()))
    return arr.cast(pa.string())


def edge_list(G: nx.MultiDiGraph, d: dict, name: str) -> list:
    """The provenance list ``name`` (one of :data:`LIST_ATTRS`) of the edge whose data is
    ``d``: read from the graph's edge-list columns by the edge's ``eid`` when the graph was
    built by :func:`person_place_graph`, else the edge's own attribute (a graph built by hand)."""
    lists = G.graph.get("edge_lists")
    eid = d.get("eid")
    if lists is not None and eid is not None:
        return lists[name][eid].as_py() or []
    return list(d.get(name) or [])


def joined_edge_lists(G: nx.MultiDiGraph, data: list, name: str, sep: str = "; ") -> list:
    """``sep``-joined provenance list ``name`` of many edges at once (``data``: their attribute
    dicts), vectorised in pyarrow for edges built by :func:`person_place_graph`."""
    lists = G.graph.get("edge_lists")
    eids = [d.get("eid") for d in data]
    if lists is not None and all(e is not None for e in eids):
        import pyarrow as pa
        import pyarrow.compute as pc
        taken = lists[name].take(pa.array(eids, pa.int64()))
        return pc.fill_null(pc.binary_join(taken, sep), "").to_pylist()
    return [sep.join(map(str, edge_list(G, d, name))) for d in data]


def _records_of(frame: pd.DataFrame, key: str) -> dict:
    """person_id -> sorted record keys (``SOURCE/ID``) of a children or persons frame."""
    if key not in frame.columns:
        return {}
    rk = pd.DataFrame({"p": frame["person_id"].astype(str), "r": frame[key].astype(str)})
    rk = rk.drop_duplicates().sort_values(["p", "r"])
    return _agg_lists(rk, "p", "r")


def _agg_lists(frame: pd.DataFrame, keys, col: str, limit: int | None = None) -> dict:
    """``{key: [values of col in frame order]}`` per group (at most ``limit`` each); one stable
    sort and list slicing instead of a Python call per group."""
    if len(frame) == 0:
        return {}
    keys = [keys] if isinstance(keys, str) else list(keys)
    codes = frame.groupby(keys, sort=False).ngroup().to_numpy()
    order = np.argsort(codes, kind="stable")
    c = codes[order]
    vals = _objects(frame[col])[order].tolist()
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    ends = np.r_[starts[1:], len(c)]
    if limit is not None:
        ends = np.minimum(ends, starts + limit)
    kf = frame[keys].iloc[order[starts]]
    kv = list(kf.itertuples(index=False, name=None)) if len(keys) > 1 else kf.iloc[:, 0].tolist()
    return {k: vals[s:e] for k, s, e in zip(kv, starts.tolist(), ends.tolist())}


def _date(x) -> str | None:
    try:
        t = pd.Timestamp(x)
    except (TypeError, ValueError):
        return None
    return None if pd.isna(t) else t.strftime("%Y-%m-%d")


def _f(x):
    try:
        x = float(x)
    except (TypeError, ValueError):
        return None
    return x if np.isfinite(x) else None


def _kind_from_id(nid: str, idx: RefIndex) -> str:
    if nid in idx.kinds:
        return idx.kinds[nid]
    head = nid.split(":", 1)[0]
    if head in ("premises", "place", "vehicle", "child"):
        return head
    return "person"


def _no_dates(frame: pd.DataFrame) -> pd.Series:
    """Missing dates as date-times (NaT), so that points without a date concatenate with the
    dated ones as one date-time column, not as an object column of a Timestamp per point."""
    return pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]")


def _place_points(episodes, place_events, children, persons, intelligence) -> pd.DataFrame:
    """Long frame of every geocoded point: who, relation, source, at, text, e, n, precision."""
    cols = ["who", "relation", "source", "at", "text", "easting", "northing", "precision",
            "restricted", "intel_key", "match_id"]
    parts = []
    rel_of = {"found_at": "found_at", "last_seen": "last_seen_at", "rhi_place": "went_to"}
    if place_events is not None and len(place_events):
        pe = place_events
        parts.append(pd.DataFrame({
            "who": pe["person_id"].astype(str), "relation": pe["kind"].map(rel_of).fillna("went_to"),
            "source": _col(pe, "event_key").where(_col(pe, "event_key").notna(), _col(pe, "episode_key")),
            "at": pe["at"], "text": _col(pe, "text"), "easting": pe["easting"],
            "northing": pe["northing"], "precision": _col(pe, "precision"), "restricted": False,
            "match_id": _col(pe, "match_id")}))
    elif episodes is not None and len(episodes):
        ep = episodes
        for pre, rel, at in (("found", "found_at", "returned_at"), ("last_seen", "last_seen_at", "reported_at")):
            if f"{pre}_e" not in ep.columns:
                continue
            parts.append(pd.DataFrame({
                "who": ep["person_id"].astype(str), "relation": rel, "source": ep["episode_key"],
                "at": _col(ep, at).where(_col(ep, at).notna(), _col(ep, "reported_at")),
                "text": _col(ep, f"{pre}_text"), "easting": ep[f"{pre}_e"],
                "northing": ep[f"{pre}_n"], "precision": _col(ep, f"{pre}_precision"),
                "restricted": False}))
    if children is not None and len(children) and "placement_e" in children.columns:
        c = children.drop_duplicates(["person_id", "placement_postcode"])
        parts.append(pd.DataFrame({
            "who": c["person_id"].astype(str), "relation": "resides_at", "source": c["child_key"],
            "at": _no_dates(c), "text": _col(c, "placement_postcode"), "easting": c["placement_e"],
            "northing": c["placement_n"], "precision": "postcode", "restricted": True}))
    if persons is not None and len(persons) and "address_e" in persons.columns:
        p = persons
        parts.append(pd.DataFrame({
            "who": p["person_id"].astype(str), "relation": "resides_at", "source": p["person_key"],
            "at": _no_dates(p), "text": _col(p, "address"), "easting": p["address_e"],
            # the store keeps the geocoder's address_precision; without the column an address
            # point is taken as a postcode centroid (what the gazetteer resolves to unless an
            # address file is loaded), never as an exact premises location
            "northing": p["address_n"], "precision": _col(p, "address_precision", "postcode"),
            "restricted": False}))
    if intelligence is not None and len(intelligence) and "easting" in intelligence.columns:
        it = intelligence
        parts.append(pd.DataFrame({
            "who": None, "relation": "mentioned_with", "source": it["intel_key"],
            "at": it["recorded_at"], "text": _col(it, "location_text"), "easting": it["easting"],
            "northing": it["northing"], "precision": _col(it, "precision"), "restricted": False,
            "intel_key": it["intel_key"]}))
    parts = [p.reindex(columns=cols) for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=cols)
    out = pd.concat(parts, ignore_index=True)
    out["easting"] = pd.to_numeric(out["easting"], errors="coerce")
    out["northing"] = pd.to_numeric(out["northing"], errors="coerce")
    out = out[out["easting"].notna() & out["northing"].notna()]
    out["restricted"] = out["restricted"].fillna(False).astype(bool)
    return out.reset_index(drop=True)

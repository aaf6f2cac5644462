"""Exports of the person-place graph in the formats analysts already use.

* GraphML (yEd, Gephi, networkx; http://graphml.graphdrawing.org/)
* GEXF 1.2 (Gephi; https://gexf.net/)
* Cytoscape.js JSON (``{"elements": {"nodes": [...], "edges": [...]}, "style": [...]}``;
  https://js.cytoscape.org/#notation/elements-json)
* i2 Analyst's Notebook import CSVs, one for entities and one for links, laid out for the
  Analyst's Notebook Importer; the import specification is explained in ``docs/i2_import.md``.

Every format keeps, on every link, its relation, source records, dates, 3x5x2 gradings and the
``intelligence`` flag; intelligence links are marked unconfirmed/tentative (i2 strength) or
dashed (Cytoscape style) and never presented as confirmed fact.

Mutual relations (:data:`MUTUAL`: associate, found_with, seen_with, mentioned_with) have no
direction: they are undirected edges in a directed graph (GraphML ``directed="false"``, GEXF
``type="undirected"``, Cytoscape class ``mutual`` without an arrowhead, i2 ``Without Arrows``), so
Gephi's in- and out-degrees count only relations that have a direction. networkx's readers refuse
such mixed graphs; :func:`read_graph` reads them with each undirected edge as a pair.
"""
from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import networkx as nx
import pandas as pd

from geo import results as R
from geo.collector import gc_paused
from network.graph import (LIST_ATTRS, PersonPlaceGraph, edge_list, edge_table, joined_edge_lists,
                           node_attr, node_items)

__all__ = ["write_graphml", "write_gexf", "cytoscape_json",
           "i2_frames", "write_all", "read_graph", "I2_ENTITY_TYPES", "I2_ENTITY_COLUMNS",
           "I2_LINK_COLUMNS", "MUTUAL"]

#: relations without a direction (A associates with B is B associates with A)
MUTUAL = frozenset({"associate", "found_with", "seen_with", "mentioned_with"})

I2_ENTITY_TYPES = {"child": "Child", "person": "Person", "place": "Location",
                   "premises": "Premises", "vehicle": "Vehicle"}
I2_ENTITY_COLUMNS = ["Entity Type", "Identity", "Label", "Description", "Role", "Records",
                     "Easting", "Northing", "Restricted", "Unresolved"]
I2_LINK_COLUMNS = ["Link ID", "Link Type", "From Entity Type", "From Identity",
                   "To Entity Type", "To Identity", "Direction", "Strength", "Label",
                   "Date", "Time", "Date Last", "Description", "Source Reference", "Source Type",
                   "Grade 1", "Grade 2", "Grade 3", "Intelligence", "Count", "Restricted"]


def _scalar(v):
    """A GraphML/GEXF-safe attribute value (str, int, float, bool) or None to drop it."""
    if v is None:
        return None
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float, str)):
        if isinstance(v, float) and v != v:
            return None
        return v
    if isinstance(v, (list, tuple, set)):
        return "; ".join(str(x) for x in v)
    if hasattr(v, "item"):  # numpy scalars
        return v.item()
    return str(v)


def _scalars(d: dict) -> dict:
    """:func:`_scalar` over an attribute dict, with the common types handled inline."""
    out = {}
    for k, v in d.items():
        t = type(v)
        if t is str or t is bool or t is int:
            out[k] = v
        elif t is list:
            out[k] = "; ".join(map(str, v))
        elif v is not None:
            x = _scalar(v)
            if x is not None:
                out[k] = x
    return out


class _EdgeRows:
    """The export view of ``G``'s edges, ``(edge_id, u, v, attrs)`` sorted by (u, v, key), with
    scalar attributes (provenance lists joined with ``; ``), unique edge ids ``e1``, ``e2`` ...
    and ``strength`` = ``unconfirmed`` on intelligence edges (``fact`` otherwise). Made a chunk
    of edges at a time on each iteration, so the whole view (gigabytes at national scale) is
    never held in memory; iterable more than once."""

    def __init__(self, G: nx.MultiDiGraph, chunk: int = 50_000):
        self.G = G
        self.chunk = chunk

    @functools.cached_property
    def edges(self) -> list:
        return sorted(self.G.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2]))

    def __len__(self) -> int:
        return self.G.number_of_edges()

    def __iter__(self):
        G, columnar = self.G, "edge_lists" in self.G.graph
        for start in range(0, len(self.edges), self.chunk):
            part = self.edges[start:start + self.chunk]
            data = [d for *_, d in part]
            joined = ({name: joined_edge_lists(G, data, name) for name in LIST_ATTRS}
                      if columnar else {})
            for i, (u, v, k, d) in enumerate(part):
                attrs = _scalars(d)
                if "eid" in d and joined:
                    del attrs["eid"]
                    for name in LIST_ATTRS:
                        attrs[name] = joined[name][i]
                intel = bool(d.get("intelligence", False))
                attrs["intelligence"] = intel
                attrs["strength"] = "unconfirmed" if intel else "fact"
                attrs.setdefault("relation", k)
                yield (f"e{start + i + 1}", u, v, attrs)


def _rows(G: nx.MultiDiGraph) -> tuple[list, _EdgeRows]:
    """The export view of ``G``: ``nodes`` = ``[(id, attrs)]`` sorted by id (scalar
    attributes, lists joined with ``; ``) and the edges as an :class:`_EdgeRows`."""
    nodes = [(n, _scalars(d)) for n, d in sorted(node_items(G), key=lambda x: x[0])]
    return nodes, _EdgeRows(G)


# --------------------------------------------------------------------------- columnar edges
# A graph built by ``network.graph.person_place_graph`` keeps its edges as columns (its edge
# table and provenance list columns, row = eid, sorted by (u, v, key): the order of the export
# view). Its export lines are made a chunk at a time by pyarrow string kernels, so no Python
# object is made per edge; the text is the same, byte for byte, as the per-edge writers make.
_XML_REPLACE = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("\n", "&#10;"),
                ("\r", "&#13;"), ("\t", "&#9;"))
_BAD_XML_RE2 = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x{fffe}\\x{ffff}]"
_JSON_SHORT = (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t"),
               ("\b", "\\b"), ("\f", "\\f"))


def _xml_col(arr):
    """:func:`_xml` over a pyarrow string array."""
    import pyarrow.compute as pc
    if not pc.any(pc.match_substring_regex(arr, '[&<>"\\n\\r\\t\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f'
                                                '\\x{fffe}\\x{ffff}]')).as_py():
        return arr
    for a, b in _XML_REPLACE:
        arr = pc.replace_substring(arr, a, b)
    return pc.replace_substring_regex(arr, _BAD_XML_RE2, "")


def _json_col(arr):
    """JSON string literals (``json`` with ``ensure_ascii=False``) of a pyarrow string array."""
    import pyarrow.compute as pc
    if pc.any(pc.match_substring_regex(arr, '[\\\\"\\x00-\\x1f]')).as_py():
        for a, b in _JSON_SHORT:
            arr = pc.replace_substring(arr, a, b)
        for c in [*range(0x00, 0x08), 0x0b, *range(0x0e, 0x20)]:
            arr = pc.replace_substring(arr, chr(c), f"\\u{c:04x}")
    return pc.binary_join_element_wise('"', arr, '"', "")


def _join(*parts):
    """Concatenate string arrays and literals element-wise; a null part adds nothing."""
    import pyarrow.compute as pc
    return pc.binary_join_element_wise(*parts, "", null_handling="replace", null_replacement="")


def _when(mask, arr):
    """``arr`` where ``mask``, else null."""
    import pyarrow as pa
    import pyarrow.compute as pc
    return pc.if_else(pa.array(mask, pa.bool_()), arr, pa.scalar(None, pa.string()))


class _EdgeColumns:
    """The export view of the edges of a graph with an edge table (:func:`network.graph.
    edge_table`), a chunk at a time as pyarrow columns: ``id`` (``e1`` ...), ``u``, ``v``,
    ``relation``, booleans ``intelligence``, ``restricted``, ``mutual`` (numpy), ``count``,
    ``first``, ``last`` (null where missing) and the provenance lists joined with ``; ``."""

    def __init__(self, G: nx.MultiDiGraph, chunk: int = 100_000):
        self.table = edge_table(G)
        self.lists = G.graph["edge_lists"]
        self.chunk = chunk

    def _names(self, col: str):
        """``(categories as a pyarrow string array, codes)`` of a categorical column: a chunk's
        strings are taken from the categories, not made as Python strings per edge."""
        import numpy as np
        import pyarrow as pa
        cat = self.table[col].cat
        return (pa.array(cat.categories.to_numpy(dtype=object), pa.string()),
                cat.codes.to_numpy().astype(np.int64))

    def __len__(self) -> int:
        return len(self.table)

    def __iter__(self):
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc
        t = self.table
        names = {c: self._names(c) for c in ("u", "v", "relation")}
        mutual = np.isin(names["relation"][0].to_numpy(zero_copy_only=False), list(MUTUAL))
        for start in range(0, len(t), self.chunk):
            part = t.iloc[start:start + self.chunk]
            n = len(part)

            def take(col):
                cats, codes = names[col]
                return cats.take(pa.array(codes[start:start + n]))
            cols = {
                "start": start,
                "id": pc.binary_join_element_wise(
                    "e", pc.cast(pa.array(np.arange(start + 1, start + n + 1)), pa.string()), ""),
                "u": take("u"), "v": take("v"), "relation": take("relation"),
                "intelligence": part["intelligence"].to_numpy(bool),
                "restricted": part["restricted"].to_numpy(bool),
                "mutual": mutual[names["relation"][1][start:start + n]],
                "count": pc.cast(pa.array(part["count"].to_numpy(np.int64)), pa.string()),
                "first": pa.array(part["first"].to_numpy(dtype=object), pa.string(), from_pandas=True),
                "last": pa.array(part["last"].to_numpy(dtype=object), pa.string(), from_pandas=True)}
            for name in LIST_ATTRS:
                cols[name] = pc.fill_null(pc.binary_join(self.lists[name].slice(start, n), "; "), "")
            yield cols


def _edge_columns(G: nx.MultiDiGraph, chunk: int = 100_000) -> _EdgeColumns | None:
    """The export view of ``G``'s edges as columns when ``G`` keeps its edges as columns (built
    by ``person_place_graph`` and unchanged since), else None (the per-edge view is used)."""
    if edge_table(G) is None or "edge_lists" not in G.graph:
        return None
    return _EdgeColumns(G, chunk)


def _edge_values(cols: dict, escape) -> dict:
    """Each export edge attribute's value text (``escape`` applied to the strings, booleans as
    ``true``/``false``), in the attribute order of the per-edge view (:class:`_EdgeRows`).
    Made once per chunk and escape (GraphML and GEXF share the XML text)."""
    cache = cols.setdefault("cache", {})
    if escape not in cache:
        cache[escape] = _edge_values_of(cols, escape)
    return cache[escape]


def _escaped_col(cols: dict, name: str, escape):
    """``escape(cols[name])``, made once per chunk."""
    cache = cols.setdefault("cache", {})
    if (name, escape) not in cache:
        cache[name, escape] = escape(cols[name])
    return cache[name, escape]


def _edge_values_of(cols: dict, escape) -> dict:
    import numpy as np
    import pyarrow as pa

    def boolean(mask):
        return pa.array(np.where(mask, "true", "false"), pa.string())

    return {"relation": escape(cols["relation"]), "intelligence": boolean(cols["intelligence"]),
            "restricted": boolean(cols["restricted"]), "count": cols["count"],
            "first": escape(cols["first"]), "last": escape(cols["last"]),
            **{name: escape(cols[name]) for name in LIST_ATTRS},
            "strength": escape(pa.array(np.where(cols["intelligence"], "unconfirmed", "fact"),
                                        pa.string()))}


def _lines_bytes(arr, ended: bool = False) -> memoryview:
    """The UTF-8 text of a pyarrow string array, each element followed by a newline (already
    there when ``ended``): a view of the array's data buffer, not a copy."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    if not ended:
        arr = pc.binary_join_element_wise(arr, "\n", "")
    if len(arr) == 0:
        return memoryview(b"")
    _, off, data = arr.buffers()
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    o = np.frombuffer(off, dtype=width)[arr.offset:arr.offset + len(arr) + 1]
    return memoryview(data)[int(o[0]):int(o[-1])]


def _wrapped(prefix: str, values: dict, suffix: str, name=lambda k: k) -> list:
    """The parts of ``prefix NAME`` + value + ``suffix`` for each value (``_join`` arguments):
    literals around a value without nulls; a value with nulls is joined first, so that the
    whole element is left out where the value is null."""
    import pyarrow.compute as pc
    parts = []
    for k, x in values.items():
        head = prefix.format(name(k))
        if x.null_count:
            parts.append(pc.binary_join_element_wise(head, x, suffix, ""))
        else:
            parts += [head, x, suffix]
    return parts


def _i2_link_arrays(G: nx.MultiDiGraph, edges: _EdgeColumns):
    """The i2 links of the edge columns a chunk at a time: ``(start, {column: pyarrow string
    array})`` in :data:`I2_LINK_COLUMNS` order (``Count`` as text), no Python object per
    edge except for the gradings of intelligence edges."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    t = edges.table
    etype = {n: I2_ENTITY_TYPES.get(k, "Person") for n, k in node_attr(G, "kind").items()}
    types = {}
    for side in ("u", "v"):
        cat = t[side].cat
        names = pa.array(pd.Series(cat.categories.astype(object)).map(etype).fillna("Person")
                         .to_numpy(dtype=object), pa.string())
        types[side] = (names, cat.codes.to_numpy())

    def text(values):
        return pa.array(values, pa.string())

    for cols in edges:
        start, n = cols["start"], len(cols["u"])
        intel = cols["intelligence"]
        g = np.full((n, 3), "", dtype=object)
        where = np.flatnonzero(intel)
        if len(where):
            taken = edges.lists["gradings"].slice(start, n).take(pa.array(where, pa.int64()))
            g[where] = [_grades(x) for x in taken.to_pylist()]
        strength = np.where(~intel, "Confirmed",
                            np.where(np.isin(g[:, 0], ["1", "2"]) & np.isin(g[:, 1], ["A", "B"]),
                                     "Unconfirmed", "Tentative"))
        rel = cols["relation"]
        first = pc.fill_null(cols["first"], "")
        etypes = {side: names.take(pa.array(codes[start:start + n])) for side, (names, codes)
                  in types.items()}
        yield start, {
            "Link ID": pc.binary_join_element_wise(
                "L", pc.cast(pa.array(np.arange(start + 1, start + n + 1)), pa.string()), ""),
            "Link Type": rel, "From Entity Type": etypes["u"], "From Identity": cols["u"],
            "To Entity Type": etypes["v"], "To Identity": cols["v"],
            "Direction": text(np.where(cols["mutual"], "Without Arrows", "With Arrows")),
            "Strength": text(strength),
            "Label": _join(rel, _when(intel, pa.scalar(" (intelligence)"))),
            "Date": pc.utf8_slice_codeunits(first, 0, 10),
            "Time": pc.utf8_slice_codeunits(first, 11, 19),
            "Date Last": pc.utf8_slice_codeunits(pc.fill_null(cols["last"], ""), 0, 10),
            "Description": cols["texts"], "Source Reference": cols["sources"],
            "Source Type": text(np.where(intel, "Intelligence", "Record")),
            "Grade 1": text(g[:, 0]), "Grade 2": text(g[:, 1]), "Grade 3": text(g[:, 2]),
            "Intelligence": text(np.where(intel, "Yes", "No")),
            "Count": cols["count"],
            "Restricted": text(np.where(cols["restricted"], "Yes", "No"))}


def _i2_link_columns(G: nx.MultiDiGraph, edges: _EdgeColumns):
    """The i2 links frames of :func:`_i2_link_chunks` from the edge columns, a chunk at a time."""
    if len(edges) == 0:
        yield pd.DataFrame(columns=I2_LINK_COLUMNS)
        return
    counts = edges.table["count"].to_numpy()
    for start, cols in _i2_link_arrays(G, edges):
        frame = {k: a.to_numpy(zero_copy_only=False) for k, a in cols.items()}
        frame["Count"] = counts[start:start + len(frame["Count"])]
        yield pd.DataFrame(frame, columns=I2_LINK_COLUMNS)


def _csv_quotes_cr() -> bool:
    """Whether the csv module (what ``DataFrame.to_csv`` writes with) quotes a field holding a
    carriage return when the line terminator is ``\\n`` (it does from Python 3.12 on)."""
    import csv
    import io
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(["a\rb", "c"])
    return buf.getvalue().startswith('"')


_CSV_QUOTED = '[,"\\n\\r]' if _csv_quotes_cr() else '[,"\\n]'


def _csv_col(arr):
    """CSV fields of a pyarrow string array as ``DataFrame.to_csv`` writes them (minimal
    quoting: a field holding a comma, quote or newline is quoted, quotes doubled; null is
    empty)."""
    import pyarrow.compute as pc
    arr = pc.fill_null(arr, "")
    need = pc.match_substring_regex(arr, _CSV_QUOTED)
    if not pc.any(need).as_py():
        return arr
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(arr, '"', '""'), '"', "")
    return pc.if_else(need, quoted, arr)


def _write_i2_links(G: nx.MultiDiGraph, path) -> None:
    """``i2_links.csv`` as ``DataFrame.to_csv`` writes the frames of :func:`_i2_link_chunks`
    (UTF-8 with a byte order mark), made column-wise by pyarrow when the graph keeps its
    edges as columns."""
    columns = _edge_columns(G)
    if columns is None:
        with open(path, "w", encoding="utf-8-sig", newline="") as f:
            for i, links in enumerate(_i2_link_chunks(G)):
                links.to_csv(f, index=False, header=i == 0)
        return
    with _WriteBehind(path) as f:
        f.write(("\ufeff" + ",".join(I2_LINK_COLUMNS) + "\n").encode("utf-8"))
        for _, cols in _i2_link_arrays(G, columns):
            parts = []
            for name in I2_LINK_COLUMNS:
                parts += [",", _csv_col(cols[name])] if parts else [_csv_col(cols[name])]
            f.write(_lines_bytes(_join(*parts)))


# --------------------------------------------------------------------------- columnar nodes
# The nodes' export text is made a group of nodes at a time: nodes whose attributes have the
# same names in the same order (9 groups at national scale) are one group, each attribute a
# column of it, escaped by pyarrow string kernels as the edge columns are; the groups' texts
# are written in node id order a slice at a time (:class:`_NodeLines`). The text is the same, byte for
# byte, as the per-node writers make (:func:`_escaped`, :meth:`_Cytoscape.enc`).
_FAST_TYPES = frozenset({str, bool, int, float, list})


def _type_name(ts: set) -> str:
    """The xml type of an attribute whose values have the python types ``ts`` (:func:`_attr_types`)."""
    if ts == {bool}:
        return "boolean"
    if ts <= {int}:
        return "long"
    if ts <= {int, float}:
        return "double"
    return "string"


class _NodeGroup:
    """Nodes with the same export attribute names: ``keys``, ``pos`` (their places in id order,
    numpy), ``cols`` (``{name: [export value]}``, :func:`_scalars` values) and ``types``
    (``{name: set of python types}``)."""
    __slots__ = ("keys", "pos", "cols", "types")

    def __init__(self, keys: tuple, pos, cols: dict):
        import numpy as np
        self.keys, self.pos, self.cols = keys, np.asarray(pos, dtype=np.int64), cols
        self.types = {k: set(map(type, c)) for k, c in cols.items()}


class _NodeView:
    """The nodes in id order: ``ids``, attribute dicts ``dicts``, ``arrow_ids`` (the ids as a
    pyarrow string array, None unless every id is a string) and :func:`_key_groups` of the
    dicts (``by_keys``). String ids are put in order by pyarrow (UTF-8 byte order is code
    point order, Python's); a person-place graph's node dict is read without a tuple per node
    (making them set off passes of the cyclic collector over the whole graph's heap)."""

    def __init__(self, ids: list, dicts: list):
        import pyarrow as pa
        import pyarrow.compute as pc
        arrow = pa.array(ids, pa.string()) if all(type(n) is str for n in ids) else None
        if arrow is None:
            order = sorted(range(len(ids)), key=ids.__getitem__)
        elif len(ids) > 1 and not pc.all(pc.less(arrow[:-1], arrow[1:])).as_py():
            order = pc.sort_indices(arrow).to_numpy()
            arrow = arrow.take(pa.array(order))
        else:
            order = None
        if order is not None:
            ids, dicts = [ids[i] for i in order], [dicts[i] for i in order]
        self.ids, self.dicts, self.arrow_ids = ids, dicts, arrow

    @classmethod
    def of(cls, G) -> "_NodeView":
        nodes = G.nodes if isinstance(G, PersonPlaceGraph) else dict(node_items(G))
        return cls(list(nodes), list(nodes.values()))

    @functools.cached_property
    def by_keys(self) -> dict:
        return _key_groups(self.dicts)


def _key_groups(dicts: list) -> dict:
    """``{attribute names in order: [places of the dicts with them]}``."""
    by_keys: dict = {}
    for i, kt in enumerate(map(tuple, dicts)):
        p = by_keys.get(kt)
        if p is None:
            by_keys[kt] = [i]
        else:
            p.append(i)
    return by_keys


def _node_groups(dicts: list, by_keys: dict) -> list | None:
    """:class:`_NodeGroup` of the nodes' attribute dicts (in id order), in the order of each
    group's first node. A group whose values are all str, bool, int, float (not NaN) or lists
    is made a column at a time (a list joined with ``; ``); any other group's nodes go through
    :func:`_scalars` one by one (a missing value drops its name) and are grouped again."""
    import operator
    if not all(type(k) is str for kt in by_keys for k in kt):
        return None
    groups = []
    for keys, pos in by_keys.items():
        ds = [dicts[i] for i in pos]
        cols, fast = {}, True
        for k in keys:
            col = list(map(operator.itemgetter(k), ds))
            ts = set(map(type, col))
            if not ts <= _FAST_TYPES or (float in ts and any(
                    v != v for v in col if type(v) is float)):
                fast = False
                break
            if list in ts:
                col = ["; ".join(map(str, v)) if type(v) is list else v for v in col]
            cols[k] = col
        if fast:
            groups.append(_NodeGroup(keys, pos, cols))
            continue
        again: dict = {}
        for i, d in zip(pos, ds):
            s = _scalars(d)
            again.setdefault(tuple(s), []).append((i, s))
        for kt, rows in again.items():
            groups.append(_NodeGroup(kt, [i for i, _ in rows],
                                     {k: [s[k] for _, s in rows] for k in kt}))
    groups.sort(key=lambda g: int(g.pos[0]))
    return groups


class _NodeColumns:
    """The export view of the nodes, sorted by id, as :func:`_node_groups`: their attribute
    types (:func:`_attr_types` over the nodes, in first-seen order) and the text of each
    format's node elements (:meth:`lines`, a pyarrow string array in id order); ``ids`` is
    the ids as a pyarrow string array."""

    def __init__(self, ids, groups: list):
        self.ids = ids
        self.groups = groups
        seen: dict = {}
        for g in self.groups:
            for k in g.keys:
                seen.setdefault(k, set()).update(g.types[k])
        self.types = {k: _type_name(ts) for k, ts in seen.items()}
        self._cache: dict = {}

    def _cached(self, key, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    def ids_of(self, gi: int, escape):
        """``escape`` of the ids of group ``gi``'s nodes (kept for XML, which two formats
        read)."""
        if escape is not _xml_col:
            return escape(self.ids.take(self._pos(gi)))
        return self._cached(("ids", gi), lambda: escape(self.ids.take(self._pos(gi))))

    def _pos(self, gi: int):
        import pyarrow as pa
        return pa.array(self.groups[gi].pos)

    def xml_value(self, gi: int, k: str, t: str | None = None):
        """The escaped XML text of attribute ``k`` of group ``gi`` (:func:`_escaped`; as
        type ``t`` instead of the attribute's type when given)."""
        t = t or self.types[k]
        return self._cached(("xml", gi, k, t), lambda: self._xml_value(self.groups[gi], k, t))

    def _xml_value(self, g: _NodeGroup, k: str, t: str):
        import numpy as np
        import pyarrow as pa
        col, ts = g.cols[k], g.types[k]
        if t == "boolean":
            return pa.array(np.where(np.array(col, dtype=bool), "true", "false"), pa.string())
        if t == "string":
            return _xml_col(pa.array(col if ts == {str} else [str(v) for v in col], pa.string()))
        if t == "double":
            return pa.array([repr(float(v)) if type(v) is int else str(v) for v in col], pa.string())
        return pa.array([str(v) for v in col], pa.string())

    def json_value(self, gi: int, k: str):
        """The JSON text of attribute ``k`` of group ``gi`` (the JSON encoder's, per value;
        not kept: one format reads it)."""
        import pyarrow as pa
        col, ts = self.groups[gi].cols[k], self.groups[gi].types[k]
        if ts == {str}:
            return _json_col(pa.array(col, pa.string()))
        enc = _Cytoscape.enc
        return pa.array([enc(v) for v in col], pa.string())

    def lines(self, element) -> "_NodeLines":
        """``element(group index, group)`` (a pyarrow string array per group) in node id
        order."""
        import numpy as np
        import pyarrow as pa
        parts = [element(gi, g).cast(pa.large_string()) for gi, g in enumerate(self.groups)]
        order = np.concatenate([g.pos for g in self.groups]) if parts else np.zeros(0, np.int64)
        texts = pa.concat_arrays(parts) if parts else pa.array([], pa.large_string())
        del parts
        return _NodeLines(texts, np.argsort(order, kind="stable"))


class _NodeLines:
    """Node element texts, group after group (``texts``, a pyarrow large string array), and
    where each node in id order is among them (``back``): written a slice at a time
    (:func:`_write_lines`), so the texts are not copied whole once more into id order."""

    def __init__(self, texts, back):
        self.texts, self.back = texts, back

    def slices(self, size: int = 100_000):
        """The texts in id order, ``size`` at a time (pyarrow string arrays)."""
        import pyarrow as pa
        for start in range(0, len(self.back), size):
            yield self.texts.take(pa.array(self.back[start:start + size])).cast(pa.string())


# --------------------------------------------------------------------------- XML writers
# Both writers stream one element at a time (no element tree of the whole graph in memory)
# and produce the documents networkx writes, validated in tests by reading them back with
# networkx and against the structure of the published schemas (keys/attributes declared
# before the graph, unique key ids, typed values).
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


_NEEDS_ESCAPE = re.compile('[&<>"\n\r\t\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]')


def _xml(value) -> str:
    """Text or attribute value escaped for XML 1.0 (characters XML forbids removed)."""
    s = value if type(value) is str else str(value)
    if _NEEDS_ESCAPE.search(s) is None:
        return s
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    s = s.replace("\n", "&#10;").replace("\r", "&#13;").replace("\t", "&#9;")
    return _BAD_XML.sub("", s)


def _bool_text(v) -> str:
    return "true" if v else "false"


def _double_text(v) -> str:
    return repr(float(v)) if type(v) is int else str(v)


_TEXT_OF = {"boolean": _bool_text, "string": _xml, "double": _double_text}


def _converters(types: dict) -> dict:
    """``{name: value -> escaped text}`` for attribute types (what :func:`_escaped` does per
    value, decided once per name)."""
    return {k: _TEXT_OF.get(t, str) for k, t in types.items()}


def _escaped_with(attrs: dict, conv: dict) -> list:
    """:func:`_escaped` with the converters of :func:`_converters`."""
    return [(k, conv[k](v)) for k, v in attrs.items()]


def _escaped(attrs: dict, types: dict) -> list:
    """``[(name, escaped value text)]`` of one element's attributes in attribute order."""
    row = []
    for k, v in attrs.items():
        t = types[k]
        if t == "boolean":
            row.append((k, "true" if v else "false"))
        elif t == "string":
            row.append((k, _xml(v)))
        elif t == "double" and type(v) is int:
            row.append((k, repr(float(v))))
        else:
            row.append((k, str(v)))
    return row


def _attr_types(items) -> dict:
    """``{name: xml type}`` over attribute dicts: the most general type of each name's values
    (bool -> boolean, int -> long, float or int+float -> double, anything else -> string)."""
    seen: dict = {}
    for attrs in items:
        for k, v in attrs.items():
            t = type(v)
            cur = seen.get(k)
            if cur is None:
                seen[k] = {t}
            elif t not in cur:
                cur.add(t)
    return {k: _type_name(ts) for k, ts in seen.items()}


#: the export attribute types of edges built by ``network.graph.person_place_graph``
#: (known without a pass over millions of edges)
GRAPH_EDGE_TYPES = {"relation": "string", "sources": "string", "dates": "string",
                    "first": "string", "last": "string", "gradings": "string",
                    "intelligence": "boolean", "restricted": "boolean", "count": "long",
                    "texts": "string", "strength": "string"}


class _Prepared:
    """The export rows with their attribute types, shared by the writers: the nodes as
    :class:`_NodeColumns` (``nodecols``) when their ids and attribute names are strings, else
    with escaped node values kept per node; edges (:class:`_EdgeRows`) are escaped as they are
    written (:meth:`edges`). ``view``: the nodes' :class:`_NodeView` when the caller has it."""

    def __init__(self, G: nx.MultiDiGraph, view: _NodeView | None = None):
        self._edges = _EdgeRows(G)
        with gc_paused():
            view = view or _NodeView.of(G)
            groups = (None if view.arrow_ids is None
                      else _node_groups(view.dicts, view.by_keys))
        self.nodecols = None if groups is None else _NodeColumns(view.arrow_ids, groups)
        if self.nodecols is not None:
            self.ntypes = self.nodecols.types
        else:
            nodes = [(n, _scalars(d)) for n, d in zip(view.ids, view.dicts)]
            self.nodes = nodes
            self.node_ids = [_xml(n) for n, _ in nodes]
            self.node_labels = [_xml(a.get("label", n)) for n, a in nodes]
            self.ntypes = _attr_types(a for _, a in nodes)
            conv = _converters(self.ntypes)
            self.nvals = [_escaped_with(a, conv) for _, a in nodes]
        # an unchanged person-place graph has the known edge types; any other graph is read
        self.etypes = (dict(GRAPH_EDGE_TYPES) if edge_table(G) is not None
                       else _attr_types(a for *_, a in self._edges))
        #: the edges as columns (:class:`_EdgeColumns`) when the graph keeps them, else None
        self.columns = _edge_columns(G)

    def edges(self):
        """``(edge_id, u, v, attrs, xml u, xml v, xml relation, [(name, xml value)])``."""
        for e, u, v, a in self._edges:
            yield (e, u, v, a, _xml(u), _xml(v), _xml(a.get("relation", "")),
                   _escaped(a, self.etypes))


class _GraphML:
    """GraphML as networkx's ``write_graphml(named_key_ids=True)`` writes it."""

    def head(self, pr: _Prepared):
        ntypes, etypes = pr.ntypes, pr.etypes
        # key ids are the attribute names (named_key_ids); an edge attribute that shares a node
        # attribute's name gets ``edge_NAME`` so every key id is unique, as the schema requires
        nid = {k: _xml(k) for k in ntypes}
        self.eid = {k: _xml(f"edge_{k}" if k in ntypes else k) for k in etypes}
        yield "<?xml version='1.0' encoding='utf-8'?>"
        yield ('<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
               'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
               'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
               'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">')
        for scope, types, ids in (("node", ntypes, nid), ("edge", etypes, self.eid)):
            for k, t in types.items():
                yield (f'  <key id="{ids[k]}" for="{scope}" attr.name="{_xml(k)}" '
                       f'attr.type="{t}" />')
        yield '  <graph edgedefault="directed">'
        nc = pr.nodecols
        if nc is not None:
            def element(gi, g):
                ids = nc.ids_of(gi, _xml_col)
                if not g.keys:
                    return _join('    <node id="', ids, '" />')
                parts = []
                for k in g.keys:
                    parts += [f'      <data key="{nid[k]}">', nc.xml_value(gi, k), "</data>\n"]
                return _join('    <node id="', ids, '">\n', *parts, "    </node>")
            yield nc.lines(element)
            return
        for n, vals in zip(pr.node_ids, pr.nvals):
            if not vals:
                yield f'    <node id="{n}" />'
                continue
            yield (f'    <node id="{n}">\n'
                   + "".join([f'      <data key="{nid[k]}">{x}</data>\n' for k, x in vals])
                   + "    </node>")

    def edge(self, row, i: int) -> str:
        e, _, _, a, u, v, _, vals = row
        eid = self.eid
        mutual = ' directed="false"' if a.get("relation") in MUTUAL else ""
        return (f'    <edge source="{u}" target="{v}" id="{e}"{mutual}>\n'
                + "".join([f'      <data key="{eid[k]}">{x}</data>\n' for k, x in vals])
                + "    </edge>")

    def edge_chunk(self, cols: dict):
        """:meth:`edge` over a chunk of :class:`_EdgeColumns`, as a pyarrow string array (each
        line ending in a newline)."""
        import pyarrow as pa
        import pyarrow.compute as pc
        vals = _edge_values(cols, _xml_col)
        return _join('    <edge source="', _escaped_col(cols, "u", _xml_col), '" target="',
                     _escaped_col(cols, "v", _xml_col),
                     '" id="', cols["id"], '"', _when(cols["mutual"], pa.scalar(' directed="false"')),
                     ">\n",
                     *_wrapped('      <data key="{}">', vals, "</data>\n", self.eid.__getitem__),
                     "    </edge>\n")

    def tail(self):
        yield "  </graph>"
        yield "</graphml>"


class _GEXF:
    """GEXF 1.2draft as networkx's ``write_gexf(version="1.2draft")`` lays it out."""

    def head(self, pr: _Prepared):
        import datetime as _dt

        import networkx

        ntypes = {k: t for k, t in pr.ntypes.items() if k != "label"}
        etypes = {k: t for k, t in pr.etypes.items() if k != "label"}
        etypes["networkx_key"] = "string"
        self.eid = eid = {k: str(i) for i, k in enumerate(etypes)}
        nid = {k: str(i + len(eid)) for i, k in enumerate(ntypes)}
        today = _dt.date.today().isoformat()
        yield "<?xml version='1.0' encoding='utf-8'?>"
        yield ('<gexf xmlns="http://www.gexf.net/1.2draft" '
               'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
               'xsi:schemaLocation="http://www.gexf.net/1.2draft http://www.gexf.net/1.2draft/gexf.xsd" '
               'version="1.2">')
        yield f'  <meta lastmodifieddate="{today}">'
        yield f"    <creator>Wayfinder (GEXF 1.2draft as NetworkX {networkx.__version__} writes it)</creator>"
        yield "  </meta>"
        yield '  <graph defaultedgetype="directed" mode="static">'
        for cls, types, ids in (("edge", etypes, eid), ("node", ntypes, nid)):
            if not types:
                continue
            yield f'    <attributes mode="static" class="{cls}">'
            for k, t in types.items():
                yield f'      <attribute id="{ids[k]}" title="{_xml(k)}" type="{t}" />'
            yield "    </attributes>"
        yield "    <nodes>"
        nc = pr.nodecols
        if nc is not None:
            def element(gi, g):
                ids = nc.ids_of(gi, _xml_col)
                label = nc.xml_value(gi, "label", "string") if "label" in g.keys else ids
                keys = [k for k in g.keys if k != "label"]
                if not keys:
                    return _join('      <node id="', ids, '" label="', label, '" />')
                parts = []
                for k in keys:
                    parts += [f'          <attvalue for="{nid[k]}" value="', nc.xml_value(gi, k),
                              '" />\n']
                return _join('      <node id="', ids, '" label="', label,
                             '">\n        <attvalues>\n', *parts,
                             "        </attvalues>\n      </node>")
            yield nc.lines(element)
        for n, label, vals in (() if nc is not None else
                               zip(pr.node_ids, pr.node_labels, pr.nvals)):
            vals = [(k, x) for k, x in vals if k != "label"]
            if not vals:
                yield f'      <node id="{n}" label="{label}" />'
                continue
            yield (f'      <node id="{n}" label="{label}">\n        <attvalues>\n'
                   + "".join([f'          <attvalue for="{nid[k]}" value="{x}" />\n' for k, x in vals])
                   + "        </attvalues>\n      </node>")
        yield "    </nodes>"
        yield "    <edges>"

    def edge(self, row, i: int) -> str:
        e, _, _, a, u, v, rel, vals = row
        eid = self.eid
        kind = "undirected" if a.get("relation") in MUTUAL else "directed"
        return (f'      <edge source="{u}" target="{v}" id="{e}" type="{kind}" label="{rel}">\n'
                '        <attvalues>\n'
                + "".join([f'          <attvalue for="{eid[k]}" value="{x}" />\n'
                           for k, x in vals if k != "label"])
                + f'          <attvalue for="{eid["networkx_key"]}" value="{e}" />\n'
                + "        </attvalues>\n      </edge>")

    def edge_chunk(self, cols: dict):
        """:meth:`edge` over a chunk of :class:`_EdgeColumns`, as a pyarrow string array (each
        line ending in a newline)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc
        vals = _edge_values(cols, _xml_col)
        kind = pa.array(np.where(cols["mutual"], "undirected", "directed"), pa.string())
        return _join('      <edge source="', _escaped_col(cols, "u", _xml_col), '" target="',
                     _escaped_col(cols, "v", _xml_col),
                     '" id="', cols["id"], '" type="', kind, '" label="', vals["relation"],
                     '">\n        <attvalues>\n',
                     *_wrapped('          <attvalue for="{}" value="', vals, '" />\n', self.eid.__getitem__),
                     f'          <attvalue for="{self.eid["networkx_key"]}" value="', cols["id"],
                     '" />\n        </attvalues>\n      </edge>\n')

    def tail(self):
        yield "    </edges>"
        yield "  </graph>"
        yield "</gexf>"


CYTOSCAPE_STYLE = [
    {"selector": "node", "style": {"label": "data(label)"}},
    {"selector": "node.child", "style": {"background-color": "#1f77b4", "shape": "ellipse"}},
    {"selector": "node.person", "style": {"background-color": "#d62728", "shape": "ellipse"}},
    {"selector": "node.place", "style": {"background-color": "#2ca02c", "shape": "diamond"}},
    {"selector": "node.premises", "style": {"background-color": "#ff7f0e", "shape": "round-rectangle"}},
    {"selector": "node.vehicle", "style": {"background-color": "#9467bd", "shape": "triangle"}},
    {"selector": "edge", "style": {"label": "data(relation)", "curve-style": "bezier",
                                    "target-arrow-shape": "triangle"}},
    {"selector": "edge.mutual", "style": {"target-arrow-shape": "none"}},
    {"selector": "edge.intelligence", "style": {"line-style": "dashed", "line-color": "#999999"}},
]


def _cytoscape_node(n, d) -> dict:
    return {"data": {"id": n, **d}, "classes": str(d.get("kind", ""))}


def _cytoscape_edge(e, u, v, d) -> dict:
    rel = str(d.get("relation", ""))
    return {"data": {"id": e, "source": u, "target": v, **d},
            "classes": rel + (" mutual" if rel in MUTUAL else "")
            + (" intelligence" if d.get("intelligence") else "")}


class _Cytoscape:
    """Cytoscape.js elements JSON, one element per line (json's C encoder per element: the
    indented encoder is pure Python and far slower on a large graph)."""
    enc = json.JSONEncoder(ensure_ascii=False).encode

    def head(self, pr: _Prepared):
        yield '{"format_version": "1.0", "generated_by": "wayfinder", "elements": {"nodes": ['
        nc = pr.nodecols
        if nc is not None:
            import numpy as np
            import pyarrow as pa

            def element(gi, g):
                lead = pa.array(np.where(g.pos == 0, " ", ", "), pa.string())
                ids = nc.json_value(gi, "id") if "id" in g.keys else nc.ids_of(gi, _json_col)
                parts = []
                for k in g.keys:
                    if k != "id":
                        parts += [", " + self.enc(k) + ": ", nc.json_value(gi, k)]
                classes = (_json_col(pa.array([str(v) for v in g.cols["kind"]], pa.string()))
                           if "kind" in g.keys else '""')
                return _join(lead, '{"data": {"id": ', ids, *parts, '}, "classes": ', classes, "}")
            yield nc.lines(element)
        for i, (n, d) in enumerate(pr.nodes if nc is None else ()):
            yield (", " if i else " ") + self.enc(_cytoscape_node(n, d))
        yield '], "edges": ['

    def edge(self, row, i: int) -> str:
        e, u, v, d = row[:4]
        return (", " if i else " ") + self.enc(_cytoscape_edge(e, u, v, d))

    def edge_chunk(self, cols: dict):
        """:meth:`edge` over a chunk of :class:`_EdgeColumns`, as a pyarrow string array (each
        line ending in a newline)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc
        vals = _edge_values(cols, _json_col)
        n = len(cols["u"])
        lead = np.full(n, ", ", dtype=object)
        if cols["start"] == 0 and n:
            lead[0] = " "
        rel = cols["relation"]
        classes = _join(rel, _when(cols["mutual"], pa.scalar(" mutual")),
                        _when(cols["intelligence"], pa.scalar(" intelligence")))
        return _join(pa.array(lead, pa.string()), '{"data": {"id": ', _json_col(cols["id"]),
                     ', "source": ', _json_col(cols["u"]), ', "target": ', _json_col(cols["v"]),
                     *_wrapped(', {}: ', vals, "", json.dumps),
                     '}, "classes": ', _json_col(classes), "}\n")

    def tail(self):
        yield "]},"
        yield ' "style": ' + self.enc(CYTOSCAPE_STYLE) + "}"


class _WriteBehind:
    """A binary file written in order by a thread of its own: ``write`` hands the bytes over
    and returns, so the next chunk's text is made while this one is written (a file write
    releases the GIL; writing the national graph's 5.6 GB is a third of its exports' time).
    At most ``depth`` chunks wait besides the one being written, which bounds the memory. An
    error of the thread is raised by the next ``write`` or by ``close``."""

    def __init__(self, path, depth: int = 1):
        import queue
        import threading
        self._f = open(path, "wb", buffering=1 << 20)
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=f"write {path}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (data := self._q.get()) is not None:
            if self._error is None:
                try:
                    self._f.write(data)
                except BaseException as err:     # raised in the caller's thread
                    self._error = err

    def write(self, data) -> None:
        if self._error is not None:
            raise self._error
        self._q.put(data)

    def close(self) -> None:
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
        self._f.close()
        if self._error is not None:
            raise self._error

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _write_lines(f, lines, batch: int = 20_000) -> None:
    """Write text lines, each followed by a newline, UTF-8 encoded ``batch`` lines at a time
    (one encode and write per line is most of the cost for the nodes of a large graph)."""
    buf: list = []
    for line in lines:
        if type(line) is not str:      # node elements (_NodeLines)
            if buf:
                buf.append("")
                f.write("\n".join(buf).encode("utf-8"))
                buf.clear()
            for part in line.slices():
                f.write(_lines_bytes(part))
            continue
        buf.append(line)
        if len(buf) >= batch:
            buf.append("")
            f.write("\n".join(buf).encode("utf-8"))
            buf.clear()
    if buf:
        buf.append("")
        f.write("\n".join(buf).encode("utf-8"))


def _write_formats(pr: _Prepared, targets: dict) -> None:
    """Write each ``{path: format}`` in one pass over the edges (every format lists the nodes
    before the edges)."""
    files = {Path(p): _WriteBehind(p) for p in targets}
    try:
        fmts = [(files[Path(p)], f) for p, f in targets.items()]
        for f, fmt in fmts:
            _write_lines(f, fmt.head(pr))
        pr.nodecols = None      # the node texts (hundreds of megabytes) are written
        if pr.columns is not None:
            for cols in pr.columns:
                for f, fmt in fmts:
                    f.write(_lines_bytes(fmt.edge_chunk(cols), ended=True))
        else:
            for i, row in enumerate(pr.edges()):
                for f, fmt in fmts:
                    f.write((fmt.edge(row, i) + "\n").encode("utf-8"))
        for f, fmt in fmts:
            _write_lines(f, fmt.tail())
    finally:
        for f in files.values():
            f.close()


def write_graphml(G: nx.MultiDiGraph, path) -> Path:
    """GraphML, directed, one ``<edge>`` per (pair, relation, fact/intelligence).

    Streamed by Wayfinder's own writer (networkx builds an element tree of the whole graph
    first: minutes and gigabytes at national scale); the same document networkx's
    ``write_graphml(named_key_ids=True)`` writes, with key ids made unique where a node and an
    edge attribute share a name (``edge_NAME``; ``attr.name`` is unchanged) and booleans as
    ``true``/``false``."""
    _write_formats(_Prepared(G), {path: _GraphML()})
    return Path(path)


def write_gexf(G: nx.MultiDiGraph, path) -> Path:
    """GEXF 1.2draft for Gephi (node ``label``; edge ``label`` = relation), streamed as
    networkx's ``write_gexf(version="1.2draft")`` lays it out (edge id = the export's unique
    edge id, ``networkx_key`` attribute for networkx round trips)."""
    _write_formats(_Prepared(G), {path: _GEXF()})
    return Path(path)


def cytoscape_json(G: nx.MultiDiGraph) -> dict:
    """Cytoscape.js elements JSON with classes ``KIND`` on nodes and ``RELATION`` plus
    ``intelligence`` on intelligence edges, and a default style that dashes them."""
    nodes, edges = _rows(G)
    return {"format_version": "1.0", "generated_by": "wayfinder",
            "elements": {"nodes": [_cytoscape_node(n, d) for n, d in nodes],
                         "edges": [_cytoscape_edge(*r) for r in edges]},
            "style": CYTOSCAPE_STYLE}


def _grades(gradings) -> tuple[str, str, str]:
    """Best 3x5x2 grading split into i2's Grade 1 (source), Grade 2 (intelligence), Grade 3
    (handling)."""
    best = None
    for g in gradings or []:
        g = str(g).strip().upper()
        if not g:
            continue
        if best is None or g[:2] < best[:2]:
            best = g
    if not best:
        return "", "", ""
    code, _, handling = best.partition(" ")
    return (code[:1], code[1:2], handling.strip())


_I2_DESCRIBED = ("care_status", "cse_risk", "premises_type", "postcode", "precision", "status")


def _i2_entities(G: nx.MultiDiGraph) -> pd.DataFrame:
    """The i2 entities frame, one row per node sorted by id, made as column lists."""
    items = sorted(node_items(G), key=lambda x: x[0])
    attrs = [d for _, d in items]
    kinds = [d.get("kind", "person") for d in attrs]
    cols = {
        "Entity Type": [I2_ENTITY_TYPES.get(k, "Person") for k in kinds],
        "Identity": [n for n, _ in items],
        "Label": [d.get("label", n) for n, d in items],
        "Description": ["; ".join([f"{a}={d[a]}" for a in _I2_DESCRIBED if d.get(a)])
                        for d in attrs],
        "Role": [d.get("role", "child" if k == "child" else "") for d, k in zip(attrs, kinds)],
        "Records": ["; ".join(d.get("records") or []) for d in attrs],
        "Easting": [_round(d.get("easting")) for d in attrs],
        "Northing": [_round(d.get("northing")) for d in attrs],
        "Restricted": ["Yes" if d.get("restricted") else "No" for d in attrs],
        "Unresolved": ["Yes" if d.get("unresolved") else "No" for d in attrs]}
    return pd.DataFrame(cols, columns=I2_ENTITY_COLUMNS)


def _i2_entity_arrays(G: nx.MultiDiGraph, view: _NodeView | None = None) -> dict | None:
    """The columns of :func:`_i2_entities` as pyarrow string arrays (the text ``to_csv``
    writes), made a group of nodes with the same attribute names at a time; None when a node
    id, label or role is not a string or there are no nodes (:func:`_i2_entities` then)."""
    import operator

    import numpy as np
    import pyarrow as pa
    view = view or _NodeView.of(G)
    ids, dicts = view.ids, view.dicts
    if not ids or view.arrow_ids is None:
        return None
    parts: dict = {c: [] for c in I2_ENTITY_COLUMNS}
    order = []
    for keys, pos in view.by_keys.items():
        ds = [dicts[i] for i in pos]
        m = len(ds)

        def col(name):
            return list(map(operator.itemgetter(name), ds)) if name in keys else None
        kinds = col("kind") or ["person"] * m
        gid = [ids[i] for i in pos]
        label, role = col("label") or gid, col("role")
        if role is None:
            role = ["child" if k == "child" else "" for k in kinds]
        if not all(type(x) is str for x in label) or not all(type(x) is str for x in role):
            return None
        described = [[f"{a}={v}" if v else "" for v in c]
                     for a in _I2_DESCRIBED if (c := col(a)) is not None]
        flags = {}
        for name in ("restricted", "unresolved"):
            c = col(name)
            flags[name] = ["No"] * m if c is None else ["Yes" if v else "No" for v in c]
        place = {}
        for name in ("easting", "northing"):
            c = col(name)
            place[name] = [""] * m if c is None else [str(_round(v)) for v in c]
        records = col("records")
        group = {
            "Entity Type": [I2_ENTITY_TYPES.get(k, "Person") for k in kinds],
            "Identity": gid, "Label": label,
            "Description": (["; ".join(filter(None, t)) for t in zip(*described)] if described
                            else [""] * m),
            "Role": role,
            "Records": [""] * m if records is None else ["; ".join(v or []) for v in records],
            "Easting": place["easting"], "Northing": place["northing"],
            "Restricted": flags["restricted"], "Unresolved": flags["unresolved"]}
        for c in I2_ENTITY_COLUMNS:
            parts[c].append(pa.array(group[c], pa.large_string()))
        order.append(np.asarray(pos, dtype=np.int64))
    back = pa.array(np.argsort(np.concatenate(order), kind="stable"))
    return {c: pa.concat_arrays(a).take(back) for c, a in parts.items()}


def _write_i2_entities(G: nx.MultiDiGraph, path, view: _NodeView | None = None) -> None:
    """``i2_entities.csv`` as ``DataFrame.to_csv`` writes :func:`_i2_entities` (UTF-8 with a
    byte order mark), made column-wise by pyarrow."""
    with gc_paused():
        cols = _i2_entity_arrays(G, view)
    if cols is None:
        _i2_entities(G).to_csv(path, index=False, encoding="utf-8-sig")
        return
    with _WriteBehind(path) as f:
        f.write(("\ufeff" + ",".join(I2_ENTITY_COLUMNS) + "\n").encode("utf-8"))
        n = len(cols["Identity"])
        for start in range(0, n, 100_000):
            parts = []
            for name in I2_ENTITY_COLUMNS:
                x = _csv_col(cols[name].slice(start, 100_000).cast("string"))
                parts += [",", x] if parts else [x]
            f.write(_lines_bytes(_join(*parts)))


def _i2_link_chunks(G: nx.MultiDiGraph, chunk: int = 100_000):
    """The i2 links frame a chunk of edges at a time (sorted by u, v, key)."""
    columns = _edge_columns(G, chunk)
    if columns is not None:
        yield from _i2_link_columns(G, columns)
        return
    edges = sorted(G.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2]))
    kind = node_attr(G, "kind")
    etype = {n: I2_ENTITY_TYPES.get(k, "Person") for n, k in kind.items()}
    for start in range(0, max(len(edges), 1), chunk):
        part = edges[start:start + chunk]
        data = [d for *_, d in part]
        texts = joined_edge_lists(G, data, "texts")
        sources = joined_edge_lists(G, data, "sources")
        links = []
        for i, (u, v, k, d) in enumerate(part):
            intel = bool(d.get("intelligence", False))
            g1, g2, g3 = _grades(edge_list(G, d, "gradings")) if intel else ("", "", "")
            if not intel:
                strength = "Confirmed"
            elif g1 in ("1", "2") and g2 in ("A", "B"):
                strength = "Unconfirmed"
            else:
                strength = "Tentative"
            first = d.get("first") or ""
            rel = d.get("relation", k)
            links.append((
                f"L{start + i + 1}", rel, etype.get(u, "Person"), u, etype.get(v, "Person"), v,
                "Without Arrows" if rel in MUTUAL else "With Arrows", strength,
                rel + (" (intelligence)" if intel else ""),
                first[:10], first[11:19], (d.get("last") or "")[:10],
                texts[i], sources[i], "Intelligence" if intel else "Record", g1, g2, g3,
                "Yes" if intel else "No", int(d.get("count", 1)),
                "Yes" if d.get("restricted") else "No"))
        yield pd.DataFrame.from_records(links, columns=I2_LINK_COLUMNS)


def i2_frames(G: nx.MultiDiGraph) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Entities and links frames for the i2 Analyst's Notebook Importer (``docs/i2_import.md``).

    Links from intelligence have ``Strength`` ``Unconfirmed`` when the best grading is source
    1-2 and assessment A-B, ``Tentative`` otherwise; recorded facts are ``Confirmed``.
    """
    return _i2_entities(G), pd.concat(list(_i2_link_chunks(G)), ignore_index=True)


def _round(x):
    try:
        return "" if x is None else int(round(float(x)))
    except (TypeError, ValueError):
        return ""


def write_all(G: nx.MultiDiGraph, out_dir) -> dict[str, Path]:
    """Write ``graph.graphml``, ``graph.gexf``, ``cytoscape.json``, ``i2_entities.csv`` and
    ``i2_links.csv`` into ``out_dir``; returns the paths by name.

    Every file is written in full at every scale (nothing is skipped or sampled), streamed a
    chunk of edges at a time: the export view of the edges (:class:`_EdgeRows`) and the i2
    links are never whole in memory, and GraphML, GEXF and Cytoscape are written in one pass
    over the edges."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"graphml": out / R.GRAPHML.file, "gexf": out / R.GEXF.file,
             "cytoscape": out / R.CYTOSCAPE.file}
    with gc_paused():
        view = _NodeView.of(G)
    _write_formats(_Prepared(G, view), {paths["graphml"]: _GraphML(), paths["gexf"]: _GEXF(),
                                        paths["cytoscape"]: _Cytoscape()})
    paths["i2_entities"] = out / R.I2_ENTITIES.file
    paths["i2_links"] = out / R.I2_LINKS.file
    # UTF-8 with a byte order mark: the i2 Importer (and Excel) then read names such as
    # "Zoë" or "Łukasz" as written instead of guessing a Windows code page
    _write_i2_entities(G, paths["i2_entities"], view)
    del view
    _write_i2_links(G, paths["i2_links"])
    return paths


def read_graph(path) -> nx.MultiDiGraph:
    """A Wayfinder ``graph.graphml`` or ``graph.gexf`` read with networkx, which refuses graphs
    that mix directed and undirected edges: each undirected (mutual) edge is read as the two
    directed edges u->v and v->u, both with ``mutual=True`` (the usual directed form of an
    undirected edge; ``G.to_undirected()`` folds them back)."""
    import copy
    import io
    import xml.etree.ElementTree as ET

    tree = ET.parse(path)
    root = tree.getroot()
    ns = root.tag[1:root.tag.index("}")]
    gexf = root.tag.endswith("}gexf")
    mark, undirected = ("type", "undirected") if gexf else ("directed", "false")
    flipped = set()
    for parent in root.iter(f"{{{ns}}}edges" if gexf else f"{{{ns}}}graph"):
        edges = list(parent.findall(f"{{{ns}}}edge"))
        for e in edges:
            if e.get(mark) != undirected:
                continue
            e.attrib.pop(mark)
            back = copy.deepcopy(e)
            back.set("source", e.get("target"))
            back.set("target", e.get("source"))
            parent.insert(list(parent).index(e) + 1, back)
            flipped.add(e.get("id"))
    buf = io.BytesIO()
    tree.write(buf, xml_declaration=True, encoding="utf-8")
    buf.seek(0)
    G = nx.read_gexf(buf) if gexf else nx.read_graphml(buf, force_multigraph=True)
    for _, _, k, d in G.edges(keys=True, data=True):
        d["mutual"] = k in flipped
    return G

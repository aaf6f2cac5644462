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
"""
from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pandas as pd

__all__ = ["export_graph", "write_graphml", "write_gexf", "cytoscape_json", "i2_frames",
           "write_all", "I2_ENTITY_TYPES", "I2_ENTITY_COLUMNS", "I2_LINK_COLUMNS"]

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


def export_graph(G: nx.MultiDiGraph) -> nx.MultiDiGraph:
    """A copy of ``G`` whose attributes are scalars (lists joined with ``; ``), whose edge keys
    are unique ids (``e1``, ``e2`` ... in sorted order) and whose intelligence edges carry
    ``strength`` = unconfirmed (``fact`` otherwise)."""
    H = nx.MultiDiGraph()
    for n, d in sorted(G.nodes(data=True)):
        H.add_node(n, **{k: s for k, v in d.items() if (s := _scalar(v)) is not None})
    edges = sorted(G.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2]))
    for i, (u, v, k, d) in enumerate(edges, start=1):
        attrs = {a: s for a, x in d.items() if (s := _scalar(x)) is not None}
        attrs["intelligence"] = bool(d.get("intelligence", False))
        attrs["strength"] = "unconfirmed" if attrs["intelligence"] else "fact"
        attrs.setdefault("relation", k)
        H.add_edge(u, v, key=f"e{i}", **attrs)
    return H


def write_graphml(G: nx.MultiDiGraph, path) -> Path:
    """GraphML, directed, one ``<edge>`` per (pair, relation, fact/intelligence)."""
    nx.write_graphml(export_graph(G), str(path), named_key_ids=True)
    return Path(path)


def write_gexf(G: nx.MultiDiGraph, path) -> Path:
    """GEXF 1.2draft for Gephi (node ``label``; edge ``label`` = relation)."""
    H = export_graph(G)
    for _, _, d in H.edges(data=True):
        d["label"] = d.get("relation", "")
    nx.write_gexf(H, str(path), version="1.2draft")
    return Path(path)


CYTOSCAPE_STYLE = [
    {"selector": "node", "style": {"label": "data(label)"}},
    {"selector": "node.child", "style": {"background-color": "#1f77b4", "shape": "ellipse"}},
    {"selector": "node.person", "style": {"background-color": "#d62728", "shape": "ellipse"}},
    {"selector": "node.place", "style": {"background-color": "#2ca02c", "shape": "diamond"}},
    {"selector": "node.premises", "style": {"background-color": "#ff7f0e", "shape": "round-rectangle"}},
    {"selector": "node.vehicle", "style": {"background-color": "#9467bd", "shape": "triangle"}},
    {"selector": "edge", "style": {"label": "data(relation)", "curve-style": "bezier",
                                    "target-arrow-shape": "triangle"}},
    {"selector": "edge.intelligence", "style": {"line-style": "dashed", "line-color": "#999999"}},
]


def cytoscape_json(G: nx.MultiDiGraph) -> dict:
    """Cytoscape.js elements JSON with classes ``KIND`` on nodes and ``RELATION`` plus
    ``intelligence`` on intelligence edges, and a default style that dashes them."""
    H = export_graph(G)
    nodes = [{"data": {"id": n, **d}, "classes": str(d.get("kind", ""))}
             for n, d in H.nodes(data=True)]
    edges = []
    for u, v, k, d in H.edges(keys=True, data=True):
        cls = [str(d.get("relation", ""))] + (["intelligence"] if d.get("intelligence") else [])
        edges.append({"data": {"id": k, "source": u, "target": v, **d}, "classes": " ".join(cls)})
    return {"format_version": "1.0", "generated_by": "wayfinder",
            "elements": {"nodes": nodes, "edges": edges}, "style": CYTOSCAPE_STYLE}


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


def i2_frames(G: nx.MultiDiGraph) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Entities and links frames for the i2 Analyst's Notebook Importer (``docs/i2_import.md``).

    Links from intelligence have ``Strength`` ``Unconfirmed`` when the best grading is source
    1-2 and assessment A-B, ``Tentative`` otherwise; recorded facts are ``Confirmed``.
    """
    ents = []
    for n, d in sorted(G.nodes(data=True)):
        kind = d.get("kind", "person")
        desc = []
        for a in ("care_status", "cse_risk", "premises_type", "postcode", "precision", "status"):
            if d.get(a):
                desc.append(f"{a}={d[a]}")
        ents.append({"Entity Type": I2_ENTITY_TYPES.get(kind, "Person"), "Identity": n,
                     "Label": d.get("label", n), "Description": "; ".join(desc),
                     "Role": d.get("role", "child" if kind == "child" else ""),
                     "Records": "; ".join(d.get("records") or []),
                     "Easting": _round(d.get("easting")), "Northing": _round(d.get("northing")),
                     "Restricted": "Yes" if d.get("restricted") else "No",
                     "Unresolved": "Yes" if d.get("unresolved") else "No"})
    links = []
    edges = sorted(G.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2]))
    kind = nx.get_node_attributes(G, "kind")
    for i, (u, v, k, d) in enumerate(edges, start=1):
        intel = bool(d.get("intelligence", False))
        g1, g2, g3 = _grades(d.get("gradings"))
        if not intel:
            strength = "Confirmed"
        elif g1 in ("1", "2") and g2 in ("A", "B"):
            strength = "Unconfirmed"
        else:
            strength = "Tentative"
        first = d.get("first") or ""
        rel = d.get("relation", k)
        links.append({
            "Link ID": f"L{i}", "Link Type": rel,
            "From Entity Type": I2_ENTITY_TYPES.get(kind.get(u), "Person"), "From Identity": u,
            "To Entity Type": I2_ENTITY_TYPES.get(kind.get(v), "Person"), "To Identity": v,
            "Direction": "Without Arrows" if rel in ("associate", "mentioned_with", "seen_with",
                                                     "found_with") else "With Arrows",
            "Strength": strength,
            "Label": rel + (" (intelligence)" if intel else ""),
            "Date": first[:10], "Time": first[11:19], "Date Last": (d.get("last") or "")[:10],
            "Description": "; ".join(d.get("texts") or []),
            "Source Reference": "; ".join(d.get("sources") or []),
            "Source Type": "Intelligence" if intel else "Record",
            "Grade 1": g1, "Grade 2": g2, "Grade 3": g3,
            "Intelligence": "Yes" if intel else "No", "Count": int(d.get("count", 1)),
            "Restricted": "Yes" if d.get("restricted") else "No"})
    return (pd.DataFrame(ents, columns=I2_ENTITY_COLUMNS),
            pd.DataFrame(links, columns=I2_LINK_COLUMNS))


def _round(x):
    try:
        return "" if x is None else int(round(float(x)))
    except (TypeError, ValueError):
        return ""


def write_all(G: nx.MultiDiGraph, out_dir) -> dict[str, Path]:
    """Write ``graph.graphml``, ``graph.gexf``, ``cytoscape.json``, ``i2_entities.csv`` and
    ``i2_links.csv`` into ``out_dir``; returns the paths by name."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"graphml": write_graphml(G, out / "graph.graphml"),
             "gexf": write_gexf(G, out / "graph.gexf")}
    p = out / "cytoscape.json"
    p.write_text(json.dumps(cytoscape_json(G), ensure_ascii=False, indent=1), encoding="utf-8")
    paths["cytoscape"] = p
    ents, links = i2_frames(G)
    paths["i2_entities"] = out / "i2_entities.csv"
    paths["i2_links"] = out / "i2_links.csv"
    ents.to_csv(paths["i2_entities"], index=False, encoding="utf-8")
    links.to_csv(paths["i2_links"], index=False, encoding="utf-8")
    return paths

"""Network views as Cytoscape.js JSON: ego network, bridging persons, components.

Built with the network engineer's ``network.graph.person_place_graph``,
``network.measures`` and ``network.exports.cytoscape_json``. Non-analysts get pseudonymous node
ids, no labels of children or persons, no restricted (home/placement) places, and edges without
record keys.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from api.service.dependencies import PURPOSE, ctx_of, service
from api.service.errors import NotFound, Unavailable
from api.service.model import ERRORS
from api.service.routes.profiles import resolve_person
from geo import disclosure

router = APIRouter(tags=["network"])
_ERR = {k: ERRORS[k] for k in (400, 401, 403, 429)}
NODE_KEEP = {"kind", "hops", "role", "premises_type", "component", "intelligence"}
#: relations that place a child at home or in a placement (restricted data)
RESTRICTED_RELATIONS = frozenset({"resides_at", "placed_at", "lives_at"})
EDGE_KEEP = {"relation", "intelligence", "count", "grading", "gradings", "first", "last"}


def graph(wf):
    def build():
        try:
            from network.graph import person_place_graph
        except ImportError as exc:  # pragma: no cover
            raise Unavailable(f"network module unavailable: {exc}") from None
        f = wf.layers.frame
        return person_place_graph(children=f("children"), persons=f("persons"), episodes=f("episodes"),
                                  return_interviews=f("return_interviews"), place_events=f("place_events"),
                                  premises=f("premises"), intelligence=f("intelligence"), links=f("links"))
    return wf.layers.cached("graph", build)


def minimise_cytoscape(cy: dict, ctx, m) -> dict:
    if ctx.analyst:
        return cy
    nodes, edges, ids = [], [], {}
    for n in cy["elements"]["nodes"]:
        d = n["data"]
        kind = d.get("kind")
        if d.get("restricted"):
            continue
        if kind in ("child", "person"):
            new = m.pseudonym(d["id"], "child" if kind == "child" else "person")
            label = new
        elif kind == "premises":
            new, label = d["id"], d.get("label")
        else:       # a place or vehicle: its kind, never its text or registration
            new = "place-" + m.pseudonym(d["id"], "place")[2:]
            label = disclosure.node_label(kind, d.get("label"))
        ids[d["id"]] = new
        nodes.append({"data": {"id": new, "label": label, **{k: v for k, v in d.items() if k in NODE_KEEP}},
                      "classes": n.get("classes", "")})
    for i, e in enumerate(cy["elements"]["edges"]):
        d = e["data"]
        # a restricted edge (a child's home or placement) goes even when its place is kept
        if d.get("restricted") or d.get("relation") in RESTRICTED_RELATIONS:
            continue
        if d["source"] in ids and d["target"] in ids:
            edges.append({"data": {"id": f"e{i}", "source": ids[d["source"]], "target": ids[d["target"]],
                                   **{k: v for k, v in d.items() if k in EDGE_KEEP}},
                          "classes": e.get("classes", "")})
    # a place left with no edge after the restricted ones went says nothing but where it is
    linked = {x for e in edges for x in (e["data"]["source"], e["data"]["target"])}
    nodes = [n for n in nodes if n["data"].get("kind") != "place" or n["data"]["id"] in linked]
    return {**{k: v for k, v in cy.items() if k != "elements"}, "elements": {"nodes": nodes, "edges": edges}}


@router.get("/network/ego/{person_ref:path}", name="network_ego", responses={**_ERR, 404: {"description": "Unknown person"}},
            summary="Ego network of a child or person (Cytoscape JSON)")
def network_ego(request: Request, person_ref: Annotated[str, Path(max_length=200, examples=["C-3F2A9B10C4"])],
                purpose: Annotated[str, PURPOSE],
                depth: Annotated[int, Query(ge=1, le=3)] = 2) -> dict:
    from network.exports import cytoscape_json
    from network.measures import ego_network
    wf, ctx = service(request), ctx_of(request)
    pid = resolve_person(wf, ctx, person_ref)
    try:
        sub = ego_network(graph(wf), pid, depth=depth)
    except KeyError:
        raise NotFound(f"{person_ref!r} has no links in the network") from None
    ctx.result_count = sub.number_of_nodes()
    ctx.what = f"ego network {wf.minimiser.pseudonym(pid)} depth {depth}"
    ctx.action = "combination"
    return minimise_cytoscape(cytoscape_json(sub), ctx, wf.minimiser)


@router.get("/network/bridging", name="network_bridging", responses=_ERR,
            summary="Adults linked to several children (bridging persons), ranked")
def network_bridging(request: Request, purpose: Annotated[str, PURPOSE],
                     limit: Annotated[int, Query(ge=1, le=500)] = 20) -> list[dict]:
    from network.measures import bridging_persons
    wf, ctx = service(request), ctx_of(request)
    df = wf.layers.cached("bridging", lambda: bridging_persons(graph(wf))).head(limit)
    out = []
    for r in df.to_dict("records"):
        pid = r.get("person_id", r.get("node"))
        item = {"rank": int(r.get("rank", len(out) + 1)), "children": int(r.get("children", 0)),
                "score": float(r.get("score", 0.0))}
        if ctx.analyst:
            item.update({k: (v if isinstance(v, (int, float, str, bool)) or v is None else str(v))
                         for k, v in r.items()})
        else:
            item["person"] = wf.minimiser.pseudonym(pid, "person")
            item["children"] = wf.minimiser.count(item["children"])
        out.append(item)
    ctx.result_count = len(out)
    return out


@router.get("/network/components", name="network_components", responses=_ERR,
            summary="Connected components of the person-place network (sizes and kinds)")
def network_components(request: Request, purpose: Annotated[str, PURPOSE],
                       min_size: Annotated[int, Query(ge=1, le=100000)] = 3) -> list[dict]:
    from network.measures import components
    wf, ctx = service(request), ctx_of(request)
    df = wf.layers.cached("components", lambda: components(graph(wf)))
    out = []
    for comp, g in df.groupby("component"):
        if len(g) < min_size:
            continue
        kinds = {str(k): int(v) for k, v in g["kind"].value_counts().items()}
        item = {"component": int(comp), "size": int(len(g)), "kinds": kinds}
        if ctx.analyst:
            item["nodes"] = g["node"].tolist()
        else:       # 1-4 children (or adults) in a component are banded as everywhere else
            item["kinds"] = {k: wf.minimiser.count(v) for k, v in kinds.items()}
            item["size"] = wf.minimiser.count(item["size"])
        out.append(item)
    ctx.result_count = len(out)
    return out

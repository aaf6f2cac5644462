"""Measures on the person-place graph (``network.graph.person_place_graph``).

One measure per function; graphs in, plain frames out; seeded where sampling is used.

* :func:`centrality`              degree, betweenness (exact up to 2,000 nodes, else from k
                                  seeded pivots, k capped by graph size; Brandes 2001, Brandes &
                                  Pich 2007), PageRank (Page et al. 1999), component; computed
                                  on one scipy CSR matrix of the undirected simple projection,
                                  with the method used stated in ``measures_method``
* :func:`bridging_persons`        adults linked to several distinct children, directly or
                                  through a shared place, premises or vehicle (2 steps), ranked
                                  with the evidence
* :func:`places_linking_children` places and premises several children were found at, last seen
                                  at or went to
* :func:`components`              connected components of the undirected view
* :func:`ego_network`             the ego network of a child or person to depth 1-2, with a date
                                  filter

References
----------
Brandes, U. (2001). A faster algorithm for betweenness centrality. J. Math. Sociol. 25(2).
Brandes, U., Pich, C. (2007). Centrality estimation in large networks. IJBC 17(7).
Page, L., Brin, S., Motwani, R., Winograd, T. (1999). The PageRank citation ranking.
Burt, R. S. (1992). Structural Holes (brokerage between otherwise unconnected actors).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from network.graph import PersonPlaceGraph, edge_list, edge_table, node_attr, node_ids, node_items


def _isin(values, allowed) -> np.ndarray:
    """Vectorised membership on object values (pandas' Arrow-string ``isin`` builds a Python
    scalar per allowed value, which is slow for large sets). Arrow strings are looked up by
    pyarrow's hash kernel, without making a Python string per value."""
    arr = getattr(values, "array", None)
    if hasattr(arr, "__arrow_array__") and all(type(x) is str for x in allowed):
        import pyarrow as pa
        import pyarrow.compute as pc
        arr = pa.array(arr)
        found = pc.is_in(arr, value_set=pa.array(list(allowed), arr.type))
        return found.to_numpy(zero_copy_only=False).astype(bool)
    return pd.Index(np.asarray(values, dtype=object), dtype=object).isin(pd.Index(list(allowed), dtype=object))

__all__ = ["evidence_weight", "edge_frame", "centrality", "bridging_persons", "find_node",
           "child_adult_links",
           "places_linking_children", "components", "ego_network"]

PLACE_KINDS = ("place", "premises", "vehicle")
# relations by which a child is at a place (its own home is not a shared place of concern)
CHILD_PLACE_RELATIONS = ("found_at", "last_seen_at", "went_to", "frequents", "transported_by",
                         "mentioned_with", "seen_with", "other")
VAGUE_PRECISIONS = ("area", "none")
SOURCE_WEIGHT = {"1": 0.9, "2": 0.6, "3": 0.3}
INTEL_WEIGHT = {"A": 1.0, "B": 0.85, "C": 0.6, "D": 0.3, "E": 0.0}


def evidence_weight(intelligence: bool, gradings: list | None = None) -> float:
    """Weight of one edge as evidence: 1 for a recorded fact; for intelligence the best of its
    3x5x2 gradings, source evaluation (1 reliable .9, 2 untested .6, 3 not reliable .3) times
    intelligence assessment (A 1, B .85, C .6, D .3, E 0: suspected false); ungraded .5."""
    if not intelligence:
        return 1.0
    best = None
    for g in gradings or []:
        g = str(g).strip().upper()
        if len(g) >= 2 and g[0] in SOURCE_WEIGHT and g[1] in INTEL_WEIGHT:
            w = SOURCE_WEIGHT[g[0]] * INTEL_WEIGHT[g[1]]
            best = w if best is None else max(best, w)
    return 0.5 if best is None else best


def _intelligence_weights(gradings, rows: np.ndarray) -> np.ndarray:
    """:func:`evidence_weight` of the intelligence edges ``rows`` from the graph's gradings list
    column (pyarrow), every grading of every edge at once: the best of an edge's valid
    gradings, 0.5 when it has none."""
    import pyarrow as pa
    lists = gradings.take(pa.array(rows, pa.int64()))
    g = pd.Series(lists.flatten().to_numpy(zero_copy_only=False), dtype=object).astype(str) \
        .str.strip().str.upper()
    out = np.full(len(rows), 0.5)
    if not len(g):
        return out
    w = (g.str[0].map(SOURCE_WEIGHT).astype(float) * g.str[1].map(INTEL_WEIGHT).astype(float)) \
        .where(g.str.len() >= 2)
    best = pd.Series(w.to_numpy(float)).groupby(
        np.asarray(lists.value_parent_indices(), dtype=np.int64)).max()
    best = best.dropna()
    out[best.index.to_numpy()] = best.to_numpy()
    return out


def _objects_of(cat: pd.Series) -> np.ndarray:
    """Object array of a categorical column (the category objects, shared, not copied)."""
    return np.asarray(cat.cat.categories, dtype=object)[cat.cat.codes.to_numpy()]


def edge_frame(G: nx.MultiDiGraph) -> pd.DataFrame:
    """The edges of ``G`` as a frame ``u, v, key, relation, weight, intelligence, count, first,
    last, kind_u, kind_v``, in ``G.edges(keys=True)`` order. Read from the graph's edge table
    when it has one (``network.graph.edge_table``), else by iterating the edges. Only
    intelligence edges read their gradings (the weight of a recorded fact is 1). Made once per
    ``PersonPlaceGraph`` (the bridging persons, places and child-adult links all read it)."""
    if isinstance(G, PersonPlaceGraph):
        if "edge_frame" not in G.derived:
            G.derived["edge_frame"] = _edge_frame(G)
        return G.derived["edge_frame"].copy(deep=False)
    return _edge_frame(G)


def _edge_frame(G) -> pd.DataFrame:
    t = edge_table(G)
    if t is not None:
        df = pd.DataFrame({"u": _objects_of(t["u"]), "v": _objects_of(t["v"]),
                           "key": _objects_of(t["key"]), "relation": _objects_of(t["relation"]),
                           "intelligence": t["intelligence"].to_numpy(bool),
                           "count": t["count"].to_numpy(np.int64),
                           "first": t["first"].to_numpy(dtype=object),
                           "last": t["last"].to_numpy(dtype=object)})
        data = None
    else:
        edges = list(G.edges(keys=True, data=True))
        df = pd.DataFrame([(u, v, k, d.get("relation", k), bool(d.get("intelligence", False)),
                            int(d.get("count", 1)), d.get("first"), d.get("last"))
                           for u, v, k, d in edges],
                          columns=["u", "v", "key", "relation", "intelligence", "count",
                                   "first", "last"])
        data = [d for *_, d in edges]
    weight = np.ones(len(df))
    intel = np.flatnonzero(df["intelligence"].to_numpy(bool))
    if data is None:
        weight[intel] = _intelligence_weights(G.graph["edge_lists"]["gradings"], intel)
    else:
        for i in intel:
            weight[i] = evidence_weight(True, edge_list(G, data[i], "gradings"))
    df.insert(4, "weight", weight)
    kind = pd.Series(node_attr(G, "kind"), dtype=object)
    for side in ("u", "v"):
        if t is not None:       # the categories are the distinct ends: each looked up once
            codes, uniq = t[side].cat.codes.to_numpy(), t[side].cat.categories
        else:
            codes, uniq = pd.factorize(df[side])
        df[f"kind_{side}"] = kind.reindex(uniq).to_numpy(dtype=object)[codes] if len(df) else []
    return df


def child_adult_links(G) -> pd.DataFrame:
    """``person_id, adult_id``: each child and each resolved adult (``person`` node, not an
    unresolved name) an edge joins, either way round, in edge order, without repeats (the
    adults linked to each child, for the co-missing groups' shared adults)."""
    ed = edge_frame(G)
    unresolved = {n for n, d in node_items(G) if d.get("unresolved")}
    u, v = ed["u"].to_numpy(dtype=object), ed["v"].to_numpy(dtype=object)
    fwd = ((ed["kind_u"] == "child") & (ed["kind_v"] == "person")).to_numpy(bool) & ~_isin(v, unresolved)
    back = ((ed["kind_v"] == "child") & (ed["kind_u"] == "person")).to_numpy(bool) & ~_isin(u, unresolved)
    order = np.concatenate([2 * np.flatnonzero(fwd), 2 * np.flatnonzero(back) + 1])
    child = np.concatenate([u[fwd], v[back]])
    adult = np.concatenate([v[fwd], u[back]])
    o = np.argsort(order, kind="stable")
    if len(o) == 0:
        return pd.DataFrame(columns=["person_id", "adult_id"])
    out = pd.DataFrame({"person_id": child[o], "adult_id": adult[o]})
    return out.drop_duplicates().reset_index(drop=True)


def _simple(G: nx.MultiDiGraph) -> nx.Graph:
    """Undirected simple graph; weight = records behind the edges between two nodes."""
    H = nx.Graph()
    H.add_nodes_from(G.nodes(data=True))
    nodes, A = _adjacency(G)
    coo = sp_triu(A).tocoo()
    H.add_weighted_edges_from(zip([nodes[i] for i in coo.row.tolist()],
                                  [nodes[j] for j in coo.col.tolist()], coo.data.tolist()))
    return H


def sp_triu(A):
    from scipy.sparse import triu
    return triu(A, format="csr")


def _adjacency(G: nx.MultiDiGraph):
    """``(nodes, A)``: the node list in ``G``'s order and the symmetric CSR matrix of the
    undirected simple projection, ``A[i, j]`` = records (edge ``count``) behind all edges
    between nodes i and j in either direction; a self-loop is stored once on the diagonal (as
    ``networkx.to_scipy_sparse_array`` stores it). One pass over the edges, no per-edge graph
    mutation."""
    from scipy.sparse import coo_matrix
    nodes = node_ids(G)
    n = len(nodes)
    m = G.number_of_edges()
    t = edge_table(G)
    if t is not None:
        at = pd.Index(nodes, dtype=object)
        u = at.get_indexer(t["u"].cat.categories)[t["u"].cat.codes.to_numpy()].astype(np.int64)
        v = at.get_indexer(t["v"].cat.categories)[t["v"].cat.codes.to_numpy()].astype(np.int64)
        c = t["count"].to_numpy(np.float64)
    else:
        index = {x: i for i, x in enumerate(nodes)}
        u = np.fromiter((index[a] for a, _ in G.edges()), dtype=np.int64, count=m)
        v = np.fromiter((index[b] for _, b in G.edges()), dtype=np.int64, count=m)
        c = np.fromiter((1 if x is None else int(x) for _, _, x in G.edges(data="count", default=1)),
                        dtype=np.float64, count=m)
    off = u != v
    rows = np.concatenate([u[off], v[off], u[~off]])
    cols = np.concatenate([v[off], u[off], v[~off]])
    data = np.concatenate([c[off], c[off], c[~off]])
    A = coo_matrix((data, (rows, cols)), shape=(n, n)).tocsr()
    A.sum_duplicates()
    A.sort_indices()
    return nodes, A


def _component_labels(A) -> tuple[np.ndarray, int]:
    from scipy.sparse.csgraph import connected_components
    k, lab = connected_components(A, directed=False)
    return lab, k


def _components_frame(nodes: list, lab: np.ndarray, kind: dict) -> pd.DataFrame:
    """``node, kind, component, size`` with component 0 the largest (ties: smallest node id),
    nodes sorted within a component; the layout of :func:`components`."""
    if len(nodes) == 0:
        return pd.DataFrame(columns=["node", "kind", "component", "size"])
    df = pd.DataFrame({"node": pd.Series(nodes, dtype=object), "lab": lab})
    df["size"] = df.groupby("lab")["node"].transform("size")
    df["first"] = df.groupby("lab")["node"].transform("min")
    df = df.sort_values(["size", "first", "node"], ascending=[False, True, True], kind="stable")
    order = df.drop_duplicates("lab")["lab"].to_numpy()
    rank = np.empty(lab.max() + 1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    out = pd.DataFrame({"node": df["node"].to_numpy(dtype=object),
                        "kind": df["node"].map(kind).to_numpy(dtype=object),
                        "component": rank[df["lab"].to_numpy()],
                        "size": df["size"].to_numpy()})
    return out.reset_index(drop=True)


def components(G: nx.MultiDiGraph) -> pd.DataFrame:
    """Connected components of the undirected view: ``node, kind, component, size``;
    component 0 is the largest (ties by smallest node id)."""
    nodes, A = _adjacency(G)
    lab, _ = _component_labels(A)
    return _components_frame(nodes, lab, node_attr(G, "kind"))


def _brandes(A, sources, n_total: int | None = None) -> np.ndarray:
    """Unnormalised betweenness accumulated from ``sources`` (Brandes 2001) on the unweighted,
    undirected graph whose structure is the CSR matrix ``A`` (diagonal ignored).

    Level-synchronous breadth-first search vectorised with numpy per source: each level
    gathers the edges out of the frontier in one step, shortest-path counts and dependencies are
    scattered with ``np.add.at``. The same sums as ``networkx.betweenness_centrality`` (which
    visits node by node in Python), in O(k (n + m)) numpy work."""
    indptr = A.indptr.astype(np.int64)
    indices = A.indices.astype(np.int64)
    n = A.shape[0]
    deg = np.diff(indptr)
    bc = np.zeros(n)
    dist = np.full(n, -1, dtype=np.int64)
    sigma = np.zeros(n)
    delta = np.zeros(n)
    seen = np.zeros(n, dtype=bool)
    for s in sources:
        dist[:] = -1
        sigma[:] = 0.0
        delta[:] = 0.0
        dist[s] = 0
        sigma[s] = 1.0
        frontier = np.array([s], dtype=np.int64)
        levels = []          # per level: (v, w) edges of the shortest-path DAG
        d = 0
        while len(frontier):
            cnt = deg[frontier]
            tot = int(cnt.sum())
            if tot == 0:
                break
            start = indptr[frontier]
            src = np.repeat(frontier, cnt)
            pos = np.arange(tot, dtype=np.int64) - np.repeat(np.cumsum(cnt) - cnt, cnt) \
                + np.repeat(start, cnt)
            nb = indices[pos]
            keep = nb != src
            src, nb = src[keep], nb[keep]
            fresh = nb[dist[nb] == -1]
            if len(fresh):
                if len(fresh) * 32 < n:
                    fresh = np.unique(fresh)
                else:  # sorted distinct by a scan of a mark array: no sort of a large level
                    seen[fresh] = True
                    fresh = np.flatnonzero(seen)
                    seen[fresh] = False
                dist[fresh] = d + 1
            on = dist[nb] == d + 1
            v, w = src[on], nb[on]
            if len(w) == 0:
                break
            np.add.at(sigma, w, sigma[v])
            levels.append((v, w))
            frontier = fresh
            d += 1
        for v, w in reversed(levels):
            np.add.at(delta, v, sigma[v] / sigma[w] * (1.0 + delta[w]))
        delta[s] = 0.0
        bc += delta
    return bc


def _betweenness(A, nodes: list, k: int | None, seed: int) -> np.ndarray:
    """Normalised betweenness as ``networkx.betweenness_centrality(H, k, normalized=True,
    seed=seed)`` computes it on the simple graph ``H`` with node order ``nodes``: the same
    seeded pivot sample (``random.Random(seed).sample``) and the same rescaling, computed by
    :func:`_brandes`."""
    import random
    n = len(nodes)
    if k is not None and k == n:
        k = None
    if k is None:
        sources = np.arange(n)
        picked = None
    else:
        index = {v: i for i, v in enumerate(nodes)}
        picked = random.Random(seed).sample(list(nodes), k)
        sources = np.array([index[v] for v in picked], dtype=np.int64)
    bc = _brandes(A, sources)
    N = n - 1
    if N < 2:
        return bc
    if k is None:
        return bc * (1.0 / (N * (N - 1)))
    scale_source = 1 / ((k - 1) * (N - 1)) if k > 1 else np.nan
    scale_other = 1 / (k * (N - 1))
    scale = np.full(n, scale_other)
    scale[sources] = scale_source
    return bc * scale


def _pagerank(A, alpha: float = 0.85, max_iter: int = 100, tol: float = 1.0e-6) -> np.ndarray:
    """PageRank of the weighted undirected graph ``A`` by scipy sparse power iteration: the
    computation of ``networkx.pagerank`` (``_pagerank_scipy``: uniform start and
    personalisation, dangling mass spread uniformly, l1 stop at ``n * tol``) on the same
    matrix, without building a networkx graph for it."""
    from scipy.sparse import dia_array
    N = A.shape[0]
    if N == 0:
        return np.zeros(0)
    S = np.asarray(A.sum(axis=1)).ravel()
    S[S != 0] = 1.0 / S[S != 0]
    Q = dia_array((S[None, :], 0), shape=A.shape).tocsr()
    M = Q @ A
    x = np.repeat(1.0 / N, N)
    p = np.repeat(1.0 / N, N)
    is_dangling = np.where(S == 0)[0]
    for _ in range(max_iter):
        xlast = x
        x = alpha * (x @ M + sum(x[is_dangling]) * p) + (1 - alpha) * p
        if np.absolute(x - xlast).sum() < N * tol:
            return x
    raise nx.PowerIterationFailedConvergence(max_iter)


def centrality(G: nx.MultiDiGraph, *, exact_max_nodes: int = 2000, k: int = 256,
               seed: int = 0, alpha: float = 0.85, work_budget: float = 6.0e7,
               k_min: int = 32) -> pd.DataFrame:
    """Degree, betweenness and PageRank of every node.

    All three are computed on the undirected simple projection of ``G`` (one edge per pair of
    nodes, weight = records behind the pair's edges), held as one scipy CSR matrix.

    Parameters
    ----------
    exact_max_nodes : betweenness is exact (Brandes 2001) up to this many nodes; above, it is
        estimated from ``k`` seeded pivot sources (Brandes & Pich 2007), on the unweighted
        projection (hops, not records).
    k : pivots for the sampled estimate.
    work_budget, k_min : at scale the pivots are capped so that pivots x (nodes + 2 x edges)
        stays within ``work_budget`` (each pivot is one breadth-first search over the graph),
        never below ``k_min`` pivots: all 256 at city scale, about 120 at region scale (74k
        nodes, 210k edges), ``k_min`` (32) at national scale. The pivots used, and whether they
        were capped, are stated in ``measures_method``. Same pivots (``random.Random(seed)``)
        and same rescaling as ``networkx.betweenness_centrality``, so values equal networkx's
        for the same k.
    alpha : PageRank damping (scipy sparse power iteration, as ``networkx.pagerank``).

    Returns
    -------
    DataFrame ``node, kind, label, degree`` (distinct neighbours), ``records`` (records behind
    its edges), ``betweenness`` (normalised), ``betweenness_exact`` (bool), ``pagerank``,
    ``component``, ``measures_method`` (how betweenness was computed, e.g. ``betweenness exact
    (Brandes) over 1500 nodes`` or ``betweenness sampled: k=48 of 256 pivots requested (capped
    by size: 1200000 nodes, 1400000 edges), seed 0``; the same on every row), sorted by
    PageRank, highest first.
    """
    cols = ["node", "kind", "label", "degree", "records", "betweenness", "betweenness_exact",
            "pagerank", "component", "measures_method"]
    nodes, A = _adjacency(G)
    n = len(nodes)
    if n == 0:
        return pd.DataFrame(columns=cols)
    diag = A.diagonal()
    pattern = A.copy()
    pattern.setdiag(0)
    pattern.eliminate_zeros()
    m = pattern.nnz // 2
    exact = n <= exact_max_nodes
    if exact:
        kk = None
        method = f"betweenness exact (Brandes) over {n} nodes"
    else:
        cap = max(k_min, int(work_budget // max(1, n + 2 * m)))
        kk = min(k, n, cap)
        capped = f" (capped by size: {n} nodes, {m} edges)" if kk < min(k, n) else ""
        method = (f"betweenness sampled: k={kk} of {k} pivots requested{capped}, seed {seed}, "
                  f"unweighted simple graph")
    method += f"; PageRank alpha={alpha} (scipy sparse, weight=records)"
    bc = _betweenness(pattern, nodes, kk, seed)
    pr = _pagerank(A, alpha=alpha)
    lab, _ = _component_labels(A)
    kind = node_attr(G, "kind")
    comp = _components_frame(nodes, lab, kind).set_index("node")["component"]
    df = pd.DataFrame({"node": pd.Series(nodes, dtype=object)})
    df["kind"] = df["node"].map(kind)
    df["label"] = df["node"].map(node_attr(G, "label"))
    df["degree"] = np.diff(A.indptr) + (diag != 0)
    rec = np.asarray(A.sum(axis=1)).ravel() + diag
    df["records"] = rec.astype(np.int64) if np.all(rec == np.round(rec)) else rec
    df["betweenness"] = bc
    df["betweenness_exact"] = exact
    df["pagerank"] = pr
    df["component"] = df["node"].map(comp)
    df["measures_method"] = method
    return df.sort_values(["pagerank", "node"], ascending=[False, True]).reset_index(drop=True)[cols]


def _role(value) -> str:
    return re.sub(r"[\s\-]+", "_", str(value or "").strip().lower())


def _adults(G: nx.MultiDiGraph, include_unresolved: bool, exclude_roles) -> set:
    """Person nodes that may be bridging adults: not unresolved names (unless asked), not of an
    excluded role (professionals; peers, who are young people), not under 18 by date of birth
    at the latest date in the graph."""
    t = edge_table(G)
    if t is not None:
        dated = [x for x in t["last"].tolist() if isinstance(x, str) and x]
        last = max(dated, default=None)
    else:
        last = max((d.get("last") for _, _, d in G.edges(data=True) if d.get("last")), default=None)
    as_of = pd.Timestamp(last) if last else None
    out = set()
    for n, d in node_items(G):
        if d.get("kind") != "person":
            continue
        if d.get("unresolved") and not include_unresolved:
            continue
        if _role(d.get("role")) in exclude_roles:
            continue
        if as_of is not None and d.get("dob"):
            dob = pd.Timestamp(d["dob"])
            if dob.tzinfo is None:
                dob = dob.tz_localize("UTC")
            if (as_of - dob).days < 18 * 365.25:
                continue
        out.add(n)
    return out


@dataclass
class _TwoStep:
    """The best 2-step path of each (adult, child) pair of a block of adults: row ``a`` of
    ``ax`` (the strongest adult-place edge) and row ``c`` of ``_PathEdges.xc_best`` (the
    strongest place-child edge), its weight ``w`` and its place ``x`` (code into
    ``_PathEdges.places``)."""
    ax: pd.DataFrame
    a: np.ndarray
    c: np.ndarray
    w: np.ndarray
    x: np.ndarray
    per_adult: pd.DataFrame
    #: the adults of ``ax``: codes per row into their sorted names
    a_codes: np.ndarray
    a_names: np.ndarray
    #: the children of ``_PathEdges.xc_best``: codes per row into ``_PathEdges.children``
    c_codes: np.ndarray


def _two_step_best(pe: "_PathEdges", a_x: pd.DataFrame, place_decay: float,
                   chunk: int = 4_000_000) -> "_TwoStep | None":
    """The best adult - place - child path of every (adult, child) pair of the adult-place
    edges ``a_x`` (a block of adults' rows of ``pe.a_x``), without enumerating every pair of
    edges through a busy place.

    The adult-place edges are first reduced to the strongest edge per (adult, place) (the first
    such edge on ties, the edge ``pandas.merge`` would have paired first; the place-child edges
    were so reduced once for the whole graph, ``pe.xc_best``); the (adult, place, child)
    triples are then expanded in integer arrays, ``chunk`` at a time, and reduced to the best
    place per (adult, child) (highest weight, then smallest place id) as they go: memory is
    bounded by the distinct (adult, child) pairs, not by the paths. Returns a
    :class:`_TwoStep` (None when there is no 2-step path): the best pair paths as integer
    arrays, and ``per_adult`` ``intelligence_all, first, last`` over *all* 2-step paths of each
    adult (from the per-place summaries of ``pe``, linear in the edges). The specificity of a
    place counts the adults and children at it over the whole graph, and the place-child edges
    lead to resolved children only (:func:`_path_edges`)."""
    ax_x = a_x["x"].to_numpy(np.int64)
    on = ax_x >= 0
    ax, ax_x = a_x[on].reset_index(drop=True), ax_x[on]
    if len(ax) == 0:
        return None
    # per adult over all its 2-step paths: every path's intelligence (a path is intelligence
    # when either edge is), earliest first / latest last of the child edges of its places
    ap = pd.DataFrame({"adult": ax["u"].to_numpy(dtype=object), "x": ax_x,
                       "fact": ~ax["intelligence"].to_numpy(bool) & pe.place_fact[ax_x]})
    ap = ap.join(pe.place_dates, on="x")
    per_adult = ap.groupby("adult").agg(fact=("fact", "any"), first=("first", "min"),
                                        last=("last", "max"))
    per_adult["intelligence_all"] = ~per_adult.pop("fact")
    # strongest edge per (adult, place); first on ties
    ax = ax.assign(x=ax_x).iloc[np.argsort(-ax["weight"].to_numpy(float), kind="stable")]
    ax = ax.drop_duplicates(["u", "x"]).sort_values(["x", "u"], kind="stable").reset_index(drop=True)
    a_codes, a_names = pd.factorize(ax["u"], sort=True)
    nc = len(pe.children)
    axx = ax["x"].to_numpy(np.int64)
    xcx = pe.xc_x
    wa = ax["weight"].to_numpy(float)
    wc = pe.xc_weight
    start, cnt = pe.xc_start, pe.xc_count
    spec = pe.spec
    per_row = cnt[axx]
    best_key = np.zeros(0, np.int64); best_w = np.zeros(0); best_x = np.zeros(0, np.int64)
    best_a = np.zeros(0, np.int64); best_c = np.zeros(0, np.int64)
    lo = 0
    csum = np.cumsum(per_row)
    while lo < len(ax):
        base = csum[lo - 1] if lo else 0
        hi = max(lo + 1, int(np.searchsorted(csum, base + chunk, "right")))
        rows = np.arange(lo, hi)
        k = per_row[rows]
        tot = int(k.sum())
        ra = np.repeat(rows, k)
        rc = np.arange(tot, dtype=np.int64) - np.repeat(np.cumsum(k) - k, k) + np.repeat(start[axx[rows]], k)
        w = place_decay * wa[ra] * wc[rc] * spec[axx[ra]]
        key = a_codes[ra].astype(np.int64) * nc + pe.xc_c[rc]
        key = np.concatenate([best_key, key]); w = np.concatenate([best_w, w])
        xx = np.concatenate([best_x, axx[ra]])
        ra = np.concatenate([best_a, ra]); rc = np.concatenate([best_c, rc])
        o = np.lexsort((xx, -w, key))
        keep = o[np.r_[True, key[o][1:] != key[o][:-1]]]
        best_key, best_w, best_x, best_a, best_c = key[keep], w[keep], xx[keep], ra[keep], rc[keep]
        lo = hi
    if not len(best_key):
        return None
    return _TwoStep(ax, best_a, best_c, best_w, best_x, per_adult,
                    a_codes, np.asarray(a_names, dtype=object), pe.xc_c)


@dataclass
class _PathEdges:
    """The edges bridging paths are made of, each undirected edge in the orientation used:
    ``direct`` adult-child paths (``adult, child, via, relation, weight, intelligence, first,
    last``), ``a_x`` adult-place and ``x_c`` place-child edges (``u, v, relation, weight,
    intelligence, first, last``; resolved children only), ``direct`` and ``a_x`` sorted by
    adult, ``x_c`` in the graph's order, and the adults and children per place."""
    direct: pd.DataFrame
    a_x: pd.DataFrame
    x_c: pd.DataFrame
    n_adults: pd.Series
    n_children: pd.Series

    def __post_init__(self):
        """What every block of adults reads, made once: the places with a child edge and the
        children (of direct and place edges), sorted, with codes into them (a code order is the
        id order); the place of each adult-place edge (``a_x["x"]``, -1 when no child is at
        it); per place whether any child edge is a fact and the dates of its child edges; and
        the strongest edge per (place, child) (the first on ties), sorted by place and child,
        as arrays."""
        self.direct_adults = self.direct["adult"].to_numpy(dtype=object)
        self.a_x_adults = self.a_x["u"].to_numpy(dtype=object)
        x_c = self.x_c
        self.places = _distinct(x_c["u"])
        self.children = pd.Index(_distinct(pd.concat([self.direct["child"], x_c["v"]],
                                                     ignore_index=True)), dtype=object)
        pidx = pd.Index(self.places, dtype=object)
        self.a_x["x"] = pidx.get_indexer(self.a_x["v"]) if len(self.a_x) else np.zeros(0, np.int64)
        self.direct_c = _codes_in(self.children, self.direct["child"])
        xu = _codes_in(pidx, x_c["u"])
        xv = _codes_in(self.children, x_c["v"])
        P = len(self.places)
        self.place_fact = np.zeros(P, dtype=bool)
        self.place_fact[xu[~x_c["intelligence"].to_numpy(bool)]] = True
        self.place_dates = x_c[["first", "last"]].assign(x=xu).groupby("x").agg(
            first=("first", "min"), last=("last", "max"))
        w = x_c["weight"].to_numpy(float)
        key = xu * len(self.children) + xv
        o = np.argsort(-w, kind="stable")
        keep = o[~pd.Series(key[o]).duplicated().to_numpy()]
        keep = keep[np.argsort(key[keep], kind="stable")]
        self.xc_best = x_c.iloc[keep].reset_index(drop=True)
        self.xc_x, self.xc_c, self.xc_weight = xu[keep], xv[keep], w[keep]
        self.xc_relation = self.xc_best["relation"].astype(str).to_numpy(dtype=object)
        self.xc_intelligence = self.xc_best["intelligence"].to_numpy(bool)
        self.xc_start = np.searchsorted(self.xc_x, np.arange(P), "left")
        self.xc_count = np.searchsorted(self.xc_x, np.arange(P), "right") - self.xc_start
        with np.errstate(divide="ignore", invalid="ignore"):
            self.spec = 1.0 / np.sqrt(pd.Series(self.places).map(self.n_adults).to_numpy(float)
                                      * pd.Series(self.places).map(self.n_children).to_numpy(float))


def _path_edges(G: nx.MultiDiGraph, adults: set) -> _PathEdges:
    ed = edge_frame(G)
    kind = node_attr(G, "kind")
    # undirected: each edge in both orientations; only the edges that touch an adult or join a
    # place to a child are kept (the whole edge list twice is gigabytes at national scale)
    useful = (_isin(ed["u"], adults) | _isin(ed["v"], adults)
              | ((ed["kind_u"] == "child") & ed["kind_v"].isin(PLACE_KINDS))
              | ((ed["kind_v"] == "child") & ed["kind_u"].isin(PLACE_KINDS)))
    ed = ed[useful]
    both = pd.concat([ed, ed.rename(columns={"u": "v", "v": "u", "kind_u": "kind_v",
                                             "kind_v": "kind_u"})], ignore_index=True)
    del ed
    direct = both[_isin(both["u"], adults) & (both["kind_v"] == "child")]
    direct = pd.DataFrame({"adult": direct["u"], "child": direct["v"], "via": None,
                           "relation": direct["relation"], "weight": direct["weight"],
                           "intelligence": direct["intelligence"], "first": direct["first"],
                           "last": direct["last"]})
    # a ward or area centroid is not a shared place
    vague = {n for n, d in node_items(G) if d.get("kind") == "place"
             and d.get("precision") in VAGUE_PRECISIONS}
    a_x = both[_isin(both["u"], adults) & both["kind_v"].isin(PLACE_KINDS) & ~_isin(both["v"], vague)][
        ["u", "v", "relation", "weight", "intelligence", "first", "last"]]
    x_c = both[both["kind_u"].isin(PLACE_KINDS) & (both["kind_v"] == "child")
               & both["relation"].isin(CHILD_PLACE_RELATIONS) & ~_isin(both["u"], vague)][
        ["u", "v", "relation", "weight", "intelligence", "first", "last"]]
    unresolved = {n for n, d in node_items(G) if d.get("unresolved")}
    # children are counted by resolved person_id: a reference that matched no child record
    # (``child:ID`` node marked unresolved) is not counted
    direct = direct[(direct["child"].map(kind) == "child") & ~_isin(direct["child"], unresolved)]
    n_adults = a_x.groupby("v")["u"].nunique()
    n_children = x_c.groupby("u")["v"].nunique()  # every child node at the place
    x_c = x_c[~_isin(x_c["v"], unresolved)]
    # direct and a_x sorted by adult (stable: ties keep the graph's order) so that a block of
    # adults is a slice
    return _PathEdges(direct.sort_values("adult", kind="stable").reset_index(drop=True),
                      a_x.sort_values("u", kind="stable").reset_index(drop=True),
                      x_c.reset_index(drop=True),
                      n_adults, n_children)


def _distinct(values: pd.Series) -> np.ndarray:
    """The sorted distinct values of a string column as an object array (``sorted(set(...))``
    without iterating Arrow strings one by one)."""
    if not len(values):
        return np.zeros(0, dtype=object)
    out = np.asarray(values.unique(), dtype=object)     # hashed: only the distinct are sorted
    out.sort()
    return out


def _codes_in(index: pd.Index, values: pd.Series) -> np.ndarray:
    """The position in ``index`` of each of ``values`` (-1 where absent), looking up each
    distinct value once."""
    codes, uniq = pd.factorize(values)
    if not len(uniq):
        return np.zeros(len(values), np.int64)
    out = index.get_indexer(np.asarray(uniq, dtype=object)).astype(np.int64)[codes]
    out[codes < 0] = -1
    return out


def _rows_of(keys: np.ndarray, wanted) -> np.ndarray:
    """Row numbers of the sorted ``keys`` equal to any of the sorted ``wanted``."""
    lo = np.searchsorted(keys, wanted, "left")
    hi = np.searchsorted(keys, wanted, "right")
    n = hi - lo
    return np.repeat(lo, n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)


def _adult_blocks(pe: _PathEdges, adults: set, max_paths: int) -> list[list]:
    """The adults in sorted blocks whose 2-step paths (adult-place edges times the children at
    each place, an upper bound) stay within ``max_paths`` (an adult with more is a block of its
    own): bridging is computed a block at a time, so memory is bounded by the block, not by
    the (adult, child) pairs of the whole graph (tens of millions through a busy postcode
    centroid at national scale)."""
    est = pe.a_x["v"].map(pe.n_children).fillna(0).groupby(pe.a_x["u"]).sum()
    order = sorted(adults)
    cost = pd.Series(order, dtype=object).map(est).fillna(0).to_numpy(float) + 1
    cuts, acc = [], 0
    for i, c in enumerate(cost.tolist()):
        if acc and acc + c > max_paths:
            cuts.append(i)
            acc = 0
        acc += c
    return [list(b) for b in np.split(np.asarray(order, dtype=object), cuts)] if order else []


def bridging_persons(G: nx.MultiDiGraph, *, min_children: int = 2, place_decay: float = 0.5,
                     include_unresolved: bool = False,
                     exclude_roles: tuple[str, ...] = ("professional", "peer"),
                     evidence_items: int = 5, max_paths: int = 2_000_000) -> pd.DataFrame:
    """Adults linked to several distinct children, ranked, with the evidence.

    An adult (node kind ``person``) reaches a child directly (any edge: associate,
    found_with, seen_with, transported_by, mentioned_with ...) or in two steps through a shared
    place, premises or vehicle (adult resides at / works at / frequents / drives / is
    mentioned with X, and the child was found at / last seen at / went to / is mentioned with
    X). Each path has a weight: the product of its edges' :func:`evidence_weight` (so graded
    intelligence counts for less than a recorded fact, and never as a fact), times
    ``place_decay`` for a 2-step path, divided by sqrt(adults tied to the place x children at
    the place): a busy place (a station, a city-centre postcode centroid many people geocode
    to) says less about any one adult, and a place's credit grows with the square root of its
    children, so co-location never outweighs direct evidence. The adult's score is the sum over distinct children of the best path to
    each; a brokerage score in the spirit of Burt (1992).

    Returns
    -------
    DataFrame ``rank, person_id, children, score, direct_children, place_children,
    intelligence_only, first, last, evidence`` best first, adults with at least
    ``min_children`` distinct children only. ``evidence`` is a ``;``-separated list of
    ``child relation [via place]`` strings, strongest first; ``intelligence_only`` is True when
    every path rests on intelligence.

    Computed a block of adults at a time (``max_paths`` 2-step paths per block, see
    ``_adult_blocks``): the result does not depend on the blocks, only the peak memory does.
    """
    cols = ["rank", "person_id", "children", "score", "direct_children", "place_children",
            "intelligence_only", "first", "last", "evidence"]
    adults = _adults(G, include_unresolved, exclude_roles)
    if not adults:
        return pd.DataFrame(columns=cols)
    pe = _path_edges(G, adults)
    label = node_attr(G, "label")
    parts = [_bridging_block(pe, block, place_decay, label, evidence_items, min_children)
             for block in _adult_blocks(pe, adults, max_paths)]
    parts = [p for p in parts if p is not None]
    if not parts:
        return pd.DataFrame(columns=cols)
    agg = pd.concat(parts)
    agg = agg[agg["children"] >= min_children].reset_index().rename(columns={"adult": "person_id"})
    # equal scores summed in a different order differ in the last bits: rank on 9 decimals
    agg["score"] = agg["score"].round(9)
    agg = agg.sort_values(["score", "children", "person_id"], ascending=[False, False, True])
    agg.insert(0, "rank", np.arange(1, len(agg) + 1))
    agg["score"] = agg["score"].round(4)
    for c in ("direct_children", "place_children"):
        agg[c] = agg[c].astype(int)
    return agg.reset_index(drop=True)[cols]


def _bridging_block(pe: _PathEdges, adults: list, place_decay: float, label: dict,
                    evidence_items: int, min_children: int = 1) -> pd.DataFrame | None:
    """The per-adult rows of :func:`bridging_persons` for one sorted block of adults (index
    ``adult``; every adult with a path), or None when none has one.

    The paths are every direct adult-child edge and the best 2-step path of each (adult,
    child) pair (:func:`_two_step_best`); the best path of a pair is the heaviest (ties: a
    direct edge, then the first place by id). Computed on integer codes (adults and children
    numbered in id order): an adult at a busy place has thousands of paths, and only its
    strongest ``evidence_items`` are written out."""
    block = np.asarray(adults, dtype=object)
    d_rows = _rows_of(pe.direct_adults, block)
    direct = pe.direct.iloc[d_rows]
    two = _two_step_best(pe, pe.a_x.iloc[_rows_of(pe.a_x_adults, block)], place_decay)
    if len(direct) == 0 and two is None:
        return None
    # the block's adults numbered in id order, the children by their code in ``pe.children``
    a_names = pd.Index(adults, dtype=object)
    c_names = pe.children
    nc = len(c_names)
    da = a_names.get_indexer(direct["adult"].to_numpy(dtype=object))
    dc = pe.direct_c[d_rows]
    if two is not None:
        ta = a_names.get_indexer(two.a_names)[two.a_codes[two.a]]
        tc = two.c_codes[two.c]
        tw, tx = two.w, two.x
    else:
        ta = tc = tx = np.zeros(0, np.int64)
        tw = np.zeros(0)
    nd = len(direct)
    A = np.concatenate([da, ta]).astype(np.int64)
    C = np.concatenate([dc, tc]).astype(np.int64)
    W = np.concatenate([direct["weight"].to_numpy(float), tw])
    V = np.concatenate([np.full(nd, -1, np.int64), tx])
    key = A * nc + C
    o = np.lexsort((V, -W, key))
    best = o[np.r_[True, key[o][1:] != key[o][:-1]]] if len(o) else o
    n_a = len(a_names)
    agg = pd.DataFrame({"children": np.bincount(A[best], minlength=n_a),
                        "score": np.bincount(A[best], weights=W[best], minlength=n_a),
                        "direct_children": np.bincount(np.unique(da.astype(np.int64) * nc + dc) // nc,
                                                       minlength=n_a) if nd else 0,
                        "place_children": np.bincount(ta, minlength=n_a) if len(ta) else 0},
                       index=pd.Index(a_names, name="adult"))
    # over every path (direct edges, and all 2-step paths as summarised per adult)
    summ = direct[["adult", "intelligence", "first", "last"]]
    if two is not None and len(two.per_adult):
        pa = two.per_adult.rename(columns={"intelligence_all": "intelligence"}).rename_axis("adult")
        summ = pd.concat([summ, pa.reset_index()[["adult", "intelligence", "first", "last"]]],
                         ignore_index=True)
    sg = summ.groupby("adult")
    agg["intelligence_only"] = sg["intelligence"].all()
    agg["first"] = sg["first"].min()
    agg["last"] = sg["last"].max()
    # the strongest ``evidence_items`` paths of each adult (weight, then child id), written out
    # only for the adults :func:`bridging_persons` keeps; ``best`` is in (adult, child) order
    # and the sort is stable, so equal weights stay in child order
    kept = agg["children"].to_numpy() >= max(min_children, 1)
    e = best[kept[A[best]]]
    e = e[np.lexsort((-W[e], A[e]))]
    ea = A[e]
    start = np.flatnonzero(np.r_[True, ea[1:] != ea[:-1]]) if len(ea) else np.zeros(0, np.int64)
    rank = np.arange(len(ea)) - np.repeat(start, np.diff(np.r_[start, len(ea)]))
    e = e[rank < evidence_items]
    agg["evidence"] = pd.Series(_evidence_texts(e, nd, A, C, a_names, c_names, direct, two, tx,
                                                label, pe), dtype=object)
    return agg[agg["children"] > 0]


def _evidence_texts(e: np.ndarray, nd: int, A: np.ndarray, C: np.ndarray, a_names: pd.Index,
                    c_names: pd.Index, direct: pd.DataFrame, two: "_TwoStep | None",
                    tx: np.ndarray, label: dict, pe: "_PathEdges") -> dict:
    """``{adult: evidence}`` for the paths ``e`` (rows of :func:`_bridging_block`'s path arrays,
    sorted by adult, strongest first): ``child relation`` for a direct edge (``nd`` rows first),
    ``child relation+relation via place (label)`` for a 2-step path, each marked
    ``[intelligence]`` when it rests on intelligence, ``; ``-joined per adult. Each column is
    gathered once for all the paths (an adult at a busy place has thousands of paths, and the
    national graph some 300,000 written ones)."""
    if not len(e):
        return {}
    is_d = e < nd
    child = c_names.to_numpy(dtype=object)[C[e]]
    what = np.empty(len(e), dtype=object)
    intel = np.zeros(len(e), dtype=bool)
    d = e[is_d]
    what[is_d] = direct["relation"].astype(str).to_numpy(dtype=object)[d]
    intel[is_d] = direct["intelligence"].to_numpy(bool)[d]
    if two is not None and (~is_d).any():
        j = e[~is_d] - nd
        a, c = two.a[j], two.c[j]
        ax_rel = two.ax["relation"].astype(str).to_numpy(dtype=object)[a]
        xc_rel = pe.xc_relation[c]
        via = pe.places[tx[j]]
        what[~is_d] = [f"{r}+{q} via {v} ({label.get(v, v)})"
                       for r, q, v in zip(ax_rel.tolist(), xc_rel.tolist(), via.tolist())]
        intel[~is_d] = (two.ax["intelligence"].to_numpy(bool)[a]
                        | pe.xc_intelligence[c])
    texts = [f"{ch} {w} [intelligence]" if i else f"{ch} {w}"
             for ch, w, i in zip(child.tolist(), what.tolist(), intel.tolist())]
    ea = A[e]
    cuts = np.flatnonzero(ea[1:] != ea[:-1]) + 1
    starts = np.r_[0, cuts].tolist()
    ends = np.r_[cuts, len(e)].tolist()
    names = a_names.to_numpy(dtype=object)[ea[starts]].tolist()
    return {n: "; ".join(texts[s:t]) for n, s, t in zip(names, starts, ends)}


def places_linking_children(G: nx.MultiDiGraph, *, min_children: int = 2) -> pd.DataFrame:
    """Places, premises and vehicles linked to at least ``min_children`` distinct children.

    Returns ``node, kind, label, children, child_ids, records, adults, intelligence,
    easting, northing``, most children first. Children's homes (``resides_at``) do not count,
    nor do ward/area centroids (precision ``area``).
    """
    cols = ["node", "kind", "label", "children", "child_ids", "records", "adults", "intelligence",
            "easting", "northing"]
    ed = edge_frame(G)
    if len(ed) == 0:
        return pd.DataFrame(columns=cols)
    both = pd.concat([ed, ed.rename(columns={"u": "v", "v": "u", "kind_u": "kind_v",
                                             "kind_v": "kind_u"})], ignore_index=True)
    vague = {n for n, d in node_items(G) if d.get("kind") == "place"
             and d.get("precision") in VAGUE_PRECISIONS}
    at = both[both["kind_u"].isin(PLACE_KINDS) & ~_isin(both["u"], vague)]
    kids = at[(at["kind_v"] == "child") & at["relation"].isin(CHILD_PLACE_RELATIONS)]
    adults = at[at["kind_v"] == "person"]
    g = kids.groupby("u").agg(children=("v", "nunique"), records=("count", "sum"))
    # the sorted distinct children of each place, as slices of one sorted frame (a Python call
    # per place was most of this measure at scale)
    pairs = kids[["u", "v"]].drop_duplicates().sort_values(["u", "v"])
    pu = pairs["u"].to_numpy(dtype=object)
    pv = pairs["v"].to_numpy(dtype=object).tolist()
    starts = np.flatnonzero(np.r_[True, pu[1:] != pu[:-1]]) if len(pu) else np.zeros(0, int)
    ends = np.r_[starts[1:], len(pu)].astype(int)
    ids = {pu[s]: pv[s:e] for s, e in zip(starts.tolist(), ends.tolist())}
    g.insert(1, "child_ids", pd.Series([ids[x] for x in g.index], index=g.index, dtype=object))
    g["adults"] = adults.groupby("u")["v"].nunique()
    g["intelligence"] = at[at["intelligence"]].groupby("u").size()
    g = g.fillna({"adults": 0, "intelligence": 0})
    g = g[g["children"] >= min_children].reset_index().rename(columns={"u": "node"})
    attrs = dict(node_items(G))
    for c in ("kind", "label", "easting", "northing"):
        g[c] = g["node"].map(lambda n: attrs[n].get(c))
    g = g.astype({"adults": int, "intelligence": int})
    return g.sort_values(["children", "records", "node"], ascending=[False, False, True]
                         ).reset_index(drop=True)[cols]


def _in_window(G: nx.MultiDiGraph, d: dict, start, end) -> bool:
    """Whether one of the dates of the edge with data ``d`` falls in ``[start, end]``: decided
    by ``first`` and ``last`` where they settle it, else by the edge's dates."""
    def inside(t):
        return (start is None or t >= start) and (end is None or t <= end)
    if d.get("first") is not None:
        first, last = pd.Timestamp(d["first"]), pd.Timestamp(d.get("last") or d["first"])
        if (start is not None and last < start) or (end is not None and first > end):
            return False
        if inside(first) or inside(last):
            return True
    return any(inside(pd.Timestamp(x)) for x in edge_list(G, d, "dates"))


def _dated(G: nx.MultiDiGraph, d: dict) -> bool:
    return d.get("first") is not None or bool(edge_list(G, d, "dates"))


def ego_network(G: nx.MultiDiGraph, node: str, depth: int = 2, *, start=None, end=None,
                keep_undated: bool = True) -> nx.MultiDiGraph:
    """The ego network of ``node`` to ``depth`` steps (1 or 2), ignoring direction.

    ``node`` is a node id (person_id, ``premises:ID`` ...) or a record key (``SOURCE/ID``) held
    in a node's ``records``. With ``start`` / ``end`` (dates or date-times, UTC) only edges with
    a date in the window are followed; undated edges (homes, addresses) are kept when
    ``keep_undated``. Returns a copy of the induced sub-multigraph over the reached nodes with the
    kept edges, graph attribute ``ego`` = the centre and node attribute ``hops``.
    """
    if depth < 1 or depth > 3:
        raise ValueError("depth must be 1, 2 or 3")
    centre = find_node(G, node)
    if centre is None:
        raise KeyError(f"no child, person or place {node!r} in the graph")
    start = _ts(start)
    end = _ts(end, end_of_day=True)
    keep = [(u, v, k) for u, v, k, d in G.edges(keys=True, data=True)
            if (start is None and end is None)
            or (_in_window(G, d, start, end) if _dated(G, d) else keep_undated)]
    F = G.edge_subgraph(keep) if keep else nx.MultiDiGraph()
    U = nx.Graph(F.to_undirected(as_view=True)) if F.number_of_nodes() else nx.Graph()
    U.add_node(centre)
    hops = nx.single_source_shortest_path_length(U, centre, cutoff=depth)
    sub = nx.MultiDiGraph()
    sub.add_nodes_from((n, dict(G.nodes[n], hops=h)) for n, h in sorted(hops.items()))
    sub.add_edges_from((u, v, k, dict(d)) for u, v, k, d in F.edges(keys=True, data=True)
                       if u in hops and v in hops)
    if "edge_lists" in G.graph:
        sub.graph["edge_lists"] = G.graph["edge_lists"]
    sub.graph["ego"] = centre
    sub.graph["depth"] = depth
    return sub


def find_node(G: nx.MultiDiGraph, ref: str) -> str | None:
    """A node id for a node id, a ``SOURCE/ID`` record key, or a typed reference."""
    if ref in G:
        return ref
    for n, d in node_items(G):
        if ref in (d.get("records") or ()):
            return n
    if ":" in ref:
        kind, val = ref.split(":", 1)
        for n, d in node_items(G):
            if any(r.endswith("/" + val) for r in (d.get("records") or ())) and d.get("kind") == kind:
                return n
    return None


def _ts(x, end_of_day=False):
    if x is None or x == "":
        return None
    t = pd.Timestamp(x)
    if t.tzinfo is None:
        t = t.tz_localize("UTC")
    if end_of_day and t == t.normalize() and isinstance(x, str) and len(x) <= 10:
        t = t + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    return t

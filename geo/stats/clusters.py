"""Found-at clusters: DBSCAN and HDBSCAN on the places children were found or went.

Methods: DBSCAN (Ester, Kriegel, Sander & Xu 1996, KDD) and HDBSCAN (Campello, Moulavi &
Sander 2013, PAKDD; McInnes, Healy & Astels 2017) from scikit-learn, on easting/northing in
metres (EPSG:27700).

Density counts *distinct children*, not events: the points clustered are the distinct
``(person_id, location)`` pairs, so one child found twenty times at home is one point. Pairs
at the same location are collapsed to one point with a weight (DBSCAN ``sample_weight``,
exact). HDBSCAN has no sample weights: each location is repeated as many times as it has
points (exact: the clustering scikit-learn gives on the full data). Until issue 13 the
multiplicity was capped at ``min_samples``, which kept the core distances but changed the
cluster sizes of the condensed tree: ARI 0.17-0.6 against scikit-learn on the data with
repeats; the k-NN graph path (:func:`_hdbscan_graph`) is exact in the copies too and
approximate only in the links between distinct locations (its difference from the exact path
is measured by :func:`approximation_report`). A cluster is reported only when it holds at
least ``min_children`` distinct children.

Per cluster: convex hull (buffered by 5 m when the members are collinear or one point),
episodes (distinct episode_key), children (distinct person_id), events, first_seen and
last_seen (UTC), centroid and the nearest premises (``premises_id`` and metres).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import geopandas as gpd
import shapely
from scipy.spatial import cKDTree
from sklearn.cluster import DBSCAN, HDBSCAN

from geo.stats.hotspots import DEFAULT_KINDS, filter_events
from geo.places.located import at_own_place, entity_matched, establishment_points, own_places

__all__ = ["cluster_points", "approximation_report", "found_at_clusters", "cluster_inference", "scan_llr", "is_location_of_concern",
           "cluster_status", "CLUSTER_COLUMNS", "SCAN_MODEL", "gumbel_p"]

BNG = "EPSG:27700"
CLUSTER_COLUMNS = [
    "cluster_id", "method", "episodes", "children", "events", "first_seen", "last_seen",
    "centroid_e", "centroid_n", "nearest_premises_id", "nearest_premises_m",
    "points", "expected", "llr", "p_value", "q_value", "status",
]
INFERENCE_COLUMNS = ["points", "expected", "llr", "p_value", "q_value"]
#: The model of the found-at cluster test, stated as SaTScan states its analyses (layer and pack text).
SCAN_MODEL = (
    "Model: purely spatial Kulldorff scan statistic, Poisson model, residential postcodes of the study area as "
    "the population at risk. Cases: distinct children per found-at / RHI location, leaving out named premises, "
    "area centroids, each child's own places (its placements, the places it was last seen, and places it was "
    "found in 2 or more episodes) and children's homes. Windows: each DBSCAN cluster (150 m) and circles of "
    "0, 75 and 150 m centred on its locations. Null: the same number of cases placed on residential postcodes "
    "at random, clustered the same way; {R} Monte Carlo replications (seeded), p-value of each cluster against "
    "the maximum likelihood ratio of each replicate (Gumbel tail beyond the replicates), Benjamini-Hochberg "
    "q-value over the clusters; location of concern when q < 0.05.")
#: FDR level at which a found-at cluster is a location of concern (everywhere: API, packs, web page)
CONCERN_Q = 0.05
LOCATION_OF_CONCERN = "location of concern"
DESCRIPTIVE = "descriptive cluster (not significant)"


def is_location_of_concern(clusters: pd.DataFrame, q: float = CONCERN_Q) -> pd.Series:
    """True for the clusters significant after FDR control (``q_value < q``); untested is False."""
    if clusters is None or not len(clusters) or "q_value" not in clusters:
        return pd.Series(False, index=getattr(clusters, "index", None), dtype=bool)
    return (pd.to_numeric(clusters["q_value"], errors="coerce") < q).fillna(False).astype(bool)


def cluster_status(clusters: pd.DataFrame, q: float = CONCERN_Q) -> pd.Series:
    """The label a reader sees: "location of concern" only when significant, else descriptive."""
    return is_location_of_concern(clusters, q).map({True: LOCATION_OF_CONCERN, False: DESCRIPTIVE})


def cluster_points(
    xy: np.ndarray,
    weight: np.ndarray | None = None,
    method: str = "dbscan",
    eps_m: float = 150.0,
    min_samples: int = 5,
    min_cluster_size: int | None = None,
    n_jobs: int | None = None,
    tile_m: float | str | None = "auto",
    overlap_m: float | None = None,
    knn: int | None = None,
) -> np.ndarray:
    """Cluster labels (-1 = noise) for points ``xy`` (metres) with integer multiplicities.

    Identical points are collapsed first (weights summed), so duplicated coordinates (postcode
    centroids) cost nothing. ``dbscan``: ``eps_m`` neighbourhood, core when the summed weight
    within ``eps_m`` is at least ``min_samples``. ``hdbscan``: ``min_samples`` for core
    distances, ``min_cluster_size`` (default ``min_samples``), "leaf" selection; ``eps_m`` is NOT used by
    the HDBSCAN hierarchy (it was documented as ``cluster_selection_epsilon`` but never passed;
    scikit-learn 1.9's ``cluster_selection_epsilon`` raises a TypeError in ``epsilon_search``
    on these inputs, so it stays off): for HDBSCAN ``eps_m`` only sets the tile overlap here,
    and in :func:`found_at_clusters` the spread filter and the scan window radius.

    Large inputs for HDBSCAN: scikit-learn's HDBSCAN builds its minimum spanning tree in
    O(n^2) time in dense data, so above :data:`TILE_ABOVE` rows ``tile_m="auto"`` uses the
    k-NN graph method below. When ``tile_m`` metres are given (the older approximation, kept
    for comparison), the plane is cut into square tiles of ``tile_m`` metres, each clustered with
    every point within ``overlap_m`` (default ``max(4 * eps_m, 500)``) of it, and clusters of
    neighbouring tiles that share a point in the overlap are merged (union-find). Each point
    keeps the label of the tile that owns it. This is an approximation of the global hierarchy:
    exact for clusters narrower than the overlap, and a cluster larger than a tile is
    reported whole only when its parts overlap; ``tile_m=None`` forces the exact method.

    ``tile_m="graph"`` (what ``"auto"`` uses above :data:`TILE_ABOVE` rows): the same hierarchy
    computed on the distinct locations, see :func:`_hdbscan_graph`: exact weighted core
    distances, minimum spanning tree of the mutual-reachability graph restricted to each
    location's ``knn`` (default :data:`KNN_DEFAULT`) nearest distinct locations. O(n log n);
    1M points (262k distinct) in well under a minute.
    """
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    n = len(xy)
    if n == 0:
        return np.empty(0, dtype=np.int64)
    weight = np.ones(n, dtype=np.int64) if weight is None else np.asarray(weight, dtype=np.int64)
    uniq, inv = np.unique(xy, axis=0, return_inverse=True)
    inv = inv.ravel()
    w = np.bincount(inv, weights=weight, minlength=len(uniq)).astype(np.int64)
    if method == "dbscan":
        lab = DBSCAN(eps=eps_m, min_samples=min_samples, algorithm="kd_tree", n_jobs=n_jobs).fit(
            uniq, sample_weight=w
        ).labels_
        return lab[inv].astype(np.int64)
    if method != "hdbscan":
        raise ValueError("method must be 'dbscan' or 'hdbscan'")
    rep = np.repeat(np.arange(len(uniq)), w)  # every point, as scikit-learn would see the data
    if len(rep) <= max(min_samples, 2):
        return np.full(n, -1, dtype=np.int64)
    if tile_m == "auto":
        # exact scikit-learn HDBSCAN while it is cheap; above that the weighted k-NN graph
        tile_m = "graph" if len(rep) > TILE_ABOVE else None
    if tile_m == "graph":
        return _hdbscan_graph(uniq, w, min_samples, min_cluster_size, knn, n_jobs)[inv]
    if tile_m:
        lab_rep = _hdbscan_tiled(uniq[rep], min_samples, min_cluster_size, float(tile_m),
                                 float(overlap_m if overlap_m is not None else max(4 * eps_m, 500.0)), n_jobs)
    else:
        lab_rep = _hdbscan(uniq[rep], min_samples, min_cluster_size, n_jobs)
    # one label per unique location: copies of a location join the hierarchy together (at their
    # core distance), so they share a label (tested)
    lab_u = np.full(len(uniq), -1, dtype=np.int64)
    lab_u[rep] = lab_rep
    return lab_u[inv]


#: HDBSCAN rows above which ``tile_m="auto"`` leaves scikit-learn's exact HDBSCAN (O(n^2)
#: minimum spanning tree in dense data) for the k-NN graph method :func:`_hdbscan_graph`.
TILE_ABOVE = 40_000

#: Neighbours per distinct location in the mutual-reachability graph of :func:`_hdbscan_graph`.
KNN_DEFAULT = 32


def _hdbscan_graph(uniq: np.ndarray, w: np.ndarray, min_samples: int, min_cluster_size: int | None,
                   knn: int | None = None, n_jobs=None) -> np.ndarray:
    """HDBSCAN* labels for distinct locations ``uniq`` with multiplicities ``w``, via a sparse graph.

    The hierarchy is that of HDBSCAN* (Campello, Moulavi & Sander 2013) as implemented by
    scikit-learn / McInnes & Healy (2017, "Accelerated hierarchical density based clustering"):
    minimum spanning tree of the mutual-reachability graph, single-linkage tree, condensed tree
    with ``min_cluster_size``, "leaf" selection. What differs from running scikit-learn on the
    rows repeated ``w`` times (the exact path of :func:`cluster_points`):

    1. Core distances are computed on the distinct locations with weights: the distance to the
       ``min_samples``-th nearest point counting the point itself and multiplicities (cKDTree
       query of ``min_samples`` distinct neighbours, cumulative weight). Exact: identical to
       the core distance of every copy in the repeated data.
    2. The copies of a location are not materialised for the distance computations: in the
       repeated data they are joined to each other at their core distance ``c_i`` (mutual
       reachability ``max(c_i, c_i, 0)``), so the spanning tree gets ``w_i - 1`` edges of weight
       ``c_i`` hanging off the location: exact, and the condensed tree's cluster sizes count
       every copy as scikit-learn does.
    3. **Approximation**: the spanning tree between distinct locations is the minimum spanning
       forest of the mutual-reachability graph restricted to each location's ``knn`` nearest
       distinct locations (symmetrised), not of the complete graph. Every edge with mutual
       reachability below ``max(D_i, D_j)`` (``D`` = distance to the ``knn``-th distinct
       neighbour) is in the graph, so the hierarchy is exact at every level finer than the
       local ``knn``-neighbour distance; only the links between groups farther apart than that
       can differ (the graph may pick a longer detour, or be disconnected: components are then
       joined at a distance above every edge, i.e. only at the root). With "leaf" selection and
       ``knn >= min_samples`` this changes clusters only where a cluster is split by a gap wider
       than its locations' ``knn``-neighbour distance. Tested equal to the exact path on planted
       data (tests/geo/test_clusters.py).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

    MST_edge_dtype, make_single_linkage, tree_to_labels = _sklearn_hdbscan_internals()
    n = len(uniq)
    k = max(1, int(min_samples))
    mcs = max(2, min_cluster_size or min_samples)
    cap = np.asarray(w, np.int64)  # full multiplicity (exact); core distances need only the first k
    if cap.sum() <= max(k, 2) or n < 2:
        return np.full(n, -1, dtype=np.int64)
    k = min(k, int(cap.sum()) - 1)  # as the exact path: min_samples <= rows - 1
    workers = n_jobs if n_jobs else -1
    tree = cKDTree(uniq)
    kk = int(min(n, max(k, knn or KNN_DEFAULT) + 1))
    d, j = tree.query(uniq, k=kk, workers=workers)
    d, j = d.reshape(n, kk), j.reshape(n, kk)
    # weighted core distance: first neighbour (self included) where the cumulative weight reaches k
    cum = np.cumsum(cap[j[:, :min(k, kk)]], axis=1)
    pos = np.argmax(cum >= k, axis=1)
    core = d[np.arange(n), pos]
    # mutual reachability on the k-NN graph (self excluded); distinct points: every weight > 0
    rows = np.repeat(np.arange(n), kk - 1)
    cols = j[:, 1:].ravel()
    mr = np.maximum(np.maximum(core[rows], core[cols]), d[:, 1:].ravel())
    g = coo_matrix((mr, (rows, cols)), shape=(n, n)).tocsr()
    g = g.maximum(g.T)  # symmetric: an edge when either end has the other among its neighbours
    mst = minimum_spanning_tree(g).tocoo()
    a, b, dist = mst.row.astype(np.int64), mst.col.astype(np.int64), mst.data.astype(float)
    ncomp, comp = connected_components(mst, directed=False)
    if ncomp > 1:  # join the components above every edge (they meet only at the root)
        first = np.unique(comp, return_index=True)[1]
        top = (dist.max() if len(dist) else 1.0) * 2.0 + 1.0
        a = np.r_[a, first[:-1]]
        b = np.r_[b, first[1:]]
        dist = np.r_[dist, np.full(ncomp - 1, top)]
    # copies of location i: nodes n.., joined to i at its core distance
    extra = cap - 1
    owner = np.repeat(np.arange(n), extra)
    copy_id = n + np.arange(len(owner))
    a = np.r_[a, owner]
    b = np.r_[b, copy_id]
    dist = np.r_[dist, core[owner]]
    edges = np.empty(len(a), dtype=MST_edge_dtype)
    edges["current_node"], edges["next_node"], edges["distance"] = a, b, dist
    edges = edges[np.argsort(edges["distance"], kind="stable")]
    slt = make_single_linkage(edges)
    lab, _ = tree_to_labels(slt, min_cluster_size=mcs, cluster_selection_method="leaf",
                            allow_single_cluster=False, cluster_selection_epsilon=0.0, max_cluster_size=None)
    return np.asarray(lab[:n], dtype=np.int64)


#: scikit-learn versions whose private HDBSCAN internals :func:`_hdbscan_graph` was written
#: against (pyproject pins the upper bound; tests/geo/test_clusters.py checks the signatures).
SKLEARN_TESTED = ("1.4", "1.10")


def _sklearn_hdbscan_internals():
    """scikit-learn's private single-linkage builder and condensed-tree labeller (no public API
    takes a spanning tree), with a clear error if a scikit-learn release moved or renamed them.
    Called by keyword, so a renamed parameter fails instead of silently taking another's value."""
    import sklearn
    try:
        from sklearn.cluster._hdbscan._linkage import MST_edge_dtype, make_single_linkage
        from sklearn.cluster._hdbscan._tree import tree_to_labels
    except ImportError as exc:  # pragma: no cover - depends on the installed scikit-learn
        raise RuntimeError(
            f"scikit-learn {sklearn.__version__} no longer has the private HDBSCAN internals the k-NN "
            f"graph path of geo.stats.clusters uses (tested on >={SKLEARN_TESTED[0]},<{SKLEARN_TESTED[1]}): "
            f"install a tested scikit-learn or use tile_m=None (exact scikit-learn HDBSCAN)") from exc
    if MST_edge_dtype.names != ("current_node", "next_node", "distance"):  # pragma: no cover
        raise RuntimeError(f"scikit-learn {sklearn.__version__} changed MST_edge_dtype to {MST_edge_dtype.names}: "
                           "geo.stats.clusters._hdbscan_graph must be revisited")
    return MST_edge_dtype, make_single_linkage, tree_to_labels


def _hdbscan(xy: np.ndarray, min_samples: int, min_cluster_size: int | None, n_jobs) -> np.ndarray:
    if len(xy) <= max(min_samples, 2):
        return np.full(len(xy), -1, dtype=np.int64)
    model = HDBSCAN(
        min_cluster_size=max(2, min_cluster_size or min_samples),
        min_samples=min(min_samples, len(xy) - 1),
        algorithm="kd_tree",
        cluster_selection_method="leaf",
        copy=True,
        n_jobs=n_jobs,
    )
    return model.fit(xy).labels_.astype(np.int64)


def _hdbscan_tiled(xy, min_samples, min_cluster_size, tile_m, overlap_m, n_jobs) -> np.ndarray:
    """HDBSCAN per tile with overlap; clusters sharing overlap points are merged."""
    n = len(xy)
    origin = xy.min(axis=0)
    cell = np.floor((xy - origin) / tile_m).astype(np.int64)
    owner_tile = cell[:, 0] * 1_000_003 + cell[:, 1]
    # every point joins its own tile and each neighbouring tile whose expanded box holds it
    rows, tiles = [np.arange(n)], [owner_tile]
    frac = (xy - origin) - cell * tile_m
    for dx in (-1, 0, 1):
        for dy in (-1, 0, 1):
            if dx == dy == 0:
                continue
            okx = (frac[:, 0] < overlap_m) if dx == -1 else (frac[:, 0] > tile_m - overlap_m) if dx == 1 else True
            oky = (frac[:, 1] < overlap_m) if dy == -1 else (frac[:, 1] > tile_m - overlap_m) if dy == 1 else True
            m = np.flatnonzero(okx & oky)
            rows.append(m)
            tiles.append((cell[m, 0] + dx) * 1_000_003 + (cell[m, 1] + dy))
    rows, tiles = np.concatenate(rows), np.concatenate(tiles)
    order = np.argsort(tiles, kind="stable")
    rows, tiles = rows[order], tiles[order]
    starts = np.flatnonzero(np.r_[True, tiles[1:] != tiles[:-1]])
    ends = np.r_[starts[1:], len(tiles)]
    glab = np.full(len(rows), -1, dtype=np.int64)  # global id of (tile, local label)
    next_id = 0
    for a, b in zip(starts, ends):
        lab = _hdbscan(xy[rows[a:b]], min_samples, min_cluster_size, n_jobs)
        ok = lab >= 0
        glab[a:b][ok] = lab[ok] + next_id
        next_id += int(lab.max()) + 1 if ok.any() else 0
    if next_id == 0:
        return np.full(n, -1, dtype=np.int64)
    # clusters joined by a shared point are one cluster: connected components of the graph
    # linking every (tile, label) of a point to the first (tile, label) of the same point
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    lab_df = pd.DataFrame({"row": rows, "g": glab})
    lab_df = lab_df[lab_df["g"] >= 0]
    first = lab_df.groupby("row")["g"].transform("first").to_numpy()
    g = lab_df["g"].to_numpy()
    adj = coo_matrix((np.ones(len(g)), (g, first)), shape=(next_id, next_id))
    _, roots = connected_components(adj, directed=False)
    out = np.full(n, -1, dtype=np.int64)
    own = tiles == owner_tile[rows]
    sel = own & (glab >= 0)
    out[rows[sel]] = roots[glab[sel]]
    _, out_dense = np.unique(out, return_inverse=True)
    return np.where(out >= 0, out_dense.ravel() - (1 if (out < 0).any() else 0), -1).astype(np.int64)


def scan_llr(observed: np.ndarray, expected: np.ndarray, total: float) -> np.ndarray:
    """Kulldorff's (1997) Poisson log-likelihood ratio of windows with ``observed`` cases where
    ``expected`` were expected out of ``total`` cases (0 where observed <= expected: only
    excesses count)."""
    o = np.asarray(observed, float)
    e = np.asarray(expected, float)
    n = float(total)
    with np.errstate(divide="ignore", invalid="ignore"):
        inside = np.where(o > 0, o * np.log(o / e), 0.0)
        outside = np.where(n - o > 0, (n - o) * np.log((n - o) / (n - e)), 0.0)
    return np.where(o > e, inside + outside, 0.0)


#: radii of the circular windows of the scan, as fractions of ``eps_m`` (0: the location itself)
CIRCLE_RADII = (0.0, 0.5, 1.0)


def gumbel_p(llr: np.ndarray, null_max: np.ndarray) -> np.ndarray:
    """P(max LLR >= llr) under a Gumbel distribution fitted by moments to the replicate maxima
    (SaTScan's Gumbel p-value; Abrams, Kleinman & Kulldorff 2010, *Int J Health Geogr* 9:61)."""
    null_max = np.asarray(null_max, float)
    sd = null_max.std(ddof=1) if len(null_max) > 1 else 0.0
    if not np.isfinite(sd) or sd <= 0:
        return np.ones(len(np.atleast_1d(llr)))
    beta = sd * np.sqrt(6.0) / np.pi
    mu = null_max.mean() - np.euler_gamma * beta
    return -np.expm1(-np.exp(-(np.asarray(llr, float) - mu) / beta))


def _best_circles(case_xy, labels, labs, bg, eps_m, n, min_points, points, expected, llr):
    """Each cluster's best window: the cluster itself or a circle (radius in :data:`CIRCLE_RADII`
    x ``eps_m``) centred on one of its member locations holding at least ``min_points`` cases
    (all cases within the radius count, as in the replicates). Returns points, expected, llr."""
    points, expected, llr = points.copy(), expected.copy(), llr.copy()
    m = labels >= 0
    um = pd.DataFrame({"lab": labels[m], "e": case_xy[m, 0], "n": case_xy[m, 1]}).drop_duplicates()
    if um.empty:
        return points, expected, llr
    centres = um[["e", "n"]].to_numpy(float)
    dense = np.searchsorted(labs, um["lab"].to_numpy())
    case_tree = cKDTree(case_xy)
    for f in CIRCLE_RADII:
        r = f * eps_m
        inside = case_tree.query_ball_point(centres, r, return_length=True).astype(float) if r > 0 else \
            np.bincount(pd.DataFrame(case_xy).merge(
                pd.DataFrame(centres).reset_index(), how="inner")["index"].to_numpy(), minlength=len(centres)).astype(float)
        hits = bg.tree.query_ball_point(centres, max(r, 1e-9))
        pop = np.maximum(np.fromiter((bg.w[h].sum() if len(h) else 0.0 for h in hits), float, len(hits)), 1.0)
        exp_c = n * pop / bg.total
        l_c = np.where(inside >= min_points, scan_llr(inside, exp_c, n), 0.0)
        best = pd.Series(l_c).groupby(dense).idxmax()
        for k, j in best.items():
            if l_c[j] > llr[k]:
                points[k], expected[k], llr[k] = inside[j], exp_c[j], l_c[j]
    return points, expected, llr


def _window_population(member_xy: np.ndarray, member_lab: np.ndarray, pop_tree: cKDTree, pop_w: np.ndarray,
                       eps_m: float, n_lab: int) -> np.ndarray:
    """Background population (weights ``pop_w`` of the tree's points) within ``eps_m`` of any
    member location, per label."""
    if not len(member_xy):
        return np.zeros(n_lab)
    hits = pop_tree.query_ball_point(member_xy, eps_m)
    lens = np.fromiter((len(h) for h in hits), int, len(hits))
    if lens.sum() == 0:
        return np.zeros(n_lab)
    lab = np.repeat(member_lab, lens)
    j = np.concatenate([np.asarray(h, int) for h in hits if len(h)])
    key = np.unique(lab.astype(np.int64) * len(pop_w) + j)
    return np.bincount(key // len(pop_w), weights=pop_w[key % len(pop_w)], minlength=n_lab)


class _Background:
    """The background points of the Monte Carlo null, collapsed to distinct locations with their
    multiplicity, and their ``eps_m`` neighbourhood graph (diagonal included), built once."""

    def __init__(self, xy: np.ndarray, eps_m: float):
        xy = pd.DataFrame(np.asarray(xy, float).reshape(-1, 2), columns=["e", "n"])
        self.inv = xy.groupby(["e", "n"], sort=False).ngroup().to_numpy()
        self.uniq = xy.drop_duplicates().to_numpy()  # first occurrences, in ngroup(sort=False) order
        self.w = np.bincount(self.inv, minlength=len(self.uniq)).astype(float)
        self.total = float(len(self.inv))
        self.tree = cKDTree(self.uniq)
        self.graph = self._within(eps_m)
        self.edges = _Edges(self.graph)
        # the circular windows of the scan (:data:`CIRCLE_RADII` x eps_m): graph and population
        self.circles = [(g, g @ self.w) for g in (self.graph if f == 1 else self._within(f * eps_m)
                                                  for f in CIRCLE_RADII)]
        # circles of radius 0 (the location itself) and eps_m (the graph): no product needed
        self.circle_kind = ["self" if f == 0 else "graph" if f == 1 else "product" for f in CIRCLE_RADII]

    def _within(self, r: float):
        """Sparse 0/1 matrix of the distinct locations within ``r`` metres of each other (diagonal included)."""
        from scipy.sparse import coo_matrix, identity

        n = len(self.uniq)
        pr = self.tree.query_pairs(r, output_type="ndarray") if r > 0 else np.empty((0, 2), np.int64)
        a = coo_matrix((np.ones(2 * len(pr)), (np.r_[pr[:, 0], pr[:, 1]], np.r_[pr[:, 1], pr[:, 0]])), shape=(n, n))
        return (a + identity(n, format="coo")).tocsr()

    def circle_expected(self, n: int) -> list[np.ndarray]:
        """Expected cases of ``n`` in each location's circles (population at least 1), kept."""
        if getattr(self, "_expected", (None,))[0] != n:
            self._expected = (n, [n * np.maximum(cpop, 1.0) / self.total for _, cpop in self.circles])
        return self._expected[1]

    def draw(self, rng: np.random.Generator, n: int, replace: bool) -> np.ndarray:
        """Counts of ``n`` cases per distinct location, drawn from the background points with
        replacement (multinomial) or without (multivariate hypergeometric): the counts directly,
        at a cost set by the number of locations, not of cases."""
        if replace:
            return rng.multinomial(n, self.w / self.total).astype(float)
        return rng.multivariate_hypergeometric(self.w.astype(np.int64), n).astype(float)


class _Edges:
    """The stored entries of a symmetric CSR graph (diagonal stored on every row) as fixed
    lists, so a replicate masks edges instead of slicing the sparse matrix: ``rows, cols`` of
    every entry in CSR order, and the entries above the diagonal (``up_rows, up_cols`` with
    their CSR ``up_ptr``), enough for connected components."""

    def __init__(self, graph):
        n = graph.shape[0]
        self.graph = graph
        self.rows = np.repeat(np.arange(n), np.diff(graph.indptr))
        self.cols = graph.indices.astype(np.intp)
        up = self.rows < self.cols
        self.up_rows, self.up_cols = self.rows[up], self.cols[up]                  # intp: gathers
        self.up_rows32, self.up_cols32 = self.up_rows.astype(np.int32), self.up_cols.astype(np.int32)
        self.up_ptr = np.r_[0, np.cumsum(np.bincount(self.rows[up], minlength=n))].astype(np.int32)
        self.binary = bool(np.all(graph.data == 1))
        self.max_degree = int(np.diff(graph.indptr).max(initial=0))

    def components(self, mask: np.ndarray) -> tuple[int, np.ndarray]:
        """Connected components of the graph restricted to the edges between ``mask`` locations
        (scipy's labels: numbered in the order of each component's lowest location). An edge
        left out is pointed back at its own row (a self-loop, no connection), so the CSR
        structure is reused as it is."""
        from scipy.sparse import csr_matrix
        from scipy.sparse.csgraph import connected_components

        keep = mask[self.up_rows] & mask[self.up_cols]
        sub = csr_matrix((np.ones(len(keep)), np.where(keep, self.up_cols32, self.up_rows32), self.up_ptr),
                         shape=self.graph.shape)
        return connected_components(sub, directed=False)

    def row_entries(self, sel: np.ndarray) -> np.ndarray:
        """Positions (in CSR order) of the stored entries of rows ``sel`` (ascending)."""
        lo, hi = self.graph.indptr[sel], self.graph.indptr[sel + 1]
        lens = hi - lo
        return np.arange(int(lens.sum())) + np.repeat(lo - np.r_[0, np.cumsum(lens)[:-1]], lens)


def _dbscan_on_graph(graph, counts: np.ndarray, min_samples: int, edges: _Edges | None = None,
                     near: np.ndarray | None = None) -> np.ndarray:
    """DBSCAN (Ester et al. 1996) of weighted points on a precomputed ``eps`` graph: the same
    clusters as scikit-learn's ``DBSCAN(eps, min_samples).fit(X, sample_weight=counts)`` on the
    graph's points (core: neighbourhood weight, self included, >= ``min_samples``; clusters: the
    connected core points; a border point joins the cluster of a core neighbour; where it has
    core neighbours in two clusters scikit-learn takes the first one its expansion reaches, here
    the lowest label: only such shared border points can differ). Labels per location (-1: noise
    or not drawn), numbered in the order of each cluster's lowest location.

    ``graph``: symmetric CSR with the diagonal stored; ``edges``: its :class:`_Edges` (built
    when not given); ``near``: ``graph @ counts`` when the caller has it. The components are
    taken over every location with the non-core edges left out (:meth:`_Edges.components`),
    so the non-core locations are components of their own, dropped when the core components
    are numbered densely in order."""
    edges = _Edges(graph) if edges is None else edges
    drawn = counts > 0
    near = graph @ counts if near is None else near
    core = drawn & (near >= min_samples)
    lab = np.full(len(counts), -1, dtype=np.int64)
    if not core.any():
        return lab
    ncomp, comp = edges.components(core)
    used = np.zeros(ncomp, bool)
    used[comp[core]] = True
    lab[core] = (np.cumsum(used) - 1)[comp[core]]
    # border: a drawn non-core location takes the lowest label of its core neighbours
    border = np.flatnonzero(drawn & ~core)
    if len(border):
        e = edges.row_entries(border)
        nb = edges.cols[e]
        vals = np.where(core[nb], lab[nb], len(counts))
        starts = np.r_[0, np.cumsum(np.diff(edges.graph.indptr)[border])[:-1]]   # every row holds its diagonal
        best = np.minimum.reduceat(vals, starts)
        hit = best < len(counts)
        lab[border[hit]] = best[hit]
    return lab


def _reach_population(edges: _Edges, lab: np.ndarray, w: np.ndarray, n_lab: int) -> np.ndarray:
    """Per label, the summed weight ``w`` of the locations within the graph's reach of any
    location with that label (the labelled locations included: the diagonal is stored).

    The graph is symmetric, so the labels reaching location ``c`` are those of its own row: a
    location reached by one label adds its weight to that label; the few reached by several
    add it to each of them once. One label or several: from one product of the 0/1 graph with
    ``[labelled, v, v^2]`` (``v`` = label + 1, 0 unlabelled), per row ``A`` labelled
    neighbours, ``S = sum v``, ``Q = sum v^2``, all labels equal exactly when ``S^2 = A Q``
    (Cauchy-Schwarz); every sum is a whole number below 2^53, so exact in float64. Where the
    bound does not hold (or the graph is not 0/1) the labels of each row are compared
    directly (the minimum and maximum per row)."""
    n = len(lab)
    if edges.binary and (edges.max_degree * (n_lab + 1.0)) ** 2 < 2.0 ** 52:
        v = (lab + 1).astype(float)
        X = np.empty((n, 3))
        X[:, 0] = lab >= 0
        X[:, 1] = v
        X[:, 2] = v * v
        Y = edges.graph @ X
        A, S, Q = Y[:, 0], Y[:, 1], Y[:, 2]
        one = (A > 0) & (S * S == A * Q)
        pop = np.bincount((S[one] / A[one]).astype(np.int64) - 1, weights=w[one], minlength=n_lab)
        many = np.flatnonzero((A > 0) & ~one)
    else:
        lc = lab[edges.cols]
        starts = edges.graph.indptr[:-1]                # every row holds its diagonal: none empty
        hi = np.maximum.reduceat(lc, starts)
        lo = np.minimum.reduceat(np.where(lc >= 0, lc, n_lab), starts)
        one = (hi >= 0) & (lo == hi)
        pop = np.bincount(hi[one], weights=w[one], minlength=n_lab)
        many = np.flatnonzero((hi >= 0) & (lo < hi))
    if len(many):
        e = edges.row_entries(many)
        lc = lab[edges.cols[e]]
        e, lc = e[lc >= 0], lc[lc >= 0]
        key = np.unique(edges.rows[e] * np.int64(n_lab) + lc)      # each (location, label) once
        pop += np.bincount(key % n_lab, weights=w[key // n_lab], minlength=n_lab)
    return pop


def _replicate_max_llr(bg: _Background, n: int, rng: np.random.Generator, method: str, eps_m: float,
                       min_samples: int, min_cluster_size, min_points: int, replace: bool) -> float:
    """One Monte Carlo replicate: ``n`` cases drawn from the background, clustered as the data
    were, the largest window LLR among the clusters that would be reported."""
    c = bg.draw(rng, n, replace)
    near = bg.graph @ c                                   # cases within eps_m: core test and largest circle
    if method == "dbscan":
        lab = _dbscan_on_graph(bg.graph, c, min_samples, bg.edges, near)
    else:
        lab = np.full(len(c), -1, dtype=np.int64)
        d = np.flatnonzero(c > 0)
        lab[d] = cluster_points(bg.uniq[d], c[d].astype(np.int64), method, eps_m, min_samples, min_cluster_size)
    ok = np.flatnonzero(lab >= 0)
    if not len(ok):
        return 0.0
    size = np.bincount(lab[ok], weights=c[ok])
    keep = size >= min_points
    if method == "hdbscan" and eps_m:
        keep &= _spread(bg.uniq[ok], c[ok], lab[ok], len(size)) <= eps_m
    if not keep.any():
        return 0.0
    # window population: background within eps of any member of a kept cluster, via the graph
    pop = np.maximum(_reach_population(bg.edges, np.where((lab >= 0) & keep[lab], lab, -1), bg.w, len(size)), 1.0)
    best = _max_llr(size[keep], n * pop[keep] / bg.total, n)
    # circles centred on the members of the clusters that would be reported
    centre = ok[keep[lab[ok]]]
    for (g, _), kind, expected in zip(bg.circles, bg.circle_kind, bg.circle_expected(n)):
        # one sparse product: cheaper than slicing rows per replicate
        inside = (c if kind == "self" else near if kind == "graph" else g @ c)[centre]
        big = inside >= min_points
        if big.any():
            best = max(best, _max_llr(inside[big], expected[centre[big]], n))
    return best


def _max_llr(observed: np.ndarray, expected: np.ndarray, total: float) -> float:
    """``float(scan_llr(observed, expected, total).max())`` of a non-empty set of windows, the
    logarithms taken only where ``observed > expected`` (the same values there; the others are
    0 by definition)."""
    up = observed > expected
    best = float(scan_llr(observed[up], expected[up], total).max()) if up.any() else 0.0
    return best if up.all() else max(best, 0.0)


def _spread(xy: np.ndarray, w: np.ndarray, lab: np.ndarray, n_lab: int) -> np.ndarray:
    """Weighted median distance of each cluster's points from its weighted centroid."""
    size = np.bincount(lab, weights=w, minlength=n_lab)
    cx = np.bincount(lab, weights=xy[:, 0] * w, minlength=n_lab) / np.maximum(size, 1)
    cy = np.bincount(lab, weights=xy[:, 1] * w, minlength=n_lab) / np.maximum(size, 1)
    d = np.hypot(xy[:, 0] - cx[lab], xy[:, 1] - cy[lab])
    rep = np.asarray(w, np.int64)
    return pd.Series(np.repeat(d, rep)).groupby(np.repeat(lab, rep)).median().reindex(np.arange(n_lab)).to_numpy()


def cluster_inference(
    case_xy: np.ndarray, labels: np.ndarray, population_xy: np.ndarray, *, method: str = "dbscan",
    eps_m: float = 150.0, min_samples: int = 5, min_cluster_size: int | None = None, min_points: int = 5,
    replications: int = 999, seed: int | None = 0, with_replacement: bool = True,
) -> pd.DataFrame:
    """Monte Carlo p-values of found-at clusters against a background that keeps the population.

    Method: Kulldorff's spatial scan statistic (Kulldorff 1997, *Commun. Stat. Theory Methods*
    26:1481; the Poisson model) with the scanning windows chosen by the clustering itself. Each
    cluster is a window: its ``observed`` cases are the distinct (child, location) points in it,
    its population the background points within ``eps_m`` of its member locations (at least
    one), ``expected = N * population / total population``, and its statistic the Poisson log
    likelihood ratio (:func:`scan_llr`). Null hypothesis: the ``N`` cases fall on the background
    points at random (``population_xy``: residential postcode centroids, a Poisson model with
    the postcode count as population; or, without postcodes, all located place events, i.e.
    random labelling). Each of ``replications`` seeded replicates draws ``N`` cases from the
    background, clusters them with the same method and parameters, and keeps the largest LLR of
    the clusters it would report (at least ``min_points`` points); a cluster's p-value is
    ``(1 + #{replicates with max LLR >= its LLR}) / (replications + 1)``, Kulldorff's rule for
    the most likely and (conservatively) for secondary clusters. Benjamini-Hochberg q-values are
    taken over all the clusters reported.

    ``case_xy``: the clustered points (one per distinct child and location); ``labels``: their
    cluster labels (-1 noise) restricted to the reported clusters. Returns one row per label:
    ``cluster`` (the label), ``points``, ``expected``, ``llr``, ``p_value``, ``q_value``.
    """
    from geo.stats.permutation import bh_qvalues

    case_xy = np.asarray(case_xy, float).reshape(-1, 2)
    labels = np.asarray(labels)
    cols = ["cluster", "points", "expected", "llr", "p_value", "q_value"]
    labs = np.unique(labels[labels >= 0])
    if not len(labs) or not len(population_xy):
        return pd.DataFrame({c: pd.Series(dtype=float) for c in cols})
    bg = _Background(population_xy, eps_m)
    n = len(case_xy)
    dense = np.searchsorted(labs, labels[labels >= 0])
    points = np.bincount(dense, minlength=len(labs)).astype(float)
    # window population from the distinct member locations (postcode centroids repeat)
    um = pd.DataFrame(np.c_[dense, case_xy[labels >= 0]]).drop_duplicates().to_numpy()  # hashing: no sort
    pop = np.maximum(_window_population(um[:, 1:], um[:, 0].astype(np.int64), bg.tree, bg.w, eps_m, len(labs)), 1.0)
    expected = n * pop / bg.total
    llr = scan_llr(points, expected, n)
    points, expected, llr = _best_circles(case_xy, labels, labs, bg, eps_m, n, min_points, points, expected, llr)
    rng = np.random.default_rng(seed)
    replace = with_replacement or n > bg.total
    null = np.array([_replicate_max_llr(bg, n, rng, method, eps_m, min_samples, min_cluster_size, min_points,
                                        replace) for _ in range(int(replications))])
    exceed = (null[None, :] >= llr[:, None] - 1e-9).sum(axis=1)
    p = (1.0 + exceed) / (len(null) + 1.0)
    # beyond every replicate the Monte Carlo p is only a bound, 1 / (R + 1): the Gumbel tail
    # fitted to the replicate maxima gives the p-value there (Abrams, Kleinman & Kulldorff 2010)
    p = np.where(exceed == 0, np.minimum(p, gumbel_p(llr, null)), p)
    p = np.where(llr > 0, p, 1.0)
    return pd.DataFrame({"cluster": labs, "points": points.astype(int), "expected": expected, "llr": llr,
                         "p_value": p, "q_value": bh_qvalues(p)})


def found_at_clusters(
    place_events: pd.DataFrame,
    premises: pd.DataFrame | None = None,
    *,
    method: str = "dbscan",
    eps_m: float = 150.0,
    min_samples: int = 5,
    min_children: int = 5,
    min_cluster_size: int | None = None,
    kinds=DEFAULT_KINDS,
    start=None,
    end=None,
    exclude_precision=("area", "none"),
    exclude_named: bool = True,
    children: pd.DataFrame | None = None,
    home_m: float = 50.0,
    postcodes: pd.DataFrame | None = None,
    replications: int = 999,
    seed: int | None = 0,
    habitual_episodes: int | None = 2,
) -> gpd.GeoDataFrame:
    """Clusters of found-at / RHI place points with at least ``min_children`` distinct children.

    Parameters
    ----------
    place_events : frame ``place_events`` (FRAMES.md); rows without coordinates are ignored.
    premises : frame ``premises`` (premises_id, easting, northing) for the nearest premises.
    method : ``"dbscan"`` or ``"hdbscan"``.
    eps_m : DBSCAN radius, metres; for both methods the scan window radius of the inference, and
        for HDBSCAN the spread filter (median distance of members from the centroid <= eps_m).
    min_samples : distinct (child, place) points needed for a core point.
    min_children : minimum distinct children (person_id) for a cluster to be reported.
        Defaults 5 / 5: on a city drop (~5,000 found-at and RHI points spread over postcode
        centroids) 3 / 3 reports ~400 clusters of 3-4 children that background density alone
        produces at 150 m; 5 / 5 keeps ~150 with every planted venue still among them.
    kinds, start, end : which events and period.
    exclude_precision : geocode precisions left out (default area centroids and none).
    exclude_named : leave out points the geocoder matched to a named premises or place
        (``geo.places.located``): they are assessed as that entity (premises of concern), and a
        landmark's reference point is not a cluster of anonymous locations.
    children : frame ``children`` (person_id, placement_e, placement_n, placement_type,
        establishment): points within ``home_m`` of the child's own placement or of a place it
        was last seen in ``place_events`` (found back at home, ``geo.places.located.home_points``), and
        points at a shared setting's placement (a children's home, whoever's record it is:
        ``geo.places.located.establishment_points``), are left out. A family or foster placement is
        that child's home only.
    postcodes : residential postcode centroids, the background population of the Monte Carlo
        null (:func:`cluster_inference`); without them, random labelling over all located place
        events of the period (found at, last seen, RHI places).
    replications, seed : Monte Carlo replicates (0: no inference, p = q = NaN) and their seed.
    habitual_episodes : a point where the child itself was found in at least this many distinct
        episodes is one of the child's own places (``geo.places.located.habitual_points``), left out like
        its home: a place one child keeps returning to belongs to that child's baseline, not to a
        place where different children are found (``None`` or 0: off).

    Returns
    -------
    GeoDataFrame (EPSG:27700, hull polygons) with :data:`CLUSTER_COLUMNS`, most children
    first (``cluster_id`` 1 is the largest). ``points`` (distinct child x location points),
    ``expected``, ``llr``, ``p_value`` and ``q_value`` come from :func:`cluster_inference`;
    only clusters with ``q_value < 0.05`` are locations of concern, the rest are descriptive.
    """
    homes = own_places(children, place_events, kinds if kinds is not None else DEFAULT_KINDS, habitual_episodes)
    ev = _clustered_events(filter_events(place_events, kinds, start, end), exclude_precision, exclude_named,
                           homes, home_m, establishment_points(children))
    empty = gpd.GeoDataFrame({c: [] for c in CLUSTER_COLUMNS}, geometry=[], crs=BNG)
    if ev.empty:
        return empty
    ev = ev.reset_index(drop=True)
    person = ev["person_id"].astype(str) if "person_id" in ev else pd.Series(np.arange(len(ev)).astype(str))
    pts = pd.DataFrame({"p": person, "e": ev["easting"].astype(float), "n": ev["northing"].astype(float)})
    pair_id = pts.groupby(["p", "e", "n"], sort=False).ngroup().to_numpy()
    pairs = pts.drop_duplicates(["p", "e", "n"]).reset_index(drop=True)
    # drop_duplicates keeps first occurrences in order, matching ngroup(sort=False) numbering
    lab_pairs = cluster_points(pairs[["e", "n"]].to_numpy(), None, method, eps_m, min_samples, min_cluster_size)
    lab = lab_pairs[pair_id]
    ev = ev.assign(_lab=lab)
    ev = ev[ev["_lab"] >= 0]
    if ev.empty:
        return empty
    ep = ev["episode_key"].where(ev["episode_key"].notna(), "event:" + ev.get("event_key", pd.Series(ev.index, index=ev.index)).astype(str)) if "episode_key" in ev else ev.index.astype(str)
    ev = ev.assign(_ep=ep)
    g = ev.groupby("_lab")
    stats_ = pd.DataFrame({
        "episodes": g["_ep"].nunique(),
        "children": g["person_id"].nunique() if "person_id" in ev else g.size(),
        "events": g.size(),
        "first_seen": g["at"].min() if "at" in ev else pd.NaT,
        "last_seen": g["at"].max() if "at" in ev else pd.NaT,
        "centroid_e": g["easting"].mean(),
        "centroid_n": g["northing"].mean(),
    })
    if method == "hdbscan" and eps_m:
        u = ev.drop_duplicates(["person_id", "easting", "northing"]) if "person_id" in ev else ev
        d = np.hypot(u["easting"] - u["_lab"].map(stats_["centroid_e"]), u["northing"] - u["_lab"].map(stats_["centroid_n"]))
        spread = d.groupby(u["_lab"]).median()
        stats_ = stats_[(spread.reindex(stats_.index) <= eps_m).to_numpy()]
    stats_ = stats_[stats_["children"] >= min_children]
    if stats_.empty:
        return empty
    stats_ = stats_.join(_inference(place_events, start, end, pairs, lab_pairs, stats_.index, postcodes,
                                    exclude_precision, exclude_named, homes, home_m, method, eps_m,
                                    min_samples, min_cluster_size, min_children, replications, seed, kinds))
    ev = ev[ev["_lab"].isin(stats_.index)].sort_values("_lab", kind="stable")
    mp = shapely.multipoints(shapely.points(ev["easting"].to_numpy(), ev["northing"].to_numpy()),
                             indices=pd.factorize(ev["_lab"], sort=True)[0])
    labs_sorted = np.sort(ev["_lab"].unique())
    hull = shapely.convex_hull(mp)
    degenerate = shapely.get_type_id(hull) != 3
    hull = np.where(degenerate, shapely.buffer(hull, 5.0), hull)
    stats_ = stats_.loc[labs_sorted]
    stats_["geometry"] = hull
    stats_ = stats_.sort_values(["children", "episodes"], ascending=False, kind="stable").reset_index(drop=True)
    stats_.insert(0, "cluster_id", np.arange(1, len(stats_) + 1))
    stats_.insert(1, "method", method)
    if premises is not None and len(premises.dropna(subset=["easting", "northing"])):
        pr = premises.dropna(subset=["easting", "northing"])
        d, j = cKDTree(pr[["easting", "northing"]].to_numpy(float)).query(stats_[["centroid_e", "centroid_n"]].to_numpy())
        stats_["nearest_premises_id"] = pr["premises_id"].to_numpy()[j]
        stats_["nearest_premises_m"] = d
    else:
        stats_["nearest_premises_id"] = None
        stats_["nearest_premises_m"] = np.nan
    stats_["status"] = cluster_status(stats_).to_numpy()
    out = gpd.GeoDataFrame(stats_[CLUSTER_COLUMNS + ["geometry"]], geometry="geometry", crs=BNG)
    return out


def _clustered_events(ev: pd.DataFrame, exclude_precision, exclude_named: bool, homes, home_m: float,
                      placements=None) -> pd.DataFrame:
    """The events that are clustered: with coordinates, not coarse, not named, not at home."""
    ev = ev.dropna(subset=["easting", "northing"])
    if "precision" in ev and exclude_precision:
        # an area centroid is not a place a child was found: it would stack every vague
        # "somewhere in Aston" onto one point and make a cluster of it
        ev = ev[~ev["precision"].astype("string").isin(list(exclude_precision)).fillna(False).to_numpy(bool)]
    if exclude_named and "match_id" in ev:
        ev = ev[~entity_matched(ev["match_id"])]
    if (homes is not None or placements is not None) and len(ev):
        ev = ev[~at_own_place(ev, homes, placements, home_m)]
    return ev


def _inference(place_events, start, end, pairs, lab_pairs, reported, postcodes, exclude_precision, exclude_named,
               homes, home_m, method, eps_m, min_samples, min_cluster_size, min_children, replications,
               seed, kinds=DEFAULT_KINDS) -> pd.DataFrame:
    """:func:`cluster_inference` for the reported clusters, indexed by cluster label."""
    if not replications:
        return pd.DataFrame(np.nan, index=reported, columns=INFERENCE_COLUMNS)
    replace = True
    pop = None
    if postcodes is not None and len(postcodes) and {"easting", "northing"} <= set(postcodes):
        pop = postcodes[["easting", "northing"]].dropna().to_numpy(float)
    if pop is None or not len(pop):
        # random labelling: the cases and the located place events of the other kinds (last
        # seen, ...) are the background; controls keep their home points (a last-seen point is
        # a home by definition)
        allev = _clustered_events(filter_events(place_events, None, start, end), exclude_precision, exclude_named,
                                  None, home_m)
        if kinds is not None and "kind" in allev:
            allev = allev[~allev["kind"].isin(list(kinds))]
        person = allev["person_id"].astype(str) if "person_id" in allev else pd.Series(np.arange(len(allev)).astype(str))
        ctrl = pd.DataFrame({"p": person.to_numpy(), "e": allev["easting"].to_numpy(float),
                             "n": allev["northing"].to_numpy(float)}).drop_duplicates()
        pop = np.vstack([pairs[["e", "n"]].to_numpy(float), ctrl[["e", "n"]].to_numpy(float)])
        replace = False
        if len(pop) <= len(pairs):  # no controls besides the cases: nothing to label at random
            return pd.DataFrame(np.nan, index=reported, columns=INFERENCE_COLUMNS)
    lab = np.where(np.isin(lab_pairs, np.asarray(reported)), lab_pairs, -1)
    res = cluster_inference(pairs[["e", "n"]].to_numpy(float), lab, pop, method=method, eps_m=eps_m,
                            min_samples=min_samples, min_cluster_size=min_cluster_size, min_points=min_children,
                            replications=replications, seed=seed, with_replacement=replace)
    return res.set_index("cluster")[INFERENCE_COLUMNS]


def approximation_report(xy: np.ndarray, weight: np.ndarray | None = None, path: str | float = "graph",
                         **kw) -> dict:
    """How far an approximate HDBSCAN path is from the exact one on the same input.

    ``path``: ``"graph"`` (the k-NN graph of :func:`_hdbscan_graph`) or a tile size in metres
    (the tiled path). Returns the adjusted Rand index of the two labellings over all points
    (noise as one label), the share of points whose noise/cluster status differs, and the
    number of clusters of each. The exact path is scikit-learn's HDBSCAN on every point.
    """
    from sklearn.metrics import adjusted_rand_score

    exact = cluster_points(xy, weight, method="hdbscan", tile_m=None, **kw)
    approx = cluster_points(xy, weight, method="hdbscan", tile_m=path, **kw)
    w = np.ones(len(exact), np.int64) if weight is None else np.asarray(weight, np.int64)
    ex, ap = np.repeat(exact, w), np.repeat(approx, w)
    return {"path": path, "ari": float(adjusted_rand_score(ex, ap)),
            "noise_status_differs": float(np.mean((ex < 0) != (ap < 0))),
            "clusters_exact": int(len(np.unique(ex[ex >= 0]))), "clusters_approx": int(len(np.unique(ap[ap >= 0])))}

"""Found-at clusters: DBSCAN / HDBSCAN with a minimum of distinct children."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.stats.clusters import CLUSTER_COLUMNS, cluster_points, found_at_clusters


def _events():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(400):  # sparse background over 15 km
        rows.append((f"b{i}", f"P{i}", f"E{i}", 400000 + rng.uniform(0, 15000), 280000 + rng.uniform(0, 15000), 10))
    for k in range(20):   # 8 children within ~40 m of a takeaway
        rows.append((f"c{k}", f"Q{k % 8}", f"F{k}", 405000 + rng.normal(0, 15), 288000 + rng.normal(0, 15), 60 + k))
    for k in range(30):   # one child found 30 times at home
        rows.append((f"h{k}", "HOME", f"H{k}", 410000.0, 290000.0, 90))
    df = pd.DataFrame(rows, columns=["event_key", "person_id", "episode_key", "easting", "northing", "day"])
    df["kind"] = "found_at"
    df["at"] = pd.Timestamp("2017-01-01", tz="UTC") + pd.to_timedelta(df.pop("day"), unit="D")
    return df


@pytest.mark.parametrize("method", ["dbscan", "hdbscan"])
def test_planted_cluster_found_and_home_ignored(method):
    prem = pd.DataFrame({"premises_id": ["X1", "X2"], "easting": [405010.0, 410000.0], "northing": [288000.0, 290000.0]})
    c = found_at_clusters(_events(), prem, method=method, eps_m=100, min_samples=4, min_children=5)
    assert list(c.columns[:-1]) == CLUSTER_COLUMNS and c.crs.to_epsg() == 27700
    assert len(c) == 1
    top = c.iloc[0]
    assert top.nearest_premises_id == "X1" and top.nearest_premises_m < 50
    if method == "dbscan":  # the whole planted group
        assert top.children == 8 and top.episodes == 20
        assert top.first_seen == pd.Timestamp("2017-03-02", tz="UTC")
    else:  # HDBSCAN "leaf" keeps the densest core of it
        assert 5 <= top.children <= 8
    assert c.geometry.iloc[0].geom_type == "Polygon"
    assert c.geometry.iloc[0].distance(__import__("shapely").Point(405000, 288000)) < 30


def test_duplicates_collapsed_dbscan_exact():
    xy = np.array([[0, 0]] * 5 + [[1000, 0]] * 2, float)
    assert cluster_points(xy, method="dbscan", eps_m=10, min_samples=3).tolist() == [0] * 5 + [-1] * 2


def _planted_xy(seed=1):
    rng = np.random.default_rng(seed)
    bg = rng.uniform(0, 5000, (1500, 2))
    spots = [((1000, 1000), 20, 60), ((3000, 3000), 40, 120), ((4000, 1000), 15, 40), ((1500, 4000), 60, 200)]
    xy = np.vstack([bg] + [np.asarray(c) + rng.normal(0, s, (m, 2)) for c, s, m in spots])
    return xy, spots


def _same_partition(a, b):
    """Equal clusterings up to renaming the labels (noise stays noise)."""
    if not np.array_equal(a < 0, b < 0):
        return False
    m = a >= 0
    pairs = np.unique(np.c_[a[m], b[m]], axis=0)
    return len(pairs) == len(np.unique(a[m])) == len(np.unique(b[m]))


def test_hdbscan_graph_equals_exact_without_ties():
    # min_samples=1: mutual reachability = distance, so the spanning tree is unique and the
    # k-NN graph path must reproduce scikit-learn's HDBSCAN exactly
    xy, _ = _planted_xy()
    exact = cluster_points(xy, method="hdbscan", min_samples=1, min_cluster_size=15, tile_m=None)
    fast = cluster_points(xy, method="hdbscan", min_samples=1, min_cluster_size=15, tile_m="graph")
    assert exact.max() >= 3 and _same_partition(exact, fast)


@pytest.mark.parametrize("dups", [False, True])
def test_hdbscan_graph_matches_exact_planted(dups):
    # with min_samples > 1 the mutual-reachability graph has tied edges and any minimum spanning
    # tree is valid: scikit-learn itself changes a few border points when the rows are permuted.
    # The planted spots must come out identical, the rest nearly so.
    from sklearn.metrics import adjusted_rand_score

    xy, spots = _planted_xy()
    w = None
    if dups:  # postcode-centroid style repeats: every 3rd background point 1-12 times
        w = np.ones(len(xy), np.int64)
        w[:1500:3] = np.random.default_rng(2).integers(1, 13, 500)
        w[1500:1560] = 3  # and the first planted spot three times over
    kw = dict(method="hdbscan", min_samples=10, min_cluster_size=20)
    exact = cluster_points(xy, w, tile_m=None, **kw)
    fast = cluster_points(xy, w, tile_m="graph", **kw)
    start = 1500
    for _, _, m in spots:
        blk = slice(start, start + m)
        assert _same_partition(exact[blk], fast[blk])
        start += m
    # scikit-learn against itself on permuted rows: ARI 0.945-0.962 with dups (measured), so
    # the bound is that spread, not a property of the graph path (the full graph gives the same)
    assert adjusted_rand_score(exact, fast) > (0.9 if dups else 0.98)
    assert abs(int((exact < 0).sum()) - int((fast < 0).sum())) <= 0.02 * len(xy)


def test_hdbscan_auto_uses_graph_above_threshold(monkeypatch):
    import geo.stats.clusters as gc

    xy, _ = _planted_xy()
    monkeypatch.setattr(gc, "TILE_ABOVE", 100)
    calls = []
    real = gc._hdbscan_graph
    monkeypatch.setattr(gc, "_hdbscan_graph", lambda *a, **k: calls.append(1) or real(*a, **k))
    lab = gc.cluster_points(xy, method="hdbscan", min_samples=5, min_cluster_size=20)
    assert calls and lab.max() >= 3


# ---- issue 13: Monte Carlo inference for found-at clusters ------------------------------------

def _background(seed=0):
    """Residential postcodes: a town with a dense centre and sparse suburbs (metres)."""
    rng = np.random.default_rng(seed)
    return np.vstack([rng.uniform(0, 6000, (2500, 2)), 3000 + rng.normal(0, 400, (1500, 2))]).round()


def test_dbscan_on_graph_equals_scikit_learn():
    from sklearn.cluster import DBSCAN

    from geo.stats.clusters import _Background, _dbscan_on_graph

    bg = _Background(_background(), 150.0)
    rng = np.random.default_rng(3)
    for _ in range(5):
        c = bg.draw(rng, 1500, True)
        mine = _dbscan_on_graph(bg.graph, c, 5)
        d = np.flatnonzero(c > 0)
        ref = DBSCAN(eps=150.0, min_samples=5).fit(bg.uniq[d], sample_weight=c[d])
        core = np.zeros(len(d), bool)
        core[ref.core_sample_indices_] = True
        assert _same_partition(mine[d][core], ref.labels_[core])      # core points: identical
        assert np.array_equal(mine[d] < 0, ref.labels_ < 0)            # same noise


def test_cluster_inference_null_calibrated_and_planted_found():
    from geo.stats.clusters import cluster_inference, cluster_points

    pop = _background()
    flagged = 0
    for seed in range(20):  # cases drawn from the background: nothing to find
        rng = np.random.default_rng(100 + seed)
        xy = pop[rng.integers(0, len(pop), 900)]
        lab = cluster_points(xy, method="dbscan", eps_m=150, min_samples=5)
        sizes = np.bincount(lab[lab >= 0]) if (lab >= 0).any() else np.zeros(0)
        lab = np.where((lab >= 0) & (sizes[np.maximum(lab, 0)] >= 5), lab, -1)
        res = cluster_inference(xy, lab, pop, eps_m=150, min_samples=5, min_points=5, replications=99, seed=seed)
        flagged += int((res["q_value"] < 0.05).any())
    assert flagged <= 2
    # plant 12 children at one suburban postcode: found, and nothing else is
    rng = np.random.default_rng(7)
    xy = np.vstack([pop[rng.integers(0, len(pop), 900)], np.repeat(pop[[10]], 12, axis=0)])
    lab = cluster_points(xy, method="dbscan", eps_m=150, min_samples=5)
    sizes = np.bincount(lab[lab >= 0])
    lab = np.where((lab >= 0) & (sizes[np.maximum(lab, 0)] >= 5), lab, -1)
    res = cluster_inference(xy, lab, pop, eps_m=150, min_samples=5, min_points=5, replications=999, seed=1)
    planted = lab[-1]
    row = res.set_index("cluster").loc[planted]
    assert row.q_value < 0.05 and row.points >= 12 and row.llr > 10
    assert (res["q_value"] < 0.05).sum() == 1


def test_found_at_clusters_carry_p_and_q_and_leave_out_named_and_home_points():
    ev = _events()
    rng = np.random.default_rng(4)  # controls for random labelling: last-seen points over the area
    ctrl = pd.DataFrame({"event_key": [f"l{i}" for i in range(1500)], "person_id": [f"L{i}" for i in range(1500)],
                         "episode_key": [f"L{i}" for i in range(1500)], "kind": "last_seen",
                         "easting": 400000 + rng.uniform(0, 15000, 1500), "northing": 280000 + rng.uniform(0, 15000, 1500),
                         "at": pd.Timestamp("2017-02-01", tz="UTC")})
    prem = pd.DataFrame({"premises_id": ["X1"], "easting": [405010.0], "northing": [288000.0]})
    assert found_at_clusters(ev, prem, eps_m=100, min_samples=4, min_children=5)["p_value"].isna().all()
    ev = pd.concat([ev, ctrl], ignore_index=True)
    c = found_at_clusters(ev, prem, eps_m=100, min_samples=4, min_children=5, replications=199)
    assert {"p_value", "q_value", "expected", "llr", "points"} <= set(c.columns)
    assert len(c) == 1 and c.iloc[0].q_value < 0.05  # random labelling over all events (no postcodes)
    # the same planted points named as a premises by the geocoder are not clustered
    named = ev.assign(match_id=np.where(ev["event_key"].str.startswith("c"), "premises:X1", "postcode:x"))
    assert found_at_clusters(named, prem, eps_m=100, min_samples=4, min_children=5, replications=19).empty
    # nor are children found back at their own placement
    kids = pd.DataFrame({"person_id": [f"Q{k}" for k in range(8)], "placement_e": 405000.0, "placement_n": 288000.0})
    assert found_at_clusters(ev, prem, eps_m=100, min_samples=4, min_children=5, children=kids,
                             replications=19).empty


# ---- issue 13: clustering exactness -----------------------------------------------------------

def test_hdbscan_repeats_are_exact_against_scikit_learn_on_every_row():
    from sklearn.cluster import HDBSCAN

    xy, _ = _planted_xy()
    w = np.ones(len(xy), np.int64)
    w[:1500:3] = np.random.default_rng(2).integers(1, 13, 500)  # postcode-centroid style repeats
    lab = cluster_points(xy, w, method="hdbscan", min_samples=10, min_cluster_size=20, tile_m=None)
    # scikit-learn on every row (the same row order: tied mutual-reachability edges make its
    # spanning tree depend on the order, ARI ~0.95 between two orders of the same rows)
    uniq, inv = np.unique(xy, axis=0, return_inverse=True)
    wu = np.bincount(inv.ravel(), weights=w).astype(np.int64)
    owner = np.repeat(np.arange(len(uniq)), wu)
    ref = HDBSCAN(min_samples=10, min_cluster_size=20, cluster_selection_method="leaf", algorithm="kd_tree",
                  copy=True).fit(uniq[owner]).labels_
    mine = np.full(len(uniq), -1)
    mine[inv.ravel()] = lab
    split = pd.Series(ref).groupby(owner).nunique() > 1  # copies scikit-learn labels apart (ties)
    ok = ~split.to_numpy()[owner]
    assert ok.mean() > 0.99
    assert _same_partition(mine[owner][ok], ref[ok])  # weights, not caps: scikit-learn on the full data


def test_approximate_paths_report_their_difference():
    from geo.stats.clusters import approximation_report

    xy, _ = _planted_xy()
    w = np.ones(len(xy), np.int64)
    w[:1500:3] = np.random.default_rng(2).integers(1, 13, 500)
    g = approximation_report(xy, w, "graph", min_samples=10, min_cluster_size=20)
    t = approximation_report(xy, w, 1500.0, min_samples=10, min_cluster_size=20, eps_m=150.0)
    assert g["ari"] > 0.9 and g["noise_status_differs"] < 0.05
    assert 0 <= t["ari"] <= 1 and t["clusters_exact"] == g["clusters_exact"]


def test_scikit_learn_private_hdbscan_internals_pinned():
    """The k-NN graph path builds scikit-learn's single-linkage tree itself from private
    internals (no public API takes a spanning tree). If scikit-learn changes them this fails
    loudly, before any clustering silently changes."""
    import inspect
    import tomllib

    import sklearn

    from geo.stats.clusters import SKLEARN_TESTED, _sklearn_hdbscan_internals

    root = Path(__file__).resolve().parents[2]
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    pin = next(d for d in deps if d.startswith("scikit-learn"))
    assert f"<{SKLEARN_TESTED[1]}" in pin, f"pyproject must pin scikit-learn below {SKLEARN_TESTED[1]}: {pin}"
    MST_edge_dtype, make_single_linkage, tree_to_labels = _sklearn_hdbscan_internals()
    assert MST_edge_dtype.names == ("current_node", "next_node", "distance"), \
        "scikit-learn changed MST_edge_dtype: geo.stats.clusters._hdbscan_graph must be revisited"
    params = list(inspect.signature(tree_to_labels).parameters)
    assert params == ["single_linkage_tree", "min_cluster_size", "cluster_selection_method", "allow_single_cluster",
                      "cluster_selection_epsilon", "max_cluster_size"], \
        f"scikit-learn {sklearn.__version__} changed tree_to_labels: geo.stats.clusters._hdbscan_graph must be revisited"
    edges = np.array([(0, 1, 1.0), (1, 2, 1.0), (3, 4, 1.0), (4, 5, 1.0), (2, 3, 9.0)], dtype=MST_edge_dtype)
    lab, _ = tree_to_labels(make_single_linkage(edges), min_cluster_size=2, cluster_selection_method="leaf",
                            allow_single_cluster=False, cluster_selection_epsilon=0.0, max_cluster_size=None)
    assert _same_partition(np.asarray(lab), np.array([0, 0, 0, 1, 1, 1]))


# ---- issue 13: the child's own places and the circular windows --------------------------------

def _one_place(n_children: int, xy=(405000.0, 288000.0), repeats: int = 1, prefix: str = "K"):
    """``n_children`` children each found ``repeats`` times (distinct episodes) at one point."""
    rows = [(f"{prefix}{c}", f"{prefix}{c}/e{r}", xy[0], xy[1]) for c in range(n_children) for r in range(repeats)]
    df = pd.DataFrame(rows, columns=["person_id", "episode_key", "easting", "northing"])
    return df.assign(event_key=[f"{prefix}x{i}" for i in range(len(df))], kind="found_at", precision="postcode",
                     at=pd.Timestamp("2017-01-01", tz="UTC"))


def test_habitual_points_are_places_a_child_was_found_in_two_episodes():
    from geo.places.located import habitual_points

    ev = pd.concat([_one_place(1, repeats=3, prefix="A"), _one_place(1, (406000.0, 289000.0), prefix="B"),
                    _one_place(1, (407000.0, 289000.0), repeats=2, prefix="C").assign(precision="area"),
                    _one_place(1, (408000.0, 289000.0), repeats=2, prefix="D").assign(match_id="premises:X")],
                   ignore_index=True)
    h = habitual_points(ev)
    assert h.to_dict("records") == [{"person_id": "A0", "e": 405000.0, "n": 288000.0}]  # B once; C coarse; D named
    # two events of one episode (found at, then the RHI place) are one return, not a habit
    once = _one_place(1, prefix="E")
    assert habitual_points(pd.concat([once, once.assign(kind="rhi_place")])).empty


def test_a_place_children_keep_returning_to_is_their_own_not_a_location_of_concern():
    # six children, each found five times at one address the store knows as nobody's home
    ev = pd.concat([_one_place(6, repeats=5), _one_place(300, (404000.0, 287000.0), prefix="bg").assign(
        easting=lambda d: d.easting + np.random.default_rng(1).uniform(0, 8000, len(d)),
        northing=lambda d: d.northing + np.random.default_rng(2).uniform(0, 8000, len(d)))], ignore_index=True)
    prem = pd.DataFrame({"premises_id": ["X1"], "easting": [405010.0], "northing": [288000.0]})
    kw = dict(eps_m=100, min_samples=4, min_children=5, replications=0)
    assert found_at_clusters(ev, prem, **kw, habitual_episodes=0).iloc[0].children == 6  # the old reading
    assert found_at_clusters(ev, prem, **kw).empty  # each child's own place: no cluster of different children
    # six different children found there once each: a cluster, whatever placements other children have
    ev1 = _one_place(6)
    fam = pd.DataFrame({"person_id": ["Z"], "placement_e": [405000.0], "placement_n": [288000.0],
                        "placement_type": ["parent"], "establishment": [None]})
    assert len(found_at_clusters(ev1, prem, **kw, children=fam)) == 1  # another child's family home: counts
    home = fam.assign(placement_type="residential")
    assert found_at_clusters(ev1, prem, **kw, children=home).empty  # a children's home: its residents come back
    named_home = fam.assign(placement_type=None, establishment="Heron House")
    assert found_at_clusters(ev1, prem, **kw, children=named_home).empty


def test_gumbel_p_matches_the_fitted_gumbel_tail():
    from scipy import stats

    from geo.stats.clusters import gumbel_p

    null = np.random.default_rng(0).gumbel(8.0, 1.5, 999)
    loc, scale = 8.0, 1.5
    beta = null.std(ddof=1) * np.sqrt(6) / np.pi
    mu = null.mean() - np.euler_gamma * beta
    x = np.array([5.0, 10.0, 20.0, 30.0])
    assert np.allclose(gumbel_p(x, null), stats.gumbel_r.sf(x, mu, beta))
    assert abs(beta - scale) < 0.15 and abs(mu - loc) < 0.15
    assert gumbel_p(np.array([30.0]), null)[0] < 1e-5  # far beyond 1 / (R + 1)


def test_circle_window_finds_a_tight_place_inside_a_broad_cluster():
    """Ten children at one postcode inside a 150 m DBSCAN cluster of ordinary density: the cluster
    window dilutes them, the circle of radius 0 around the postcode does not."""
    from geo.stats.clusters import cluster_inference, cluster_points

    pop = _background()
    rng = np.random.default_rng(7)
    xy = np.vstack([pop[rng.integers(0, len(pop), 900)], np.repeat(pop[[10]], 10, axis=0)])
    lab = cluster_points(xy, method="dbscan", eps_m=150, min_samples=5)
    sizes = np.bincount(lab[lab >= 0])
    lab = np.where((lab >= 0) & (sizes[np.maximum(lab, 0)] >= 5), lab, -1)
    res = cluster_inference(xy, lab, pop, eps_m=150, min_samples=5, min_points=5, replications=199, seed=1)
    row = res.set_index("cluster").loc[lab[-1]]
    assert row.points >= 10 and row.q_value < 0.01  # p from the Gumbel tail: beyond 1 / 200


def test_hdbscan_hierarchy_does_not_use_eps_m():
    """``eps_m`` is not HDBSCAN's cluster_selection_epsilon (scikit-learn 1.9 raises a TypeError
    for it with "leaf" selection): the labels do not depend on it (docstring of cluster_points)."""
    xy, _ = _planted_xy()
    a = cluster_points(xy[:1500], method="hdbscan", eps_m=10.0, min_samples=10, min_cluster_size=20, tile_m=None)
    b = cluster_points(xy[:1500], method="hdbscan", eps_m=1000.0, min_samples=10, min_cluster_size=20, tile_m=None)
    assert (a == b).all() and (a >= 0).any()


def _dbscan_on_graph_by_slicing(graph, counts, min_samples):
    """The plain form of the replicate DBSCAN (the core rows and columns sliced out of the sparse
    graph, pandas for the border rule): the reference the edge-list form must equal."""
    import pandas as pd
    from scipy.sparse.csgraph import connected_components

    drawn = counts > 0
    core = drawn & (graph @ counts >= min_samples)
    lab = np.full(len(counts), -1, dtype=np.int64)
    ci = np.flatnonzero(core)
    if not len(ci):
        return lab
    _, comp = connected_components(graph[ci][:, ci], directed=False)
    lab[ci] = comp
    border = np.flatnonzero(drawn & ~core)
    if len(border):
        sub = graph[border][:, ci].tocoo()
        if sub.nnz:
            best = pd.Series(comp[sub.col]).groupby(sub.row).min()
            lab[border[best.index.to_numpy()]] = best.to_numpy()
    return lab


@pytest.mark.parametrize("cases, replace", [(300, True), (1500, True), (6000, True), (2000, False)])
def test_replicate_dbscan_and_reach_equal_the_sliced_sparse_form(cases, replace):
    """The replicate loop's edge-list DBSCAN gives the very labels of the sliced-matrix form, and
    the reach population the very values of the sparse product (member x graph > 0) @ w."""
    from scipy.sparse import coo_matrix

    from geo.stats.clusters import _Background, _dbscan_on_graph, _reach_population

    bg = _Background(_background(1), 150.0)
    rng = np.random.default_rng(cases)
    for _ in range(4):
        c = bg.draw(rng, cases, replace)
        lab = _dbscan_on_graph(bg.graph, c, 5, bg.edges)
        np.testing.assert_array_equal(lab, _dbscan_on_graph_by_slicing(bg.graph, c, 5))
        np.testing.assert_array_equal(lab, _dbscan_on_graph(bg.graph, c, 5))     # edges built here
        if not (lab >= 0).any():
            continue
        k = int(lab.max()) + 1
        kept = np.where((lab >= 0) & (lab % 3 != 1), lab, -1)                  # some clusters dropped
        ok = np.flatnonzero(kept >= 0)
        memb = coo_matrix((np.ones(len(ok)), (kept[ok], ok)), shape=(k, len(c))).tocsr()
        want = ((memb @ bg.graph) > 0) @ bg.w
        np.testing.assert_array_equal(_reach_population(bg.edges, kept, bg.w, k), want)


def test_reach_population_same_by_product_and_by_row_extremes(monkeypatch):
    """Both ways of telling locations reached by one label from those reached by several (the
    product with [labelled, v, v^2], and the per-row minimum and maximum used where sums could
    pass 2^53) give the very same populations."""
    from geo.stats.clusters import _Background, _dbscan_on_graph, _reach_population

    bg = _Background(_background(2), 150.0)
    rng = np.random.default_rng(8)
    for cases in (400, 3000, 9000):
        c = bg.draw(rng, cases, True)
        lab = _dbscan_on_graph(bg.graph, c, 5, bg.edges)
        k = int(lab.max()) + 1
        if k == 0:
            continue
        kept = np.where((lab >= 0) & (lab % 4 != 2), lab, -1)
        by_product = _reach_population(bg.edges, kept, bg.w, k)
        monkeypatch.setattr(bg.edges, "binary", False)
        by_rows = _reach_population(bg.edges, kept, bg.w, k)
        monkeypatch.setattr(bg.edges, "binary", True)
        np.testing.assert_array_equal(by_product, by_rows)


def test_max_llr_equals_the_maximum_of_every_window():
    from geo.stats.clusters import _max_llr, scan_llr

    rng = np.random.default_rng(4)
    for size in (1, 2, 7, 300):
        for _ in range(20):
            o = rng.integers(0, 40, size).astype(float)
            e = rng.uniform(0.5, 30, size)
            assert _max_llr(o, e, 5000) == float(scan_llr(o, e, 5000).max())

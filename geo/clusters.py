"""Found-at clusters: DBSCAN and HDBSCAN on the places children were found or went.

Methods: DBSCAN (Ester, Kriegel, Sander & Xu 1996, KDD) and HDBSCAN (Campello, Moulavi &
Sander 2013, PAKDD; McInnes, Healy & Astels 2017) from scikit-learn, on easting/northing in
metres (EPSG:27700).

Density counts *distinct children*, not events: the points clustered are the distinct
``(person_id, location)`` pairs, so one child found twenty times at home is one point. Pairs
at the same location are collapsed to one point with a weight (DBSCAN ``sample_weight``,
exact). For HDBSCAN the multiplicity of a location is capped at ``min_samples``: core
distances (distance to the ``min_samples``-th neighbour) are unchanged by the cap, so the
mutual-reachability graph and the hierarchy are those of the full data, only cluster sizes
in the condensed tree count at most ``min_samples`` per location. A cluster is reported only
when it holds at least ``min_children`` distinct children.

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

from geo.hotspots import DEFAULT_KINDS, filter_events

__all__ = ["cluster_points", "found_at_clusters", "CLUSTER_COLUMNS"]

BNG = "EPSG:27700"
CLUSTER_COLUMNS = [
    "cluster_id", "method", "episodes", "children", "events", "first_seen", "last_seen",
    "centroid_e", "centroid_n", "nearest_premises_id", "nearest_premises_m",
]


def cluster_points(
    xy: np.ndarray,
    weight: np.ndarray | None = None,
    method: str = "dbscan",
    eps_m: float = 150.0,
    min_samples: int = 5,
    min_cluster_size: int | None = None,
    n_jobs: int | None = None,
) -> np.ndarray:
    """Cluster labels (-1 = noise) for points ``xy`` (metres) with integer multiplicities.

    Identical points are collapsed first (weights summed), so duplicated coordinates (postcode
    centroids) cost nothing. ``dbscan``: ``eps_m`` neighbourhood, core when the summed weight
    within ``eps_m`` is at least ``min_samples``. ``hdbscan``: ``min_samples`` for core
    distances, ``min_cluster_size`` (default ``min_samples``), ``eps_m`` as
    ``cluster_selection_epsilon`` (clusters closer than ``eps_m`` are merged).
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
    cap = np.minimum(w, max(1, min_samples))
    rep = np.repeat(np.arange(len(uniq)), cap)
    if len(rep) <= max(min_samples, 2):
        return np.full(n, -1, dtype=np.int64)
    model = HDBSCAN(
        min_cluster_size=max(2, min_cluster_size or min_samples),
        min_samples=min(min_samples, len(rep) - 1),
        algorithm="kd_tree",
        cluster_selection_method="leaf",
        copy=True,
        n_jobs=n_jobs,
    )
    lab_rep = model.fit(uniq[rep]).labels_
    # one label per unique location: the most common label of its copies (all equal in practice)
    lab_u = np.full(len(uniq), -1, dtype=np.int64)
    lab_u[rep] = lab_rep  # copies of a location share core distance 0 and the same label
    return lab_u[inv]


def found_at_clusters(
    place_events: pd.DataFrame,
    premises: pd.DataFrame | None = None,
    *,
    method: str = "dbscan",
    eps_m: float = 150.0,
    min_samples: int = 3,
    min_children: int = 3,
    min_cluster_size: int | None = None,
    kinds=DEFAULT_KINDS,
    start=None,
    end=None,
) -> gpd.GeoDataFrame:
    """Clusters of found-at / RHI place points with at least ``min_children`` distinct children.

    Parameters
    ----------
    place_events : frame ``place_events`` (FRAMES.md); rows without coordinates are ignored.
    premises : frame ``premises`` (premises_id, easting, northing) for the nearest premises.
    method : ``"dbscan"`` or ``"hdbscan"``.
    eps_m : DBSCAN radius / HDBSCAN selection epsilon, metres.
    min_samples : distinct (child, place) points needed for a core point.
    min_children : minimum distinct children (person_id) for a cluster to be reported.
    kinds, start, end : which events and period.

    Returns
    -------
    GeoDataFrame (EPSG:27700, hull polygons) with :data:`CLUSTER_COLUMNS`, most children
    first (``cluster_id`` 1 is the largest).
    """
    ev = filter_events(place_events, kinds, start, end)
    ev = ev.dropna(subset=["easting", "northing"])
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
    out = gpd.GeoDataFrame(stats_[CLUSTER_COLUMNS + ["geometry"]], geometry="geometry", crs=BNG)
    return out

"""Found-at clusters: DBSCAN / HDBSCAN with a minimum of distinct children."""
import numpy as np
import pandas as pd
import pytest

from geo.clusters import CLUSTER_COLUMNS, cluster_points, found_at_clusters


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

"""Area hot spots on real Birmingham wards and a grid, planted and null fixtures."""
import warnings

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.stats.hotspots import OUTPUT_COLUMNS, area_hotspots, count_by_area, make_grid

warnings.simplefilter("ignore")


@pytest.fixture(scope="module")
def wards():
    g = gpd.read_file("data/reference/boundaries/birmingham_wards_2013.geojson").to_crs(27700)
    return gpd.GeoDataFrame({"area_code": g["WD13CD"], "area_name": g["WD13NM"], "level": "ward"},
                            geometry=g.geometry, crs=27700)


def _events(wards, seed, per_ward=40, hot=(), extra=200):
    """Points uniform within each ward (same expected count per ward), plus `extra` in hot wards."""
    rng = np.random.default_rng(seed)
    xs, ys, ws = [], [], []
    for code, geom in zip(wards.area_code, wards.geometry):
        k = rng.poisson(per_ward) + (extra if code in hot else 0)
        minx, miny, maxx, maxy = geom.bounds
        got = 0
        while got < k:
            x, y = rng.uniform(minx, maxx, 4 * k + 8), rng.uniform(miny, maxy, 4 * k + 8)
            ok = shapely.contains_xy(geom, x, y)
            xs.append(x[ok][: k - got]); ys.append(y[ok][: k - got]); got += min(ok.sum(), k - got)
    x, y = np.concatenate(xs), np.concatenate(ys)
    n = len(x)
    return pd.DataFrame({"event_key": [f"e{i}" for i in range(n)], "person_id": [f"P{i}" for i in range(n)],
                         "episode_key": [f"E{i}" for i in range(n)], "kind": "found_at",
                         "at": pd.Timestamp("2017-01-01", tz="UTC"), "easting": x, "northing": y,
                         "ward_code": None, "lsoa_code": None})


def test_planted_contiguous_wards_are_hot(wards):
    from geo.stats.weights import queen_weights
    w = queen_weights(wards, ids=wards.area_code.to_numpy())
    centre = 10
    hot = [wards.area_code[centre]] + list(wards.area_code.to_numpy()[w.neighbours(centre)])
    r = area_hotspots(_events(wards, 1, hot=hot), wards, seed=1, permutations=9999)
    assert list(r.columns[: len(OUTPUT_COLUMNS)]) == OUTPUT_COLUMNS
    assert r.crs.to_epsg() == 27700 and len(r) == 40
    planted = r.set_index("area_code").loc[hot]
    # gi_bin comes from the exported permutation q (not the normal approximation): the
    # conditional test holds a ward's own value fixed, so the core (all neighbours hot) is hot at
    # q < 0.05 and the planted wards at q < 0.10, a neighbour with cold neighbours need not be
    assert planted.loc[hot[0], "gi_bin"] >= 2
    assert (planted["gi_bin"] >= 1).mean() >= 0.75
    assert (planted["gi_bin"] == np.sign(planted["gi_z"]) * np.select(
        [planted["gi_q"] < 0.01, planted["gi_q"] < 0.05, planted["gi_q"] < 0.10], [3, 2, 1], 0)).all()
    assert planted.loc[hot[0], "gi_p"] < 0.05       # conditional permutation (two-sided)
    assert (r.set_index("area_code").drop(index=hot)["gi_bin"] < 2).mean() > 0.8


def test_null_wards_at_most_5_percent_significant(wards):
    sig_gi, sig_bin, sig_lisa = [], [], []
    for s in range(4):
        r = area_hotspots(_events(wards, 100 + s), wards, seed=s, permutations=499)
        sig_gi.append((r.gi_q < 0.05).mean()); sig_bin.append((r.gi_bin.abs() >= 2).mean())
        sig_lisa.append((r.lisa_q < 0.05).mean())
    assert max(sig_gi) <= 0.05 and np.mean(sig_bin) <= 0.05 and max(sig_lisa) <= 0.05


def test_counts_distinct_children_and_grid(wards):
    ev = _events(wards, 3, per_ward=5)
    ev["person_id"] = "P1"  # one child everywhere
    c = count_by_area(ev, wards)
    assert c.children.max() == 1 and c.episodes.sum() == len(ev)
    grid = make_grid(wards, 1000.0)
    assert set(grid.level) == {"grid"} and grid.area_code.is_unique
    assert abs(grid.area.sum() - 1e6 * len(grid)) < 1
    r = area_hotspots(ev, grid, value="episodes", permutations=99, seed=0)
    assert r.episodes.sum() == len(ev)


def test_rates_use_population(wards):
    ev = _events(wards, 4, per_ward=20)
    pop = pd.Series(1000.0, index=wards.area_code)
    r = area_hotspots(ev, wards, population=pop, permutations=99, seed=0)
    assert np.allclose(r["rate"], r["children"] / 1000 * 1000)

"""Mann-Kendall, emerging hot spot categories and the Knox test."""
import geopandas as gpd
import numpy as np
import pandas as pd

from geo.spacetime import _classify, area_trends, emerging_hotspots, knox_test, mann_kendall, monthly_series
from geo.weights import queen_weights


def test_mann_kendall_against_scipy_kendalltau():
    from scipy import stats
    x = np.array([[1, 2, 3, 4, 5, 6, 7, 9, 8, 10], [5, 5, 5, 5, 5, 5, 5, 5, 5, 5], [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]], float)
    tau, z, p = mann_kendall(x)
    assert tau[0] > 0.8 and p[0] < 0.01 and p[1] == 1 and tau[1] == 0
    assert np.isclose(tau[2], stats.kendalltau(np.arange(10), x[2], variant="c").statistic, atol=0.05)


def test_emerging_categories():
    T = 12
    hot = np.zeros((5, T), bool)
    hot[0, -1] = True                      # new
    hot[1, -3:] = True                     # consecutive
    hot[2, :] = True                       # persistent (no trend)
    hot[3, :-1] = True                     # historical
    hot[4, ::3] = True; hot[4, -1] = True  # sporadic
    cold = np.zeros_like(hot)
    cats = _classify(hot, cold, np.zeros(5), np.ones(5), "")
    assert cats.tolist() == ["new", "consecutive", "persistent", "historical", "sporadic"]
    cats = _classify(hot, cold, np.full(5, 3.0), np.full(5, 0.001), "")
    assert cats[2] == "intensifying"


def test_series_trends_and_emerging_on_wards():
    g = gpd.read_file("data/reference/boundaries/birmingham_wards_2013.geojson").to_crs(27700)
    wards = gpd.GeoDataFrame({"area_code": g.WD13CD, "area_name": g.WD13NM, "level": "ward"}, geometry=g.geometry, crs=27700)
    rng = np.random.default_rng(0)
    rows = []
    for m in range(12):
        for code in wards.area_code:
            k = rng.poisson(3 + (m if code == wards.area_code[0] else 0))
            rows += [(code, pd.Timestamp(2017, m + 1, 10, tz="UTC"))] * k
    ev = pd.DataFrame(rows, columns=["ward_code", "at"])
    ev["episode_key"] = [f"E{i}" for i in range(len(ev))]
    ev["kind"] = "found_at"
    s = monthly_series(ev, wards, level="ward")
    assert len(s) == 40 * 12 and s.episodes.sum() == len(ev)
    t = area_trends(s)
    first = t[t.area_code == wards.area_code[0]].iloc[0]
    assert first.mk_tau > 0.5 and first.mk_p < 0.01
    eh = emerging_hotspots(s, queen_weights(wards, ids=wards.area_code.to_numpy()))
    assert len(eh) == 40 and eh.category.notna().all()


def test_knox_detects_interaction_and_null():
    rng = np.random.default_rng(1)
    n = 300
    e, nn = rng.uniform(0, 10000, n), rng.uniform(0, 10000, n)
    day = rng.uniform(0, 365, n)
    # 30 events close in space and time
    e[:30], nn[:30], day[:30] = 5000 + rng.normal(0, 50, 30), 5000 + rng.normal(0, 50, 30), 100 + rng.uniform(0, 5, 30)
    ev = pd.DataFrame({"easting": e, "northing": nn, "kind": "found_at",
                       "at": pd.Timestamp("2017-01-01", tz="UTC") + pd.to_timedelta(day, unit="D")})
    k = knox_test(ev, space_m=300, time_days=14, permutations=199, seed=0)
    assert k["p_value"] <= 0.01 and k["statistic"] > k["expected"]
    ev.loc[:29, "at"] = pd.Timestamp("2017-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 365, 30), unit="D")
    assert knox_test(ev, space_m=300, time_days=14, permutations=199, seed=0)["p_value"] > 0.05

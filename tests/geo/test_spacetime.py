"""Mann-Kendall, emerging hot spot categories and the Knox test."""
import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from geo.stats.spacetime import _classify, area_trends, emerging_hotspots, knox_test, mann_kendall, monthly_series
from geo.stats.weights import queen_weights


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


def _knox_events(n, planted, seed):
    rng = np.random.default_rng(seed)
    e, nn = rng.uniform(0, 10000, n), rng.uniform(0, 10000, n)
    day = rng.uniform(0, 365, n)
    k = planted  # a space-time burst: close in space and within a few days
    e[:k], nn[:k], day[:k] = 5000 + rng.normal(0, 50, k), 5000 + rng.normal(0, 50, k), 100 + rng.uniform(0, 5, k)
    return pd.DataFrame({"easting": e, "northing": nn, "kind": "found_at", "precision": "postcode",
                         "at": pd.Timestamp("2017-01-01", tz="UTC") + pd.to_timedelta(day, unit="D")}), rng


def test_knox_statistic_equals_brute_force_count():
    ev, _ = _knox_events(400, 30, 3)
    k = knox_test(ev, space_m=800, time_days=10, permutations=19, seed=0)
    xy = ev[["easting", "northing"]].to_numpy()
    t = (ev["at"] - ev["at"].min()).dt.total_seconds().to_numpy()
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    iu = np.triu_indices(len(ev), 1)
    close_s = d[iu] <= 800
    assert k["close_in_space"] == close_s.sum() and not k["subsampled"] and k["n_used"] == 400
    assert k["statistic"] == (close_s & (np.abs(t[:, None] - t[None, :])[iu] <= 10 * 86400)).sum()


def test_knox_subsampled_detects_interaction_and_null():
    # 6,000 events and a burst of 600: above both caps, so a seeded subsample is tested
    ev, rng = _knox_events(6000, 600, 5)
    k = knox_test(ev, space_m=300, time_days=14, permutations=199, seed=0, max_events=2000, max_pairs=5000)
    assert k["subsampled"] and k["n_events"] == 6000 and k["n_used"] < 2000
    assert k["close_in_space"] <= 5000 and k["max_events"] == 2000 and k["max_pairs"] == 5000
    assert k["p_value"] <= 0.01 and k["statistic"] > 2 * k["expected"]
    again = knox_test(ev, space_m=300, time_days=14, permutations=199, seed=0, max_events=2000, max_pairs=5000)
    assert again == k  # seeded: the same subsample and permutations
    # null: the same spatial burst, times drawn independently of place; ten datasets
    null = []
    for s in range(10):
        ev.loc[:599, "at"] = pd.Timestamp("2017-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 365, 600), unit="D")
        null.append(knox_test(ev, space_m=300, time_days=14, permutations=199, seed=s, max_events=2000,
                              max_pairs=5000)["p_value"])
    assert sum(p <= 0.05 for p in null) <= 2, null


def test_knox_leaves_out_area_centroids():
    ev, _ = _knox_events(300, 0, 7)
    ward = ev.iloc[:100].assign(easting=5000.0, northing=5000.0, precision="area")  # one ward centroid
    k = knox_test(pd.concat([ev, ward], ignore_index=True), permutations=19)
    assert k["n_events"] == 300 and k["exclude_precision"] == ["area", "none"]


def test_knox_counts_only_pairs_of_different_children():
    """One child found at the same place week after week is not space-time interaction."""
    rng = np.random.default_rng(5)
    n = 400
    ev = pd.DataFrame({
        "easting": rng.uniform(400000, 415000, n), "northing": rng.uniform(280000, 295000, n),
        "at": pd.Timestamp("2017-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 365, n), "D"),
        "person_id": [f"P{i}" for i in range(n)], "kind": "found_at", "precision": "postcode"})
    # one child, 40 finds at home, two a week apart: close in space and time with itself only
    home = pd.DataFrame({
        "easting": 407000.0, "northing": 287000.0,
        "at": pd.Timestamp("2017-01-01", tz="UTC") + pd.to_timedelta(np.arange(40) * 3.5, "D"),
        "person_id": "P_HOME", "kind": "found_at", "precision": "postcode"})
    ev = pd.concat([ev, home], ignore_index=True)
    naive = knox_test(ev, space_m=300, time_days=7, permutations=199, seed=1,
                      distinct_persons=False, permute="event")
    fair = knox_test(ev, space_m=300, time_days=7, permutations=199, seed=1)
    assert naive["p_value"] <= 0.01          # the repeat finds of one child look like a cluster
    assert fair["p_value"] > 0.05 and fair["distinct_persons"] and fair["permute"] == "child"
    # swapping whole time-lines keeps the child's own rhythm in every permutation too
    assert knox_test(ev, space_m=300, time_days=7, permutations=199, seed=1,
                     distinct_persons=False)["p_value"] > 0.05


def test_child_timeline_swap_keeps_each_childs_gaps_and_close_in_time_excludes_own_pairs():
    from geo.stats.spacetime import _close_in_time_pairs, _timeline_shuffler
    rng = np.random.default_rng(0)
    pid = np.repeat(np.arange(30), np.tile([1, 2, 3], 10))
    t = rng.integers(0, 10**7, len(pid))
    sh = _timeline_shuffler(pid, t, np.random.default_rng(1))()
    assert sorted(sh) == sorted(t)
    gaps = lambda x: sorted(tuple(np.diff(np.sort(x[pid == p]))) for p in range(30))
    assert gaps(sh) == gaps(t)                       # every time-line moves whole
    w = 10**6
    brute = sum(abs(t[a] - t[b]) <= w and pid[a] != pid[b] for a in range(len(t)) for b in range(a + 1, len(t)))
    assert _close_in_time_pairs(t, w, pid) == brute


def test_near_repeat_table_finds_planted_burst_and_not_null():
    from geo.stats.spacetime import near_repeat
    ev, rng = _knox_events(600, 40, 11)
    ev["person_id"] = [f"P{i}" for i in range(len(ev))]
    nr = near_repeat(ev, permutations=999, seed=0)
    assert len(nr) == 16 and list(nr.columns[:4]) == ["space_from_m", "space_to_m", "days_from", "days_to"]
    first = nr.iloc[0]                               # 0-250 m, 0-7 days
    assert first.observed > 3 * first.expected and first.q_value < 0.05
    xy = ev[["easting", "northing"]].to_numpy()
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    dt = np.abs((ev["at"].to_numpy()[:, None] - ev["at"].to_numpy()[None, :]) / np.timedelta64(1, "D"))
    iu = np.triu_indices(len(ev), 1)
    assert first.observed == ((d[iu] < 250) & (dt[iu] < 7)).sum()
    ev.loc[:39, "at"] = pd.Timestamp("2017-01-01", tz="UTC") + pd.to_timedelta(rng.uniform(0, 365, 40), unit="D")
    assert (near_repeat(ev, permutations=199, seed=0)["q_value"] < 0.05).sum() == 0


@pytest.mark.parametrize("edges_days, t_max", [((0.0, 7.0, 14.0, 28.0, 56.0), 10**7), ((1.5, 3.0, 30.0), 10**10)])
def test_near_repeat_band_counts_equal_a_direct_count(edges_days, t_max):
    """The pair table by distance band and time edge (int32 where the times fit, int64 beyond)
    equals binning every pair's time difference directly."""
    from geo.stats.spacetime import _BandCounts
    rng = np.random.default_rng(2)
    n, nS = 400, 4
    i, j = np.triu_indices(n, 1)
    sband = rng.integers(0, nS, len(i))
    te_s = np.round(np.asarray(edges_days) * 86400).astype(np.int64)
    table = _BandCounts(i, j, sband, nS, te_s)
    for _ in range(3):
        t = rng.integers(0, t_max, n)
        dt = np.abs(t[i] - t[j])
        tb = np.searchsorted(te_s, dt, side="right") - 1
        m = (tb >= 0) & (dt < te_s[-1])
        want = np.bincount(sband[m] * (len(te_s) - 1) + tb[m], minlength=nS * (len(te_s) - 1))
        np.testing.assert_array_equal(table(t), want)


@pytest.mark.parametrize("k, t_max", [(1, 10**7), (8, 10**7), (11, 10**7), (19, 10**10)])
def test_pair_windows_count_stacks_of_labellings_as_a_brute_force_table(k, t_max):
    """Counting labellings side by side (lanes of 8, the last group padded; int32 or int64 times;
    segments and chunks of any length, runs of one event split across chunks) gives, for every
    labelling, segment and edge, the count of a direct comparison of every pair."""
    from geo.stats import spacetime as st
    rng = np.random.default_rng(k)
    n, n_seg = 300, 3
    i, j = np.triu_indices(n, 1)
    pick = rng.random(len(i)) < 0.6
    i, j = i[pick], j[pick]
    seg = rng.integers(0, n_seg, len(i))
    seg[seg == 2] = 1                                        # an empty segment
    edges = [0, 3600, 86400 * 7, 86400 * 30, 10**9 + 7]
    old = st._PairWindows.CHUNK
    try:
        st._PairWindows.CHUNK = 255 * 4                      # many chunks, remainders of any size
        pw = st._PairWindows(j, i, seg, n_seg, edges)        # either end first: the same pairs
    finally:
        st._PairWindows.CHUNK = old
    T = rng.integers(0, t_max, (k, n))
    got = pw.counts(T)
    assert got.shape == (k, n_seg, len(edges))
    for r in range(k):
        dt = np.abs(T[r, i] - T[r, j])
        want = [[int(((seg == s) & (dt < e)).sum()) for e in edges] for s in range(n_seg)]
        np.testing.assert_array_equal(got[r], want)
        np.testing.assert_array_equal(pw.counts(T[r])[0], want)


def test_near_repeat_table_many_equals_one_at_a_time():
    from geo.stats.spacetime import _BandCounts
    rng = np.random.default_rng(5)
    n = 200
    i, j = np.triu_indices(n, 1)
    sband = rng.integers(0, 4, len(i))
    table = _BandCounts(i, j, sband, 4, np.array([0, 7, 14, 28, 56]) * 86400)
    T = rng.integers(0, 10**7, (13, n))
    for row, many in zip(T, table.many(T)):
        np.testing.assert_array_equal(many, table(row))


def test_near_repeat_table_is_the_same_for_any_number_of_workers(monkeypatch):
    from geo.stats import replicates as rep
    from geo.stats.spacetime import near_repeat
    monkeypatch.setattr(rep, "POOL_SECONDS", -1.0)               # workers even for this small job
    ev, _ = _knox_events(600, 40, 11)
    ev["person_id"] = [f"P{i % 450}" for i in range(len(ev))]   # some children with several events
    pd.testing.assert_frame_equal(near_repeat(ev, permutations=99, seed=3, workers=1),
                                  near_repeat(ev, permutations=99, seed=3, workers=2))


def _wards():
    g = gpd.read_file("data/reference/boundaries/birmingham_wards_2013.geojson").to_crs(27700)
    return gpd.GeoDataFrame({"area_code": g.WD13CD, "area_name": g.WD13NM, "level": "ward"}, geometry=g.geometry, crs=27700)


def test_space_time_gi_equals_gi_star_and_brute_force():
    from geo.stats.getis_ord import gi_star
    from geo.stats.spacetime import space_time_gi
    wards = _wards()
    w = queen_weights(wards, ids=wards.area_code.to_numpy())
    rng = np.random.default_rng(2)
    x = rng.poisson(5, (40, 1)).astype(float)
    assert np.allclose(space_time_gi(x, w, 0)[:, 0], gi_star(x[:, 0], w.transformed("b"), permutations=0).z)
    X = rng.poisson(5, (40, 6)).astype(float)
    Z = space_time_gi(X, w, 1)
    A = (w.transformed("b").sparse.toarray() != 0).astype(float) + np.eye(40)
    for i, t in [(0, 0), (7, 3), (39, 5)]:
        steps = range(max(0, t - 1), t + 1)
        W = A[i].sum()
        S = sum(A[i] @ X[:, s] for s in steps)
        E = sum(X[:, s].mean() * W for s in steps)
        V = sum(X[:, s].var() * (40 * W - W ** 2) / 39 for s in steps)
        assert np.isclose(Z[i, t], (S - E) / np.sqrt(V))
    # a city-wide busy month is not a hot spot anywhere
    X2 = X.copy()
    X2[:, -1] *= 1.5
    assert np.allclose(space_time_gi(X2, w, 0)[:, -1], space_time_gi(X, w, 0)[:, -1])


def _ward_series(wards, seed, hot=None, months=12):
    rng = np.random.default_rng(seed)
    rows = []
    for m in range(months):
        for j, code in enumerate(wards.area_code):
            lam = 8 + (12 if hot is not None and j in hot and m >= months - 4 else 0)
            rows.append((code, f"2017-{m + 1:02d}", rng.poisson(lam)))
    return pd.DataFrame(rows, columns=["area_code", "month", "episodes"])


def test_emerging_hotspots_planted_and_null():
    wards = _wards()
    w = queen_weights(wards, ids=wards.area_code.to_numpy(), islands="nearest")
    hot = [10] + list(w.neighbours(10))
    eh = emerging_hotspots(_ward_series(wards, 0, hot=hot), w).set_index("area_code")
    cats = eh.loc[wards.area_code[hot], "category"]
    assert (cats != "no_pattern").mean() >= 0.5 and eh.loc[wards.area_code[10], "category"] in ("new", "consecutive")
    flagged = [(emerging_hotspots(_ward_series(wards, 100 + s), w).category != "no_pattern").mean() for s in range(20)]
    assert np.mean(flagged) <= 0.05, flagged
    pop = pd.Series(2000.0, index=wards.area_code)
    assert emerging_hotspots(_ward_series(wards, 1), w, population=pop).basis.iloc[0] == "rate per 1,000 children"


def test_complete_months_drops_partial_final_month():
    from geo.stats.spacetime import complete_months
    s = pd.DataFrame({"area_code": "A", "month": ["2016-04", "2016-05", "2016-06"], "episodes": [3, 4, 1]})
    assert complete_months(s, last_at=pd.Timestamp("2016-06-02 10:00", tz="UTC")).month.tolist() == ["2016-04", "2016-05"]
    assert complete_months(s, last_at=pd.Timestamp("2016-06-30 22:00", tz="UTC")).month.tolist() == s.month.tolist()
    assert complete_months(s, start="2016-04-15", end="2016-07-01").month.tolist() == ["2016-05", "2016-06"]

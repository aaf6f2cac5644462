"""Space-time permutation scan (geo.stats.scan): brute force parity, planted cluster, null rate."""
import itertools

import numpy as np
import pandas as pd
import pytest

from geo.stats.scan import (CircleCounts, MuLimits, ReplicateMaxima, _score, llr, prepare, scan_clusters,
                      space_time_scan, space_time_scans)

T0 = pd.Timestamp("2017-01-01", tz="UTC")


def _events(n, seed, planted=0, days=140, extent=6000.0, at=(3000.0, 3000.0), when=100.0):
    rng = np.random.default_rng(seed)
    e, nn = rng.uniform(0, extent, n), rng.uniform(0, extent, n)
    day = rng.uniform(0, days, n)
    if planted:
        e[:planted] = at[0] + rng.normal(0, 40, planted)
        nn[:planted] = at[1] + rng.normal(0, 40, planted)
        day[:planted] = when + rng.uniform(0, 14, planted)
    return pd.DataFrame({"easting": e, "northing": nn, "kind": "found_at", "precision": "postcode",
                         "person_id": [f"P{i}" for i in range(n)],
                         "at": T0 + pd.to_timedelta(day, unit="D")})


def _brute(data, W, min_cases, prospective=False):
    """Every cylinder from scratch: circle = all locations within the distance of the k-th
    nearest (ties together), radius cap and share cap; windows of 1..W units."""
    L, U, C = data.L, data.U, data.C
    cnt = np.zeros((L, U))
    np.add.at(cnt, (data.loc, data.unit), 1)
    Cz, Ct = cnt.sum(1), cnt.sum(0)
    best = (0.0, None, None)
    for i in range(L):
        d = np.hypot(*(data.loc_xy - data.loc_xy[i]).T)
        for r in np.unique(d[d <= data.max_radius_m + 1e-6]):
            members = frozenset(np.flatnonzero(d <= r + 1e-6).tolist())
            S = Cz[list(members)].sum()
            if S > data.max_share * C:
                continue
            for ln in range(1, W + 1):
                starts = [U - ln] if prospective else range(0, U - ln + 1)
                for s in starts:
                    c = cnt[list(members), s:s + ln].sum()
                    mu = S * Ct[s:s + ln].sum() / C
                    if c >= min_cases and c > mu:
                        v = float(llr(c, mu, C))
                        if v > best[0] + 1e-9:
                            best = (v, members, (s, ln))
    return best


@pytest.mark.parametrize("prospective", [False, True])
def test_most_likely_cluster_equals_brute_force(prospective):
    ev = _events(120, 3, planted=8, days=70, when=42.0)
    data = prepare(ev, unit_days=7, cell_m=500.0, max_radius_m=1200.0, max_share=0.5)
    cl, info = space_time_scan(data, prospective=prospective, replications=19, seed=0,
                               max_window_days=28, max_radius_m=1200.0)
    v, members, (s, ln) = _brute(data, 4, 2, prospective)
    top = cl.iloc[0]
    assert np.isclose(top["llr"], v, rtol=1e-9)
    i = int(np.argmin(np.hypot(data.loc_xy[:, 0] - top.centre_e, data.loc_xy[:, 1] - top.centre_n)))
    got = frozenset(np.flatnonzero(np.hypot(*(data.loc_xy - data.loc_xy[i]).T) <= top.radius_m + 1e-6).tolist())
    assert got == members and (top.start_unit, top.units) == (s, ln)


def test_planted_cluster_found_by_both_analyses():
    ev = _events(1500, 5, planted=10, days=364, extent=10000.0, at=(6000.0, 4000.0), when=340.0)
    cl, infos = scan_clusters(ev, replications=499, seed=1, end=T0 + pd.Timedelta(days=364))
    assert set(infos) == {"retrospective", "prospective"} and cl.crs.to_epsg() == 27700
    assert set(["cluster_id", "start", "end", "observed", "expected", "relative_risk", "llr", "p_value",
                "recurrence_days", "q_value"]) <= set(cl.columns)
    for kind in ("retrospective", "prospective"):
        top = cl[cl.analysis == kind].iloc[0]
        assert top.p_value <= 0.01 and top.q_value < 0.05 and top.observed >= 8
        assert np.hypot(top.centre_e - 6000, top.centre_n - 4000) <= top.radius_m + 400
        assert top.start <= T0 + pd.Timedelta(days=341) and top.end >= T0 + pd.Timedelta(days=353)
    pro = cl[cl.analysis == "prospective"].iloc[0]
    assert pro.end == T0 + pd.Timedelta(days=364) and pro.recurrence_days >= 7 / 0.01 - 1e-6
    assert cl[cl.analysis == "retrospective"].recurrence_days.isna().all()


def test_children_found_back_at_their_own_places_are_left_out():
    """The found-at clusters' own-place rule (geo.places.located.at_own_place) holds for the scan:
    ten children found within two weeks, five at the home they were last seen at, five at a
    children's home (whoever's record names it), are a cluster without the rule and no
    evidence with it; the settings say so. Off by default (it did not lower the housemates null
    rate, bench/RESULTS_spacetime.md)."""
    ev = _events(1500, 5, planted=10, days=364, extent=10000.0, at=(6000.0, 4000.0), when=340.0)
    ev.loc[5:9, ["easting", "northing"]] = (6100.0, 4000.0)          # a children's home
    last_seen = ev.iloc[:5].assign(kind="last_seen", at=ev["at"].iloc[:5] - pd.Timedelta(days=200))
    allev = pd.concat([ev, last_seen], ignore_index=True)
    children = pd.DataFrame({"person_id": ["resident"], "placement_e": [6100.0], "placement_n": [4000.0],
                             "placement_type": ["residential"]})
    end = T0 + pd.Timedelta(days=364)
    planted = {f"P{i}" for i in range(10)}
    off = prepare(allev, end=end, children=children, own_place_rule=False)
    on = prepare(allev, end=end, children=children, own_place_rule=True)
    assert prepare(allev, end=end, children=children).C == off.C        # off by default
    assert planted <= set(off.person) and not planted & set(on.person)
    assert on.own_place_events_left_out >= 10 and on.C == off.C - on.own_place_events_left_out

    def near_plant(cl):
        return cl[(cl.analysis == "retrospective") & (np.hypot(cl.centre_e - 6050, cl.centre_n - 4000) <= cl.radius_m + 400)]

    cl_off, _ = scan_clusters(allev, replications=199, seed=1, end=end, children=children)
    assert near_plant(cl_off).p_value.min() < 0.05
    cl_on, infos = scan_clusters(allev, replications=199, seed=1, end=end, children=children, own_place_rule=True)
    assert not len(near_plant(cl_on)) or near_plant(cl_on).p_value.min() >= 0.05
    assert "own home or shared-setting placement are left out" in infos["retrospective"]["own_place_rule"]
    assert "own home or shared-setting placement left out" in infos["prospective"]["method"]


def test_secondary_clusters_do_not_overlap():
    ev = pd.concat([_events(1500, 6, planted=10, days=364, extent=10000.0, at=(2000.0, 2000.0), when=100.0),
                    _events(10, 7, planted=10, days=364, extent=10000.0, at=(8000.0, 8000.0), when=200.0)],
                   ignore_index=True)
    cl, _ = space_time_scan(ev, replications=99, seed=0)
    assert len(cl) >= 3
    top2 = cl.head(2)
    assert {(round(e, -3), round(n, -3)) for e, n in zip(top2.centre_e, top2.centre_n)} == {(2000, 2000), (8000, 8000)}
    xy, r = cl[["centre_e", "centre_n"]].to_numpy(), cl["radius_m"].to_numpy()
    for a, b in itertools.combinations(range(len(cl)), 2):
        assert np.hypot(*(xy[a] - xy[b])) > r[a] + r[b]


@pytest.mark.slow
def test_null_rate_of_significant_clusters():
    """No space-time interaction: a reported cluster of either analysis has p < 0.05 in at most
    1 of 20 data sets (one Monte Carlo test over both analyses: 5 % by construction; 99
    replications each)."""
    hits = 0
    for s in range(20):
        ev = _events(800, 1000 + s, days=364, extent=8000.0)
        res = space_time_scans(ev, replications=99, seed=s, end=T0 + pd.Timedelta(days=364))
        hits += any(len(cl) and cl.p_value.min() < 0.05 for cl, _ in res)
    assert hits <= 1, hits


def _housemates(seed, homes=40, per_home=4, singles=400, days=364, extent=8000.0):
    """The generator's housemates null in small (geo.scenario.nulls): children of one home share
    its place, residential children go missing often, each episode's day is uniform over the
    year and independent of everything, and 90 % of episodes end back at the child's home (the
    rest at a uniform point). No space-time interaction: a valid test flags 5 % of such sets."""
    rng = np.random.default_rng(seed)
    home_xy = rng.uniform(0, extent, (homes + singles, 2))
    home = np.r_[np.repeat(np.arange(homes), per_home), homes + np.arange(singles)]
    n_eps = np.r_[1 + rng.poisson(5.0, homes * per_home), 1 + rng.negative_binomial(0.5, 0.5 / 1.4, singles)]
    child = np.repeat(np.arange(len(home)), n_eps)
    xy = home_xy[home[child]]
    away = rng.random(len(child)) >= 0.9
    xy[away] = rng.uniform(0, extent, (away.sum(), 2))
    return pd.DataFrame({"easting": xy[:, 0], "northing": xy[:, 1], "kind": "found_at", "precision": "postcode",
                         "person_id": [f"C{c}" for c in child],
                         "at": T0 + pd.to_timedelta(rng.uniform(0, days, len(child)), unit="D")})


@pytest.mark.slow
def test_null_rate_with_shared_homes_is_the_nominal_rate():
    """Issue 13's housemates null in small: homes shared by several children, repeated episodes
    found back at home, dates independent of place. The child time-line permutation must keep the
    scan a 5 % test: the count of sets with a reported cluster at p < 0.05 stays within the 99th
    percentile of Binomial(n, 0.05) (a bound a valid test exceeds in at most 1 % of seed
    choices). bench/RESULTS_spacetime.md has the generator's drops through the real path."""
    from scipy.stats import binom
    n = 30
    hits = 0
    for s in range(n):
        res = space_time_scans(_housemates(2000 + s), replications=99, seed=s, end=T0 + pd.Timedelta(days=364))
        hits += any(len(cl) and cl.p_value.min() < 0.05 for cl, _ in res)
    assert hits <= binom.ppf(0.99, n, 0.05), hits


def test_null_drop_is_quiet_and_p_is_one_test_over_both_analyses():
    """A small null data set: no cluster of either analysis at p < 0.05; every p-value comes
    from the one null distribution (equal LLR, equal p across the analyses), is never below the
    prospective analysis' own p (the recurrence interval's) and the info says what was tested."""
    ev = _events(900, 2024, days=364, extent=8000.0)
    (retro, ri), (pro, pi) = space_time_scans(ev, replications=199, seed=3, end=T0 + pd.Timedelta(days=364),
                                              early_stop=None)
    assert len(retro) and len(pro)
    assert retro.p_value.min() >= 0.05 and pro.p_value.min() >= 0.05
    own_p = 7.0 / pro.recurrence_days
    assert (pro.p_value >= own_p - 1e-12).all()
    both = pd.concat([retro, pro])
    for v, grp in both.groupby(both.llr.round(9)):
        assert grp.p_value.nunique() == 1
    assert "one Monte Carlo test" in ri["p_value_test"] and ri["p_value_test"] == pi["p_value_test"]


def test_seeded_runs_are_identical_and_seeds_differ():
    ev = _events(600, 11, planted=6, days=182, extent=6000.0, when=150.0)
    a = space_time_scans(ev, replications=99, seed=5)
    b = space_time_scans(ev, replications=99, seed=5)
    c = space_time_scans(ev, replications=99, seed=6)
    for (x, _), (y, _) in zip(a, b):
        pd.testing.assert_frame_equal(x, y)
    assert any(not np.array_equal(x.p_value, z.p_value) for (x, _), (z, _) in zip(a, c))


def test_pruned_replicate_maximum_equals_full_scan():
    """The replicate path (event-circle pairs or the sparse matrix, bound pruning) gives the
    same maxima as scoring every circle and window of the permuted data."""
    ev = _events(700, 21, planted=6, days=120, extent=5000.0, when=60.0)
    data = prepare(ev, unit_days=7, cell_m=300.0, max_radius_m=900.0)
    W = 6
    allc = np.arange(len(data.valid_idx[0]))
    pairs = CircleCounts(data, allc)
    matrix = CircleCounts(data, allc)
    matrix.mode, matrix.loc, matrix.L = "matrix", data.loc, data.L
    S = data.S[data.valid_idx]
    rng = np.random.default_rng(0)
    limits = MuLimits(0.0, data.C, 2)
    assert pairs.mode == "pairs"
    for _ in range(15):
        unit = data.unit[rng.permutation(data.C)]
        X = pairs.cum(unit)
        np.testing.assert_array_equal(X, matrix.cum(unit))
        full_retro = _score(data, X, S, W, False, 2)[0].max()
        full_pro = _score(data, X, S, W, True, 2)[0].max()
        retro, pro = ReplicateMaxima(data, S, W, 2, 0.0, limits).maxima(X)
        assert np.isclose(pro, full_pro)
        assert np.isclose(retro, full_retro)
        # with a floor: exact whenever the maximum reaches it, never above the truth
        for floor in (4.0, 8.0):
            lim = MuLimits(floor, data.C, 2)
            got = ReplicateMaxima(data, S, W, 2, floor, lim).maxima(X)[0]
            assert got <= full_retro + 1e-9 and (full_retro < floor or np.isclose(got, full_retro))


def test_scan_rejects_bad_settings():
    with pytest.raises(ValueError, match="unit_days"):
        prepare(_events(20, 0), unit_days=0)
    with pytest.raises(ValueError, match="replications"):
        space_time_scan(_events(20, 0), replications=-1)


def test_replicates_in_worker_processes_give_the_same_p_values(monkeypatch):
    """The permutations are drawn in one process in replicate order, so the scan's p-values and its
    sequential stop are the same whatever the number of worker processes."""
    from geo.stats import replicates as rep

    monkeypatch.setattr(rep, "POOL_SECONDS", -1.0)             # workers even for this small job
    ev = _events(600, 11, planted=6, days=182, extent=6000.0, when=150.0)
    for early in (None, 5):
        one = space_time_scans(ev, replications=99, seed=5, workers=1, early_stop=early)
        two = space_time_scans(ev, replications=99, seed=5, workers=2, early_stop=early)
        for (x, xi), (y, yi) in zip(one, two):
            pd.testing.assert_frame_equal(x, y)
            assert xi["replications_run"] == yi["replications_run"]


def test_no_located_events_gives_no_clusters():
    """A store with no located found-at event (a drop of area-level records only) is scanned
    to an empty layer, not an error."""
    from geo.stats.scan import scan_clusters
    ev = _events(5, seed=1)
    ev["precision"] = "area"                      # area centroids are left out of the scan
    clusters, infos = scan_clusters(ev, replications=9)
    assert len(clusters) == 0 and infos["retrospective"]["events"] == 0


def test_nonzero2d_equals_numpy_nonzero():
    from geo.stats.scan import _nonzero2d
    rng = np.random.default_rng(1)
    for shape, p in [((31, 3597), 0.001), ((5, 7), 0.5), ((1, 9), 1.0), ((4, 6), 0.0), ((0, 3), 0.5)]:
        m = rng.random(shape) < p
        want, got = np.nonzero(m), _nonzero2d(m)
        for a, b in zip(want, got):
            np.testing.assert_array_equal(a, b)
        m_t = m.T                                            # not C-contiguous
        for a, b in zip(np.nonzero(m_t), _nonzero2d(m_t)):
            np.testing.assert_array_equal(a, b)


def test_circle_counts_matrix_equals_a_direct_count_for_circles_in_any_order():
    """The depth-major matrix rows (slice sums per depth, rows put back in the caller's circle
    order) give, for circles in any order, the counts of summing each circle's locations."""
    ev = _events(500, 15, planted=4, days=100, extent=4000.0, when=50.0)
    data = prepare(ev, unit_days=7, cell_m=300.0, max_radius_m=900.0)
    rng = np.random.default_rng(2)
    allc = np.arange(len(data.valid_idx[0]))
    for circles in (allc, rng.permutation(allc), np.sort(rng.choice(allc, len(allc) // 3, replace=False)),
                    rng.permutation(allc)[:50]):
        matrix = CircleCounts(data, circles)
        matrix.mode = "matrix"
        vi, vk = data.valid_idx[0][circles], data.valid_idx[1][circles]
        for _ in range(3):
            unit = data.unit[rng.permutation(data.C)]
            per_loc = np.bincount(data.loc * data.U + unit, minlength=data.L * data.U).reshape(data.L, data.U)
            want = np.zeros((len(circles), data.U + 1), np.int64)
            for r, (i, k) in enumerate(zip(vi, vk)):
                want[r, 1:] = np.cumsum(per_loc[data.nb[i, :k + 1]].sum(axis=0))
            np.testing.assert_array_equal(matrix.cum(unit), want)

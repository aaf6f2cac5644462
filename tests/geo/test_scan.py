"""Space-time permutation scan (geo.scan): brute force parity, planted cluster, null rate."""
import itertools

import numpy as np
import pandas as pd
import pytest

from geo.scan import llr, prepare, scan_clusters, space_time_scan

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

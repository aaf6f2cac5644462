"""The week-shift null of co-episodes (network.coincidence) against brute force."""
import numpy as np
import pytest
from scipy import stats

from network.coincidence import WEEK_S, conditional_p, shift_null, shift_weeks, week_matches

H = 3600


def test_week_matches_equals_brute_force():
    rng = np.random.default_rng(0)
    ta = rng.integers(0, 52 * WEEK_S, 80)
    tb = rng.integers(0, 52 * WEEK_S, 60)
    tb[:5] = WEEK_S - 60                 # near the end of the week: matched across the wrap
    ta[:3] = 30
    pa, pb = rng.integers(0, 3, 80), rng.integers(0, 3, 60)
    got = set(zip(*week_matches(pa, np.arange(80), ta, pb, np.arange(60), tb, 6 * H)))
    want = set()
    for i in range(80):
        for j in range(60):
            d = (tb[j] - ta[i]) % WEEK_S
            if pa[i] == pb[j] and min(d, WEEK_S - d) <= 6 * H:
                want.add((pa[i], i, j))
    assert got == want


def test_shift_null_equals_literal_circular_shifts():
    """Shift b's timeline by m = 1..S-1 weeks on the circle of S weeks and count pairs whose
    reports fall within 6 h: the mean and variance over the shifts are those of shift_null."""
    rng = np.random.default_rng(1)
    S = shift_weeks(0, 40 * WEEK_S - 1)
    P = S * WEEK_S
    # evening-heavy timelines: both children go missing between 18:00 and 23:00 on Fridays
    week = rng.integers(0, S, 25)
    ta = week * WEEK_S + 4 * 86400 + rng.integers(18 * H, 23 * H, 25)
    tb = rng.integers(0, S, 30) * WEEK_S + 4 * 86400 + rng.integers(18 * H, 23 * H, 30)
    w = 6 * H
    counts = []
    for m in range(1, S):
        d = (tb[None, :] + m * WEEK_S - ta[:, None]) % P
        d = np.minimum(d, P - d)
        counts.append(int((d <= w).sum()))
    i, j = np.meshgrid(np.arange(25), np.arange(30), indexing="ij")
    i, j = i.ravel(), j.ravel()
    d_t = (tb[j] - ta[i]).astype(float)
    mean, var = shift_null(np.zeros(len(i), np.int64), -w - d_t, w - d_t, 1, S)
    uniform = 25 * 30 * 2 * w / P
    assert mean[0] * S - uniform == pytest.approx(sum(counts))
    assert var[0] == pytest.approx(np.var(counts))
    # both children on Friday evenings: far more coincidences than uniform time predicts
    assert np.mean(counts) > 5 * uniform


def test_conditional_p():
    k = np.array([1, 2, 3, 5])
    mu = np.array([0.2, 0.2, 0.2, 1.0])
    p = conditional_p(k, mu, mu)              # var == mean: Poisson
    want = stats.poisson.sf(k - 1, mu) / stats.poisson.sf(0, mu)
    assert p[0] == 1.0 and np.allclose(p[1:], want[1:])
    over = conditional_p(np.array([3]), np.array([0.2]), np.array([0.6]))
    assert over[0] > p[2]                     # bursts: a heavier tail, a larger p
    assert conditional_p(np.array([2]), np.array([0.0]), np.array([0.0]))[0] < 1e-100

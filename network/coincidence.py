"""Co-episodes expected by chance: the week-shift null of two children's own timelines.

Two children who each go missing often will now and then go missing, or come back, within a
few hours of each other by chance, and more often than a uniform-in-time model says when both
tend to go missing on the same evenings of the week (children's homes: Friday and Saturday
nights). The null used here keeps each child's own timing and breaks only the alignment of
the two: child ``b``'s whole timeline is shifted against child ``a``'s by whole weeks, on a
circle of ``S`` weeks covering the analysis period (the circular, or toroidal, shift of Lotwick &
Silverman 1982; the "shift predictor" of Perkel, Gerstein & Moore 1967). Every episode keeps its
time of day, its day of week, its place and its duration, and each child keeps the gaps between
its own episodes; the identity shift (the data as observed) is left out.

For one pair of children and one co-episode rule, an episode pair ``(i, j)`` is a co-episode
under shift ``m`` weeks when ``t_j + m W - t_i`` falls in an interval ``[lo, hi]`` that the rule
gives (reports within the window: ``[-w, w]``; returns within the window and the episodes
overlapping: the intersection of two such intervals; named and overlapping:
``[-span_j, span_i]``; see :mod:`network.groups`). Counting the shifts ``m != 0 (mod S)`` with
``m W`` in ``[lo - d, hi - d]`` (``d`` the observed offset) over all episode pairs gives the
count of co-episodes under each of the ``S - 1`` shifts: their mean is the expected count and
their variance its spread. The uniform-in-time expectation (a continuous random shift) is
added as one pseudo-shift, so a short history never gives an expectation of exactly zero (in
closed form for the same-home rule; for the found-together rule over the pairs whose times of
week fall within the window, the only ones the shifts can align).

Inference: the observed number ``k`` of joint events of the pair under the rule is compared
with a Poisson (or, when the shift counts are over-dispersed, as bursts of episodes make them,
a negative binomial with the same mean and variance): ``P(X >= k)`` where every pair the rule
can apply to is a test (housemates; children who name each other), and, for the found-together
rule, where only pairs with at least one co-episode are looked at (every pair of children found
near each other at some time is too many to list nationally), conditional on that selection,
``P(X >= k | X >= 1)``, so one co-episode alone never passes. Benjamini-Hochberg (1995) runs
over every test: all housemate pairs, all naming pairs and the selected found pairs.

References
----------
Lotwick, H. W., Silverman, B. W. (1982). Methods for analysing spatial processes of several types
of points. JRSS B 44(3), 406-413.
Perkel, D. H., Gerstein, G. L., Moore, G. P. (1967). Neuronal spike trains and stochastic point
processes II. Simultaneous spike trains. Biophysical Journal 7(4), 419-440.
Benjamini, Y., Hochberg, Y. (1995). Controlling the false discovery rate. JRSS B 57(1).
"""
from __future__ import annotations

import numpy as np
from scipy import special, stats

__all__ = ["WEEK_S", "shift_weeks", "week_matches", "shift_null", "conditional_p"]

WEEK_S = 7 * 86400


def shift_weeks(t_min: int, t_max: int) -> int:
    """Number of whole weeks ``S`` of the circle that holds the period (at least 2)."""
    return max(2, int(np.ceil(max(t_max - t_min, 1) / WEEK_S)))


def week_matches(pa: np.ndarray, ia: np.ndarray, ta: np.ndarray, pb: np.ndarray, jb: np.ndarray,
                 tb: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Episode pairs of the same pair of children whose times of week are within ``window``.

    ``(pa, ia, ta)``: pair id, episode and time (seconds) of the first child's episodes;
    ``(pb, jb, tb)`` the second's. Returns ``(pair, i, j)`` for every ``pa == pb`` with
    ``|ta - tb|`` within ``window`` modulo one week: the only pairs a whole-week shift can
    bring within the window (``window`` < half a week). A sort-and-sweep on
    ``(pair, time of week)``, copies of the times near the week's ends wrapped round.
    """
    w = int(window)
    if 2 * w >= WEEK_S:
        raise ValueError("the window must be shorter than half a week")
    tow_a = np.mod(np.asarray(ta, dtype=np.int64), WEEK_S)
    tow_b = np.mod(np.asarray(tb, dtype=np.int64), WEEK_S)
    low, high = tow_b < w, tow_b > WEEK_S - w
    pb2 = np.r_[pb, pb[low], pb[high]].astype(np.int64)
    jb2 = np.r_[jb, jb[low], jb[high]]
    tw2 = np.r_[tow_b, tow_b[low] + WEEK_S, tow_b[high] - WEEK_S]
    width = np.int64(WEEK_S + 4 * w)
    key = pb2 * width + (tw2 + 2 * w)
    order = np.argsort(key, kind="stable")
    ks = key[order]
    q = np.asarray(pa, dtype=np.int64) * width + (tow_a + 2 * w)
    lo = np.searchsorted(ks, q - w, "left")
    cnt = np.searchsorted(ks, q + w, "right") - lo
    rep = np.repeat(np.arange(len(q)), cnt)
    jj = order[np.repeat(lo, cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))]
    return np.asarray(pa)[rep], np.asarray(ia)[rep], jb2[jj]


def shift_null(hyp: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_hyp: int,
               weeks: int, uniform: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the co-episode count of every hypothesis under the week-shift null.

    Parameters
    ----------
    hyp : (n,) hypothesis id (pair of children and rule) of each candidate episode pair.
    lo, hi : (n,) seconds: the pair is a co-episode under shift ``m`` when
        ``lo <= m * WEEK_S <= hi`` (``lo > hi``: never).
    n_hyp : number of hypotheses.
    weeks : ``S``, the weeks of the circle (:func:`shift_weeks`).
    uniform : (n_hyp,) the uniform pseudo-shift's expectation where known in closed form
        (NaN elsewhere: from the intervals given).

    Returns
    -------
    (mean, var) : (n_hyp,) expected count over the ``S - 1`` non-identity shifts plus the
    uniform pseudo-shift, and the variance of the count over the shifts.
    """
    S = int(weeks)
    hyp = np.asarray(hyp, dtype=np.int64)
    lo = np.asarray(lo, dtype=float)
    hi = np.asarray(hi, dtype=float)
    ok = hi >= lo
    hyp, lo, hi = hyp[ok], lo[ok], hi[ok]
    # uniform pseudo-shift: a continuous random shift on the circle of S weeks
    length = np.minimum(hi - lo, S * WEEK_S)
    from_intervals = np.bincount(hyp, weights=length / (S * WEEK_S), minlength=n_hyp)
    if uniform is None:
        uniform = from_intervals
    else:
        uniform = np.where(np.isnan(uniform), from_intervals, uniform)
    m_lo = np.ceil(lo / WEEK_S).astype(np.int64)
    m_hi = np.floor(hi / WEEK_S).astype(np.int64)
    n_m = np.maximum(m_hi - m_lo + 1, 0)
    counts = np.zeros(n_hyp)
    sq = np.zeros(n_hyp)
    if n_m.sum():
        # every (episode pair, shift) as one row: few shifts per pair (intervals of days)
        rep = np.repeat(np.arange(len(n_m)), np.minimum(n_m, S))
        off = np.arange(len(rep)) - np.repeat(np.cumsum(np.minimum(n_m, S)) - np.minimum(n_m, S),
                                              np.minimum(n_m, S))
        res = np.mod(m_lo[rep] + off, S)
        keep = res != 0                                  # the identity shift is the data
        key = hyp[rep[keep]] * S + res[keep]
        uk, c = np.unique(key, return_counts=True)
        h = uk // S
        counts = np.bincount(h, weights=c, minlength=n_hyp)
        sq = np.bincount(h, weights=c.astype(float) ** 2, minlength=n_hyp)
    shifts = S - 1
    mean_s = counts / shifts
    var = np.maximum(sq / shifts - mean_s ** 2, 0.0)
    mean = (counts + uniform) / S
    return mean, var


def conditional_p(k: np.ndarray, mean: np.ndarray, var: np.ndarray,
                  conditional: np.ndarray | bool = True) -> np.ndarray:
    """``P(X >= k | X >= 1)`` (where ``conditional``) or ``P(X >= k)``: Poisson(mean), or
    negative binomial with that mean and variance when ``var > mean`` (over-dispersed shift
    counts). ``k < 1`` gives 1, and so does ``k = 1`` when conditional."""
    k = np.asarray(k, dtype=float)
    mu = np.maximum(np.asarray(mean, dtype=float), 1e-300)
    v = np.asarray(var, dtype=float)
    cond = np.broadcast_to(np.asarray(conditional, dtype=bool), k.shape)
    p = np.ones(len(k))
    test = (k >= 1) & ~(cond & (k < 2))
    over = test & (v > mu * 1.05)
    pois = test & ~over
    if pois.any():
        # P(X >= k) = regularised lower incomplete gamma P(k, mu); P(X >= 1) = 1 - e^-mu
        p[pois] = special.gammainc(k[pois], mu[pois]) / np.where(cond[pois], -np.expm1(-mu[pois]), 1.0)
    if over.any():
        n = mu[over] ** 2 / (v[over] - mu[over])
        q = mu[over] / v[over]
        p[over] = stats.nbinom.sf(k[over] - 1, n, q) / np.where(cond[over], stats.nbinom.sf(0, n, q), 1.0)
    return np.clip(np.nan_to_num(p, nan=1.0), 0.0, 1.0)

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
added as one pseudo-shift, so a short history never gives an expectation of exactly zero.

Inference: the observed number ``k`` of joint events of the pair under the rule is compared
with a Poisson (or, when the shift counts are over-dispersed, as bursts of episodes make them,
a negative binomial with the same mean and variance) and, because only pairs with at least one
co-episode are tested at all, the p-value is conditional on that selection:
``P(X >= k | X >= 1)``. A single co-episode therefore never passes; Benjamini-Hochberg (1995)
runs over every pair and rule tested.

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

__all__ = ["WEEK_S", "shift_weeks", "shift_null", "conditional_p"]

WEEK_S = 7 * 86400


def shift_weeks(t_min: int, t_max: int) -> int:
    """Number of whole weeks ``S`` of the circle that holds the period (at least 2)."""
    return max(2, int(np.ceil(max(t_max - t_min, 1) / WEEK_S)))


def shift_null(hyp: np.ndarray, lo: np.ndarray, hi: np.ndarray, n_hyp: int,
               weeks: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the co-episode count of every hypothesis under the week-shift null.

    Parameters
    ----------
    hyp : (n,) hypothesis id (pair of children and rule) of each candidate episode pair.
    lo, hi : (n,) seconds: the pair is a co-episode under shift ``m`` when
        ``lo <= m * WEEK_S <= hi`` (``lo > hi``: never).
    n_hyp : number of hypotheses.
    weeks : ``S``, the weeks of the circle (:func:`shift_weeks`).

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
    uniform = np.bincount(hyp, weights=length / (S * WEEK_S), minlength=n_hyp)
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


def conditional_p(k: np.ndarray, mean: np.ndarray, var: np.ndarray) -> np.ndarray:
    """``P(X >= k | X >= 1)``: Poisson(mean), or negative binomial with that mean and
    variance when ``var > mean`` (over-dispersed shift counts). ``k < 2`` gives 1."""
    k = np.asarray(k, dtype=float)
    mu = np.maximum(np.asarray(mean, dtype=float), 1e-300)
    v = np.asarray(var, dtype=float)
    p = np.ones(len(k))
    big = k >= 2
    over = big & (v > mu * 1.05)
    pois = big & ~over
    if pois.any():
        # P(X >= k) = regularised lower incomplete gamma P(k, mu); P(X >= 1) = 1 - e^-mu
        p[pois] = special.gammainc(k[pois], mu[pois]) / -np.expm1(-mu[pois])
    if over.any():
        n = mu[over] ** 2 / (v[over] - mu[over])
        q = mu[over] / v[over]
        p[over] = stats.nbinom.sf(k[over] - 1, n, q) / stats.nbinom.sf(0, n, q)
    return np.clip(np.nan_to_num(p, nan=1.0), 0.0, 1.0)

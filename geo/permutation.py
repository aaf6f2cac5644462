"""The conditional permutation engine shared by every local statistic.

Conditional randomisation (Anselin 1995, "Local indicators of spatial association - LISA",
Geographical Analysis 27(2); Sokal, Oden & Thomson 1998) holds the value at site ``i`` fixed
and redistributes the other ``n - 1`` values at random over the ``k_i`` neighbours of ``i``.
This module mirrors esda's ``crand`` engine (Rey et al., PySAL): one matrix of permuted ids of
shape ``(permutations, max_cardinality)`` is drawn once, without replacement from
``0 .. n-2``; for site ``i`` the id ``r`` is mapped to ``r + (r >= i)`` so that ``i`` itself is
never drawn. The random spatial lags ``sum_j w_ij x_perm(j)`` for all sites and permutations
are computed in vectorised chunks (sites grouped by cardinality), and each statistic supplies a
vectorised function turning ``(site, random lag)`` into its simulated value.

Pseudo p-values follow esda's ``significance.calculate_significance``: ``(M + 1) / (R + 1)``
with ``R`` permutations and ``M`` simulated values as or more extreme than the observed one.
``"two-sided"`` finds the percentile of the observed statistic in its reference distribution
and counts simulated values outside the symmetric percentile interval; ``"directed"`` is
esda's legacy ``p_sim`` (the smaller tail); ``"greater"`` / ``"lesser"`` are one-sided.

False discovery rate: :func:`bh_qvalues` gives Benjamini & Hochberg (1995) adjusted
q-values (step-up, monotone, capped at 1).

Everything is seeded (``numpy.random.default_rng(seed)``) and deterministic for a given
seed, input and chunking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.sparse as sp

__all__ = [
    "PermutationResult",
    "permuted_ids",
    "conditional_lags",
    "crand",
    "pseudo_p_values",
    "bh_qvalues",
]

#: Soft cap on the number of float64 cells in one work block (sites x permutations x card).
BLOCK_CELLS = 2_000_000


@dataclass
class PermutationResult:
    """Outcome of :func:`crand`.

    Attributes
    ----------
    p_sim : (n,) pseudo p-values for the requested alternative.
    ei_sim, sei_sim : (n,) mean and standard deviation of the simulated statistics.
    z_sim : (n,) ``(observed - ei_sim) / sei_sim``.
    sims : (n, permutations) simulated statistics when ``keep=True``, else ``None``.
    """

    p_sim: np.ndarray
    ei_sim: np.ndarray
    sei_sim: np.ndarray
    z_sim: np.ndarray
    sims: np.ndarray | None = None


def permuted_ids(n: int, max_card: int, permutations: int, seed: int | None) -> np.ndarray:
    """``(permutations, max_card)`` ids drawn without replacement from ``0 .. n-2`` per row.

    Large ``n``: rows drawn with replacement and the rows holding a repeat redrawn until none
    is left (repeats are rare when ``max_card << n``). Small ``n``: argsort of uniforms.
    """
    rng = np.random.default_rng(seed)
    pool = n - 1
    max_card = int(min(max_card, pool))
    if max_card <= 0 or permutations <= 0:
        return np.zeros((max(permutations, 0), 0), dtype=np.int64)
    if pool * permutations <= 4_000_000 or max_card * 8 > pool:
        u = rng.random((permutations, pool))
        return np.argpartition(u, max_card - 1, axis=1)[:, :max_card].astype(np.int64) if max_card < pool else np.argsort(u, axis=1).astype(np.int64)
    ids = rng.integers(0, pool, size=(permutations, max_card), dtype=np.int64)
    while True:
        s = np.sort(ids, axis=1)
        bad = np.flatnonzero((s[:, 1:] == s[:, :-1]).any(axis=1))
        if not len(bad):
            return ids
        ids[bad] = rng.integers(0, pool, size=(len(bad), max_card), dtype=np.int64)


def _padded(w: sp.csr_matrix, order: np.ndarray, card: np.ndarray, k: int) -> np.ndarray:
    """Weights of rows ``order`` left-aligned in a ``(len(order), k)`` array."""
    out = np.zeros((len(order), k), dtype=float)
    if k == 0:
        return out
    starts = w.indptr[order]
    cols = np.arange(k)
    mask = cols[None, :] < card[order][:, None]
    pos = (starts[:, None] + cols[None, :])[mask]
    out[mask] = w.data[pos]
    return out


def conditional_lags(
    values: np.ndarray,
    w_offdiag: sp.csr_matrix,
    ids: np.ndarray,
    block_cells: int = BLOCK_CELLS,
):
    """Yield ``(sites, lags)`` blocks of conditionally permuted spatial lags.

    ``lags[a, p] = sum_m w[sites[a], m] * values[j]`` with ``j`` the ``m``-th permuted id of
    permutation ``p`` shifted past ``sites[a]`` (site ``i`` is never drawn for itself). Sites
    are visited grouped by cardinality so every block uses only the columns it needs.
    ``w_offdiag`` must have no diagonal; islands get a lag of 0 (esda ``island_weight=0``).
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    P = ids.shape[0]
    card = np.diff(w_offdiag.indptr)
    order = np.argsort(card, kind="stable")
    # values at id r when r < i (no shift) and when r >= i (shift by one)
    v_lo = values[ids] if ids.size else np.zeros((P, 0))
    v_hi = values[np.minimum(ids + 1, n - 1)] if ids.size else np.zeros((P, 0))
    start = 0
    while start < n:
        k = int(card[order[start]])
        # grow the block while the cardinality fits the budget
        k_end = np.searchsorted(card[order], k, side="right")
        rows_budget = max(1, block_cells // max(1, P * max(k, 1)))
        stop = int(min(k_end, start + rows_budget))
        sites = order[start:stop]
        if k == 0:
            yield sites, np.zeros((len(sites), P))
        else:
            wpad = _padded(w_offdiag, sites, card, k)  # (b, k)
            r = ids[:, :k]  # (P, k)
            shift = r[None, :, :] >= sites[:, None, None]  # (b, P, k)
            vals = np.where(shift, v_hi[None, :, :k], v_lo[None, :, :k])
            yield sites, np.matmul(vals, wpad[:, :, None])[..., 0]
        start = stop


def pseudo_p_values(observed: np.ndarray, sims: np.ndarray, alternative: str = "two-sided") -> np.ndarray:
    """Pseudo p-values of ``observed`` (n,) against ``sims`` (n, R), as esda computes them.

    ``(M + 1) / (R + 1)``; see the module docstring for the alternatives.
    """
    sims = np.atleast_2d(np.asarray(sims, dtype=float))
    obs = np.asarray(observed, dtype=float).reshape(-1, 1)
    n, R = sims.shape
    if R == 0:
        return np.full(n, np.nan)
    if alternative == "greater":
        return ((sims >= obs).sum(axis=1) + 1.0) / (R + 1.0)
    if alternative == "lesser":
        return ((sims <= obs).sum(axis=1) + 1.0) / (R + 1.0)
    if alternative == "directed":
        larger = (sims >= obs).sum(axis=1)
        low = (R - larger) < larger
        larger = np.where(low, R - larger, larger)
        return (larger + 1.0) / (R + 1.0)
    if alternative == "folded":
        m = sims.mean(axis=1, keepdims=True)
        return ((np.abs(sims - m) >= np.abs(obs - m)).sum(axis=1) + 1.0) / (R + 1.0)
    if alternative != "two-sided":
        raise ValueError(f"unknown alternative {alternative!r}")
    # percentile of the observed value, then the symmetric interval (numpy 'linear' percentiles)
    pct = (sims <= obs).mean(axis=1) * 100.0
    p_low = np.minimum(pct, 100.0 - pct)
    s = np.sort(sims, axis=1)

    def _percentile(q):
        pos = q / 100.0 * (R - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, R - 1)
        frac = pos - lo
        a = s[np.arange(n), lo]
        b = s[np.arange(n), hi]
        return a + (b - a) * frac

    lows = _percentile(p_low)[:, None]
    highs = _percentile(100.0 - p_low)[:, None]
    outside = (sims <= lows).sum(axis=1) + (sims >= highs).sum(axis=1)
    return (outside + 1.0) / (R + 1.0)


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg (1995) FDR q-values; NaN p-values stay NaN and are not counted."""
    p = np.asarray(p, dtype=float)
    q = np.full(p.shape, np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    if m == 0:
        return q
    order = ok[np.argsort(p[ok], kind="stable")]
    ranked = p[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    q[order] = np.minimum(ranked, 1.0)
    return q


def crand(
    values: np.ndarray,
    weights,
    observed: np.ndarray,
    stat_func: Callable[[np.ndarray, np.ndarray], np.ndarray],
    permutations: int = 999,
    seed: int | None = 0,
    alternative: str = "two-sided",
    keep: bool = False,
    block_cells: int = BLOCK_CELLS,
) -> PermutationResult:
    """Conditional randomisation inference for a local statistic.

    Parameters
    ----------
    values : (n,) the variable whose values are permuted (raw ``y`` for Gi*, standardised
        ``z`` for local Moran).
    weights : :class:`geo.weights.SpatialWeights` or CSR matrix; its diagonal (self weight)
        is not permuted: ``stat_func`` adds it back.
    observed : (n,) the observed statistic.
    stat_func : ``stat_func(sites, lags) -> (len(sites), R)`` simulated statistics from the
        permuted off-diagonal lags ``(len(sites), R)``.
    permutations, seed : number of permutations (esda default 999) and RNG seed.
    alternative : see :func:`pseudo_p_values`.
    keep : return the ``(n, R)`` simulations.
    """
    m = weights.sparse if hasattr(weights, "sparse") else weights
    m = sp.csr_matrix(m, dtype=float, copy=True)
    m.setdiag(0)
    m.eliminate_zeros()
    m.sort_indices()
    n = m.shape[0]
    observed = np.asarray(observed, dtype=float)
    card = np.diff(m.indptr)
    ids = permuted_ids(n, int(card.max()) if n else 0, permutations, seed)
    p = np.empty(n)
    ei = np.empty(n)
    se = np.empty(n)
    sims_all = np.empty((n, permutations)) if keep else None
    for sites, lags in conditional_lags(values, m, ids, block_cells):
        sims = stat_func(sites, lags)
        p[sites] = pseudo_p_values(observed[sites], sims, alternative)
        ei[sites] = sims.mean(axis=1)
        se[sites] = sims.std(axis=1)
        if keep:
            sims_all[sites] = sims
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (observed - ei) / se
    return PermutationResult(p, ei, se, z, sims_all)

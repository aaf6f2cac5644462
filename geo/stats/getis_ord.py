"""Getis-Ord local Gi* hot spot statistic.

Method: Getis & Ord (1992), "The analysis of spatial association by use of distance
statistics", Geographical Analysis 24(3); Ord & Getis (1995), "Local spatial autocorrelation
statistics: distributional issues and an application", Geographical Analysis 27(4). Gi*
includes site ``i`` in its own neighbourhood (self weight 1 for binary weights).

For each site::

    G*_i = sum_j w_ij x_j / sum_j x_j
    z_i  = (sum_j w_ij x_j - xbar W_i) / (S sqrt((n S1_i - W_i^2) / (n - 1)))

with ``W_i = sum_j w_ij``, ``S1_i = sum_j w_ij^2``, ``xbar`` the mean and ``S`` the population
standard deviation of ``x`` (ArcGIS Pro "Hot Spot Analysis (Getis-Ord Gi*)" uses the same
formula). For binary weights this equals esda's ``G_Local(star=True, transform="B").Zs``
exactly. Inference: conditional permutation (:mod:`geo.stats.permutation`, shared with local
Moran), two-sided pseudo p-values by default, Benjamini-Hochberg q-values, and ArcGIS's
``Gi_Bin`` classes (+-3 / +-2 / +-1, 0 not significant) from those q-values: q < 0.01 / 0.05 /
0.10 (ArcGIS's "99 / 95 / 90 % confidence with FDR correction"; the words a person reads are
:data:`GI_BIN_LABELS`, which name the test and the q threshold).

Units: ``x`` in whatever the caller counts (episodes, children, rate per 1,000 children);
weights from :mod:`geo.stats.weights` on EPSG:27700 metres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.special import ndtr

from geo.stats.permutation import bh_qvalues, crand
from geo.stats.weights import SpatialWeights

__all__ = ["GiStarResult", "gi_star", "gi_bin", "GI_BIN_LABELS", "GI_TEST"]

#: What was tested, in words, for every label derived from ``gi_bin``.
GI_TEST = ("Getis-Ord Gi*, conditional permutation test (999 permutations), "
           "Benjamini-Hochberg false discovery rate over all areas")

#: ``gi_bin`` -> the label a person reads: the direction and the FDR q-value it earned.
GI_BIN_LABELS = {
    3: "Hot spot, FDR q < 0.01",
    2: "Hot spot, FDR q < 0.05",
    1: "Hot spot, FDR q < 0.10",
    0: "Not significant (FDR q >= 0.10)",
    -1: "Cold spot, FDR q < 0.10",
    -2: "Cold spot, FDR q < 0.05",
    -3: "Cold spot, FDR q < 0.01",
}


@dataclass
class GiStarResult:
    """Result of :func:`gi_star`.

    Attributes
    ----------
    gs : G*_i values.  z : standardised z-scores.  p_norm : two-sided normal p of ``z``.
    p_sim : permutation pseudo p-values.  q_sim : BH q-values of ``p_sim``.
    z_sim : z against the permutation distribution.  bins : ArcGIS Gi_Bin from ``q_sim``.
    sims : ``(n, permutations)`` simulated G*_i when ``keep=True``.
    """

    gs: np.ndarray
    z: np.ndarray
    p_norm: np.ndarray
    p_sim: np.ndarray
    q_sim: np.ndarray
    z_sim: np.ndarray
    bins: np.ndarray
    sims: np.ndarray | None = None


def gi_bin(z: np.ndarray, p: np.ndarray, levels=(0.01, 0.05, 0.10)) -> np.ndarray:
    """ArcGIS ``Gi_Bin``: sign(z) * (3 if p < .01, 2 if p < .05, 1 if p < .10, else 0).

    Wayfinder passes the BH q-values of the permutation p-values (:func:`gi_star` ``q_sim``),
    ArcGIS's "Apply FDR correction"; the labels are :data:`GI_BIN_LABELS`.
    """
    z = np.asarray(z, dtype=float)
    p = np.asarray(p, dtype=float)
    mag = np.zeros(z.shape, dtype=np.int64)
    for k, a in zip((3, 2, 1), sorted(levels)):
        mag = np.where((mag == 0) & (p < a), k, mag)
    return (np.sign(np.nan_to_num(z)) * mag).astype(np.int64)


def _star_matrix(w) -> sp.csr_matrix:
    """Gi* weights: binary neighbours plus a self weight of 1, re-standardised when ``w`` is
    row-standardised (``transform="r"``); a matrix, or weights with a full diagonal, as given."""
    if not isinstance(w, SpatialWeights):
        return sp.csr_matrix(w, dtype=float)
    a = sp.coo_matrix(w.sparse)
    if len(a.data) and (w.sparse.diagonal() != 0).all():
        return sp.csr_matrix(w.sparse, dtype=float)
    n = w.n
    keep = (a.data != 0) & (a.row != a.col)
    idx = np.arange(n)
    m = sp.csr_matrix((np.ones(int(keep.sum()) + n), (np.r_[a.row[keep], idx], np.r_[a.col[keep], idx])),
                      shape=(n, n))
    m.sum_duplicates()
    m.data[:] = 1.0
    if w.transform.lower() == "r":
        m.data = np.repeat(1.0 / np.diff(m.indptr), np.diff(m.indptr))
    m.sort_indices()
    return m


def gi_star(
    x,
    w,
    permutations: int = 999,
    seed: int | None = 0,
    alternative: str = "two-sided",
    keep: bool = False,
) -> GiStarResult:
    """Getis-Ord Gi* with conditional permutation inference.

    Parameters
    ----------
    x : (n,) non-negative values per area (counts or rates), aligned with ``w``.
    w : :class:`~geo.stats.weights.SpatialWeights` (binary recommended; a self weight of 1 is added
        when the diagonal is empty) or a CSR matrix used as given (diagonal = self weight).
    permutations : conditional permutations (0 = analytic only).
    seed : RNG seed.
    alternative : ``"two-sided"`` (default), ``"directed"`` (esda's legacy p_sim),
        ``"greater"``, ``"lesser"``.
    keep : keep simulated values.

    Returns
    -------
    GiStarResult
    """
    x = np.asarray(x, dtype=float).ravel()
    m = _star_matrix(w)
    n = len(x)
    total = x.sum()
    lag = m @ x
    Wi = np.asarray(m.sum(axis=1)).ravel()
    S1 = np.asarray(m.multiply(m).sum(axis=1)).ravel()
    xbar = total / n
    S = np.sqrt(max((x**2).mean() - xbar**2, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        gs = lag / total
        z = (lag - xbar * Wi) / (S * np.sqrt((n * S1 - Wi**2) / (n - 1)))
    p_norm = 2 * ndtr(-np.abs(z))  # = 2 * scipy.stats.norm.sf(|z|), without importing scipy.stats
    if permutations and n > 2 and total != 0 and S > 0:
        res = crand(x, m, 1.0 / total, permutations, seed, alternative, keep)
        p_sim, z_sim, sims = res.p_sim, res.z_sim, res.sims
    else:
        p_sim = np.ones(n) if permutations else np.full(n, np.nan)
        z_sim = np.zeros(n)
        sims = None
        z = np.nan_to_num(z)
    q = bh_qvalues(p_sim)
    return GiStarResult(gs, z, p_norm, p_sim, q, z_sim, gi_bin(z, q), sims)

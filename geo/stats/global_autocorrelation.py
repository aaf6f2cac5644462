"""Global spatial autocorrelation reported with every local map: Moran's I and General G.

Methods
-------
* Moran's I (Moran 1950; Cliff & Ord 1981), as esda ``Moran``: row-standardised weights by
  default, ``I = n / S0 * sum_ij w_ij z_i z_j / sum_i z_i^2`` with ``z`` the deviations from
  the mean; expectation ``-1 / (n - 1)``; variance under normality (``seI_norm``).
* Getis-Ord General G (Getis & Ord 1992), as esda ``G``: binary weights,
  ``G = sum_{i != j} w_ij x_i x_j / sum_{i != j} x_i x_j``, expectation ``S0 / (n (n - 1))`` and
  variance from the moments in Getis & Ord (1992), for non-negative ``x``.

Inference: ``permutations`` random permutations of the values over the areas (total
randomisation, seeded; esda draws them with the global NumPy state), the pseudo p-value of the
tail the observed value lies in, ``(M + 1) / (R + 1)`` (esda's ``p_sim``), and the two-sided
normal p-value of the analytic z (``p_norm``; esda's Moran is two-sided, its G one-sided).

Units: any; weights from :mod:`geo.stats.weights` (EPSG:27700 metres).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy import stats

from geo.stats.weights import SpatialWeights

__all__ = ["global_moran", "general_g"]


def _matrix(w, transform: str) -> sp.csr_matrix:
    if isinstance(w, SpatialWeights):
        return sp.csr_matrix(w.transformed(transform).sparse, dtype=float)
    return sp.csr_matrix(w, dtype=float)


def _s012(m: sp.csr_matrix) -> tuple[float, float, float]:
    s0 = float(m.sum())
    t = m + m.T
    s1 = float(t.multiply(t).sum()) / 2.0
    s2 = float(((np.asarray(m.sum(axis=1)).ravel() + np.asarray(m.sum(axis=0)).ravel()) ** 2).sum())
    return s0, s1, s2


def _perm_p(obs: float, sims: np.ndarray) -> float:
    R = len(sims)
    larger = int((sims >= obs).sum())
    if R - larger < larger:
        larger = R - larger
    return (larger + 1.0) / (R + 1.0)


def _permuted(x: np.ndarray, permutations: int, seed) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.permuted(np.broadcast_to(x, (permutations, len(x))), axis=1)


def global_moran(x, w, permutations: int = 999, seed: int | None = 0, transform: str = "r") -> dict:
    """Global Moran's I of ``x`` (n,) on weights ``w`` aligned with it.

    Returns ``{"statistic": "moran_i", "value", "expected", "z", "p_norm", "p_sim",
    "permutations", "method"}`` (``p_sim`` None without permutations; every value None when
    ``x`` is constant: there is no autocorrelation to measure).
    """
    x = np.asarray(x, dtype=float).ravel()
    n = len(x)
    m = _matrix(w, transform)
    out = {"statistic": "moran_i", "value": None, "expected": -1.0 / (n - 1) if n > 1 else None,
           "z": None, "p_norm": None, "p_sim": None, "permutations": int(permutations),
           "method": f"Moran's I, {'row-standardised' if transform == 'r' else 'binary'} weights, "
                     f"{permutations} random permutations (Moran 1950; Cliff & Ord 1981)"}
    z = x - x.mean()
    ss = float((z * z).sum())
    if n < 3 or ss <= 0:
        return out
    s0, s1, s2 = _s012(m)
    value = n / s0 * float(z @ (m @ z)) / ss
    v = (n * n * s1 - n * s2 + 3 * s0 * s0) / ((n - 1) * (n + 1) * s0 * s0) - (1.0 / (n - 1)) ** 2
    zs = (value - out["expected"]) / np.sqrt(v)
    out.update(value=value, z=float(zs), p_norm=float(2 * stats.norm.sf(abs(zs))))
    if permutations:
        P = _permuted(z, permutations, seed)
        sims = n / s0 * np.einsum("ij,ij->i", P, (m @ P.T).T) / ss
        out["p_sim"] = _perm_p(value, sims)
    return out


def general_g(x, w, permutations: int = 999, seed: int | None = 0) -> dict:
    """Getis-Ord General G of non-negative ``x`` (n,) on binary weights ``w``.

    Returns ``{"statistic": "general_g", "value", "expected", "z", "p_norm", "p_sim",
    "permutations", "method"}`` (values None when fewer than two areas have a non-zero value).
    """
    x = np.asarray(x, dtype=float).ravel()
    n = len(x)
    m = _matrix(w, "b")
    s0, s1, s2 = _s012(m)
    out = {"statistic": "general_g", "value": None, "expected": s0 / (n * (n - 1)) if n > 1 else None,
           "z": None, "p_norm": None, "p_sim": None, "permutations": int(permutations),
           "method": f"Getis-Ord General G, binary weights, {permutations} random permutations "
                     "(Getis & Ord 1992)"}
    if (x < 0).any():
        raise ValueError("General G needs non-negative values")
    den = float(x.sum() ** 2 - (x * x).sum())
    if n < 4 or den <= 0:
        return out
    value = float(x @ (m @ x)) / den
    n2, s02 = n * n, s0 * s0
    b0 = (n2 - 3 * n + 3) * s1 - n * s2 + 3 * s02
    b1 = -((n2 - n) * s1 - 2 * n * s2 + 6 * s02)
    b2 = -(2 * n * s1 - (n + 3) * s2 + 6 * s02)
    b3 = 4 * (n - 1) * s1 - 2 * (n + 1) * s2 + 8 * s02
    b4 = s1 - s2 + s02
    y1, y2, y3, y4 = x.sum(), (x ** 2).sum(), (x ** 3).sum(), (x ** 4).sum()
    eg2 = (b0 * y2 ** 2 + b1 * y4 + b2 * y1 ** 2 * y2 + b3 * y1 * y3 + b4 * y1 ** 4) / \
        ((y1 ** 2 - y2) ** 2 * n * (n - 1) * (n - 2) * (n - 3))
    var = eg2 - out["expected"] ** 2
    zs = (value - out["expected"]) / np.sqrt(var) if var > 0 else 0.0
    out.update(value=value, z=float(zs), p_norm=float(2 * stats.norm.sf(abs(zs))))
    if permutations:
        P = _permuted(x, permutations, seed)
        sims = np.einsum("ij,ij->i", P, (m @ P.T).T) / den
        out["p_sim"] = _perm_p(value, sims)
    return out

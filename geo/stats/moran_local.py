"""Anselin's local Moran's I (LISA) with cluster / outlier types.

Method: Anselin (1995), "Local indicators of spatial association - LISA", Geographical
Analysis 27(2), as implemented by esda ``Moran_Local``::

    z_i = (x_i - xbar) / sd(x)            (population standard deviation)
    I_i = (n - 1) z_i sum_j w_ij z_j / sum_j z_j^2

with row-standardised weights by default. Inference by conditional permutation from the
shared engine (:mod:`geo.stats.permutation`), two-sided pseudo p-values by default, and
Benjamini-Hochberg q-values. Quadrants follow esda's PySAL scheme: 1 HH (high value, high
neighbours), 2 LH, 3 LL, 4 HL, from the signs of ``z_i`` and its spatial lag. ``HH`` / ``LL``
are clusters, ``HL`` / ``LH`` spatial outliers (ArcGIS "Cluster and Outlier Analysis").

Units: any; weights on EPSG:27700 metres from :mod:`geo.stats.weights`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from geo.stats.permutation import bh_qvalues, crand
from geo.stats.weights import SpatialWeights

__all__ = ["LocalMoranResult", "local_moran", "QUADRANT_LABELS", "lisa_types"]

#: esda PySAL quadrant codes.
QUADRANT_LABELS = {1: "HH", 2: "LH", 3: "LL", 4: "HL"}


@dataclass
class LocalMoranResult:
    """Result of :func:`local_moran`.

    Attributes
    ----------
    Is : local I values.  z : standardised values.  lag : spatial lag of ``z``.
    q : quadrant codes (1 HH, 2 LH, 3 LL, 4 HL).  p_sim / q_sim : pseudo p and BH q.
    ei_sim, z_sim : mean of and z against the permutation distribution.
    sims : ``(n, permutations)`` when ``keep=True``.
    """

    Is: np.ndarray
    z: np.ndarray
    lag: np.ndarray
    q: np.ndarray
    p_sim: np.ndarray
    q_sim: np.ndarray
    ei_sim: np.ndarray
    z_sim: np.ndarray
    sims: np.ndarray | None = None

    def labels(self, alpha: float = 0.05, use_q: bool = True) -> np.ndarray:
        """``HH``/``LH``/``LL``/``HL`` where significant at ``alpha`` (q or p), else ``ns``."""
        return lisa_types(self.q, self.q_sim if use_q else self.p_sim, alpha)


def lisa_types(quadrant: np.ndarray, p: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Quadrant labels where ``p < alpha``, ``"ns"`` elsewhere."""
    quadrant = np.asarray(quadrant)
    lab = np.array([QUADRANT_LABELS.get(int(c), "ns") for c in range(5)], dtype=object)
    out = lab[np.clip(quadrant, 0, 4)]
    return np.where(np.asarray(p, dtype=float) < alpha, out, "ns").astype(object)


def local_moran(
    x,
    w,
    permutations: int = 999,
    seed: int | None = 0,
    transform: str = "r",
    alternative: str = "two-sided",
    keep: bool = False,
) -> LocalMoranResult:
    """Local Moran's I with conditional permutation inference.

    Parameters
    ----------
    x : (n,) values aligned with ``w``.
    w : :class:`~geo.stats.weights.SpatialWeights` (transformed to ``transform``) or a CSR matrix
        used as given.
    permutations, seed : conditional permutations (esda default 999) and RNG seed.
    transform : ``"r"`` row-standardised (default, as esda) or ``"b"``.
    alternative : ``"two-sided"`` (default), ``"directed"`` (esda's legacy ``p_sim``), ...
    keep : keep simulated values.
    """
    x = np.asarray(x, dtype=float).ravel()
    n = len(x)
    if isinstance(w, SpatialWeights):
        m = sp.csr_matrix(w.transformed(transform).sparse, dtype=float)
    else:
        m = sp.csr_matrix(w, dtype=float)
    sd = x.std()
    z = (x - x.mean()) / sd if sd > 0 else np.zeros(n)
    lag = m @ z
    den = (z * z).sum()
    scaling = (n - 1) / den if den > 0 else 0.0
    Is = scaling * z * lag
    q = np.where(z > 0, np.where(lag > 0, 1, 4), np.where(lag > 0, 2, 3)).astype(np.int64)
    if permutations and n > 2 and den > 0:
        res = crand(z, m, scaling * z, permutations, seed, alternative, keep)
        p_sim, ei, zs, sims = res.p_sim, res.ei_sim, res.z_sim, res.sims
    else:
        p_sim = np.ones(n) if permutations else np.full(n, np.nan)
        ei = np.zeros(n)
        zs = np.zeros(n)
        sims = None
    return LocalMoranResult(Is, z, lag, q, p_sim, bh_qvalues(p_sim), ei, zs, sims)

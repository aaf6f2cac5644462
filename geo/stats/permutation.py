"""The conditional permutation engine shared by every local statistic.

Conditional randomisation (Anselin 1995, "Local indicators of spatial association - LISA",
Geographical Analysis 27(2); Sokal, Oden & Thomson 1998) holds the value at site ``i`` fixed
and redistributes the other ``n - 1`` values at random over the ``k_i`` neighbours of ``i``.
As in esda's ``crand`` engine (Rey et al., PySAL), one matrix of permuted ids of shape
``(permutations, max_cardinality)`` is drawn once, without replacement from ``0 .. n-2``, and
shared by every site: site ``i`` with ``k_i`` neighbours uses the first ``k_i`` ids of each
row. The id ``r`` means site ``r`` except for ``r == i``, which means site ``n - 1`` (the one
site the pool lacks). This is a bijection from ``0 .. n-2`` onto the sites other than ``i``,
so each site's ``k_i`` draws are a uniform sample without replacement of the other sites,
exactly as esda's shift ``r + (r >= i)`` gives; unlike the shift, it leaves the draw of site
``i`` equal to the shared draw except in the rare permutations where ``i`` drew itself
(expected ``permutations * k_i / (n - 1)`` of them).

Every statistic here is linear in the permuted lag: the simulated value of site ``i`` is
``scale_i * T_i`` with ``T_i = w_ii x_i + sum_m w_im x_perm(m)`` (Gi*: ``scale = 1 / sum x``;
local Moran: ``scale_i = (n - 1) z_i / sum z^2``), and the observed value is ``scale_i``
times the observed ``T_i``. Counts of simulated values as or more extreme than the observed
one are taken on ``sign(scale_i) * T_i`` (exact, free of rounding in ``scale``).

Evaluation. For a site whose off-diagonal weights are all equal (binary and row-standardised
weights: the Gi* and local Moran defaults) ``T_i = c_i + w_i * B_k[p]``, where ``B_k[p]`` is
the sum of the first ``k`` permuted values of permutation ``p``: one vector per cardinality,
common to all sites, except for the permutations where ``i`` drew itself. The engine sorts
``B_k`` once per cardinality and answers every count (binary search, the statistic being
monotone in ``B``) and every order statistic the two-sided p-value needs (the sorted base
with the few self-draws taken out and their corrected values merged in) without forming the
``(n, permutations)`` matrix; means and standard deviations come from the class moments plus
the corrections. Sites with unequal weights, with more than :data:`MAX_RANKED_CORRECTIONS`
self-draws (tiny ``n``), the ``"folded"`` alternative and ``keep=True`` use the dense
evaluation: the same ``T`` values materialised in blocks and passed to
:func:`pseudo_p_values`. Both evaluations give identical p-values (tests/geo/
test_permutation.py checks it bit for bit).

Pseudo p-values follow esda's ``significance.calculate_significance``: ``(M + 1) / (R + 1)``
with ``R`` permutations and ``M`` simulated values as or more extreme than the observed one.
``"two-sided"`` finds the percentile of the observed statistic in its reference distribution
and counts simulated values outside the symmetric percentile interval; ``"directed"`` is
esda's legacy ``p_sim`` (the smaller tail); ``"greater"`` / ``"lesser"`` are one-sided;
``"folded"`` compares distances from the simulated mean.

False discovery rate: :func:`bh_qvalues` gives Benjamini & Hochberg (1995) adjusted
q-values (step-up, monotone, capped at 1).

Everything is seeded (``numpy.random.default_rng(seed)``) and deterministic for a given
seed and input.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

__all__ = [
    "PermutationResult",
    "ALTERNATIVES",
    "permuted_ids",
    "crand",
    "pseudo_p_values",
    "bh_qvalues",
]

#: The p-value definitions :func:`pseudo_p_values` and :func:`crand` know.
ALTERNATIVES = ("two-sided", "directed", "greater", "lesser", "folded")

#: Soft cap on the number of float64 cells in one block of the dense evaluation.
BLOCK_CELLS = 2_000_000

#: Sites that drew themselves in more permutations than this are evaluated densely.
MAX_RANKED_CORRECTIONS = 32


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

    Every row is a uniformly random ordered sample, so its first ``k`` ids are a uniform
    ``k``-sample for every ``k``. Large ``n``: rows drawn with replacement and the rows
    holding a repeat redrawn until none is left (repeats are rare when ``max_card << n``).
    Small ``n``: the ``max_card`` smallest of ``n - 1`` uniforms, in increasing order.
    """
    rng = np.random.default_rng(seed)
    pool = n - 1
    max_card = int(min(max_card, pool))
    if max_card <= 0 or permutations <= 0:
        return np.zeros((max(permutations, 0), 0), dtype=np.int64)
    if pool * permutations <= 4_000_000 or max_card * 8 > pool:
        u = rng.random((permutations, pool))
        if max_card == pool:
            return np.argsort(u, axis=1).astype(np.int64)
        sel = np.argpartition(u, max_card - 1, axis=1)[:, :max_card]
        within = np.argsort(np.take_along_axis(u, sel, axis=1), axis=1)
        return np.take_along_axis(sel, within, axis=1).astype(np.int64)
    ids = rng.integers(0, pool, size=(permutations, max_card), dtype=np.int64)
    while True:
        s = np.sort(ids, axis=1)
        bad = np.flatnonzero((s[:, 1:] == s[:, :-1]).any(axis=1))
        if not len(bad):
            return ids
        ids[bad] = rng.integers(0, pool, size=(len(bad), max_card), dtype=np.int64)


@dataclass
class _Draws:
    """The permuted lags of every site: per-cardinality sums plus the self-draw corrections.

    ``T[i, p] = c[i] + lag`` where ``lag = w[i] * (S[p, k_i] + d[i] * self_drawn)`` for
    uniform rows and ``lag = sum_m w_im V[p, m] + w_i,slot * d[i] * self_drawn`` otherwise;
    ``d[i] = x[n-1] - x[i]`` replaces the value of site ``i`` by that of site ``n - 1`` in the
    one slot where ``i`` drew itself.
    """

    values: np.ndarray  # (n,) the permuted variable
    c: np.ndarray  # (n,) self weight * own value (not permuted)
    card: np.ndarray  # (n,) off-diagonal cardinality
    indptr: np.ndarray  # off-diagonal CSR
    data: np.ndarray
    uniform: np.ndarray  # (n,) all off-diagonal weights equal (islands too)
    w: np.ndarray  # (n,) the common weight of a uniform row (0 for islands)
    V: np.ndarray  # (R, K) permuted values
    S: np.ndarray  # (R, K + 1) S[:, k] = sum of the first k permuted values
    d: np.ndarray  # (n,)
    site: np.ndarray  # (E,) corrections: site drew itself ...
    perm: np.ndarray  # (E,) ... in this permutation ...
    slot: np.ndarray  # (E,) ... at this slot
    t_obs: np.ndarray  # (n,) observed T

    @property
    def R(self) -> int:
        return self.V.shape[0]

    @classmethod
    def build(cls, values: np.ndarray, m: sp.csr_matrix, permutations: int, seed) -> "_Draws":
        n = m.shape[0]
        rows = np.repeat(np.arange(n), np.diff(m.indptr))
        diag = m.indices == rows
        self_w = np.zeros(n)
        self_w[rows[diag]] = m.data[diag]
        keep = ~diag & (m.data != 0)
        orow, data = rows[keep], m.data[keep]
        card = np.bincount(orow, minlength=n)
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(card, out=indptr[1:])
        first = np.zeros(n)
        has = card > 0
        first[has] = data[indptr[:-1][has]]
        uniform = np.bincount(orow, weights=(data != first[orow]), minlength=n) == 0
        w = np.where(uniform, first, 0.0)
        nbv = values[m.indices[keep]]
        lag_obs = np.where(uniform, w * np.bincount(orow, weights=nbv, minlength=n),
                           np.bincount(orow, weights=data * nbv, minlength=n))
        c = self_w * values
        K = int(card.max()) if n else 0
        ids = permuted_ids(n, K, permutations, seed)
        V = values[ids]
        S = np.zeros((ids.shape[0], ids.shape[1] + 1))
        np.cumsum(V, axis=1, out=S[:, 1:])
        R, K = ids.shape
        site = ids.ravel()
        slot = np.tile(np.arange(K), R)
        hit = slot < card[site]
        perm = np.repeat(np.arange(R), K)[hit]
        site, slot = site[hit], slot[hit]
        order = np.lexsort((perm, site))
        d = values[n - 1] - values if n else values
        return cls(values, c, card, indptr, data, uniform, w, V, S, d,
                   site[order], perm[order], slot[order], c + lag_obs)

    def corrections(self, rows: np.ndarray):
        """Corrections of ``rows``: local row index, permutation, slot and site of each."""
        local = np.full(len(self.card), -1)
        local[rows] = np.arange(len(rows))
        li = local[self.site]
        sel = li >= 0
        return li[sel], self.perm[sel], self.slot[sel], self.site[sel]

    def dense_T(self, rows: np.ndarray) -> np.ndarray:
        """``(len(rows), R)`` permuted ``T`` of ``rows``."""
        k = self.card[rows]
        uni = self.uniform[rows]
        li, p, slot, site = self.corrections(rows)
        base = self.S[:, k].T  # (b, R)
        cu = uni[li]
        base[li[cu], p[cu]] += self.d[site[cu]]
        lag = self.w[rows][:, None] * base
        nu = np.flatnonzero(~uni)
        if len(nu):
            kmax = int(k[nu].max())
            wpad = np.zeros((len(nu), kmax))
            cols = np.arange(kmax)
            mask = cols[None, :] < k[nu][:, None]
            wpad[mask] = self.data[(self.indptr[rows[nu]][:, None] + cols[None, :])[mask]]
            lag[nu] = wpad @ self.V[:, :kmax].T
            cn = ~cu
            lag[li[cn], p[cn]] += self.data[self.indptr[site[cn]] + slot[cn]] * self.d[site[cn]]
        return self.c[rows][:, None] + lag


def _dense(draws: _Draws, rows: np.ndarray, sign: np.ndarray, alternative: str, block_cells: int):
    """p-values, mean and sd of ``T`` for ``rows``, materialising ``T`` block by block."""
    p = np.empty(len(rows))
    mean = np.empty(len(rows))
    sd = np.empty(len(rows))
    step = max(1, block_cells // max(1, draws.R))
    for a in range(0, len(rows), step):
        r = rows[a:a + step]
        t = draws.dense_T(r)
        s = sign[a:a + step]
        p[a:a + step] = pseudo_p_values(s * draws.t_obs[r], s[:, None] * t, alternative)
        mean[a:a + step] = t.mean(axis=1)
        sd[a:a + step] = t.std(axis=1)
    return p, mean, sd


class _Ranked:
    """Counts and order statistics of ``U = sign * T`` for uniform rows, from sorted bases.

    Site ``i``'s multiset of ``U`` is its class base ``sign_i * (c_i + w_i * B_k)`` with the
    permutations where ``i`` drew itself removed and their corrected values added.
    """

    def __init__(self, draws: _Draws, rows: np.ndarray, sign: np.ndarray):
        R = self.R = draws.R
        k = draws.card[rows]
        classes, self.cls = np.unique(k, return_inverse=True)
        B = draws.S[:, classes].T  # (n_classes, R)
        order = np.argsort(B, axis=1, kind="stable")
        Bs = np.take_along_axis(B, order, axis=1)
        # ascending copies then descending copies: U is ascending along a site's row
        self.Bflat = np.concatenate([Bs, Bs[:, ::-1]]).ravel()
        rank = np.empty_like(order)
        rank[np.arange(len(classes))[:, None], order] = np.arange(R)[None, :]
        self.c, self.w, self.s = draws.c[rows], draws.w[rows], sign
        self.desc = sign < 0
        self.offset = (self.cls + self.desc * len(classes)) * R
        ns = len(rows)
        # base moments of T per site
        mb = B.mean(axis=1)
        ssb = ((B - mb[:, None]) ** 2).sum(axis=1)
        mean_base = self.c + self.w * mb[self.cls]
        ss = self.w ** 2 * ssb[self.cls]
        # corrections
        li, p, _, site = draws.corrections(rows)
        bp = B[self.cls[li], p]
        tb = self.c[li] + self.w[li] * bp
        tn = self.c[li] + self.w[li] * (bp + draws.d[site])
        delta = tn - tb
        sd_ = np.bincount(li, weights=delta, minlength=ns)
        sq = np.bincount(li, weights=delta * delta + 2.0 * (tb - mean_base[li]) * delta, minlength=ns)
        dm = sd_ / R
        self.mean = mean_base + dm
        self.sd = np.sqrt(np.maximum(ss + sq - R * dm * dm, 0.0) / R)
        # padded per-site corrections in U space
        self.e = np.bincount(li, minlength=ns)
        E = int(self.e.max()) if ns else 0
        start = np.zeros(ns, dtype=np.int64)
        np.cumsum(self.e[:-1], out=start[1:])
        s = self.s[li]
        pos = rank[self.cls[li], p]
        pos = np.where(self.desc[li], R - 1 - pos, pos)
        self.Dval = np.full((ns, E), np.nan)
        self.Aval = np.full((ns, E), np.inf)
        self.g = np.full((ns, E), R + E + 1, dtype=np.int64)
        o = np.lexsort((s * tn, li))
        col = np.arange(len(li)) - start[li[o]]
        self.Aval[li[o], col] = (s * tn)[o]
        self.Dval[li[o], col] = (s * tb)[o]
        o = np.lexsort((pos, li))
        col = np.arange(len(li)) - start[li[o]]
        self.g[li[o], col] = pos[o] - col  # u-th kept position = u + #(g <= u)
        self.Avalid = np.isfinite(self.Aval) & (np.arange(E)[None, :] < self.e[:, None])

    def base(self, q: np.ndarray, at=slice(None)) -> np.ndarray:
        """``U`` at sorted base position ``q`` (ascending in ``q``) of the sites ``at``."""
        return self.s[at] * (self.c[at] + self.w[at] * self.Bflat[self.offset[at] + q])

    def _first(self, v: np.ndarray, strict: bool) -> np.ndarray:
        """Smallest base position whose ``U`` is ``> v`` (``strict``) or ``>= v``; ``R`` if none."""
        R = self.R
        lo = np.zeros(len(v), dtype=np.int64)
        hi = np.full(len(v), R, dtype=np.int64)
        for _ in range(int(R).bit_length() + 1):
            active = lo < hi
            if not active.any():
                break
            mid = (lo + hi) >> 1
            u = self.base(np.minimum(mid, R - 1))
            ok = (u > v) if strict else (u >= v)
            hi = np.where(active & ok, mid, hi)
            lo = np.where(active & ~ok, mid + 1, lo)
        return lo

    def count_le(self, v: np.ndarray) -> np.ndarray:
        vv = v[:, None]
        return self._first(v, True) - (self.Dval <= vv).sum(axis=1) + (self.Aval <= vv).sum(axis=1)

    def count_ge(self, v: np.ndarray) -> np.ndarray:
        vv = v[:, None]
        return (self.R - self._first(v, False) - (self.Dval >= vv).sum(axis=1)
                + ((self.Aval >= vv) & self.Avalid).sum(axis=1))

    def select(self, j: np.ndarray) -> np.ndarray:
        """The ``j``-th smallest ``U`` (0-based) of each site.

        ``min over t of max(X[j - t], A[t - 1])`` with ``X`` the kept base values and ``A``
        the corrected values, both ascending (out-of-range X: -inf below, +inf above).
        """
        R = self.R
        best = self.base(j)  # t = 0: nothing corrected comes first
        pos0 = j + (self.g <= j[:, None]).sum(axis=1)
        hit = self.e > 0
        best[hit] = self.base(np.minimum(pos0[hit], R - 1), hit)
        best[hit & (j >= R - self.e)] = np.inf
        for t in range(1, self.g.shape[1] + 1):
            at = np.flatnonzero(self.e >= t)  # A[t - 1] is +inf elsewhere
            u = j[at] - t
            pos = u + (self.g[at] <= u[:, None]).sum(axis=1)
            x = self.base(np.clip(pos, 0, R - 1), at)
            x = np.where(u < 0, -np.inf, np.where(u >= R - self.e[at], np.inf, x))
            best[at] = np.minimum(best[at], np.maximum(x, self.Aval[at, t - 1]))
        return best

    def p_values(self, u_obs: np.ndarray, alternative: str) -> np.ndarray:
        """As :func:`pseudo_p_values` on the materialised ``U`` (not ``"folded"``)."""
        R = self.R
        if alternative == "greater":
            m = self.count_ge(u_obs)
        elif alternative == "lesser":
            m = self.count_le(u_obs)
        elif alternative == "directed":
            m = self.count_ge(u_obs)
            m = np.where((R - m) < m, R - m, m)
        elif alternative == "two-sided":
            pct = (self.count_le(u_obs) / R) * 100.0
            p_low = np.minimum(pct, 100.0 - pct)

            def _percentile(q):
                pos = q / 100.0 * (R - 1)
                lo = np.floor(pos).astype(np.int64)
                hi = np.minimum(lo + 1, R - 1)
                frac = pos - lo
                a = self.select(lo)
                b = self.select(hi)
                return a + (b - a) * frac

            m = self.count_le(_percentile(p_low)) + self.count_ge(_percentile(100.0 - p_low))
        else:
            raise ValueError(f"the ranked evaluation has no {alternative!r} alternative")
        return (m + 1.0) / (R + 1.0)


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
    scale: np.ndarray | float,
    permutations: int = 999,
    seed: int | None = 0,
    alternative: str = "two-sided",
    keep: bool = False,
    evaluation: str = "auto",
    block_cells: int = BLOCK_CELLS,
) -> PermutationResult:
    """Conditional randomisation inference for a local statistic linear in the spatial lag.

    The statistic of site ``i`` is ``scale_i * (w_ii values_i + sum_j w_ij values_j)``; its
    simulated values permute ``values_j`` over the neighbours of ``i`` (see the module
    docstring).

    Parameters
    ----------
    values : (n,) the variable whose values are permuted (raw ``x`` for Gi*, standardised
        ``z`` for local Moran).
    weights : :class:`geo.stats.weights.SpatialWeights` or sparse matrix; its diagonal (self
        weight) is held fixed, the off-diagonal part is permuted.
    scale : (n,) or scalar factor of each site's statistic.
    permutations, seed : number of permutations (esda default 999) and RNG seed.
    alternative : one of :data:`ALTERNATIVES`, see :func:`pseudo_p_values`.
    keep : return the ``(n, R)`` simulated statistics.
    evaluation : ``"auto"`` (ranked where it applies) or ``"dense"`` (every site
        materialised; same results, slower: for checking).
    """
    if alternative not in ALTERNATIVES:
        raise ValueError(f"unknown alternative {alternative!r}")
    if evaluation not in ("auto", "dense"):
        raise ValueError(f"unknown evaluation {evaluation!r}")
    m = weights.sparse if hasattr(weights, "sparse") else weights
    m = sp.csr_matrix(m, dtype=float, copy=True)
    m.sum_duplicates()
    values = np.asarray(values, dtype=float).ravel()
    n = m.shape[0]
    scale = np.broadcast_to(np.asarray(scale, dtype=float), (n,))
    draws = _Draws.build(values, m, permutations, seed)
    R = draws.R
    sign = np.sign(scale)
    p = np.full(n, np.nan)
    mean = np.zeros(n)
    sd = np.zeros(n)
    if R:
        ranked = draws.uniform.copy() if evaluation == "auto" and alternative != "folded" else np.zeros(n, bool)
        ranked &= np.bincount(draws.site, minlength=n) <= MAX_RANKED_CORRECTIONS
        rows = np.flatnonzero(ranked)
        if len(rows):
            rk = _Ranked(draws, rows, sign[rows])
            p[rows] = rk.p_values(sign[rows] * draws.t_obs[rows], alternative)
            mean[rows], sd[rows] = rk.mean, rk.sd
        rows = np.flatnonzero(~ranked)
        if len(rows):
            p[rows], mean[rows], sd[rows] = _dense(draws, rows, sign[rows], alternative, block_cells)
    sims = None
    if keep:
        sims = np.empty((n, R))
        step = max(1, block_cells // max(1, R))
        for a in range(0, n, step):
            r = np.arange(a, min(n, a + step))
            sims[r] = scale[r][:, None] * draws.dense_T(r)
    ei = scale * mean
    se = np.abs(scale) * sd
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (scale * draws.t_obs - ei) / se
    return PermutationResult(p, ei, se, z, sims)

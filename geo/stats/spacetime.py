"""Space-time patterns: monthly series per area, Mann-Kendall trends, emerging hot spots, Knox.

* **Monthly series**: episodes (distinct episode_key) per area and calendar month (UTC) from
  ``place_events`` (found-at and RHI places by default); every month of the period is present
  (zeros included).
* **Mann-Kendall trend** (Mann 1945; Kendall 1975): ``S = sum_{i<j} sign(x_j - x_i)``,
  variance with the tie correction ``(n(n-1)(2n+5) - sum t(t-1)(2t+5)) / 18``, continuity-
  corrected normal z, two-sided p, and Kendall's ``tau = S / (n(n-1)/2)`` (tau-a).
* **Emerging hot spot categories** (ArcGIS Pro "Emerging Hot Spot Analysis", "How Emerging
  Hot Spot Analysis works"): space-time Gi* per area and complete month (neighbours in space
  and the previous month, each month against its own city-wide mean; normal p; BH FDR across
  areas within each month, 90 % confidence as ArcGIS; rates where a population exists), then
  per area, with ``T`` time steps:
  new (only the final step hot, never before), consecutive (a single uninterrupted run of hot
  steps ending at the final step, fewer than 90 % of steps hot, never hot before the run),
  intensifying (hot in >= 90 % of steps including the final one, intensity of the
  clustering (Gi* z) increasing: Mann-Kendall trend up at 95 %), persistent (>= 90 % hot, no
  trend), diminishing (>= 90 % hot including the final one, trend down), sporadic (on-again
  off-again, final step hot, < 90 % hot, never cold), oscillating (final step hot, some
  earlier step cold, < 90 % hot), historical (final step not hot, >= 90 % of steps hot).
  The cold categories mirror these with a ``cold_`` prefix; otherwise ``no_pattern``.
* **Knox test** (Knox 1964, "The detection of space-time interactions", Applied
  Statistics 13): ``X`` = number of pairs of found-at events within ``space_m`` metres and
  ``time_days`` days; Monte Carlo p-value ``(1 + #{X_sim >= X}) / (1 + R)`` with event times
  permuted over locations (``R`` seeded permutations; Mantel 1967). The space-close pairs are
  found once and kept as index arrays; above :data:`KNOX_MAX_EVENTS` events or
  :data:`KNOX_MAX_PAIRS` space-close pairs a seeded random subsample of events is tested
  (stated in the result), so the cost is bounded at any scale (see :func:`knox_test`).

Coordinates EPSG:27700 metres; times UTC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import cKDTree

from geo.stats.hotspots import DEFAULT_KINDS, assign_areas, filter_events
from geo.stats.replicates import replicates
from geo.stats.weights import SpatialWeights

__all__ = ["monthly_series", "mann_kendall", "area_trends", "emerging_hotspots", "knox_test", "near_repeat",
           "complete_months", "space_time_gi"]


def monthly_series(place_events, areas, kinds=DEFAULT_KINDS, start=None, end=None, level=None) -> pd.DataFrame:
    """Long frame ``area_code, month (YYYY-MM), episodes`` for every area x month of the period."""
    ev = filter_events(place_events, kinds, start, end)
    codes = assign_areas(ev, areas, level)
    at = pd.to_datetime(ev["at"], utc=True)
    df = pd.DataFrame({"area_code": codes.to_numpy(), "month": at.dt.strftime("%Y-%m").to_numpy(),
                       "ep": ev["episode_key"].astype(str).to_numpy() if "episode_key" in ev else np.arange(len(ev))})
    df = df.dropna(subset=["area_code", "month"])
    lo = pd.Timestamp(start).strftime("%Y-%m") if start is not None else (df["month"].min() if len(df) else None)
    hi = (pd.Timestamp(end) - pd.Timedelta(seconds=1)).strftime("%Y-%m") if end is not None else (df["month"].max() if len(df) else None)
    if lo is None:
        return pd.DataFrame(columns=["area_code", "month", "episodes"])
    months = pd.period_range(lo, hi, freq="M").strftime("%Y-%m")
    counts = df.groupby(["area_code", "month"])["ep"].nunique()
    idx = pd.MultiIndex.from_product([areas["area_code"].to_numpy(), months], names=["area_code", "month"])
    return counts.reindex(idx, fill_value=0).rename("episodes").reset_index()


def mann_kendall(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann-Kendall test on each row of ``x`` (m, T): returns ``(tau, z, p)`` (two-sided)."""
    x = np.atleast_2d(np.asarray(x, dtype=float))
    m, T = x.shape
    if T < 3:
        return np.zeros(m), np.zeros(m), np.ones(m)
    i, j = np.triu_indices(T, k=1)
    S = np.sign(x[:, j] - x[:, i]).sum(axis=1)
    # ties: sum over groups of equal values t(t-1)(2t+5)
    xs = np.sort(x, axis=1)
    new = np.ones((m, T), dtype=bool)
    new[:, 1:] = xs[:, 1:] != xs[:, :-1]
    gid = np.cumsum(new, axis=1) - 1
    t = np.zeros((m, T))
    np.add.at(t, (np.repeat(np.arange(m), T), gid.ravel()), 1.0)
    tie = (t * (t - 1) * (2 * t + 5)).sum(axis=1)
    var = (T * (T - 1) * (2 * T + 5) - tie) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(S > 0, (S - 1) / np.sqrt(var), np.where(S < 0, (S + 1) / np.sqrt(var), 0.0))
    z = np.nan_to_num(z)
    p = 2 * stats.norm.sf(np.abs(z))
    tau = S / (T * (T - 1) / 2.0)
    return tau, z, p


def area_trends(series: pd.DataFrame) -> pd.DataFrame:
    """Add ``mk_tau, mk_p`` (per area) to a :func:`monthly_series` frame."""
    wide = series.pivot(index="area_code", columns="month", values="episodes").fillna(0)
    tau, _, p = mann_kendall(wide.to_numpy())
    res = pd.DataFrame({"area_code": wide.index, "mk_tau": tau, "mk_p": p})
    return series.merge(res, on="area_code", how="left")


def _classify(hot: np.ndarray, cold: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray, prefix: str) -> np.ndarray:
    """ArcGIS emerging hot spot category for boolean (m, T) ``hot`` series."""
    m, T = hot.shape
    frac = hot.mean(axis=1)
    final = hot[:, -1]
    any_before = hot[:, :-1].any(axis=1)
    # length of the run of hot steps ending at the final step
    rev = hot[:, ::-1]
    run = np.where(rev.all(axis=1), T, np.argmin(rev, axis=1))
    prefix_any = np.maximum.accumulate(hot, axis=1)
    pos = np.clip(T - run - 1, 0, T - 1)
    hot_before_run = np.where(T - run - 1 >= 0, np.take_along_axis(prefix_any, pos[:, None], 1)[:, 0], False)
    cold_ever = cold.any(axis=1)
    up = (trend_p < 0.05) & (trend_z > 0)
    down = (trend_p < 0.05) & (trend_z < 0)
    if prefix == "cold_":
        up, down = down, up
    cat = np.full(m, "", dtype=object)
    ninety = frac >= 0.9
    cat = np.where(final & ~any_before, "new", cat)
    cat = np.where((cat == "") & final & (run >= 2) & ~hot_before_run & ~ninety, "consecutive", cat)
    cat = np.where((cat == "") & final & ninety & up, "intensifying", cat)
    cat = np.where((cat == "") & final & ninety & down, "diminishing", cat)
    cat = np.where((cat == "") & final & ninety, "persistent", cat)
    cat = np.where((cat == "") & final & ~ninety & cold_ever, "oscillating", cat)
    cat = np.where((cat == "") & final & ~ninety, "sporadic", cat)
    cat = np.where((cat == "") & ~final & ninety, "historical", cat)
    return np.where(cat == "", "", np.char.add(prefix, cat.astype(str))).astype(object)


def complete_months(series: pd.DataFrame, start=None, end=None, last_at=None) -> pd.DataFrame:
    """Drop the months of a :func:`monthly_series` frame the period does not cover whole.

    The final month is kept only when the period reaches its end (``end`` at or after the next
    month's start; without ``end``, the last event ``last_at`` on the month's last day); the first
    month only when ``start`` is unset or on the 1st at midnight. A partial month holds fewer
    episodes by construction and would read as a fall (Mann-Kendall) or a cold spot.
    """
    if not len(series):
        return series
    months = sorted(series["month"].unique())
    drop = set()
    last = pd.Period(months[-1], freq="M")
    if end is not None:
        e = pd.Timestamp(end).tz_localize(None) if pd.Timestamp(end).tzinfo else pd.Timestamp(end)
        if e < (last + 1).start_time:
            drop.add(months[-1])
    elif last_at is not None:
        la = pd.Timestamp(last_at)
        la = la.tz_convert("UTC").tz_localize(None) if la.tzinfo else la
        if la.normalize() < last.end_time.normalize():
            drop.add(months[-1])
    if start is not None:
        s0 = pd.Timestamp(start).tz_localize(None) if pd.Timestamp(start).tzinfo else pd.Timestamp(start)
        if s0 > pd.Period(months[0], freq="M").start_time:
            drop.add(months[0])
    return series[~series["month"].isin(drop)].reset_index(drop=True)


def space_time_gi(X: np.ndarray, weights: SpatialWeights, time_steps: int = 1) -> np.ndarray:
    """Getis-Ord Gi* z of every bin of a space-time cube ``X`` (areas x time steps).

    The neighbourhood of bin ``(i, t)`` is area ``i`` and its spatial neighbours (binary
    weights, self included) at steps ``t - time_steps .. t``, as in ArcGIS Pro's "Emerging Hot
    Spot Analysis" (neighborhood time step). Expectation and variance are taken within each
    time step and summed over the steps in the neighbourhood (the steps are independent under
    the null): ``E = sum_s xbar_s w_i``, ``Var = sum_s s_s^2 (m w_i - w_i^2) / (m - 1)``, so with
    ``time_steps=0`` this is the ordinary Gi* of each step. ArcGIS instead uses the mean and
    variance of the whole cube, which makes a city-wide busy month a "new hot spot" in every
    busy ward (7 of 40 wards in a null city drop whose last month was 13 % above the average);
    a hot spot here is an area high against the rest of the city at the same time.
    """
    X = np.asarray(X, float)
    m, T = X.shape
    A = weights.transformed("b").sparse.tocsr().astype(float)
    A = (A != 0).astype(float)
    A.setdiag(1.0)
    AX = np.asarray(A @ X)
    deg = np.asarray(A.sum(axis=1)).ravel()
    xbar = X.mean(axis=0)
    var = X.var(axis=0)
    t = np.arange(T)
    lo = np.maximum(0, t - time_steps)
    cum = lambda v: np.concatenate([np.zeros(v.shape[:-1] + (1,)), np.cumsum(v, axis=-1)], axis=-1)
    S = cum(AX)[:, t + 1] - cum(AX)[:, lo]
    E = deg[:, None] * (cum(xbar)[t + 1] - cum(xbar)[lo])[None, :]
    V = ((m * deg - deg ** 2) / max(m - 1, 1))[:, None] * (cum(var)[t + 1] - cum(var)[lo])[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(V > 0, (S - E) / np.sqrt(V), 0.0)
    return z


def emerging_hotspots(series: pd.DataFrame, weights: SpatialWeights, confidence: float = 0.90,
                      population=None, time_steps: int = 1, per: str = "children") -> pd.DataFrame:
    """ArcGIS-style emerging hot spot category per area from a :func:`monthly_series` frame.

    Method (ArcGIS Pro, "How Emerging Hot Spot Analysis works"): the space-time Gi* of every
    area x month bin (:func:`space_time_gi`: spatial neighbours and the previous ``time_steps``
    months); normal p of the z-score; Benjamini-Hochberg false discovery rate across the areas
    within each month (ArcGIS's FDR correction), a bin hot (cold) when ``q < 1 - confidence``
    and z > 0 (< 0); then the categories of :func:`_classify` with the Mann-Kendall trend of
    the z series. Values are rates per 1,000 ``per`` (children) when ``population`` (Series or
    frame by area_code) gives every area a positive count, otherwise episode counts (``basis``
    says which): without an exposure, an area with twice the homes has twice the episodes every
    month and reads as a persistent hot spot. Pass complete months only (:func:`complete_months`).

    ``weights`` must be aligned with the areas in ``series`` (``weights.ids`` = area codes).
    Returns ``area_code, category, hot_months, cold_months, trend_z, trend_p, months, basis``.
    """
    from geo.stats.permutation import bh_qvalues

    wide = series.pivot(index="area_code", columns="month", values="episodes").fillna(0)
    wide = wide.reindex(weights.ids).fillna(0)
    X = wide.to_numpy(float)
    m, T = X.shape
    basis = "episodes"
    if population is not None:
        if isinstance(population, pd.DataFrame):
            col = [c for c in population.columns if c != "area_code"][0]
            population = population.set_index("area_code")[col]
        pop = pd.Series(population).reindex(wide.index).astype(float).to_numpy()
        if len(pop) and np.all(np.isfinite(pop) & (pop > 0)):
            X = X / pop[:, None] * 1000.0
            basis = f"rate per 1,000 {per}"
        else:
            basis = f"episodes (population missing or zero for {int((~(np.isfinite(pop) & (pop > 0))).sum())} areas)"
    Z = space_time_gi(X, weights, time_steps) if T else np.zeros((m, 0))
    p = 2 * stats.norm.sf(np.abs(Z))
    q = np.ones_like(p)
    for t in range(T):
        q[:, t] = bh_qvalues(p[:, t])
    sig = q < (1 - confidence)
    hot, cold = sig & (Z > 0), sig & (Z < 0)
    _, tz, tp = mann_kendall(Z) if T else (None, np.zeros(m), np.ones(m))
    cat_hot = _classify(hot, cold, tz, tp, "")
    cat_cold = _classify(cold, hot, tz, tp, "cold_")
    cat = np.where(cat_hot != "", cat_hot, np.where(cat_cold != "", cat_cold, "no_pattern"))
    return pd.DataFrame({"area_code": wide.index, "category": cat, "hot_months": hot.sum(1),
                         "cold_months": cold.sum(1), "trend_z": tz, "trend_p": tp, "months": T,
                         "basis": basis})


def _person_codes(ev: pd.DataFrame, use: np.ndarray) -> np.ndarray:
    """Integer child codes of the events ``use``; an event without a person is its own child."""
    if "person_id" not in ev:
        return np.arange(len(use))
    p = ev["person_id"].astype("string").to_numpy()[use]
    codes = pd.factorize(p)[0]
    none = codes < 0
    codes[none] = codes.max(initial=-1) + 1 + np.arange(none.sum())
    return codes


def _timeline_shuffler(pid: np.ndarray, t: np.ndarray, rng: np.random.Generator):
    """A function returning ``t`` with whole time-lines swapped between children of equal
    event counts (seeded by ``rng``); with one event per child it is a plain permutation."""
    order = np.lexsort((t, pid))
    ps = pid[order]
    first = np.r_[True, ps[1:] != ps[:-1]]
    starts = np.flatnonzero(first)
    sizes = np.diff(np.r_[starts, len(ps)])
    strata = []
    for k in np.unique(sizes):
        rows = starts[sizes == k]
        if len(rows) > 1:
            strata.append(order[rows[:, None] + np.arange(k)[None, :]])   # (children, k)

    # each stratum's time-lines gathered once: a draw permutes their rows (t[m[p]] == t[m][p])
    lines = [t[m] for m in strata]

    def shuffle() -> np.ndarray:
        out = t.copy()
        for m, tm in zip(strata, lines):
            out[m] = tm[rng.permutation(len(m))]
        return out
    return shuffle


def _close_in_time_pairs(t: np.ndarray, window: int, pid: np.ndarray | None) -> int:
    """Pairs of events within ``window`` seconds, less the pairs of one child's own events."""
    n = len(t)
    ds = np.sort(t)
    total = int((np.searchsorted(ds, ds + window, side="right") - np.arange(n) - 1).sum())
    if pid is None or n == 0:
        return total
    span = int(t.max() - t.min()) + 2 * window + 1
    key = np.sort(pid.astype(np.int64) * span + (t - t.min()))
    same = int((np.searchsorted(key, key + window, side="right") - np.arange(n) - 1).sum())
    return total - same


#: Knox test caps (see :func:`knox_test`): events drawn at random above this many ...
KNOX_MAX_EVENTS = 20_000
#: ... and events thinned further until at most this many pairs are close in space.
KNOX_MAX_PAIRS = 1_000_000
#: geocode precisions left out of the Knox test (area centroids are not places)
KNOX_EXCLUDE_PRECISION = ("area", "none")


class _PairWindows:
    """Pairs of events close in time, for many labellings of the event times at once.

    The pairs ``(i, j)`` never change (a permutation only relabels the times), so they are
    grouped once by segment (a distance band; Knox has one), sorted by ``i`` then ``j`` within
    it, and cut into chunks of :data:`CHUNK` pairs. :meth:`counts` returns, for a stack of
    labellings ``T`` (k, n), ``#{pairs of segment s with |T[r, i] - T[r, j]| < edges[e]}`` per
    ``r, s, e``. The labellings are counted :data:`LANES` at a time, side by side in the rows of
    an ``(n, LANES)`` table, so each pair's event indices are read once per ``LANES`` labellings:
    the ``j`` ends are gathered as whole rows, the ``i`` ends (runs of one event, the pairs being
    sorted by ``i``) repeated row by row, and the comparisons with each edge summed per lane in
    byte lanes of uint64 words (255 rows at a time, so no lane overflows). Times in int32 where
    they and the edges fit (the difference of two non-negative int32 values cannot overflow),
    int64 otherwise; every count is exact."""

    CHUNK = 255 * 32
    LANES = 8

    def __init__(self, i: np.ndarray, j: np.ndarray, seg: np.ndarray, n_seg: int, edges):
        i, j, seg = np.asarray(i, np.int64), np.asarray(j, np.int64), np.asarray(seg, np.int64)
        n = int(max(i.max(initial=0), j.max(initial=0))) + 1
        key = np.sort((seg * n + i) * n + j)       # distinct pairs: one order, whatever the sort
        seg, i = np.divmod(key // n, n)
        self.j = (key % n).astype(np.intp)
        bounds = np.searchsorted(seg, np.arange(n_seg + 1))
        self.n_seg, self.edges = n_seg, [int(e) for e in edges]
        self.live = [e for e, edge in enumerate(self.edges) if edge > 0]     # |dt| < 0 never holds
        self.chunks = []                        # (segment, lo, hi, run events, run lengths)
        for s in range(n_seg):
            for lo in range(bounds[s], bounds[s + 1], self.CHUNK):
                hi = min(lo + self.CHUNK, bounds[s + 1])
                ii = i[lo:hi]
                first = np.flatnonzero(np.r_[True, ii[1:] != ii[:-1]])
                self.chunks.append((s, lo, hi, ii[first].astype(np.intp), np.diff(np.r_[first, hi - lo])))

    @staticmethod
    def _lane_sums(m: np.ndarray) -> np.ndarray:
        """Sums over the rows of a bool array ``m`` (edges, rows, LANES), each row C-contiguous:
        eight bools per uint64, summed 255 rows at a time (no byte lane carries), then the bytes
        summed. Returns (edges, LANES) int64."""
        E, rows, L = m.shape
        full = rows - rows % 255
        words = m[:, :full].view(np.uint64).reshape(E, full // 255, 255, L // 8).sum(axis=2)
        out = words.view(np.uint8).reshape(E, -1, L).sum(axis=1, dtype=np.int64)
        if full < rows:
            out += m[:, full:].sum(axis=1, dtype=np.int64)
        return out

    def counts(self, T: np.ndarray) -> np.ndarray:
        """``(k, n_seg, len(edges))`` int64 counts of pairs with ``|dt| < edge`` for the
        labellings (rows) of ``T``."""
        T = np.atleast_2d(T)
        k, n = T.shape
        L = self.LANES
        small = T.size and T.min() >= 0 and max(int(T.max()), *self.edges) < np.iinfo(np.int32).max
        dtype = np.int32 if small else np.int64
        out = np.zeros((k, self.n_seg, len(self.edges)), np.int64)
        size = min(self.CHUNK, max(len(self.j), 1))
        b_buf, m_buf = np.empty((size, L), dtype), np.empty((len(self.live), size, L), bool)
        for g in range(0, k, L):
            lanes = min(L, k - g)
            TT = np.zeros((n, L), dtype)          # unused lanes stay 0 and are dropped
            TT[:, :lanes] = T[g:g + lanes].T
            acc = np.zeros((self.n_seg, len(self.edges), L), np.int64)
            for s, lo, hi, ui, runs in self.chunks:
                b, m = b_buf[:hi - lo], m_buf[:, :hi - lo]
                np.take(TT, self.j[lo:hi], axis=0, out=b)
                a = np.repeat(TT[ui], runs, axis=0)
                np.subtract(a, b, out=a)
                np.abs(a, out=a)
                for e, live in enumerate(self.live):
                    np.less(a, self.edges[live], out=m[e])
                acc[s, self.live] += self._lane_sums(m)
            out[g:g + lanes] = acc.transpose(2, 0, 1)[:lanes]
        return out


def knox_test(
    place_events: pd.DataFrame,
    space_m: float = 500.0,
    time_days: float = 14.0,
    permutations: int = 999,
    seed: int = 0,
    kinds=("found_at",),
    start=None,
    end=None,
    exclude_precision=KNOX_EXCLUDE_PRECISION,
    max_events: int | None = KNOX_MAX_EVENTS,
    max_pairs: int | None = KNOX_MAX_PAIRS,
    distinct_persons: bool = True,
    permute: str = "child",
) -> dict:
    """Knox space-time interaction test with a Monte Carlo p-value (child time-lines permuted).

    Method: Knox (1964), "The detection of space-time interactions", Applied Statistics
    13(1): ``X`` = number of pairs of events closer than ``space_m`` metres (Euclidean,
    EPSG:27700) *and* ``time_days`` days. Inference by Monte Carlo permutation of the event
    times over the event locations (Mantel 1967, "The detection of disease clustering and a
    generalized regression approach", Cancer Research 27(2); Besag & Diggle 1977): the set
    of space-close pairs is fixed by the locations, so it is found once (a KD-tree,
    ``cKDTree.query_pairs``) and kept as index arrays (:class:`_PairWindows`); the
    ``permutations`` seeded permutations of the times, drawn in order from the one stream,
    are then counted eight at a time in one pass over those pairs (gather both times,
    compare the difference with the window), never a materialised all-pairs array and never
    a re-sort. ``p = (1 + #{X_sim >= X}) / (1 + R)``; ``expected`` is the mean
    of the permutation distribution.

    Events: place events of ``kinds`` (found-at by default) in the period, with coordinates
    and a time, excluding ``exclude_precision`` geocodes (area centroids: "somewhere in
    Aston" is not a place, and stacking every such text on a ward centroid would make
    thousands of spurious "close" pairs). Times are compared to the second.

    Scale (subsampling): the pairs close in space grow with the square of the events
    (25.8 million within 500 m for 80,000 found-at events in one city). Above ``max_events``
    eligible events a seeded simple random sample of ``max_events`` events is tested, and
    when that sample still has more than ``max_pairs`` space-close pairs it is thinned
    again (a seeded random subset of its events, in steps, until the pairs fit). A random
    subsample of events keeps the test valid (the null of exchangeable times holds in any
    subset chosen independently of the times) and estimates the same interaction; it only
    loses power, and tens of thousands of events and up to a million close pairs leave
    plenty. The cost is then bounded by ``permutations x max_pairs`` whatever the scale.
    ``None`` disables a cap. The output states ``n_events`` (eligible), ``n_used`` (tested),
    ``subsampled`` and both caps.

    Different children (``distinct_persons``, default on when ``person_id`` is given): pairs of
    one person's own events are not counted, in the observed statistic and in every
    permutation alike, so the test asks whether *different* children are found close together in
    space and time more than chance, not whether one child keeps returning to one place.

    Permutation scheme (``permute``): ``"child"`` (default) swaps whole time-lines between
    children with the same number of events (each child's events in time order take the times
    of another child's events in time order), so every child keeps its own pattern of repeats
    and gaps and only the link between children's places and their time-lines is broken;
    ``"event"`` permutes single event times (Mantel 1967), which also breaks each child's own
    pattern and, with repeat-missing children, gives too many small p-values (12 % of null
    replicates below 0.05 against 5.0 % for the child scheme, issue #13). Events without a
    ``person_id`` count as children with one event.

    Returns ``{"statistic", "expected", "ratio", "p_value", "n_events", "n_used",
    "subsampled", "max_events", "max_pairs", "close_in_space", "close_in_time", "space_m",
    "time_days", "permutations", "seed", "exclude_precision", "distinct_persons", "method"}``;
    ``statistic``, ``close_in_space`` (pairs within ``space_m``, of different persons) and ``close_in_time`` (pairs within
    ``time_days``) count pairs among the ``n_used`` events tested.
    """
    ev = filter_events(place_events, kinds, start, end).dropna(subset=["easting", "northing", "at"])
    if exclude_precision and "precision" in ev:
        ev = ev[~ev["precision"].astype("string").isin(list(exclude_precision)).fillna(False).to_numpy(bool)]
    n = len(ev)
    rng = np.random.default_rng(seed)
    if permute not in ("child", "event"):
        raise ValueError("permute must be 'child' or 'event'")
    base = {"space_m": float(space_m), "time_days": float(time_days), "permutations": int(permutations),
            "permute": permute,
            "seed": int(seed), "n_events": int(n),
            "max_events": None if max_events is None else int(max_events),
            "max_pairs": None if max_pairs is None else int(max_pairs),
            "exclude_precision": list(exclude_precision or ()),
            "distinct_persons": bool(distinct_persons and "person_id" in ev),
            "method": ("Knox (1964) space-time interaction between different children; Monte Carlo "
                       f"p-value from seeded permutations of {'whole child time-lines between children with equal event counts' if permute == 'child' else 'event times over locations (Mantel 1967)'}; "
                       "space-close pairs from a KD-tree, "
                       "kept once; a seeded random subsample of events above max_events events or "
                       "max_pairs space-close pairs")}
    xy = ev[["easting", "northing"]].to_numpy(float)
    at = pd.to_datetime(ev["at"], utc=True)
    use = np.arange(n)
    if max_events is not None and n > max_events:
        use = np.sort(rng.choice(n, int(max_events), replace=False))
    pairs = (cKDTree(xy[use]).query_pairs(r=float(space_m), output_type="ndarray")
             if len(use) >= 2 else np.empty((0, 2), np.int64))
    while max_pairs is not None and len(pairs) > max_pairs:
        # pairs scale with the square of the events kept: keep a fraction sqrt(budget/pairs)
        keep_n = max(2, int(len(use) * np.sqrt(max_pairs / len(pairs)) * 0.99))
        keep = np.zeros(len(use), bool)
        keep[rng.choice(len(use), keep_n, replace=False)] = True
        pairs = pairs[keep[pairs[:, 0]] & keep[pairs[:, 1]]]
        new_pos = np.cumsum(keep) - 1
        pairs = new_pos[pairs]
        use = use[keep]
    pid = _person_codes(ev, use)
    if distinct_persons and "person_id" in ev:
        # interaction between different children: one child found at home again and again is
        # not space-time interaction, so pairs of one person's own events are not counted
        pairs = pairs[pid[pairs[:, 0]] != pid[pairs[:, 1]]]
    n_used = len(use)
    base.update(n_used=int(n_used), subsampled=bool(n_used < n))
    if n_used < 3:
        return {**base, "statistic": 0, "expected": 0.0, "ratio": None, "p_value": 1.0,
                "close_in_space": 0, "close_in_time": 0}
    # times in whole seconds from the earliest event (int64: exact differences)
    secs = (at - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy()[use]
    t = np.round(secs - secs.min()).astype(np.int64)
    window = int(round(float(time_days) * 86400))
    close = _PairWindows(pairs[:, 0], pairs[:, 1], np.zeros(len(pairs), np.intp), 1, [window + 1])  # |dt| <= window
    n_close = len(pairs)
    del pairs
    obs = int(close.counts(t)[0, 0, 0])
    sims = np.empty(permutations, dtype=np.int64)
    shuffle = _timeline_shuffler(pid if permute == "child" else np.arange(n_used), t, rng)
    for r in range(0, permutations, close.LANES):   # drawn in order from the one stream, counted LANES at a time
        T = np.stack([shuffle() for _ in range(min(close.LANES, permutations - r))])
        sims[r:r + len(T)] = close.counts(T)[:, 0, 0]
    close_t = _close_in_time_pairs(t, window, pid if base["distinct_persons"] else None)
    exp = float(sims.mean()) if permutations else float("nan")
    return {**base, "statistic": int(obs), "expected": exp, "ratio": (obs / exp) if exp else None,
            "p_value": float((1 + (sims >= obs).sum()) / (1 + permutations)),
            "close_in_space": int(n_close), "close_in_time": close_t}


class _BandCounts:
    """Pairs per (distance band, time band) for any labelling of the event times: per distance
    band and time edge ``e``, ``#{pairs with |t_i - t_j| < e}`` (:class:`_PairWindows`, which
    counts a stack of labellings at once); a band's count is the difference of its two edges'
    counts."""

    def __init__(self, i: np.ndarray, j: np.ndarray, sband: np.ndarray, nS: int, edges_s: np.ndarray):
        self.pairs = _PairWindows(i, j, sband, nS, edges_s)

    def many(self, T: np.ndarray) -> list[np.ndarray]:
        """The table of each labelling (row) of ``T``."""
        below = self.pairs.counts(T)                                          # pairs with |dt| < edge
        return list(np.diff(below, axis=2).reshape(len(below), -1))          # band (a, b): [edge b, edge b+1)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        return self.many(np.asarray(t)[None])[0]


#: near-repeat bands (Ratcliffe's calculator): distance edges in metres, time edges in days
NEAR_REPEAT_SPACE_M = (0.0, 250.0, 500.0, 1000.0, 2000.0)
NEAR_REPEAT_DAYS = (0.0, 7.0, 14.0, 28.0, 56.0)


def near_repeat(
    place_events: pd.DataFrame,
    space_edges=NEAR_REPEAT_SPACE_M,
    time_edges=NEAR_REPEAT_DAYS,
    permutations: int = 999,
    seed: int = 0,
    kinds=("found_at",),
    start=None,
    end=None,
    exclude_precision=KNOX_EXCLUDE_PRECISION,
    max_events: int | None = KNOX_MAX_EVENTS,
    max_pairs: int | None = 4 * KNOX_MAX_PAIRS,
    workers: int | None = None,
) -> pd.DataFrame:
    """Near-repeat table: Knox counts over several space and time bands, each with its p-value.

    Method: the near-repeat calculator (Ratcliffe 2009, Near Repeat Calculator v1.3, Temple
    University; Townsley, Homel & Chaseling 2003): for every cell of distance band
    ``[space_edges[a], space_edges[a+1])`` metres x time band ``[time_edges[b],
    time_edges[b+1])`` days, ``observed`` = pairs of events of *different* children that fall
    in both bands; ``expected`` = the mean over ``permutations`` seeded Monte Carlo
    permutations that swap whole child time-lines between children with equal event counts
    (as :func:`knox_test`); ``ratio`` = observed / expected (Ratcliffe's Knox ratio);
    ``p_value`` = ``(1 + #{sim >= observed}) / (1 + R)`` (one-sided: more pairs than
    chance); ``q_value`` = Benjamini-Hochberg over every cell of the table. Events are chosen as
    in :func:`knox_test` (a seeded random subsample above ``max_events`` events, thinned further
    above ``max_pairs`` pairs within the largest distance). ``workers``: processes counting the
    permuted tables (``None``: the cores available; the same table for any number,
    :func:`geo.stats.replicates.replicates`).
    """
    from geo.stats.permutation import bh_qvalues

    se = np.asarray(space_edges, float)
    te = np.asarray(time_edges, float)
    if len(se) < 2 or len(te) < 2 or np.any(np.diff(se) <= 0) or np.any(np.diff(te) <= 0) or se[0] < 0 or te[0] < 0:
        raise ValueError("near_repeat: band edges must be increasing, non-negative, at least two each")
    cols = ["space_from_m", "space_to_m", "days_from", "days_to", "observed", "expected", "ratio",
            "p_value", "q_value"]
    ev = filter_events(place_events, kinds, start, end).dropna(subset=["easting", "northing", "at"])
    if exclude_precision and "precision" in ev:
        ev = ev[~ev["precision"].astype("string").isin(list(exclude_precision)).fillna(False).to_numpy(bool)]
    rng = np.random.default_rng(seed)
    n = len(ev)
    use = np.arange(n)
    if max_events is not None and n > max_events:
        use = np.sort(rng.choice(n, int(max_events), replace=False))
    xy = ev[["easting", "northing"]].to_numpy(float)
    pairs = (cKDTree(xy[use]).query_pairs(r=float(se[-1]), output_type="ndarray")
             if len(use) >= 2 else np.empty((0, 2), np.int64))
    while max_pairs is not None and len(pairs) > max_pairs:
        keep_n = max(2, int(len(use) * np.sqrt(max_pairs / len(pairs)) * 0.99))
        keep = np.zeros(len(use), bool)
        keep[rng.choice(len(use), keep_n, replace=False)] = True
        pairs = (np.cumsum(keep) - 1)[pairs[keep[pairs[:, 0]] & keep[pairs[:, 1]]]]
        use = use[keep]
    pid = _person_codes(ev, use)
    pairs = pairs[pid[pairs[:, 0]] != pid[pairs[:, 1]]]
    d = np.hypot(*(xy[use][pairs[:, 0]] - xy[use][pairs[:, 1]]).T)
    sband = np.searchsorted(se, d, side="right") - 1
    ok = (sband >= 0) & (d < se[-1])
    i, j, sband = pairs[ok, 0], pairs[ok, 1], sband[ok]
    secs = (pd.to_datetime(ev["at"], utc=True) - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy()[use]
    t = np.round(secs - (secs.min() if len(secs) else 0)).astype(np.int64)
    te_s = np.round(te * 86400).astype(np.int64)
    nS, nT = len(se) - 1, len(te) - 1

    table = _BandCounts(i, j, sband, nS, te_s)
    obs = table(t)
    shuffle = _timeline_shuffler(pid, t, rng)
    ge = np.zeros(nS * nT, np.int64)
    tot = np.zeros(nS * nT, float)
    # each permutation drawn here in order from the one stream; tables counted in `workers` processes
    small = len(t) and t.min() >= 0 and t.max() <= np.iinfo(np.int32).max      # permuted times keep their range
    for sim in replicates(shuffle, table, permutations, workers, send_as=np.int32 if small else None,
                          score_many=table.many):
        ge += sim >= obs
        tot += sim
    exp = tot / permutations if permutations else np.full(nS * nT, np.nan)
    p = (1 + ge) / (1 + permutations)
    a, b = np.divmod(np.arange(nS * nT), nT)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(exp > 0, obs / exp, np.nan)
    out = pd.DataFrame({"space_from_m": se[a], "space_to_m": se[a + 1], "days_from": te[b], "days_to": te[b + 1],
                        "observed": obs, "expected": exp, "ratio": ratio, "p_value": p,
                        "q_value": bh_qvalues(p)})
    out.attrs.update(n_events=int(n), n_used=int(len(use)), permutations=int(permutations), seed=int(seed))
    return out[cols]

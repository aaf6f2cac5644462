"""Space-time patterns: monthly series per area, Mann-Kendall trends, emerging hot spots, Knox.

* **Monthly series**: episodes (distinct episode_key) per area and calendar month (UTC) from
  ``place_events`` (found-at and RHI places by default); every month of the period is present
  (zeros included).
* **Mann-Kendall trend** (Mann 1945; Kendall 1975): ``S = sum_{i<j} sign(x_j - x_i)``,
  variance with the tie correction ``(n(n-1)(2n+5) - sum t(t-1)(2t+5)) / 18``, continuity-
  corrected normal z, two-sided p, and Kendall's ``tau = S / (n(n-1)/2)`` (tau-a).
* **Emerging hot spot categories** (ArcGIS Pro "Emerging Hot Spot Analysis", "How Emerging
  Hot Spot Analysis works"): Gi* per month on the area weights (:mod:`geo.getis_ord`, normal
  p of the z-score, 90 % confidence as ArcGIS), then per area, with ``T`` time steps:
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

from geo.getis_ord import gi_star
from geo.hotspots import DEFAULT_KINDS, assign_areas, filter_events
from geo.weights import SpatialWeights

__all__ = ["monthly_series", "mann_kendall", "area_trends", "emerging_hotspots", "knox_test"]


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


def emerging_hotspots(series: pd.DataFrame, weights: SpatialWeights, confidence: float = 0.90) -> pd.DataFrame:
    """ArcGIS-style emerging hot spot category per area from a :func:`monthly_series` frame.

    ``weights`` must be aligned with the areas in ``series`` (``weights.ids`` = area codes).
    Returns ``area_code, category, hot_months, cold_months, trend_z, trend_p, months``.
    """
    wide = series.pivot(index="area_code", columns="month", values="episodes").fillna(0)
    wide = wide.reindex(weights.ids).fillna(0)
    X = wide.to_numpy(float)
    m, T = X.shape
    Z = np.zeros((m, T))
    for t in range(T):  # one Gi* per time step (analytic z, as ArcGIS)
        if X[:, t].std() > 0:
            Z[:, t] = gi_star(X[:, t], weights.transformed("b"), permutations=0).z
    p = 2 * stats.norm.sf(np.abs(Z))
    sig = p < (1 - confidence)
    hot, cold = sig & (Z > 0), sig & (Z < 0)
    _, tz, tp = mann_kendall(Z)
    cat_hot = _classify(hot, cold, tz, tp, "")
    cat_cold = _classify(cold, hot, tz, tp, "cold_")
    cat = np.where(cat_hot != "", cat_hot, np.where(cat_cold != "", cat_cold, "no_pattern"))
    return pd.DataFrame({"area_code": wide.index, "category": cat, "hot_months": hot.sum(1),
                         "cold_months": cold.sum(1), "trend_z": tz, "trend_p": tp, "months": T})


#: Knox test caps (see :func:`knox_test`): events drawn at random above this many ...
KNOX_MAX_EVENTS = 20_000
#: ... and events thinned further until at most this many pairs are close in space.
KNOX_MAX_PAIRS = 1_000_000
#: geocode precisions left out of the Knox test (area centroids are not places)
KNOX_EXCLUDE_PRECISION = ("area", "none")


def _count_close_in_time(t: np.ndarray, i: np.ndarray, j: np.ndarray, window: int,
                         buf: tuple[np.ndarray, np.ndarray]) -> int:
    """``#{k : |t[i_k] - t[j_k]| <= window}`` in cache-sized chunks of the pair arrays.

    ``|a - b| <= w`` is evaluated as ``(a - b + w) <= 2w`` on the unsigned view (one pass
    instead of abs + compare); ``t`` holds int64 seconds, so the difference cannot overflow.
    """
    a_buf, b_buf = buf
    chunk = len(a_buf)
    total = 0
    for s in range(0, len(i), chunk):
        ii, jj = i[s:s + chunk], j[s:s + chunk]
        a, b = a_buf[:len(ii)], b_buf[:len(ii)]
        np.take(t, ii, out=a)
        np.take(t, jj, out=b)
        np.subtract(a, b, out=a)
        a += window
        total += int(np.count_nonzero(a.view(np.uint64) <= np.uint64(2 * window)))
    return total


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
) -> dict:
    """Knox space-time interaction test with a Monte Carlo p-value (times permuted).

    Method: Knox (1964), "The detection of space-time interactions", Applied Statistics
    13(1): ``X`` = number of pairs of events closer than ``space_m`` metres (Euclidean,
    EPSG:27700) *and* ``time_days`` days. Inference by Monte Carlo permutation of the event
    times over the event locations (Mantel 1967, "The detection of disease clustering and a
    generalized regression approach", Cancer Research 27(2); Besag & Diggle 1977): the set
    of space-close pairs is fixed by the locations, so it is found once (a KD-tree,
    ``cKDTree.query_pairs``) and kept as two int32 index arrays; each of ``permutations``
    seeded permutations of the times then costs one pass over those pairs (gather both
    times, compare the difference with the window), never a materialised all-pairs array
    and never a re-sort. ``p = (1 + #{X_sim >= X}) / (1 + R)``; ``expected`` is the mean
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
    base = {"space_m": float(space_m), "time_days": float(time_days), "permutations": int(permutations),
            "seed": int(seed), "n_events": int(n),
            "max_events": None if max_events is None else int(max_events),
            "max_pairs": None if max_pairs is None else int(max_pairs),
            "exclude_precision": list(exclude_precision or ()),
            "distinct_persons": bool(distinct_persons and "person_id" in ev),
            "method": ("Knox (1964) space-time interaction; Monte Carlo p-value from seeded permutations "
                       "of event times over locations (Mantel 1967); space-close pairs from a KD-tree, "
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
    if distinct_persons and "person_id" in ev:
        # interaction between different children: one child found at home again and again is
        # not space-time interaction, so pairs of one person's own events are not counted
        pid = pd.factorize(ev["person_id"].to_numpy()[use])[0]
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
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))  # row-major pair order: gathers of t[i] stream
    i = pairs[order, 0].astype(np.int32)
    j = pairs[order, 1].astype(np.int32)
    del pairs, order
    chunk = min(max(len(i), 1), 1 << 16)
    buf = (np.empty(chunk, np.int64), np.empty(chunk, np.int64))
    obs = _count_close_in_time(t, i, j, window, buf)
    sims = np.empty(permutations, dtype=np.int64)
    for r in range(permutations):
        sims[r] = _count_close_in_time(t[rng.permutation(n_used)], i, j, window, buf)
    ds = np.sort(t)
    close_t = int((np.searchsorted(ds, ds + window, side="right") - np.arange(n_used) - 1).sum())
    exp = float(sims.mean()) if permutations else float("nan")
    return {**base, "statistic": int(obs), "expected": exp, "ratio": (obs / exp) if exp else None,
            "p_value": float((1 + (sims >= obs).sum()) / (1 + permutations)),
            "close_in_space": int(len(i)), "close_in_time": close_t}

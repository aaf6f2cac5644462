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
  permuted over locations (``R`` seeded permutations).

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
    ever = hot.any(axis=1)
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


def knox_test(
    place_events: pd.DataFrame,
    space_m: float = 500.0,
    time_days: float = 14.0,
    permutations: int = 999,
    seed: int = 0,
    kinds=("found_at",),
    start=None,
    end=None,
) -> dict:
    """Knox space-time interaction test with a Monte Carlo p-value (times permuted).

    Returns ``{"statistic", "expected", "ratio", "p_value", "n_events", "close_in_space",
    "close_in_time", "space_m", "time_days", "permutations", "seed"}``. ``expected`` is the
    mean of the permutation distribution.
    """
    ev = filter_events(place_events, kinds, start, end).dropna(subset=["easting", "northing", "at"])
    n = len(ev)
    base = {"space_m": float(space_m), "time_days": float(time_days), "permutations": int(permutations),
            "seed": int(seed), "n_events": int(n), "method": "Knox (1964), times permuted over locations"}
    if n < 3:
        return {**base, "statistic": 0, "expected": 0.0, "ratio": None, "p_value": 1.0,
                "close_in_space": 0, "close_in_time": 0}
    xy = ev[["easting", "northing"]].to_numpy(float)
    days = (pd.to_datetime(ev["at"], utc=True) - pd.Timestamp("1970-01-01", tz="UTC")).dt.total_seconds().to_numpy() / 86400.0
    pairs = cKDTree(xy).query_pairs(r=float(space_m), output_type="ndarray")
    i, j = pairs[:, 0], pairs[:, 1]
    obs = int((np.abs(days[i] - days[j]) <= time_days).sum())
    rng = np.random.default_rng(seed)
    sims = np.empty(permutations, dtype=np.int64)
    B = max(1, int(2_000_000 // max(1, len(i))))
    done = 0
    while done < permutations:
        b = min(B, permutations - done)
        perm = np.argsort(rng.random((b, n)), axis=1)
        d = days[perm]
        sims[done:done + b] = (np.abs(d[:, i] - d[:, j]) <= time_days).sum(axis=1)
        done += b
    ds = np.sort(days)
    close_t = int((np.searchsorted(ds, ds + time_days, side="right") - np.arange(n) - 1).sum())
    exp = float(sims.mean()) if permutations else float("nan")
    return {**base, "statistic": obs, "expected": exp, "ratio": (obs / exp) if exp else None,
            "p_value": float((1 + (sims >= obs).sum()) / (1 + permutations)),
            "close_in_space": int(len(i)), "close_in_time": close_t}

"""Rates per child population: crude, empirical Bayes and spatial empirical Bayes, and the
EB-standardised local Moran's I.

Denominators come only from a child population per area (the ``populations`` frame of the
optional ``populations.csv`` drop file: ONS mid-year estimates are the intended source). Where
an area has no population, or a population of 0, it has no rate: the rate columns are empty
(NaN) and ``rate_note`` says why; a rate is never 0 for want of a denominator. Nothing else
(residential postcodes, addresses) stands in for a population.

Methods (rates per 1,000 children; ``e`` events, ``b`` population, ``r = e / b``):

* crude rate ``1000 e / b``;
* global empirical Bayes (Marshall 1991, "Mapping disease and mortality rates using empirical
  Bayes estimators", Applied Statistics 40(2)), as esda ``Empirical_Bayes``: the rate shrunk
  towards the overall rate ``m = sum e / sum b`` by ``w_i = a / (a + m / b_i)`` with the
  method-of-moments between-area variance ``a = sum b (r - m)^2 / sum b - m / mean(b)``, set
  to 0 when negative (Marshall's rule; esda leaves it negative);
* spatial empirical Bayes (Marshall 1991; Anselin, Lozano & Koschinsky 2006, "Rate
  transformations and smoothing"), as esda ``Spatial_Empirical_Bayes``: the same shrinkage
  towards the rate of each area's neighbourhood (the area and its neighbours);
* EB-standardised rate (Assuncao & Reis 1999, "A new proposal to adjust Moran's I for
  population density", Statistics in Medicine 18), as esda ``assuncao_rate``:
  ``(r - m) / sqrt(a + m / b)`` (``m / b`` alone when that is negative), and Anselin's local
  Moran's I on it (esda ``Moran_Local_Rate(adjusted=True)``) with the shared conditional
  permutation engine and Benjamini-Hochberg q-values.

The analyses run on the areas that have a population > 0 (weights rebuilt over them, islands
joined to the nearest area).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from geo.stats.moran_local import lisa_types, local_moran
from geo.stats.weights import SpatialWeights

__all__ = ["child_population", "crude_rate", "empirical_bayes", "spatial_empirical_bayes",
           "assuncao_reis", "area_rates", "NO_POPULATION", "PER"]

PER = 1000.0
NO_POPULATION = "no child population loaded for this area (populations.csv): no rate"
ZERO_POPULATION = "child population 0: no rate"
PREFERRED_BANDS = ("0-17", "10-17")


def child_population(populations: pd.DataFrame | None, area_codes, age_band: str | None = None,
                     year: int | None = None) -> tuple[pd.Series, dict]:
    """Child population per area from the ``populations`` frame.

    One age band is used (``age_band``, else ``0-17``, else ``10-17``, else the band that
    covers most areas), one year (``year``, else the latest), and sex ``all`` where given,
    else the sum over the sexes. Returns ``(population, basis)``: a float Series indexed by
    ``area_codes`` (NaN where the area has no row) and ``{"age_band", "year", "areas"}``
    (``{}`` and an all-NaN Series without populations).
    """
    codes = pd.Index(np.asarray(area_codes, dtype=object))
    empty = pd.Series(np.nan, index=codes, dtype=float)
    if populations is None or len(populations) == 0:
        return empty, {}
    p = populations[populations["area_code"].isin(codes)].copy()
    if len(p) == 0:
        return empty, {}
    bands = p["age_band"].astype(str)
    if age_band is None:
        have = set(bands)
        age_band = next((b for b in PREFERRED_BANDS if b in have), None) or \
            p.groupby(bands)["area_code"].nunique().sort_index().idxmax()
    p = p[bands == str(age_band)]
    if len(p) == 0:
        raise ValueError(f"no population rows for age band {age_band!r}")
    yr = pd.to_numeric(p.get("year"), errors="coerce") if "year" in p else pd.Series(np.nan, index=p.index)
    if year is None and yr.notna().any():
        year = int(yr.max())
    if year is not None:
        p = p[(yr == year) | yr.isna()]
    sex = p["sex"].astype("string").str.lower() if "sex" in p else pd.Series(pd.NA, index=p.index)
    has_all = p.assign(_all=(sex == "all").fillna(False).to_numpy()).groupby("area_code")["_all"].any()
    use_all = p["area_code"].map(has_all).to_numpy(bool)
    keep = np.where(use_all, (sex == "all").fillna(False).to_numpy(bool), True)
    pop = p[keep].groupby("area_code")["count"].sum().astype(float)
    return pop.reindex(codes), {"age_band": str(age_band), "year": year, "areas": int(pop.notna().sum())}


def crude_rate(e, b, per: float = PER) -> np.ndarray:
    """``per * e / b``; NaN where ``b`` is missing or not positive (never 0 for want of one)."""
    e = np.asarray(e, dtype=float)
    b = np.asarray(b, dtype=float)
    out = np.full(e.shape, np.nan)
    ok = np.isfinite(b) & (b > 0)
    out[ok] = per * e[ok] / b[ok]
    return out


def _check(e, b):
    e = np.asarray(e, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    if e.shape != b.shape:
        raise ValueError("events and populations differ in length")
    if not (np.isfinite(b).all() and (b > 0).all()):
        raise ValueError("empirical Bayes rates need a population > 0 in every area")
    return e, b


def empirical_bayes(e, b) -> np.ndarray:
    """Global empirical Bayes rates (Marshall 1991; esda ``Empirical_Bayes``), per unit (not
    per 1,000). ``b`` > 0 everywhere."""
    e, b = _check(e, b)
    m = e.sum() / b.sum()
    r = e / b
    a = (b * (r - m) ** 2).sum() / b.sum() - m / b.mean()
    a = max(a, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        wgt = np.where(a + m / b > 0, a / (a + m / b), 0.0)
    return wgt * r + (1 - wgt) * m


def _with_self(w) -> sp.csr_matrix:
    m = w.transformed("b").sparse if isinstance(w, SpatialWeights) else sp.csr_matrix(w)
    m = sp.csr_matrix(m, dtype=float, copy=True)
    m.data = (m.data != 0).astype(float)
    m.setdiag(1.0)
    return sp.csr_matrix(m)


def spatial_empirical_bayes(e, b, w) -> np.ndarray:
    """Spatial empirical Bayes rates (esda ``Spatial_Empirical_Bayes``): shrinkage towards the
    rate of each area's neighbourhood (itself and its neighbours on ``w``). Per unit."""
    e, b = _check(e, b)
    m = _with_self(w)
    be = m @ e
    bb = m @ b
    r_mean = be / bb
    r = e / b
    k = np.asarray(m.sum(axis=1)).ravel()
    # sum over the neighbourhood of b_j (r_j - r_mean_i)^2, expanded: no loop over areas
    v = m @ (b * r * r) - 2 * r_mean * (m @ (b * r)) + r_mean ** 2 * bb
    a = v / bb - r_mean / (bb / k)
    a = np.maximum(a, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        wgt = np.where(a + r_mean / b > 0, a / (a + r_mean / b), 0.0)
    return r_mean + (r - r_mean) * wgt


def assuncao_reis(e, b) -> np.ndarray:
    """EB-standardised rates of Assuncao & Reis (1999) (esda ``assuncao_rate``)."""
    e, b = _check(e, b)
    y = e / b
    m = e.sum() / b.sum()
    s2 = (b * (y - m) ** 2).sum() / b.sum()
    a = s2 - m / (b.sum() / len(e))
    v = a + m / b
    v = np.where(v < 0, m / b, v)
    return (y - m) / np.sqrt(v)


def area_rates(counts: np.ndarray, population: np.ndarray, weights_for, *, permutations: int = 999,
               seed: int | None = 0, alpha: float = 0.05, per: float = PER) -> pd.DataFrame:
    """Rates of one area level, in the order of ``counts``.

    ``counts`` (n,) events (distinct children) per area, ``population`` (n,) child population
    (NaN = none); ``weights_for(mask)`` returns contiguity weights over the areas of the boolean
    ``mask`` (in their order). Returns ``population, rate, eb_rate, seb_rate`` (per ``per``
    children), ``eb_moran_i, eb_moran_p, eb_moran_q, eb_moran_type`` and ``rate_note``; NaN /
    empty / ``"none"`` where an area has no population > 0.
    """
    e = np.asarray(counts, dtype=float)
    b = np.asarray(population, dtype=float)
    n = len(e)
    ok = np.isfinite(b) & (b > 0)
    out = pd.DataFrame({"population": b, "rate": crude_rate(e, b, per)})
    for c in ("eb_rate", "seb_rate", "eb_moran_i", "eb_moran_p", "eb_moran_q"):
        out[c] = np.nan
    out["eb_moran_type"] = None
    out["rate_note"] = np.where(ok, "", np.where(np.isfinite(b), ZERO_POPULATION, NO_POPULATION))
    if ok.sum() < 3:
        return out
    eo, bo = e[ok], b[ok]
    w = weights_for(ok)
    out.loc[ok, "eb_rate"] = per * empirical_bayes(eo, bo)
    out.loc[ok, "seb_rate"] = per * spatial_empirical_bayes(eo, bo, w)
    z = assuncao_reis(eo, bo)
    lm = local_moran(z, w, permutations, seed, transform="r")
    out.loc[ok, "eb_moran_i"] = lm.Is
    out.loc[ok, "eb_moran_p"] = lm.p_sim
    out.loc[ok, "eb_moran_q"] = lm.q_sim
    out.loc[ok, "eb_moran_type"] = lisa_types(lm.q, lm.q_sim, alpha)
    return out

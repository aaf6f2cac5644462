"""Area hot spots: counts per ward / LSOA / grid cell, Getis-Ord Gi* and local Moran's I.

Input frames are those of docs/FRAMES.md: ``place_events`` (event_key, person_id,
episode_key, kind, at, easting, northing, ward_code, lsoa_code) and ``areas`` (GeoDataFrame,
EPSG:27700, area_code, area_name, level). Every count of children counts distinct
``person_id``; episodes count distinct ``episode_key`` (events without one count once each).

Method: for every area, ``episodes`` and ``children`` from the place events of the chosen
kinds (found-at and return-interview places by default) in the period; the analysed value is
``children`` (or ``episodes``), or its rate per 1,000 children when a child population is
given for every area (:mod:`geo.stats.rates`; never a rate on a missing or zero population). Getis-Ord Gi* (:mod:`geo.stats.getis_ord`, Ord & Getis 1995) on binary contiguity
(queen by default) or distance-band weights, and Anselin's local Moran's I
(:mod:`geo.stats.moran_local`, Anselin 1995) on row-standardised weights, both with conditional
permutation inference from the shared engine (:mod:`geo.stats.permutation`; 999 permutations,
seeded), two-sided pseudo p-values and Benjamini-Hochberg q-values over the areas.

``gi_bin`` is ArcGIS's Gi_Bin (+-3/2/1, sign of ``gi_z``) taken from the same inference as the
exported ``gi_p`` / ``gi_q``: the Benjamini-Hochberg q-value of the two-sided conditional
permutation p-value, binned at q < 0.01 / 0.05 / 0.10 (:data:`geo.stats.getis_ord.GI_BIN_LABELS`
say so in words). The normal-approximation p of ``gi_z`` is kept as ``gi_p_norm`` for
reference only; nothing is labelled from it.
``lisa_type`` is HH / LH / LL / HL where ``lisa_q < alpha``, else ``ns``.

Units: coordinates and cell sizes in metres, EPSG:27700. Output geometry EPSG:27700.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import geopandas as gpd
import shapely

from geo.stats.getis_ord import gi_bin, gi_star
from geo.stats.global_autocorrelation import general_g, global_moran
from geo.stats.moran_local import local_moran, lisa_types
from geo.stats.rates import area_rates, assuncao_reis
from geo.stats.weights import SpatialWeights, contiguity_weights, distance_band_weights

__all__ = ["DEFAULT_KINDS", "make_grid", "count_by_area", "area_hotspots", "filter_events"]

DEFAULT_KINDS = ("found_at", "rhi_place")
BNG = "EPSG:27700"

OUTPUT_COLUMNS = [
    "area_code", "area_name", "level", "episodes", "children", "value",
    "gi_z", "gi_p", "gi_q", "gi_bin", "lisa_i", "lisa_p", "lisa_q", "lisa_type",
]


def _check_crs(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        raise ValueError("areas have no CRS; expected EPSG:27700 (metres)")
    if gdf.crs.to_epsg() != 27700:
        gdf = gdf.to_crs(BNG)
    return gdf


def make_grid(extent, cell_size: float, clip: bool = True) -> gpd.GeoDataFrame:
    """A regular square grid of ``cell_size`` metres over ``extent`` (EPSG:27700).

    ``extent`` is a GeoDataFrame/GeoSeries (cells intersecting its union are kept when
    ``clip``) or ``(minx, miny, maxx, maxy)`` in metres. The origin is snapped to a multiple
    of ``cell_size`` so cell codes are stable: ``area_code = "G{size}_{e0}_{n0}"`` with the
    south-west corner in whole metres. Returns ``area_code, area_name, level="grid", geometry``.
    """
    size = float(cell_size)
    if size <= 0:
        raise ValueError("cell_size must be positive metres")
    region = None
    if hasattr(extent, "total_bounds"):
        extent = _check_crs(extent if hasattr(extent, "crs") else gpd.GeoSeries(extent, crs=BNG))
        minx, miny, maxx, maxy = extent.total_bounds
        region = shapely.union_all(np.asarray(extent.geometry.values if hasattr(extent, "geometry") else extent.values))
    else:
        minx, miny, maxx, maxy = map(float, extent)
    x0, y0 = np.floor(minx / size) * size, np.floor(miny / size) * size
    nx = max(1, int(np.ceil((maxx - x0) / size)))
    ny = max(1, int(np.ceil((maxy - y0) / size)))
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="xy")
    e0 = x0 + ix.ravel() * size
    n0 = y0 + iy.ravel() * size
    cells = shapely.box(e0, n0, e0 + size, n0 + size)
    if clip and region is not None:
        shapely.prepare(region)
        keep = shapely.intersects(region, cells)
        cells, e0, n0 = cells[keep], e0[keep], n0[keep]
    tag = f"{size:g}"
    codes = np.char.add(np.char.add(np.char.add(f"G{tag}_", e0.astype(np.int64).astype(str)), "_"),
                        n0.astype(np.int64).astype(str))
    return gpd.GeoDataFrame(
        {"area_code": codes, "area_name": np.char.add(f"{tag} m cell ", codes), "level": "grid"},
        geometry=cells, crs=BNG,
    )


def filter_events(place_events: pd.DataFrame, kinds=DEFAULT_KINDS, start=None, end=None) -> pd.DataFrame:
    """Place events of ``kinds`` with ``start <= at < end`` (UTC; ``None`` = open)."""
    ev = place_events
    if kinds is not None and "kind" in ev:
        ev = ev[ev["kind"].isin(list(kinds))]
    if "at" in ev and (start is not None or end is not None):
        at = pd.to_datetime(ev["at"], utc=True)
        mask = pd.Series(True, index=ev.index)
        if start is not None:
            mask &= at >= pd.Timestamp(start, tz="UTC") if pd.Timestamp(start).tzinfo is None else at >= pd.Timestamp(start)
        if end is not None:
            mask &= at < pd.Timestamp(end, tz="UTC") if pd.Timestamp(end).tzinfo is None else at < pd.Timestamp(end)
        ev = ev[mask.to_numpy()]
    return ev


def assign_areas(events: pd.DataFrame, areas: gpd.GeoDataFrame, level: str | None = None) -> pd.Series:
    """``area_code`` of every event: the frame's ``ward_code`` / ``lsoa_code`` for those
    levels when present, otherwise point-in-polygon on ``easting``/``northing``."""
    level = level or (str(areas["level"].iloc[0]) if "level" in areas and len(areas) else None)
    codes = pd.Series(pd.NA, index=events.index, dtype="object")
    col = {"ward": "ward_code", "lsoa": "lsoa_code"}.get(level or "")
    valid = set(areas["area_code"])
    if col and col in events:
        c = events[col].where(events[col].isin(valid))
        codes = c.astype("object")
    need = codes.isna()
    if need.any() and {"easting", "northing"} <= set(events.columns):
        sub = events.loc[need, ["easting", "northing"]].astype(float)
        sub = sub.dropna()
        if len(sub):
            pts = shapely.points(sub["easting"].to_numpy(), sub["northing"].to_numpy())
            tree = shapely.STRtree(np.asarray(areas.geometry.values))
            ip, ia = tree.query(pts, predicate="intersects")
            # first polygon per point
            first = pd.Series(ia, index=ip).groupby(level=0).first()
            vals = np.full(len(sub), None, dtype=object)
            vals[first.index.to_numpy()] = areas["area_code"].to_numpy()[first.to_numpy()]
            codes.loc[sub.index] = vals
    return codes


def coarse_precision(level: str | None) -> tuple[str, ...]:
    """Geocode precisions too coarse to count in an area of ``level``.

    An ``area`` match (a ward or district name, e.g. "a friend's house in Aston") places an
    event in its ward but not in an LSOA or a grid cell: there its centroid would pile every
    vague text onto one small area. Events with precision ``none`` never count.
    """
    return ("none",) if level == "ward" else ("area", "none")


def count_by_area(
    place_events: pd.DataFrame,
    areas: gpd.GeoDataFrame,
    kinds=DEFAULT_KINDS,
    start=None,
    end=None,
    level: str | None = None,
) -> pd.DataFrame:
    """``area_code, episodes, children, events`` for every area (zeros included).

    Events whose geocode precision is too coarse for ``level`` are left out
    (:func:`coarse_precision`)."""
    ev = filter_events(place_events, kinds, start, end)
    level = level or (str(areas["level"].iloc[0]) if "level" in areas and len(areas) else None)
    if "precision" in ev:
        ev = ev[~ev["precision"].astype("string").isin(list(coarse_precision(level))).fillna(False).to_numpy(bool)]
    codes = assign_areas(ev, areas, level)
    df = pd.DataFrame({"area_code": codes.to_numpy()}, index=ev.index)
    ep = ev["episode_key"] if "episode_key" in ev else pd.Series(pd.NA, index=ev.index)
    key = ev["event_key"] if "event_key" in ev else pd.Series(ev.index.astype(str), index=ev.index)
    df["episode"] = ep.astype("object").where(ep.notna(), "event:" + key.astype(str))
    df["person"] = ev["person_id"] if "person_id" in ev else pd.NA
    df = df.dropna(subset=["area_code"])
    g = df.groupby("area_code")
    out = pd.DataFrame({
        "episodes": g["episode"].nunique(),
        "children": g["person"].nunique(),
        "events": g.size(),
    })
    out = out.reindex(areas["area_code"].to_numpy()).fillna(0).astype(np.int64)
    out.index.name = "area_code"
    return out.reset_index()


def _population(population, codes: np.ndarray) -> np.ndarray | None:
    if population is None:
        return None
    if isinstance(population, pd.DataFrame):
        col = [c for c in population.columns if c != "area_code"][0]
        population = population.set_index("area_code")[col]
    return pd.Series(population).reindex(codes).astype(float).to_numpy()


def area_hotspots(
    place_events: pd.DataFrame,
    areas: gpd.GeoDataFrame,
    *,
    value: str = "children",
    population=None,
    weights: str | SpatialWeights = "queen",
    distance_m: float | None = None,
    permutations: int = 999,
    seed: int = 0,
    alpha: float = 0.05,
    kinds=DEFAULT_KINDS,
    start=None,
    end=None,
) -> gpd.GeoDataFrame:
    """Hot spots of one area level (ward, LSOA or grid) as a GeoDataFrame (EPSG:27700).

    Parameters
    ----------
    place_events : frame ``place_events`` (FRAMES.md).
    areas : GeoDataFrame ``area_code, area_name, level, geometry`` of ONE level (a grid from
        :func:`make_grid`, or ``areas[areas.level == "ward"]``).
    value : ``"children"`` (distinct person_id, default) or ``"episodes"``.
    population : optional child population per area (Series indexed by area_code, or frame
        ``area_code, <population>``; :func:`geo.stats.rates.child_population`). Rates, empirical Bayes
        and spatial EB rates and the EB-standardised local Moran are computed where an area has
        a population > 0 (:func:`geo.stats.rates.area_rates`); Gi* and local Moran use the rate per
        1,000 children when every area has one, otherwise the counts (``value_basis`` says which).
    weights : ``"queen"``, ``"rook"``, ``"distance_band"`` (``distance_m`` metres between
        centroids) or a prepared :class:`SpatialWeights` aligned with ``areas``.
    permutations, seed : conditional permutations and RNG seed (both statistics).
    alpha : significance level of ``lisa_type``.
    kinds, start, end : which events and period (``start <= at < end``).

    Returns
    -------
    GeoDataFrame with ``area_code, area_name, level, episodes, children, value, gi_z, gi_p,
    gi_q, gi_bin, lisa_i, lisa_p, lisa_q, lisa_type`` (+ ``value_basis``, ``population, rate,
    eb_rate, seb_rate, eb_moran_i, eb_moran_p, eb_moran_q, eb_moran_type, rate_note``,
    ``gi_p_norm``, ``lisa_quadrant``), one row per area, in the order of ``areas``. Its
    ``attrs["autocorrelation"]`` lists global Moran's I and General G
    (:mod:`geo.stats.global_autocorrelation`) of the mapped value and, where there are rates, of the
    EB-standardised / EB rates.
    """
    areas = _check_crs(areas).reset_index(drop=True)
    if "area_name" not in areas:
        areas = areas.assign(area_name=areas["area_code"])
    level = str(areas["level"].iloc[0]) if "level" in areas and len(areas) else "area"
    counts = count_by_area(place_events, areas, kinds, start, end, level)
    out = areas[["area_code", "area_name", "geometry"]].copy()
    out["level"] = level
    out["episodes"] = counts["episodes"].to_numpy()
    out["children"] = counts["children"].to_numpy()
    if value not in ("children", "episodes"):
        raise ValueError("value must be 'children' or 'episodes'")
    x = out[value].to_numpy(dtype=float)
    codes = out["area_code"].to_numpy()

    def build(frame, ids):
        if weights in ("queen", "rook"):
            return contiguity_weights(frame, weights, ids=ids, islands="nearest")
        if weights == "distance_band":
            if not distance_m:
                raise ValueError("distance_band weights need distance_m")
            return distance_band_weights(frame, distance_m, ids=ids, islands="nearest")
        raise ValueError(f"unknown weights {weights!r}")

    w = weights if isinstance(weights, SpatialWeights) else build(out, codes)
    if w.n != len(out):
        raise ValueError("weights are not aligned with areas")

    def weights_for(mask):
        if isinstance(weights, SpatialWeights):
            keep = np.flatnonzero(mask)
            return SpatialWeights(w.sparse[keep][:, keep].tocsr(), codes[keep], w.kind, w.transform)
        return build(out[mask].reset_index(drop=True), codes[mask])

    pop = _population(population, codes)
    rates = area_rates(x, np.full(len(out), np.nan) if pop is None else pop, weights_for,
                       permutations=permutations, seed=None if seed is None else seed + 2, alpha=alpha)
    for c in rates.columns:
        out[c] = rates[c].to_numpy()
    complete = pop is not None and bool(np.isfinite(pop).all() and (pop > 0).all())
    if complete:
        x = out["rate"].to_numpy(dtype=float)
        basis = f"{value} per 1,000 child population"
    else:
        basis = f"{value} (counts: " + ("no child population loaded" if pop is None else
                                        "some areas have no child population") + ")"
    out["value"] = x
    out["value_basis"] = basis
    glob = [dict(map=f"{level}:value", basis=basis, **global_moran(x, w, permutations, seed)),
            dict(map=f"{level}:value", basis=basis, **general_g(x, w, permutations, seed))]
    ok = np.isfinite(out["eb_rate"].to_numpy(dtype=float))
    if ok.sum() >= 4:
        wo = weights_for(ok)
        glob.append(dict(map=f"{level}:eb_rate", basis="EB-standardised rate (Assuncao & Reis 1999)",
                         **global_moran(assuncao_reis(out[value].to_numpy(float)[ok], pop[ok]), wo,
                                        permutations, seed)))
        glob.append(dict(map=f"{level}:eb_rate", basis="empirical Bayes rate per 1,000",
                         **general_g(out["eb_rate"].to_numpy(float)[ok], wo, permutations, seed)))
    g = gi_star(x, w.transformed("b"), permutations, seed)
    m = local_moran(x, w, permutations, seed + 1 if seed is not None else None, transform="r")
    out["gi_z"] = g.z
    out["gi_p"] = g.p_sim
    out["gi_q"] = g.q_sim
    out["gi_p_norm"] = g.p_norm
    out["gi_bin"] = gi_bin(g.z, g.q_sim)
    out["lisa_i"] = m.Is
    out["lisa_p"] = m.p_sim
    out["lisa_q"] = m.q_sim
    out["lisa_quadrant"] = np.array(["", "HH", "LH", "LL", "HL"], dtype=object)[m.q]
    out["lisa_type"] = lisa_types(m.q, m.q_sim, alpha)
    cols = OUTPUT_COLUMNS + ["value_basis"] + list(rates.columns) + ["gi_p_norm", "lisa_quadrant", "geometry"]
    res = gpd.GeoDataFrame(out[cols], geometry="geometry", crs=BNG)
    res.attrs["autocorrelation"] = glob
    return res

"""Boundaries: reading ward and LSOA files of any city, and putting points in them.

Boundary files may be GeoJSON, GeoPackage or shapefile in any CRS; they come out in British
National Grid (EPSG:27700) with `area_code`, `area_name` and `level`. The code and name fields
are detected from the ONS naming pattern (`WD13CD`/`WD13NM`, `LSOA11CD`/`LSOA11NM`, ...) unless
named.
"""
from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

SRID = 27700


class BoundaryError(ValueError):
    """A boundary file cannot be read or has no recognisable code/name fields."""


def _detect(columns: list[str], level: str, suffix: str) -> str | None:
    """An ONS field such as WD13CD / LSOA11NM (level prefix, year, CD or NM)."""
    prefixes = {"ward": ("WD",), "lsoa": ("LSOA",)}[level]
    for c in columns:
        for p in prefixes:
            if re.fullmatch(rf"{p}\d{{2}}{suffix}", c.upper()):
                return c
    generic = {"CD": ("code", "area_code"), "NM": ("name", "area_name")}[suffix]
    return next((c for c in columns if c.lower() in generic), None)


def read_boundaries(path: str | Path, level: str, code_field: str | None = None,
                    name_field: str | None = None) -> gpd.GeoDataFrame:
    """Areas of one level from a boundary file, in EPSG:27700.

    Returns a GeoDataFrame with area_code, area_name, level, geometry (MultiPolygon).
    """
    path = Path(path)
    if not path.exists():
        raise BoundaryError(f"{path}: no such file")
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:  # pyogrio raises its own DataSourceError family
        raise BoundaryError(f"{path}: not a readable boundary file ({exc})") from exc
    cols = [c for c in gdf.columns if c != "geometry"]
    code = code_field if code_field in cols else _detect(cols, level, "CD")
    name = name_field if name_field in cols else _detect(cols, level, "NM")
    for what, field in (("code", code), ("name", name)):
        if field is None or field not in gdf.columns:
            raise BoundaryError(f"{path}: no {level} {what} field found among {cols}; "
                                f"name it with --code-field/--name-field")
    if gdf.crs is None:
        raise BoundaryError(f"{path}: the file states no CRS")
    gdf = gdf.to_crs(SRID)
    geom = shapely.force_2d(shapely.make_valid(gdf.geometry.to_numpy()))
    out = gpd.GeoDataFrame({
        "area_code": gdf[code].astype(str).str.strip(),
        "area_name": gdf[name].astype(str).str.strip(),
        "level": level,
    }, geometry=[shapely.multipolygons(shapely.get_parts(g)) if g.geom_type != "MultiPolygon"
                 else g for g in geom], crs=SRID)
    return out[~out["area_code"].duplicated()].reset_index(drop=True)


class AreaIndex:
    """Point in polygon against loaded areas, one STRtree per level, built once and reused."""

    def __init__(self, areas: gpd.GeoDataFrame | None):
        self._trees: dict[str, tuple] = {}
        if areas is not None and not areas.empty:
            for level in ("ward", "lsoa"):
                sub = areas[areas["level"] == level]
                if len(sub):
                    self._trees[level] = (shapely.STRtree(sub.geometry.to_numpy()),
                                          sub["area_code"].to_numpy(dtype=object))

    def locate(self, easting, northing) -> pd.DataFrame:
        """`ward_code` and `lsoa_code` of points (EPSG:27700 metres).

        Vectorised; a point on a shared edge takes the first area found; points that are NaN or
        outside every area get None. Keeps the index of `easting` when it is a Series.
        """
        e = np.asarray(easting, dtype=float)
        n = np.asarray(northing, dtype=float)
        cols = {"ward_code": np.full(len(e), None, dtype=object),
                "lsoa_code": np.full(len(e), None, dtype=object)}
        ok = np.isfinite(e) & np.isfinite(n)
        if ok.any():
            pts = shapely.points(e[ok], n[ok])
            rows = np.flatnonzero(ok)
            for level, col in (("ward", "ward_code"), ("lsoa", "lsoa_code")):
                if level not in self._trees:
                    continue
                tree, codes = self._trees[level]
                qi, ti = tree.query(pts, predicate="intersects")
                first = pd.Series(ti).groupby(qi).first()
                cols[col][rows[first.index.to_numpy()]] = codes[first.to_numpy()]
        return pd.DataFrame(cols, index=getattr(easting, "index", None))


def locate_points(easting, northing, areas: gpd.GeoDataFrame) -> pd.DataFrame:
    """`ward_code` and `lsoa_code` of points (EPSG:27700 metres); see `AreaIndex.locate`."""
    return AreaIndex(areas).locate(easting, northing)

"""Map layers: built from the store's frames and analysis results, served as OGC API - Features
collections and vector tiles, one prepared copy per minimisation view.

Each layer is built once as a GeoDataFrame in British National Grid (EPSG:27700) with every
property (the analyst's view), then minimised per view (``api.minimise``) and prepared for serving:

- items: per feature a ready GeoJSON string (WGS84, 6 decimals) plus WGS84 bounds and time
  arrays, so an items page is a numpy mask and a string join (both backends);
- tiles: on PostGIS a table ``api_layer_<id>_<view>`` (Web Mercator geometry, GiST index, one
  column per property) for ``ST_AsMVT``; on SQLite Web Mercator geometries and bounds in memory for
  ``mapbox_vector_tile``.

Layers are rebuilt when the store changes (a fingerprint of ingest runs, results and identity
links, checked at most every ``refresh_seconds``).
"""
from __future__ import annotations

import contextlib

import gc
import hashlib
import json
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from api.jobs import tilesets
from api.minimise import DATES_OF_VIEW, VIEWS, Minimiser, day_of, month_of
from geo import disclosure
from geo.storage.protocol import StoreLike
from geo import results as R
from geo.stats.clusters import SCAN_MODEL

log = logging.getLogger("wayfinder.layers")
BNG = 27700
EMPTY_TIME = np.iinfo(np.int64).min


def _stored(fn: Callable, default=None):
    """The frame or result `fn` reads, or `default` when the store does not hold it yet
    (StoreError: no such result, the analysis has not run): the layer is then empty. Any other
    error is a fault and raises."""
    from geo.storage.store import StoreError
    try:
        return fn()
    except StoreError as exc:
        log.info("layer source not in the store yet: %s", exc)
        return default


def _empty(columns: list[str]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({c: [] for c in columns}, geometry=[], crs=BNG)


def _points(df: pd.DataFrame, e: str, n: str) -> gpd.GeoDataFrame:
    df = df.dropna(subset=[e, n])
    return gpd.GeoDataFrame(df.drop(columns=[e, n]),
                            geometry=shapely.points(df[e].to_numpy(float), df[n].to_numpy(float)),
                            crs=BNG)


def _to_bng(gdf) -> gpd.GeoDataFrame:
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.crs is None:
        return gdf
    return gdf.to_crs(BNG) if gdf.crs.to_epsg() != BNG else gdf


def _snap_points(gdf: gpd.GeoDataFrame, m: Minimiser) -> gpd.GeoDataFrame:
    """Every geometry replaced by the centre of the grid cell of its representative point."""
    if len(gdf) == 0:
        return gdf
    pts = gdf.geometry.representative_point() if not (gdf.geom_type == "Point").all() else gdf.geometry
    e, n = m.snap(pts.x.to_numpy(), pts.y.to_numpy())
    out = gdf.copy()
    out.geometry = gpd.GeoSeries(shapely.points(e, n), index=gdf.index, crs=BNG)
    return out


def _suppress(df: pd.DataFrame, cols, m: Minimiser) -> pd.DataFrame:
    for c in cols:
        if c in df:
            df[c] = pd.Series(m.counts(df[c].tolist()), index=df.index, dtype=object)
    return df


# -- layer definitions ---------------------------------------------------------------------------

@dataclass
class LayerDef:
    id: str
    title: str
    description: str
    geometry_type: str
    build: Callable  # (store, settings) -> GeoDataFrame, EPSG:27700, full properties
    minimise: Callable  # (gdf, view, minimiser) -> GeoDataFrame
    time_column: str | None = None
    minzoom: int = 0
    maxzoom: int = 22
    #: properties an OGC client may filter on (``?name=value``, listed at ``/queryables``);
    #: only those present in the caller's minimisation view apply
    queryables: tuple[str, ...] = ()


def _build_found_at(store: StoreLike, settings):
    ev = _stored(lambda: store.frame("place_events"))
    cols = ["event_key", "person_id", "episode_key", "at", "text", "precision", "confidence",
            "ward_code", "lsoa_code"]
    if ev is None or len(ev) == 0:
        return _empty(cols)
    ev = ev[ev["kind"] == "found_at"]
    return _points(ev[cols + ["easting", "northing"]], "easting", "northing")


def _min_found_at(gdf, view, m):
    if view == "full":
        return gdf
    out = _snap_points(gdf, m)
    props = {"at": (day_of(out["at"]) if view == "case" else month_of(out["at"])),
             "precision": out["precision"], "ward_code": out["ward_code"],
             "lsoa_code": out["lsoa_code"]}
    if view == "case":
        props["child"] = pd.Series(m.pseudonyms(out["person_id"]), index=out.index)
    return gpd.GeoDataFrame(props, geometry=out.geometry, crs=BNG)


def _build_clusters(store: StoreLike, settings):
    cols = ["cluster_id", "episodes", "children", "first_seen", "last_seen", "nearest_premises_id"]
    res = _stored(lambda: store.read_result(R.FOUND_AT_CLUSTERS.name))
    if res is None or len(res) == 0:
        return _empty(cols)
    if not isinstance(res, gpd.GeoDataFrame):
        e = next((c for c in ("easting", "centroid_e", "e") if c in res), None)
        n = next((c for c in ("northing", "centroid_n", "n") if c in res), None)
        if e is None or n is None:
            return _empty(cols)
        res = _points(res, e, n)
    return _to_bng(res)


def _min_counts(count_cols, snap=False, drop=()):
    """Minimised views of a table of results: ``geo.disclosure.minimise_frame`` (counts banded,
    with the rates, populations, scores and explanations that would give them back; exact
    centroids and distances dropped; dates to the day, to the month for licensing officers),
    points snapped to the grid when ``snap``. ``count_cols`` are banded as counts as well."""
    counts = disclosure.COUNT_FIELDS | frozenset(count_cols)

    def minimise(gdf, view, m):
        if view == "full":
            return gdf
        out = _snap_points(gdf, m) if snap else gdf.copy()
        out = disclosure.suppress_small_rates(out, small=m.small)
        out = out.drop(columns=[c for c in drop if c in out])
        return disclosure.minimise_frame(out, m.small, dates=DATES_OF_VIEW.get(view, "month"),
                                         counts=counts)
    return minimise


PREMISES_COUNTS = ["children", "episodes", "mentions", "intel", "near_children", "named_children",
                   "recent_children", "rhi_mentions", "link_mentions", "event_mentions"]


def _min_premises(gdf, view, m):
    """Premises of concern for a minimised view: small counts banded, and the explanation
    re-rendered with the same banding (``geo.stats.venues.explain``)."""
    if view == "full":
        return gdf
    from geo.stats.venues import explanations_for
    out = gdf.copy()
    if "explanation" in out:
        out["explanation"] = explanations_for(out, m.count).to_numpy()
    return _min_counts(PREMISES_COUNTS)(out, view, m)


def _build_hotspots(level):
    def build(store: StoreLike, settings):
        res = _stored(lambda: store.read_result(R.area_hotspots(level).name))
        if res is None or not isinstance(res, gpd.GeoDataFrame) or len(res) == 0:
            return _empty(["area_code", "area_name", "episodes", "children"])
        return _to_bng(res)
    return build


def _build_heat(store: StoreLike, settings):
    ev = _stored(lambda: store.frame("place_events"))
    cols = ["cell", "events", "episodes", "children"]
    if ev is None or len(ev) == 0:
        return _empty(cols)
    s = float(settings.heat_cell_m)
    ce = np.floor(ev["easting"].to_numpy(float) / s) * s
    cn = np.floor(ev["northing"].to_numpy(float) / s) * s
    ev = ev.assign(ce=ce, cn=cn)
    g = ev.groupby(["ce", "cn"]).agg(events=("event_key", "size"),
                                       episodes=("episode_key", "nunique"),
                                       children=("person_id", "nunique")).reset_index()
    g["cell"] = [f"{int(a)}_{int(b)}" for a, b in zip(g["ce"], g["cn"])]
    geom = shapely.box(g["ce"], g["cn"], g["ce"] + s, g["cn"] + s)
    return gpd.GeoDataFrame(g[cols], geometry=geom, crs=BNG)


def _premises_frame(store: StoreLike):
    """The premises frame; the raw table when ward lookup fails (then without ward codes)."""
    prem = _stored(lambda: store.frame("premises"))
    if prem is None:
        prem = _stored(lambda: store.table("premises"))
    return prem


def _build_premises_of_concern(store: StoreLike, settings):
    cols = list(R.PREMISES_OF_CONCERN.contract)
    res = _stored(lambda: store.read_result(R.PREMISES_OF_CONCERN.name))
    if res is None or len(res) == 0:
        return _empty(cols)
    if isinstance(res, gpd.GeoDataFrame):
        return _to_bng(res)
    prem = _premises_frame(store)
    if prem is None or len(prem) == 0:
        return _empty(cols)
    xy = prem.drop_duplicates("premises_id").set_index("premises_id")[["easting", "northing"]]
    res = res.join(xy, on="premises_id")
    return _points(res, "easting", "northing")


def _build_premises(store: StoreLike, settings):
    cols = ["premises_id", "source", "name", "premises_type", "address", "postcode",
            "licence_type", "status", "ward_code"]
    prem = _premises_frame(store)
    if prem is None or len(prem) == 0:
        return _empty(cols)
    return _points(prem[[c for c in cols if c in prem] + ["easting", "northing"]],
                   "easting", "northing")


def _build_co_missing(store: StoreLike, settings):
    cols = ["group_id", "members", "size", "co_episodes", "first", "last"]
    groups = _stored(lambda: store.read_result(R.CO_MISSING_GROUPS.name))
    ev = _stored(lambda: store.frame("place_events"))
    if groups is None or len(groups) == 0 or ev is None or len(ev) == 0:
        return _empty(cols)
    ev = ev[ev["kind"] == "found_at"]
    where = ev.groupby("person_id")[["easting", "northing"]].mean()
    rows, geoms = [], []
    for g in groups.to_dict("records"):
        members = [str(x) for x in list(g.get("members") if g.get("members") is not None else [])]
        pts = [tuple(where.loc[p]) for p in members if p in where.index]
        if len(set(pts)) < 2:
            continue
        rows.append({"group_id": str(g.get("group_id")), "members": members,
                     "size": len(members), "co_episodes": g.get("co_episodes"),
                     "first": g.get("first"), "last": g.get("last")})
        geoms.append(shapely.LineString(pts))
    if not rows:
        return _empty(cols)
    return gpd.GeoDataFrame(pd.DataFrame(rows), geometry=geoms, crs=BNG)


def _min_co_missing(gdf, view, m):
    if view == "full":
        out = gdf.copy()
        out["members"] = [";".join(x) for x in out["members"]]
        return out
    coords = [np.array(g.coords) for g in gdf.geometry]
    geoms = []
    for c in coords:
        e, n = m.snap(c[:, 0], c[:, 1])
        geoms.append(shapely.LineString(np.column_stack([e, n])) if len(set(zip(e, n))) > 1
                     else shapely.Point(e[0], n[0]))
    out = pd.DataFrame({"group_id": gdf["group_id"],
                        "members": [";".join(m.pseudonyms(x)) for x in gdf["members"]],
                        "size": gdf["size"], "co_episodes": m.counts(gdf["co_episodes"].tolist()),
                        "first": month_of(gdf["first"]), "last": month_of(gdf["last"])})
    return gpd.GeoDataFrame(out, geometry=geoms, crs=BNG)


def _build_space_time_clusters(store: StoreLike, settings):
    res = _stored(lambda: store.read_result(R.SPACE_TIME_CLUSTERS.name))
    if res is None or not isinstance(res, gpd.GeoDataFrame) or len(res) == 0:
        return _empty(list(R.SPACE_TIME_CLUSTERS.contract))
    return _to_bng(res)


def _min_space_time_clusters(gdf, view, m):
    """Counts banded; where the observed count is small, the figures it can be read back from
    (expected, relative risk, LLR) go too; no exact centre."""
    if view == "full" or len(gdf) == 0:
        return gdf
    out = gdf.drop(columns=[c for c in ("centre_e", "centre_n", "start_unit") if c in gdf]).copy()
    small = np.array([disclosure.is_small(v, m.small) for v in out["observed"]], bool)
    for c in ("expected", "relative_risk", "llr"):
        if c in out:
            out[c] = out[c].astype(object).where(~small, None)
    return _suppress(out, ["observed", "children"], m)


def _build_placements(store: StoreLike, settings):
    cols = ["child_key", "person_id", "placement_type", "care_status", "responsible_authority",
            "placement_ward"]
    ch = _stored(lambda: store.frame("children"))
    if ch is None or len(ch) == 0:
        return _empty(cols)
    return _points(ch[cols + ["placement_e", "placement_n"]], "placement_e", "placement_n")


def _only_full(gdf, view, m):
    return gdf if view == "full" else gdf.iloc[0:0]


def _identity(gdf, view, m):
    return gdf


HOTSPOT_QUERYABLES = ("area_code", "area_name", "gi_bin", "lisa_type")
HOTSPOT_DESC = ("{level} hotspots of missing episodes: Getis-Ord Gi* z, p and FDR q, hot/cold bin, "
                "local Moran's I cluster type; counts of episodes and children.")

LAYERS: dict[str, LayerDef] = {d.id: d for d in [
    LayerDef("found_at", "Found-at points",
             "Where children were found after missing episodes (geocoded found-at locations). "
             "Exact points and record keys for analysts; others see 250 m grid cells and pseudonyms.",
             "Point", _build_found_at, _min_found_at, time_column="at",
             queryables=("ward_code", "lsoa_code", "precision")),
    LayerDef(R.FOUND_AT_CLUSTERS.layer, "Found-at clusters",
             "Clusters of found-at locations, weighted by distinct children, each with a Monte Carlo "
             "p-value and FDR q-value (status): only clusters with q < 0.05 are locations of concern, "
             "the rest are descriptive. " + SCAN_MODEL.format(R="999 (default)"),
             "Polygon", _build_clusters,
             _min_counts(["episodes", "children", "points"], snap=True), time_column="last_seen",
             queryables=("cluster_id", "nearest_premises_id", "status")),
    LayerDef(R.AREA_HOTSPOTS_WARD.layer, "Ward hotspots", HOTSPOT_DESC.format(level="Ward"), "MultiPolygon",
             _build_hotspots("ward"), _min_counts(["episodes", "children"]),
             queryables=HOTSPOT_QUERYABLES),
    LayerDef(R.AREA_HOTSPOTS_LSOA.layer, "LSOA hotspots", HOTSPOT_DESC.format(level="LSOA"), "MultiPolygon",
             _build_hotspots("lsoa"), _min_counts(["episodes", "children"]),
             queryables=HOTSPOT_QUERYABLES),
    LayerDef("hotspots_grid", "Grid hotspots", HOTSPOT_DESC.format(level="Grid cell"), "Polygon",
             _build_hotspots("grid"), _min_counts(["episodes", "children"]),
             queryables=HOTSPOT_QUERYABLES),
    LayerDef("heat_grid", "Heat grid",
             "Counts of reported places (found at, last seen, RHI places) per grid cell.",
             "Polygon", _build_heat, _min_counts(["events", "episodes", "children"]),
             queryables=("cell",)),
    LayerDef(R.PREMISES_OF_CONCERN.layer, "Premises of concern",
             "Licensed premises ranked by evidence of linked missing episodes, with explanation "
             "and significance.", "Point", _build_premises_of_concern, _min_premises,
             queryables=("premises_id", "premises_type")),
    LayerDef("premises", "Licensed premises", "The licensing register (public register data).",
             "Point", _build_premises, _identity,
             queryables=("premises_id", "premises_type", "licence_type", "status", "ward_code",
                         "postcode")),
    LayerDef(R.SPACE_TIME_CLUSTERS.layer, "Space-time clusters",
             "Kulldorff space-time permutation scan: places where more children were found within a "
             "few weeks than the overall place and time totals predict. Retrospective and prospective "
             "analyses are one test: p_value is the Monte Carlo p of the largest likelihood ratio over "
             "every cylinder of both (at most a 5% chance of any cluster with p < 0.05 when nothing is "
             "going on); q_value is BH over the reported clusters; recurrence_days (prospective "
             "clusters) is the surveillance recurrence interval against the prospective analysis alone.", "Polygon", _build_space_time_clusters, _min_space_time_clusters,
             time_column="end"),
    LayerDef(R.CO_MISSING_GROUPS.layer, "Co-missing groups",
             "Lines joining the usual found-at locations of children who go missing together.",
             "LineString", _build_co_missing, _min_co_missing, time_column="last",
             queryables=("group_id", "size")),
    LayerDef("placements", "Placements (restricted)",
             "Children's home and placement locations: analysts only.", "Point",
             _build_placements, _only_full,
             queryables=("placement_type", "care_status", "responsible_authority",
                         "placement_ward")),
]}


# -- prepared data -------------------------------------------------------------------------------

def _json_ready(df: pd.DataFrame) -> list[dict]:
    out = pd.DataFrame(index=df.index)
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            s = s.dt.strftime("%Y-%m-%dT%H:%M:%SZ") if getattr(s.dt, "tz", None) is None \
                else s.dt.tz_convert("UTC").dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif s.dtype == object:
            s = s.map(lambda v: list(v) if isinstance(v, (np.ndarray, tuple, set)) else v)
        out[c] = s.astype(object).where(s.notna() if s.dtype != object else
                                        s.map(lambda v: v is not None and not (isinstance(v, float) and np.isnan(v))), None)
    recs = out.to_dict("records")
    for r in recs:
        for k, v in r.items():
            if isinstance(v, np.generic):
                r[k] = v.item()
            elif isinstance(v, pd.Timestamp):
                r[k] = v.isoformat()
    return recs


def _json_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Columns as JSON-ready values: date-times as ISO strings, arrays as lists, NaN as None."""
    out = {}
    for c in df.columns:
        s = df[c]
        if pd.api.types.is_datetime64_any_dtype(s):
            if getattr(s.dt, "tz", None) is not None:
                s = s.dt.tz_convert("UTC")
            s = s.dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif s.dtype == object:
            first = s.dropna().head(1)
            if len(first) and isinstance(first.iloc[0], (np.ndarray, tuple, set)):
                s = s.map(lambda v: list(v) if isinstance(v, (np.ndarray, tuple, set)) else v)
        out[c] = s.astype(object).where(s.notna(), None)
    return pd.DataFrame(out, index=df.index)


def _row_json(frame: pd.DataFrame) -> list[str]:
    """One JSON object string per row (pandas' C encoder)."""
    if frame.shape[1] == 0:
        return ["{}"] * len(frame)
    text = frame.to_json(orient="records", lines=True, force_ascii=False, date_format="iso")
    rows = text.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    return rows


@dataclass
class Prepared:
    layer: LayerDef
    view: str
    columns: list[str]
    features: list[str]            # GeoJSON Feature strings (WGS84)
    bounds: np.ndarray             # (N, 4) WGS84
    times: np.ndarray              # int64 ns, EMPTY_TIME when unknown
    merc: np.ndarray               # shapely geometries, EPSG:3857
    merc_bounds: np.ndarray        # (N, 4)
    frame: pd.DataFrame            # JSON-ready properties, one row per feature
    extent: list[float] | None
    interval: list | None
    table: str | None = None
    #: the store fingerprint the layer was built from (part of every tile cache key)
    stamp: str = ""
    #: the GeoJSON type of the features (the declared one when there are none)
    geometry_type: str = "Geometry"
    _types: dict | None = None

    def __len__(self):
        return len(self.features)

    def column_types(self) -> dict[str, str]:
        """JSON Schema type of each property: string, integer, number or boolean (a count
        suppressed as "<5" in a minimised view makes its column a string)."""
        if self._types is None:
            self._types = {c: JSON_TYPES[_col_type(self.frame[c])] for c in self.columns}
        return self._types

    def queryables(self) -> list[str]:
        """The layer's queryable properties present in this view."""
        return [q for q in self.layer.queryables if q in self.columns]

    def props_at(self, idx) -> list[dict]:
        return self.frame.iloc[idx].to_dict("records") if len(idx) else []


def prepare(layer: LayerDef, gdf: gpd.GeoDataFrame, view: str) -> Prepared:
    gdf = gdf[~gdf.geometry.isna() & ~gdf.geometry.is_empty].reset_index(drop=True)
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    wgs = gdf.to_crs(4326) if len(gdf) else gdf.set_crs(BNG, allow_override=True)
    # RFC 7946 s3.1.6: exterior rings counter-clockwise, holes clockwise
    geoms = shapely.orient_polygons(shapely.set_precision(wgs.geometry.to_numpy(), 1e-6),
                                    exterior_cw=False) if len(gdf) else np.array([])
    merc = gdf.to_crs(3857).geometry.to_numpy() if len(gdf) else np.array([])
    frame = _json_frame(pd.DataFrame(gdf[cols])).reset_index(drop=True)
    pj = _row_json(frame) if len(gdf) else []
    gj = shapely.to_geojson(geoms) if len(gdf) else []
    features = [f'{{"type":"Feature","id":{i + 1},"geometry":{g},"properties":{p}}}'
                for i, (g, p) in enumerate(zip(gj, pj))]
    bounds = shapely.bounds(geoms) if len(gdf) else np.zeros((0, 4))
    mb = shapely.bounds(merc) if len(gdf) else np.zeros((0, 4))
    times = np.full(len(gdf), EMPTY_TIME, dtype=np.int64)
    interval = None
    if layer.time_column and layer.time_column in gdf and len(gdf):
        t = pd.to_datetime(gdf[layer.time_column], utc=True, errors="coerce")
        ok = t.notna().to_numpy()
        times[ok] = t[ok].astype("int64").to_numpy() if t.dt.unit == "ns" else \
            t[ok].dt.as_unit("ns").astype("int64").to_numpy()
        if ok.any():
            interval = [t[ok].min().isoformat(), t[ok].max().isoformat()]
    extent = None
    if len(gdf):
        extent = [float(bounds[:, 0].min()), float(bounds[:, 1].min()),
                  float(bounds[:, 2].max()), float(bounds[:, 3].max())]
    return Prepared(layer, view, cols, features, bounds, times, merc, mb, frame, extent, interval,
                    geometry_type=geometry_type(geoms, layer.geometry_type))


def geometry_type(geoms, declared: str) -> str:
    """The one GeoJSON type of ``geoms``: a mix of a type and its Multi form is the Multi form,
    any other mix "Geometry"; ``declared`` when there are none."""
    kinds = set(shapely.get_type_id(geoms).tolist()) if len(geoms) else set()
    if not kinds:
        return declared
    names = {_TYPE_NAMES[k] for k in kinds}
    if len(names) == 1:
        return names.pop()
    multi = {n if n.startswith("Multi") else "Multi" + n for n in names}
    return multi.pop() if len(multi) == 1 else "Geometry"


_TYPE_NAMES = {0: "Point", 1: "LineString", 2: "LineString", 3: "Polygon", 4: "MultiPoint",
               5: "MultiLineString", 6: "MultiPolygon", 7: "GeometryCollection"}


def _pg_type(values: list) -> str:
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return "text"
    if kinds <= {bool}:
        return "boolean"
    if kinds <= {int}:
        return "bigint"
    if kinds <= {int, float}:
        return "double precision"
    return "text"


#: PostgreSQL column type -> JSON Schema type (queryables, TileJSON fields)
JSON_TYPES = {"text": "string", "bigint": "integer", "double precision": "number",
              "boolean": "boolean"}


def _col_type(values: pd.Series) -> str:
    """The PostgreSQL type of a JSON-ready property column (text when mixed, e.g. "<5")."""
    vals = values.dropna()
    if len(vals) == 0:
        return "text"
    if vals.map(lambda v: isinstance(v, (list, dict))).any():
        return "text"
    return _pg_type([v.item() if isinstance(v, np.generic) else v for v in vals.drop_duplicates().head(10_000)])


def write_postgis(engine: sa.Engine, prep: Prepared, stamp: str = "") -> str:
    """Write a prepared view to ``api_layer_<id>_<view>`` (Web Mercator, GiST) for ST_AsMVT.

    One transaction under an advisory lock, so several workers never write the same table at
    once; the table comment holds ``stamp`` (the store fingerprint) and a table already written
    for the same stamp is left as it is (builds are deterministic)."""
    name = f"api_layer_{prep.layer.id}_{prep.view}"
    tmp = name + "_new"
    cols = prep.columns
    if stamp:
        stamp = f"{stamp}:{len(prep)}:" + hashlib.sha1("|".join(cols).encode()).hexdigest()[:12]
    raw = engine.raw_connection()
    try:
        drv = raw.driver_connection
        with drv.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (name,))
            cur.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", (name,))
            if stamp and cur.fetchone()[0] == stamp:
                drv.commit()
                return name
            coltypes = {c: _col_type(prep.frame[c]) for c in cols}
            cur.execute(f'DROP TABLE IF EXISTS "{tmp}"')
            defs = ", ".join([f'"{c}" {coltypes[c]}' for c in cols])
            cur.execute(f'CREATE TABLE "{tmp}" (fid integer PRIMARY KEY'
                        f'{", " + defs if defs else ""}, geom geometry(Geometry, 3857))')
            if len(prep):
                wkb = shapely.to_wkb(shapely.set_srid(prep.merc, 3857), hex=True, include_srid=True)
                collist = ", ".join(["fid"] + [f'"{c}"' for c in cols] + ["geom"])
                with cur.copy(f'COPY "{tmp}" ({collist}) FROM STDIN') as copy:
                    values = [prep.frame[c].tolist() for c in cols]
                    for i, g in enumerate(wkb):
                        row = [i + 1]
                        for c, vals in zip(cols, values):
                            v = vals[i]
                            if isinstance(v, np.generic):
                                v = v.item()
                            if isinstance(v, (list, dict)):
                                v = json.dumps(v)
                            elif v is not None and coltypes[c] == "text":
                                v = str(v)
                            row.append(v)
                        row.append(g)
                        copy.write_row(row)
            cur.execute(f'CREATE INDEX "{tmp}_geom" ON "{tmp}" USING gist (geom)')
            cur.execute(f'DROP TABLE IF EXISTS "{name}"')
            cur.execute(f'ALTER TABLE "{tmp}" RENAME TO "{name}"')
            cur.execute(f'ALTER INDEX "{tmp}_geom" RENAME TO "{name}_geom"')
            if stamp:
                cur.execute(f'COMMENT ON TABLE "{name}" IS ' + "'" + stamp.replace("'", "") + "'")
            cur.execute(f'ANALYZE "{name}"')
        drv.commit()
    finally:
        raw.close()
    return name


# -- the cache ---------------------------------------------------------------------------------

@dataclass
class LayerCache:
    store: StoreLike
    settings: object
    minimiser: Minimiser
    refresh_seconds: float = 30.0
    _data: dict = field(default_factory=dict)
    _fingerprint: object = None
    _checked: float = 0.0
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _frames: dict = field(default_factory=dict)
    tile_cache_size: int = 20_000
    tile_cache_bytes: int = 512 * 2**20
    _tiles: "OrderedDict" = field(default_factory=lambda: OrderedDict())
    _tile_total: int = 0
    #: guards only the tile LRU (tile_put runs on the event loop: it must never wait for the
    #: layer lock, which a store check or rebuild holds for a long time)
    _tile_lock: threading.Lock = field(default_factory=threading.Lock)
    #: called after every build (the service warms its tile cache from it)
    after_build: Callable | None = None

    @property
    def postgis(self) -> bool:
        return self.store.engine.dialect.name == "postgresql"

    def fingerprint(self):
        q = {"runs": "SELECT count(*), max(id) FROM ingest_runs",
             "results": "SELECT count(*), max(created_at) FROM results",
             "identity": "SELECT count(*) FROM identity_links",
             "geocodes": "SELECT count(*), max(updated_at) FROM geocodes",
             "episodes": "SELECT count(*), max(id) FROM episodes",
             # erasures delete rows without a new ingest run
             "children": "SELECT count(*) FROM children",
             "persons": "SELECT count(*) FROM persons",
             "links": "SELECT count(*) FROM links",
             "rhi": "SELECT count(*) FROM return_interviews"}
        out = {}
        with self.store.engine.connect() as conn:
            for k, sql in q.items():
                try:
                    out[k] = tuple(str(v) for v in conn.exec_driver_sql(sql).one())
                except sa.exc.SQLAlchemyError:   # no such table yet
                    conn.rollback()
                    out[k] = None
        return out

    def build_all(self) -> None:
        with self._lock:
            fp = self.fingerprint()
            stamp = tilesets.store_stamp(fp)
            data = {}
            for layer in LAYERS.values():
                t0 = time.perf_counter()
                full = layer.build(self.store, self.settings)
                for view in VIEWS:
                    prep = prepare(layer, layer.minimise(full, view, self.minimiser), view)
                    prep.stamp = stamp
                    if self.postgis:
                        prep.table = write_postgis(self.store.engine, prep, stamp)
                    data[(layer.id, view)] = prep
                log.info("layer %s: %d features in %.2fs", layer.id, len(full), time.perf_counter() - t0)
            # the pre-generalised tiles of these views (kept when the run already wrote them)
            tilesets.ensure(self.store.engine, data, tilesets.points_stamp(fp), self.minimiser,
                            self.settings)
            self._data = data
            self._frames = {}
            with self._tile_lock:
                self._tiles, self._tile_total = OrderedDict(), 0
            self._fingerprint = fp
            self._checked = time.monotonic()
            # the prepared layers are long-lived: keep them out of the cyclic GC's full passes
            gc.collect()
            gc.freeze()
        if self.after_build is not None:
            self.after_build(self)

    def is_fresh(self) -> bool:
        """True when serving from memory needs no store check (safe on the event loop)."""
        return bool(self._data) and time.monotonic() - self._checked < self.refresh_seconds

    def refresh_soon(self) -> None:
        """Start one background store check (and rebuild when it changed) unless one is running.

        Hot routes call this instead of checking inline when their data are merely due for a
        check, so requests keep being served from memory while the check (several count(*)
        queries, ~0.2 s at a million episodes) runs, instead of all queueing behind it."""
        with self._lock:
            if getattr(self, "_refreshing", False):
                return
            self._refreshing = True

        def run():
            try:
                self.ensure_fresh()
            except Exception:  # noqa: BLE001 - boundary: a background thread reports, never dies silently
                log.exception("background layer refresh failed")
            finally:
                self._refreshing = False

        threading.Thread(target=run, name="layer-refresh", daemon=True).start()

    @staticmethod
    def tile_key(prep: Prepared, z: int, x: int, y: int, *variant) -> tuple:
        """The tile cache key of a tile of ``prep``: layer, view, the store fingerprint it was
        built from, z/x/y (and a variant such as ``"gzip"``). Never ``id()`` of an object: a
        layer freed and another allocated at the same address must not be served its tiles."""
        return (prep.layer.id, prep.view, prep.stamp, int(z), int(x), int(y), *variant)

    def tile_get(self, key):
        b = self._tiles.get(key)
        if b is not None:
            with contextlib.suppress(KeyError):   # evicted by another request meanwhile
                self._tiles.move_to_end(key)
        return b

    def tile_put(self, key, data: bytes) -> None:
        if self.tile_cache_size <= 0:
            return
        if len(data) > self.tile_cache_bytes:
            return
        with self._tile_lock:
            tiles = self._tiles
            old = tiles.pop(key, None)
            self._tile_total += len(data) - (len(old) if old is not None else 0)
            tiles[key] = data
            # least recently used first, until both the count and the bytes fit
            while len(tiles) > self.tile_cache_size or self._tile_total > self.tile_cache_bytes:
                self._tile_total -= len(tiles.popitem(last=False)[1])

    def ensure_fresh(self) -> None:
        now = time.monotonic()
        if self._data and now - self._checked < self.refresh_seconds:
            return
        with self._lock:
            if self._data and time.monotonic() - self._checked < self.refresh_seconds:
                return
            fp = self.fingerprint()
            self._checked = time.monotonic()
            if not self._data or fp != self._fingerprint:
                self.build_all()

    def get(self, layer_id: str, view: str) -> Prepared:
        self.ensure_fresh()
        return self._data[(layer_id, view)]

    def peek(self, layer_id: str, view: str) -> Prepared | None:
        """The prepared layer when it is in memory and needs no store check, else None (never
        checks or builds: safe on the event loop)."""
        return self._data.get((layer_id, view)) if self.is_fresh() else None

    def frame(self, name: str):
        """A store frame, cached until the store changes (``None`` when unavailable)."""
        self.ensure_fresh()
        key = ("frame", name)
        if key not in self._frames:
            self._frames[key] = _stored(lambda: self.store.frame(name))
        return self._frames[key]

    def result(self, name: str):
        self.ensure_fresh()
        key = ("result", name)
        if key not in self._frames:
            self._frames[key] = _stored(lambda: self.store.read_result(name))
        return self._frames[key]

    def cached(self, key: str, build: Callable):
        self.ensure_fresh()
        if ("x", key) not in self._frames:
            with self._lock:
                if ("x", key) not in self._frames:
                    self._frames[("x", key)] = build()
        return self._frames[("x", key)]

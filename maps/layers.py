"""folium layers for Wayfinder maps: pure functions from frames to layers, and maps to HTML.

Every function takes the frames of docs/FRAMES.md (British National Grid, EPSG:27700, in
``easting``/``northing`` or ``*_e``/``*_n`` columns) or the analysis results (GeoDataFrames in any
stated CRS) and returns a folium element; :func:`map_html` renders a map to a standalone page with
all JavaScript and CSS inlined from the vendored copies (:mod:`maps.assets`). No tile server is
needed: the base map is the ward boundaries unless ``tile_url`` is given.

Many points (100k found-at events) are drawn by :class:`PointsCanvas`, one canvas for all points
with grid hit-testing for popups, never a marker per point (folium issues #416, #1399).

Example
-------
>>> import pandas as pd
>>> ev = pd.DataFrame({"easting": [407000.0], "northing": [287000.0]})
>>> lat, lon = to_wgs84(ev["easting"], ev["northing"])
>>> round(float(lat[0]), 2), round(float(lon[0]), 2)
(52.48, -1.9)
"""

from __future__ import annotations

import base64
import html as _html
import json
import math
from pathlib import Path
from typing import Callable, Iterable, Sequence

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement
from folium.template import Template
from pyproj import Transformer

from geo.stats.getis_ord import GI_BIN_LABELS, GI_TEST
from maps import assets

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "data" / "reference" / "boundaries"
BIRMINGHAM = (52.48, -1.89)

_TO_WGS84 = Transformer.from_crs(27700, 4326, always_xy=True)

#: Gi* classes (gi_bin: sign x the BH q-value of the permutation p, geo.stats.getis_ord) -> colour
#: and the label a person reads (the test and the q it earned, never "confidence").
GI_CLASSES = {b: (c, GI_BIN_LABELS[b]) for b, c in {
    3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7", 0: "#f7f7f7", -1: "#d1e5f0", -2: "#67a9cf", -3: "#2166ac",
}.items()}

#: premises_type -> short glyph on the icon (icon by type).
PREMISES_GLYPHS = {
    "pub": "P", "bar": "B", "nightclub": "N", "restaurant": "R", "takeaway": "T", "cafe": "C",
    "hotel": "H", "bnb": "BB", "serviced_apartment": "SA", "shop": "S", "off_licence": "OL",
    "shopping_centre": "SC", "leisure": "L", "gambling": "G", "taxi_rank": "TX",
    "taxi_operator": "TO", "park": "PK", "other": "?",
}

_SCORE_COLOURS = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]
_GROUP_COLOURS = ["#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d",
                  "#666666", "#1f78b4", "#33a02c"]
_KIND_COLOURS = {"found_at": "#b2182b", "last_seen": "#2166ac", "rhi_place": "#7b3294"}

Count = Callable[[object], str]


def plain_count(v: object) -> str:
    """Format a count as is (analyst view)."""
    try:
        return str(int(v))
    except (TypeError, ValueError):
        return "" if v is None else str(v)


def esc(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    return _html.escape(str(v))


# ---------------------------------------------------------------- coordinates and boundaries

def to_wgs84(easting: Sequence[float], northing: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """British National Grid metres (EPSG:27700) -> (latitude, longitude) degrees WGS84, vectorised."""
    lon, lat = _TO_WGS84.transform(np.asarray(easting, dtype=float), np.asarray(northing, dtype=float))
    return np.asarray(lat), np.asarray(lon)


def _xy_columns(df: pd.DataFrame, prefix: str | None = None) -> tuple[str, str]:
    for e, n in ((f"{prefix}_e", f"{prefix}_n") if prefix else ("", ""), ("easting", "northing"),
                 ("found_e", "found_n")):
        if e and e in df.columns and n in df.columns:
            return e, n
    raise KeyError("frame has no easting/northing columns")


def with_latlon(df: pd.DataFrame, prefix: str | None = None) -> pd.DataFrame:
    """Copy of ``df`` with ``lat``/``lon`` from its BNG columns; rows without coordinates dropped."""
    if "lat" in df.columns and "lon" in df.columns:
        return df.dropna(subset=["lat", "lon"]).copy()
    try:
        e, n = _xy_columns(df, prefix)
    except KeyError:
        if isinstance(df, gpd.GeoDataFrame) and df.geometry is not None and len(df):
            g = _wgs84(df[~df.geometry.is_empty & df.geometry.notna()])
            c = g.geometry if (g.geometry.geom_type == "Point").all() else g.geometry.representative_point()
            return pd.DataFrame(g.drop(columns=g.geometry.name)).assign(lat=c.y.to_numpy(), lon=c.x.to_numpy())
        if df.empty:
            return df.assign(lat=pd.Series(dtype=float), lon=pd.Series(dtype=float))
        raise
    out = df.dropna(subset=[e, n]).copy()
    out["lat"], out["lon"] = to_wgs84(out[e].to_numpy(), out[n].to_numpy())
    return out


def load_boundaries(level: str = "ward", path: str | Path | None = None) -> gpd.GeoDataFrame:
    """The bundled Birmingham wards (2013) or LSOAs (2011) as area_code, area_name, geometry (WGS84)."""
    if path is None:
        path = REFERENCE_DIR / ("birmingham_wards_2013.geojson" if level == "ward"
                                else "birmingham_lsoa_2011.geojson")
    g = gpd.read_file(path)
    code = next(c for c in g.columns if c.upper() in ("AREA_CODE", "WD13CD", "LSOA11CD", "CODE")
                or c.upper().endswith("CD"))
    name = next(c for c in g.columns if c.upper() in ("AREA_NAME", "WD13NM", "LSOA11NM", "NAME")
                or c.upper().endswith("NM"))
    g = g.rename(columns={code: "area_code", name: "area_name"})[["area_code", "area_name", "geometry"]]
    if g.crs is None:
        g = g.set_crs(4326)
    return g.to_crs(4326)


def _wgs84(gdf: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    if gdf.crs is None:
        # A GeoDataFrame without a CRS: decide by the coordinates' magnitude (BNG metres vs degrees).
        minx = gdf.total_bounds[0] if len(gdf) else 0
        gdf = gdf.set_crs(27700 if abs(minx) > 1000 else 4326)
    return gdf.to_crs(4326)


def _jsonable(gdf: gpd.GeoDataFrame, cols: Iterable[str]) -> dict:
    """GeoJSON of ``gdf`` with only ``cols`` as properties, values made JSON-safe."""
    keep = [c for c in cols if c in gdf.columns]
    g = gdf[keep + ["geometry"]].copy()
    for c in keep:
        if pd.api.types.is_datetime64_any_dtype(g[c]):
            g[c] = g[c].dt.strftime("%Y-%m-%d")
        elif g[c].dtype == object:
            g[c] = g[c].map(lambda v: v if isinstance(v, (str, int, float, bool)) or v is None else str(v))
    return json.loads(g.to_json(na="null", drop_id=True))


# ---------------------------------------------------------------- the map

def base_map(boundaries: gpd.GeoDataFrame | None = None, tile_url: str | None = None,
             tile_attribution: str | None = None, height: str = "100%", name: str = "Wards") -> folium.Map:
    """A folium map of Birmingham with no tile server: the boundaries are the base map.

    ``tile_url`` (e.g. a local tile server ``http://localhost:8080/{z}/{x}/{y}.png``) adds tiles
    underneath when configured. The attribution lines of data/reference/SOURCES.md are in the
    map credits.
    """
    m = folium.Map(location=BIRMINGHAM, zoom_start=11, tiles=None, control_scale=True,
                   prefer_canvas=True, height=height)
    if tile_url:
        folium.TileLayer(tiles=tile_url, attr=tile_attribution or "configured tiles", name="Tiles",
                         overlay=False, control=True).add_to(m)
    b = _wgs84(boundaries) if boundaries is not None else load_boundaries("ward")
    folium.GeoJson(
        _jsonable(b, ["area_code", "area_name"]), name=name, overlay=True,
        control=False,
        style_function=lambda f: {"color": "#555", "weight": 1, "fillColor": "#fbfbf8", "fillOpacity": 0.6},
        tooltip=folium.GeoJsonTooltip(["area_name"], labels=False),
    ).add_to(m)
    m.get_root().header.add_child(folium.Element(
        "<style>.leaflet-container{background:#e9eef2}.leaflet-control-attribution{font-size:9px;max-width:70%}.wf-legend i{display:inline-block;width:14px;"
        "height:10px;margin-right:4px;border:1px solid #999}</style>"))
    _Attribution(assets.ATTRIBUTION).add_to(m)
    if len(b):
        minx, miny, maxx, maxy = b.total_bounds
        m.fit_bounds([[miny, minx], [maxy, maxx]])
    return m


class _Attribution(MacroElement):
    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.attributionControl.setPrefix(false);
        {{ this._parent.get_name() }}.attributionControl.addAttribution({{ this.text|tojson }});
        {% endmacro %}""")

    def __init__(self, text: str):
        super().__init__()
        self._name = "Attribution"
        self.text = text


class _WFScript(folium.map.Layer):
    """Base for layers drawn by maps/static/wayfinder-layers.js (inlined or served locally)."""

    default_js = [("wayfinder_layers", assets.LOCAL_SCHEME + "wayfinder-layers.js")]

    def render(self, **kwargs):
        figure = self.get_root()
        for name, url in self.default_js:
            figure.header.add_child(folium.elements.JavascriptLink(url), name=name)
        super().render(**kwargs)


class PointsCanvas(_WFScript):
    """Many points on one canvas (WF.pointsLayer), with popups by grid hit-testing."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = WF.pointsLayer({{ this.data|tojson }}, {{ this.options|tojson }});
        {% endmacro %}""")

    def __init__(self, data: dict, name: str, colors: list[str], radius: float = 3, show: bool = True):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "PointsCanvas"
        self.data = data
        self.options = {"colors": colors, "radius": radius}


class TimeHeat(_WFScript):
    """leaflet.heat layer with a month slider (WF.timeHeat)."""

    default_js = _WFScript.default_js + [("leaflet_heat", assets.LOCAL_SCHEME + "vendor/leaflet-heat.js")]
    _template = Template("""
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = WF.timeHeat({{ this.data|tojson }}, {{ this.options|tojson }});
        {% endmacro %}""")

    def __init__(self, data: dict, name: str, show: bool = False):
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "TimeHeat"
        self.data = data
        self.options = {"title": name}


class Legend(_WFScript):
    _template = Template("""
        {% macro script(this, kwargs) %}
        WF.legend({{ this.html|tojson }}, {{ this.position|tojson }}).addTo({{ this._parent.get_name() }});
        {% endmacro %}""")

    def __init__(self, html: str, position: str = "bottomright"):
        super().__init__(name="legend", overlay=False, control=False, show=False)
        self._name = "Legend"
        self.html = html
        self.position = position


# ---------------------------------------------------------------- layers

def hotspot_layer(hotspots: gpd.GeoDataFrame, name: str = "Ward hot spots (Gi*)",
                  count: Count = plain_count, show: bool = True) -> folium.FeatureGroup:
    """Gi* choropleth: one polygon per area coloured by ``gi_bin`` (-3..3), tooltip with the figures.

    ``hotspots`` has the columns of ``area_hotspots_ward``/``area_hotspots_lsoa`` (area_code,
    area_name, episodes, children, gi_z, gi_p, gi_q, gi_bin, lisa_type ...), any CRS.
    ``count`` formats counts (role minimisation: ``"<5"``).
    """
    g = _wgs84(hotspots).copy()
    if "gi_bin" not in g.columns:
        g["gi_bin"] = 0
    g["gi_bin"] = pd.to_numeric(g["gi_bin"], errors="coerce").fillna(0).clip(-3, 3).astype(int)
    g["class"] = g["gi_bin"].map(lambda b: GI_CLASSES[b][1])
    for c in ("episodes", "children"):
        if c in g.columns:
            g[c + "_txt"] = g[c].map(count)
    for c in ("gi_z", "gi_q"):
        if c in g.columns:
            g[c] = pd.to_numeric(g[c], errors="coerce").round(3)
    fields = [c for c in ("area_name", "class", "episodes_txt", "children_txt", "gi_z", "gi_q", "lisa_type")
              if c in g.columns]
    aliases = {"area_name": "Area", "class": "Gi* class", "episodes_txt": "Episodes",
               "children_txt": "Children", "gi_z": "Gi* z", "gi_q": "q (FDR)", "lisa_type": "Local Moran"}
    fg = folium.FeatureGroup(name=name, overlay=True, control=True, show=show)
    folium.GeoJson(
        _jsonable(g, fields + ["gi_bin", "area_code"]),
        style_function=lambda f: {"fillColor": GI_CLASSES[int(f["properties"].get("gi_bin") or 0)][0],
                                  "color": "#444", "weight": 0.8, "fillOpacity": 0.72},
        highlight_function=lambda f: {"weight": 3, "color": "#000"},
        tooltip=folium.GeoJsonTooltip(fields, aliases=[aliases[f] for f in fields], sticky=True),
        popup=folium.GeoJsonPopup(fields, aliases=[aliases[f] for f in fields]),
    ).add_to(fg)
    return fg


def hotspot_legend(title: str = "Gi* hot and cold spots") -> Legend:
    rows = "".join(f'<div><i style="background:{c}"></i>{esc(label)}</div>'
                   for _, (c, label) in sorted(GI_CLASSES.items(), reverse=True))
    return Legend(f"<b>{esc(title)}</b>{rows}<div style='max-width:16em;font-size:85%'>{esc(GI_TEST)}</div>")


_DTYPES = (("u8", np.uint8), ("u16", np.uint16), ("i32", np.int32))


def _b64(a: np.ndarray) -> dict:
    """An integer array as the smallest of u8/u16/i32 (little-endian), base64: ``{"b", "t"}``."""
    a = np.asarray(a)
    lo, hi = (int(a.min()), int(a.max())) if a.size else (0, 0)
    for tag, dt in _DTYPES:
        info = np.iinfo(dt)
        if info.min <= lo and hi <= info.max:
            raw = np.ascontiguousarray(a.astype(np.dtype(dt).newbyteorder("<"))).tobytes()
            return {"b": base64.b64encode(raw).decode(), "t": tag}
    raise ValueError("values do not fit in int32")


def points_data(events: pd.DataFrame, popup: Sequence[str] = ("kind", "at", "text", "precision", "person_id"),
                kinds: Sequence[str] = ("found_at", "last_seen", "rhi_place")) -> dict:
    """Compact, vectorised encoding of many points for :class:`PointsCanvas`.

    Coordinates are WGS84 in 1e-5 degree steps (~1 m) from the minimum; ``cls`` (kind index)
    colours the points; ``t`` (days since 1970) allows time filtering; each ``popup`` column becomes
    dictionary codes plus its distinct values. Integer columns are base64 of the smallest
    little-endian type that holds them (u8, u16, i32: :func:`_b64`),
    so a popup is built on click instead of shipping 100k HTML strings.
    """
    ev = with_latlon(events)
    scale = 100_000
    lat0 = float(np.floor(ev["lat"].min() * 100) / 100) if len(ev) else 0.0
    lng0 = float(np.floor(ev["lon"].min() * 100) / 100) if len(ev) else 0.0
    data: dict = {"enc": "b64", "n": int(len(ev)), "scale": scale, "lat0": lat0, "lng0": lng0,
                  "lat": _b64(np.round((ev["lat"].to_numpy() - lat0) * scale).astype(np.int32)),
                  "lng": _b64(np.round((ev["lon"].to_numpy() - lng0) * scale).astype(np.int32))}
    if "kind" in ev.columns:
        idx = {k: i for i, k in enumerate(kinds)}
        data["cls"] = _b64(ev["kind"].map(idx).fillna(0).to_numpy().astype(np.uint8))
    if "at" in ev.columns:
        at = pd.to_datetime(ev["at"], utc=True, errors="coerce")
        days = ((at - pd.Timestamp("1970-01-01", tz="UTC")).dt.days).fillna(-1).to_numpy().astype(np.int32)
        data["t"] = _b64(days)
    cols = []
    for c in popup:
        if c not in ev.columns:
            continue
        v = ev[c]
        if c == "at" or pd.api.types.is_datetime64_any_dtype(v):
            v = pd.to_datetime(v, utc=True, errors="coerce").dt.strftime("%Y-%m-%d %H:%M")
        elif c == "kind":
            v = v.astype(str).str.replace("_", " ")
        codes, uniques = pd.factorize(v.astype(object).where(v.notna(), None), use_na_sentinel=True)
        values = [None if u is None else str(u) for u in uniques] + [None]
        codes = np.where(codes < 0, len(values) - 1, codes).astype(np.int32)
        cols.append({"name": c, "codes": _b64(codes), "values": values})
    if cols:
        data["cols"] = cols
    return data


def event_label(ev: pd.DataFrame) -> pd.Series:
    """Popup HTML for one place event (analyst view): kind, date, text, precision."""
    kind = ev.get("kind", pd.Series("", index=ev.index)).fillna("").astype(str).str.replace("_", " ")
    at = pd.to_datetime(ev.get("at", pd.Series(pd.NaT, index=ev.index)), utc=True, errors="coerce")
    day = at.dt.strftime("%Y-%m-%d").fillna("")
    text = ev.get("text", pd.Series("", index=ev.index)).fillna("").astype(str).map(_html.escape)
    prec = ev.get("precision", pd.Series("", index=ev.index)).fillna("").astype(str)
    return "<b>" + kind + "</b> " + day + "<br>" + text + "<br><small>precision: " + prec + "</small>"


def found_at_layer(events: pd.DataFrame, name: str = "Found-at points", labels: bool = True,
                   show: bool = True) -> PointsCanvas:
    """Place events (``place_events`` frame) as canvas points coloured by kind, popups on click
    (kind, date, location text, precision, person; ``labels=False``: no popups)."""
    data = points_data(events, popup=("kind", "at", "text", "precision", "person_id") if labels else ())
    return PointsCanvas(data, name=name, colors=list(_KIND_COLOURS.values()), show=show)


def heat_layer(events: pd.DataFrame, name: str = "Heat map (by month)", show: bool = False) -> TimeHeat:
    """Heat map of place events with a month slider; ``at`` gives the month."""
    ev = with_latlon(events)
    at = pd.to_datetime(ev["at"], utc=True, errors="coerce") if "at" in ev.columns else pd.Series(
        pd.NaT, index=ev.index)
    month = at.dt.strftime("%Y-%m").fillna("unknown")
    months = sorted(month.unique().tolist())
    idx = {m: i for i, m in enumerate(months)}
    data = {"lat": ev["lat"].round(5).tolist(), "lng": ev["lon"].round(5).tolist(),
            "month": month.map(idx).astype(int).tolist(), "months": months}
    return TimeHeat(data, name=name, show=show)


def cluster_hulls(events: pd.DataFrame, labels: Sequence[int], buffer_m: float = 75.0) -> gpd.GeoDataFrame:
    """Convex hull (buffered, metres in EPSG:27700) of the points of each cluster label (-1 = noise)."""
    e, n = _xy_columns(events)
    g = gpd.GeoDataFrame(events.assign(cluster_id=list(labels)),
                         geometry=gpd.points_from_xy(events[e], events[n]), crs=27700)
    g = g[g["cluster_id"] >= 0]
    person = "person_id" if "person_id" in g.columns else None
    agg = g.dissolve("cluster_id", aggfunc={e: "size"} if person is None else {e: "size", person: "nunique"})
    agg = agg.rename(columns={e: "episodes", person or "": "children"})
    agg["geometry"] = agg.geometry.convex_hull.buffer(buffer_m)
    return agg.reset_index()


def cluster_layer(clusters: gpd.GeoDataFrame, name: str = "Found-at clusters", count: Count = plain_count,
                  premises_names: dict | None = None, show: bool = True) -> folium.FeatureGroup:
    """found_at_clusters as hulls (polygons) or, for point geometries, circles sized by episodes."""
    g = _wgs84(clusters).copy()
    fg = folium.FeatureGroup(name=name, overlay=True, control=True, show=show)
    for _, r in g.iterrows():
        near = r.get("nearest_premises_id")
        near_txt = (premises_names or {}).get(near, near) if near is not None else ""
        status = r.get("status") if isinstance(r.get("status"), str) else "descriptive cluster (not tested)"
        html = (f"<b>Cluster {esc(r.get('cluster_id'))}</b>: {esc(status)}"
                + (f" (q = {float(r.get('q_value')):.3f})" if pd.notna(r.get("q_value", np.nan)) else "")
                + f"<br>episodes: {esc(count(r.get('episodes')))}"
                f"<br>children: {esc(count(r.get('children')))}"
                f"<br>first seen: {esc(_day(r.get('first_seen')))}<br>last seen: {esc(_day(r.get('last_seen')))}"
                + (f"<br>nearest premises: {esc(near_txt)}" if near_txt else ""))
        geom = r.geometry
        if geom is None or geom.is_empty:
            continue
        concern = status == "location of concern"  # geo.stats.clusters.LOCATION_OF_CONCERN: q < 0.05
        line, fill = ("#6a3d9a", "#cab2d6") if concern else ("#888888", "#dddddd")
        if geom.geom_type in ("Point",):
            eps = float(r.get("episodes") or 1)
            folium.CircleMarker([geom.y, geom.x], radius=6 + 3 * math.sqrt(eps), color=line,
                                fill=True, fill_opacity=0.35, popup=folium.Popup(html, max_width=300)).add_to(fg)
        else:
            folium.GeoJson(geom.__geo_interface__, style_function=lambda f, line=line, fill=fill, concern=concern: {
                "color": line, "weight": 2 if concern else 1, "fillColor": fill, "fillOpacity": 0.35,
                "dashArray": None if concern else "4 4"},
                popup=folium.Popup(html, max_width=300)).add_to(fg)
    return fg


def _day(v: object) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    try:
        t = pd.Timestamp(v)
        return "" if pd.isna(t) else t.strftime("%Y-%m-%d")
    except (TypeError, ValueError):
        return str(v)


def score_colour(score: float, lo: float, hi: float) -> str:
    """Colour (YlOrRd, 5 classes) of a score within [lo, hi]."""
    if not np.isfinite(score) or hi <= lo:
        return _SCORE_COLOURS[-1]
    k = int(min(4, max(0, (score - lo) / (hi - lo) * 5)))
    return _SCORE_COLOURS[k]


def premises_icon(premises_type: str, colour: str, rank: object = None) -> folium.DivIcon:
    glyph = PREMISES_GLYPHS.get(str(premises_type), "?")
    return folium.DivIcon(
        html=(f'<div class="wf-prem" title="{esc(premises_type)}" style="background:{colour};border:2px solid #333;'
              f'border-radius:50%;width:24px;height:24px;box-sizing:border-box;display:flex;align-items:center;'
              f'justify-content:center;font:bold 10px sans-serif;color:#000">{esc(glyph)}</div>'),
        icon_size=(24, 24), icon_anchor=(12, 12), class_name="wf-prem-icon")


def premises_popup(r: pd.Series, count: Count = plain_count) -> str:
    def num(v, fmt="{:.3f}"):
        try:
            return fmt.format(float(v))
        except (TypeError, ValueError):
            return ""
    return (f"<div class='wf-premises-popup'><b>{esc(r.get('rank'))}. {esc(r.get('name'))}</b>"
            f" <small>({esc(str(r.get('premises_type', '')).replace('_', ' '))}, {esc(r.get('premises_id'))})</small><br>"
            f"score {num(r.get('score'), '{:.2f}')}; children {esc(count(r.get('children')))}; "
            f"episodes {esc(count(r.get('episodes')))}; mentions {esc(count(r.get('mentions')))}; "
            f"intelligence {esc(count(r.get('intel')))}<br>p = {num(r.get('p_value'))}, q = {num(r.get('q_value'))}"
            f"<p style='margin:4px 0 0'>{esc(r.get('explanation'))}</p></div>")


def premises_layer(premises: pd.DataFrame, name: str = "Premises of concern", count: Count = plain_count,
                   show: bool = True, locate: pd.DataFrame | None = None) -> folium.FeatureGroup:
    """premises_of_concern: icon glyph by premises_type, colour by score, popup with the explanation.
    Coordinates from its easting/northing (or geometry), else from ``locate`` (the premises frame)."""
    fg = folium.FeatureGroup(name=name, overlay=True, control=True, show=show)
    if premises is None or premises.empty:
        return fg
    if locate is not None and "premises_id" in premises.columns and not {"easting", "northing"} <= set(premises.columns) \
            and not isinstance(premises, gpd.GeoDataFrame):
        xy = locate.drop_duplicates("premises_id").set_index("premises_id")[["easting", "northing"]]
        premises = premises.join(xy, on="premises_id")
    p = with_latlon(premises)
    scores = pd.to_numeric(p.get("score", pd.Series(0.0, index=p.index)), errors="coerce").fillna(0.0)
    lo, hi = float(scores.min()), float(scores.max())
    for (_, r), s in zip(p.iterrows(), scores):
        folium.Marker([r["lat"], r["lon"]], icon=premises_icon(r.get("premises_type"), score_colour(s, lo, hi)),
                      popup=folium.Popup(premises_popup(r, count), max_width=340),
                      tooltip=esc(r.get("name"))).add_to(fg)
    return fg


def premises_legend() -> Legend:
    rows = "".join(f'<div><i style="background:{c}"></i>{lab}</div>'
                   for c, lab in zip(_SCORE_COLOURS[::-1], ["highest score", "", "", "", "lowest score"]))
    glyphs = ", ".join(f"{g} {t.replace('_', ' ')}" for t, g in PREMISES_GLYPHS.items())
    return Legend(f"<b>Premises of concern</b>{rows}<div style='max-width:220px'><small>{esc(glyphs)}</small></div>",
                  position="bottomleft")


def group_places(groups: Sequence[dict], events: pd.DataFrame) -> pd.DataFrame:
    """Locate each co-missing group's shared places: mean position of the members' place events whose
    text is one of the group's ``shared_places`` (or, lacking texts, all the members' found-at events).

    Returns group_id, text, easting, northing, members (count).
    """
    rows = []
    if events is None or events.empty:
        return pd.DataFrame(columns=["group_id", "text", "easting", "northing", "members"])
    ev = events.dropna(subset=["easting", "northing"])
    for g in groups:
        members = set(g.get("members") or [])
        mine = ev[ev["person_id"].isin(members)]
        shared = [s for s in (g.get("shared_places") or []) if s]
        if shared and "text" in mine.columns:
            low = {s.strip().lower() for s in shared}
            sel = mine[mine["text"].fillna("").str.strip().str.lower().isin(low)]
            key = sel["text"].fillna("").str.strip().str.lower()
        else:
            sel = mine[mine.get("kind", pd.Series("found_at", index=mine.index)) == "found_at"]
            key = (sel["easting"] // 100).astype(int).astype(str) + ":" + (sel["northing"] // 100).astype(int).astype(str)
        for k, part in sel.groupby(key):
            rows.append({"group_id": g.get("group_id"), "text": part["text"].iloc[0] if "text" in part else k,
                         "easting": part["easting"].mean(), "northing": part["northing"].mean(),
                         "members": part["person_id"].nunique()})
    return pd.DataFrame(rows, columns=["group_id", "text", "easting", "northing", "members"])


def co_missing_layer(groups: Sequence[dict], events: pd.DataFrame, name: str = "Co-missing groups",
                     count: Count = plain_count, show: bool = True) -> folium.FeatureGroup:
    """Each co-missing group's shared places joined by a line, one colour per group."""
    fg = folium.FeatureGroup(name=name, overlay=True, control=True, show=show)
    places = group_places(groups, events)
    if places.empty:
        return fg
    places = with_latlon(places)
    info = {g.get("group_id"): g for g in groups}
    for i, (gid, part) in enumerate(places.groupby("group_id", sort=False)):
        colour = _GROUP_COLOURS[i % len(_GROUP_COLOURS)]
        g = info.get(gid, {})
        html = (f"<b>Group {esc(gid)}</b><br>members: {esc(count(len(g.get('members') or [])))}"
                f"<br>episodes together: {esc(count(g.get('co_episodes')))}"
                f"<br>{esc(_day(g.get('first')))} to {esc(_day(g.get('last')))}")
        pts = part[["lat", "lon"]].to_numpy().tolist()
        if len(pts) > 1:
            folium.PolyLine(pts, color=colour, weight=3, opacity=0.8, popup=folium.Popup(html, max_width=260)).add_to(fg)
        for _, r in part.iterrows():
            folium.CircleMarker([r["lat"], r["lon"]], radius=7, color=colour, fill=True, fill_opacity=0.8,
                                popup=folium.Popup(html + f"<br>place: {esc(r['text'])}", max_width=260)).add_to(fg)
    return fg


def place_links(events: pd.DataFrame, min_children: int = 2, cell_m: float = 150.0,
                max_edges: int = 300) -> pd.DataFrame:
    """Person-place network projected onto places: two places are linked when at least
    ``min_children`` distinct people were reported at both (places = ``cell_m`` metre grid cells,
    EPSG:27700). Returns from_e, from_n, to_e, to_n, children, strongest first.
    """
    cols = ["from_e", "from_n", "to_e", "to_n", "children"]
    if events is None or events.empty:
        return pd.DataFrame(columns=cols)
    ev = events.dropna(subset=["easting", "northing", "person_id"])
    cell = ((ev["easting"] // cell_m).astype(np.int64) * 1_000_000 + (ev["northing"] // cell_m).astype(np.int64))
    ev = ev.assign(cell=cell)
    centre = ev.groupby("cell")[["easting", "northing"]].mean()
    pc = ev[["person_id", "cell"]].drop_duplicates()
    # only cells visited by >= min_children people can carry an edge of that weight
    busy = pc.groupby("cell")["person_id"].nunique()
    pc = pc[pc["cell"].isin(busy[busy >= min_children].index)]
    pairs = pc.merge(pc, on="person_id")
    pairs = pairs[pairs["cell_x"] < pairs["cell_y"]]
    w = pairs.groupby(["cell_x", "cell_y"])["person_id"].nunique().rename("children").reset_index()
    w = w[w["children"] >= min_children].sort_values("children", ascending=False).head(max_edges)
    out = pd.DataFrame({
        "from_e": centre.loc[w["cell_x"], "easting"].to_numpy(), "from_n": centre.loc[w["cell_x"], "northing"].to_numpy(),
        "to_e": centre.loc[w["cell_y"], "easting"].to_numpy(), "to_n": centre.loc[w["cell_y"], "northing"].to_numpy(),
        "children": w["children"].to_numpy()})
    return out[cols]


def network_overlay(edges: pd.DataFrame, name: str = "Network: places linked by children",
                    count: Count = plain_count, show: bool = False) -> folium.FeatureGroup:
    """Lines between places (from :func:`place_links`), width by the number of children linking them."""
    fg = folium.FeatureGroup(name=name, overlay=True, control=True, show=show)
    if edges is None or edges.empty:
        return fg
    la, lo = to_wgs84(edges["from_e"], edges["from_n"])
    lb, lob = to_wgs84(edges["to_e"], edges["to_n"])
    for a, b, c, d, k in zip(la, lo, lb, lob, edges["children"]):
        folium.PolyLine([[a, b], [c, d]], color="#e7298a", weight=1 + 1.5 * math.log1p(float(k)), opacity=0.7,
                        tooltip=f"{count(k)} children at both places").add_to(fg)
    return fg


# ---------------------------------------------------------------- composition and rendering

def finish(m: folium.Map, collapsed: bool = False) -> folium.Map:
    """Add the layer control (last, as folium requires)."""
    folium.LayerControl(collapsed=collapsed, position="topright").add_to(m)
    return m


def map_html(m: folium.Map, mode: str = "inline", tile_url: str | None = None) -> str:
    """Render a folium map to one HTML page with the vendored JS/CSS inlined (``mode="inline"``,
    opens with no network) or linked to ``/static/vendor`` (``mode="link"``)."""
    html = m.get_root().render()
    allow = (tile_url.split("{")[0],) if tile_url else ()
    return assets.offline_html(html, mode=mode, allow=allow)


def hotspot_map(hotspots: gpd.GeoDataFrame | None = None, events: pd.DataFrame | None = None,
                clusters: gpd.GeoDataFrame | None = None, premises: pd.DataFrame | None = None,
                groups: Sequence[dict] | None = None, boundaries: gpd.GeoDataFrame | None = None,
                lsoa_hotspots: gpd.GeoDataFrame | None = None, exact_points: bool = True,
                count: Count = plain_count, tile_url: str | None = None, height: str = "100%",
                register: pd.DataFrame | None = None) -> folium.Map:
    """The full analyst map: Gi* choropleth(s) with legend, found-at points (canvas), heat map with
    a month slider, clusters with hulls, premises of concern, co-missing groups, network overlay,
    layer control. ``register`` (the premises frame) locates premises of concern without coordinates.
    ``exact_points=False`` leaves out every layer that shows where a child was
    (role minimisation)."""
    m = base_map(boundaries, tile_url=tile_url, height=height)
    if hotspots is not None and len(hotspots):
        hotspot_layer(hotspots, count=count).add_to(m)
        hotspot_legend().add_to(m)
    if lsoa_hotspots is not None and len(lsoa_hotspots):
        hotspot_layer(lsoa_hotspots, name="LSOA hot spots (Gi*)", count=count, show=False).add_to(m)
    if clusters is not None and len(clusters):
        cluster_layer(clusters, count=count).add_to(m)
    if events is not None and len(events) and exact_points:
        found_at_layer(events).add_to(m)
        heat_layer(events).add_to(m)
        network_overlay(place_links(events), count=count).add_to(m)
        if groups:
            co_missing_layer(groups, events, count=count).add_to(m)
    if premises is not None and len(premises):
        premises_layer(premises, count=count, locate=register).add_to(m)
        premises_legend().add_to(m)
    return finish(m)

"""OGC API rules shared by the Features routes: content negotiation of the landing page, the
query parameters each resource accepts (others are a 400, Features Part 1 /req/core/
query-param-unknown), coordinate reference systems by reference (Features Part 2: ``crs``,
``bbox-crs``, ``Content-Crs``), queryables (Part 3 discovery) and their simple ``name=value``
filters, and the OpenAPI 3.0 form of the service description.

The prepared items are GeoJSON in CRS84 (longitude, latitude); EPSG:27700 (British National
Grid, the store's CRS) is produced per page from the prepared Web Mercator geometries and a
bbox given in EPSG:27700 is matched exactly on each candidate's BNG bounds.
"""
from __future__ import annotations

import copy
from functools import lru_cache

import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

from api.service.errors import BadRequest

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"
#: the CRSs every collection offers (Part 2 /req/crs/crs-uri); the store keeps BNG
CRS_LIST = [CRS84, BNG]
STORAGE_CRS = BNG
_ALIASES = {
    CRS84: CRS84, "OGC:CRS84": CRS84, "CRS84": CRS84, "urn:ogc:def:crs:OGC:1.3:CRS84": CRS84,
    "http://www.opengis.net/def/crs/OGC/0/CRS84": CRS84,
    BNG: BNG, "EPSG:27700": BNG, "urn:ogc:def:crs:EPSG::27700": BNG,
    "https://www.opengis.net/def/crs/EPSG/0/27700": BNG,
    "https://www.opengis.net/def/crs/OGC/1.3/CRS84": CRS84,
}

#: query parameters each OGC resource accepts (items add the collection's queryables); every
#: Wayfinder route also knows ``purpose`` (why the data are needed, for the audit trail)
META_PARAMS = frozenset({"f", "purpose"})
ITEMS_PARAMS = META_PARAMS | {"bbox", "bbox-crs", "datetime", "limit", "offset", "properties",
                              "crs"}
ITEM_PARAMS = META_PARAMS | {"crs"}

JSON_FORMATS = ("json", "geojson")


def check_params(query_params, allowed, where: str, formats=JSON_FORMATS) -> None:
    """400 naming the first query parameter ``where`` does not know (OGC API - Features Part 1
    /req/core/query-param-unknown: an ignored filter would look applied when it was not)."""
    unknown = sorted({k for k in query_params.keys() if k not in allowed})
    if unknown:
        raise BadRequest(f"unknown query parameter {', '.join(unknown)} for {where}; it accepts "
                         f"{', '.join(sorted(allowed))}")
    f = query_params.get("f")
    if f is not None and f not in formats:
        raise BadRequest(f"f={f}: this resource is served as f={' or f='.join(formats)}")


def wants_html(request) -> bool:
    """Whether the landing page is asked for as HTML: ``f=html``, or (without ``f``) an Accept
    header that prefers text/html to application/json, as browsers send. Clients that accept
    anything (``*/*``) or ask for JSON get JSON: OWSLib, GDAL, QGIS and curl."""
    f = request.query_params.get("f")
    if f is not None:
        if f == "html":
            return True
        if f in JSON_FORMATS:
            return False
        raise BadRequest(f"f={f}: the landing page is f=json or f=html")
    prefs = {}
    for part in request.headers.get("accept", "").split(","):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        prefs[media.strip().lower()] = max(q, prefs.get(media.strip().lower(), 0.0))
    html = max(prefs.get("text/html", 0.0), prefs.get("application/xhtml+xml", 0.0))
    json_ = max(prefs.get("application/json", 0.0), prefs.get("application/geo+json", 0.0))
    return html > 0 and html >= json_


# -- coordinate reference systems ------------------------------------------------------------

def parse_crs(value: str | None, name: str) -> str:
    """The CRS URI of a ``crs`` / ``bbox-crs`` value (URI, safe CURIE ``[EPSG:27700]``, URN or
    ``EPSG:27700``); CRS84 when absent; 400 for any other."""
    if value is None or value == "":
        return CRS84
    v = value.strip()
    if v.startswith("[") and v.endswith("]"):
        v = v[1:-1]
    uri = _ALIASES.get(v)
    if uri is None:
        raise BadRequest(f"{name}={value} is not offered: use {' or '.join(CRS_LIST)}")
    return uri


@lru_cache(maxsize=None)
def _transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def bbox_in(crs: str, bbox: tuple[float, float, float, float] | None):
    """A ``bbox`` given in ``crs`` as (the enclosing CRS84 box for the index, the BNG box for the
    exact test or None). A CRS84 box must be longitudes and latitudes."""
    if bbox is None:
        return None, None
    if crs == CRS84:
        x0, y0, x1, y1 = bbox
        if not (-180 <= x0 <= 180 and -180 <= x1 <= 180 and -90 <= y0 <= 90 and -90 <= y1 <= 90):
            raise BadRequest("bbox out of range: longitudes -180..180, latitudes -90..90 "
                             "(for British National Grid metres add bbox-crs=EPSG:27700)")
        return bbox, None
    x0, y0, x1, y1 = bbox
    if x0 > x1:
        raise BadRequest("bbox: min easting must not exceed max easting")
    if not (-1e6 <= x0 <= 2e6 and -1e6 <= x1 <= 2e6 and -1e6 <= y0 <= 2.5e6 and -1e6 <= y1 <= 2.5e6):
        raise BadRequest("bbox out of range for EPSG:27700 (metres east and north of the "
                         "British National Grid origin)")
    lon0, lat0, lon1, lat1 = _transformer(27700, 4326).transform_bounds(x0, y0, x1, y1,
                                                                         densify_pts=21)
    return (lon0, lat0, lon1, lat1), bbox


def bng_bounds(merc: np.ndarray) -> np.ndarray:
    """(N, 4) British National Grid bounds of Web Mercator geometries."""
    if not len(merc):
        return np.zeros((0, 4))
    return shapely.bounds(to_bng(merc))


def to_bng(merc: np.ndarray) -> np.ndarray:
    """Web Mercator geometries in British National Grid, to the centimetre, exterior rings
    counter-clockwise (RFC 7946 ring order, whatever the CRS)."""
    t = _transformer(3857, 27700)
    out = shapely.transform(merc, lambda xy: np.column_stack(t.transform(xy[:, 0], xy[:, 1])))
    return shapely.orient_polygons(shapely.set_precision(out, 0.01), exterior_cw=False)


def within_bng(merc: np.ndarray, box) -> np.ndarray:
    """Mask of the geometries whose BNG bounds intersect ``box`` (as the CRS84 test does)."""
    b = bng_bounds(merc)
    x0, y0, x1, y1 = box
    return (b[:, 2] >= x0) & (b[:, 0] <= x1) & (b[:, 3] >= y0) & (b[:, 1] <= y1)


def features_in_bng(merc: np.ndarray, features: list[str]) -> list[str]:
    """The GeoJSON features with their geometry replaced by the BNG one (ids and properties
    unchanged: the prepared strings are ``{..."geometry":G,"properties":P}``)."""
    if not features:
        return []
    geojson = shapely.to_geojson(to_bng(merc))
    out = []
    for text, g in zip(features, geojson):
        head, _, rest = text.partition(',"geometry":')
        props = rest[rest.index(',"properties":'):]
        out.append(f'{head},"geometry":{g}{props}')
    return out


# -- queryables and property filters ----------------------------------------------------------

def queryables_schema(prep, url: str) -> dict:
    """The collection's queryables as a JSON Schema (Features Part 3 /req/queryables)."""
    types = prep.column_types()
    props = {q: {"title": q.replace("_", " ").capitalize(), "type": types[q]}
             for q in prep.queryables()}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": url,
            "type": "object", "title": prep.layer.title, "properties": props,
            "additionalProperties": False}


def property_mask(prep, filters: dict[str, str]) -> np.ndarray | None:
    """Mask of the features whose queryable properties equal the given values (``a=1&b=x``:
    all must hold); None without filters. A number must parse as one (400 otherwise)."""
    if not filters:
        return None
    types = prep.column_types()
    mask = np.ones(len(prep), dtype=bool)
    for name, value in filters.items():
        col = prep.frame[name]
        kind = types[name]
        if kind in ("integer", "number"):
            try:
                v = float(value)
            except ValueError:
                raise BadRequest(f"{name}={value}: {name} is a number") from None
            mask &= pd.to_numeric(col, errors="coerce").to_numpy(float) == v
        elif kind == "boolean":
            if value not in ("true", "false"):
                raise BadRequest(f"{name}={value}: {name} is true or false")
            mask &= (col == (value == "true")).to_numpy(bool)
        else:
            mask &= (col.notna() & (col.astype(str) == value)).to_numpy(bool)
    return mask


# -- OpenAPI 3.0 ----------------------------------------------------------------------------------

_SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_SCHEMA_ONE = ("items", "additionalProperties", "not")


def _schema30(s):
    """A JSON Schema 2020-12 object (pydantic 2) as an OpenAPI 3.0 Schema Object."""
    if not isinstance(s, dict):
        return s
    s = {k: v for k, v in s.items()}
    for k in _SCHEMA_MAPS:
        if isinstance(s.get(k), dict):
            s[k] = {n: _schema30(v) for n, v in s[k].items()}
    for k in _SCHEMA_LISTS:
        if isinstance(s.get(k), list):
            s[k] = [_schema30(v) for v in s[k]]
    for k in _SCHEMA_ONE:
        if isinstance(s.get(k), dict):
            s[k] = _schema30(s[k])
    if "examples" in s:
        ex = s.pop("examples")
        if isinstance(ex, list) and ex:
            s.setdefault("example", ex[0])
    if "const" in s:
        s["enum"] = [s.pop("const")]
    for bound, plain in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(s.get(bound), (int, float)) and not isinstance(s.get(bound), bool):
            s[plain] = s.pop(bound)
            s[bound] = True
    if isinstance(s.get("type"), list):
        types = [t for t in s["type"] if t != "null"]
        if len(types) < len(s["type"]):
            s["nullable"] = True
        if len(types) == 1:
            s["type"] = types[0]
        else:
            s.pop("type")
            s["anyOf"] = [{"type": t} for t in types]
    for k in _SCHEMA_LISTS[:3]:
        alts = s.get(k)
        if isinstance(alts, list) and any(a == {"type": "null"} for a in alts):
            rest = [a for a in alts if a != {"type": "null"}]
            s["nullable"] = True
            if len(rest) == 1:
                s.pop(k)
                only = rest[0]
                if "$ref" in only:
                    s["allOf"] = [only]
                else:
                    for kk, vv in only.items():
                        s.setdefault(kk, vv)
            else:
                s[k] = rest
    if s.get("type") == "null":
        s.pop("type")
        s["nullable"] = True
    for k in ("$schema", "$id", "contentMediaType", "contentEncoding", "$comment"):
        s.pop(k, None)
    if "$ref" in s and len(s) > 1:        # 3.0 ignores siblings of $ref
        ref = s.pop("$ref")
        s["allOf"] = [{"$ref": ref}] + s.get("allOf", [])
    return s


def _walk30(node):
    """Every Schema Object of an OpenAPI document (under ``schema`` keys and
    ``components.schemas``) converted by :func:`_schema30`."""
    if isinstance(node, list):
        return [_walk30(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for k, v in node.items():
        out[k] = _schema30(v) if k == "schema" else _walk30(v)
    return out


def openapi_30(spec: dict) -> dict:
    """FastAPI's OpenAPI 3.1 description as OpenAPI 3.0.3, the version OGC API - Features
    Part 1 names (conformance class oas30) and that OWSLib and GDAL look for."""
    spec = copy.deepcopy(spec)
    spec["openapi"] = "3.0.3"
    comps = spec.get("components", {})
    schemas = comps.pop("schemas", None)
    spec = _walk30(spec)
    if schemas is not None:
        spec.setdefault("components", {})["schemas"] = {n: _schema30(v) for n, v in schemas.items()}
    for k in ("webhooks", "jsonSchemaDialect"):
        spec.pop(k, None)
    spec.get("info", {}).pop("summary", None)
    return spec

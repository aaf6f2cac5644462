"""OGC API - Features: landing page, conformance, collections, items (GeoJSON, WGS84)."""
from __future__ import annotations

import datetime as dt
import json
from typing import Annotated
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api import roles
from api.dependencies import ctx_of, parse_bbox, parse_datetime, require_collection, service
from api.errors import BadRequest, NotFound
from api.layers import EMPTY_TIME, LAYERS, Prepared
from api.model import (ERRORS, FEATURE_COLLECTION_EXAMPLE, Collection, Collections, Conformance,
                       Landing)

router = APIRouter(tags=["OGC API - Features"])

CONFORMS = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-tiles-1/1.0/conf/mvt",
]
GEOJSON = "application/geo+json"
CollectionId = Annotated[str, Path(description="Collection id (see GET /collections)",
                                   examples=["found_at"], max_length=64)]


def _base(request: Request) -> str:
    """The service's public base URL (``WAYFINDER_PUBLIC_URL``), else "" (links relative to this
    origin): never the request's ``Host`` header, which a client chooses."""
    return (getattr(service(request).settings, "public_url", None) or "").rstrip("/")


@router.get("/api", name="landing", response_model=Landing, summary="OGC API landing page",
            responses={401: ERRORS[401]})
def landing(request: Request) -> Landing:
    b = _base(request)
    return Landing(title="Wayfinder", description="Layers for safeguarding children who go missing",
                   links=[{"href": f"{b}/api", "rel": "self", "type": "application/json"},
                          {"href": f"{b}/openapi.json", "rel": "service-desc",
                           "type": "application/vnd.oai.openapi+json;version=3.0"},
                          {"href": f"{b}/docs", "rel": "service-doc", "type": "text/html"},
                          {"href": f"{b}/conformance", "rel": "conformance", "type": "application/json"},
                          {"href": f"{b}/collections", "rel": "data", "type": "application/json"}])


@router.get("/conformance", name="conformance", response_model=Conformance,
            summary="Conformance classes", responses={401: ERRORS[401]})
def conformance() -> Conformance:
    return Conformance(conformsTo=CONFORMS)


def _collection(request: Request, layer_id: str, prep: Prepared) -> Collection:
    b = _base(request)
    layer = LAYERS[layer_id]
    extent = {}
    if prep.extent:
        extent["spatial"] = {"bbox": [prep.extent],
                             "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}
    if prep.interval:
        extent["temporal"] = {"interval": [prep.interval]}
    return Collection(
        id=layer_id, title=layer.title, description=layer.description, extent=extent or None,
        geometryType=layer.geometry_type, numberOfFeatures=len(prep),
        properties=prep.columns,
        links=[{"href": f"{b}/collections/{layer_id}", "rel": "self", "type": "application/json"},
               {"href": f"{b}/collections/{layer_id}/items", "rel": "items", "type": GEOJSON,
                "title": "Features"},
               {"href": f"{b}/collections/{layer_id}/tiles/WebMercatorQuad/tilejson.json",
                "rel": "describedby", "type": "application/json", "title": "TileJSON"},
               {"href": f"{b}/collections/{layer_id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}",
                "rel": "item", "type": "application/vnd.mapbox-vector-tile", "templated": True,
                "title": "Vector tiles"}])


@router.get("/collections", name="collections", response_model=Collections,
            response_model_exclude_none=True, summary="The layers this role may see",
            responses={k: ERRORS[k] for k in (401, 403)})
def collections(request: Request) -> Collections:
    wf, ctx = service(request), ctx_of(request)
    out = [_collection(request, lid, wf.layers.get(lid, ctx.view)) for lid in LAYERS
           if roles.collection_allowed(lid, ctx.role)]
    ctx.result_count = len(out)
    b = _base(request)
    return Collections(collections=out, links=[{"href": f"{b}/collections", "rel": "self",
                                                "type": "application/json"}])


@router.get("/collections/{collection_id}", name="collection", response_model=Collection,
            response_model_exclude_none=True, summary="One layer",
            responses={**{k: ERRORS[k] for k in (401, 403)}, 404: {"description": "No such collection"}})
def collection(request: Request, collection_id: CollectionId) -> Collection:
    wf, ctx = service(request), ctx_of(request)
    require_collection(request, collection_id)
    return _collection(request, collection_id, wf.layers.get(collection_id, ctx.view))


def select(prep: Prepared, bbox, trange) -> np.ndarray:
    """Indices of features intersecting ``bbox`` (WGS84) and the time range (ns)."""
    n = len(prep)
    mask = np.ones(n, dtype=bool)
    if bbox is not None and n:
        x0, y0, x1, y1 = bbox
        b = prep.bounds
        ymask = (b[:, 3] >= y0) & (b[:, 1] <= y1)
        xmask = ((b[:, 2] >= x0) & (b[:, 0] <= x1)) if x0 <= x1 else \
            ((b[:, 2] >= x0) | (b[:, 0] <= x1))
        mask &= xmask & ymask
    if trange is not None and prep.layer.time_column and n:
        lo, hi = trange
        t = prep.times
        mask &= t != EMPTY_TIME
        if lo is not None:
            mask &= t >= lo
        if hi is not None:
            mask &= t <= hi
    return np.flatnonzero(mask)


async def get_prepared(wf, collection_id: str, view: str) -> Prepared:
    """The prepared layer. When the periodic store check is due it runs in the background
    (``LayerCache.refresh_soon``) and this request is served from the current layers, as during
    the ``refresh_seconds`` before; only a cache with no layers yet builds them here (off the
    event loop)."""
    layers = wf.layers
    if layers.is_fresh():
        return layers._data[(collection_id, view)]
    if layers._data:
        layers.refresh_soon()
        return layers._data[(collection_id, view)]
    return await run_in_threadpool(layers.get, collection_id, view)


def _link(request: Request, **changes) -> str:
    params = dict(request.query_params)
    params.update({k: str(v) for k, v in changes.items()})
    return f"{_base(request)}{request.url.path}?{urlencode(params)}"


@router.get(
    "/collections/{collection_id}/items", name="items", summary="Features of a layer (GeoJSON)",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {"example": FEATURE_COLLECTION_EXAMPLE}},
                     "description": "A GeoJSON FeatureCollection (WGS84) with paging links"},
               **{k: ERRORS[k] for k in (400, 401, 403, 429)},
               404: {"description": "No such collection"}})
async def items(
    request: Request,
    collection_id: CollectionId,
    bbox: Annotated[str | None, Query(description="minlon,minlat,maxlon,maxlat (WGS84)",
                                      examples=["-1.95,52.45,-1.85,52.52"], max_length=200)] = None,
    datetime: Annotated[str | None, Query(description="RFC 3339 instant or interval a/b, ../b, a/..",
                                          examples=["2017-01-01T00:00:00Z/2017-06-30T23:59:59Z"],
                                          max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="page size (at most 10,000)")] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000_000, description="features to skip")] = 0,
    properties: Annotated[str | None, Query(description="comma-separated properties to return",
                                            examples=["at,ward_code"], max_length=2000)] = None,
) -> Response:
    wf, ctx = service(request), ctx_of(request)
    require_collection(request, collection_id)
    limit = min(limit, wf.settings.max_limit)
    prep = await get_prepared(wf, collection_id, ctx.view)
    box, trange = parse_bbox(bbox), parse_datetime(datetime)
    if box is None and (trange is None or not prep.layer.time_column):
        # no filter: the page is a slice of the prepared features (no per-request mask and
        # index arrays over the whole layer, 8 MB at a million features)
        matched = len(prep)
        page_features = prep.features[offset:offset + limit]
    else:
        idx = select(prep, box, trange)
        matched = len(idx)
        page_features = [prep.features[i] for i in idx[offset:offset + limit]]
    wanted = None
    if properties is not None:
        wanted = [p.strip() for p in properties.split(",") if p.strip()]
        unknown = [p for p in wanted if p not in prep.columns]
        if unknown:
            raise BadRequest(f"unknown properties {', '.join(unknown)}; this layer has "
                             f"{', '.join(prep.columns) or 'none'}")
    if wanted is None:
        feats = ",".join(page_features)
    else:
        parts = []
        for text in page_features:
            f = json.loads(text)
            f["properties"] = {k: f["properties"].get(k) for k in wanted}
            parts.append(json.dumps(f, separators=(",", ":")))
        feats = ",".join(parts)
    links = [{"href": _link(request), "rel": "self", "type": GEOJSON},
             {"href": f"{_base(request)}/collections/{collection_id}", "rel": "collection",
              "type": "application/json"}]
    if offset + limit < matched:
        links.append({"href": _link(request, offset=offset + limit, limit=limit), "rel": "next",
                      "type": GEOJSON})
    if offset > 0:
        links.append({"href": _link(request, offset=max(0, offset - limit), limit=limit),
                      "rel": "prev", "type": GEOJSON})
    ctx.result_count = len(page_features)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    body = (f'{{"type":"FeatureCollection","features":[{feats}],"numberMatched":{matched},'
            f'"numberReturned":{len(page_features)},"timeStamp":"{stamp}","links":{json.dumps(links)}}}')
    return Response(body, media_type=GEOJSON)


@router.get("/collections/{collection_id}/items/{feature_id}", name="item",
            summary="One feature", response_class=Response,
            responses={200: {"content": {GEOJSON: {"example": FEATURE_COLLECTION_EXAMPLE["features"][0]}}},
                       **{k: ERRORS[k] for k in (401, 403)},
                       404: {"description": "No such collection or feature"}})
def item(request: Request, collection_id: CollectionId,
         feature_id: Annotated[int, Path(ge=1, le=2_000_000_000)]) -> Response:
    wf, ctx = service(request), ctx_of(request)
    require_collection(request, collection_id)
    prep = wf.layers.get(collection_id, ctx.view)
    if feature_id > len(prep):
        raise NotFound(f"no feature {feature_id} in {collection_id}")
    ctx.result_count = 1
    return Response(prep.features[feature_id - 1], media_type=GEOJSON)

"""OGC API - Features: landing page (``/``, JSON or the web page by content negotiation),
conformance, collections, queryables, items (GeoJSON in CRS84 or EPSG:27700).

Part 1 Core with GeoJSON and OpenAPI 3.0, Part 2 CRS by reference (``crs``, ``bbox-crs``,
``Content-Crs``), Part 3 queryables with ``name=value`` filters: the rules are in :mod:`api.service.ogc`."""
from __future__ import annotations

import datetime as dt
import json
from typing import Annotated
from urllib.parse import urlencode

import numpy as np
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.service import ogc
from api import roles
from api.service.dependencies import ctx_of, parse_bbox, parse_datetime, require_collection, service
from api.service.errors import BadRequest, NotFound
from api.jobs.layers import EMPTY_TIME, LAYERS, Prepared
from api.service.model import (ERRORS, FEATURE_COLLECTION_EXAMPLE, Collection, Collections, Conformance,
                       Landing)

router = APIRouter(tags=["OGC API - Features"])

#: what the service implements (the vector tiles are a plain XYZ template with TileJSON, not
#: OGC API - Tiles, so no Tiles class is claimed)
CONFORMS = [
    "http://www.opengis.net/spec/ogcapi-common-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/collections",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
]
GEOJSON = "application/geo+json"
OPENAPI_30 = "application/vnd.oai.openapi+json;version=3.0"
REL_QUERYABLES = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
CollectionId = Annotated[str, Path(description="Collection id (see GET /collections)",
                                   examples=["found_at"], max_length=64)]


def _base(request: Request) -> str:
    """The service's public base URL (``WAYFINDER_PUBLIC_URL``), else the address the server
    listens on (the socket's, from the ASGI scope): never the request's ``Host`` header, which a
    client chooses (issue 15: a forged Host went into every link and TileJSON template)."""
    public = getattr(service(request).settings, "public_url", None)
    if public:
        return public.rstrip("/")
    host, port = (request.scope.get("server") or ("127.0.0.1", 80))[:2]
    scheme = request.scope.get("scheme", "http")
    default = {"http": 80, "https": 443}.get(scheme)
    host = f"[{host}]" if ":" in str(host) else host
    return f"{scheme}://{host}" + ("" if port in (None, default) else f":{port}")


@router.get("/", name="landing", response_model=Landing, summary="OGC API landing page",
            description="JSON for OGC clients (Accept: application/json, */*, or f=json): the "
                        "URL to give QGIS, GDAL and OWSLib. Browsers (Accept: text/html, or "
                        "f=html) get the web page. Public: it holds links only.",
            responses={200: {"content": {"text/html": {"schema": {"type": "string"}}},
                             "description": "The landing page (JSON) or the web page (HTML)"},
                       400: ERRORS[400]})
def landing(request: Request, f: Annotated[str | None, Query(
        description="json or html (default by the Accept header)", examples=["json"],
        max_length=10)] = None):
    ogc.check_params(request.query_params, ogc.META_PARAMS, "the landing page",
                     formats=ogc.JSON_FORMATS + ("html",))
    if ogc.wants_html(request):
        return _web_page()
    b = _base(request)
    return Landing(title="Wayfinder", description="Layers for safeguarding children who go missing",
                   links=[{"href": f"{b}/?f=json", "rel": "self", "type": "application/json",
                           "title": "This document"},
                          {"href": f"{b}/?f=html", "rel": "alternate", "type": "text/html",
                           "title": "The web page"},
                          {"href": f"{b}/openapi.json", "rel": "service-desc", "type": OPENAPI_30,
                           "title": "The API definition (OpenAPI 3.0)"},
                          {"href": f"{b}/docs", "rel": "service-doc", "type": "text/html",
                           "title": "The API documentation"},
                          {"href": f"{b}/conformance", "rel": "conformance",
                           "type": "application/json", "title": "Conformance classes"},
                          {"href": f"{b}/collections", "rel": "data", "type": "application/json",
                           "title": "The layers (sign in: Authorization: Bearer TOKEN)"}])


def _web_page() -> HTMLResponse:
    """The maps web page (api may import maps)."""
    from maps import web
    return HTMLResponse(web.page_html(), headers=web.SECURITY_HEADERS)


@router.get("/conformance", name="conformance", response_model=Conformance,
            summary="Conformance classes", responses={400: ERRORS[400]})
def conformance(request: Request) -> Conformance:
    ogc.check_params(request.query_params, ogc.META_PARAMS, "/conformance")
    return Conformance(conformsTo=CONFORMS)


def _collection(request: Request, layer_id: str, prep: Prepared) -> Collection:
    b = _base(request)
    layer = LAYERS[layer_id]
    extent = {}
    if prep.extent:
        extent["spatial"] = {"bbox": [prep.extent], "crs": ogc.CRS84}
    if prep.interval:
        extent["temporal"] = {"interval": [prep.interval],
                              "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return Collection(
        id=layer_id, title=layer.title, description=layer.description, extent=extent or None,
        crs=ogc.CRS_LIST, storageCrs=ogc.STORAGE_CRS,
        geometryType=prep.geometry_type, numberOfFeatures=len(prep),
        properties=prep.columns,
        links=[{"href": f"{b}/collections/{layer_id}", "rel": "self", "type": "application/json"},
               {"href": f"{b}/collections/{layer_id}/items", "rel": "items", "type": GEOJSON,
                "title": "Features"},
               {"href": f"{b}/collections/{layer_id}/queryables", "rel": REL_QUERYABLES,
                "type": "application/schema+json", "title": "Queryable properties"},
               {"href": f"{b}/collections/{layer_id}/tiles/WebMercatorQuad/tilejson.json",
                "rel": "describedby", "type": "application/json", "title": "TileJSON"},
               {"href": f"{b}/collections/{layer_id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}",
                "rel": "item", "type": "application/vnd.mapbox-vector-tile", "templated": True,
                "title": "Vector tiles"}])


@router.get("/collections", name="collections", response_model=Collections,
            response_model_exclude_none=True, summary="The layers this role may see",
            responses={k: ERRORS[k] for k in (400, 401, 403)})
def collections(request: Request) -> Collections:
    ogc.check_params(request.query_params, ogc.META_PARAMS, "/collections")
    wf, ctx = service(request), ctx_of(request)
    out = [_collection(request, lid, wf.layers.get(lid, ctx.view)) for lid in LAYERS
           if roles.collection_allowed(lid, ctx.role)]
    ctx.result_count = len(out)
    b = _base(request)
    return Collections(collections=out, links=[{"href": f"{b}/collections", "rel": "self",
                                                "type": "application/json"}])


@router.get("/collections/{collection_id}", name="collection", response_model=Collection,
            response_model_exclude_none=True, summary="One layer",
            responses={**{k: ERRORS[k] for k in (400, 401, 403)},
                       404: {"description": "No such collection"}})
def collection(request: Request, collection_id: CollectionId) -> Collection:
    ogc.check_params(request.query_params, ogc.META_PARAMS, "a collection")
    wf, ctx = service(request), ctx_of(request)
    require_collection(request, collection_id)
    return _collection(request, collection_id, wf.layers.get(collection_id, ctx.view))


@router.get("/collections/{collection_id}/queryables", name="queryables",
            summary="The properties a layer's items can be filtered on (?name=value)",
            response_class=Response,
            responses={200: {"content": {"application/schema+json": {"example": {
                "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
                "properties": {"ward_code": {"title": "Ward code", "type": "string"}}}}},
                "description": "A JSON Schema of the queryable properties"},
                       **{k: ERRORS[k] for k in (400, 401, 403)},
                       404: {"description": "No such collection"}})
async def queryables(request: Request, collection_id: CollectionId) -> Response:
    ogc.check_params(request.query_params, ogc.META_PARAMS, "queryables")
    wf, ctx = service(request), ctx_of(request)
    require_collection(request, collection_id)
    prep = await get_prepared(wf, collection_id, ctx.view)
    body = ogc.queryables_schema(prep, f"{_base(request)}/collections/{collection_id}/queryables")
    return Response(json.dumps(body), media_type="application/schema+json")


def select(prep: Prepared, bbox, trange, mask: np.ndarray | None = None) -> np.ndarray:
    """Indices of features intersecting ``bbox`` (WGS84) and the time range (ns), within
    ``mask`` when given."""
    n = len(prep)
    mask = np.ones(n, dtype=bool) if mask is None else mask.copy()
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


CRS_PARAM = Query(description="CRS of the returned geometries: "
                              f"{ogc.CRS84} (default, longitude/latitude) or {ogc.BNG}",
                  examples=[ogc.BNG], max_length=200)


@router.get(
    "/collections/{collection_id}/items", name="items", summary="Features of a layer (GeoJSON)",
    description="Paged GeoJSON features. Besides the parameters below, each queryable property "
                "of the layer (GET /collections/{collection_id}/queryables) filters by equality "
                "(e.g. ward_code=E05001213); any other parameter is refused (400).",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {"example": FEATURE_COLLECTION_EXAMPLE}},
                     "description": "A GeoJSON FeatureCollection with paging links; the "
                                    "Content-Crs header names its CRS"},
               **{k: ERRORS[k] for k in (400, 401, 403, 429)},
               404: {"description": "No such collection"}})
async def items(
    request: Request,
    collection_id: CollectionId,
    bbox: Annotated[str | None, Query(description="minx,miny,maxx,maxy in bbox-crs (default "
                                                  "CRS84: minlon,minlat,maxlon,maxlat)",
                                      examples=["-1.95,52.45,-1.85,52.52"], max_length=200)] = None,
    bbox_crs: Annotated[str | None, Query(alias="bbox-crs", description="CRS of bbox: CRS84 "
                                          f"(default) or {ogc.BNG}", examples=[ogc.CRS84],
                                          max_length=200)] = None,
    datetime: Annotated[str | None, Query(description="RFC 3339 instant or interval a/b, ../b, a/.. "
                                                      "(a date-only end includes that whole day)",
                                          examples=["2017-01-01T00:00:00Z/2017-06-30T23:59:59Z"],
                                          max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description="page size (at most 10,000)")] = 100,
    offset: Annotated[int, Query(ge=0, le=100_000_000, description="features to skip")] = 0,
    properties: Annotated[str | None, Query(description="comma-separated properties to return",
                                            examples=["at,ward_code"], max_length=2000)] = None,
    crs: Annotated[str | None, CRS_PARAM] = None,
    f: Annotated[str | None, Query(description="json (the only format)", examples=["json"],
                                   max_length=10)] = None,
) -> Response:
    wf, ctx = service(request), ctx_of(request)
    require_collection(request, collection_id)
    limit = min(limit, wf.settings.max_limit)
    prep = await get_prepared(wf, collection_id, ctx.view)
    queryable = prep.queryables()
    ogc.check_params(request.query_params, ogc.ITEMS_PARAMS | set(queryable),
                     f"{collection_id} items (its queryables: {', '.join(queryable) or 'none'})")
    out_crs = ogc.parse_crs(crs, "crs")
    box, box_bng = ogc.bbox_in(ogc.parse_crs(bbox_crs, "bbox-crs"), parse_bbox(bbox))
    trange = parse_datetime(datetime)
    by_props = ogc.property_mask(prep, {q: request.query_params[q] for q in queryable
                                        if q in request.query_params})
    if box is None and by_props is None and (trange is None or not prep.layer.time_column):
        # no filter: the page is a slice of the prepared features (no per-request mask and
        # index arrays over the whole layer, 8 MB at a million features)
        matched = len(prep)
        page_idx = np.arange(offset, min(offset + limit, matched))
    else:
        idx = select(prep, box, trange, by_props)
        if box_bng is not None and len(idx):      # exact test on the BNG bounds
            idx = idx[ogc.within_bng(prep.merc[idx], box_bng)]
        matched = len(idx)
        page_idx = idx[offset:offset + limit]
    page_features = [prep.features[i] for i in page_idx]
    if out_crs == ogc.BNG:
        page_features = ogc.features_in_bng(prep.merc[page_idx], page_features)
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
            feat = json.loads(text)
            feat["properties"] = {k: feat["properties"].get(k) for k in wanted}
            parts.append(json.dumps(feat, separators=(",", ":")))
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
    return Response(body, media_type=GEOJSON, headers={"Content-Crs": f"<{out_crs}>"})


@router.get("/collections/{collection_id}/items/{feature_id}", name="item",
            summary="One feature", response_class=Response,
            responses={200: {"content": {GEOJSON: {"example": FEATURE_COLLECTION_EXAMPLE["features"][0]}}},
                       **{k: ERRORS[k] for k in (400, 401, 403)},
                       404: {"description": "No such collection or feature"}})
def item(request: Request, collection_id: CollectionId,
         feature_id: Annotated[int, Path(ge=1, le=2_000_000_000)],
         crs: Annotated[str | None, CRS_PARAM] = None,
         f: Annotated[str | None, Query(description="json (the only format)", examples=["json"],
                                        max_length=10)] = None) -> Response:
    ogc.check_params(request.query_params, ogc.ITEM_PARAMS, "a feature")
    out_crs = ogc.parse_crs(crs, "crs")
    wf, ctx = service(request), ctx_of(request)
    require_collection(request, collection_id)
    prep = wf.layers.get(collection_id, ctx.view)
    if feature_id > len(prep):
        raise NotFound(f"no feature {feature_id} in {collection_id}")
    ctx.result_count = 1
    text = prep.features[feature_id - 1]
    if out_crs == ogc.BNG:
        text = ogc.features_in_bng(prep.merc[feature_id - 1:feature_id], [text])[0]
    b = _base(request)
    links = [{"href": _link(request), "rel": "self", "type": GEOJSON},
             {"href": f"{b}/collections/{collection_id}", "rel": "collection",
              "type": "application/json"}]
    text = text[:-1] + ',"links":' + json.dumps(links) + "}"
    return Response(text, media_type=GEOJSON, headers={"Content-Crs": f"<{out_crs}>"})

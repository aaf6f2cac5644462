"""Vector tiles (Mapbox Vector Tile, WebMercatorQuad) and TileJSON for every collection.

PostGIS: ``ST_AsMVT`` over the prepared layer table (GiST index on Web Mercator geometry).
SQLite: ``mapbox_vector_tile`` over the prepared in-memory geometries. Both serve the caller's
minimisation view. Dense point layers (``api.jobs.tilesets.GENERALISED``) at grid and cluster zooms
are served from their pre-generalised cells instead (a bounded number of rows per tile), and the
tiles of their lower zooms from the store, made in advance (``api.jobs.tilesets.stored_tile``).
A tile in the tile cache (:func:`cached_tile`) or made in advance (:func:`stored_tile`) is
answered by ``AuditMiddleware`` without the routing machinery, after the same checks (purpose of
a person-level layer included) and with the same audit entry.
"""
from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qsl, urlencode

import mapbox_vector_tile
import numpy as np
import shapely
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api import roles
from api.jobs import tilesets
from api.service.dependencies import (Context, bearer_token, client_of_scope, ctx_of, require_collection,
                              service, stated_purpose)
from api.service.errors import BadRequest, NotAuthenticated
from api.jobs.layers import Prepared
from api.minimise import VIEWS, view_for
from api.service.model import ERRORS, TILEJSON_EXAMPLE
from api.service.routes.collections import CollectionId, _base, get_prepared
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"
TILE_ROUTE = "/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{x}/{y}"
#: TILE_ROUTE with z, x, y in canonical decimal (so that int() gives back the same text), and
#: the same with the ``.pbf`` / ``.mvt`` suffix that QGIS, GDAL and MapLibre templates often add
_TILE_PATH = re.compile(r"/collections/([^/]+)/tiles/WebMercatorQuad/"
                        r"(0|[1-9][0-9]{0,6})/(0|[1-9][0-9]{0,6})/(0|[1-9][0-9]{0,6})"
                        r"(?:\.pbf|\.mvt)?")
#: TileJSON field types of the properties' JSON types
TILEJSON_TYPES = {"string": "String", "integer": "Number", "number": "Number",
                  "boolean": "Boolean"}
HALF = 20037508.342789244
#: the deepest zoom served (WebMercatorQuad levels 0..22)
MAX_ZOOM = 22


def tile_bounds(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    size = 2 * HALF / (1 << z)
    minx = -HALF + x * size
    maxy = HALF - y * size
    return minx, maxy - size, minx + size, maxy


def _check(z: int, x: int, y: int) -> None:
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise BadRequest(f"tile {z}/{x}/{y} does not exist: x and y must be 0..{n - 1} at zoom {z}")


def _value(v):
    if isinstance(v, (list, dict)):
        return json.dumps(v)
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


def tile_memory(prep: Prepared, z: int, x: int, y: int, extent: int, buffer: int,
                max_features: int) -> bytes:
    if not len(prep):
        return b""
    minx, miny, maxx, maxy = tile_bounds(z, x, y)
    pad = (maxx - minx) * buffer / extent
    b = prep.merc_bounds
    idx = np.flatnonzero((b[:, 2] >= minx - pad) & (b[:, 0] <= maxx + pad)
                         & (b[:, 3] >= miny - pad) & (b[:, 1] <= maxy + pad))[:max_features]
    if not len(idx):
        return b""
    geoms = prep.merc[idx]
    if prep.geometry_type not in ("Point", "MultiPoint"):
        geoms = shapely.clip_by_rect(geoms, minx - pad, miny - pad, maxx + pad, maxy + pad)
    feats = []
    for i, g, p in zip(idx, geoms, prep.props_at(idx)):
        if g is None or g.is_empty:
            continue
        props = {k: _value(v) for k, v in p.items()}
        feats.append({"geometry": g, "properties": {k: v for k, v in props.items() if v is not None},
                      "id": int(i) + 1})
    if not feats:
        return b""
    return mapbox_vector_tile.encode(
        [{"name": prep.layer.id, "features": feats}],
        default_options={"quantize_bounds": (minx, miny, maxx, maxy), "extents": extent,
                         "y_coord_down": False})


def tile_postgis(engine, prep: Prepared, z: int, x: int, y: int, extent: int, buffer: int,
                 max_features: int) -> bytes:
    cols = ", ".join(f't."{c}"' for c in prep.columns)
    sql = (f'SELECT ST_AsMVT(q, %(layer)s, %(extent)s, \'geom\', \'fid\') FROM ('
           f'SELECT t.fid{", " + cols if cols else ""}, '
           f'ST_AsMVTGeom(t.geom, ST_TileEnvelope(%(z)s, %(x)s, %(y)s), %(extent)s, %(buffer)s, true) AS geom '
           f'FROM "{prep.table}" t '
           f'WHERE t.geom && ST_TileEnvelope(%(z)s, %(x)s, %(y)s, margin => %(margin)s) '
           f'LIMIT %(max)s) q')
    params = {"layer": prep.layer.id, "extent": extent, "buffer": buffer, "z": z, "x": x, "y": y,
              "margin": buffer / extent, "max": max_features}
    with engine.connect() as conn:
        data = conn.exec_driver_sql(sql, params).scalar()
    return bytes(data) if data else b""


@router.get("/collections/{collection_id}/tiles/WebMercatorQuad/tilejson.json", name="tilejson",
            summary="TileJSON 3.0 for a layer's vector tiles",
            responses={200: {"content": {"application/json": {"example": TILEJSON_EXAMPLE}}},
                       **{k: ERRORS[k] for k in (401, 403)}, 404: {"description": "No such collection"}})
def tilejson(request: Request, collection_id: CollectionId) -> dict:
    wf, ctx = service(request), ctx_of(request)
    require_collection(request, collection_id)
    prep = wf.layers.get(collection_id, ctx.view)
    base = _base(request)
    fields = {c: TILEJSON_TYPES[t] for c, t in prep.column_types().items()}
    if collection_id in tilesets.GENERALISED:   # grid and cluster zooms: counts per cell
        fields.update(tilesets.CELL_FIELDS)
    # a person-level layer's tiles need the purpose too: carry the stated one in the template
    query = ("?" + urlencode({"purpose": ctx.purpose})) if ctx.purpose else ""
    return {"tilejson": "3.0.0", "name": collection_id, "description": prep.layer.description,
            "scheme": "xyz", "format": "pbf",
            "tiles": [f"{base}/collections/{collection_id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"
                      + query],
            "minzoom": prep.layer.minzoom, "maxzoom": prep.layer.maxzoom,
            "bounds": prep.extent or [-180.0, -85.0511, 180.0, 85.0511],
            "vector_layers": [{"id": collection_id, "fields": fields,
                               "minzoom": prep.layer.minzoom, "maxzoom": prep.layer.maxzoom}]}


@router.get(TILE_ROUTE, name="tile",
            summary="A Mapbox vector tile of a layer", response_class=Response,
            responses={200: {"content": {MVT: {}}, "description": "MVT (may be empty)"},
                       **{k: ERRORS[k] for k in (400, 401, 403, 429)},
                       404: {"description": "No such collection"}})
@router.get(TILE_ROUTE + ".pbf", name="tile", include_in_schema=False, response_class=Response)
@router.get(TILE_ROUTE + ".mvt", name="tile", include_in_schema=False, response_class=Response)
async def tile(request: Request, collection_id: CollectionId,
         z: Annotated[int, Path(ge=0, le=MAX_ZOOM, examples=[12])],
         x: Annotated[int, Path(ge=0, le=4194303, examples=[2029])],
         y: Annotated[int, Path(ge=0, le=4194303, examples=[1363])]) -> Response:
    wf, ctx = service(request), ctx_of(request)
    require_collection(request, collection_id)
    _check(z, x, y)
    prep = await get_prepared(wf, collection_id, ctx.view)
    key = wf.layers.tile_key(prep, z, x, y)        # the same key as cached_tile's
    data, zdata = wf.layers.tile_get(key), None
    if data is None:
        data, zdata = await run_in_threadpool(made, wf, prep, z, x, y)
        wf.layers.tile_put(key, data)
        if zdata is not None:
            wf.layers.tile_put(key + ("gzip",), zdata)
    gz = accepts_gzip(request.headers.get("accept-encoding", "")) and len(data) >= GZIP_MIN
    if gz:
        zdata = zdata or wf.layers.tile_get(key + ("gzip",))
        if zdata is None:
            zdata = await run_in_threadpool(tilesets.gzip_tile, data)
            wf.layers.tile_put(key + ("gzip",), zdata)
        data = zdata
    ctx.what = f"/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{x}/{y}"
    ctx.result_count = None
    return Response(data, media_type=MVT, headers=tile_headers(gz))


def made(wf, prep: Prepared, z: int, x: int, y: int) -> tuple[bytes, bytes | None]:
    """A tile and its gzip when it was made in advance (``api.jobs.tilesets.stored_tile``: the
    lower zooms of a pre-generalised layer), else ``(render(...), None)``."""
    if tilesets.serves(prep.layer.id, z):
        s = wf.settings
        stored = tilesets.stored_tile(wf.store.engine, prep.layer.id, prep.view, z, x, y,
                                      s.tile_extent, s.tile_buffer)
        if stored is not None:
            return stored
    return render(wf, prep, z, x, y), None


def render(wf, prep: Prepared, z: int, x: int, y: int) -> bytes:
    """A tile of a prepared view: from the layer's pre-generalised cells at grid and cluster
    zooms (``api.jobs.tilesets``), else from its features (ST_AsMVT on PostGIS, mapbox_vector_tile
    on SQLite)."""
    s = wf.settings
    if tilesets.serves(prep.layer.id, z):
        return tilesets.tile(wf.store.engine, prep.layer.id, prep.view, z, x, y, s.tile_extent,
                             s.tile_buffer)
    if prep.table:
        return tile_postgis(wf.store.engine, prep, z, x, y, s.tile_extent, s.tile_buffer,
                            s.tile_max_features)
    return tile_memory(prep, z, x, y, s.tile_extent, s.tile_buffer, s.tile_max_features)


def warm(wf) -> int:
    """Put in the tile cache the tiles a map of each generalised layer opens on, for every view
    (``api.jobs.tilesets.opening_tiles``: the zoom that shows the layer's whole extent and the few
    below it), as a request would (same keys, gzip copy too). Run after each layer build, in a
    background thread; stops when the layers are rebuilt meanwhile. Returns the tiles warmed."""
    try:
        return _warm(wf)
    except Exception:              # a warm cache is an optimisation: requests still work
        logging.getLogger("wayfinder.tiles").exception("warming the tile cache failed")
        return 0


def _warm(wf) -> int:
    layers = wf.layers
    if layers.tile_cache_size <= 0:
        return 0
    n = 0
    for layer_id in tilesets.GENERALISED:
        for view in VIEWS:
            prep = layers.peek(layer_id, view)
            if prep is None:
                return n
            for z, x, y in tilesets.opening_tiles(wf.store.engine, layer_id, view, prep.extent):
                if layers.peek(layer_id, view) is not prep:
                    return n
                key = layers.tile_key(prep, z, x, y)
                if layers.tile_get(key) is None:
                    data, zdata = made(wf, prep, z, x, y)
                    layers.tile_put(key, data)
                    if len(data) >= GZIP_MIN:
                        layers.tile_put(key + ("gzip",), zdata or tilesets.gzip_tile(data))
                n += 1
    return n


#: tiles smaller than this are sent as they are (gzip would save little)
GZIP_MIN = 1024


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value admits gzip (and does not refuse it with q=0)."""
    for part in accept_encoding.lower().split(","):
        name, _, params = part.strip().partition(";")
        if name.strip() in ("gzip", "*"):
            q = params.replace(" ", "")
            if not q.startswith("q="):
                return True
            try:
                return float(q[2:]) > 0
            except ValueError:
                return False
    return False


def tile_headers(gz: bool) -> dict:
    return {"Content-Encoding": "gzip", "Vary": "Accept-Encoding"} if gz else {"Vary": "Accept-Encoding"}


def cached_tile(wf, scope) -> tuple[Context, bytes, dict] | None:
    """The answer to a request for a tile already in this process's tile cache, without FastAPI's
    routing, dependency and validation machinery (which cost several times the rest of such a
    request), or None: then the request goes the normal way, which decides and audits it.

    Called by :class:`api.service.app.AuditMiddleware`, which commits the audit entry of the returned
    context before sending the tile, as for any request. Only the plain allowed case is
    answered here, with the same checks as :func:`api.service.dependencies.authorize`, ``require_collection``
    and :func:`tile`: a GET of ``TILE_ROUTE`` with a valid bearer token of an enabled user (the
    same :meth:`Authenticator.user_from_token`) whose role the matrix allows on the ``tile`` route
    and on the collection, a stated purpose for a person-level layer (the same rule,
    :func:`api.service.dependencies.stated_purpose`, recorded the same way), current layers (no
    store check due), the tile of the caller's view cached, then the per-user rate limit. A
    missing or bad token, a denial, no purpose, a rate limit, a cache miss or a due store check
    return None before anything is counted twice (the rate limit is taken last and takes
    nothing from a caller already over it)."""
    if wf.layers.tile_cache_size <= 0:
        return None
    ask = tile_ask(wf, scope)
    if ask is None:
        return None
    layers, prep, z, x, y = wf.layers, ask.prep, ask.z, ask.x, ask.y
    data = layers.tile_get(layers.tile_key(prep, z, x, y))
    gz = data is not None and len(data) >= GZIP_MIN and ask.gzip
    if gz:
        data = layers.tile_get(layers.tile_key(prep, z, x, y, "gzip"))
    if data is None:
        return None
    return ask.answer(wf, data, gz)


async def stored_tile(wf, scope) -> tuple[Context, bytes, dict] | None:
    """As :func:`cached_tile` (the same checks, audit and rate limit), for a tile of a
    pre-generalised layer the cache does not hold but the store does
    (``api.jobs.tilesets.stored_tile``, made in advance when the tileset was built): read with
    one key lookup off the event loop, kept in the tile cache, and sent (gzip-compressed as
    stored, to clients that accept it). None: the normal way."""
    m = _TILE_PATH.fullmatch(scope.get("path", "")) if scope.get("method") == "GET" else None
    if m is None or not tilesets.serves(m.group(1), int(m.group(2))):
        return None
    ask = tile_ask(wf, scope)
    if ask is None:
        return None
    s, prep = wf.settings, ask.prep
    stored = await run_in_threadpool(tilesets.stored_tile, wf.store.engine, prep.layer.id,
                                     prep.view, ask.z, ask.x, ask.y, s.tile_extent, s.tile_buffer)
    if stored is None or wf.layers.peek(prep.layer.id, prep.view) is not prep:
        return None                      # not stored, or the layers were rebuilt meanwhile
    data, zdata = stored
    key = wf.layers.tile_key(prep, ask.z, ask.x, ask.y)
    wf.layers.tile_put(key, data)
    wf.layers.tile_put(key + ("gzip",), zdata)
    gz = len(data) >= GZIP_MIN and ask.gzip
    return ask.answer(wf, zdata if gz else data, gz)


@dataclass
class TileAsk:
    """A tile request the fast paths may answer: every check but the rate limit passed."""
    user: object
    token: str
    rule: roles.Rule
    collection_id: str
    purpose: str | None
    prep: Prepared
    z: int
    x: int
    y: int
    gzip: bool
    client: str

    def answer(self, wf, data: bytes, gz: bool) -> tuple[Context, bytes, dict] | None:
        """The answer with ``data``, the per-user rate limit taken last (None when over it)."""
        if wf.limiter.take("u:" + self.user.name):
            return None
        ctx = Context(user=self.user.name, role=self.user.role, route=TILE_ROUTE, rule=self.rule,
                      view=self.prep.view, client=self.client,
                      what=f"/collections/{self.collection_id}/tiles/WebMercatorQuad/"
                           f"{self.z}/{self.x}/{self.y}",
                      token_id=wf.auth.token_id(self.token), purpose=self.purpose)
        return ctx, data, tile_headers(gz)


def tile_ask(wf, scope) -> TileAsk | None:
    """The checks of :func:`cached_tile` before the cache (see there), or None."""
    if scope.get("method") != "GET" or scope.get("root_path"):
        return None
    m = _TILE_PATH.fullmatch(scope.get("path", ""))
    if m is None:
        return None
    header = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), b"")
    token = bearer_token(header.decode("latin-1"))
    if token is None:
        return None
    try:
        user = wf.auth.user_from_token(token)
    except NotAuthenticated:
        return None
    collection_id = m.group(1)
    rule = roles.rule_for("tile")
    if (rule is None or rule.public or rule.person_level or user.role not in rule.roles
            or not roles.collection_allowed(collection_id, user.role)):
        return None
    purpose = None
    if roles.needs_purpose("tile", {"collection_id": collection_id}):
        # the same rule as authorize's, on the same values (Starlette's query parameters: the
        # last ``purpose``; its headers: the first ``X-Purpose``); none stated: the normal way
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        header = next((v for k, v in scope.get("headers", ()) if k == b"x-purpose"), None)
        purpose = stated_purpose(dict(query).get("purpose"),
                                 None if header is None else header.decode("latin-1"))
        if purpose is None:
            return None
    layers = wf.layers
    view = view_for(user.role)
    prep = layers.peek(collection_id, view)
    if prep is None:
        return None
    z, x, y = int(m.group(2)), int(m.group(3)), int(m.group(4))
    if not (z <= MAX_ZOOM and 0 <= x < 1 << z and 0 <= y < 1 << z):
        return None                      # no such tile: the normal way answers 400
    accept = next((v for k, v in scope.get("headers", ()) if k == b"accept-encoding"), b"")
    return TileAsk(user=user, token=token, rule=rule, collection_id=collection_id,
                   purpose=purpose, prep=prep, z=z, x=x, y=y,
                   gzip=accepts_gzip(accept.decode("latin-1")),
                   client=client_of_scope(scope, wf.settings))

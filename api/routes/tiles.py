"""Vector tiles (Mapbox Vector Tile, WebMercatorQuad) and TileJSON for every collection.

PostGIS: ``ST_AsMVT`` over the prepared layer table (GiST index on Web Mercator geometry).
SQLite: ``mapbox_vector_tile`` over the prepared in-memory geometries. Both serve the caller's
minimisation view.
"""
from __future__ import annotations

import json
import math
from typing import Annotated

import mapbox_vector_tile
import numpy as np
import shapely
from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from api.dependencies import ctx_of, require_collection, service
from api.errors import BadRequest
from api.layers import Prepared
from api.model import ERRORS, TILEJSON_EXAMPLE
from api.routes.collections import CollectionId, get_prepared
from starlette.concurrency import run_in_threadpool

router = APIRouter(tags=["tiles"])
MVT = "application/vnd.mapbox-vector-tile"
HALF = 20037508.342789244


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
    if prep.layer.geometry_type != "Point":
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
    base = str(request.base_url).rstrip("/")
    fields = {c: "String" for c in prep.columns}
    return {"tilejson": "3.0.0", "name": collection_id, "description": prep.layer.description,
            "scheme": "xyz", "format": "pbf",
            "tiles": [f"{base}/collections/{collection_id}/tiles/WebMercatorQuad/{{z}}/{{x}}/{{y}}"],
            "minzoom": prep.layer.minzoom, "maxzoom": prep.layer.maxzoom,
            "bounds": prep.extent or [-180.0, -85.0511, 180.0, 85.0511],
            "vector_layers": [{"id": collection_id, "fields": fields,
                               "minzoom": prep.layer.minzoom, "maxzoom": prep.layer.maxzoom}]}


@router.get("/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{x}/{y}", name="tile",
            summary="A Mapbox vector tile of a layer", response_class=Response,
            responses={200: {"content": {MVT: {}}, "description": "MVT (may be empty)"},
                       **{k: ERRORS[k] for k in (400, 401, 403, 429)},
                       404: {"description": "No such collection"}})
async def tile(request: Request, collection_id: CollectionId,
         z: Annotated[int, Path(ge=0, le=22, examples=[12])],
         x: Annotated[int, Path(ge=0, le=4194303, examples=[2029])],
         y: Annotated[int, Path(ge=0, le=4194303, examples=[1363])]) -> Response:
    wf, ctx = service(request), ctx_of(request)
    require_collection(request, collection_id)
    _check(z, x, y)
    prep = await get_prepared(wf, collection_id, ctx.view)
    s = wf.settings
    key = (id(prep), z, x, y)
    data = wf.layers.tile_get(key)
    if data is None:
        if prep.table:
            data = await run_in_threadpool(tile_postgis, wf.store.engine, prep, z, x, y,
                                           s.tile_extent, s.tile_buffer, s.tile_max_features)
        else:
            data = await run_in_threadpool(tile_memory, prep, z, x, y, s.tile_extent,
                                           s.tile_buffer, s.tile_max_features)
        wf.layers.tile_put(key, data)
    ctx.what = f"/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{x}/{y}"
    ctx.result_count = None
    return Response(data, media_type=MVT)

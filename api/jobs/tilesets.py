"""Pre-generalised tiles of the dense point layers: built, stored and served.

At grid and cluster zooms (``geo.tilesets.Scheme``) a tile of a layer in :data:`GENERALISED`
is made from the stored cells of that layer, view and zoom (table ``tileset_cells``), never from
the points: a bounded number of rows per tile whatever the number of points. Street zooms keep
the points (``api.service.routes.tiles``).

Built
    - by ``wayfinder run`` (the ``tiles`` step, ``api.jobs.tiles.build_from_store``), once per run, so
      the service starts with them;
    - by the service whenever it builds its layers and the stored tilesets are not of the
      store's current state (:func:`ensure`: a fresh install, a store changed since the run, an
      erasure, other minimisation settings), from the views it has just prepared. The stamp
      (:func:`stamp_of`: the layers' store fingerprint, the scheme, the grid and the small
      count) says which state a tileset is of; a tileset already current is left as it is
      (several workers build it once, under an advisory lock on PostgreSQL).

Each view's tileset is made from that view's points (250 m grid cells for minimised views) and
its counts are banded by the one rule (``geo.tilesets.shown_counts``); only counts are stored.

Made in advance
    when a tileset is written, in the same transaction, the tiles of its lower zooms (whole
    zooms, lowest first, up to ``Settings.tile_prerender_max`` tiles; :func:`prerender`) are
    made from the cells just written, exactly as a request would make them (:func:`_render`),
    and stored with their gzip (table ``tileset_tiles``, per tile extent and buffer). A request
    for one is a key lookup (:func:`stored_tile`), answered by the service's fast path
    (``api.service.routes.tiles.stored_tile``): the first map a chair opens after a run is not
    made tile by tile. Erasure removes them with the cells.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import time

import numpy as np
import pandas as pd
import sqlalchemy as sa

from api.jobs import mvt
from geo.storage import schema
from geo.storage.store import _rows, utcnow
from geo.tilesets import HALF, SCHEME, generalise, opening_zoom, shown_counts

log = logging.getLogger("wayfinder.tilesets")

#: layers whose tiles at grid and cluster zooms come from their tileset
GENERALISED = ("found_at",)
#: the properties of a cell feature (TileJSON field types)
CELL_FIELDS = {"points": "Number", "band": "String"}
#: zooms below (and including) the opening zoom of a layer's extent that are warmed
WARM_DEPTH = 4


def serves(layer_id: str, z: int) -> bool:
    """True when the tile of ``layer_id`` at zoom ``z`` is made from the stored cells."""
    return layer_id in GENERALISED and SCHEME.generalised(z)


def store_stamp(fingerprint: dict) -> str:
    """The text stamp of a store fingerprint (``api.jobs.layers.LayerCache.fingerprint``)."""
    return hashlib.sha1(json.dumps(fingerprint, sort_keys=True, default=str).encode()).hexdigest()


def points_stamp(fingerprint: dict) -> str:
    """The store stamp of the generalised point layers (:data:`GENERALISED`): the fingerprint
    less the stored results, which those layers do not read (they are built from the place
    events). So a result written after the tiles step (the analyses, the graph) leaves the
    tiles current, and the step may run beside the steps that write results."""
    return store_stamp({k: v for k, v in fingerprint.items() if k != "results"})


def stamp_of(store_stamp_: str, minimiser) -> str:
    return f"{store_stamp_}:{SCHEME.key()}:grid{float(minimiser.grid_m):g}:small{minimiser.small}"


def view_cells(x: np.ndarray, y: np.ndarray, view: str, minimiser) -> pd.DataFrame:
    """The cells of a view's points (Web Mercator), counts as the view may see them."""
    cells = generalise(x, y)
    points, band = shown_counts(cells["points"].to_numpy(), None if view == "full" else minimiser.small)
    return cells.assign(points=points, band=band)


def stored_stamp(engine, layer_id: str, view: str) -> str | None:
    t = schema.tilesets
    with engine.connect() as conn:
        return conn.execute(sa.select(t.c.stamp).where(t.c.layer == layer_id, t.c.view == view)).scalar()


def write(engine, layer_id: str, view: str, cells: pd.DataFrame, stamp: str,
          if_stale: bool = True, prerendered: tuple[int, int, int] | None = None) -> bool:
    """Replace the stored cells of (``layer_id``, ``view``) in one transaction; with
    ``if_stale`` leave a tileset already stamped ``stamp`` as it is. With ``prerendered``
    (extent, buffer, budget: :func:`prerender`) the tiles of its lower zooms are made in the same
    transaction, so the stored tiles are always those of the stored cells. True when written."""
    t, ts, tt = schema.tileset_cells, schema.tilesets, schema.tileset_tiles
    cols = ["layer", "view", "z", "tx", "ty", "x", "y", "points", "band"]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(%s))",
                                 (f"tileset:{layer_id}:{view}",))
        if if_stale and conn.execute(sa.select(ts.c.stamp).where(
                ts.c.layer == layer_id, ts.c.view == view)).scalar() == stamp:
            return False
        conn.execute(tt.delete().where(tt.c.layer == layer_id, tt.c.view == view))
        conn.execute(t.delete().where(t.c.layer == layer_id, t.c.view == view))
        conn.execute(ts.delete().where(ts.c.layer == layer_id, ts.c.view == view))
        rows = cells.assign(layer=layer_id, view=view)[cols]
        if len(rows) and engine.dialect.name == "postgresql":
            buf = io.StringIO()
            rows.to_csv(buf, index=False, header=False, na_rep="\\N")
            buf.seek(0)
            cur = conn.connection.driver_connection.cursor()
            with cur.copy(f"COPY tileset_cells ({', '.join(cols)}) FROM STDIN "
                          f"WITH (FORMAT csv, NULL '\\N')") as copy:
                while chunk := buf.read(1 << 20):
                    copy.write(chunk)
        elif len(rows):
            conn.exec_driver_sql(f"INSERT INTO tileset_cells ({', '.join(cols)}) "
                                 f"VALUES ({', '.join('?' * len(cols))})",
                                 _rows(rows[cols]))                 # NaN -> NULL, numpy -> Python
        if prerendered is not None and len(rows):
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("ANALYZE tileset_cells")
            prerender(conn, layer_id, view, *prerendered)
        conn.execute(ts.insert(), {"layer": layer_id, "view": view, "stamp": stamp,
                                   "cells": len(rows), "built_at": utcnow()})
    return True


def _merc_xy(prep) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator x, y of a prepared point layer's features (a point's bounds are itself)."""
    b = prep.merc_bounds
    return (b[:, 0], b[:, 1]) if len(b) else (np.zeros(0), np.zeros(0))


def ensure(engine, prepared: dict, store_stamp_: str, minimiser, settings=None) -> dict:
    """Write the tileset of every generalised layer and view in ``prepared`` (``(layer, view)``
    -> ``api.jobs.layers.Prepared``) that is not already of this store state, with the tiles of
    its lower zooms made in advance for ``settings``' tile extent and buffer (up to its
    ``tile_prerender_max`` tiles; none without ``settings``). Returns ``{(layer, view): cells
    written}`` for those written."""
    stamp = stamp_of(store_stamp_, minimiser)
    pre = None if settings is None else (settings.tile_extent, settings.tile_buffer,
                                         settings.tile_prerender_max)
    out = {}
    for (layer_id, view), prep in prepared.items():
        if layer_id not in GENERALISED or stored_stamp(engine, layer_id, view) == stamp:
            continue
        t0 = time.perf_counter()
        cells = view_cells(*_merc_xy(prep), view, minimiser)
        if write(engine, layer_id, view, cells, stamp, prerendered=pre):
            out[(layer_id, view)] = len(cells)
            log.info("tileset %s/%s: %d cells from %d points in %.2fs", layer_id, view, len(cells),
                     len(prep), time.perf_counter() - t0)
    return out


class Points:
    """Just the Web Mercator points of a view (what :func:`ensure` reads of a prepared layer)."""

    def __init__(self, merc_bounds):
        self.merc_bounds = merc_bounds

    def __len__(self):
        return len(self.merc_bounds)

    @classmethod
    def of(cls, gdf) -> "Points":
        """The rows ``api.jobs.layers.prepare`` keeps (no missing or empty geometry), without its
        JSON work."""
        import shapely
        gdf = gdf[~gdf.geometry.isna() & ~gdf.geometry.is_empty]
        if not len(gdf):
            return cls(np.zeros((0, 4)))
        return cls(shapely.bounds(gdf.to_crs(3857).geometry.to_numpy()))


# -- serving ------------------------------------------------------------------------------------

def _tile_box(z: int, x: int, y: int, extent: int, buffer: int):
    size = 2 * HALF / (1 << z)
    minx, maxy = -HALF + x * size, HALF - y * size
    pad = size * buffer / extent
    return minx, maxy - size, minx + size, maxy, pad


def tile(engine, layer_id: str, view: str, z: int, x: int, y: int, extent: int,
         buffer: int) -> bytes:
    """The MVT of (``layer_id``, ``view``) at z/x/y from its stored cells: one feature per cell
    (its centre) with ``points`` (the count) or, for a small count in a minimised view,
    ``band`` (``"<5"``); cells of the neighbouring tiles within the buffer too."""
    with engine.connect() as conn:
        return _render(conn, layer_id, view, z, x, y, extent, buffer)


def _render(conn, layer_id: str, view: str, z: int, x: int, y: int, extent: int,
            buffer: int) -> bytes:
    """:func:`tile` on an open connection (the one the cells were just written on, when
    :func:`prerender` makes the stored tiles in the same transaction)."""
    minx, miny, maxx, maxy, pad = _tile_box(z, x, y, extent, buffer)
    p = {"layer": layer_id, "view": view, "z": z, "x": x, "y": y, "extent": extent,
         "buffer": buffer, "x0": x - 1, "x1": x + 1, "y0": y - 1, "y1": y + 1,
         "minx": minx - pad, "maxx": maxx + pad, "miny": miny - pad, "maxy": maxy + pad}
    where = ("c.layer = %(layer)s AND c.view = %(view)s AND c.z = %(z)s "
             "AND c.tx BETWEEN %(x0)s AND %(x1)s AND c.ty BETWEEN %(y0)s AND %(y1)s "
             "AND c.x BETWEEN %(minx)s AND %(maxx)s AND c.y BETWEEN %(miny)s AND %(maxy)s")
    if conn.dialect.name == "postgresql":
        sql = ("SELECT ST_AsMVT(q, %(layer)s, %(extent)s, 'geom') FROM ("
               "SELECT c.points, c.band, ST_AsMVTGeom(ST_SetSRID(ST_MakePoint(c.x, c.y), 3857), "
               "ST_TileEnvelope(%(z)s, %(x)s, %(y)s), %(extent)s, %(buffer)s, true) AS geom "
               f"FROM tileset_cells c WHERE {where}) q")
        data = conn.exec_driver_sql(sql, p).scalar()
        return bytes(data) if data else b""
    # in the order the prerendered tiles read them (_render_zoom): the same bytes either way
    sql = sa.text("SELECT c.x, c.y, c.points, c.band FROM tileset_cells c WHERE "
                  + where.replace("%(", ":").replace(")s", "") + " ORDER BY c.tx, c.ty, c.rowid")
    rows = conn.execute(sql, p).all()
    return _encode(layer_id, [(minx, miny, maxx, maxy)], [len(rows)], *_columns(rows), extent)[0]


def _columns(rows: list) -> tuple:
    """The cells of (x, y, points, band, ...) ``rows`` as :func:`_encode` takes them."""
    cols = list(zip(*rows)) or [(), (), (), ()]
    withheld = np.array([v is None for v in cols[2]], dtype=bool)
    value, values = mvt.factorise([b if v is None else v for v, b in zip(cols[2], cols[3])])
    return np.array(cols[0], dtype=float), np.array(cols[1], dtype=float), withheld, value, values


def _encode(layer_id: str, boxes: list, counts: list[int], x, y, withheld, value, values,
            extent: int) -> list[bytes]:
    """The MVT of each tile of ``boxes`` (its bounds, Web Mercator) from its ``counts`` cells
    (those of all the tiles in turn, in the order of the query; :func:`_columns`): a feature per
    cell at its centre (``x``, ``y``) with ``points`` or, where ``withheld``, ``band`` (the
    ``value`` codes of ``values``); ``b""`` for a tile without cells. The tile
    ``mapbox_vector_tile.encode`` makes of them with ``quantize_bounds`` the tile's bounds, byte
    for byte (``api.jobs.mvt``)."""
    tile = np.repeat(np.arange(len(boxes)), counts)
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)[tile]
    qx, qy = mvt.quantise(x, y, b[:, 0], b[:, 1], b[:, 2], b[:, 3], extent)
    key = withheld.astype(np.int64)                    # 0: "points", 1: "band" (CELL_FIELDS)
    return mvt.encode_point_tiles(layer_id, len(boxes), tile, qx, qy, key, list(CELL_FIELDS),
                                  value, values, extent)


def _render_zoom(conn, layer_id: str, view: str, z: int, keys: list, extent: int,
                 buffer: int) -> list[bytes]:
    """:func:`_render` of each tile ``keys`` of zoom ``z`` (SQLite), from one query of the
    zoom's cells: each tile's are those of the query of :func:`_render`, in its order (the
    index's: tile column, tile row, then as written)."""
    cur = conn.connection.driver_connection.cursor()      # plain tuples: no Row per cell
    rows = cur.execute(
        "SELECT c.x, c.y, c.points, c.band, c.tx, c.ty FROM tileset_cells c WHERE c.layer = ? "
        "AND c.view = ? AND c.z = ? ORDER BY c.tx, c.ty, c.rowid", (layer_id, view, z)).fetchall()
    cur.close()
    x, y, withheld, value, values = _columns(rows)
    t = np.array([r[4:] for r in rows], dtype=np.int64).reshape(-1, 2)
    new = np.flatnonzero(np.r_[True, (t[1:] != t[:-1]).any(axis=1)]) if len(t) else np.zeros(0, int)
    spans = {(int(a), int(b)): (s, e) for (a, b), s, e in
             zip(t[new], new, np.r_[new[1:], len(t)].astype(int))}
    boxes, idx = [], []
    for tx, ty in keys:
        minx, miny, maxx, maxy, pad = _tile_box(z, tx, ty, extent, buffer)
        near = [np.arange(*spans[(a, b)]) for a in (tx - 1, tx, tx + 1)
                for b in (ty - 1, ty, ty + 1) if (a, b) in spans]
        near = np.concatenate(near) if near else np.zeros(0, dtype=np.int64)
        cx, cy = x[near], y[near]
        boxes.append((minx, miny, maxx, maxy))
        idx.append(near[(cx >= minx - pad) & (cx <= maxx + pad) & (cy >= miny - pad) & (cy <= maxy + pad)])
    counts = [len(i) for i in idx]
    idx = np.concatenate(idx) if idx else np.zeros(0, dtype=np.int64)
    return _encode(layer_id, boxes, counts, x[idx], y[idx], withheld[idx], value[idx], values, extent)


def gzip_tile(data: bytes) -> bytes:
    """A tile gzip-compressed once (MVT compresses 3-5x), for clients that accept gzip."""
    return gzip.compress(data, compresslevel=6, mtime=0)


def prerender_zooms(tiles_per_zoom: dict[int, int], budget: int) -> list[int]:
    """The zooms whose tiles are made in advance: the lowest first, each zoom whole (so that
    a zoom is either all stored or all made on request), while the tiles together stay within
    ``budget`` (national data would otherwise store hundreds of thousands of street-level
    tiles that nobody opens)."""
    out, total = [], 0
    for z in sorted(tiles_per_zoom):
        total += tiles_per_zoom[z]
        if total > budget:
            break
        out.append(z)
    return out


def prerender(conn, layer_id: str, view: str, extent: int, buffer: int, budget: int) -> int:
    """Make and store (``tileset_tiles``) the tiles of (``layer_id``, ``view``) at the zooms of
    :func:`prerender_zooms` that hold a cell, and their neighbours (whose buffer may show those
    cells; stored even when empty, so that a map's requests around the data are all answered
    from the store), with :func:`_render` on ``conn`` (so each is the very tile :func:`tile`
    makes on request; on SQLite all the tiles of a zoom at once, :func:`_render_zoom`) and its
    gzip. Any other tile is made on request from the cells (it has none within its buffer).
    Returns the tiles stored."""
    t, tt = schema.tileset_cells, schema.tileset_tiles
    if budget <= 0:
        return 0
    tiles = (sa.select(t.c.z, t.c.tx, t.c.ty).distinct()
             .where(t.c.layer == layer_id, t.c.view == view).subquery())
    counts = dict(conn.execute(sa.select(tiles.c.z, sa.func.count()).group_by(tiles.c.z)).all())
    n = 0
    for z in prerender_zooms({int(k): int(v) for k, v in counts.items()}, budget):
        own = conn.execute(sa.select(t.c.tx, t.c.ty).distinct()
                           .where(t.c.layer == layer_id, t.c.view == view, t.c.z == z)).all()
        n_side = 1 << z
        keys = sorted({(tx + dx, ty + dy) for tx, ty in own for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                       if 0 <= tx + dx < n_side and 0 <= ty + dy < n_side})
        if conn.dialect.name == "postgresql":
            datas = [_render(conn, layer_id, view, z, int(tx), int(ty), extent, buffer)
                     for tx, ty in keys]
        else:
            datas = _render_zoom(conn, layer_id, view, z, keys, extent, buffer)
        rows = []
        for (tx, ty), data in zip(keys, datas):
            rows.append({"layer": layer_id, "view": view, "z": z, "x": int(tx), "y": int(ty),
                         "extent": extent, "buffer": buffer, "mvt": data, "gz": gzip_tile(data)})
            if len(rows) >= 500:
                conn.execute(tt.insert(), rows)
                n, rows = n + len(rows), []
        if rows:
            conn.execute(tt.insert(), rows)
            n += len(rows)
    return n


#: the lookup of :func:`stored_tile`: the tile by its primary key, else, when its zoom was made
#: in advance (a tile of that zoom is stored), a row of NULLs: the tile is empty
_STORED = ("SELECT mvt, gz FROM tileset_tiles WHERE layer = %(layer)s AND view = %(view)s "
           "AND z = %(z)s AND x = %(x)s AND y = %(y)s AND extent = %(extent)s AND buffer = %(buffer)s "
           "UNION ALL SELECT NULL, NULL WHERE EXISTS (SELECT 1 FROM tileset_tiles "
           "WHERE layer = %(layer)s AND view = %(view)s AND z = %(z)s AND extent = %(extent)s "
           "AND buffer = %(buffer)s) LIMIT 1")
_EMPTY = (b"", gzip.compress(b"", compresslevel=6, mtime=0))


def stored_tile(engine, layer_id: str, view: str, z: int, x: int, y: int, extent: int,
                buffer: int) -> tuple[bytes, bytes] | None:
    """The tile made in advance by :func:`prerender` and its gzip; an empty tile when its zoom
    was made in advance and it is not stored (:func:`prerender` stores every tile of such a
    zoom that has a cell within reach of :func:`_render`: its own or a neighbour's); else None
    (make it with :func:`tile`). One primary-key lookup, in autocommit (no BEGIN and ROLLBACK
    round trips) and as the driver's SQL (no statement to build): a third of the time of a Core
    ``select`` in a transaction, on the path of every uncached tile."""
    p = {"layer": layer_id, "view": view, "z": z, "x": x, "y": y, "extent": extent,
         "buffer": buffer}
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        if conn.dialect.name == "postgresql":
            row = conn.exec_driver_sql(_STORED, p).first()
        else:
            row = conn.execute(sa.text(_STORED.replace("%(", ":").replace(")s", "")), p).first()
    if row is None:
        return None
    return _EMPTY if row[0] is None else (bytes(row[0]), bytes(row[1]))


def opening_tiles(engine, layer_id: str, view: str, bounds, depth: int = WARM_DEPTH,
                  limit: int = 2000) -> list[tuple[int, int, int]]:
    """The non-empty tiles a map of the layer's extent opens on: the opening zoom of ``bounds``
    (WGS84) and the ``depth`` zooms below it (up to the last cluster zoom), fewest first, at most
    ``limit``."""
    if layer_id not in GENERALISED or bounds is None:
        return []
    z0 = opening_zoom(bounds)
    t = schema.tileset_cells
    out: list[tuple[int, int, int]] = []
    with engine.connect() as conn:
        for z in range(z0, min(z0 + depth, SCHEME.cluster_max_zoom) + 1):
            q = (sa.select(t.c.tx, t.c.ty).distinct()
                 .where(t.c.layer == layer_id, t.c.view == view, t.c.z == z)
                 .order_by(t.c.tx, t.c.ty))
            out += [(z, int(a), int(b)) for a, b in conn.execute(q)]
            if len(out) >= limit:
                return out[:limit]
    return out

"""The point-layer MVT encoder (``api.jobs.mvt``) makes the very bytes ``mapbox_vector_tile``
makes of the cells of a tileset: random points, both properties (a count, the band "<5"), points
on the edges of the buffer and on rounding halves, many distinct values, empty tiles; and the
tiles ``api.jobs.tilesets.prerender`` stores on SQLite are those the per-tile query and
``mapbox_vector_tile`` made before."""
from __future__ import annotations

import mapbox_vector_tile
import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from api.jobs import mvt, tilesets
from geo.storage import schema
from geo.tilesets import generalise, shown_counts


def _reference(name, rows, box, extent):
    """The tile as ``tilesets._render`` made it with ``mapbox_vector_tile`` (before api.jobs.mvt)."""
    if not rows:
        return b""
    feats = [{"geometry": shapely.Point(cx, cy),
              "properties": {"points": pts} if pts is not None else {"band": band}}
             for cx, cy, pts, band in rows]
    return mapbox_vector_tile.encode([{"name": name, "features": feats}], default_options={
        "quantize_bounds": box, "extents": extent, "y_coord_down": False})


def _fast(name, tiles, extent):
    """``tilesets._encode`` of [(box, rows)] tiles."""
    rows = [r for _, rs in tiles for r in rs]
    return tilesets._encode(name, [b for b, _ in tiles], [len(rs) for _, rs in tiles],
                            *tilesets._columns(rows), extent)


def _rows(rng, box, pad, n, banded=0.3, big=False):
    minx, miny, maxx, maxy = box
    x = rng.uniform(minx - pad, maxx + pad, n)
    y = rng.uniform(miny - pad, maxy + pad, n)
    # the edges of the buffer and of the tile, and points half a unit off the grid
    step = (maxx - minx) / 4096
    x[:6] = [minx - pad, maxx + pad, minx, maxx, minx + 10.5 * step, minx + 11.5 * step]
    y[:6] = [miny - pad, maxy + pad, maxy, miny, miny + 7.5 * step, miny + 8.5 * step]
    pts = rng.integers(1, 10**7 if big else 60, n)
    band = rng.random(n) < banded
    return [(float(a), float(b), None if w else int(p), "<5" if w else None)
            for a, b, p, w in zip(x, y, pts, band)]


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("extent,buffer", [(4096, 64), (512, 16), (256, 0)])
def test_point_tiles_equal_mapbox_vector_tile(seed, extent, buffer):
    rng = np.random.default_rng(seed)
    z = int(rng.integers(0, 16))
    tx, ty = (int(v) for v in rng.integers(0, 1 << z, 2))
    minx, miny, maxx, maxy, pad = tilesets._tile_box(z, tx, ty, extent, buffer)
    box = (minx, miny, maxx, maxy)
    n = int(rng.integers(1, 400))
    rows = _rows(rng, box, pad, n, banded=[0.0, 0.3, 1.0][seed % 3], big=seed % 2 == 1)
    want = _reference("found_at", rows, box, extent)
    got = _fast("found_at", [(box, rows)], extent)[0]
    assert got == want
    assert mapbox_vector_tile.decode(got) == mapbox_vector_tile.decode(want)


def test_many_tiles_at_once_each_as_alone_and_empty_tiles_empty():
    rng = np.random.default_rng(7)
    tiles = []
    for k in range(12):
        minx, miny, maxx, maxy, pad = tilesets._tile_box(9, 250 + k, 170, 4096, 64)
        box = (minx, miny, maxx, maxy)
        tiles.append((box, [] if k % 4 == 0 else _rows(rng, box, pad, int(rng.integers(1, 300)))))
    got = _fast("found_at", tiles, 4096)
    assert got == [_reference("found_at", rows, box, 4096) for box, rows in tiles]
    assert got[0] == b"" and _fast("found_at", [], 4096) == []
    # a tile whose features have no property at all, and more than 127 distinct values
    box = tiles[1][0]
    bare = [(box[0] + i, box[1] + i, None, None) for i in range(3)]
    many = [(box[0] + i * 10.0, box[1] + i * 7.0, i, None) for i in range(300)]
    for rows in (bare, many):
        assert _fast("found_at", [(box, rows)], 4096)[0] == _reference("found_at", rows, box, 4096)


def test_values_typed_as_mapbox_vector_tile_types_them():
    feats = [{"geometry": shapely.Point(1, 2), "properties": {"a": v}}
             for v in ("<5", 3, -4, 2**40, 0.5, True, False, 1, 3)]
    want = mapbox_vector_tile.encode([{"name": "l", "features": feats}],
                                     default_options={"quantize_bounds": (0, 0, 10, 10)})
    values = [f["properties"]["a"] for f in feats]
    code, table = mvt.factorise(values)
    x, y = mvt.quantise(np.ones(len(feats)), np.full(len(feats), 2.0), 0, 0, 10, 10, 4096)
    got = mvt.encode_point_tiles("l", 1, np.zeros(len(feats), dtype=int), x, y,
                                 np.zeros(len(feats), dtype=int), ["a"], code, table, 4096)[0]
    assert got == want


def test_prerendered_tiles_on_sqlite_are_the_per_tile_mapbox_tiles(tmp_path):
    engine = sa.create_engine(f"sqlite:///{tmp_path / 't.sqlite'}")
    schema.metadata.create_all(engine, tables=[schema.tileset_cells, schema.tileset_tiles,
                                               schema.tilesets])
    rng = np.random.default_rng(3)
    centres = rng.normal([-210_000.0, 6_900_000.0], 30_000, (40, 2))
    xy = centres[rng.integers(0, 40, 3000)] + rng.normal(0, 300, (3000, 2))
    cells = generalise(xy[:, 0], xy[:, 1])
    points, band = shown_counts(cells["points"].to_numpy(), 5)
    cells = cells.assign(points=points, band=band)
    assert tilesets.write(engine, "found_at", "case", cells, "s", prerendered=(4096, 64, 600))
    c, tt = schema.tileset_cells, schema.tileset_tiles
    with engine.connect() as conn:
        stored = conn.execute(sa.select(tt.c.z, tt.c.x, tt.c.y, tt.c.mvt)).all()
        assert len(stored) > 100 and any(m for *_, m in stored) and any(not m for *_, m in stored)
        for z, x, y, data in stored:
            minx, miny, maxx, maxy, pad = tilesets._tile_box(z, x, y, 4096, 64)
            rows = conn.execute(sa.select(c.c.x, c.c.y, c.c.points, c.c.band).where(
                c.c.layer == "found_at", c.c.view == "case", c.c.z == z,
                c.c.tx.between(x - 1, x + 1), c.c.ty.between(y - 1, y + 1),
                c.c.x.between(minx - pad, maxx + pad), c.c.y.between(miny - pad, maxy + pad))).all()
            assert bytes(data) == _reference("found_at", rows, (minx, miny, maxx, maxy), 4096), (z, x, y)


def test_halves_round_to_even_as_python_round():
    box = (0.0, 0.0, 4096.0, 4096.0)          # one unit per metre: k + 0.5 is an exact half
    rows = [(k + 0.5, 4096 - k - 0.5, k + 10, None) for k in range(-4, 6)]
    rows += [(4096.5, -0.5, None, "<5"), (-64.5, 4160.5, None, "<5")]
    assert _fast("found_at", [(box, rows)], 4096)[0] == _reference("found_at", rows, box, 4096)


def test_a_tile_without_cells_is_empty():
    box = tilesets._tile_box(12, 2029, 1363, 4096, 64)[:4]
    assert _fast("found_at", [(box, [])], 4096) == [b""] == [_reference("found_at", [], box, 4096)]

"""Tiles of a pre-generalised layer made in advance (``api.jobs.tilesets.prerender``, table
``tileset_tiles``) and the middleware's fast paths for person-level tiles, on SQLite and PostGIS:
a stored tile is the very tile made on request from the cells; the stored and cached fast paths
keep every check of the normal way (purpose included) and write the same audit entry."""
from __future__ import annotations

import gzip

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from api.jobs import tilesets
from api.jobs.audit import verify
from api.service.routes.tiles import GZIP_MIN, cached_tile, stored_tile
from api.tables import audit_log
from geo.storage import schema

PURPOSE = "purpose=prerendered+tile+test"
KEYS = ("user_name", "role", "action", "route", "what", "purpose", "result_count", "status")


def _last(wf, n=1):
    with wf.store.engine.connect() as conn:
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(n)).mappings().all()
    return [dict(r) for r in reversed(rows)]


def _stored(wf, view):
    tt = schema.tileset_tiles
    with wf.store.engine.connect() as conn:
        return conn.execute(sa.select(tt.c.z, tt.c.x, tt.c.y, tt.c.extent, tt.c.buffer, tt.c.mvt, tt.c.gz)
                            .where(tt.c.layer == "found_at", tt.c.view == view)).all()


@pytest.fixture
def served(monkeypatch):
    """Per request reaching the middleware: which fast path answered it ("cached", "stored")
    or None (the normal way)."""
    import api.service.app as app_module
    hits = []

    def cached(wf, scope):
        answer = cached_tile(wf, scope)
        hits.append("cached" if answer is not None else None)
        return answer

    async def stored(wf, scope):
        answer = await stored_tile(wf, scope)
        if answer is not None:
            hits[-1] = "stored"
        return answer
    monkeypatch.setattr(app_module, "cached_tile", cached)
    monkeypatch.setattr(app_module, "stored_tile", stored)
    return hits


def _a_stored_tile(wf, view="full"):
    rows = _stored(wf, view)
    assert rows, "no stored tile"
    return max(rows, key=lambda r: (r.z, len(r.mvt)))


def test_prerender_zooms_whole_zooms_lowest_first_within_budget():
    counts = {0: 1, 1: 1, 2: 2, 3: 4, 4: 9, 5: 30}
    assert tilesets.prerender_zooms(counts, 100) == [0, 1, 2, 3, 4, 5]
    assert tilesets.prerender_zooms(counts, 17) == [0, 1, 2, 3, 4]        # 17 tiles: z5 left out
    assert tilesets.prerender_zooms(counts, 16) == [0, 1, 2, 3]           # never part of a zoom
    assert tilesets.prerender_zooms(counts, 0) == []


@pytest.mark.parametrize("view", ["full", "case", "licensing"])
def test_stored_tiles_are_the_tiles_made_from_the_cells(app, view):
    wf = app.state.wf
    wf.layers.get("found_at", view)                  # layers and tilesets built
    s = wf.settings
    rows = _stored(wf, view)
    assert rows and {r.z for r in rows} == set(tilesets.SCHEME.zooms)   # small data: every zoom
    t = schema.tileset_cells
    with wf.store.engine.connect() as conn:
        with_cells = set(conn.execute(sa.select(t.c.z, t.c.tx, t.c.ty).distinct().where(
            t.c.layer == "found_at", t.c.view == view)).all())
    # every tile holding a cell, and its neighbours (their buffer may show its cells)
    ring = {(z, x + dx, y + dy) for z, x, y in with_cells for dx in (-1, 0, 1) for dy in (-1, 0, 1)
            if 0 <= x + dx < (1 << z) and 0 <= y + dy < (1 << z)}
    assert {(r.z, r.x, r.y) for r in rows} == ring
    assert any(not r.mvt for r in rows) and all(r.mvt for r in rows if (r.z, r.x, r.y) in with_cells)
    for r in rows:
        assert (r.extent, r.buffer) == (s.tile_extent, s.tile_buffer)
        made = tilesets.tile(wf.store.engine, "found_at", view, r.z, r.x, r.y, r.extent, r.buffer)
        assert bytes(r.mvt) == made
        assert gzip.decompress(bytes(r.gz)) == made


def test_no_tiles_stored_for_another_tile_size_or_without_budget(app, store):
    wf = app.state.wf
    wf.layers.get("found_at", "full")
    r = _a_stored_tile(wf)
    assert tilesets.stored_tile(wf.store.engine, "found_at", "full", r.z, r.x, r.y, r.extent, r.buffer)
    assert tilesets.stored_tile(wf.store.engine, "found_at", "full", r.z, r.x, r.y, 512, r.buffer) is None
    with store.engine.begin() as conn:
        assert tilesets.prerender(conn, "found_at", "full", 4096, 64, 0) == 0


def test_stored_tile_answered_by_the_fast_path_checked_and_audited(app, as_role, served):
    wf = app.state.wf
    wf.layers.get("found_at", "full")
    r = _a_stored_tile(wf)
    path = f"/collections/found_at/tiles/WebMercatorQuad/{r.z}/{r.x}/{r.y}"
    wf.layers._tiles.clear()
    got = as_role("analyst", "GET", f"{path}?{PURPOSE}", headers={"Accept-Encoding": "gzip"})
    assert served == ["stored"] and got.status_code == 200
    assert got.content == bytes(r.mvt)                # httpx decodes gzip
    # gzip as stored for a tile worth compressing (the test data's tiles are small)
    assert got.headers.get("content-encoding") == ("gzip" if len(r.mvt) >= GZIP_MIN else None)
    entry = _last(wf)[0]
    assert entry["what"] == path and entry["purpose"] == "prerendered tile test"
    assert entry["action"] == "consultation" and entry["status"] == 200
    # then from the tile cache, with the same audit entry
    again = as_role("analyst", "GET", f"{path}?{PURPOSE}", headers={"Accept-Encoding": "identity"})
    assert served[-1] == "cached" and again.content == bytes(r.mvt)
    assert "content-encoding" not in again.headers
    b = _last(wf)[0]
    assert {k: b[k] for k in KEYS} == {k: entry[k] for k in KEYS} and b["id"] == entry["id"] + 1
    # a purpose too short: not the fast path; the normal way refuses and records it
    wf.layers._tiles.clear()
    assert as_role("analyst", "GET", f"{path}?purpose=no").status_code == 400
    assert served[-1] is None and _last(wf)[0]["status"] == 400
    assert verify(wf.store.engine).ok


def test_fast_paths_refuse_what_the_normal_way_refuses(app, as_role, served):
    wf = app.state.wf
    wf.layers.get("found_at", "full")
    r = _a_stored_tile(wf)
    path = f"/collections/found_at/tiles/WebMercatorQuad/{r.z}/{r.x}/{r.y}"
    for view in ("full", "case", "licensing"):         # every view's tile cached
        prep = wf.layers._data[("found_at", view)]
        key = wf.layers.tile_key(prep, r.z, r.x, r.y)
        wf.layers.tile_put(key, b"planted" * 200)
        wf.layers.tile_put(key + ("gzip",), gzip.compress(b"planted" * 200))
    del served[:]
    cases = [("analyst", path, 400),                   # no purpose
             ("analyst", f"{path}?purpose=abc", 400),  # too short
             ("admin", f"{path}?{PURPOSE}", 403),      # route not for this role
             (None, f"{path}?{PURPOSE}", 401)]         # no token
    for role, p, status in cases:
        got = as_role(role, "GET", p)
        assert got.status_code == status and b"planted" not in got.content, (role, p)
        entry = _last(wf)[0]
        assert entry["status"] == status and entry["what"].startswith(path)
        if status in (401, 403):
            assert entry["action"] == "denied"
    assert served == [None] * len(cases)
    # a purpose in the X-Purpose header, as GDAL sends it: answered from the cache, recorded
    got = as_role("analyst", "GET", path, headers={"X-Purpose": "GDAL layer review"})
    assert got.status_code == 200 and served[-1] == "cached" and got.content == b"planted" * 200
    assert _last(wf)[0]["purpose"] == "GDAL layer review"
    wf.layers._tiles.clear()


def test_tile_beyond_the_stored_ones_is_empty_from_the_store(app, as_role, served):
    """At a zoom made in advance, a tile not stored has no cell within reach: answered empty by
    the stored path, as the cells would make it; at a zoom not made in advance: the normal way."""
    wf = app.state.wf
    wf.layers.get("found_at", "full")
    r = _a_stored_tile(wf)
    s = wf.settings
    far = (r.z, (r.x + 5) % (1 << r.z), (r.y + 5) % (1 << r.z))
    assert far not in {(q.z, q.x, q.y) for q in _stored(wf, "full")}
    assert tilesets.tile(wf.store.engine, "found_at", "full", *far, s.tile_extent, s.tile_buffer) == b""
    assert tilesets.stored_tile(wf.store.engine, "found_at", "full", *far, s.tile_extent, s.tile_buffer)[0] == b""
    wf.layers._tiles.clear()
    got = as_role("analyst", "GET", "/collections/found_at/tiles/WebMercatorQuad/{}/{}/{}?{}".format(*far, PURPOSE))
    assert got.status_code == 200 and got.content == b"" and served == ["stored"]
    assert _last(wf)[0]["purpose"] == "prerendered tile test"
    # another tile size: nothing made in advance for it
    assert tilesets.stored_tile(wf.store.engine, "found_at", "full", *far, 512, s.tile_buffer) is None


def test_street_zoom_tile_goes_the_normal_way(app, as_role, served):
    wf = app.state.wf
    prep = wf.layers.get("found_at", "full")
    z = tilesets.SCHEME.cluster_max_zoom + 1
    b = prep.merc_bounds
    size = 2 * tilesets.HALF / (1 << z)
    tx, ty = int((b[0, 0] + tilesets.HALF) // size), int((tilesets.HALF - b[0, 1]) // size)
    wf.layers._tiles.clear()
    got = as_role("analyst", "GET", f"/collections/found_at/tiles/WebMercatorQuad/{z}/{tx}/{ty}?{PURPOSE}")
    assert got.status_code == 200 and served == [None]
    assert _last(wf)[0]["purpose"] == "prerendered tile test"

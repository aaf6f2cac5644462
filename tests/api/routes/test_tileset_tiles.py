"""Pre-generalised found-at tiles (api.jobs.tilesets), on SQLite and PostGIS: at grid and cluster
zooms a tile's cells count exactly the points of the caller's view inside it, small counts are
banded for minimised views, only counts are sent, street zooms keep each view's points, and
the run step and the service agree on what is stored."""
from __future__ import annotations

from collections import Counter

import mapbox_vector_tile
import numpy as np
import pytest
import sqlalchemy as sa

from api.jobs import tilesets
from api.jobs.tiles import build_from_store
from api.minimise import view_for
from geo import disclosure
from geo.storage import schema
from geo.tilesets import HALF, SCHEME, cells_at, tile_of

Q = "?purpose=tileset+test"
ROLES_VIEWS = [("analyst", "full"), ("mog_member", "case"), ("licensing_officer", "licensing")]


def _decode(content: bytes) -> list[dict]:
    if not content:
        return []
    return mapbox_vector_tile.decode(content, default_options={"y_coord_down": True})["found_at"]["features"]


def _inside(f, extent=4096):
    x, y = f["geometry"]["coordinates"]
    return 0 <= x < extent and 0 <= y < extent


def _view_tiles(prep, z):
    """The tiles of zoom z holding a point of the prepared view, with their exact counts."""
    b = prep.merc_bounds
    cells = cells_at(b[:, 0], b[:, 1], z, SCHEME.cells_per_side(z))
    return cells


@pytest.mark.parametrize("role,view", ROLES_VIEWS)
def test_tile_counts_equal_the_views_points(app, as_role, role, view):
    wf = app.state.wf
    assert view_for(role) == view
    prep = wf.layers.get("found_at", view)
    assert len(prep) > 0
    small = None if view == "full" else wf.minimiser.small
    for z in (0, 8, 10, 12, 15):
        cells = _view_tiles(prep, z)
        for (tx, ty), expect in cells.groupby(["tx", "ty"]):
            feats = [f for f in _decode(as_role(role, "GET",
                     f"/collections/found_at/tiles/WebMercatorQuad/{z}/{tx}/{ty}{Q}").content) if _inside(f)]
            # only counts: no property of any person or record
            assert all(set(f["properties"]) <= {"points", "band"} for f in feats), feats[:2]
            shown = Counter(f["properties"].get("points", f["properties"].get("band")) for f in feats)
            want = Counter(disclosure.small_count(int(n), small) if small else int(n)
                           for n in expect["points"])
            assert shown == want, (role, z, tx, ty)
            if view == "full":                   # exact: sum of the cells = points in the tile
                assert sum(f["properties"]["points"] for f in feats) == int(expect["points"].sum())
            else:                                # banded: a small cell never shows its count
                for f in feats:
                    p = f["properties"]
                    assert ("band" in p) != ("points" in p)
                    assert p.get("band") in (None, f"<{small}")
                    assert p.get("points") is None or p["points"] >= small


def test_minimised_views_count_their_snapped_points(app):
    """A case view's cells are counted over its 250 m points, not the exact ones: at the last
    cluster zoom (cells of a few metres) each of its cells is at one of its grid points."""
    wf = app.state.wf
    z = SCHEME.cluster_max_zoom
    t = schema.tileset_cells
    wf.layers.get("found_at", "full")            # the layers (and their tilesets) are built
    with wf.store.engine.connect() as conn:
        xy = {v: np.array(conn.execute(sa.select(t.c.x, t.c.y).where(
            t.c.layer == "found_at", t.c.view == v, t.c.z == z)).all()) for v in ("full", "case")}
    cell = 2 * HALF / (1 << z) / SCHEME.cells_per_side(z)
    for v in ("full", "case"):
        pts = wf.layers.get("found_at", v).merc_bounds[:, :2]
        d = np.abs(xy[v][:, None, :] - pts[None, :, :]).max(axis=2).min(axis=1)
        assert (d <= cell / 2 + 1e-6).all(), v
    # and the exact points are not where the case view's cells are
    d = np.abs(xy["case"][:, None, :] - wf.layers.get("found_at", "full").merc_bounds[None, :, :2]).max(axis=2).min(axis=1)
    assert (d > cell).any()


def test_street_zooms_keep_each_views_points(app, as_role):
    wf = app.state.wf
    z = SCHEME.cluster_max_zoom + 1
    for role, view in ROLES_VIEWS:
        b = wf.layers.get("found_at", view).merc_bounds
        size = 2 * HALF / (1 << z)
        tx, ty = int((b[0, 0] + HALF) // size), int((HALF - b[0, 1]) // size)
        feats = _decode(as_role(role, "GET", f"/collections/found_at/tiles/WebMercatorQuad/{z}/{tx}/{ty}{Q}").content)
        assert feats and all("points" not in f["properties"] for f in feats)
        props = feats[0]["properties"]
        if view == "full":
            assert "person_id" in props and "event_key" in props
        elif view == "case":
            assert props["child"].startswith("C-") and "person_id" not in props
        else:
            assert "child" not in props and "person_id" not in props and len(props["at"]) == 7


def test_run_step_and_service_store_the_same_tileset(app, store):
    wf = app.state.wf
    wf.layers.get("found_at", "full")
    t, ts = schema.tileset_cells, schema.tilesets

    def stored():
        with store.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.view, t.c.z, t.c.tx, t.c.ty, t.c.x, t.c.y, t.c.points, t.c.band)
                                .where(t.c.layer == "found_at")).all()
            stamps = dict(conn.execute(sa.select(ts.c.view, ts.c.stamp).where(ts.c.layer == "found_at")).all())
        return sorted(rows, key=lambda r: tuple(str(v) for v in r)), stamps

    before, stamps = stored()
    assert set(stamps) == {"full", "case", "licensing"}
    # the run step finds them current (same store state, same settings): nothing rewritten
    summary = build_from_store(store, wf.settings, wf.minimiser)
    assert all(v["current"] for v in summary["found_at"].values()), summary
    # forgotten, the run step writes the very same cells the service had written
    with store.engine.begin() as conn:
        conn.execute(ts.update().values(stamp="stale"))
    summary = build_from_store(store, wf.settings, wf.minimiser)
    assert not any(v["current"] for v in summary["found_at"].values())
    after, stamps2 = stored()
    assert stamps2 == stamps
    assert len(after) == len(before)
    assert all(a[:4] == b[:4] and a[6:] == b[6:] and abs(a[4] - b[4]) < 1e-6 and abs(a[5] - b[5]) < 1e-6
               for a, b in zip(after, before))


def test_cache_is_warmed_with_the_opening_tiles(app):
    from api.service.routes.tiles import warm
    wf = app.state.wf
    prep = wf.layers.get("found_at", "case")
    tiles = tilesets.opening_tiles(wf.store.engine, "found_at", "case", prep.extent)
    assert tiles and len({z for z, _, _ in tiles}) >= 2
    z0 = min(z for z, _, _ in tiles)
    assert tile_of(prep.extent[0], prep.extent[3], z0)[0] <= tile_of(prep.extent[2], prep.extent[1], z0)[0]
    assert warm(wf) >= len(tiles)
    z, x, y = tiles[-1]
    data = wf.layers.tile_get(wf.layers.tile_key(prep, z, x, y))
    assert data is not None and data == tilesets.tile(wf.store.engine, "found_at", "case", z, x, y,
                                                      wf.settings.tile_extent, wf.settings.tile_buffer)
    assert np.isfinite(len(data))


def test_tilejson_lists_the_cell_fields(as_role):
    tj = as_role("mog_member", "GET", f"/collections/found_at/tiles/WebMercatorQuad/tilejson.json{Q}").json()
    fields = tj["vector_layers"][0]["fields"]
    assert fields["points"] == "Number" and fields["band"] == "String" and "child" in fields

"""Cached tiles are answered by ``api.service.routes.tiles.cached_tile`` (from ``AuditMiddleware``) with
the same answer, the same checks and the same audit entry as the normal route; anything but an
allowed cache hit goes the normal way."""
import pytest
from sqlalchemy import select

from api.jobs.audit import AuditWriteError, verify
from api.service.auth import add_user, set_disabled
from api.service.routes.tiles import cached_tile
from api.tables import audit_log

# found_at is a person-level layer now (a purpose on every tile, no fast path): a ward layer
TILE = "/collections/hotspots_ward/tiles/WebMercatorQuad/10/506/336"
KEYS = ("user_name", "role", "action", "route", "what", "purpose", "result_count", "status")


@pytest.fixture
def served(monkeypatch):
    """One bool per request that reached the middleware: answered by the cached-tile path?"""
    hits = []

    def spy(wf, scope):
        answer = cached_tile(wf, scope)
        hits.append(answer is not None)
        return answer
    monkeypatch.setattr("api.service.app.cached_tile", spy)
    return hits


def _last(wf, n=1):
    with wf.store.engine.connect() as conn:   # no flush: committed before the response
        rows = conn.execute(select(audit_log).order_by(audit_log.c.id.desc()).limit(n)).mappings().all()
    return [dict(r) for r in reversed(rows)]


def test_cached_tile_same_answer_and_audit_entry(app, as_role, served):
    wf = app.state.wf
    wf.layers._tiles.clear()
    first = as_role("analyst", "GET", TILE)           # the route (ST_AsMVT / in memory), cached
    second = as_role("analyst", "GET", TILE)          # from the cache, by the middleware
    assert served == [False, True]
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    for h in ("content-type", "content-length"):
        assert first.headers[h] == second.headers[h]
    a, b = _last(wf, 2)
    assert {k: a[k] for k in KEYS} == {k: b[k] for k in KEYS}
    assert b["route"] == "/collections/{collection_id}/tiles/WebMercatorQuad/{z}/{x}/{y}"
    assert b["what"] == TILE and b["user_name"] == "t_analyst" and b["action"] == "consultation"
    assert b["id"] == a["id"] + 1 and verify(wf.store.engine).ok


def test_cached_tile_refusals_go_the_normal_way(app, as_role, served):
    wf = app.state.wf
    placements = "/collections/placements/tiles/WebMercatorQuad/0/0/0?purpose=tile+test"
    for _ in range(2):                                # cached for the analyst's (full) view
        assert as_role("analyst", "GET", placements).status_code == 200
    assert as_role("analyst", "GET", TILE).status_code == 200
    del served[:]
    cases = [("mog_member", placements, 403),        # collection not for this role
             ("admin", TILE, 403),                    # route not for this role
             (None, TILE, 401)]                       # no token
    for role, path, status in cases:
        r = as_role(role, "GET", path)
        assert r.status_code == status
        entry = _last(wf)[0]
        assert entry["action"] == "denied" and entry["status"] == status
    r = as_role(None, "GET", TILE, headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and _last(wf)[0]["action"] == "denied"
    # not canonical decimal: the route decides, as before
    as_role("analyst", "GET", "/collections/found_at/tiles/WebMercatorQuad/010/506/336")
    assert served == [False] * 5


def test_cached_tile_checks_collection_and_matrix(app, as_role, monkeypatch, served):
    """Even with a tile of the caller's view in the cache, the collection roles and the matrix
    are applied (defence in depth: the normal way never caches a tile its caller may not see)."""
    from api import roles
    wf = app.state.wf
    placements = "/collections/placements/tiles/WebMercatorQuad/0/0/0?purpose=tile+test"
    as_role("analyst", "GET", placements)             # layers built and fresh
    prep = wf.layers._data[("placements", "case")]    # mog_member's view
    wf.layers.tile_put(wf.layers.tile_key(prep, 0, 0, 0), b"planted")
    r = as_role("mog_member", "GET", placements)
    assert r.status_code == 403 and b"planted" not in r.content and served[-1] is False
    assert as_role("analyst", "GET", TILE).status_code == 200
    assert as_role("analyst", "GET", TILE).status_code == 200 and served[-1] is True
    monkeypatch.setitem(roles.ROUTES, "tile", roles.Rule(frozenset({"mog_member"})))
    r = as_role("analyst", "GET", TILE)
    assert r.status_code == 403 and served[-1] is False
    assert _last(wf)[0]["action"] == "denied"


def test_disabled_user_refused_after_user_cache_seconds(app, client, passwords, monkeypatch, served):
    import time
    wf = app.state.wf
    monkeypatch.setattr(wf.auth, "cache_seconds", 0.3)
    add_user(wf.store.engine, "t_tile_leaver", "analyst", passwords["analyst"])
    tok = client.post("/auth/token", data={"username": "t_tile_leaver",
                                           "password": passwords["analyst"]}).json()["access_token"]
    headers = {"Authorization": f"Bearer {tok}"}
    assert client.get(TILE, headers=headers).status_code == 200
    assert client.get(TILE, headers=headers).status_code == 200
    assert served[-1] is True
    set_disabled(wf.store.engine, "t_tile_leaver")
    time.sleep(0.35)                                  # within user_cache_seconds it may still pass
    r = client.get(TILE, headers=headers)
    assert r.status_code == 401 and served[-1] is False
    entry = _last(wf)[0]
    assert entry["action"] == "denied" and entry["status"] == 401 and entry["what"] == TILE


def test_cached_tile_not_sent_without_its_audit_entry(app, as_role, monkeypatch, served):
    tile = as_role("analyst", "GET", TILE).content
    assert as_role("analyst", "GET", TILE).status_code == 200 and served[-1] is True

    async def broken(entry):
        raise AuditWriteError("disk full")
    monkeypatch.setattr(app.state.wf.audit, "record_async", broken)
    r = as_role("analyst", "GET", TILE)
    assert served[-1] is True and r.status_code == 503 and "audit" in r.json()["description"]
    assert not tile or tile not in r.content


def test_tiles_gzip_for_clients_that_accept_it(app, as_role, served):
    # a tile is gzip-compressed once for the cache and sent so to clients that accept gzip, by
    # the route and by the cached-tile path alike; other clients get it as it is
    wf = app.state.wf
    wf.layers._tiles.clear()
    plain = as_role("analyst", "GET", TILE, headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and len(plain.content) >= 1024   # big enough to compress
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    zipped = [as_role("analyst", "GET", TILE, headers={"Accept-Encoding": "gzip"}) for _ in range(2)]
    assert served[-2:] == [False, True]   # made by the route, then from the cache
    for r in zipped:
        assert r.status_code == 200 and r.headers["content-encoding"] == "gzip"
        assert int(r.headers["content-length"]) < len(plain.content)
        assert r.content == plain.content   # httpx decodes it: the same tile
    refused = as_role("analyst", "GET", TILE, headers={"Accept-Encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers and refused.content == plain.content


def test_tile_cache_key_is_not_an_object_address(app, as_role, monkeypatch):
    """Issue 15 (low): the tile cache was keyed by ``id()`` of the prepared layer, so a layer
    freed and another allocated at the same address (another view, or the next store version)
    would be served the first one's tiles. Every object is given the same address here: the
    member must still get the tile of the member's own view, not the analyst's."""
    import dataclasses

    import api.service.routes.tiles as tiles
    wf = app.state.wf
    wf.layers._tiles.clear()
    member_own = as_role("mog_member", "GET", TILE).content
    wf.layers._tiles.clear()
    analyst = as_role("analyst", "GET", TILE).content
    assert analyst != member_own               # the views differ here (banded counts)
    wf.layers._tiles.clear()
    monkeypatch.setattr(tiles, "id", lambda obj: 0x7F00DEAD, raising=False)
    assert as_role("analyst", "GET", TILE).content == analyst        # cached for the full view
    assert as_role("mog_member", "GET", TILE).content == member_own
    # the key names the layer, view and store version, whatever object holds them
    prep = wf.layers._data[("hotspots_ward", "case")]
    same = dataclasses.replace(prep)
    assert wf.layers.tile_key(same, 10, 506, 336) == wf.layers.tile_key(prep, 10, 506, 336)
    newer = dataclasses.replace(prep, stamp=prep.stamp + "x")
    assert wf.layers.tile_key(newer, 10, 506, 336) != wf.layers.tile_key(prep, 10, 506, 336)

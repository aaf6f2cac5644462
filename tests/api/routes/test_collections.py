"""OGC API - Features: collections, items paging, bbox, datetime, properties; tiles and TileJSON."""
import mapbox_vector_tile


def test_landing_and_conformance(as_role):
    assert any(l["rel"] == "data" for l in as_role("analyst", "GET", "/").json()["links"])
    assert "conformsTo" in as_role("analyst", "GET", "/conformance").json()


def test_paging_and_filters(as_role):
    first = as_role("analyst", "GET", "/collections/found_at/items?purpose=layer+test&limit=50").json()
    assert first["numberReturned"] == 50 and first["numberMatched"] == 140
    nxt = [l for l in first["links"] if l["rel"] == "next"][0]["href"]
    second = as_role("analyst", "GET", nxt[nxt.index("/collections"):]).json()
    ids = {f["id"] for f in first["features"]} | {f["id"] for f in second["features"]}
    assert len(ids) == 100
    box = as_role("analyst", "GET", "/collections/found_at/items?purpose=layer+test&bbox=-1.95,52.45,-1.85,52.52&limit=1000").json()
    for f in box["features"]:
        x, y = f["geometry"]["coordinates"]
        assert -1.95 <= x <= -1.85 and 52.45 <= y <= 52.52
    dt = as_role("analyst", "GET", "/collections/found_at/items?purpose=layer+test&datetime=2017-03-01T00:00:00Z/2017-03-31T23:59:59Z&limit=1000").json()
    assert 0 < dt["numberMatched"] < 140
    assert all(f["properties"]["at"].startswith("2017-03") for f in dt["features"])
    p = as_role("analyst", "GET", "/collections/found_at/items?purpose=layer+test&properties=at,ward_code&limit=3").json()
    assert set(p["features"][0]["properties"]) == {"at", "ward_code"}


def test_bad_parameters_are_400(as_role):
    for q in ("bbox=1,2,3", "bbox=a,b,c,d", "limit=0", "limit=100000", "datetime=yesterday",
              "datetime=2017-02-01/2017-01-01", "properties=nope", "offset=-1"):
        r = as_role("analyst", "GET", f"/collections/found_at/items?purpose=layer+test&{q}")
        assert r.status_code == 400, q
        assert r.json()["description"]
    assert as_role("analyst", "GET", "/collections/nope/items").status_code == 404
    assert as_role("analyst", "GET", "/collections/found_at/tiles/WebMercatorQuad/2/9/0?purpose=layer+test").status_code == 400


def test_tiles(as_role):
    # found_at is person-level (issue 15): TileJSON and tiles need a purpose, which the
    # TileJSON carries into its tile template
    assert as_role("analyst", "GET", "/collections/found_at/tiles/WebMercatorQuad/tilejson.json").status_code == 400
    tj = as_role("analyst", "GET", "/collections/found_at/tiles/WebMercatorQuad/tilejson.json?purpose=layer+test").json()
    assert tj["tilejson"] == "3.0.0" and tj["tiles"][0].endswith("/{z}/{x}/{y}?purpose=layer+test")
    # Birmingham at zoom 10: x 505-507, y 334-337
    n = 0
    for x, y in [(x, y) for x in (505, 506, 507) for y in (334, 335, 336, 337)]:
        r = as_role("analyst", "GET", f"/collections/found_at/tiles/WebMercatorQuad/10/{x}/{y}?purpose=layer+test")
        assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
        if r.content:
            # city zooms are pre-generalised (api.jobs.tilesets): cells with their counts
            n += sum(f["properties"]["points"] for f in mapbox_vector_tile.decode(r.content)["found_at"]["features"]
                     if 0 <= f["geometry"]["coordinates"][0] < 4096 and 0 <= f["geometry"]["coordinates"][1] < 4096)
    world = mapbox_vector_tile.decode(as_role("analyst", "GET", "/collections/found_at/tiles/WebMercatorQuad/0/0/0?purpose=layer+test").content)
    assert sum(f["properties"]["points"] for f in world["found_at"]["features"]) == 140
    assert n == 140
    poly = mapbox_vector_tile.decode(as_role("licensing_officer", "GET", "/collections/hotspots_ward/tiles/WebMercatorQuad/8/126/83").content)
    assert len(poly["hotspots_ward"]["features"]) > 0

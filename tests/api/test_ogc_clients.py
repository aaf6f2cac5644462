"""The standard clients analysts use, against a served store (uvicorn on 127.0.0.1, both
backends): GDAL's OAPIF driver (ogrinfo, ogr2ogr) and MVT driver (the CLI, as installed by
``make gdal`` / scripts/ensure_gdal.sh) and OWSLib's ``Features``, given the landing-page URL
as a user would paste it, with the bearer token as a header. Counts, bbox, datetime, CRS and
paging are checked against what the API itself says and against PROJ."""
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import requests
from pyproj import Transformer

from api.service.app import create_app
from api.service.auth import add_user
from api.settings import Settings
from tests.maps._server import Server

BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"
BOX = (-1.95, 52.45, -1.85, 52.52)
#: found-at points are person-level (issue 15): clients state a purpose (X-Purpose header)
PURPOSE = "GDAL and OWSLib client test"


def _gdal(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"GDAL's {tool} is missing: make gdal (apt-get install -y gdal-bin)")
    return path


@pytest.fixture(scope="module")
def served(store):
    name, pw = f"t_clients_{secrets.token_hex(4)}", secrets.token_urlsafe(16)
    add_user(store.engine, name, "analyst", pw)
    app = create_app(store, Settings(rate_per_minute=0, login_rate_per_minute=1000))
    with Server(app) as s:
        r = requests.post(s.url + "/auth/token", data={"username": name, "password": pw})
        assert r.status_code == 200, r.text
        yield s.url, r.json()["access_token"]


def _api(served, path):
    url, token = served
    r = requests.get(url + path, headers={"Authorization": f"Bearer {token}", "X-Purpose": PURPOSE})
    assert r.status_code == 200, (path, r.text)
    return r.json()


def _run(served, *args, tool="ogrinfo"):
    url, token = served
    cmd = [_gdal(tool), "--config", "GDAL_HTTP_HEADERS", f"Authorization: Bearer {token}\r\nX-Purpose: {PURPOSE}",
           "--config", "GDAL_HTTP_TIMEOUT", "60", "--config", "CPL_VSIL_CURL_CACHE_SIZE", "0",
           *[a.replace("{url}", url) for a in args]]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                       env={**os.environ, "GDAL_HTTP_UNSAFESSL": "NO"})
    assert r.returncode == 0, (cmd[5:], r.stdout[-2000:], r.stderr[-2000:])
    return r.stdout + r.stderr


def _features(path: Path) -> list[dict]:
    return json.loads(path.read_text())["features"]


# -- GDAL ----------------------------------------------------------------------------------------

def test_gdal_lists_every_layer_from_the_pasted_url(served):
    out = _run(served, "-ro", "OAPIF:{url}/")
    ids = [c["id"] for c in _api(served, "/collections")["collections"]]
    for i, cid in enumerate(ids, 1):
        assert f"{i}: {cid} " in out
    assert "Unexpected Content-Type" not in out
    # the same URL without the OAPIF: prefix is what QGIS is given; its landing page is JSON
    landing = requests.get(served[0] + "/", headers={"Accept": "application/json"}).json()
    assert {l["rel"] for l in landing["links"]} >= {"service-desc", "conformance", "data"}


def test_gdal_count_extent_and_paging(served, tmp_path):
    n = _api(served, "/collections/found_at/items?limit=1")["numberMatched"]
    out = _run(served, "-ro", "-so", "OAPIF:{url}/", "found_at")
    assert f"Feature Count: {n}" in out and "Geometry: Point" in out
    # 50 a page: ogr2ogr follows the next links to the end, each feature once
    dest = tmp_path / "all.geojson"
    _run(served, "-f", "GeoJSON", str(dest), "OAPIF:{url}/", "found_at", "-oo", "PAGE_SIZE=50",
         tool="ogr2ogr")
    feats = _features(dest)
    assert len(feats) == n and n > 100
    assert len({json.dumps(f["properties"], sort_keys=True) for f in feats}) == n


def test_gdal_bbox_datetime_and_attribute_filters(served, tmp_path):
    api_box = _api(served, "/collections/found_at/items?limit=10000&bbox=" + ",".join(map(str, BOX)))
    dest = tmp_path / "box.geojson"
    _run(served, "-f", "GeoJSON", str(dest), "OAPIF:{url}/", "found_at", "-oo", "PAGE_SIZE=1000",
         "-spat", *map(str, BOX), tool="ogr2ogr")
    got = _features(dest)
    assert len(got) == api_box["numberMatched"] > 0
    for f in got:
        x, y = f["geometry"]["coordinates"]
        assert BOX[0] <= x <= BOX[2] and BOX[1] <= y <= BOX[3]
    # a date range on the time property goes to the server as datetime= (GDAL writes a date as
    # YYYY-MM-DDT, i.e. midnight, so the interval ends at midnight of the 31st)
    api_dt = _api(served, "/collections/found_at/items?limit=1&datetime="
                          "2017-01-01T00:00:00Z/2017-01-31T00:00:00Z")["numberMatched"]
    dest = tmp_path / "jan.geojson"
    _run(served, "-f", "GeoJSON", str(dest), "OAPIF:{url}/", "found_at", "-oo", "PAGE_SIZE=1000",
         "-where", "at >= '2017-01-01' AND at <= '2017-01-31'", tool="ogr2ogr")
    jan = _features(dest)
    assert len(jan) == api_dt > 0
    assert all("2017-01-01" <= f["properties"]["at"][:10] <= "2017-01-31" for f in jan)
    # a queryable property: the same features as the API's own filter
    ward = got[0]["properties"]["ward_code"]
    api_ward = _api(served, f"/collections/found_at/items?limit=1&ward_code={ward}")["numberMatched"]
    dest = tmp_path / "ward.geojson"
    _run(served, "-f", "GeoJSON", str(dest), "OAPIF:{url}/", "found_at", "-oo", "PAGE_SIZE=1000",
         "-where", f"ward_code = '{ward}'", tool="ogr2ogr")
    assert len(_features(dest)) == api_ward > 0


def test_gdal_reprojection_agrees_with_the_crs_parameter(served, tmp_path):
    dest = tmp_path / "bng.geojson"
    _run(served, "-f", "GeoJSON", str(dest), "OAPIF:{url}/", "premises", "-oo", "PAGE_SIZE=1000",
         "-t_srs", "EPSG:27700", "-lco", "RFC7946=NO", tool="ogr2ogr")
    gdal = {f["properties"]["premises_id"]: f["geometry"]["coordinates"] for f in _features(dest)}
    api = {f["properties"]["premises_id"]: f["geometry"]["coordinates"] for f in
           _api(served, f"/collections/premises/items?limit=10000&crs={BNG}")["features"]}
    assert set(gdal) == set(api) and len(api) > 0
    d = np.array([np.hypot(gdal[k][0] - api[k][0], gdal[k][1] - api[k][1]) for k in api])
    assert d.max() < 0.5          # CRS84 items carry 1e-6 degrees (~0.1 m)


def test_gdal_polygons_are_valid_and_ccw(served, tmp_path):
    dest = tmp_path / "wards.geojson"
    _run(served, "-f", "GeoJSON", str(dest), "OAPIF:{url}/", "hotspots_ward", "-oo",
         "PAGE_SIZE=1000", tool="ogr2ogr")
    out = _run(served, "-ro", "-al", "-so", str(dest))
    assert "Multi Polygon" in out or "Polygon" in out
    import shapely.geometry
    for f in _features(dest):
        g = shapely.geometry.shape(f["geometry"])
        assert g.is_valid
        for p in getattr(g, "geoms", [g]):
            assert p.exterior.is_ccw


def test_gdal_mvt_driver_reads_the_tiles(served, tmp_path):
    url, token = served
    n = _api(served, "/collections/found_at/items?limit=1")["numberMatched"]
    # a .pbf URL straight from the server (GDAL georeferences a {z}/{x}/{y}.pbf name)
    out = _run(served, "-ro", "-al",
               "/vsicurl/{url}/collections/found_at/tiles/WebMercatorQuad/0/0/0.pbf")
    # at zoom 0 the points come as pre-generalised cells (issue 19) whose counts add up to them
    assert "Layer name: found_at" in out
    counts = [int(line.split("=")[1]) for line in out.splitlines()
              if line.strip().startswith("points (Integer) =")]
    assert 0 < len(counts) <= n and sum(counts) == n
    # and a tile saved to disk with the MVT driver named
    tile = requests.get(url + "/collections/hotspots_ward/tiles/WebMercatorQuad/10/506/336",
                        headers={"Authorization": f"Bearer {token}", "X-Purpose": PURPOSE})
    assert tile.status_code == 200 and tile.content
    path = tmp_path / "10" / "506" / "336.pbf"
    path.parent.mkdir(parents=True)
    path.write_bytes(tile.content)
    out = _run(served, "-ro", "-al", "-so", f"MVT:{path}")
    assert "Layer name: hotspots_ward" in out and "Polygon" in out
    count = int(out.split("Feature Count: ")[1].split()[0])
    assert count > 0
    assert "gi_z: Real" in out      # numbers are numbers in the tiles too


# -- OWSLib --------------------------------------------------------------------------------------

def test_owslib_features(served):
    from owslib.ogcapi.features import Features
    url, token = served
    w = Features(url + "/", headers={"Authorization": f"Bearer {token}", "X-Purpose": PURPOSE})
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in w.conformance()["conformsTo"]
    assert w.api()["openapi"].startswith("3.0")
    assert "found_at" in w.feature_collections()
    # paging by offset covers every feature once
    n = w.collection_items("found_at", limit=1)["numberMatched"]
    ids = []
    for offset in range(0, n, 40):
        page = w.collection_items("found_at", limit=40, offset=offset)
        assert page["numberReturned"] == min(40, n - offset)
        ids += [f["id"] for f in page["features"]]
    assert sorted(ids) == list(range(1, n + 1))
    box = w.collection_items("found_at", bbox=list(BOX), limit=10000)
    assert 0 < box["numberMatched"] < n
    for f in box["features"]:
        x, y = f["geometry"]["coordinates"]
        assert BOX[0] <= x <= BOX[2] and BOX[1] <= y <= BOX[3]
    march = w.collection_items("found_at", datetime_="2017-03-01/2017-03-31", limit=10000)
    assert 0 < march["numberMatched"] < n
    assert all(f["properties"]["at"].startswith("2017-03") for f in march["features"])
    bng = w.collection_items("found_at", crs=BNG, limit=5)
    assert w.response_headers["Content-Crs"] == f"<{BNG}>"
    wgs = w.collection_items("found_at", limit=5)
    to_bng = Transformer.from_crs(4326, 27700, always_xy=True)
    for a, b in zip(wgs["features"], bng["features"]):
        e, nn = to_bng.transform(*a["geometry"]["coordinates"])
        assert abs(e - b["geometry"]["coordinates"][0]) < 0.5
        assert abs(nn - b["geometry"]["coordinates"][1]) < 0.5
    q = w.collection_queryables("found_at")
    assert "ward_code" in q["properties"]
    with pytest.raises(RuntimeError, match="unknown query parameter"):
        w.collection_items("found_at", sortby=("at", "asc"))

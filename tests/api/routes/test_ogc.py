"""OGC API - Features Part 1 (Core), Part 2 (CRS by reference) and Part 3 (queryables): the
assertions of the OGC's executable test suite (ets-ogcapi-features10) that apply here, as tests,
plus the issue's defects (landing page at /, unknown parameters, geometryType, ring order,
date-only interval ends, TileJSON types, .pbf tile URLs)."""
import json

import jsonschema_rs
import numpy as np
import pytest
import shapely
from pyproj import Transformer
from schemathesis.specs.openapi.definitions import OPENAPI_30

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
BNG = "http://www.opengis.net/def/crs/EPSG/0/27700"
TO_BNG = Transformer.from_crs(4326, 27700, always_xy=True)


# person-level layers (found_at, placements, co_missing_lines) need a purpose since issue 15
def _all(as_role, url, role="analyst"):
    return as_role(role, "GET", url + ("&" if "?" in url else "?") + "limit=10000").json()


def test_landing_page_by_content_negotiation(client):
    # Features /ats/core/root-op, /ats/core/root-success: JSON with the four links
    for headers, q in (({"Accept": "application/json"}, ""), ({"Accept": "*/*"}, ""),
                       ({"Accept": "text/html"}, "?f=json"), ({}, "")):
        r = client.get("/" + q, headers=headers)
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), q
        rels = {l["rel"]: l for l in r.json()["links"]}
        assert {"service-desc", "service-doc", "conformance", "data"} <= set(rels)
        assert rels["service-desc"]["type"] == "application/vnd.oai.openapi+json;version=3.0"
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    for headers, q in (({"Accept": browser}, ""), ({"Accept": "application/json"}, "?f=html")):
        r = client.get("/" + q, headers=headers)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert 'id="signin-form"' in r.text
    assert client.get("/?f=xml").status_code == 400
    assert client.get("/openapi.json").status_code == 200
    assert client.get(rels["service-desc"]["href"].replace("http://testserver", "")).status_code == 200


def test_openapi_is_valid_30_and_documents_the_root(client):
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.0.")
    errors = [f"{e.instance_path}: {e}"[:200]
              for e in jsonschema_rs.Draft4Validator(OPENAPI_30).iter_errors(spec)]
    assert errors == []
    assert "/" in spec["paths"] and "/collections/{collection_id}/queryables" in spec["paths"]
    names = {p["name"] for p in spec["paths"]["/collections/{collection_id}/items"]["get"]["parameters"]}
    assert {"bbox", "bbox-crs", "crs", "datetime", "limit", "offset"} <= names
    limit = next(p for p in spec["paths"]["/collections/{collection_id}/items"]["get"]["parameters"]
                 if p["name"] == "limit")
    assert limit["schema"]["maximum"] == 10000 and limit["schema"]["default"] == 100


def test_conformance_classes(client):
    classes = client.get("/conformance").json()["conformsTo"]
    for c in ("ogcapi-features-1/1.0/conf/core", "ogcapi-features-1/1.0/conf/geojson",
              "ogcapi-features-1/1.0/conf/oas30", "ogcapi-features-2/1.0/conf/crs",
              "ogcapi-features-3/1.0/conf/queryables"):
        assert f"http://www.opengis.net/spec/{c}" in classes
    assert not any("ogcapi-tiles" in c for c in classes)      # no tilesets: not claimed


def test_unknown_parameters_are_400(as_role):
    # /req/core/query-param-unknown: an ignored filter would look applied
    for url in ("/collections/found_at/items?purpose=ogc+test&ward=E05001213", "/collections/found_at/items?purpose=ogc+test&sortby=at",
                "/collections/premises/items?child=x", "/collections?limit=3",
                "/collections/found_at?bbox=1,2,3,4", "/collections/found_at/items/1?purpose=ogc+test&limit=2",
                "/conformance?x=1"):
        r = as_role("analyst", "GET", url)
        assert r.status_code == 400, url
        assert "unknown query parameter" in r.json()["description"]
    # a property that is not queryable is no filter either (the pseudonym of a case view)
    r = as_role("mog_member", "GET", "/collections/found_at/items?purpose=ogc+test&child=C-3F2A9B10C4")
    assert r.status_code == 400 and "ward_code" in r.json()["description"]
    for bad in ("crs=EPSG:4258", "bbox-crs=http://www.opengis.net/def/crs/EPSG/0/3857&bbox=1,2,3,4",
                "f=html"):
        assert as_role("analyst", "GET", f"/collections/found_at/items?purpose=ogc+test&{bad}").status_code == 400, bad


def test_queryables_and_property_filters(as_role):
    q = as_role("analyst", "GET", "/collections/found_at/queryables")
    assert q.headers["content-type"].startswith("application/schema+json")
    schema = q.json()
    assert schema["type"] == "object" and schema["properties"]["ward_code"]["type"] == "string"
    assert schema["$id"].endswith("/collections/found_at/queryables")
    everything = _all(as_role, "/collections/found_at/items?purpose=ogc+test")["features"]
    ward = everything[0]["properties"]["ward_code"]
    want = sum(f["properties"]["ward_code"] == ward for f in everything)
    got = _all(as_role, f"/collections/found_at/items?purpose=ogc+test&ward_code={ward}")
    assert got["numberMatched"] == want and 0 < want < len(everything)
    assert all(f["properties"]["ward_code"] == ward for f in got["features"])
    none = as_role("analyst", "GET", "/collections/found_at/items?purpose=ogc+test&ward_code=E99999999").json()
    assert none["numberMatched"] == 0
    hot = _all(as_role, "/collections/hotspots_ward/items")["features"]
    bins = [f["properties"]["gi_bin"] for f in hot]
    b = bins[0]
    assert _all(as_role, f"/collections/hotspots_ward/items?gi_bin={b}")["numberMatched"] == bins.count(b)
    assert as_role("analyst", "GET", "/collections/hotspots_ward/items?gi_bin=high").status_code == 400
    # queryables with a combined filter keep paging links with the filter
    page = as_role("analyst", "GET", f"/collections/found_at/items?purpose=ogc+test&ward_code={ward}&limit=1").json()
    if want > 1:
        nxt = next(l["href"] for l in page["links"] if l["rel"] == "next")
        assert f"ward_code={ward}" in nxt


def test_crs_by_reference(as_role):
    coll = as_role("analyst", "GET", "/collections/found_at").json()
    assert CRS84 in coll["crs"] and BNG in coll["crs"] and coll["storageCrs"] == BNG
    wgs = as_role("analyst", "GET", "/collections/found_at/items?purpose=ogc+test&limit=20")
    assert wgs.headers["content-crs"] == f"<{CRS84}>"
    for crs in (BNG, "EPSG:27700", "[EPSG:27700]"):
        bng = as_role("analyst", "GET", f"/collections/found_at/items?purpose=ogc+test&limit=20&crs={crs}")
        assert bng.status_code == 200 and bng.headers["content-crs"] == f"<{BNG}>"
    a, b = wgs.json()["features"], bng.json()["features"]
    assert [f["id"] for f in a] == [f["id"] for f in b]
    assert [f["properties"] for f in a] == [f["properties"] for f in b]
    for fa, fb in zip(a, b):
        e, n = TO_BNG.transform(*fa["geometry"]["coordinates"])
        ee, nn = fb["geometry"]["coordinates"]
        assert abs(e - ee) < 0.5 and abs(n - nn) < 0.5          # 1e-6 degrees ~ 0.1 m
        assert 300_000 < ee < 500_000 and 200_000 < nn < 400_000
    one = as_role("analyst", "GET", f"/collections/found_at/items/{a[0]['id']}?purpose=ogc+test&crs={BNG}")
    assert one.json()["geometry"]["coordinates"] == b[0]["geometry"]["coordinates"]
    assert {l["rel"] for l in one.json()["links"]} >= {"self", "collection"}
    # bbox-crs: a box in metres selects exactly the points inside it
    pts = np.array([f["geometry"]["coordinates"] for f in
                    _all(as_role, f"/collections/found_at/items?purpose=ogc+test&crs={BNG}")["features"]])
    e0, n0 = np.percentile(pts, 25, axis=0)
    e1, n1 = np.percentile(pts, 75, axis=0)
    want = int(((pts[:, 0] >= e0) & (pts[:, 0] <= e1) & (pts[:, 1] >= n0) & (pts[:, 1] <= n1)).sum())
    got = _all(as_role, f"/collections/found_at/items?purpose=ogc+test&bbox={e0},{n0},{e1},{n1}&bbox-crs={BNG}&crs={BNG}")
    assert got["numberMatched"] == want > 0
    for f in got["features"]:
        x, y = f["geometry"]["coordinates"]
        assert e0 <= x <= e1 and n0 <= y <= n1
    # eastings as CRS84 are out of range, and say how to fix it
    r = as_role("analyst", "GET", f"/collections/found_at/items?purpose=ogc+test&bbox={e0},{n0},{e1},{n1}")
    assert r.status_code == 400 and "bbox-crs" in r.json()["description"]


def test_geometry_type_matches_the_features(as_role):
    for c in as_role("analyst", "GET", "/collections").json()["collections"]:
        feats = _all(as_role, f"/collections/{c['id']}/items?purpose=ogc+test")["features"]
        types = {f["geometry"]["type"] for f in feats}
        if not feats:
            continue
        if len(types) == 1:
            assert c["geometryType"] == types.pop(), c["id"]
        else:
            assert c["geometryType"] in ("Geometry", "Multi" + min(types, key=len)), (c["id"], types)


def test_rfc7946_ring_order(as_role):
    seen = 0
    for cid in ("hotspots_ward", "found_at_clusters", "heat_grid"):
        for query in ("", f"?crs={BNG}"):
            for f in _all(as_role, f"/collections/{cid}/items{query}")["features"]:
                g = shapely.geometry.shape(f["geometry"])
                for poly in getattr(g, "geoms", [g]):
                    if poly.geom_type != "Polygon":
                        continue
                    assert poly.exterior.is_ccw, (cid, f["id"])
                    assert all(not r.is_ccw for r in poly.interiors)
                    seen += 1
    assert seen > 0


def test_date_only_interval_end_keeps_the_whole_day(as_role):
    whole = _all(as_role, "/collections/found_at/items?purpose=ogc+test&datetime=2017-03-01T00:00:00Z/2017-03-31T23:59:59.999999Z")
    dates = _all(as_role, "/collections/found_at/items?purpose=ogc+test&datetime=2017-03-01/2017-03-31")
    assert dates["numberMatched"] == whole["numberMatched"] > 0
    last = _all(as_role, "/collections/found_at/items?purpose=ogc+test&datetime=2017-01-01/..")
    to_day = {f["properties"]["at"][:10] for f in last["features"]}
    day = sorted(to_day)[len(to_day) // 2]
    one = _all(as_role, f"/collections/found_at/items?purpose=ogc+test&datetime=2016-01-01/{day}")
    assert any(f["properties"]["at"].startswith(day) for f in one["features"])


def test_tilejson_types_and_pbf_urls(as_role):
    tj = as_role("analyst", "GET", "/collections/hotspots_ward/tiles/WebMercatorQuad/tilejson.json").json()
    fields = tj["vector_layers"][0]["fields"]
    assert fields["gi_z"] == "Number" and fields["area_code"] == "String"
    tj = as_role("analyst", "GET", "/collections/found_at/tiles/WebMercatorQuad/tilejson.json?purpose=ogc+test").json()
    assert tj["vector_layers"][0]["fields"]["at"] == "String"
    base = "/collections/found_at/tiles/WebMercatorQuad/0/0/0"
    plain = as_role("analyst", "GET", base + "?purpose=ogc+test")
    for suffix in (".pbf", ".mvt"):
        r = as_role("analyst", "GET", base + suffix + "?purpose=ogc+test")
        assert r.status_code == 200 and r.content == plain.content and len(r.content) > 0
    assert as_role("licensing_officer", "GET", "/collections/placements/tiles/WebMercatorQuad/0/0/0.pbf?purpose=ogc+test").status_code == 403

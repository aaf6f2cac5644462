import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.service.routes import web
from maps.assets import check_offline


@pytest.fixture(scope="module")
def bare():
    app = FastAPI()
    app.include_router(web.router)
    return TestClient(app)


def test_page_is_local_only_with_csp(bare):
    r = bare.get("/")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "default-src 'self'" in r.headers["content-security-policy"]
    check_offline(r.text)
    for src in re.findall(r"src=\"([^\"]+)\"", r.text) + re.findall(r"<link[^>]*href=\"([^\"]+)\"", r.text):
        assert src.startswith("/static/"), src
        assert bare.get(src).status_code == 200, src
    for needed in ("signin-form", "layers", "date-from", "premises-q", "network-form", "packs"):
        assert f'id="{needed}"' in r.text


def test_static_assets_and_traversal(bare):
    r = bare.get("/static/vendor/leaflet.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert bare.get("/static/boundaries/wards.geojson").json()["type"] == "FeatureCollection"
    assert bare.get("/static/../web.py").status_code == 404
    assert bare.get("/static/..%2Fweb.py").status_code == 404
    assert bare.get("/static/nothing.js").status_code == 404


def test_pack_route_needs_a_signed_in_role(bare):
    assert bare.get("/packs/mog?from=2017-01-01&to=2017-02-01").status_code == 401

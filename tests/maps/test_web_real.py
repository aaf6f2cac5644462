"""The page and packs through the real app (api.service.app.create_app) with a real store and real users."""
import re

import pytest
from fastapi.testclient import TestClient

from _server import add_user, make_app


@pytest.fixture(scope="module")
def client(real_store):
    url, _ = real_store
    app = make_app(url)
    add_user(app, "ana", "analyst", "analyst pass 1")
    add_user(app, "mo", "mog_member", "member pass 1")
    add_user(app, "adm", "admin", "admin pass 1")
    with TestClient(app) as c:
        yield c


def token(c, user, pw):
    r = c.post("/auth/token", data={"username": user, "password": pw})
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


def test_page_served_by_the_real_app(client):
    r = client.get("/", headers={"Accept": "text/html"})      # a browser; OGC clients get JSON
    assert r.status_code == 200 and 'id="signin-form"' in r.text
    assert client.get("/static/app.js").status_code == 200


def test_packs_from_the_web_follow_the_role(client):
    h = token(client, "mo", "member pass 1")
    r = client.get("/packs/mog?from=2016-01-01&to=2017-12-31&purpose=MOG monthly meeting", headers=h)
    assert r.status_code == 200, r.text
    assert "MOG pack" in r.text and "minimised for role: mog_member" in r.text
    assert not re.search(r"police/PC\d", r.text)
    ha = token(client, "ana", "analyst pass 1")
    r = client.get("/packs/cog?from=2016-01-01&to=2017-12-31&purpose=COG monthly meeting", headers=ha)
    assert r.status_code == 200 and "Licensing review candidates" in r.text
    hd = token(client, "adm", "admin pass 1")
    assert client.get("/packs/mog?from=2016-01-01&to=2017-12-31&purpose=look around", headers=hd).status_code == 403

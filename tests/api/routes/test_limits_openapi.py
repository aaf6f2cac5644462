"""Request-rate and page-size limits; the OpenAPI description is complete."""
import secrets

from fastapi.testclient import TestClient

from api.service.app import all_routes, create_app
from api.service.auth import add_user
from api.settings import Settings


def test_rate_limit(store):
    if store.is_postgis:
        return
    pw = secrets.token_urlsafe(16)
    add_user(store.engine, "t_rate", "analyst", pw)
    app = create_app(store, Settings(rate_per_minute=5, login_rate_per_minute=3))
    with TestClient(app) as c:
        tok = c.post("/auth/token", data={"username": "t_rate", "password": pw}).json()["access_token"]
        codes = [c.get("/collections", headers={"Authorization": f"Bearer {tok}"}).status_code
                 for _ in range(8)]
        assert codes[:5] == [200] * 5 and 429 in codes[5:]
        r = c.get("/collections", headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
        fails = [c.post("/auth/token", data={"username": "t_rate", "password": "wrong-password-1"}).status_code
                 for _ in range(6)]
        assert 429 in fails


def test_page_size_limit(as_role):
    r = as_role("analyst", "GET", "/collections/found_at/items?purpose=page+size+test&limit=10001")
    assert r.status_code == 400 and "limit" in r.json()["description"]


def test_openapi_complete(app, client):
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]
    documented = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            assert op.get("summary"), (method, path)
            codes = set(op["responses"])
            if path not in ("/healthz", "/auth/token"):
                assert "401" in codes and "403" in codes, (method, path)
            documented += 1
    names = {r.name for r in all_routes(app) if getattr(r, "include_in_schema", True)
             and r.name not in ("openapi", "swagger_ui_html", "swagger_ui_redirect", "redoc_html")}
    assert documented >= len(names) - 1
    items = spec["paths"]["/collections/{collection_id}/items"]["get"]
    assert items["responses"]["200"]["content"]["application/geo+json"]["example"]["type"] == "FeatureCollection"

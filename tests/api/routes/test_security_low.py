"""Issue 15, low findings not covered elsewhere, each checked with a request: network components
show a case member no exact count of 1-4 (children, adults, places or the component's size),
and a maps route missing from the matrix is refused to everyone (fail closed), not public."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api_fixtures import ROLES

CASE = ("mog_member", "cog_member", "mase_member")


@pytest.mark.parametrize("role", CASE)
def test_components_counts_banded_for_case_members(as_role, role):
    r = as_role(role, "GET", "/network/components?purpose=low+finding&min_size=1")
    assert r.status_code in (200, 403)
    if r.status_code == 403:
        return
    rows = r.json()
    for row in rows:
        for v in [row["size"], *row["kinds"].values()]:
            assert v == "<5" or (isinstance(v, int) and (v == 0 or v >= 5)), (role, row)
        assert "nodes" not in row
    analyst = as_role("analyst", "GET", "/network/components?purpose=low+finding&min_size=1").json()
    assert any(0 < n < 5 for row in analyst for n in row["kinds"].values())    # there were small ones


def test_maps_route_missing_from_the_matrix_is_refused(store, passwords, monkeypatch):
    from api import roles
    from api.service.app import create_app
    from api.settings import Settings
    from api.service.routes import web

    @web.router.get("/unruled-maps-route", name="unruled_maps_route")
    def unruled() -> dict:
        return {"secret": "data"}
    try:
        monkeypatch.setattr(roles, "ROUTES", dict(roles.ROUTES))
        app = create_app(store, Settings(rate_per_minute=0, login_rate_per_minute=1000))
        assert roles.rule_for("unruled_maps_route") is None
        with TestClient(app) as c:
            assert c.get("/unruled-maps-route").status_code == 401
            for role in ROLES:
                tok = c.post("/auth/token", data={"username": f"t_{role}", "password": passwords[role]})
                r = c.get("/unruled-maps-route", headers={"Authorization": f"Bearer {tok.json()['access_token']}"})
                assert r.status_code == 403 and "secret" not in r.text, role
    finally:
        web.router.routes[:] = [r for r in web.router.routes if getattr(r, "name", None) != "unruled_maps_route"]

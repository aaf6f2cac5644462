"""The role-by-route matrix: every route for every role, allowed and denied; denials logged."""
import re

import pytest
from sqlalchemy import select

from api import roles
from api.service.app import all_routes
from api.tables import audit_log
from api_fixtures import ROLES

SAMPLE = {"collection_id": "hotspots_ward", "z": "0", "x": "0", "y": "0", "feature_id": "1",
          "premises_id": "PR000", "kind": "mog"}


def _url(route, person_ref):
    path = route.path
    for name, value in {**SAMPLE, "person_ref": person_ref}.items():
        path = re.sub(r"\{" + name + r"(:[a-z]+)?\}", value, path)
    return path + "?purpose=matrix+test"


def _routes(app):
    return [r for r in all_routes(app) if getattr(r, "methods", None)]


def test_every_route_has_a_rule(app):
    missing = [r.name for r in _routes(app) if roles.rule_for(r.name) is None]
    assert missing == []


@pytest.mark.parametrize("role", ROLES)
def test_matrix(app, as_role, role):
    wf = app.state.wf
    person_ref = wf.minimiser.pseudonym("police/C0000")
    denied_urls = []
    for route in _routes(app):
        rule = roles.rule_for(route.name)
        if rule.public or route.name == "token_refresh":   # refresh revokes the token: own test
            continue
        method = sorted(route.methods - {"HEAD"})[0]
        url = _url(route, person_ref)
        r = as_role(role, method, url)
        if rule.allows(role, SAMPLE.get(rule.param or "")):
            assert r.status_code not in (401, 403), (role, url, r.text)
            assert r.status_code < 500, (role, url, r.text)
        else:
            assert r.status_code == 403, (role, url, r.status_code)
            assert role in r.json()["description"]
            denied_urls.append(route.path)
        # no token at all: always 401
        assert as_role(None, method, url).status_code == 401
    wf.audit.flush()
    with wf.store.engine.connect() as conn:
        logged = set(conn.execute(select(audit_log.c.route).where(
            audit_log.c.action == "denied", audit_log.c.user_name == f"t_{role}")).scalars())
    assert set(denied_urls) <= logged, set(denied_urls) - logged


@pytest.mark.parametrize("role", ROLES)
def test_collection_matrix(as_role, role):
    for cid, allowed in roles.COLLECTION_ROLES.items():
        r = as_role(role, "GET", f"/collections/{cid}/items?limit=1&purpose=matrix+test")
        if role in allowed:
            assert r.status_code == 200, (role, cid, r.text)
            if cid in roles.PERSON_LEVEL_COLLECTIONS:     # issue 15: a purpose, analysts too
                assert as_role(role, "GET", f"/collections/{cid}/items?limit=1").status_code == 400
        else:
            assert r.status_code == 403, (role, cid)


def test_bad_and_expired_tokens(client, app):
    import datetime as dt
    import jwt
    r = client.get("/collections", headers={"Authorization": "Bearer nonsense"})
    assert r.status_code == 401 and "invalid" in r.json()["description"]
    wf = app.state.wf
    old = jwt.encode({"sub": "t_analyst", "role": "analyst", "iat": dt.datetime(2020, 1, 1),
                      "exp": dt.datetime(2020, 1, 1, 0, 15), "jti": "old"}, wf.auth.secret, algorithm="HS256")
    r = client.get("/collections", headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401 and "expired" in r.json()["description"]
    forged = jwt.encode({"sub": "t_analyst", "role": "analyst", "iat": dt.datetime.now(dt.timezone.utc),
                         "exp": dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)},
                        "not-the-secret", algorithm="HS256")
    assert client.get("/collections", headers={"Authorization": f"Bearer {forged}"}).status_code == 401


def test_wrong_password_and_disabled_user(client, app, store, passwords):
    from api.service.auth import add_user, set_disabled
    r = client.post("/auth/token", data={"username": "t_analyst", "password": "wrong-password-x"})
    assert r.status_code == 401
    add_user(store.engine, "t_leaver", "mog_member", passwords["mog_member"])
    tok = client.post("/auth/token", data={"username": "t_leaver", "password": passwords["mog_member"]}).json()["access_token"]
    set_disabled(store.engine, "t_leaver")
    app.state.wf.auth._cache.clear()
    assert client.get("/collections", headers={"Authorization": f"Bearer {tok}"}).status_code == 401
    assert client.post("/auth/token", data={"username": "t_leaver", "password": passwords["mog_member"]}).status_code == 401

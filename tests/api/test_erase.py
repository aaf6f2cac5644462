"""Erasure (``wayfinder erase`` and ``POST /erasures``) on SQLite and PostGIS: the subject's
records and every mention of them go in one transaction with one ``erasure`` audit entry, the
rest of the store is untouched and consistent, and a failure leaves everything as it was."""
from __future__ import annotations

import os
import secrets

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import cli
from api.service.app import create_app
from api.jobs.audit import verify
from api.service.auth import add_user
from api.keys import keys_for
from api.minimise import Minimiser
from api.settings import Settings
from api.tables import audit_log
from api_fixtures import _h, populate
from geo.storage import schema
from geo.storage.store import open_store

REASON = "Erasure request ER-17-003 upheld by the DPO"


@pytest.fixture
def store(store_url):
    """A populated store on each backend (``store_url`` from tests/conftest.py)."""
    s = open_store(store_url)
    populate(s)
    # mentions of C0001 in other records, a second record of the same child, identity links,
    # a held row
    with s.engine.begin() as conn:
        s.insert_frame(conn, schema.children, _h(pd.DataFrame({
            "source": ["social_care"], "child_id": ["S0001"], "given_name": ["Testgiven1"],
            "family_name": ["Testfamily1"], "from_episode": [False]})))
        s.insert_frame(conn, schema.intelligence, _h(pd.DataFrame({
            "source": "police", "intel_id": ["I1", "I2", "I3"],
            "recorded_at": pd.Timestamp("2017-02-01"),
            "subjects": ["child:C0001", "child:C0001;person:A000", "person:A001"],
            "text": ["seen at the park", "Testgiven1 Testfamily1 seen with an adult",
                     "adult seen near a takeaway"]})))
        conn.execute(schema.identity_links.insert(), [
            {"record": "police/C0001", "kind": "child", "person_id": "P000001"},
            {"record": "social_care/S0001", "kind": "child", "person_id": "P000001"},
            {"record": "police/C0002", "kind": "child", "person_id": "P000002"}])
        conn.execute(schema.identity_overrides.insert(), [
            {"record_a": "police/C0001", "record_b": "social_care/S0001", "action": "link",
             "by_user": "t", "at": pd.Timestamp("2017-03-01").to_pydatetime()}])
        conn.execute(schema.held_rows.insert(), [
            {"run_id": 1, "file": "children.csv", "line": 9, "field": "dob", "reason": "bad date",
             "raw": '{"source": "police", "child_id": "C0001", "dob": "31/02/2003"}'},
            {"run_id": 1, "file": "children.csv", "line": 10, "field": "dob", "reason": "bad date",
             "raw": '{"source": "police", "child_id": "C0003", "dob": "31/02/2003"}'}])
        other = conn.execute(sa.select(schema.episodes.c.id)
                             .where(schema.episodes.c.child_id != "C0001").limit(1)).scalar()
        conn.execute(schema.episodes.update().where(schema.episodes.c.id == other)
                     .values(found_with="child:C0001;person:A002"))
    # a derived result naming the child (as identity resolution's person_id)
    s.write_result("co_missing_groups", pd.DataFrame({
        "group_id": ["G1", "G2"], "members": [["P000001", "P000002"], ["police/C0003", "police/C0004"]]}))
    s.write_result("area_trends", pd.DataFrame({"area_code": ["E1"], "episodes": [3]}))
    yield s
    s.engine.dispose()


def _count(store, table, where=None) -> int:
    q = sa.select(sa.func.count()).select_from(table)
    if where is not None:
        q = q.where(where)
    with store.engine.connect() as conn:
        return conn.execute(q).scalar()


def _snapshot(store) -> dict:
    return {t: _count(store, schema.metadata.tables[t]) for t in
            ("children", "persons", "episodes", "return_interviews", "links", "intelligence",
             "identity_links", "identity_overrides", "held_rows", "results")}


def test_cli_erases_child_everywhere_in_one_transaction(store):
    from api.jobs.tiles import build_for_install
    build_for_install(store)                   # pre-generalised tiles count the child's points
    assert _count(store, schema.tileset_cells) > 0 and _count(store, schema.tileset_tiles) > 0
    before = _snapshot(store)
    c1_eps = _count(store, schema.episodes, schema.episodes.c.child_key == "police/C0001")
    assert c1_eps > 0
    with store.engine.connect() as conn:
        ep_keys = ["police/" + e for e in conn.execute(sa.select(schema.episodes.c.episode_id)
                   .where(schema.episodes.c.child_key == "police/C0001")).scalars()]
    c1_rhi = _count(store, schema.return_interviews, schema.return_interviews.c.episode_key.in_(ep_keys))
    r = CliRunner().invoke(cli.app, ["erase", "--db", store.url, "child", "police/C0001",
                                     "--reason", REASON, "--by", "dpo.test", "--json"])
    assert r.exit_code == 0, r.output
    import json
    rep = json.loads(r.output)
    secret = keys_for(store.engine).pseudonym
    assert rep["subject"] == Minimiser(secret).pseudonym("P000001", "child")
    assert rep["counts"]["children"] == 2            # both records of the one child
    assert rep["counts"]["episodes"] == c1_eps and rep["counts"]["return_interviews"] == c1_rhi
    assert rep["results_removed"] == ["co_missing_groups"]
    after = _snapshot(store)
    assert after["children"] == before["children"] - 2
    assert after["episodes"] == before["episodes"] - c1_eps
    assert after["return_interviews"] == before["return_interviews"] - c1_rhi
    assert after["links"] == before["links"] - 1 == before["links"] - rep["counts"]["links"]
    assert after["intelligence"] == before["intelligence"] - 1        # I1 had no other subject
    assert after["identity_links"] == before["identity_links"] - 2
    assert after["identity_overrides"] == before["identity_overrides"] - 1
    assert after["held_rows"] == before["held_rows"] - 1
    assert after["persons"] == before["persons"]
    assert _count(store, schema.tileset_cells) == 0 == _count(store, schema.tilesets)   # rebuilt later
    assert _count(store, schema.tileset_tiles) == 0
    with store.engine.connect() as conn:
        i2 = conn.execute(sa.select(schema.intelligence).where(schema.intelligence.c.intel_id == "I2")).mappings().one()
        assert i2["subjects"] == "person:A000" and "Testgiven1" not in i2["text"] and "[erased]" in i2["text"]
        fw = list(conn.execute(sa.select(schema.episodes.c.found_with)
                               .where(schema.episodes.c.found_with.like("%A002%"))).scalars())
        assert fw == ["person:A002"]
        assert not conn.execute(sa.select(schema.links.c.id).where(
            (schema.links.c.to_ref == "child:C0001") | (schema.links.c.from_ref == "child:C0001"))).first()
        entry = conn.execute(sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(1)).mappings().one()
    assert entry["action"] == "erasure" and entry["user_name"] == "dpo.test"
    assert entry["purpose"] == REASON and entry["result_count"] == sum(rep["counts"].values())
    assert rep["subject"] in entry["what"] and entry["id"] == rep["audit_id"]
    for secret_bit in ("C0001", "S0001", "Testgiven1", "P000001"):
        assert secret_bit not in entry["what"]
    assert verify(store.engine).ok
    # consistent: every frame loads, nothing points at what was erased
    fresh = open_store(store.url)
    ep, rhi, ch = fresh.frame("episodes"), fresh.frame("return_interviews"), fresh.frame("children")
    assert set(rhi["episode_key"]) <= set(ep["episode_key"])
    assert "P000001" not in set(ch["person_id"]) and "police/C0001" not in set(ep["child_key"])
    fresh.frame("place_events"), fresh.frame("intelligence"), fresh.frame("links")
    assert "co_missing_groups" not in fresh.result_names() and "area_trends" in fresh.result_names()
    # a second erasure of the same child finds nothing: refused, and nothing is logged
    n_log = _count(store, audit_log)
    r = CliRunner().invoke(cli.app, ["erase", "--db", store.url, "child", "police/C0001",
                                     "--reason", REASON, "--by", "dpo.test"])
    assert r.exit_code != 0 and "no child" in r.output
    assert _count(store, audit_log) == n_log


def test_cli_erases_person_and_refuses_bad_requests(store):
    before = _snapshot(store)
    run = CliRunner()
    bad = [["child", "police/A000"], ["person", "police/C0003"], ["pet", "x"]]
    for args in bad:
        r = run.invoke(cli.app, ["erase", "--db", store.url, *args, "--reason", REASON, "--by", "dpo"])
        assert r.exit_code != 0
    r = run.invoke(cli.app, ["erase", "--db", store.url, "person", "police/A000", "--reason", "x",
                             "--by", "dpo"])
    assert r.exit_code != 0 and "reason" in r.output
    assert _snapshot(store) == before
    r = run.invoke(cli.app, ["erase", "--db", store.url, "person", "police/A000",
                             "--reason", REASON, "--by", "dpo.test"])
    assert r.exit_code == 0, r.output
    after = _snapshot(store)
    assert after["persons"] == before["persons"] - 1
    assert after["links"] < before["links"] and after["children"] == before["children"]
    with store.engine.connect() as conn:
        i2 = conn.execute(sa.select(schema.intelligence.c.subjects)
                          .where(schema.intelligence.c.intel_id == "I2")).scalar()
    assert i2 == "child:C0001"
    assert verify(store.engine).ok


def test_failure_leaves_store_unchanged(store, monkeypatch):
    before = _snapshot(store)
    n_log = _count(store, audit_log)

    def broken(conn, entries):
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk full"))
    monkeypatch.setattr("api.jobs.audit.append_in", broken)
    r = CliRunner().invoke(cli.app, ["erase", "--db", store.url, "child", "police/C0001",
                                     "--reason", REASON, "--by", "dpo.test"])
    assert r.exit_code != 0 and "nothing changed" in r.output
    assert _snapshot(store) == before and _count(store, audit_log) == n_log


def test_route_admin_only_by_pseudonym(store):
    app = create_app(store, Settings(rate_per_minute=0))
    pw = {r: secrets.token_urlsafe(16) for r in ("admin", "analyst")}
    for role, p in pw.items():
        add_user(store.engine, f"e_{role}", role, p)
    with TestClient(app) as client:
        tok = {role: client.post("/auth/token", data={"username": f"e_{role}", "password": p})
               .json()["access_token"] for role, p in pw.items()}
        h = {role: {"Authorization": f"Bearer {t}"} for role, t in tok.items()}
        pseud = app.state.wf.minimiser.pseudonym("P000002", "child")
        assert client.get(f"/profiles/{pseud}?purpose=case+review", headers=h["analyst"]).status_code == 200
        body = {"kind": "child", "ref": pseud, "reason": REASON}
        assert client.post("/erasures", json=body, headers=h["analyst"]).status_code == 403
        assert client.post("/erasures", json=body).status_code == 401
        assert client.post("/erasures", json={**body, "reason": "no"}, headers=h["admin"]).status_code == 400
        assert client.post("/erasures", json={**body, "ref": "C-0000000000"}, headers=h["admin"]).status_code == 404
        r = client.post("/erasures", json=body, headers=h["admin"])
        assert r.status_code == 200, r.text
        out = r.json()
        assert out["subject"] == pseud and out["counts"]["children"] == 1
        assert "C0002" not in r.text and "Testgiven" not in r.text
        # gone from what the service serves, at once
        assert client.get(f"/profiles/{pseud}?purpose=case+review", headers=h["analyst"]).status_code == 404
        assert client.get("/profiles/police/C0002?purpose=case+review", headers=h["analyst"]).status_code == 404
        log = client.get("/audit?action=erasure", headers=h["admin"]).json()
        data = [e for e in log if e["route"] == "/erasures" and e["user_name"] == "e_admin"
                and e["status"] == 200]
        assert any(e["id"] == out["audit_id"] and e["purpose"] == REASON for e in data)
        assert client.get("/audit/verify", headers=h["admin"]).json()["ok"] is True


def test_erasure_covers_every_drop_table():
    """Erasure reads the contract's declaration: every drop table is either free of personal data
    or covers it, and every table holding personal data is covered by a declared rule (rows
    deleted with the child, mentions scrubbed) or by name in erasure itself; a new drop file
    with personal data and no erasure cannot be declared (geo.model.Contract)."""
    from api.jobs.erase import COVERED, ERASED_BY_NAME, NO_PERSONAL_DATA
    from geo.model import CONTRACT
    from geo.storage.schema import DROP_TABLES
    assert set(DROP_TABLES) == set(COVERED) | set(NO_PERSONAL_DATA)
    assert not set(COVERED) & set(NO_PERSONAL_DATA)
    personal = {spec.table for spec in CONTRACT.personal_files()}
    assert personal == set(COVERED)
    assert set(ERASED_BY_NAME) <= personal
    for spec in CONTRACT.personal_files():
        by_rule = spec.erasure.with_child or \
            set(spec.personal) <= {col for col, _ in spec.erasure.mentions}
        assert by_rule or spec.table in ERASED_BY_NAME, f"erasure does not cover {spec.table}"
        # every reference to a person is personal data, so erasure sees it
        refs = {c.name for c in spec.columns if c.kind in ("ref", "refs")}
        assert refs <= set(spec.personal)
    for spec in CONTRACT.files:
        if not spec.personal:
            assert not any(c.kind in ("ref", "refs") for c in spec.columns), spec.name

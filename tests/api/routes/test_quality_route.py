"""GET /quality: the data-quality report per source, for analysts only (it lists record keys)."""


def test_quality_route_for_analysts_only(as_role):
    r = as_role("analyst", "GET", "/quality?as_of=2017-06-01T00:00")
    assert r.status_code == 200, r.text
    q = r.json()
    assert q["as_of"] == "2017-05-31T23:00:00+00:00"
    for k in ("stale_open_episodes", "unknown_children", "rhi_after_next_episode", "disagreements"):
        assert isinstance(q[k], list) and q["totals"][k] == len(q[k])
    for role in ("mog_member", "cog_member", "mase_member", "licensing_officer"):
        assert as_role(role, "GET", "/quality").status_code == 403
    assert as_role("analyst", "GET", "/quality?as_of=whenever").status_code == 400


def test_mog_extras_minimised_for_members(as_role):
    full = as_role("analyst", "GET", "/scorecards/mog?from=2017-01-01&to=2018-01-01").json()
    for k in ("by_establishment", "out_of_area", "rhi_themes", "first_time", "multi_setting", "cme"):
        assert k in full, k
    assert isinstance(full["by_establishment"], list)
    m = as_role("mog_member", "GET", "/scorecards/mog?from=2017-01-01&to=2018-01-01").json()
    assert isinstance(m["by_establishment"], str) and "withheld" in m["by_establishment"]
    import json
    text = json.dumps(m)
    assert "person_id" not in text
    for r in m["out_of_area"]["placed_in_list"] + m["multi_setting"]:
        assert r["child"].startswith("C-")
    assert len(m["multi_setting"]) == len(full["multi_setting"])


def test_profile_reads_the_best_view_with_provenance(as_role):
    w = as_role("analyst", "GET", "/children/worrying?purpose=profile+test").json()
    pid = w[0]["person_id"]
    p = as_role("analyst", "GET", f"/profiles/{pid}?purpose=profile+test").json()
    assert p["provenance"]["care_status"] in p["records"]
    assert isinstance(p["conflicts"], dict)
    m = as_role("mog_member", "GET", "/children/worrying?purpose=profile+test").json()
    q = as_role("mog_member", "GET", f"/profiles/{m[0]['child']}?purpose=profile+test").json()
    assert "provenance" not in q and "conflicts" not in q and "care_status" in q["details"]


def test_mase_area_pack_route(as_role, app):
    from geo.storage import schema
    from geo.meetings.mase import read_mase_areas
    from geo.places.reference import MASE_AREAS_ILLUSTRATIVE
    store = app.state.wf.store
    with store.engine.begin() as conn:
        conn.execute(schema.mase_areas.delete())
        store.insert_frame(conn, schema.mase_areas, read_mase_areas(MASE_AREAS_ILLUSTRATIVE))
    r = as_role("mase_member", "GET", "/packs/mase?from=2017-01-01&to=2017-12-31&area=South&purpose=area+list")
    assert r.status_code == 200, r.text
    assert "MASE pack: South area" in r.text
    r = as_role("mase_member", "GET", "/packs/mase?from=2017-01-01&to=2017-12-31&area=Nowhere&purpose=x")
    assert r.status_code == 400

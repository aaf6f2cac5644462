"""Licensing officers end to end on the sample drop (synthetic people on real Birmingham
geography): ``wayfinder screen`` on a planted venue's postcode names the evidence, on a quiet
street says so plainly, both minimised for a licensing officer; review records stored, audited and
shown; premises reachable by ids holding '/'; the API's screening, reviews, premises profile and
CSE scorecard routes."""
import json
import re
import secrets
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api import cli

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    from geo.places.reference import load_bundled
    from geo.storage.store import open_store
    d = tmp_path_factory.mktemp("lic")
    db = f"sqlite:///{d / 'w.sqlite'}"
    load_bundled(open_store(db))
    res = CliRunner().invoke(cli.app, ["ingest", str(SAMPLE), "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(cli.app, ["identity", "resolve", "--db", db])
    assert res.exit_code == 0, res.output
    truth = json.loads((SAMPLE / "truth.json").read_text())
    prem = pd.read_csv(SAMPLE / "premises.csv", dtype=str, keep_default_na=False)
    return db, truth, prem


def _screen(db, *args):
    res = CliRunner().invoke(cli.app, ["screen", *args, "--db", db, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def _venue(city):
    _, truth, prem = city
    busy = max(truth["cse"]["at_venues"], key=lambda v: v["crimes"])["premises_id"]
    return prem.set_index("premises_id").loc[busy], busy


def test_planted_venue_postcode_names_the_evidence(city):
    db = city[0]
    venue, pid = _venue(city)
    out = _screen(db, venue["postcode"])
    assert {"location", "premises", "episodes", "children", "intelligence", "explanation"} <= set(out)
    assert out["location"]["precision"] != "none"
    names = [p["name"] for p in out["premises"]]
    assert venue["name"] in names
    p = out["premises"][names.index(venue["name"])]
    assert p["episodes"] not in (0, None) or p["cse_incidents"] not in (0, None)
    assert venue["name"] in out["explanation"] and "linked to" in out["explanation"]
    assert out["episodes"] not in (0, None)
    # minimised: months only, no person references, small counts banded
    assert re.fullmatch(r"\d{4}-\d{2}", out["first"]) and re.fullmatch(r"\d{4}-\d{2}", out["last"])
    text = json.dumps(out)
    assert not re.search(r"\b(PC|CF|SW|ED)\d{7}\b", text) and "police/" not in text
    assert all(v == "<5" or v == 0 or v >= 5 for v in
               [out[k] for k in ("episodes", "children", "intelligence")])
    full = _screen(db, venue["postcode"], "--role", "analyst")
    assert isinstance(full["episodes"], int) and full["episodes"] >= 1
    assert "T" in full["first"]                       # an analyst sees the time


def test_quiet_street_says_so(city):
    from geo.storage.store import open_store
    db = city[0]
    s = open_store(db)
    ev = s.frame("place_events")
    pts = np.c_[ev["easting"], ev["northing"]]
    for frame in (s.frame("intelligence"), s.frame("crimes")):
        xy = frame[["easting", "northing"]].dropna().to_numpy(float)
        pts = np.r_[pts, xy]
    pcs = s.table("postcodes").dropna(subset=["easting"])
    from scipy.spatial import cKDTree
    d, _ = cKDTree(pts).query(pcs[["easting", "northing"]].to_numpy(float))
    quiet = pcs["postcode"].iloc[int(np.argmax(d))]
    out = _screen(db, quiet)
    assert (out["episodes"], out["children"], out["intelligence"]) == (0, 0, 0)
    assert out["explanation"].startswith("Nothing recorded within 250 m")


def test_bad_text_and_period_are_one_line(city):
    db = city[0]
    for args in (["not known"], ["B23 5NL", "--from", "2017-02-01", "--to", "2017-01-01"],
                 ["B23 5NL", "--role", "cog_member"]):
        res = CliRunner().invoke(cli.app, ["screen", *args, "--db", db])
        assert res.exit_code != 0 and len(res.output.strip().splitlines()) == 1, res.output


def test_reviews_recorded_audited_and_shown(city):
    db = city[0]
    venue, pid = _venue(city)
    assert "/" in pid
    r = CliRunner()
    res = r.invoke(cli.app, ["premises", "review", pid, "--decision", "referred", "--officer", "J Officer",
                             "--date", "2017-02-10", "--reason", "repeat CSE concerns", "--db", db])
    assert res.exit_code == 0, res.output
    res = r.invoke(cli.app, ["premises", "review", pid, "--decision", "maybe", "--officer", "x", "--db", db])
    assert res.exit_code != 0 and "one of" in res.output
    res = r.invoke(cli.app, ["premises", "review", "NO/SUCH/ID", "--decision", "reviewed", "--officer", "x", "--db", db])
    assert res.exit_code != 0 and "no premises" in res.output
    rows = json.loads(r.invoke(cli.app, ["premises", "reviews", pid, "--db", db, "--json"]).output)
    referred = [x for x in rows if x["decision"] == "referred"]
    assert len(referred) == 1 and referred[0]["officer"] == "J Officer"
    assert referred[0]["decided_at"].startswith("2017-02-10")
    assert "premises review" in r.invoke(cli.app, ["audit", "list", "--db", db]).output
    assert r.invoke(cli.app, ["audit", "verify", "--db", db]).exit_code == 0
    out = _screen(db, venue["postcode"])
    p = next(p for p in out["premises"] if p["premises_id"] == pid)
    latest = max(rows, key=lambda x: x["decided_at"])
    assert p["review"]["decision"] == latest["decision"] and p["review"]["decided_at"] == latest["decided_at"][:7]
    assert f"last review: {latest['decision']}" in out["explanation"]


@pytest.fixture(scope="module")
def api(city):
    from api.service.app import create_app
    from api.service.auth import add_user
    from api.settings import Settings
    from geo.storage.store import open_store
    store = open_store(city[0])
    pw = {}
    for role in ("analyst", "licensing_officer", "cog_member"):
        pw[role] = secrets.token_urlsafe(16)
        add_user(store.engine, f"u_{role}", role, pw[role])
    app = create_app(store, Settings(rate_per_minute=0, login_rate_per_minute=1000))
    with TestClient(app) as c:
        tok = {r: c.post("/auth/token", data={"username": f"u_{r}", "password": p}).json()["access_token"]
               for r, p in pw.items()}

        def call(role, method, url, **kw):
            return c.request(method, url, headers={"Authorization": f"Bearer {tok[role]}"}, **kw)
        yield call


def test_api_screen_minimised_and_by_role(city, api):
    venue, pid = _venue(city)
    r = api("licensing_officer", "GET", "/licensing/screen", params={"text": venue["postcode"]})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["minimised"] and venue["name"] in out["explanation"]
    assert re.fullmatch(r"\d{4}-\d{2}", out["first"])
    assert api("cog_member", "GET", "/licensing/screen", params={"text": venue["postcode"]}).status_code == 403
    full = api("analyst", "GET", "/licensing/screen", params={"text": venue["postcode"]}).json()
    assert isinstance(full["episodes"], int)
    assert api("licensing_officer", "GET", "/licensing/screen", params={"text": "not known"}).status_code == 400


def test_api_reviews_and_premises_with_slash(city, api):
    venue, pid = _venue(city)
    r = api("licensing_officer", "POST", "/licensing/reviews",
            json={"premises_id": pid, "decision": "conditions", "decided_at": "2017-03-01",
                  "reason": "conditions on late-night opening"})
    assert r.status_code == 201, r.text
    assert r.json()["officer"] == "u_licensing_officer"
    assert api("licensing_officer", "POST", "/licensing/reviews",
               json={"premises_id": "NOPE", "decision": "reviewed"}).status_code == 400
    rows = api("licensing_officer", "GET", "/licensing/reviews", params={"premises_id": pid}).json()
    assert rows[-1]["decision"] == "conditions" and rows[-1]["decided_at"] == "2017-03"
    prof = api("analyst", "GET", f"/analyses/premises/{pid}")
    assert prof.status_code == 200, prof.text
    body = prof.json()
    assert body["premises"]["premises_id"] == pid
    assert body["linked_episodes_by_month"] and all(re.fullmatch(r"\d{4}-\d{2}", m["month"])
                                                    for m in body["linked_episodes_by_month"])
    assert sum(m["episodes"] for m in body["linked_episodes_by_month"]) >= 1
    assert body["reviews"][-1]["decision"] == "conditions"
    lic = api("licensing_officer", "GET", f"/analyses/premises/{pid}").json()
    assert all(m["episodes"] == "<5" or m["episodes"] >= 5 for m in lic["linked_episodes_by_month"])


def test_api_cse_scorecard_is_the_cli_scorecard(city, api):
    db = city[0]
    r = api("analyst", "GET", "/scorecards/cse", params={"from": "2016-04-01", "to": "2017-04-01"})
    assert r.status_code == 200, r.text
    res = CliRunner().invoke(cli.app, ["scorecard", "cse", "--db", db, "--from", "2016-04-01",
                                       "--to", "2017-03-31", "--json"])
    card = json.loads(res.output)
    from geo.meetings.cse import CONTRACT_KEYS
    assert {k: r.json()[k] for k in CONTRACT_KEYS} == {k: card[k] for k in CONTRACT_KEYS}
    assert card["cse_crimes"] + card["cse_non_crimes"] > 0


@pytest.fixture(scope="module")
def analysed(city):
    db = city[0]
    res = CliRunner().invoke(cli.app, ["analyse", "--db", db, "--out", str(Path(db[10:]).parent / "an"),
                                       "--seed", "3"])
    assert res.exit_code == 0, res.output
    return city


def _text(html: str) -> str:
    import html as h
    html = re.sub(r"<script.*?</script>|<style.*?</style>", "", html, flags=re.S)
    return h.unescape(re.sub(r"<[^>]+>", " ", html))


def test_licensing_and_cog_packs_read_end_to_end(analysed, tmp_path):
    db, truth, prem = analysed
    venue, pid = _venue(analysed)
    r = CliRunner()
    res = r.invoke(cli.app, ["premises", "review", pid, "--decision", "reviewed", "--officer", "A Officer",
                             "--date", "2017-01-15", "--db", db])
    assert res.exit_code == 0, res.output
    res = r.invoke(cli.app, ["pack", "licensing", "--db", db, "--from", "2016-04-01", "--to", "2017-03-31",
                             "--out", str(tmp_path / "lic.html")])
    assert res.exit_code == 0, res.output
    lic = (tmp_path / "lic.html").read_text()
    t = _text(lic)
    assert "Premises of concern" in t and "Review records" in t
    assert "minimised for role: licensing_officer" in t
    assert not re.search(r"C-[0-9A-F]{10}", lic) and not re.search(r"\b(PC|CF)\d{7}\b", lic)
    assert not re.search(r"\b20\d\d-\d\d-\d\d\b", t.split("Produced by")[0])   # months only
    assert re.search(r"(reviewed|referred|conditions added) \(2017-0\d, [\w ]+\)", t)  # review state
    planted = set(truth["venue_hotspots"])
    assert any(p in lic for p in planted)
    assert "private hire operator" in t or "premises licence" in t                    # licence shown
    # a meeting role without licensing rights cannot have it
    res = r.invoke(cli.app, ["pack", "licensing", "--db", db, "--from", "2016-04-01", "--to", "2017-03-31",
                             "--role", "mog_member", "--out", str(tmp_path / "x.html")])
    assert res.exit_code != 0
    res = r.invoke(cli.app, ["pack", "cog", "--db", db, "--from", "2016-04-01", "--to", "2017-03-31",
                             "--out", str(tmp_path / "cog.html")])
    assert res.exit_code == 0, res.output
    cog = (tmp_path / "cog.html").read_text()
    t = _text(cog)
    for title in ("CSE scorecard", "Victims at risk", "cse_outcomes", "cse_profile.by_age",
                  "Licensing review candidates", "Latest review"):
        assert title in t, title
    card = json.loads(r.invoke(cli.app, ["scorecard", "cse", "--db", db, "--from", "2016-04-01",
                                         "--to", "2017-03-31", "--json"]).output)
    i = t.index("CSE-marked non-crime incidents")
    shown = t[i:i + 60].split()[3]
    assert shown == (str(card["cse_non_crimes"]) if card["cse_non_crimes"] >= 5 or card["cse_non_crimes"] == 0
                     else "<5")
    kids = pd.read_csv(SAMPLE / "children.csv", dtype=str, keep_default_na=False)
    names = set((kids["given_name"] + " " + kids["family_name"]).str.strip()) - {""}
    assert not any(n in t for n in names)


def test_api_licensing_pack_by_role(analysed, api):
    q = {"from": "2016-04-01", "to": "2017-03-31", "purpose": "licensing sub-committee"}
    r = api("licensing_officer", "GET", "/packs/licensing", params=q)
    assert r.status_code == 200, r.text
    assert "Licensing pack" in r.text and "minimised for role: licensing_officer" in r.text
    assert not re.search(r"C-[0-9A-F]{10}", r.text)
    assert api("licensing_officer", "GET", "/packs/cog", params=q).status_code == 403
    assert api("cog_member", "GET", "/packs/licensing", params=q).status_code == 200


def test_api_victims_at_risk_role_minimised(city, api):
    q = {"from": "2016-04-01", "to": "2017-04-01", "purpose": "COG monthly meeting"}
    full = api("analyst", "GET", "/cse/victims-at-risk", params=q)
    assert full.status_code == 200, full.text
    rows = full.json()
    assert rows and "person_id" in rows[0] and rows[0]["level"] in ("low", "medium", "high")
    assert [r["level"] for r in rows] == sorted((r["level"] for r in rows),
                                                key={"high": 0, "medium": 1, "low": 2}.get)
    cog = api("cog_member", "GET", "/cse/victims-at-risk", params=q).json()
    assert all(re.fullmatch(r"C-[0-9A-F]{10}", r["child"]) and "person_id" not in r for r in cog)
    assert all(r["cse_incidents"] == "<5" or r["cse_incidents"] == 0 or r["cse_incidents"] >= 5 for r in cog)
    assert api("licensing_officer", "GET", "/cse/victims-at-risk", params=q).status_code == 403
    assert api("cog_member", "GET", "/cse/victims-at-risk",
               params={"from": "2016-04-01", "to": "2017-04-01"}).status_code in (400, 422)


def test_cog_cse_section_bands_small_monthly_counts(analysed):
    """On the sample (40 children) the monthly cohort has counts of 1-4: a meeting member gets a
    banded table, not a chart that would show them; an analyst gets the chart."""
    from geo.storage.store import open_store
    from maps import cse_packs, packs
    data = packs.load_pack_data(open_store(analysed[0]))
    period = packs.Period.parse("2016-04-01", "2017-03-31")
    member = cse_packs.cse_section(data, period, packs.View("cog_member", secret="s"))
    analyst = cse_packs.cse_section(data, period, packs.View("analyst", secret="s"))
    assert "<svg" in analyst and "<svg" not in member and "&lt;5" in member

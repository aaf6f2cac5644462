"""The MOG scorecard as shared/DATA_CONTRACT.md defines it ("Scorecard measures"), end to end:
a hand-built drop whose answers are worked out by hand (absent and away beside missing, stale
open records, one child with three disagreeing records, returns before and after the as-of
time, an episode either side of the end of a period in British Summer Time), ingested and read
back through ``wayfinder scorecard mog --json``; and an independent, loop-by-loop calculation of
every contract key on a generated city drop, on several periods and as-of times."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from api import cli

CONTRACT_KEYS = ["missing_episodes", "absent_episodes", "away_episodes", "missing_children",
                 "repeat_missing_children", "persistent_missing_children",
                 "first_time_missing_children", "missing_episodes_looked_after",
                 "returned_missing_episodes", "rhi_offered_pct", "rhi_held_within_72h_pct",
                 "rhi_engaged_pct", "missing_over_48h_looked_after", "missing_now",
                 "stale_open_episodes"]


def _csv(path: Path, rows: list[dict]) -> None:
    pd.DataFrame(rows).to_csv(path, index=False)


def write_drop(d: Path) -> Path:
    """Child X has three records (police, social care, school) that disagree on care status and
    date of birth (social care says in care: cic); C2 is in care in a children's home; C3 is not
    in care. Times are London local (BST from 26 March 2017)."""
    d.mkdir(parents=True, exist_ok=True)
    _csv(d / "children.csv", [
        dict(child_id="C1", source="police", given_name="Xanthe", family_name="Quill", dob="2003-05-04",
             sex="female", care_status="none", police_id="WMP1", carefirst_id="", upn="",
             placement_type="parent", responsible_authority="Birmingham"),
        dict(child_id="CF1", source="carefirst", given_name="Xanthe", family_name="Quill", dob="2003-05-04",
             sex="female", care_status="cic", police_id="WMP1", carefirst_id="K1", upn="U1",
             placement_type="residential", responsible_authority="Birmingham",
             placement_authority="Sandwell", establishment="Ouzel Court"),
        dict(child_id="ED1", source="education", given_name="Xanthe", family_name="Quill", dob="2003-04-05",
             sex="female", care_status="cin", police_id="", carefirst_id="K1", upn="U1",
             placement_type="", responsible_authority=""),
        dict(child_id="C2", source="police", given_name="Bryony", family_name="Stroud", dob="2002-01-09",
             sex="female", care_status="cic", police_id="WMP2", carefirst_id="", upn="",
             placement_type="residential", responsible_authority="Sandwell",
             placement_authority="Birmingham", establishment="Heron House"),
        dict(child_id="C3", source="police", given_name="Oswin", family_name="Tarrant", dob="2004-11-30",
             sex="male", care_status="none", police_id="WMP3", carefirst_id="", upn="",
             placement_type="parent", responsible_authority="Birmingham"),
    ])
    e = lambda i, c, cat, rep, ret="", rag="", frm="care": dict(  # noqa: E731
        episode_id=i, child_id=c, category=cat, reported_at=rep, returned_at=ret, rag=rag,
        source="police", missing_from=frm)
    _csv(d / "episodes.csv", [
        e("E1", "C1", "missing", "2017-03-02 10:00", "2017-03-02 20:00", "red", "education"),
        e("E2", "C1", "absent", "2017-03-05 10:00", "2017-03-05 12:00"),
        e("E3", "C1", "away_without_authorisation", "2017-03-06 10:00"),          # stale from E4
        e("E4", "C1", "missing", "2017-03-10 10:00", "2017-03-13 12:00"),         # 74 h
        e("E5", "C1", "missing", "2017-03-20 10:00", "2017-04-02 10:00"),         # back after P
        e("F1", "C2", "missing", "2017-02-10 10:00", "2017-02-11 10:00"),         # before P
        e("F2", "C2", "missing", "2017-03-15 10:00", "2017-03-15 20:00"),
        e("F3", "C2", "missing", "2017-03-31 23:30"),                              # BST: in P
        e("G1", "C3", "absent", "2017-03-03 09:00", "2017-03-03 11:00"),
        e("G2", "C3", "missing", "2016-07-01 18:00"),                              # stale
        e("G3", "C3", "missing", "2017-04-01 00:30"),                              # BST: after P
        e("H1", "ZZ", "missing", "2017-03-08 10:00", "2017-03-08 18:00"),         # unknown child
    ])
    r = lambda i, ep, out, held="", off="": dict(  # noqa: E731
        rhi_id=i, episode_id=ep, outcome=out, held_at=held, offered_at=off, source="rhi_provider")
    _csv(d / "return_interviews.csv", [
        r("R1", "E1", "engaged", "2017-03-03 10:00", "2017-03-03 09:00"),
        r("R2", "E2", "engaged", "2017-03-05 15:00"),                   # absent: never counted
        r("R4", "E4", "declined", "", "2017-03-14 09:00"),
        r("R5", "E5", "engaged", "2017-04-03 10:00"),
        r("R6", "F2", "not_offered"),
        r("R7", "E1", "engaged", "2017-03-05 11:00"),                   # after E2 was reported
    ])
    _csv(d / "education.csv", [
        dict(record_id="M1", child_id="ED1", status="cme", start_date="2017-02-20", end_date="", source="education"),
        dict(record_id="M2", child_id="C3", status="cnes", start_date="2016-09-01", end_date="2017-03-10",
             source="police"),
    ])
    return d


def scorecard(db: str, *args: str) -> dict:
    res = CliRunner().invoke(cli.app, ["scorecard", "mog", "--db", db, *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


@pytest.fixture(scope="module")
def hand_db(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mog")
    db = f"sqlite:///{tmp / 'store.sqlite'}"
    res = CliRunner().invoke(cli.app, ["ingest", str(write_drop(tmp / "drop")), "--db", db])
    assert res.exit_code == 0, res.output
    return db


EXPECTED_END = dict(  # as of the end of March (2017-03-31T23:00Z, BST)
    missing_episodes=6, absent_episodes=2, away_episodes=1, missing_children=3,
    repeat_missing_children=2, persistent_missing_children=0, first_time_missing_children=2,
    missing_episodes_looked_after=5, returned_missing_episodes=4, rhi_offered_pct=50.0,
    rhi_held_within_72h_pct=25.0, rhi_engaged_pct=50.0, missing_over_48h_looked_after=2,
    missing_now=2, stale_open_episodes=2)


def test_hand_built_drop_as_of_the_end(hand_db):
    s = scorecard(hand_db, "--from", "2017-03-01", "--to", "2017-03-31")
    assert list(s)[1:16] == CONTRACT_KEYS
    assert {k: s[k] for k in CONTRACT_KEYS} == EXPECTED_END
    assert s["period"]["as_of"] == "2017-03-31T23:00:00+00:00"
    # beside the contract keys: the bases, and the absent / away children never inside missing
    assert s["rhi_offered_episodes"] == 2 and s["absent_children"] == 2 and s["away_children"] == 1
    assert s["missing_episodes_rag_red"] == 1
    assert s["bases"]["rhi_engaged_pct"] == "rhi_offered_episodes"


def test_hand_built_drop_as_of_after_the_returns(hand_db):
    s = scorecard(hand_db, "--from", "2017-03-01", "--to", "2017-03-31", "--as-of", "2017-04-05T00:00")
    want = dict(EXPECTED_END, returned_missing_episodes=5, rhi_offered_pct=60.0,
                rhi_held_within_72h_pct=40.0, rhi_engaged_pct=66.67,
                missing_over_48h_looked_after=3, missing_now=2, stale_open_episodes=2)
    assert {k: s[k] for k in CONTRACT_KEYS} == want


def test_hand_built_drop_as_of_before_the_returns(hand_db):
    s = scorecard(hand_db, "--from", "2017-03-01", "--to", "2017-03-31", "--as-of", "09/03/2017 12:00")
    want = dict(EXPECTED_END, returned_missing_episodes=2, rhi_offered_pct=50.0,
                rhi_held_within_72h_pct=50.0, rhi_engaged_pct=100.0,
                missing_over_48h_looked_after=0, missing_now=0, stale_open_episodes=1)
    assert {k: s[k] for k in CONTRACT_KEYS} == want


def test_dst_edges_and_zero_bases(hand_db):
    # April starts at 2017-03-31T23:00Z: G3 (00:30 BST on 1 April) is April's, F3 March's
    april = scorecard(hand_db, "--from", "2017-04-01", "--to", "2017-04-30")
    assert april["missing_episodes"] == 1 and april["returned_missing_episodes"] == 0
    assert april["rhi_offered_pct"] is None and april["rhi_engaged_pct"] is None
    one_day = scorecard(hand_db, "--from", "31/03/2017", "--to", "31/03/2017")
    assert one_day["missing_episodes"] == 1 and one_day["missing_now"] == 2


def test_bad_input_is_one_line(hand_db):
    res = CliRunner().invoke(cli.app, ["scorecard", "mog", "--db", hand_db, "--from", "2017-03-31",
                                       "--to", "2017-03-01", "--json"])
    assert res.exit_code != 0 and res.stderr.strip().count("\n") == 0 and "empty" in res.stderr
    res = CliRunner().invoke(cli.app, ["scorecard", "mog", "--db", hand_db, "--from", "2017-03-01",
                                       "--to", "2017-03-31", "--as-of", "soon"])
    assert res.exit_code != 0 and "as-of" in res.stderr


def test_readable_table_states_definitions_and_bases(hand_db):
    res = CliRunner().invoke(cli.app, ["scorecard", "mog", "--db", hand_db, "--from", "2017-03-01",
                                       "--to", "2017-03-31"])
    assert res.exit_code == 0
    assert "base: returned_missing_episodes = 4" in res.stdout
    assert "nan" not in res.stdout.lower() and "NaT" not in res.stdout


def test_mog_extras_out_of_area_both_ways_homes_settings_cme(hand_db):
    s = scorecard(hand_db, "--from", "2017-03-01", "--to", "2017-03-31")
    o = s["out_of_area"]
    # placed in: C2, responsible Sandwell, placed in the city, two missing episodes in March
    assert o["placed_in_children"] == 1 and o["placed_in_by_authority"]["Sandwell"]["missing_episodes"] == 2
    (c2,) = o["placed_in_list"]
    assert (c2["responsible_authority"], c2["missing_episodes"], c2["settings"]) == ("Sandwell", 2, "care")
    # placed out: X, the city's own child in care, placed in Sandwell (social care's record)
    assert (o["placed_out_children"], o["looked_after_children_known_placement"], o["placed_out_pct"]) == (1, 1, 100.0)
    assert o["placed_out_by_host"] == {"Sandwell": {"children": 1, "children_missing": 1, "missing_episodes": 3}}
    homes = {r["establishment"]: r for r in s["by_establishment"]}
    assert homes["Heron House"]["missing_episodes"] == 2 and homes["Ouzel Court"]["missing_episodes"] == 3
    assert homes["Ouzel Court"]["absent_episodes"] == 1 and homes["Ouzel Court"]["away_episodes"] == 1
    (multi,) = s["multi_setting"]                 # X: education (E1) and care
    assert multi["settings"] == "care;education" and multi["episodes"] == 5
    f = s["first_time"]                           # X and the unknown child ZZ
    assert (f["first_time_children"], f["first_time_rhi_offered"], f["first_time_rhi_engaged"],
            f["first_time_missing_again"]) == (2, 1, 1, 1)
    c = s["cme"]
    assert (c["cme_children_in_period"], c["cme_children_also_missing"], c["ended_in_period"]) == (1, 1, 1)
    assert c["open_at_as_of"]["cme"] == 1 and c["open_at_as_of"]["cnes"] == 0
    themes = s["rhi_themes"]
    assert themes["interviews_held"] == 2         # R1 and R7 follow E1 (R2 follows an absence)


def test_data_quality_report(hand_db):
    res = CliRunner().invoke(cli.app, ["quality", "--db", hand_db, "--as-of", "2017-04-05T00:00", "--json"])
    assert res.exit_code == 0, res.output
    q = json.loads(res.stdout)
    stale = {r["episode_key"]: r for r in q["stale_open_episodes"]}
    assert set(stale) == {"police/E3", "police/G2"}
    assert stale["police/G2"]["source"] == "police" and stale["police/G2"]["later_episodes"] == 2
    assert stale["police/G2"]["age_hours"] == pytest.approx(
        (pd.Timestamp("2017-04-04T23:00Z") - pd.Timestamp("2016-07-01T17:00Z")) / pd.Timedelta(hours=1))
    assert [r["episode_key"] for r in q["unknown_children"]] == ["police/H1"]
    assert [r["rhi_key"] for r in q["rhi_after_next_episode"]] == ["rhi_provider/R7"]
    fields = {r["field"]: r for r in q["disagreements"]}
    assert set(fields) == {"care_status", "dob", "placement_type"}
    assert fields["care_status"]["chosen"] == "cic" and fields["care_status"]["chosen_from"] == "carefirst/CF1"
    assert fields["care_status"]["sources"] == "carefirst;education;police"
    assert q["summary"]["police"]["stale_open_episodes"] == 2
    assert q["summary"]["rhi_provider"]["rhi_after_next_episode"] == 1
    assert q["totals"]["persons_with_disagreements"] == 1


def test_missing_now_and_worrying_leave_stale_records_out(hand_db):
    from api.jobs.identity import load_resolved
    from geo.meetings import scorecards as sc
    from geo.storage.store import open_store
    f = load_resolved(open_store(hand_db), ["episodes", "return_interviews"])
    t = pd.Timestamp("2017-03-31T23:00Z")
    now = sc.missing_now(f["episodes"], f["children"], now=t)
    assert sorted(now["episode_key"]) == ["police/E5", "police/F3"]
    e5 = now.set_index("episode_key").loc["police/E5"]
    assert e5["care_status"] == "cic" and e5["hours_missing"] == pytest.approx(277.0)
    assert any("notify the director" in a for a in e5["actions"])
    w = {r["person_id"]: r for r in sc.worrying_cases(f["episodes"], f["children"], f["return_interviews"],
                                                       now=t, n=10)}
    c3 = f["children"].set_index("child_key").loc["police/C3", "person_id"]
    assert not any(x.startswith("missing now") for x in w[c3]["reasons"])   # G2 is stale
    x = f["children"].set_index("child_key").loc["police/C1", "person_id"]
    assert any(x.startswith("missing now") for x in w[x]["reasons"])


# ------------------------------------------------------------ independent calculation, city drop

def independent(ep: pd.DataFrame, care: dict, rhi: pd.DataFrame, lo, hi, t) -> dict:
    """Every contract key, the plain way: loops over rows, no shared code with geo.meetings.scorecards."""
    H = pd.Timedelta(hours=1)
    rows = ep.to_dict("records")
    inP = [r for r in rows if lo <= r["reported_at"] < hi]
    mis = [r for r in inP if r["category"] == "missing"]
    per = {}
    for r in mis:
        per[r["person_id"]] = per.get(r["person_id"], 0) + 1
    earliest = {}
    for r in rows:
        if r["category"] == "missing":
            p = r["person_id"]
            earliest[p] = min(earliest.get(p, r["reported_at"]), r["reported_at"])
    ret = lambda r: r["returned_at"] is not pd.NaT and not pd.isna(r["returned_at"])  # noqa: E731
    returned = [r for r in mis if ret(r) and r["returned_at"] <= t]
    by_ep = {}
    for x in rhi.to_dict("records"):
        by_ep.setdefault(x["episode_key"], []).append(x)
    offered = [r for r in returned if any(x["outcome"] != "not_offered" for x in by_ep.get(r["episode_key"], []))]
    within = [r for r in returned if any(not pd.isna(x["held_at"]) and 0 <= (x["held_at"] - r["returned_at"]) / H <= 72
                                         for x in by_ep.get(r["episode_key"], []))]
    engaged = [r for r in offered if any(x["outcome"] == "engaged" for x in by_ep.get(r["episode_key"], []))]
    lac = [r for r in mis if care.get(r["person_id"]) == "cic"]

    def dur(r):
        end = r["returned_at"] if ret(r) and r["returned_at"] <= t else t
        return (end - r["reported_at"]) / H
    known = [r for r in rows if r["reported_at"] <= t]
    latest = {}
    for r in known:
        latest[r["person_id"]] = max(latest.get(r["person_id"], r["reported_at"]), r["reported_at"])
    later = lambda r: latest[r["person_id"]] > r["reported_at"]  # noqa: E731
    pct = lambda a, b: None if not b else 100.0 * len(a) / len(b)  # noqa: E731
    return dict(
        missing_episodes=len(mis), absent_episodes=sum(r["category"] == "absent" for r in inP),
        away_episodes=sum(r["category"] == "away_without_authorisation" for r in inP),
        missing_children=len(per), repeat_missing_children=sum(v >= 2 for v in per.values()),
        persistent_missing_children=sum(v > 3 for v in per.values()),
        first_time_missing_children=sum(lo <= v < hi for v in earliest.values()),
        missing_episodes_looked_after=len(lac), returned_missing_episodes=len(returned),
        rhi_offered_pct=pct(offered, returned), rhi_held_within_72h_pct=pct(within, returned),
        rhi_engaged_pct=pct(engaged, offered),
        missing_over_48h_looked_after=sum(dur(r) > 48 for r in lac),
        missing_now=sum(r["category"] == "missing" and not (ret(r) and r["returned_at"] <= t)
                        and not later(r) for r in known),
        stale_open_episodes=sum(not ret(r) and later(r) for r in known))


_CITY: dict = {}


@pytest.fixture(scope="module")
def city_db(tmp_path_factory):
    from geo.places.reference import load_bundled
    from geo.storage.store import open_store
    tmp = tmp_path_factory.mktemp("city")
    db = f"sqlite:///{tmp / 'city.sqlite'}"
    load_bundled(open_store(db))
    r = CliRunner()
    for args in (["synth", "--out", str(tmp / "drop"), "--seed", "11", "--scale", "city"],
                 ["ingest", str(tmp / "drop"), "--db", db], ["identity", "resolve", "--db", db]):
        res = r.invoke(cli.app, args)
        assert res.exit_code == 0, res.output
    _CITY["drop"] = tmp / "drop"
    return db


@pytest.mark.parametrize("start,end,as_of", [
    ("2017-03-01", "2017-03-31", None), ("2017-01-01", "2017-06-30", "2017-04-15T12:00"),
    ("2016-10-01", "2016-10-31", "2016-10-30T01:30"), ("2017-02-01", "2017-02-28", "2018-01-01")])
def test_city_drop_equals_an_independent_calculation(city_db, start, end, as_of):
    from geo.periods import Period
    from geo.storage.store import open_store
    store = open_store(city_db)
    ep, ch, rhi = (store.frame(n) for n in ("episodes", "children", "return_interviews"))
    # care status as the contract reads it: the social-care record first, where one says
    rank = ch["source"].map({"carefirst": 0, "police": 1, "rhi_provider": 2, "education": 3}).fillna(4)
    known = ch[ch["care_status"].notna() & (ch["care_status"] != "unknown")]
    care = known.assign(rank=rank).sort_values(["person_id", "rank", "child_key"]) \
        .drop_duplicates("person_id").set_index("person_id")["care_status"].to_dict()
    p = Period.parse(start, end, as_of)
    want = independent(ep, care, rhi, p.start, p.end, p.as_of)
    args = ["--from", start, "--to", end] + (["--as-of", as_of] if as_of else [])
    got = scorecard(city_db, *args)
    assert want["missing_episodes"] > 0 or start.startswith("2016")
    for k in CONTRACT_KEYS:
        if k.endswith("_pct") and want[k] is not None:
            assert got[k] == pytest.approx(want[k], abs=0.1), k
        else:
            assert got[k] == want[k], k


def test_city_drop_stale_records_and_placements_match_the_truth(city_db):
    truth = json.loads((_CITY["drop"] / "truth.json").read_text())
    res = CliRunner().invoke(cli.app, ["quality", "--db", city_db, "--as-of", "2017-04-01", "--json"])
    assert res.exit_code == 0, res.output
    got = {r["episode_key"] for r in json.loads(res.stdout)["stale_open_episodes"]}
    want = set(truth["stale_open_episodes"])
    assert len(got & want) >= 0.95 * len(want) and len(got - want) <= 0.05 * len(want)
    s = scorecard(city_db, "--from", "2016-04-01", "--to", "2017-03-31")
    assert abs(s["out_of_area"]["placed_out_pct"] - 100 * truth["placed_out_share"]) < 3
    assert s["cme"]["records"] == truth["cme_records"]


def _pack_rows(html_text: str, section: str) -> dict:
    import html as _h
    import re
    i = html_text.index(f"<section id='{section}'>")
    sec = html_text[i:html_text.index("</section>", i)]
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", sec, flags=re.S):
        cells = [_h.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, flags=re.S)]
        if cells:
            rows[cells[0]] = cells[1:]
    return rows


def test_mog_pack_numbers_trace_to_the_scorecard(hand_db, tmp_path):
    """The pack for March equals `scorecard mog --json` for March (same definitions, same as-of);
    no NaT, nan or raw field names where a person reads."""
    import re
    out = tmp_path / "mog.html"
    res = CliRunner().invoke(cli.app, ["pack", "mog", "--db", hand_db, "--from", "2017-03-01", "--to", "2017-03-31",
                                       "--role", "analyst", "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    s = scorecard(hand_db, "--from", "2017-03-01", "--to", "2017-03-31")
    rows = _pack_rows(text, "scorecard")
    trace = {"Missing episodes": "missing_episodes", "Absent episodes (beside missing, not in it)": "absent_episodes",
             "Children missing": "missing_children", "Children missing more than once": "repeat_missing_children",
             "First-time missing children": "first_time_missing_children",
             "Missing episodes of children in care": "missing_episodes_looked_after",
             "Missing episodes of children in care over 48 hours": "missing_over_48h_looked_after",
             "Returned missing episodes": "returned_missing_episodes", "Children missing now": "missing_now",
             "Open records not cleared": "stale_open_episodes", "RHIs offered": "rhi_offered_episodes"}
    for label, key in trace.items():
        assert rows[label][0] == str(s[key]), (label, rows[label], s[key])
    assert rows["RHIs offered"][1].startswith(f"{s['rhi_offered_pct']:.0f}%")
    assert rows["RHIs where the child engaged"][1].startswith(f"{s['rhi_engaged_pct']:.0f}%")
    rhi = _pack_rows(text, "rhi")
    assert rhi["All"][0] == str(s["returned_missing_episodes"])    # the same base as the scorecard
    homes = _pack_rows(text, "homes")
    assert homes["Ouzel Court"][0] == str(s["by_establishment"][0]["missing_episodes"])
    visible = re.sub(r"<script.*?</script>|<style.*?</style>", "", text, flags=re.S)
    visible = re.sub(r"<[^>]+>", " ", visible)
    for bad in ("NaT", "nan", "away_without_authorisation", "placement_type", "_episodes"):
        assert not re.search(rf"\b{bad}\b", visible), bad
    for sec in ("scorecard", "worrying", "rhi", "out-of-area", "homes", "first-time", "settings", "themes", "cme"):
        i = text.index(f"<section id='{sec}'>")
        assert "Mar 2017" in text[i:text.index("</h2>", i)], sec     # every table says its period

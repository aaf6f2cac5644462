"""The CSE scorecard against a second, naive implementation of the contract's definitions
(shared/DATA_CONTRACT.md, "Scorecard measures", ``scorecard cse``), written from the text with
plain Python loops over the raw CSV rows of a generated city drop: counts must be equal, means and
percentages within 0.1, for several periods and as-of times (one at the clock change). Persons are
taken from the store's identity links, so the check is of the measures, not of record linkage."""
import csv
import json
from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from api import cli
from geo.scenario.generator import generate

LONDON = ZoneInfo("Europe/London")
UTC = ZoneInfo("UTC")
RANK = {"none": 0, "low": 1, "medium": 2, "high": 3}


def _when(text):
    if not text:
        return None
    for fmt in ("%d/%m/%Y %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=LONDON).astimezone(UTC)
        except ValueError:
            continue
    raise ValueError(text)


def _day(text):
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=LONDON).astimezone(UTC)


@pytest.fixture(scope="module")
def drop(tmp_path_factory):
    d = tmp_path_factory.mktemp("indep")
    generate(d / "drop", seed=11, scale="city")
    db = f"sqlite:///{d / 'w.sqlite'}"
    r = CliRunner()
    assert r.invoke(cli.app, ["ingest", str(d / "drop"), "--db", db, "--no-geocode"]).exit_code == 0
    assert r.invoke(cli.app, ["identity", "resolve", "--db", db]).exit_code == 0
    from geo.storage.store import open_store
    s = open_store(db)
    person = dict(zip(s.table("identity_links")["record"], s.table("identity_links")["person_id"]))
    ep = s.frame("episodes")[["person_id", "category", "reported_at"]]
    return d / "drop", db, person, ep


def naive(drop_dir, person, episodes, start, end, t):
    def rows(name):
        with open(drop_dir / name, encoding="utf-8") as fh:
            return list(csv.DictReader(fh))
    kids = rows("children.csv")
    src_of = defaultdict(set)
    for k in kids:
        src_of[k["child_id"]].add(k["source"])
    hist = defaultdict(list)
    for a in rows("cse_assessments.csv"):
        p = person.get(f"{a['source']}/{a['child_id']}", f"{a['source']}/{a['child_id']}")
        hist[p].append((_when(a["assessed_at"]), f"{a['source']}/{a['assessment_id']}", a["risk_level"],
                        _when(a["closed_at"])))
    cohort, first = {}, {}
    reduced, increased = set(), set()
    for p, h in hist.items():
        h.sort(key=lambda x: (x[0], x[1]))
        first[p] = h[0][0]
        upto = [x for x in h if x[0] <= t]
        if upto:
            last = upto[-1]
            if last[2] in ("low", "medium", "high") and (last[3] is None or last[3] > t):
                cohort[p] = (last[2], (t - h[0][0]).total_seconds() / 86400)
        for prev, cur in zip(h, h[1:]):
            if start <= cur[0] < end:
                if RANK[cur[2]] < RANK[prev[2]]:
                    reduced.add(p)
                if RANK[cur[2]] > RANK[prev[2]]:
                    increased.add(p)
    crimes = non_crimes = 0
    victim_rows, suspect_rows = defaultdict(set), defaultdict(set)
    for c in rows("crimes.csv"):
        when = _when(c["recorded_at"])
        if c["cse_marker"] != "yes" or not start <= when < end:
            continue
        crimes += c["kind"] == "crime"
        non_crimes += c["kind"] == "non_crime"
        for v in filter(None, c["victims"].split(";")):
            cid = v.split(":", 1)[1]
            src = "police" if "police" in src_of[cid] else sorted(src_of[cid])[0]
            victim_rows[person.get(f"{src}/{cid}", f"{src}/{cid}")].add(c["crime_id"])
        for s in filter(None, c["suspects"].split(";")):
            key = f"police/{s.split(':', 1)[1]}"
            suspect_rows[person.get(key, key)].add(c["crime_id"])
    missing = set(episodes.loc[(episodes["category"] == "missing") & (episodes["reported_at"] >= start)
                               & (episodes["reported_at"] < end), "person_id"])
    n = len(cohort)
    return {
        "cse_cohort": n,
        **{f"cse_cohort_{lvl}": sum(1 for v in cohort.values() if v[0] == lvl) for lvl in ("low", "medium", "high")},
        "cse_new_referrals": sum(1 for f in first.values() if start <= f < end),
        "cse_average_days_open": sum(v[1] for v in cohort.values()) / n if n else None,
        "cse_risk_reduced": len(reduced), "cse_risk_increased": len(increased),
        "cse_crimes": crimes, "cse_non_crimes": non_crimes,
        "cse_repeat_victims": sum(1 for v in victim_rows.values() if len(v) >= 2),
        "cse_repeat_suspects": sum(1 for v in suspect_rows.values() if len(v) >= 2),
        "cse_missing_overlap_pct": 100 * sum(1 for p in cohort if p in missing) / n if n else None,
    }


@pytest.mark.parametrize("frm,to,as_of", [
    ("2016-04-01", "2017-03-31", None),
    ("2016-07-01", "2016-09-30", None),
    ("2016-10-01", "2016-12-31", "2016-11-15T12:00"),
    ("2017-03-26", "2017-03-26", None),                 # the day the clocks go forward
    ("2016-10-30", "2016-11-05", "2016-10-30T01:30"),    # the hour that happens twice
])
def test_scorecard_equals_the_naive_calculation(drop, frm, to, as_of):
    drop_dir, db, person, ep = drop
    args = ["scorecard", "cse", "--db", db, "--from", frm, "--to", to, "--json"]
    if as_of:
        args += ["--as-of", as_of]
    res = CliRunner().invoke(cli.app, args)
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    start = _day(frm)
    end = (datetime.strptime(to, "%Y-%m-%d") + timedelta(days=1)).replace(tzinfo=LONDON).astimezone(UTC)
    t = end if not as_of else datetime.fromisoformat(as_of).replace(tzinfo=LONDON).astimezone(UTC)
    want = naive(drop_dir, person, ep, start, end, t)
    for k, v in want.items():
        if isinstance(v, float):
            assert got[k] == pytest.approx(v, abs=0.1), k
        else:
            assert got[k] == v, k
    assert want["cse_cohort"] > 0

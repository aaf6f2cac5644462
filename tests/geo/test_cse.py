"""The CSE scorecard (shared/DATA_CONTRACT.md, ``scorecard cse``) on hand-built drops whose
answers are worked out by hand: risk histories that go up and down, a case closed and reopened,
a repeat victim recorded by two sources, and period / as-of edges at the clock change."""
import json
import textwrap

import pandas as pd
import pytest
from typer.testing import CliRunner

from api import cli
from geo.meetings import cse
from geo.periods import Period

CHILDREN = """\
child_id,source,given_name,family_name,dob,sex,ethnicity,care_status,police_id,school
P1,police,Amy,Stone,2002-05-01,female,White British,cic,X1,Park School
CF1,carefirst,Amy,Stone,2002-05-01,female,White British,cic,X1,Park School
P2,police,Beth,Lowe,2001-07-02,female,Pakistani,cp,X2,Hill School
P3,police,Cara,Moss,2003-01-03,female,Black Caribbean,none,X3,
P4,police,Dee,Ford,2002-09-04,male,White British,cin,X4,
"""
# Amy (P1 = CF1): low (Jan), medium (Feb, recorded by carefirst), low again (5 March): reduced in
# March only once the two records are one child. Beth (P2): high, medium on 10 March (reduced)
# closed 20 March, reopened high on 2 April (increased in April). Cara: assessed "none" (a
# referral, never in the cohort). Dee: medium 25 March, closed 10 April.
ASSESSMENTS = """\
assessment_id,child_id,assessed_at,tool,score,risk_level,closed_at,source
A1,P1,2017-01-10,seraf,8,low,,police
A2,CF1,2017-02-10,seraf,14,medium,,carefirst
A3,P1,2017-03-05,screening,,low,,police
B1,P2,2016-12-01,seraf,20,high,,police
B2,P2,2017-03-10,seraf,13,medium,2017-03-20,police
B3,P2,2017-04-02,seraf,21,high,,police
C1,P3,2017-03-15,screening,,none,,police
D1,P4,2017-03-25,seraf,12,medium,2017-04-10,police
"""
# K5 is 00:30 on 1 April BST (31 March 23:30 UTC): April. K6 is 23:30 on 31 March BST: March.
CRIMES = """\
crime_id,recorded_at,kind,offence,cse_marker,victims,suspects,outcome_code,location,source
K1,2017-03-03 20:00,crime,sexual activity with a child,yes,child:P1,person:S1,OC1A,,police
K2,2017-03-08 21:00,non_crime,concern for safety,yes,child:CF1,person:S1,NC1,,police
K3,2017-03-09 10:00,non_crime,concern for safety,yes,child:P2,,OC20,,police
K4,2017-03-12 10:00,crime,theft,no,child:P2,,,,police
K5,2017-04-01T00:30,crime,grooming,yes,child:P2,person:S1,,,police
K6,2017-03-31T23:30,non_crime,concern for safety,yes,child:P2,person:S2,OC18,,police
"""
PERSONS = """\
person_id,given_name,family_name,dob,sex,role,source
S1,Tom,Hart,1980-01-01,male,adult_of_concern,police
S2,Rob,Vale,1975-01-01,male,adult_of_concern,police
"""
EPISODES = """\
episode_id,child_id,reported_at,returned_at,category,source
E1,CF1,2017-03-12 22:00,2017-03-13 08:00,missing,carefirst
E2,P4,2017-03-26 22:00,2017-03-27 01:00,absent,police
E3,P3,2017-03-01 22:00,2017-03-02 08:00,missing,police
"""


@pytest.fixture(scope="module")
def hand_db(tmp_path_factory):
    d = tmp_path_factory.mktemp("cse")
    drop = d / "drop"
    drop.mkdir()
    for name, text in (("children", CHILDREN), ("cse_assessments", ASSESSMENTS), ("crimes", CRIMES),
                       ("persons", PERSONS), ("episodes", EPISODES)):
        (drop / f"{name}.csv").write_text(text)
    db = f"sqlite:///{d / 'w.sqlite'}"
    r = CliRunner()
    res = r.invoke(cli.app, ["ingest", str(drop), "--db", db, "--no-geocode", "--json"])
    assert res.exit_code == 0, res.output
    files = json.loads(res.output)["files"]
    assert files["cse_assessments.csv"]["accepted"] == 8 and files["crimes.csv"]["accepted"] == 6
    return db


def card(db, *args):
    res = CliRunner().invoke(cli.app, ["scorecard", "cse", "--db", db, *args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def resolve(db):
    res = CliRunner().invoke(cli.app, ["identity", "resolve", "--db", db])
    assert res.exit_code == 0, res.output


def test_before_identity_is_stored_the_scorecard_resolves_in_memory(hand_db):
    c = card(hand_db, "--from", "2017-03-01", "--to", "2017-03-31")
    # P1 and CF1 (one police id) are one child: the same answers as after identity resolve
    assert c["identity"].startswith("resolved in memory")
    assert (c["cse_cohort"], c["cse_risk_reduced"], c["cse_repeat_victims"]) == (2, 2, 2)
    resolve(hand_db)
    again = card(hand_db, "--from", "2017-03-01", "--to", "2017-03-31")
    assert again["identity"] == "stored"
    assert {k: again[k] for k in cse.CONTRACT_KEYS} == {k: c[k] for k in cse.CONTRACT_KEYS}


def test_march_after_identity(hand_db):
    resolve(hand_db)
    c = card(hand_db, "--from", "2017-03-01", "--to", "2017-03-31")
    assert set(cse.CONTRACT_KEYS) <= set(c)
    assert (c["cse_cohort"], c["cse_cohort_low"], c["cse_cohort_medium"], c["cse_cohort_high"]) == (2, 1, 1, 0)
    assert c["cse_new_referrals"] == 2                      # Cara (none counts) and Dee
    # T = 1 April 00:00 BST = 31 March 23:00 UTC; Amy from 10 Jan (80 d 23 h), Dee from 25 Mar
    # 00:00 GMT (6 d 23 h): mean 43.958
    assert c["cse_average_days_open"] == pytest.approx(44.0, abs=0.05)
    assert (c["cse_risk_reduced"], c["cse_risk_increased"]) == (2, 0)
    assert (c["cse_crimes"], c["cse_non_crimes"]) == (1, 3)   # K4 unmarked, K5 is April
    assert c["cse_repeat_victims"] == 2                     # Amy via P1 and CF1; Beth K3+K6
    assert c["cse_repeat_suspects"] == 1                    # S1 (K1, K2)
    assert c["cse_missing_overlap_pct"] == pytest.approx(50.0, abs=0.1)  # Amy yes, Dee absent only


def test_as_of_inside_the_period(hand_db):
    resolve(hand_db)
    c = card(hand_db, "--from", "2017-03-01", "--to", "2017-03-31", "--as-of", "2017-03-22T12:00")
    # Beth's case closed on 20 March, Dee not yet assessed: Amy alone, 71.5 days (GMT noon)
    assert (c["cse_cohort"], c["cse_cohort_low"]) == (1, 1)
    assert c["cse_average_days_open"] == pytest.approx(71.5, abs=0.05)
    c = card(hand_db, "--from", "2017-03-01", "--to", "2017-03-31", "--as-of", "2017-03-15 12:00")
    assert (c["cse_cohort"], c["cse_cohort_low"], c["cse_cohort_medium"]) == (2, 1, 1)  # Beth open
    assert c["cse_missing_overlap_pct"] == pytest.approx(50.0, abs=0.1)


def test_reopened_case_and_april(hand_db):
    resolve(hand_db)
    c = card(hand_db, "--from", "2017-04-01", "--to", "2017-04-30")
    assert (c["cse_cohort"], c["cse_cohort_low"], c["cse_cohort_high"]) == (2, 1, 1)  # Dee closed
    assert (c["cse_risk_reduced"], c["cse_risk_increased"]) == (0, 1)
    assert c["cse_new_referrals"] == 0
    assert (c["cse_crimes"], c["cse_non_crimes"], c["cse_repeat_victims"]) == (1, 0, 0)
    assert c["cse_missing_overlap_pct"] == 0.0


def test_empty_cohort_gives_nulls(hand_db):
    c = card(hand_db, "--from", "2016-01-01", "--to", "2016-01-31")
    assert c["cse_cohort"] == 0
    assert c["cse_missing_overlap_pct"] is None and c["cse_average_days_open"] is None


def test_bad_period_is_one_line(hand_db):
    res = CliRunner().invoke(cli.app, ["scorecard", "cse", "--db", hand_db, "--from", "2017-03-31",
                                       "--to", "2017-03-01", "--json"])
    assert res.exit_code != 0 and "empty" in res.output and len(res.output.strip().splitlines()) == 1


def _frame(rows, cols):
    return pd.DataFrame(rows, columns=cols)


def test_status_ties_and_same_day_close():
    """Two assessments at one instant: the later key wins; a case closed exactly at T is closed."""
    t = pd.Timestamp("2017-03-10T12:00", tz="UTC")
    a = _frame([("x/1", "p", t, "high", pd.NaT), ("x/2", "p", t, "low", t),
                ("x/3", "q", t - pd.Timedelta(days=2), "medium", t + pd.Timedelta(seconds=1))],
               ["assessment_key", "person_id", "assessed_at", "risk_level", "closed_at"])
    s = cse.status_at(a, t)
    assert s.loc["p", "level"] == "low" and not s.loc["p", "open"]
    assert s.loc["q", "open"]
    assert list(cse.cohort_at(a, t).index) == ["q"]


def test_extras_cohort_over_time_outcomes_profile(hand_db):
    resolve(hand_db)
    c = card(hand_db, "--from", "2017-02-01", "--to", "2017-04-30")
    months = {m["month"]: m for m in c["cse_cohort_by_month"]}
    # end Feb: Amy medium (A2), Beth high (B1); end Mar: Amy low, Dee medium; end Apr: Amy, Beth high
    assert (months["2017-02"]["medium"], months["2017-02"]["high"]) == (1, 1)
    assert (months["2017-03"]["low"], months["2017-03"]["medium"], months["2017-03"]["total"]) == (1, 1, 2)
    assert (months["2017-04"]["low"], months["2017-04"]["high"]) == (1, 1)
    assert c["cse_outcomes"]["crime"] == {"OC1A": 1, "not known": 1}      # K1; K5 (1 April)
    assert c["cse_outcomes"]["non_crime"] == {"NC1": 1, "OC18": 1, "OC20": 1}
    p = c["cse_profile"]
    assert p["by_sex"] == {"female": 2} and p["by_care_status"] == {"cic": 1, "cp": 1}
    assert p["by_age"] == {"14-15": 2}      # Amy (born 1 May 2002) is 14 until T, Beth 15

"""The generator's CSE files: calibrated to the papers' figures (shared/DOMAIN.md), consistent
with their truth, and measured back by the CSE scorecard (geo.meetings.cse) on the true identities."""
import json

import pandas as pd
import pytest

from geo.scenario.generator import generate
from geo.scenario.cse import ASSESSMENT_COLUMNS, CRIME_COLUMNS


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    d = tmp_path_factory.mktemp("city")
    return d, generate(d, seed=7, scale="city")


def test_files_follow_the_contract(city):
    d, _ = city
    a = pd.read_csv(d / "cse_assessments.csv", dtype=str, keep_default_na=False)
    c = pd.read_csv(d / "crimes.csv", dtype=str, keep_default_na=False)
    assert list(a.columns) == ASSESSMENT_COLUMNS and list(c.columns) == CRIME_COLUMNS
    assert set(a["risk_level"]) <= {"none", "low", "medium", "high"}
    assert set(a["tool"]) <= {"seraf", "screening", "other"}
    assert set(c["kind"]) == {"crime", "non_crime"} and set(c["cse_marker"]) == {"yes", "no"}
    assert a["assessment_id"].is_unique and c["crime_id"].is_unique
    assert c["victims"].str.startswith("child:").all()
    assert set(a["source"]) == {"police", "carefirst"}     # histories across two sources


def test_calibrated_to_the_papers(city):
    d, truth = city
    t = truth["cse"]
    c = pd.read_csv(d / "crimes.csv", dtype=str, keep_default_na=False)
    cse = c[c["cse_marker"] == "yes"]
    assert (len(cse), (cse["kind"] == "crime").sum(), (cse["kind"] == "non_crime").sum()) == (924, 136, 788)
    assert (t["victims"], len(t["repeat_victims"]), t["repeat_victim_rate_pct"]) == (506, 180, 35.57)
    assert (t["offenders"], len(t["repeat_offenders"]), t["repeat_offender_rate_pct"]) == (93, 11, 11.83)
    assert (cse["outcome_code"] != "").sum() == t["outcomes_known"] == 703
    assert (cse.loc[cse["kind"] == "crime", "suspects"] != "").sum() == 108
    # the planted adults of concern are among the repeat offenders
    assert set(truth["adults_of_concern"]) & set(t["repeat_offenders"])
    # the cohort at the end: ~273 in the screening split 47/29/24 (sampling noise allowed)
    n = sum(t["cohort_at_end"].values())
    assert 220 <= n <= 330
    share = {k: v / n for k, v in t["cohort_at_end"].items()}
    assert share["low"] == pytest.approx(.47, abs=.07) and share["high"] == pytest.approx(.24, abs=.06)
    # histories that go up and down, closed and reopened cases
    a = pd.read_csv(d / "cse_assessments.csv", dtype=str, keep_default_na=False)
    assert (a["closed_at"] != "").sum() >= t["reopened_children"] > 0
    rank = a["risk_level"].map({"none": 0, "low": 1, "medium": 2, "high": 3})
    a = a.assign(tid=(a["source"] + "/" + a["child_id"]).map(truth["identities"]), rank=rank,
                 t=pd.to_datetime(a["assessed_at"], dayfirst=True)).sort_values(["tid", "t"])
    step = a.groupby("tid")["rank"].diff()
    assert (step > 0).sum() > 50 and (step < 0).sum() > 50
    # planted: CSE incidents at every planted venue
    assert {v["premises_id"] for v in t["at_venues"] if v["crimes"]} <= set(truth["venue_hotspots"])
    assert sum(v["crimes"] for v in t["at_venues"]) > 20


def test_null_keeps_volumes_without_venue_incidents(tmp_path):
    t = generate(tmp_path, seed=7, scale="sample", null=True)["cse"]
    assert t["at_venues"] == [] and t["cse_incidents"] > 0
    c = pd.read_csv(tmp_path / "crimes.csv", dtype=str, keep_default_na=False)
    prem = pd.read_csv(tmp_path / "premises.csv", dtype=str, keep_default_na=False)
    assert not c["location"].isin(prem["name"]).any()

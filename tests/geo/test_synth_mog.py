"""The generator's MOG additions (geo.scenario.mog): placements out of the city at the papers' 41 %,
with their host authority; children placed in the city by other authorities; invented
children's-home names; planted stale open episodes; CME records in education.csv; all in truth."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from geo.scenario.generator import generate


@pytest.fixture(scope="module")
def drop(tmp_path_factory):
    d = tmp_path_factory.mktemp("synth_mog")
    generate(d, seed=5, scale="city")
    truth = json.loads((d / "truth.json").read_text())
    read = lambda n: pd.read_csv(d / n, dtype=str, keep_default_na=False)  # noqa: E731
    return truth, read("children.csv"), read("episodes.csv"), read("education.csv")


def test_placements_both_ways(drop):
    truth, ch, _, _ = drop
    assert abs(truth["placed_out_share"] - 0.41) < 0.02          # DOMAIN.md: 41 %
    assert len(truth["placed_out"]) > 50 and len(truth["placed_in"]) > 50
    ch["tid"] = (ch["source"] + "/" + ch["child_id"]).map(truth["identities"])
    cf = ch[ch["source"] == "carefirst"]
    out = cf[cf["tid"].isin(truth["placed_out"])]
    assert len(out) and (out["placement_authority"] == out["tid"].map(truth["placed_out"])).all()
    assert (out["placement_authority"] != "Birmingham").all()
    inn = cf[cf["tid"].isin(truth["placed_in"])]
    assert len(inn) and (inn["placement_authority"] == "Birmingham").all()
    assert (inn["responsible_authority"].isin(["", *truth["placed_in"].values()])).all()


def test_establishments_are_invented_and_shared(drop):
    truth, ch, _, _ = drop
    assert truth["establishments"]
    assert all("synthetic" in n for n in truth["establishments"])
    assert max(len(v) for v in truth["establishments"].values()) >= 3    # several children per home
    named = ch.loc[ch["establishment"] != "", "establishment"]
    assert set(named) <= set(truth["establishments"])


def test_stale_open_episodes_planted(drop):
    truth, _, ep, _ = drop
    assert len(truth["stale_planted"]) >= 20
    key = ep["source"] + "/" + ep["episode_id"]
    stale = ep[key.isin(truth["stale_open_episodes"])]
    assert len(stale) == len(truth["stale_open_episodes"]) and (stale["returned_at"] == "").all()
    assert set(truth["stale_planted"]) <= set(truth["stale_open_episodes"])


def test_education_records(drop):
    truth, ch, ep, edu = drop
    assert list(edu.columns) == ["record_id", "child_id", "status", "start_date", "end_date", "school", "source"]
    assert len(edu) == truth["counts"]["education.csv"] == truth["cme_records"] > 50
    assert set(edu["status"]) <= {"cme", "cnes", "removed_unlocated", "elective_home_education", "other"}
    assert (edu["status"] == "cme").mean() > .5
    assert edu["child_id"].isin(ch["child_id"]).all()
    closed = edu[edu["end_date"] != ""]
    assert (pd.to_datetime(closed["end_date"]) >= pd.to_datetime(closed["start_date"])).all()

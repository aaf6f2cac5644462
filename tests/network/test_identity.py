"""Tests of network.identity (issue 4): planted duplicates and siblings, overrides, stable ids,
reports, and the `wayfinder identity` commands."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from bench_identity import pairwise_scores, planted_records  # noqa: E402
from network.identity import (  # noqa: E402
    IDENTITY_COLUMNS, PAIR_COLUMNS, RECORD_COLUMNS, _constrained_merge,
    children_known_to_multiple_sources, children_missing_from_multiple_settings, person_id_for,
    person_id_map, records_from_frames, resolve_identities, resolve_identities_with_audit)
from network.nicknames import are_nicknames  # noqa: E402


def _rec(record, given, family, dob, sex="female", postcode="B7 4PS", kind="child", **ids):
    row = {"record": record, "kind": kind, "source": record.split("/")[0],
           "given_name": given, "family_name": family, "dob": dob, "sex": sex,
           "postcode": postcode, "police_id": None, "carefirst_id": None, "upn": None}
    row.update(ids)
    return row


@pytest.fixture(scope="module")
def background():
    """A few thousand synthetic records so the model has a population to learn from."""
    records, truth, siblings = planted_records(1500, seed=7)
    return records, truth, siblings


def _with(background, rows):
    records = pd.concat([background[0], pd.DataFrame(rows)], ignore_index=True)
    res = resolve_identities_with_audit(records, seed=0)
    return res, res.identities.set_index("record")["person_id"]


def test_nickname_table():
    assert are_nicknames("kate", "katherine")
    assert are_nicknames("bill", "william") and are_nicknames("liam", "william")
    assert are_nicknames("alex", "alexandra") and are_nicknames("alex", "alexander")
    assert not are_nicknames("kate", "william")


def test_planted_variants_link_and_siblings_stay_apart(background):
    rows = [
        _rec("police/K1", "Katherine", "Oyelaran-Smith", "2006-03-04", postcode="B7 4PS"),
        _rec("carefirst/K1", "kate", "OYELARAN-SMITH", "04/03/2006", postcode="b74ps"),
        _rec("rhi_provider/K1", "Katie", "Oyelaran Smith", "2006-04-03", postcode=None),  # day/month
        _rec("education/K1", "Oyelaran-Smith", "Katherine", "2006-03-04", postcode="B12 9QT"),
        _rec("police/W1", "William", "Quarshie", "2004-11-20", sex="male", postcode="B23 6SA"),
        _rec("carefirst/W1", "Bill", "Quarshi", "2004-12-20", sex="male", postcode="B23 6SA"),
        # siblings: same surname and address, different given name and dob
        _rec("police/S1", "Amira", "Vandermolen", "2005-02-10", postcode="B11 1AA"),
        _rec("police/S2", "Zainab", "Vandermolen", "2007-08-21", postcode="B11 1AA"),
        _rec("carefirst/S2", "Zainab", "Vandermolen", "2007-08-21", postcode="B11 1AA"),
        # twins: same surname, address and dob, different given names
        _rec("police/T1", "Jessica", "Okonkwo-Baird", "2008-06-06", postcode="B5 7RN"),
        _rec("police/T2", "Megan", "Okonkwo-Baird", "2008-06-06", postcode="B5 7RN"),
        # an adult with the same name and dob as a child is never linked to it
        _rec("police/A1", "Katherine", "Oyelaran-Smith", "2006-03-04", kind="person"),
    ]
    res, pid = _with(background, rows)
    k = {pid[f"{s}/K1"] for s in ("police", "carefirst", "rhi_provider", "education")}
    assert len(k) == 1
    assert pid["police/W1"] == pid["carefirst/W1"]
    assert pid["police/S2"] == pid["carefirst/S2"]
    assert pid["police/S1"] != pid["police/S2"]
    assert pid["police/T1"] != pid["police/T2"]
    assert pid["police/A1"] not in k
    ids = res.identities.set_index("record")
    assert ids.loc["police/A1", "kind"] == "person"
    ev = json.loads(ids.loc["education/K1", "evidence"])
    assert ev["rule"] == "model" and ev["via"].endswith("/K1")
    assert ev["given_name"] == "transposed"
    assert np.isfinite(ids.loc["education/K1", "match_weight"])
    assert np.isnan(ids.loc["police/T1", "match_weight"])
    assert list(res.identities.columns) == IDENTITY_COLUMNS
    assert list(res.pairs.columns) == PAIR_COLUMNS


def test_deterministic_identifier_links(background):
    rows = [
        _rec("police/D1", "Tyrone", "Abernethy", "2005-01-01", police_id="WMP1", sex="male"),
        _rec("carefirst/D1", "Marcus", "Smith", None, police_id=" wmp1 ", sex="male",
             postcode=None),
    ]
    res, pid = _with(background, rows)
    assert pid["police/D1"] == pid["carefirst/D1"]
    ev = json.loads(res.identities.set_index("record").loc["carefirst/D1", "evidence"])
    assert ev["rule"] == "police_id"


def test_overrides_link_unlink_and_persist(background):
    rows = [
        _rec("police/O1", "Shanice", "Dembele", "2006-05-05"),
        _rec("carefirst/O1", "Shanice", "Dembele", "2006-05-05"),
        _rec("education/O1", "Shanice", "Dembele", "2006-05-05"),
        _rec("police/O2", "Roxana", "Ionescu", "2005-09-09"),
        _rec("rhi_provider/O2", "Nicole", "Bianchi", "2004-01-02", postcode="B1 1BB"),
    ]
    records = pd.concat([background[0], pd.DataFrame(rows)], ignore_index=True)
    base = resolve_identities(records).set_index("record")["person_id"]
    assert base["police/O1"] == base["carefirst/O1"] == base["education/O1"]
    assert base["police/O2"] != base["rhi_provider/O2"]
    ov = pd.DataFrame([
        {"record_a": "carefirst/O1", "record_b": None, "action": "unlink", "by_user": "ana",
         "at": "2024-01-01T10:00:00", "reason": "different child"},
        {"record_a": "police/O2", "record_b": "rhi_provider/O2", "action": "link",
         "by_user": "ana", "at": "2024-01-01T10:05:00", "reason": "confirmed by school"},
        {"record_a": "police/O1", "record_b": "education/O1", "action": "unlink",
         "by_user": "ana", "at": "2024-01-01T10:06:00", "reason": None},
    ])
    pid = resolve_identities(records, ov).set_index("record")["person_id"]
    assert pid["carefirst/O1"] not in {pid["police/O1"], pid["education/O1"]}
    assert pid["carefirst/O1"] == person_id_for("carefirst/O1")
    assert pid["police/O1"] != pid["education/O1"]
    assert pid["police/O2"] == pid["rhi_provider/O2"]
    # re-run (e.g. after re-ingest) with the same overrides: same result
    again = resolve_identities(records, ov).set_index("record")["person_id"]
    assert again.equals(pid)
    # a later link brings the split record back
    ov2 = pd.concat([ov, pd.DataFrame([{"record_a": "carefirst/O1", "record_b": "police/O1",
                                        "action": "link", "by_user": "bo",
                                        "at": "2024-02-01T09:00:00", "reason": "error"}])])
    pid2 = resolve_identities(records, ov2).set_index("record")["person_id"]
    assert pid2["carefirst/O1"] == pid2["police/O1"]
    # a link between a child and a person is refused
    ov3 = pd.DataFrame([{"record_a": "police/O2", "record_b": background[0].query(
        "kind == 'person'")["record"].iloc[0], "action": "link", "by_user": "x",
        "at": "2024-01-01", "reason": None}])
    with pytest.warns(UserWarning):
        resolve_identities(records, ov3)


def test_person_ids_stable_and_order_free(background):
    records = background[0]
    a = resolve_identities(records, seed=0).set_index("record")["person_id"]
    shuffled = records.sample(frac=1.0, random_state=3).reset_index(drop=True)
    b = resolve_identities(shuffled, seed=0).set_index("record")["person_id"]
    assert a.sort_index().equals(b.sort_index())
    # person_id derives from the smallest record key of the cluster
    df = pd.DataFrame({"pid": a})
    smallest = df.reset_index().groupby("pid")["record"].min()
    assert all(person_id_for(r) == p for p, r in smallest.items())


def test_precision_recall_on_planted_records(background):
    records, truth, siblings = background
    res = resolve_identities_with_audit(records, seed=0)
    ids = res.identities.set_index("record")["person_id"]
    sc = pairwise_scores(ids, pd.Series(truth).reindex(ids.index))
    assert sc["precision"] >= 0.98, sc
    assert sc["recall"] >= 0.93, sc  # this generator is noisier than geo.scenario.generator
    assert sum(ids[a] == ids[b] for a, b in siblings) == 0
    kinds = res.identities.groupby("person_id")["kind"].nunique()
    assert (kinds == 1).all()


def _drop_records(drop: Path) -> pd.DataFrame:
    c = pd.read_csv(drop / "children.csv", dtype=str, keep_default_na=False).replace("", None)
    p = pd.read_csv(drop / "persons.csv", dtype=str, keep_default_na=False).replace("", None)
    c["child_key"] = c["source"] + "/" + c["child_id"]
    p["person_key"] = p["source"] + "/" + p["person_id"]
    return records_from_frames(c, p).drop_duplicates("record")


@pytest.mark.parametrize("seed", [2])
def test_precision_recall_on_synth_drop(tmp_path, seed):
    from geo.scenario import generator as synth
    truth = synth.generate(tmp_path, seed=seed, scale="city")
    records = _drop_records(tmp_path)
    ids = resolve_identities(records, seed=0).set_index("record")
    tr = pd.Series(truth["identities"])
    known = ids.index.isin(tr.index)  # bad rows (duplicate ids) are not in the truth
    sc = pairwise_scores(ids["person_id"][known], tr.reindex(ids.index[known]))
    assert sc["precision"] >= 0.98, sc
    assert sc["recall"] >= 0.95, sc
    child = known & (ids["kind"] == "child").to_numpy()
    sc_c = pairwise_scores(ids["person_id"][child], tr.reindex(ids.index[child]))
    assert sc_c["precision"] >= 0.99 and sc_c["recall"] >= 0.95, sc_c
    # children moved between placements: their records disagree on the postcode (issue 13)
    moved = child & tr.reindex(ids.index).isin(set(truth["moved_children"])).to_numpy()
    sc_m = pairwise_scores(ids["person_id"][moved], tr.reindex(ids.index[moved]))
    assert len(truth["moved_children"]) >= 20 and sc_m["recall"] >= 0.95, sc_m
    merged = [s for s in truth["siblings"] if ids.at[s[0], "person_id"] == ids.at[s[1], "person_id"]]
    assert truth["siblings"] and not merged


def test_constrained_merge_blocks_chaining():
    # 0-1 strong, 1-2 weak; 0 and 2 are clearly different: 2 must stay out
    root, used = _constrained_merge([0, 1, 2], [(2, -20.0, 0, 1), (2, -2.0, 1, 2)],
                                    cannot={(0, 2)}, hard=set())
    assert root[0] == root[1] != root[2]
    # an analyst link (priority 0) overrides the model's cannot-link
    root, _ = _constrained_merge([0, 1, 2], [(2, -20.0, 0, 1), (0, -2.0, 0, 2)],
                                 cannot={(0, 2)}, hard=set())
    assert root[0] == root[1] == root[2]


def test_empty_and_bad_input():
    empty = pd.DataFrame({c: pd.Series(dtype="object") for c in RECORD_COLUMNS})
    out = resolve_identities(empty)
    assert out.empty and list(out.columns) == IDENTITY_COLUMNS
    one = pd.DataFrame([_rec("police/X", "A", "B", "2001-01-01")])
    assert resolve_identities(one)["person_id"].iloc[0] == person_id_for("police/X")
    with pytest.raises(ValueError, match="duplicate"):
        resolve_identities(pd.DataFrame([_rec("police/X", "A", "B", None)] * 2))
    with pytest.raises(ValueError, match="kind"):
        resolve_identities(pd.DataFrame([_rec("police/X", "A", "B", None, kind="adult")]))


def test_reports():
    ident = pd.DataFrame({
        "record": ["police/1", "carefirst/1", "education/1", "police/2", "police/3",
                   "police/9"],
        "kind": ["child", "child", "child", "child", "child", "person"],
        "source": ["police", "carefirst", "education", "police", "police", "police"],
        "person_id": ["P1", "P1", "P1", "P2", "P2", "P9"],
    })
    multi = children_known_to_multiple_sources(ident)
    assert multi["person_id"].tolist() == ["P1"]
    assert multi.loc[0, "sources"] == "carefirst;education;police"
    assert multi.loc[0, "n_records"] == 3
    ep = pd.DataFrame({
        "episode_key": ["police/E1", "police/E2", "police/E3", "police/E4"],
        "child_key": ["police/1", "carefirst/1", "police/2", "police/3"],
        "person_id": ["police/1", "carefirst/1", "police/2", "police/3"],
        "missing_from": ["home", "Care", "home", "home"],
        "reported_at": pd.to_datetime(["2017-01-01", "2017-02-01", "2017-01-05",
                                       "2017-03-01"], utc=True),
        "source": "police",
    })
    # without identities the two records of child 1 look like two children
    assert children_missing_from_multiple_settings(ep).empty
    rep = children_missing_from_multiple_settings(ep, ident)
    assert rep["person_id"].tolist() == ["P1"]
    assert rep.loc[0, "settings"] == "care;home" and rep.loc[0, "episodes"] == 2
    assert person_id_map(ident)["education/1"] == "P1"


def test_records_from_frames():
    children = pd.DataFrame({"child_key": ["police/C1"], "source": ["police"],
                             "given_name": ["Kate"], "family_name": ["Smith"],
                             "dob": [pd.Timestamp("2005-01-01").date()], "sex": ["female"],
                             "placement_postcode": ["B7 4PS"], "police_id": ["W1"],
                             "carefirst_id": [None], "upn": [None]})
    persons = pd.DataFrame({"person_key": ["police/A1"], "source": ["police"],
                            "given_name": ["Bob"], "family_name": ["Jones"], "dob": [None],
                            "sex": ["male"], "address": ["12 High St, Aston, b6 4ab"],
                            "police_id": ["W2"]})
    r = records_from_frames(children, persons)
    assert list(r.columns) == RECORD_COLUMNS
    assert r["kind"].tolist() == ["child", "person"]
    assert r.loc[1, "postcode"] == "B6 4AB"


def test_cli_identity(tmp_path, monkeypatch):
    from typer import testing as typer_testing

    from api import cli
    from geo.scenario import generator as synth
    synth.generate(tmp_path / "drop", seed=3, scale="sample")
    db = f"sqlite:///{tmp_path / 'w.sqlite'}"
    runner = typer_testing.CliRunner()
    r = runner.invoke(cli.app, ["ingest", str(tmp_path / "drop"), "--db", db, "--no-geocode"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli.app, ["identity", "resolve", "--db", db, "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["records"] > summary["persons"] > 0
    from geo.storage.store import open_store
    links = open_store(db).table("identity_links")
    grp = links[links["kind"] == "child"].groupby("person_id")["record"].apply(sorted)
    multi = grp[grp.map(len) > 1]
    assert len(multi)
    a, b = multi.iloc[0][:2]
    r = runner.invoke(cli.app, ["identity", "unlink", a, "--db", db, "--by", "tester",
                                "--reason", "test"])
    assert r.exit_code == 0, r.output
    links = open_store(db).table("identity_links").set_index("record")
    assert links.at[a, "person_id"] != links.at[b, "person_id"]
    r = runner.invoke(cli.app, ["identity", "link", a, b, "--db", db, "--by", "tester"])
    assert r.exit_code == 0, r.output
    links = open_store(db).table("identity_links").set_index("record")
    assert links.at[a, "person_id"] == links.at[b, "person_id"]
    r = runner.invoke(cli.app, ["identity", "list", "--db", db])
    assert r.exit_code == 0 and "2 overrides" in r.stdout
    r = runner.invoke(cli.app, ["identity", "show", a, "--db", db, "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["person_id"] == links.at[a, "person_id"]
    r = runner.invoke(cli.app, ["identity", "link", a, "nosuch/REC", "--db", db])
    assert r.exit_code != 0 and "no child or person record" in r.stderr
    r = runner.invoke(cli.app, ["identity", "report", "--out", str(tmp_path / "rep"),
                                "--db", db])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "rep" / "children_multiple_sources.csv").exists()


def test_conflicting_identifiers_keep_same_name_and_dob_apart(background):
    """Two children with the same name, date of birth and address but different police ids
    are two children; the same two records without ids are linked. The weight of the
    conflict is learnt from the data (pairs known to be one child through another id), not
    fixed."""
    rows = [
        _rec("police/D1", "Tobiah", "Hargreaves-Ng", "2007-05-19", postcode="B9 5QA",
             police_id="WMP90000001"),
        _rec("police/D2", "Tobiah", "Hargreaves-Ng", "2007-05-19", postcode="B9 5QA",
             police_id="WMP90000002"),
        _rec("police/E1", "Eliska", "Brandwood-Oni", "2008-09-02", postcode="B9 5QA"),
        _rec("rhi_provider/E1", "Eliska", "Brandwood-Oni", "2008-09-02", postcode="B9 5QA"),
        # a third record with no ids must not chain the two police records together
        _rec("rhi_provider/D3", "Tobiah", "Hargreaves-Ng", "2007-05-19", postcode="B9 5QA"),
    ]
    res, pid = _with(background, rows)
    assert pid["police/D1"] != pid["police/D2"]
    assert pid["police/E1"] == pid["rhi_provider/E1"]
    m = res.model["comparisons"]["police_id"]["conflict"]
    # the model learnt that different police ids are strong evidence of different people
    assert np.log2(m["m"] / m["u"]) < -4.0
    pr = res.pairs
    d = pr[(pr["record_a"] == "police/D1") & (pr["record_b"] == "police/D2")]
    assert len(d) and (d["police_id"] == "conflict").all()
    assert set(d["decision"]) <= {"refused_id_conflict", "refused_chaining", "review"}


def test_m_probabilities_smoothed_not_floored():
    """EM's M-step is a Dirichlet posterior mean: a level never seen among matches keeps a
    small m set by the prior strength and the number of matches, not the old 1e-6 floor."""
    from network.identity import COMPARISONS, LEVELS, M_PRIOR_PAIRS, _em, _initial_m

    k, kp = COMPARISONS.index("sex"), COMPARISONS.index("postcode")
    nl = [len(LEVELS[c]) for c in COMPARISONS]
    L = np.full((400, len(COMPARISONS)), -1, dtype=np.int8)  # other comparisons missing
    L[:, kp] = np.where(np.arange(400) < 200, 0, 3)            # 200 matches: full postcode; else: none
    L[:, k] = np.where(np.arange(400) < 200, 1, np.arange(400) % 2)  # sex: matches always agree (1)
    u = [np.full(n, 1.0 / n) for n in nl]
    u[kp] = np.array([0.001, 0.01, 0.05, 0.939])  # chance agreement on a full postcode is rare
    fit = _em(L, u)
    share = _initial_m()[k] / _initial_m()[k].sum()
    m_disagree = fit.m[k][0]  # levels: disagree, agree
    assert m_disagree > 1e-4 and abs(m_disagree - M_PRIOR_PAIRS * share[0] / (200 + M_PRIOR_PAIRS)) < 1e-3

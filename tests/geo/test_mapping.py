"""Column-mapping files (DATA_CONTRACT.md "Column-mapping files"): a drop of real exports in
foreign layouts, read through a mapping, makes exactly the store its contract form makes."""
from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from geo.storage.ingest import DropError, held_rows, ingest_drop
from geo.storage.mapping import Mapping, MappingError, parse_unknown_code

# ---- the same data twice: in contract form, and as three systems export it ------------------
CHILDREN = """child_id,source,given_name,family_name,dob,sex,care_status,placement_type,placement_postcode,cse_risk,carefirst_id
CF1,carefirst,Amy,Jones,2004-05-06,female,cic,residential,B6 4AB,serious,CF1
CF2,carefirst,Bea,Smith,2003-07-06,male,cp,foster,B1 1AY,at_risk,CF2
CF3,carefirst,Cat,Brown,2005-01-31,female,cin,,,,CF3
"""
CSE = """assessment_id,child_id,assessed_at,tool,score,risk_level,closed_at,source
A1,CF1,2017-02-01T10:30:00,seraf,14,high,,carefirst
A2,CF2,2017-02-03T00:00:00,screening,,low,2017-05-01T00:00:00,carefirst
"""
EPISODES = """episode_id,child_id,reported_at,returned_at,category,police_risk,missing_from,last_seen,found_at,found_with,source
OC1,CF1,2017-03-04T21:15:00,2017-03-05T02:00:00,missing,high,care,"12 High Street, Aston, B6 4AB","1 Lower Loveday Street, B19 3SB",child:CF2,police
OC2,CF2,2017-03-06T08:05:00,,absent,low,home,,,,police
OC3,CF3,2017-03-31T23:59:00,2017-04-01T11:00:00,away_without_authorisation,medium,care,Cannon Hill Park,B1 1AY,child:CF1;child:CF2,police
"""
RHIS = """rhi_id,episode_id,notified_at,held_at,outcome,triage,issues,places,source
R1,OC1,2017-03-05T09:00:00,2017-03-06T14:30:00,engaged,red,mental_health;cse,B6 4AB;Cannon Hill Park,rhi_provider
R2,OC3,2017-04-01T12:00:00,,declined,amber,,,rhi_provider
"""

COMPACT = """Occurrence No,Person URN,Date Reported,Date Found,Type,Risk,Missing From,LS Address 1,LS Address 2,LS Postcode,Found Address 1,Found Postcode,Found With URNs,Record Status
OC1,CF1,04.03.2017 21:15,05.03.2017 02:00,MFH,H,LA Care,12 High Street,Aston,B6 4AB,1 Lower Loveday Street,B19 3SB,CF2,LIVE
OCT,CF1,04.03.2017 21:15,,MFH,H,LA Care,,,,,,,TEST
OC2,CF2,06.03.2017 08:05,,Absent,L,Home,,,,,,,LIVE
OC3,CF3,31.03.2017 23:59,01.04.2017 11:00,AWOL,M,la care,Cannon Hill Park,,,,B1 1AY,CF1; CF2,Live
"""
MOSAIC = """Referral Ref,Missing Episode Ref,Notified,Interview Date,Interview Outcome,Triage RAG,Issues Identified,Places Named
R1,OC1,03/05/2017 9:00 AM,03/06/2017 2:30 PM,Engaged,R,MH; CSE,B6 4AB; Cannon Hill Park
R2,OC3,04/01/2017 12:00 PM,,Refused,A,,
"""
MAPPING = """
files:
  - match: "COMPACT_missing_*.csv"
    as: episodes.csv
    source: police
    where: {"Record Status": [LIVE]}
    columns:
      episode_id: "Occurrence No"
      child_id: " person urn "
      reported_at: {column: "Date Reported", format: "%d.%m.%Y %H:%M"}
      returned_at: {column: "Date Found", format: ["%d.%m.%Y %H:%M", "%d.%m.%Y"]}
      category: {column: "Type", values: {"MFH": missing, "Absent": absent, "AWOL": away_without_authorisation}}
      police_risk: {column: Risk, values: {H: high, M: medium, L: low}}
      missing_from: {column: "Missing From", values: {"LA Care": care, Home: home}}
      last_seen: {join: ["LS Address 1", "LS Address 2", "LS Postcode"], sep: ", "}
      found_at: {join: ["Found Address 1", "Found Postcode"]}
      found_with: {column: "Found With URNs", prefix: "child:"}
  - match: "mosaic*.csv"
    as: return_interviews.csv
    source: rhi_provider
    columns:
      rhi_id: Referral Ref
      episode_id: Missing Episode Ref
      notified_at: {column: Notified, format: "%m/%d/%Y %I:%M %p"}
      held_at: {column: Interview Date, format: "%m/%d/%Y %I:%M %p"}
      outcome: {column: Interview Outcome, values: {Engaged: engaged, Refused: declined, DNE: no_engagement}}
      triage: {column: Triage RAG, values: {R: red, A: amber, G: green}}
      issues: {column: Issues Identified, values: {MH: mental_health, CSE: cse, SM: substance_misuse}}
      places: Places Named
  - match: "carefirst_*.xlsx"
    sheet: "Clients"
    as: children.csv
    source: carefirst
    columns:
      child_id: Client ID
      carefirst_id: Client ID
      given_name: {split: {column: Client Name, sep: " ", index: 0}}
      family_name: {split: {column: Client Name, index: -1}}
      dob: {column: Date of Birth, format: "%d %b %Y"}
      sex: {column: Gender, values: {M: male, F: female}}
      care_status: {column: Legal Status, values: {LAC: cic, "CP Plan": cp, CIN: cin}}
      placement_type: {column: Placement, values: {"Children's Home": residential, Foster: foster, "": ""}}
      placement_postcode: {split: {column: Placement Address, sep: ",", index: -1}}
      cse_risk: {column: CSE Flag, values: {High: serious, Medium: significant, Low: at_risk}}
  - match: "carefirst_*.xlsx"
    sheet: "CSE*"
    as: cse_assessments.csv
    source: carefirst
    columns:
      assessment_id: Assessment No
      child_id: Client ID
      assessed_at: Completed
      tool: {column: Form, values: {SERAF: seraf, "CSE Screening Tool": screening}}
      score: Score
      risk_level: {column: Level, values: {High: high, Low: low, Medium: medium}}
      closed_at: Case Closed
  - match: "never_*.csv"
    as: persons.csv
    columns: {person_id: Id}
"""


def _carefirst_workbook(path: Path) -> None:
    import openpyxl
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Clients"
    ws.append(["Client ID", "Client Name", "Date of Birth", "Gender", "Legal Status", "Placement",
               "Placement Address", "CSE Flag"])
    ws.append(["CF1", "Amy Jones", "06 May 2004", "F", "LAC", "Children's Home",
               "The Willows, 3 Park Road, B6 4AB", "High"])
    ws.append(["CF2", "Bea Smith", datetime(2003, 7, 6), "M", "CP Plan", "Foster", "B1 1AY", "Low"])
    ws.append(["CF3", "Cat  Brown", "31 Jan 2005", "F", "CIN", "", "", ""])
    cse = wb.create_sheet("CSE Screening")
    cse.append(["Assessment No", "Client ID", "Completed", "Form", "Score", "Level", "Case Closed"])
    cse.append(["A1", "CF1", datetime(2017, 2, 1, 10, 30), "SERAF", 14, "High", None])
    cse.append(["A2", "CF2", datetime(2017, 2, 3), "CSE Screening Tool", None, "Low",
                datetime(2017, 5, 1)])
    wb.save(path)


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def exports(tmp_path) -> tuple[Path, Path]:
    drop = _write(tmp_path / "exports", {"COMPACT_missing_2017.csv": COMPACT,
                                         "MOSAIC_rhi.csv": MOSAIC, "notes.txt": "not data"})
    _carefirst_workbook(drop / "Carefirst_extract.xlsx")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return drop, mapping


TABLES = {"children": "child_id", "episodes": "episode_id", "return_interviews": "rhi_id",
          "cse_assessments": "assessment_id"}


def _rows(store, table: str) -> pd.DataFrame:
    df = store.table(table).drop(columns=["run_id", "extra"])
    return df.sort_values(["source", TABLES[table]]).reset_index(drop=True)


def test_mapped_exports_make_the_same_store_as_the_contract_form(tmp_path, exports, store_url):
    from geo.storage.store import open_store
    drop, mapping = exports
    mapped = open_store(store_url)
    report = ingest_drop(mapped, drop, geocode=False, mapping=mapping)
    files = report.to_json()["files"]
    assert set(files) == {"Carefirst_extract.xlsx [Clients]", "Carefirst_extract.xlsx [CSE Screening]",
                          "COMPACT_missing_2017.csv", "MOSAIC_rhi.csv"}
    assert files["COMPACT_missing_2017.csv"]["as"] == "episodes.csv"
    assert files["COMPACT_missing_2017.csv"]["filtered"] == 1        # the TEST record
    for name, r in files.items():
        assert r["read"] == r["accepted"] + r["held"] and r["held"] == 0, (name, r)
    assert report.mapping["skipped"] == {"notes.txt": "matches no mapping entry and is not a "
                                                      "contract file"}
    assert any("never_*.csv" in w for w in report.mapping["warnings"])
    by_table = {t: _rows(mapped, t) for t in TABLES}
    # unmapped export columns are kept as extra attributes under the export's header
    extra = mapped.table("episodes").set_index("episode_id")["extra"]
    assert json.loads(extra["OC1"]) == {"Record Status": "LIVE"}
    assert mapped.table("children")["extra"].isna().all()
    mapped.engine.dispose()

    contract_url = f"sqlite:///{tmp_path / 'contract.sqlite'}"
    # the contract drop lives in a folder of the same name, so default sources agree
    (tmp_path / "c").mkdir()
    cdrop = contract_drop_in(tmp_path / "c")
    contract = open_store(contract_url)
    ingest_drop(contract, cdrop, geocode=False)
    for table, rows in by_table.items():
        want = _rows(contract, table)
        assert len(rows) == len(want) > 0, table
        pd.testing.assert_frame_equal(rows[want.columns], want, check_dtype=False, obj=table)
    contract.engine.dispose()


def contract_drop_in(folder: Path) -> Path:
    return _write(folder / "exports", {"children.csv": CHILDREN, "episodes.csv": EPISODES,
                                       "return_interviews.csv": RHIS, "cse_assessments.csv": CSE})


def test_mapped_ingest_is_idempotent(store, exports):
    drop, mapping = exports
    ingest_drop(store, drop, geocode=False, mapping=mapping)
    again = ingest_drop(store, drop, geocode=False, mapping=mapping)
    assert all(r.new == 0 and r.updated == 0 for r in again.files.values())


def test_a_code_outside_the_values_table_is_held_naming_the_exports_column(store, exports):
    drop, mapping = exports
    text = COMPACT + "OC4,CF1,07.03.2017 10:00,,Lost,H,LA Care,,,,,,,LIVE\n" \
                     "OC5,CF1,07.03.2017 11:00,,MFH,X,LA Care,,,,,,,LIVE\n" \
                     "OC6,CF1,32.03.2017 11:00,,MFH,H,LA Care,,,,,,,LIVE\n"
    (drop / "COMPACT_missing_2017.csv").write_text(text, encoding="utf-8")
    report = ingest_drop(store, drop, geocode=False, mapping=mapping)
    r = report.files["COMPACT_missing_2017.csv"]
    assert (r.read, r.accepted, r.held) == (6, 3, 3)
    held = held_rows(store, report.run_id).set_index("line")
    assert set(held["file"]) == {"COMPACT_missing_2017.csv"}
    assert held.loc[6, "field"] == "Type" and "'Lost'" in held.loc[6, "reason"]
    assert held.loc[7, "field"] == "Risk" and "'X'" in held.loc[7, "reason"]
    # a date no format reads (nor the contract's forms) names the export's column too
    assert held.loc[8, "field"] == "Date Reported" and "32.03.2017" in held.loc[8, "reason"]
    code = parse_unknown_code(held.loc[6, "reason"])
    assert code == {"code": "Lost", "column": "Type", "target": "category", "as": "episodes.csv"}


def test_cli_ingest_mapping_json(tmp_path, exports):
    from api.cli import app
    drop, mapping = exports
    db = f"sqlite:///{tmp_path / 'cli.sqlite'}"
    res = CliRunner().invoke(app, ["ingest", str(drop), "--mapping", str(mapping), "--db", db,
                                   "--json", "--no-geocode"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["files"]["MOSAIC_rhi.csv"] == {"as": "return_interviews.csv", "read": 2,
                                              "accepted": 2, "new": 2, "held": 0, "warnings": 0,
                                              "updated": 0, "filtered": 0}


@pytest.mark.parametrize("text, message", [
    ("files: [{match: '*.csv', as: kids.csv}]", "not a contract file"),
    ("files: [{match: '*.csv', as: episodes.csv, columns: {colour: X}}]", "not a column of"),
    ("files: [{match: '*.csv', as: episodes.csv, columns: {rag: {column: A, constant: B}}}]",
     "exactly one of"),
    ("files: [{match: '*.csv', as: episodes.csv, columns: {rag: {colum: A}}}]", "unknown key"),
    ("nothing: here", "files"),
    ("files: [{match: '*.csv'", "not valid YAML"),
])
def test_bad_mapping_files_stop_with_one_line(tmp_path, text, message):
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(MappingError, match=message) as err:
        Mapping.load(path)
    assert "\n" not in str(err.value)


def test_a_column_not_in_the_export_stops_before_writing(store, exports):
    drop, mapping = exports
    (drop / "MOSAIC_rhi.csv").write_text(MOSAIC.replace("Triage RAG", "RAG"), encoding="utf-8")
    with pytest.raises(DropError, match="Triage RAG"):
        ingest_drop(store, drop, geocode=False, mapping=mapping)
    assert store.table("episodes").empty


def test_yaml_codes_stay_text():
    m = Mapping.from_dict(__import__("geo.storage.mapping", fromlist=["load_yaml"]).load_yaml(
        "files: [{match: x, as: crimes.csv, columns: {cse_marker: {column: M, values: "
        "{Y: yes, N: no, on: yes}}}}]"))
    assert m.entries[0].rules[0].values == {"y": "yes", "n": "no", "on": "yes"}


def test_review_lists_codes_a_mapping_held_until_the_mapping_names_them(tmp_path, exports):
    from api.cli import app
    drop, mapping = exports
    (drop / "COMPACT_missing_2017.csv").write_text(
        COMPACT + "OC4,CF1,07.03.2017 10:00,,Lost,H,LA Care,,,,,,,LIVE\n"
                  "OC5,CF2,07.03.2017 11:00,,Lost,H,LA Care,,,,,,,LIVE\n", encoding="utf-8")
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    run = CliRunner()
    args = ["ingest", str(drop), "--mapping", str(mapping), "--db", db, "--no-geocode"]
    assert run.invoke(app, args).exit_code == 0
    res = run.invoke(app, ["review", "--codes", "--db", db])
    assert res.exit_code == 0, res.output
    codes = pd.read_csv(io.StringIO(res.stdout))
    assert codes[["file", "column", "target", "code", "rows"]].values.tolist() == [
        ["COMPACT_missing_2017.csv", "Type", "category", "Lost", 2]]
    assert "one of missing, absent" in codes["suggested"].iloc[0]
    # the default review lists them too (on stderr, after the location texts)
    res = run.invoke(app, ["review", "--db", db])
    assert "'Lost' (2 rows)" in res.stderr
    # the analyst adds the code to the mapping and re-ingests: the rows go in, the code goes
    mapping.write_text(MAPPING.replace('"AWOL": away_without_authorisation',
                                       '"AWOL": away_without_authorisation, "Lost": missing'))
    assert run.invoke(app, args).exit_code == 0
    res = run.invoke(app, ["review", "--codes", "--db", db])
    assert pd.read_csv(io.StringIO(res.stdout)).empty


def test_erasure_finds_held_rows_of_mapped_exports(tmp_path, exports):
    """A held row of a mapped export carries the contract-shaped row (child_id, source), so
    erasing the child removes it like any held row; the export's own row is kept beside it."""
    import openpyxl
    import sqlalchemy as sa

    from api.cli import app
    from geo.storage import schema
    drop, mapping = exports
    book = drop / "Carefirst_extract.xlsx"
    wb = openpyxl.load_workbook(book)
    wb["Clients"].append(["CF1", "Amy Jones", "06 May 2004", "F", "LAC", "", "", ""])  # duplicate
    wb.save(book)
    db = f"sqlite:///{tmp_path / 'e.sqlite'}"
    res = CliRunner().invoke(app, ["ingest", str(drop), "--mapping", str(mapping), "--db", db,
                                   "--no-geocode"])
    assert res.exit_code == 0, res.output
    from geo.storage.store import open_store
    store = open_store(db)
    held = store.table("held_rows")
    raw = json.loads(held.loc[held["file"] == "Carefirst_extract.xlsx [Clients]", "raw"].iloc[0])
    assert (raw["child_id"], raw["source"], raw["export"]["Client ID"]) == ("CF1", "carefirst",
                                                                            "CF1")
    with store.engine.begin() as conn:
        conn.execute(schema.identity_links.insert(), [
            {"record": "carefirst/CF1", "kind": "child", "person_id": "P000001"}])
    res = CliRunner().invoke(app, ["erase", "--db", db, "child", "carefirst/CF1", "--reason",
                                   "Erasure request upheld by the DPO", "--by", "dpo", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["counts"]["held_rows"] == 1
    with store.engine.connect() as conn:
        left = conn.execute(sa.select(schema.held_rows.c.raw)).scalars().all()
    assert not any('"CF1"' in r and "carefirst" in r for r in left)
    store.engine.dispose()


def test_contract_headers_the_mapping_leaves_alone_are_read_and_others_kept(store, tmp_path):
    drop = _write(tmp_path / "d", {"export.csv": "Ref,Kid,Reported,category,Officer\n"
                                                 "E1,C1,04/03/2017 21:15,missing,PC Smith\n"
                                                 "E2,C1,05/03/2017 21:15,lost,PC Jones\n"})
    m = tmp_path / "m.yaml"
    m.write_text("files:\n  - {match: 'export.csv', as: episodes.csv, source: police, columns: "
                 "{episode_id: Ref, child_id: Kid, reported_at: Reported}}\n")
    report = ingest_drop(store, drop, geocode=False, mapping=m)
    assert (report.files["export.csv"].accepted, report.files["export.csv"].held) == (1, 1)
    ep = store.table("episodes").iloc[0]
    assert ep["category"] == "missing" and json.loads(ep["extra"]) == {"Officer": "PC Smith"}
    held = held_rows(store, report.run_id)
    assert held["field"].tolist() == ["category"] and held["line"].tolist() == [3]


def test_run_takes_mappings_only_with_a_drop(tmp_path):
    from api.cli import app
    res = CliRunner().invoke(app, ["run", "--db", f"sqlite:///{tmp_path / 'x.sqlite'}", "--out",
                                   str(tmp_path / "o"), "--mapping", str(tmp_path / "m.yaml")])
    assert res.exit_code != 0 and "--mapping goes with --drop" in res.stderr

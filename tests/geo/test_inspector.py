"""`wayfinder inspect`: the profile of a foreign export and the mapping it drafts, measured
against the reference mappings of data/mappings/ on the three example exports."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from geo.storage.ingest import read_table, validate, xlsx_sheets
from geo.storage.inspector import inspect_file, match_code, profile_file, render
from geo.storage.mapping import Mapping, apply_entry, load_yaml, resolve_sheet

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "data" / "mappings" / "examples"
REFERENCE = Mapping.load_all([ROOT / "data" / "mappings" / n for n in
                              ("police_compact.yaml", "carefirst.yaml", "rhi_mosaic.yaml")])
EXPORTS = ["COMPACT_nominals.csv", "COMPACT_occurrences.csv", "Carefirst_extract.xlsx",
           "MOSAIC_RHI_report.csv", "MOSAIC_young_people.csv"]


def _contract_values(entry, path: Path, sheet):
    raw = apply_entry(entry, read_table(path, sheet), path.name)
    frame, problems, _ = validate(entry.spec, raw.frame, "x")
    held = problems.held | (raw.held_reason != "")
    return frame, held


def _score(name: str) -> tuple[int, int, list[str], str]:
    """(columns drafted correctly, contract columns the reference maps, the wrong or missing
    ones, the drafted YAML) for one example export."""
    path = EXAMPLES / name
    _, drafts, skipped = inspect_file(path)
    text = render(drafts, skipped)
    drafted = Mapping.from_dict(load_yaml(text))          # the draft is a valid mapping as is
    correct, total, wrong = 0, 0, []
    sheets = xlsx_sheets(path) if path.suffix == ".xlsx" else []
    sheet = lambda e: resolve_sheet(sheets, e.sheet) if sheets else None  # noqa: E731
    for ref in (e for e in REFERENCE.entries if e.matches(name)):
        d = next(e for e in drafted.entries if e.matches(name) and sheet(e) == sheet(ref))
        assert d.spec.name == ref.spec.name, (name, ref.sheet)
        want, held_w = _contract_values(ref, path, sheet(ref))
        got, held_g = _contract_values(d, path, sheet(ref))
        both = ~held_w & ~held_g
        assert (held_g & ~held_w).mean() <= 0.05       # the draft holds few more rows
        rules = {r.target for r in d.rules}
        for r in ref.rules:
            total += 1
            ok = r.target in rules and \
                want.loc[both, r.target].astype(str).equals(got.loc[both, r.target].astype(str))
            correct += ok
            if not ok:
                wrong.append((ref.sheet or "") + ":" + r.target)
    print(f"{name}: {correct}/{total} contract columns drafted correctly; wrong: {wrong}")
    return correct, total, wrong, text


@pytest.mark.parametrize("name", EXPORTS)
def test_drafts_map_at_least_90_percent_of_columns_correctly(name):
    correct, total, wrong, text = _score(name)
    assert total and correct / total >= 0.9, (correct, total, wrong)
    # what it is not sure of says so: the file, the source, and anything short of exact
    assert "as: " in text and "# review" in text


def test_every_wrong_or_missing_column_is_marked_for_review():
    for name in EXPORTS:
        _, _, wrong, text = _score(name)
        lines = text.splitlines()
        for w in wrong:
            target = w.split(":")[1]
            at = [i for i, ln in enumerate(lines) if ln.strip().startswith(f"{target}:")]
            marked = any("# review" in lines[i] for i in at) or \
                any("not mapped" in ln or "required column" in ln for ln in lines)
            assert marked, (name, w)


def test_profile_finds_formats_postcodes_and_ids():
    occ, = profile_file(EXAMPLES / "COMPACT_occurrences.csv")
    cols = {c.header: c for c in occ.columns}
    assert cols["Reported Date/Time"].date_formats[0] == "%d-%b-%Y %H:%M"
    assert cols["Found Postcode"].kind == "postcode" and cols["Found Postcode"].postcodes > 50
    assert cols["Occurrence No"].id_like
    assert cols["Occurrence Type"].values["MFH"] > 50
    rhi, = profile_file(EXAMPLES / "MOSAIC_RHI_report.csv")
    notified = next(c for c in rhi.columns if c.header == "Notification Date")
    assert notified.day_first is False and notified.date_formats[0] == "%m/%d/%Y %I:%M %p"


def test_ambiguous_day_month_is_settled_by_another_column_or_marked(tmp_path):
    # every day <= 12 in the first column; the second proves the export month-first
    (tmp_path / "a.csv").write_text(
        "Episode ID,Child ID,Date Reported,Date Returned,Category\n"
        "E1,C1,03/04/2017,03/05/2017,missing\nE2,C2,01/02/2017,12/25/2017,absent\n")
    (tmp_path / "b.csv").write_text(
        "Episode ID,Child ID,Date Reported,Category\nE1,C1,03/04/2017,missing\n"
        "E2,C2,01/02/2017,absent\n")
    _, drafts, _ = inspect_file(tmp_path / "a.csv")
    assert drafts[0].rule("reported_at").spec["format"] == "%m/%d/%Y"
    _, drafts, skipped = inspect_file(tmp_path / "b.csv")
    text = render(drafts, skipped)
    line = next(ln for ln in text.splitlines() if "reported_at" in ln)
    assert "# review" in line and "day and month" in line


def test_codes_are_matched_with_how_sure():
    assert (match_code("MFH", "category").value, match_code("MFH", "category").how) == \
        ("missing", "thesaurus")
    assert match_code("Missing", "category").how == "exact"
    assert match_code("MH", "issues").value == "mental_health"
    assert match_code("Semi-Independent", "placement_type").value == "semi_independent"
    assert match_code("purple", "rag").value is None


def test_an_unrelated_table_is_not_drafted(tmp_path):
    from api.cli import app
    (tmp_path / "weather.csv").write_text(
        "Station,Temperature,Rainfall mm,Wind\n" +
        "".join(f"S{i % 4},{10 + i % 7}.5,{i % 3}.2,{['N', 'S', 'E', 'W'][i % 4]}\n"
                for i in range(40)))
    res = CliRunner().invoke(app, ["inspect", str(tmp_path / "weather.csv")])
    assert res.exit_code != 0
    assert "no table in it fits a contract file" in res.stderr


def test_cli_writes_the_draft(tmp_path):
    from api.cli import app
    out = tmp_path / "draft.yaml"
    res = CliRunner().invoke(app, ["inspect", str(EXAMPLES / "MOSAIC_RHI_report.csv"),
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Interview Outcome" in res.stdout                   # the profile
    m = Mapping.load(out)
    assert m.entries[0].spec.name == "return_interviews"

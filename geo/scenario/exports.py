"""Synthetic exports in the layouts of real systems (`wayfinder synth --style exports`).

The generator's contract drop (geo.scenario.generator) rewritten the way three kinds of system the papers name
export it, so that the whole path from an export to a drop can be seen and tested:

- a police missing-person system (COMPACT-style): `COMPACT_nominals.csv` (children) and
  `COMPACT_occurrences.csv` (episodes): occurrence codes MFH/Absent/AWOL, `04-Mar-2017 21:15` dates,
  the found address split over three columns, test records marked in a status column;
- a social-care case system (Carefirst-style): `Carefirst_extract.xlsx` with a cover sheet, a
  `Clients` sheet (names as `SURNAME, Forename`, legal status and placement codes, real date
  cells) and a `Missing Episodes` sheet;
- a return-interview provider (MOSAIC-style): `MOSAIC_RHI_report.csv` (US-style dates
  `03/05/2017 09:00 AM`, outcome and issue codes) and `MOSAIC_young_people.csv`.

Persons, premises, places, links and intelligence stay contract files. The same data in contract
form is written to `DIR/contract/` (with truth.json); the mappings in data/mappings/ read the
exports back into exactly that data (tests/geo/test_synth_exports.py).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from geo.model import normalise_vocab

POSTCODE = re.compile(r"^[A-Za-z]{1,2}\d[A-Za-z\d]?\s*\d[A-Za-z]{2}$")
DATES_IN = ("%d/%m/%Y %H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%d/%m/%Y", "%Y-%m-%d")
KEPT = ("persons.csv", "premises.csv", "places.csv", "links.csv", "intelligence.csv")

# contract value -> export code, per system (the mappings in data/mappings/ hold the inverse)
POLICE_CODES = {
    "sex": {"female": "F", "male": "M", "other": "O", "unknown": "U"},
    "care_status": {"cic": "Looked After Child", "cp": "CP Plan", "cin": "Child in Need",
                    "none": "None", "unknown": "Not Known"},
    "placement_type": {"residential": "Residential Home", "foster": "Foster Care",
                       "kinship": "Kinship Care", "parent": "With Parents",
                       "semi_independent": "Semi-Independent", "supported_lodgings":
                       "Supported Lodgings", "secure": "Secure Unit", "other": "Other",
                       "none": "None"},
    "cse_risk": {"none": "No Concerns", "at_risk": "Low", "significant": "Medium",
                 "serious": "High"},
    "category": {"missing": "MFH", "absent": "Absent", "away_without_authorisation": "AWOL"},
    "police_risk": {"high": "High", "medium": "Medium", "low": "Low", "none": "No Apparent Risk"},
    "missing_from": {"home": "Home Address", "care": "LA Care", "education": "School",
                     "other": "Other"},
    "rag": {"red": "R", "amber": "A", "green": "G"},
}
CAREFIRST_CODES = {
    "care_status": {"cic": "CLA", "cp": "CPP", "cin": "CIN", "none": "No Status",
                    "unknown": "Not Recorded"},
    "placement_type": {"residential": "R1 Residential care home", "foster": "U1 Foster placement",
                       "kinship": "U4 Kinship placement", "parent": "P1 Placed with parents",
                       "semi_independent": "H5 Semi-independent living",
                       "supported_lodgings": "P2 Supported lodgings", "secure": "K1 Secure unit",
                       "other": "Z1 Other placement", "none": "N/A"},
    "cse_risk": {"none": "No concerns", "at_risk": "Low risk", "significant": "Medium risk",
                 "serious": "High risk"},
    "category": {"missing": "Missing", "absent": "Absent",
                 "away_without_authorisation": "Unauthorised absence"},
    "missing_from": {"home": "Home", "care": "Placement", "education": "School", "other": "Other"},
}
MOSAIC_CODES = {
    "outcome": {"engaged": "Interview completed", "declined": "Declined interview",
                "no_engagement": "No engagement", "not_offered": "Not offered"},
    "priority": {"priority_red": "Priority (Red)", "first_time": "First time missing",
                 "none": "Standard"},
    "issues": {"mental_health": "MH", "substance_misuse": "SM", "cse": "CSE", "offending": "OFF",
               "gang": "GANG", "domestic_violence": "DV", "family_conflict": "FC",
               "placement": "PLC", "bullying": "BUL", "other": "OTH"},
    "care_status": {"cic": "Looked after", "cp": "Child protection", "cin": "Child in need",
                    "none": "None", "unknown": "Unknown"},
}
VOCAB_OF = {"sex": "sex", "care_status": "care_status", "placement_type": "placement_type",
            "cse_risk": "cse_risk", "category": "category", "police_risk": "police_risk",
            "missing_from": "missing_from", "rag": "rag", "outcome": "outcome",
            "priority": "priority"}


def _encode(values: pd.Series, column: str, codes: dict[str, str]) -> pd.Series:
    """Contract values as the system's codes; a value the contract would not read stays as
    written (a planted bad row stays bad)."""
    v = values.fillna("").astype(str)
    norm = normalise_vocab(v, VOCAB_OF[column])
    return norm.map(codes).astype(object).where(norm.notna(), v)


def _encode_list(values: pd.Series, codes: dict[str, str]) -> pd.Series:
    return values.fillna("").astype(str).map(
        lambda s: ";".join(codes.get(p.strip(), p.strip()) for p in s.split(";") if p.strip()))


def _local(values: pd.Series) -> pd.Series:
    """Contract date-times as local naive timestamps (NaT where the text is not one)."""
    s = values.fillna("").astype(str).str.strip()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    for fmt in DATES_IN:
        todo = out.isna() & (s != "")
        if not todo.any():
            break
        out[todo] = pd.to_datetime(s[todo], format=fmt, errors="coerce")
    return out


def _date_text(values: pd.Series, fmt: str) -> pd.Series:
    ts = _local(values)
    return ts.dt.strftime(fmt).astype(object).where(ts.notna(), values.fillna("").astype(str))


def _date_cells(values: pd.Series) -> pd.Series:
    ts = _local(values)
    cells = pd.Series([t.to_pydatetime() if pd.notna(t) else None for t in ts], index=ts.index,
                      dtype=object)
    return cells.where(ts.notna(), values.fillna("").astype(str))


def _split_address(text: str) -> tuple[str, str, str]:
    """A found-at text over Line 1, Line 2 and Postcode columns, so that joining the non-empty
    parts with ", " gives the text back exactly."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) >= 2 and all(parts) and POSTCODE.match(parts[-1]) and text == ", ".join(parts):
        return parts[0], ", ".join(parts[1:-1]), parts[-1]
    if POSTCODE.match(text.strip()) and text == text.strip():
        return "", "", text
    return text, "", ""


def police(children: pd.DataFrame, episodes: pd.DataFrame, rng: np.random.Generator
           ) -> dict[str, pd.DataFrame]:
    c = children[children["source"] == "police"]
    nominals = pd.DataFrame({
        "Person URN": c["child_id"], "Forename": c["given_name"], "Surname": c["family_name"],
        "DOB": c["dob"], "Gender": _encode(c["sex"], "sex", POLICE_CODES["sex"]),
        "Ethnicity": c["ethnicity"],
        "Care Status": _encode(c["care_status"], "care_status", POLICE_CODES["care_status"]),
        "Placement": _encode(c["placement_type"], "placement_type",
                             POLICE_CODES["placement_type"]),
        "Home Postcode": c["placement_postcode"], "Responsible Authority":
        c["responsible_authority"],
        "CSE Risk": _encode(c["cse_risk"], "cse_risk", POLICE_CODES["cse_risk"]),
        "School": c["school"], "Force ID": c["police_id"], "LA Case Ref": c["carefirst_id"],
        "UPN": c["upn"]})
    e = episodes[episodes["source"] == "police"]
    found = e["found_at"].fillna("").astype(str).map(_split_address)
    occ = pd.DataFrame({
        "Occurrence No": e["episode_id"], "Person URN": e["child_id"],
        "Reported Date/Time": _date_text(e["reported_at"], "%d-%b-%Y %H:%M"),
        "Found Date/Time": _date_text(e["returned_at"], "%d-%b-%Y %H:%M"),
        "Occurrence Type": _encode(e["category"], "category", POLICE_CODES["category"]),
        "Risk Grading": _encode(e["police_risk"], "police_risk", POLICE_CODES["police_risk"]),
        "Missing From": _encode(e["missing_from"], "missing_from", POLICE_CODES["missing_from"]),
        "Reported By": e["reported_by"], "Last Seen Location": e["last_seen"],
        "Found Address Line 1": found.map(lambda t: t[0]),
        "Found Address Line 2": found.map(lambda t: t[1]),
        "Found Postcode": found.map(lambda t: t[2]),
        "Found With": e["found_with"],
        "Notification RAG": _encode(e["rag"], "rag", POLICE_CODES["rag"]),
        "Record Status": "LIVE"})
    # training records the system keeps beside live ones; the mapping's `where` leaves them out
    n_test = min(3, len(occ))
    test = occ.iloc[rng.choice(len(occ), n_test, replace=False)].copy() if n_test else occ.iloc[:0]
    test["Occurrence No"] = [f"TEST{i + 1}" for i in range(n_test)]
    test["Record Status"] = "TEST"
    occ = pd.concat([occ, test]).iloc[np.r_[np.arange(len(occ)), rng.permutation(n_test) + len(occ)]]
    return {"COMPACT_nominals.csv": nominals, "COMPACT_occurrences.csv": occ}


def carefirst(children: pd.DataFrame, episodes: pd.DataFrame) -> dict[str, pd.DataFrame]:
    c = children[children["source"] == "carefirst"]
    name = c["family_name"].fillna("").astype(str) + ", " + c["given_name"].fillna("").astype(str)
    clients = pd.DataFrame({
        "Client Ref": c["child_id"], "Person ID": c["carefirst_id"], "Client Name": name,
        "Date of Birth": _date_cells(c["dob"]), "Sex": c["sex"].fillna("").str.title(),
        "Ethnic Origin": c["ethnicity"],
        "Legal Status": _encode(c["care_status"], "care_status", CAREFIRST_CODES["care_status"]),
        "Placement Type": _encode(c["placement_type"], "placement_type",
                                  CAREFIRST_CODES["placement_type"]),
        "Placement Postcode": c["placement_postcode"], "Responsible LA": c["responsible_authority"],
        "CSE Risk Level": _encode(c["cse_risk"], "cse_risk", CAREFIRST_CODES["cse_risk"]),
        "School Name": c["school"], "Police Ref": c["police_id"], "UPN": c["upn"]})
    e = episodes[episodes["source"] == "carefirst"]
    eps = pd.DataFrame({
        "Absence Ref": e["episode_id"], "Client Ref": e["child_id"],
        "Start": _date_cells(e["reported_at"]), "End": _date_cells(e["returned_at"]),
        "Absence Type": _encode(e["category"], "category", CAREFIRST_CODES["category"]),
        "Police Risk": e["police_risk"].fillna("").str.title(),
        "Missing From": _encode(e["missing_from"], "missing_from", CAREFIRST_CODES["missing_from"]),
        "Reported By": e["reported_by"], "Last Seen": e["last_seen"], "Found At": e["found_at"],
        "Found With": e["found_with"], "RAG": e["rag"].fillna("").str.title()})
    return {"Clients": clients, "Missing Episodes": eps}


def mosaic(children: pd.DataFrame, rhis: pd.DataFrame) -> dict[str, pd.DataFrame]:
    us = "%m/%d/%Y %I:%M %p"
    r = rhis
    report = pd.DataFrame({
        "Work ID": r["rhi_id"], "Missing Episode ID": r["episode_id"],
        "Notification Date": _date_text(r["notified_at"], us),
        "Offer Date": _date_text(r["offered_at"], us),
        "Interview Date": _date_text(r["held_at"], us),
        "Interview Outcome": _encode(r["outcome"], "outcome", MOSAIC_CODES["outcome"]),
        "Triage": r["triage"].fillna("").str.title(),
        "Priority": _encode(r["priority"], "priority", MOSAIC_CODES["priority"]),
        "Push Factors": r["push_factors"], "Pull Factors": r["pull_factors"],
        "Issues": _encode_list(r["issues"], MOSAIC_CODES["issues"]),
        "Places Mentioned": r["places"], "Associates Named": r["associates"],
        "SERAF Score": r["seraf_score"]})
    c = children[children["source"] == "rhi_provider"]
    people = pd.DataFrame({
        "Person ID": c["child_id"], "First Name": c["given_name"], "Last Name": c["family_name"],
        "Date of Birth": _date_text(c["dob"], "%m/%d/%Y"), "Gender": c["sex"],
        "Ethnicity": c["ethnicity"],
        "Legal Status": _encode(c["care_status"], "care_status", MOSAIC_CODES["care_status"]),
        "Placement Type": c["placement_type"], "Postcode": c["placement_postcode"],
        "Local Authority": c["responsible_authority"], "CSE Risk": c["cse_risk"],
        "School": c["school"], "Police Ref": c["police_id"], "Carefirst ID": c["carefirst_id"]})
    return {"MOSAIC_RHI_report.csv": report, "MOSAIC_young_people.csv": people}


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> None:
    import openpyxl
    wb = openpyxl.Workbook()
    about = wb.active
    about.title = "About"
    about.append(["Carefirst extract (synthetic: fictional children, made by wayfinder synth "
                  "--style exports)"])
    about.append(["Sheets: Clients, Missing Episodes"])
    for title, df in sheets.items():
        ws = wb.create_sheet(title)
        ws.append(list(df.columns))
        for row in df.itertuples(index=False):
            ws.append([None if (isinstance(v, str) and v == "") else v for v in row])
    wb.save(path)


def generate_exports(out_dir: str | Path, seed: int = 1, scale: str = "sample",
                     null: bool = False) -> dict:
    """Write the exports drop into `out_dir` and the same data in contract form into
    `out_dir/contract/` (with truth.json); returns the truth with `exports` row counts."""
    from geo.scenario.generator import generate
    out = Path(out_dir)
    contract = out / "contract"
    truth = generate(contract, seed=seed, scale=scale, null=null)
    rng = np.random.default_rng([seed, 7])
    children = _read(contract / "children.csv")
    episodes = _read(contract / "episodes.csv")
    rhis = _read(contract / "return_interviews.csv")
    files = {**police(children, episodes, rng), **mosaic(children, rhis)}
    for name, df in files.items():
        df.to_csv(out / name, index=False, lineterminator="\n")
    sheets = carefirst(children, episodes)
    _workbook(out / "Carefirst_extract.xlsx", sheets)
    for name in KEPT:
        shutil.copyfile(contract / name, out / name)
    truth["exports"] = {**{n: len(df) for n, df in files.items()},
                        **{f"Carefirst_extract.xlsx [{s}]": len(df) for s, df in sheets.items()}}
    return truth

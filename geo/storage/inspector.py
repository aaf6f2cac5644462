"""The export inspector: profile a foreign CSV/XLSX export and draft a column-mapping file for it.

`wayfinder inspect FILE [--out MAPPING]` (DATA_CONTRACT.md, "Column-mapping files").

Profile, per column: filled share, inferred type, the strptime formats that read every date,
value counts of low-cardinality columns, postcodes found, identifier-likeness.

Draft: which contract file the export feeds, and for each contract column the export column that
best matches it, scored by name and by content:

- name: the header against the contract column's name and a thesaurus of header names that
  police, social-care and RHI systems use (``HEADER_NAMES``), with rapidfuzz similarity;
- content: the column's values against the contract column's kind (dates for date-times,
  postcodes and addresses for locations, distinct ids for keys, values that map onto the
  vocabulary for coded columns, integers, typed references, `;` lists).

Columns are assigned one to one (Hungarian assignment, scipy.optimize.linear_sum_assignment) on
the combined score. Values of coded columns are matched to the vocabulary by rules that say how
sure they are: the contract's own matching and synonyms, then a thesaurus of codes
(``CODE_NAMES``: MFH, AWOL, LAC, CLA, CPP ...), acronyms (``MH`` = mental_health), prefixes
(``BUL`` = bullying), words (``Home Address`` = home), then fuzzy similarity. Dates: every
format that reads all values of a column; day/month ambiguity is settled by the other date
columns of the export (one US-style date proves the export month-first), and a pair of date
columns whose values come in a fixed order (reported then returned) is ordered by its content.
Address parts (``Found Address Line 1/2``, ``Found Postcode``) become a `join`, a name column
written ``SURNAME, Forename`` becomes two `split`s, and a status column with TEST records
becomes a `where`.

Nothing is guessed silently: every choice short of an exact header and content match carries a
``# review`` comment with its reason and score, values no rule maps are listed under the column,
and export columns left unmapped are listed at the end of the entry.
"""
from __future__ import annotations

import itertools
import re

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from geo.storage.ingest import DropError, RawTable, read_table, xlsx_sheets
from geo.storage.mapping import code_key
from geo.model import FILES, SYNONYMS, VOCAB, FileSpec
from geo.places.postcodes import UNIT_PATTERN

LOW_CARDINALITY = 25          # value counts are listed for columns with at most this many values
SAMPLE = 2000                 # distinct values examined per column

#: Date formats tried on every column (the contract's own forms first).
DATE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d",
    "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y",
    "%m/%d/%Y %I:%M %p", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M", "%m/%d/%Y",
    "%d-%b-%Y %H:%M", "%d-%b-%Y %H:%M:%S", "%d-%b-%Y", "%d %b %Y %H:%M", "%d %b %Y",
    "%d %B %Y", "%d.%m.%Y %H:%M", "%d.%m.%Y", "%d-%m-%Y %H:%M", "%d-%m-%Y", "%d/%m/%y %H:%M",
    "%d/%m/%y", "%Y%m%d", "%d/%m/%Y %I:%M %p",
)
CONTRACT_FORMATS = set(DATE_FORMATS[:7])
US_FORMATS = {f for f in DATE_FORMATS if f.startswith("%m/%d")}

#: Header names real systems use for contract columns (besides the column's own name).
HEADER_NAMES: dict[str, dict[str, tuple[str, ...]]] = {
    "*": {
        "source": ("source", "system", "source system"),
        "child_id": ("child id", "person urn", "urn", "client ref", "client id", "child ref",
                     "young person id", "cyp id", "subject id", "nominal id", "person id"),
        "episode_id": ("episode id", "occurrence no", "occurrence number", "occurrence ref",
                       "incident no", "absence ref", "absence id", "episode ref",
                       "missing episode id", "missing episode ref"),
        "given_name": ("forename", "first name", "given name", "forenames", "christian name"),
        "family_name": ("surname", "last name", "family name"),
        "dob": ("date of birth", "dob", "birth date", "d o b"),
        "sex": ("gender", "sex"),
        "ethnicity": ("ethnicity", "ethnic origin", "ethnic group", "ethnic background"),
        "school": ("school", "school name", "education setting"),
        "police_id": ("police id", "police ref", "force id", "pnc id", "police reference",
                      "niche id", "compact id"),
    },
    "children": {
        "care_status": ("care status", "legal status", "cla status", "looked after status"),
        "placement_type": ("placement type", "placement", "placement category"),
        "placement_postcode": ("placement postcode", "home postcode", "postcode",
                               "address postcode", "home address postcode",
                               "placement address", "home address", "address"),
        "responsible_authority": ("responsible authority", "responsible la", "local authority",
                                  "la", "authority"),
        "cse_risk": ("cse risk", "cse risk level", "cse flag", "cse", "cse level"),
        "carefirst_id": ("carefirst id", "carefirst ref", "la case ref", "la ref",
                         "social care id", "lcs id", "case ref", "person id"),
        "upn": ("upn", "unique pupil number"),
        "placement_authority": ("placement authority", "placement la", "host authority"),
        "establishment": ("establishment", "provider", "children's home", "home name"),
    },
    "episodes": {
        "reported_at": ("reported", "date reported", "reported date/time", "reported date",
                        "report date", "start", "start date", "date missing", "missing date",
                        "start date/time"),
        "returned_at": ("returned", "date found", "found date/time", "found date", "end",
                        "end date", "return date", "date returned", "end date/time"),
        "category": ("category", "type", "occurrence type", "absence type", "episode type",
                     "missing type"),
        "police_risk": ("risk", "police risk", "risk grading", "risk level", "risk assessment"),
        "missing_from": ("missing from", "absent from"),
        "reported_by": ("reported by", "informant", "reporting person"),
        "last_seen": ("last seen", "last seen location", "last seen address", "missing from address"),
        "found_at": ("found at", "found address", "found location", "where found"),
        "found_with": ("found with", "with", "accompanied by", "found in company of"),
        "rag": ("rag", "rag rating", "notification rag", "rating"),
    },
    "cse_assessments": {
        "assessment_id": ("assessment id", "assessment no", "assessment ref",
                          "assessment number", "screening id"),
        "assessed_at": ("assessed", "assessment date", "date completed", "completed",
                        "completed date", "date of assessment", "screening date"),
        "tool": ("tool", "assessment tool", "form", "assessment type", "form type"),
        "score": ("score", "total score", "seraf score"),
        "risk_level": ("risk level", "level", "risk", "outcome level", "cse risk level"),
        "closed_at": ("closed", "case closed", "date closed", "closure date", "closed date"),
    },
    "crimes": {
        "crime_id": ("crime id", "crime no", "crime number", "crime ref", "urn",
                     "occurrence no"),
        "recorded_at": ("recorded", "date recorded", "recorded date", "committed date"),
        "kind": ("kind", "crime or incident", "record type"),
        "offence": ("offence", "offence description", "crime type", "ho offence"),
        "cse_marker": ("cse marker", "cse flag", "cse"),
        "victims": ("victims", "victim", "victim urns"),
        "suspects": ("suspects", "suspect", "offender", "suspect urns"),
        "outcome_code": ("outcome", "outcome code", "ho outcome"),
        "location": ("location", "crime location", "address"),
    },
    "education": {
        "record_id": ("record id", "referral id", "case id"),
        "status": ("status", "cme status", "register status"),
        "start_date": ("start date", "date added", "from"),
        "end_date": ("end date", "date removed", "to"),
    },
    "persons": {
        "person_id": ("person id", "person urn", "nominal id", "urn"),
        "role": ("role", "relationship", "person type"),
        "address": ("address", "home address"),
    },
    "return_interviews": {
        "rhi_id": ("rhi id", "work id", "referral id", "interview id", "rhi ref", "referral ref"),
        "notified_at": ("notified", "notification date", "date notified", "notified date"),
        "offered_at": ("offered", "offer date", "date offered", "offered date"),
        "held_at": ("held", "interview date", "date held", "held date", "date of interview"),
        "outcome": ("outcome", "interview outcome", "rhi outcome"),
        "triage": ("triage", "triage rag", "rag"),
        "priority": ("priority",),
        "push_factors": ("push factors", "push"),
        "pull_factors": ("pull factors", "pull"),
        "issues": ("issues", "issues identified", "concerns", "risks identified"),
        "places": ("places", "places mentioned", "places named", "locations"),
        "associates": ("associates", "associates named", "people named", "persons named"),
        "seraf_score": ("seraf score", "seraf", "cse score"),
    },
}

#: Codes real systems use for vocabulary values (exact, after the contract's matching).
CODE_NAMES: dict[str, dict[str, str]] = {
    "category": {"mfh": "missing", "misper": "missing", "missing_from_home": "missing",
                 "awol": "away_without_authorisation", "unauthorised_absence":
                 "away_without_authorisation", "away": "away_without_authorisation",
                 "absence": "absent"},
    "care_status": {"cla": "cic", "looked_after_child": "cic", "lac": "cic", "cpp": "cp",
                    "cp_plan": "cp", "child_protection": "cp", "child_in_need": "cin",
                    "not_known": "unknown", "not_recorded": "unknown", "no_status": "none"},
    "cse_risk": {"no_concerns": "none", "no_concern": "none", "no_risk": "none"},
    "police_risk": {"no_apparent_risk": "none", "absent": "none", "no_risk": "none",
                    "standard": "low"},
    "missing_from": {"school": "education", "placement": "care", "la_care": "care",
                     "home_address": "home", "foster_home": "care", "childrens_home": "care"},
    "outcome": {"completed": "engaged", "interview_completed": "engaged", "refused": "declined",
                "dne": "no_engagement", "did_not_engage": "no_engagement"},
    "priority": {"standard": "none", "routine": "none"},
    "placement_type": {"n/a": "none", "na": "none", "no_placement": "none"},
    "sex": {"u": "unknown", "not_known": "unknown", "o": "other"},
}


# ---- profile ------------------------------------------------------------------------------------
@dataclass
class ColumnProfile:
    header: str
    key: str                          # normalised header (as RawTable frames name it)
    filled: int
    distinct: int
    kind: str                         # empty, integer, number, datetime, date, postcode,
    #                                   address, id, code, list, refs, text
    date_formats: list[str] = field(default_factory=list)
    day_first: bool | None = None     # None: not a date, or day/month cannot be told apart
    postcodes: int = 0                # values holding a full postcode
    id_like: bool = False             # token-like values, mostly distinct
    id_pattern: bool = False          # token-like values (ids that repeat, e.g. a child's)
    values: dict[str, int] = field(default_factory=dict)     # low-cardinality value counts
    items: dict[str, int] = field(default_factory=dict)      # of `;` list items, likewise
    sample: list[str] = field(default_factory=list)
    sample_dates: list[str] = field(default_factory=list)   # distinct values of a date column


@dataclass
class TableProfile:
    file: str
    sheet: str | None
    rows: int
    columns: list[ColumnProfile]
    table: RawTable

    @property
    def name(self) -> str:
        return f"{self.file} [{self.sheet}]" if self.sheet else self.file


DATE_SHARE = 0.95             # a format reads a date column when it reads this share of it
DATE_SAMPLE = 400              # distinct values a date format is tried on


def _reads(fmt: str, values: list[str]) -> set[int]:
    out = set()
    for i, v in enumerate(values):
        try:
            datetime.strptime(v, fmt)
            out.add(i)
        except ValueError:
            pass
    return out


def _date_formats(values: list[str]) -> list[str]:
    """The formats that together read (strptime) at least DATE_SHARE of the distinct values
    (a few unreadable values are bad rows, which ingest holds): every format that reads them
    all, or else a greedy cover when one export mixes forms (typed dates and XLSX date cells).
    In DATE_FORMATS order."""
    if not values:
        return []
    need = DATE_SHARE * len(values)
    reads = {f: _reads(f, values) for f in DATE_FORMATS}
    whole = [f for f in DATE_FORMATS if len(reads[f]) >= need]
    if whole:
        return whole
    covered: set[int] = set()
    chosen = []
    while len(covered) < need:
        f = max(DATE_FORMATS, key=lambda f: len(reads[f] - covered))
        if not reads[f] - covered:
            return []
        chosen.append(f)
        covered |= reads[f]
    return [f for f in DATE_FORMATS if f in chosen]


def _day_first(formats: list[str]) -> bool | None:
    """Whether numeric dates read day-first (True), month-first (False) or either (None)."""
    us = any(f in US_FORMATS for f in formats)
    uk = any(re.match(r"%d[/.\-]%m", f) for f in formats)
    if us and uk:
        return None
    return not us


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9/_\-.]{0,39}$")
_REF = re.compile(r"^\s*(child|person|premises|place|vehicle)\s*:", re.I)


def profile_column(header: str, key: str, values: pd.Series) -> ColumnProfile:
    s = values.astype(str).str.strip()
    filled = s[s != ""]
    counts = filled.value_counts()
    p = ColumnProfile(header, key, int(len(filled)), int(len(counts)), "empty")
    if filled.empty:
        return p
    distinct = [str(v) for v in counts.index[:SAMPLE]]
    p.sample = distinct[:5]
    if len(counts) <= LOW_CARDINALITY:
        p.values = {str(k): int(v) for k, v in counts.items()}
    if filled.str.contains(";", regex=False).any():
        items = filled.str.split(";").explode().str.strip()
        items = items[items != ""].value_counts()
        if len(items) <= LOW_CARDINALITY:
            p.items = {str(k): int(v) for k, v in items.items()}
    # typed checks, on distinct values (a few unreadable ones are bad rows, not another type)
    share = lambda m: float(np.mean(m)) if len(m) else 0.0  # noqa: E731
    ints = share([bool(re.fullmatch(r"-?\d+", v)) for v in distinct])
    nums = share([bool(re.fullmatch(r"-?\d+(\.\d+)?", v)) for v in distinct])
    pcs = filled.str.upper().str.extract(UNIT_PATTERN)[0].notna()
    p.postcodes = int(pcs.sum())
    p.id_pattern = share([bool(_ID.match(v)) for v in distinct]) > 0.95
    p.id_like = p.id_pattern and len(counts) >= 0.5 * len(filled)
    formats = _date_formats(distinct[:DATE_SAMPLE]) if ints < 0.95 else []
    if formats:
        p.date_formats = formats
        p.sample_dates = distinct
        timed = any(("%H" in f or "%I" in f) for f in formats)
        midnight = all(re.search(r"[ T]0?0:00(:00)?$", v) for v in distinct)
        p.kind = "datetime" if timed and not midnight else "date"     # XLSX date cells
        p.day_first = _day_first(formats)
    elif share(pcs.to_numpy()) > 0.9 and filled.str.len().max() <= 9:
        p.kind = "postcode"
    elif ints > 0.95:
        p.kind = "integer"
    elif nums > 0.95:
        p.kind = "number"
    elif share([bool(_REF.match(x)) for x in distinct]) > 0.5:
        p.kind = "refs"
    elif share([";" in v for v in distinct]) > 0.1:
        p.kind = "list"
    elif p.postcodes > 0.3 * len(filled) or share([bool(re.match(r"^\d+[A-Za-z]? \w", v))
                                                   for v in distinct]) > 0.5:
        p.kind = "address"
    elif len(counts) <= LOW_CARDINALITY and len(filled) >= 2 * len(counts):
        p.kind = "code"
    elif p.id_like:
        p.kind = "id"
    else:
        p.kind = "text"
    return p


def profile_table(table: RawTable, file: str, sheet: str | None = None) -> TableProfile:
    headers = table.headers or list(table.frame.columns)
    cols = [profile_column(h, k, table.frame[k]) for h, k in zip(headers, table.frame.columns)]
    _settle_day_first(cols)
    return TableProfile(file, sheet, len(table.frame), cols, table)


def _settle_day_first(cols: list[ColumnProfile]) -> None:
    """Dates of one export share their order: a column that can only be month-first (or only
    day-first) settles the ambiguous ones."""
    told = {c.day_first for c in cols if c.date_formats and c.day_first is not None}
    if len(told) != 1:
        return
    first = told.pop()
    for c in cols:
        if c.date_formats and c.day_first is None:
            keep = [f for f in c.date_formats if (f in US_FORMATS) != first]
            c.date_formats = keep or c.date_formats
            c.day_first = first


def profile_file(path: Path) -> list[TableProfile]:
    """Every sheet of a workbook (or the one table of a CSV), profiled."""
    path = Path(path)
    if not path.is_file():
        raise DropError(f"{path}: no such file")
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise DropError(f"{path.name}: only CSV and XLSX exports can be inspected")
    if path.suffix.lower() == ".csv":
        return [profile_table(read_table(path), path.name)]
    out = []
    for sheet in xlsx_sheets(path):
        try:
            table = read_table(path, sheet)
        except DropError:
            continue                  # an empty sheet
        out.append(profile_table(table, path.name, sheet))
    return out


# ---- matching -----------------------------------------------------------------------------------
def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9/']+", " ", str(text).lower()).strip()


def header_names(spec: FileSpec, column: str) -> tuple[str, ...]:
    own = (column.replace("_", " "),)
    return own + HEADER_NAMES["*"].get(column, ()) + HEADER_NAMES.get(spec.name, {}).get(column, ())


@lru_cache(maxsize=65536)
def name_score(header: str, names: tuple[str, ...]) -> float:
    from rapidfuzz import fuzz
    h = _norm(header)
    best = 0.0
    for n in names:
        n = _norm(n)
        if h == n:
            return 1.0
        best = max(best, (fuzz.token_set_ratio(h, n) + fuzz.ratio(h, n)) / 200)
    return best


@dataclass(frozen=True)
class CodeMatch:
    value: str | None          # contract value, None when no rule maps the code
    how: str                   # exact, thesaurus, acronym, prefix, word, fuzzy, none

    @property
    def sure(self) -> bool:
        return self.how in ("exact", "thesaurus")


#: The issues list of return_interviews.csv (a `;` list whose items the contract names).
ISSUES = ("mental_health", "substance_misuse", "cse", "offending", "gang", "domestic_violence",
          "family_conflict", "placement", "bullying", "other")


@lru_cache(maxsize=65536)
def match_code(code: str, vocab: str) -> CodeMatch:
    """One export code matched to a contract vocabulary (or "issues"), with how sure the match
    is."""
    allowed = ISSUES if vocab == "issues" else VOCAB[vocab]
    key = code_key(code)                       # the contract's own matching, then synonyms
    exact = SYNONYMS.get(vocab, {}).get(key, key)
    if exact in allowed:
        return CodeMatch(exact, "exact")
    key = re.sub(r"[()]", "", key)
    table = CODE_NAMES.get(vocab, {})
    if key in table:
        return CodeMatch(table[key], "thesaurus")
    names = {v: v for v in allowed} | {k: v for k, v in SYNONYMS.get(vocab, {}).items()}
    letters = re.sub(r"[^a-z]", "", key)
    if 2 <= len(letters) <= 5 and "_" not in key:
        acr = [v for n, v in names.items() if "_" in n and
               "".join(w[0] for w in n.split("_") if w) == letters]
        if len(set(acr)) == 1:
            return CodeMatch(acr[0], "acronym")
        pre = [v for n, v in names.items() if n.startswith(letters) and len(letters) >= 1]
        if len(set(pre)) == 1:
            return CodeMatch(pre[0], "prefix")
        sub = [v for n, v in names.items() if _subsequence(letters, n) and n[0] == letters[0]]
        if len(set(sub)) == 1 and len(letters) >= 3:
            return CodeMatch(sub[0], "prefix")
    if len(letters) == 1:
        pre = {v for n, v in names.items() if n.startswith(letters)}
        if len(pre) == 1:
            return CodeMatch(pre.pop(), "acronym")
    words = [w for w in re.split(r"[^a-z]+", code.lower()) if w]
    joined = "_" + "_".join(words) + "_"
    hits = {v for n, v in names.items() if f"_{n}_" in joined}
    if len(hits) == 1:
        return CodeMatch(hits.pop(), "word")
    from rapidfuzz import fuzz, process
    best = process.extractOne(key, list(names), scorer=fuzz.ratio)
    if best and best[1] >= 80:
        return CodeMatch(names[best[0]], "fuzzy")
    return CodeMatch(None, "none")


def _subsequence(letters: str, word: str) -> bool:
    it = iter(word)
    return all(ch in it for ch in letters)


def content_score(spec: FileSpec, column: str, p: ColumnProfile) -> float:
    """How well a column's values fit a contract column's kind (0..1)."""
    kind = spec.column(column).kind
    if p.kind == "empty":
        return 0.4
    dated = p.kind in ("datetime", "date")
    if kind == "datetime":
        return 1.0 if p.kind == "datetime" else 0.6 if p.kind == "date" else 0.0
    if kind == "date":
        return 1.0 if p.kind == "date" else 0.7 if p.kind == "datetime" else 0.0
    if dated:
        return 0.05
    if kind == "vocab":
        if not p.values:
            return 0.1
        vocab = spec.column(column).vocab
        total = sum(p.values.values())
        got = sum(n for v, n in p.values.items() if match_code(v, vocab).value is not None)
        sure = sum(n for v, n in p.values.items() if match_code(v, vocab).how in
                   ("exact", "thesaurus", "acronym"))
        return 0.7 * got / total + 0.3 * sure / total
    if kind == "id":
        return 1.0 if (p.id_pattern and p.kind != "number") or p.kind in ("id", "integer") \
            else 0.3
    if kind == "int":
        return 1.0 if p.kind == "integer" else 0.1
    if kind == "float":
        return 1.0 if p.kind in ("integer", "number") else 0.1
    if kind == "ref":
        return 1.0 if p.kind == "refs" else 0.2
    if kind in ("refs", "list"):
        return 1.0 if p.kind in ("refs", "list") else 0.6 if p.kind in ("text", "code", "empty") \
            else 0.3
    if kind == "location":
        return 1.0 if p.kind in ("postcode", "address") else 0.6 if p.kind == "text" else 0.2
    return 0.8 if p.kind in ("text", "code", "id", "address", "postcode") else \
        0.6 if p.kind == "integer" else 0.3                              # free text


def score(spec: FileSpec, column: str, p: ColumnProfile) -> tuple[float, float, float]:
    """(combined, name, content) scores of an export column for a contract column."""
    n = name_score(p.header, header_names(spec, column))
    c = content_score(spec, column, p)
    combined = 0.65 * n + 0.35 * c
    if c < 0.3 and p.kind != "empty":
        combined *= 0.5
    return combined, n, c


ACCEPT = 0.62                  # below this combined score a column is not drafted
NAMED = 0.8                    # a header this close to a known name "matches by name"
MIN_NAMED = 2                  # a table fits a contract file with this many columns named
SURE_NAME, SURE_CONTENT = 0.95, 0.8
FILE_WORDS = {"episodes": ("occurrence", "missing", "episode", "absence", "mfh"),
              "cse_assessments": ("cse", "seraf", "screening", "assessment"),
              "crimes": ("crime", "offence"),
              "education": ("cme", "education", "school"),
              "return_interviews": ("rhi", "interview", "return"),
              "children": ("nominal", "client", "child", "young", "people", "person")}
ORDERED = {"episodes": ("reported_at", "returned_at"),
           "return_interviews": ("notified_at", "offered_at", "held_at"),
           "cse_assessments": ("assessed_at", "closed_at"),
           "education": ("start_date", "end_date")}
ADDRESS_WORDS = {"address", "line", "postcode", "post", "code", "street", "town", "city",
                 "district", "1", "2", "3", "4", "location"}
TEST_VALUES = {"test", "training", "dummy", "delete", "deleted", "void"}


@dataclass
class Rule:
    """A drafted column rule with its reason for review (empty when sure)."""

    target: str
    spec: dict                        # the YAML map (or {"column": header})
    review: str = ""
    named: bool = True                # the header's name matches (not the content alone)
    unmapped: dict[str, int] = field(default_factory=dict)
    values_review: dict[str, str] = field(default_factory=dict)   # code -> how


@dataclass
class Draft:
    profile: TableProfile
    spec: FileSpec
    fit: float
    alternatives: list[tuple[str, float]]
    rules: list[Rule]
    unmapped: list[ColumnProfile]
    where: dict[str, list[str]] = field(default_factory=dict)
    where_note: str = ""
    source: str = ""

    def rule(self, target: str) -> Rule | None:
        return next((r for r in self.rules if r.target == target), None)


def _assign(spec: FileSpec, cols: list[ColumnProfile]) -> tuple[float, list[tuple[str, int, tuple]]]:
    from scipy.optimize import linear_sum_assignment
    targets = spec.column_names
    m = np.zeros((len(targets), len(cols)))
    detail = {}
    for i, t in enumerate(targets):
        for j, p in enumerate(cols):
            s = score(spec, t, p)
            m[i, j] = s[0]
            detail[i, j] = s
    rows, cs = linear_sum_assignment(-m)
    pairs = [(targets[i], j, detail[i, j]) for i, j in zip(rows, cs) if m[i, j] >= ACCEPT]
    required = [c.name for c in spec.columns if c.required]
    got = {t for t, _, _ in pairs}
    fit = sum(d[0] for _, _, d in pairs) + 2.0 * sum(r in got for r in required) / max(len(required), 1)
    fit -= 1.5 * sum(r not in got for r in required)
    return fit, pairs


def draft_table(p: TableProfile) -> Draft:
    """The best contract file for one export table and a rule per matched contract column."""
    fits = []
    low = p.file.lower()
    for spec in FILES:
        fit, pairs = _assign(spec, p.columns)
        fit += 1.0 * any(w in low or (p.sheet and w in p.sheet.lower())
                         for w in FILE_WORDS.get(spec.name, ()))
        fits.append((fit, spec.name, spec, pairs))
    fits.sort(key=lambda t: -t[0])
    fit, _, spec, pairs = fits[0]
    d = Draft(p, spec, fit, [(n, f) for f, n, _, _ in fits[1:3]], [], [])
    used: set[int] = set()
    by_target = {t: (j, det) for t, j, det in pairs}
    _names_split(d, by_target, used)
    for t, (j, (comb, n, c)) in sorted(by_target.items(),
                                       key=lambda kv: spec.column_names.index(kv[0])):
        if t == "source" and n < SURE_NAME:
            continue
        col = p.columns[j]
        used.add(j)
        d.rules.append(_rule(spec, t, col, comb, n, c))
    _order_dates(d)
    _joins(d, used)
    _ref_prefixes(d)
    d.unmapped = [c for j, c in enumerate(p.columns) if j not in used]
    _where(d)
    d.source = _source_guess(p.file)
    return d


def _rule(spec: FileSpec, target: str, col: ColumnProfile, comb: float, n: float,
          c: float) -> Rule:
    kind = spec.column(target).kind
    rule = Rule(target, {"column": col.header}, named=n >= NAMED)
    reasons = []
    if n < SURE_NAME or c < SURE_CONTENT:
        reasons.append(f"matched on {'name' if n >= c else 'content'} "
                       f"(name {n:.2f}, content {c:.2f}, {col.kind})")
    if kind in ("datetime", "date") and col.date_formats:
        formats = col.date_formats
        if col.day_first is None:            # read day-first, as the contract does
            formats = [f for f in formats if f not in US_FORMATS]
            us = next(f for f in col.date_formats if f in US_FORMATS)
            reasons.append("day and month cannot be told apart (every day <= 12): read "
                           f"day-first; use format \"{us}\" if the system writes month-first")
        whole = len(_reads(formats[0], col.sample_dates)) == len(col.sample_dates) if formats else False
        extra = [f for f in formats if f not in CONTRACT_FORMATS]
        if extra and not (whole and formats[0] in CONTRACT_FORMATS):
            rule.spec["format"] = extra[0] if len(extra) == 1 else extra[:3]
    if kind == "vocab" and col.values:
        _values(rule, spec.column(target).vocab, col)
    if kind in ("list", "refs") and target == "issues" and (col.items or col.values):
        _values(rule, "issues", col)
    rule.review = "; ".join(reasons)
    return rule


def _values(rule: Rule, vocab: str, col: ColumnProfile) -> None:
    """A values table for a coded column (none when the contract already reads every value)."""
    items: dict[str, int] = {}
    for v, n in (col.items or col.values).items():
        for part in (v.split(";") if ";" in v else [v]):
            if part.strip():
                items[part.strip()] = items.get(part.strip(), 0) + n
    matches = {v: match_code(v, vocab) for v in items}
    rule.unmapped = {v: items[v] for v, m in matches.items() if m.value is None}
    if all(m.how == "exact" for m in matches.values() if m.value is not None):
        return                         # the contract reads every value it can map
    rule.spec["values"] = {v: m.value for v, m in matches.items() if m.value is not None}
    rule.values_review = {v: m.how for v, m in matches.items()
                          if m.value is not None and not m.sure}


def _names_split(d: Draft, by_target: dict, used: set[int]) -> None:
    """A single name column (`SURNAME, Forename` or `Forename Surname`) split in two."""
    if not {"given_name", "family_name"} <= set(d.spec.column_names):
        return
    for name in ("given_name", "family_name"):
        if name in by_target and by_target[name][1][1] >= 0.8:
            return
    for j, c in enumerate(d.profile.columns):
        h = _norm(c.header)
        if c.kind not in ("text", "id", "code") or not re.search(r"\bname\b", h) or \
                re.search(r"school|home|premises|establishment|provider", h):
            continue
        vals = d.profile.table.frame[c.key].astype(str).str.strip()
        vals = vals[vals != ""]
        if vals.empty:
            continue
        comma = vals.str.contains(r"^[^,]+,\s*[^,]+$").mean()
        space = vals.str.contains(r"^\S+(?:\s+\S+)+$").mean()
        for t in ("given_name", "family_name"):
            by_target.pop(t, None)
        used.add(j)
        if comma > 0.8:
            d.rules.append(Rule("family_name", {"split": {"column": c.header, "sep": ",",
                                                          "index": 0}},
                                "a name column written SURNAME, Forename"))
            d.rules.append(Rule("given_name", {"split": {"column": c.header, "sep": ",",
                                                         "index": 1}},
                                "a name column written SURNAME, Forename"))
        elif space > 0.8:
            d.rules.append(Rule("given_name", {"split": {"column": c.header, "index": 0}},
                                "first word of a full-name column"))
            d.rules.append(Rule("family_name", {"split": {"column": c.header, "index": -1}},
                                "last word of a full-name column"))
        else:
            used.discard(j)
            continue
        return


def _order_dates(d: Draft) -> None:
    """Date columns whose contract order is fixed (reported before returned) put in that order
    by their values: the column whose dates come later is the later contract column."""
    order = ORDERED.get(d.spec.name)
    if not order:
        return
    rules = [d.rule(t) for t in order]
    present = [r for r in rules if r is not None and "column" in r.spec]
    if len(present) < 2:
        return
    frame = d.profile.table.frame
    cols = {c.header: c for c in d.profile.columns}

    def when(r: Rule) -> pd.Series:
        c = cols[r.spec["column"]]
        s = frame[c.key].astype(str).str.strip()
        out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
        for f in c.date_formats or ["ISO8601"]:
            todo = out.isna()
            out[todo] = pd.to_datetime(s[todo], format=f, errors="coerce")
        return out
    times = [when(r) for r in present]

    def agreement(perm) -> float:
        """Rows (over all pairs of columns) whose dates come in the contract's order when
        column perm[i] feeds the i-th contract column, less those that do not."""
        total = 0.0
        for i, j in itertools.combinations(range(len(perm)), 2):
            a, b = times[perm[i]], times[perm[j]]
            both = a.notna() & b.notna()
            total += float((b[both] >= a[both]).sum() - (b[both] < a[both]).sum())
        return total
    ident = tuple(range(len(present)))
    best = max(itertools.permutations(ident), key=agreement)
    if best == ident or agreement(best) <= agreement(ident):
        return
    specs = [dict(r.spec) for r in present]
    for i, r in enumerate(present):
        r.spec = specs[best[i]]
        r.review = (r.review + "; " if r.review else "") + \
            "columns reordered by their dates (the later dates are the later contract column)"


def _joins(d: Draft, used: set[int]) -> None:
    """A location column drafted from one part of a split address joins all its parts."""
    cols = d.profile.columns
    for r in d.rules:
        if d.spec.column(r.target).kind != "location" or "column" not in r.spec:
            continue
        header = r.spec["column"]
        words = _norm(header).split()
        if not (set(words) & ADDRESS_WORDS):
            continue
        stem = [w for w in words if w not in ADDRESS_WORDS]
        group = [c for j, c in enumerate(cols)
                 if [w for w in _norm(c.header).split() if w not in ADDRESS_WORDS] == stem
                 and set(_norm(c.header).split()) & ADDRESS_WORDS
                 and (j not in used or c.header == header)]
        if len(group) < 2:
            continue
        r.spec = {"join": [c.header for c in group], "sep": ", "}
        r.review = (r.review + "; " if r.review else "") + \
            "address parts joined in the export's order"
        used.update(j for j, c in enumerate(cols) if c in group)


def _ref_prefixes(d: Draft) -> None:
    """A reference column of bare ids shaped like this export's child ids (same leading
    letters) gets `prefix: "child:"`, so they read as typed references."""
    child = d.rule("child_id")
    if child is None or "column" not in child.spec:
        return
    frame = d.profile.table.frame
    keys = {c.header: c.key for c in d.profile.columns}

    def stems(header: str) -> set[str]:
        items = frame[keys[header]].astype(str).str.split(";").explode().str.strip()
        items = items[items != ""]
        if items.empty or not items.str.match(r"^[A-Za-z]*\d[\w/\-]*$").mean() > 0.9:
            return set()
        return set(items.str.extract(r"^([A-Za-z]*)")[0])
    child_stems = stems(child.spec["column"])
    for r in d.rules:
        if d.spec.column(r.target).kind not in ("ref", "refs") or "column" not in r.spec:
            continue
        st = stems(r.spec["column"])
        if st and child_stems and st <= child_stems:
            r.spec["prefix"] = "child:"
            r.review = (r.review + "; " if r.review else "") + \
                "bare ids shaped like the child ids: read as child: references"


def _where(d: Draft) -> None:
    for c in d.unmapped:
        if not c.values:
            continue
        test = [v for v in c.values if v.strip().lower() in TEST_VALUES]
        if test and len(test) < len(c.values):
            d.where = {c.header: [v for v in c.values if v not in test]}
            d.where_note = (f"leaves out {sum(c.values[v] for v in test)} rows marked "
                            + ", ".join(test))
            return


SOURCE_WORDS = {"police": ("compact", "niche", "athena", "police", "storm", "misper"),
                "carefirst": ("carefirst", "liquidlogic", "lcs", "eclipse", "caresystem"),
                "rhi_provider": ("rhi", "mosaic", "interview")}


def _source_guess(file: str) -> str:
    low = file.lower()
    for source, words in SOURCE_WORDS.items():
        if any(w in low for w in words):
            return source
    return re.split(r"[^a-z0-9]+", low)[0] or "export"


# ---- writing ------------------------------------------------------------------------------------
def _q(v) -> str:
    """A YAML scalar, always double-quoted (headers and codes may hold : # and spaces)."""
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def _glob(file: str) -> str:
    stem, dot, suffix = file.rpartition(".")
    stem = re.sub(r"[\s_\-]*\d[\d\s_\-.]*", "*", stem)
    stem = re.sub(r"\*+", "*", stem)
    return f"{stem if stem.endswith('*') else stem + '*'}{dot}{suffix}"


def render(drafts: list[Draft], skipped: list[tuple[str, str]] | None = None) -> str:
    """The drafted mapping as YAML, with a `# review` comment on every guess."""
    out = ["# Drafted by `wayfinder inspect`. Check every line marked `# review`, then use it:",
           "#   wayfinder ingest DROP --mapping THIS_FILE",
           "files:"]
    for name, why in skipped or []:
        out.append(f"  # not drafted: {name}: {why}")
    for d in drafts:
        p = d.profile
        out.append(f"  # {p.name}: {p.rows} rows, {len(p.columns)} columns")
        out.append(f"  - match: {_q(_glob(p.file))}")
        if p.sheet:
            out.append(f"    sheet: {_q(p.sheet)}")
        alt = ", ".join(f"{n}.csv {f:.1f}" for n, f in d.alternatives)
        out.append(f"    as: {d.spec.name}.csv    # review: best fit {d.fit:.1f} (next: {alt})")
        out.append(f"    source: {_q(d.source)}    # review: the system of record of these rows")
        if d.where:
            w = ", ".join(_q(v) for v in next(iter(d.where.values())))
            out.append(f"    where: {{{_q(next(iter(d.where)))}: [{w}]}}    # review: "
                       f"{d.where_note}")
        out.append("    columns:")
        for r in sorted(d.rules, key=lambda r: d.spec.column_names.index(r.target)):
            out += _render_rule(r)
        got = {r.target for r in d.rules}
        missing = [c.name for c in d.spec.columns if c.required and c.name not in got]
        for m in missing:
            out.append(f"      # review: required column {m} has no match in the export: "
                       f"map it, or every row is held")
        for c in d.unmapped:
            desc = f"{c.kind}, {c.filled} filled"
            if c.values and c.kind == "code":      # codes only: a mapping file is shared, and
                #                                    a short column of names is not a code list
                desc += ": " + ", ".join(f"{k} {v}" for k, v in list(c.values.items())[:6])
            out.append(f"    # review: not mapped (kept as an extra attribute): {_q(c.header)} "
                       f"({desc})")
    return "\n".join(out) + "\n"


def _render_rule(r: Rule) -> list[str]:
    note = f"    # review: {r.review}" if r.review else ""
    spec = r.spec
    unmapped = [f"        # review: unmapped value {_q(code)} ({n} rows): map it or its rows "
                "are held" for code, n in r.unmapped.items()]
    if set(spec) == {"column"}:
        return [f"      {r.target}: {_q(spec['column'])}{note}"] + unmapped
    lines = [f"      {r.target}:{note}"]
    for k, v in spec.items():
        if k == "values":
            lines.append("        values:")
            for code, val in v.items():
                how = r.values_review.get(code)
                lines.append(f"          {_q(code)}: {val}"
                             + (f"    # review: {how} match" if how else ""))
            lines += ["  " + u for u in unmapped]
        elif k == "join":
            lines.append(f"        join: [{', '.join(_q(c) for c in v)}]")
        elif k == "split":
            inner = ", ".join(f"{kk}: {_q(vv) if kk != 'index' else vv}" for kk, vv in v.items())
            lines.append(f"        split: {{{inner}}}")
        elif k == "format" and isinstance(v, list):
            lines.append(f"        format: [{', '.join(_q(f) for f in v)}]")
        else:
            lines.append(f"        {k}: {_q(v)}")
    return lines


def describe(profiles: list[TableProfile]) -> str:
    """The profile as text: one line per column."""
    out = []
    for p in profiles:
        out.append(f"{p.name}: {p.rows} rows, {len(p.columns)} columns")
        for c in p.columns:
            bits = [f"{c.kind}", f"{c.filled}/{p.rows} filled", f"{c.distinct} distinct"]
            if c.date_formats:
                bits.append("formats " + " | ".join(c.date_formats[:3])
                            + ("" if c.day_first is not None else " (day/month ambiguous)"))
            if c.postcodes:
                bits.append(f"{c.postcodes} postcodes")
            if c.id_like:
                bits.append("identifier")
            line = f"  {c.header!r}: " + ", ".join(bits)
            if c.values:
                line += "; values " + ", ".join(f"{k} ({v})" for k, v in
                                               list(c.values.items())[:10])
            elif c.sample:
                line += "; e.g. " + ", ".join(repr(s[:30]) for s in c.sample[:3])
            out.append(line)
    return "\n".join(out)


def inspect_file(path: str | Path) -> tuple[list[TableProfile], list[Draft], list[tuple[str, str]]]:
    """Profile an export and draft an entry per table that looks like a contract file."""
    profiles = profile_file(Path(path))
    drafts, skipped = [], []
    for p in profiles:
        if len(p.columns) < 2 or p.rows == 0:
            skipped.append((p.name, f"{len(p.columns)} column(s), {p.rows} rows: not a data "
                                    "table"))
            continue
        d = draft_table(p)
        named = sum(r.named for r in d.rules)
        if named < MIN_NAMED or not any(c.required for c in d.spec.columns if d.rule(c.name)):
            skipped.append((p.name, f"no contract file fits it (closest: {d.spec.name}.csv, "
                                    f"{named} column(s) matched by name)"))
            continue
        drafts.append(d)
    return profiles, drafts, skipped

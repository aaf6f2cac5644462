"""UK postcodes: normalisation, extraction from free text, and the reference files.

A UK unit postcode is an outward code (area letters, district digits, optional
letter or digit: ``B7``, ``B15``, ``WS1``, ``EC1A``, ``W1A``) and an inward code
(sector digit and two unit letters: ``4PS``).  Whatever the case or spacing a
person wrote (``b74ps``, ``B7  4PS``, ``b7 4ps``), the canonical form is
``"OUTWARD INWARD"`` with a single space: ``"B7 4PS"``.

Reference files (no network, read from disk):

- OS Code-Point Open CSV: no header row; the column order is given by the
  product's ``Code-Point_Open_Column_Headers.csv`` (bundled as
  ``data/reference/gazetteer/codepoint_open_column_headers.csv``).
- ONS Postcode Directory (ONSPD) CSV, with a header row (old ``pcds, oseast1m,
  osnrth1m, osgrdind, oslaua, osward`` names or the 2025 ``east1m, north1m,
  gridind, lad25cd, wd25cd`` style names).

Both are returned as the *postcodes frame*: ``postcode`` (canonical),
``easting``, ``northing`` (British National Grid EPSG:27700, metres; NaN when
the file has no coordinates), ``quality`` (Code-Point positional quality /
ONSPD grid indicator, int), ``district_code`` (local authority), ``ward_code``.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

POSTCODE_COLUMNS = ["postcode", "easting", "northing", "quality", "district_code", "ward_code"]

# Outward code: 1-2 area letters, a district digit, an optional digit or letter.
_OUTWARD = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
_INWARD = r"[0-9][A-Z]{2}"
#: A full unit postcode anywhere in upper-cased text, any spacing between the halves.
UNIT_PATTERN = re.compile(rf"(?<![A-Z0-9])({_OUTWARD})\s*({_INWARD})(?![A-Z0-9])")
#: A postcode sector (``B7 4``) not followed by unit letters.
SECTOR_PATTERN = re.compile(rf"(?<![A-Z0-9])({_OUTWARD})\s+([0-9])(?![A-Z0-9])")
#: A postcode district standing alone as a word (``B7``, ``WS10``).
DISTRICT_PATTERN = re.compile(rf"(?<![A-Z0-9])({_OUTWARD})(?![A-Z0-9])")
_VALID = re.compile(rf"^(?:{_OUTWARD}){_INWARD}$|^GIR0AA$")

_CODEPOINT_HEADERS = (
    Path(__file__).resolve().parents[2]
    / "data" / "reference" / "gazetteer" / "codepoint_open_column_headers.csv"
)


def postcode_key(values: pd.Series | Iterable[str]) -> pd.Series:
    """Upper-case, space-free form of each value (``"b7 4ps" -> "B74PS"``); vectorised."""
    s = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype="object")
    return s.astype("string").str.upper().str.replace(r"\s+", "", regex=True)


def format_key(keys: pd.Series) -> pd.Series:
    """Canonical ``"OUTWARD INWARD"`` from space-free keys (inward = last three characters)."""
    keys = keys.astype("string")
    return keys.str[:-3] + " " + keys.str[-3:]


def normalise_postcodes(values: pd.Series | Iterable[str]) -> pd.Series:
    """Canonical postcode for each value that is exactly one postcode, else ``<NA>``.

    Any case and any spacing: ``"b74ps"``, ``"B7  4PS"`` and ``" b7 4ps "`` all give
    ``"B7 4PS"``.  Values with other text around the postcode are not postcodes
    (use :func:`extract_postcodes`).

    >>> normalise_postcodes(["b74ps", "B1  1AY", "not known"]).tolist()
    ['B7 4PS', 'B1 1AY', <NA>]
    """
    keys = postcode_key(values)
    ok = keys.str.fullmatch(_VALID.pattern).fillna(False).astype(bool)
    out = format_key(keys).where(ok)
    return out.astype("string")


def normalise_postcode(value: str | None) -> str | None:
    """Canonical form of one postcode (``"b74ps" -> "B7 4PS"``) or ``None`` if it is not one."""
    if value is None:
        return None
    out = normalise_postcodes([value]).iloc[0]
    return None if pd.isna(out) else str(out)


def extract_postcodes(texts: pd.Series | Iterable[str]) -> pd.DataFrame:
    """Find the postcode evidence in free texts (vectorised).

    Returns one row per input (same index) with columns:

    - ``postcode``: the first full unit postcode in the text, canonical, or ``<NA>``;
    - ``postcode_span``: ``(start, end)`` character offsets of that postcode, or ``None``;
    - ``sector``: a postcode sector written without unit letters (``"B7 4"``) or ``<NA>``;
    - ``district``: an outward code standing alone (``"B7"``), or ``<NA>``.  Any
      alphanumeric token of outward-code shape qualifies, so callers must check it
      against the districts they know.

    >>> extract_postcodes(["found at 12 Ladywell Walk b54st", "somewhere in B7"])[["postcode", "district"]].values.tolist()
    [['B5 4ST', <NA>], [<NA>, 'B7']]
    """
    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype="object")
    up = s.astype("string").fillna("").str.upper()
    unit = up.str.extract(UNIT_PATTERN.pattern)
    postcode = (unit[0] + " " + unit[1]).astype("string")
    # The span is needed to strip the postcode from the text before name matching.
    spans = [
        (m.start(), m.end()) if (m := UNIT_PATTERN.search(t)) else None
        for t in up.tolist()
    ] if postcode.notna().any() else [None] * len(up)
    rest = up.str.replace(UNIT_PATTERN.pattern, " ", regex=True)
    sec = rest.str.extract(SECTOR_PATTERN.pattern)
    sector = (sec[0] + " " + sec[1]).astype("string")
    rest = rest.str.replace(SECTOR_PATTERN.pattern, " ", regex=True)
    district = rest.str.extract(DISTRICT_PATTERN.pattern)[0].astype("string")
    district = district.where(sector.isna(), sector.str.split(" ").str[0])
    return pd.DataFrame(
        {"postcode": postcode, "postcode_span": pd.Series(spans, index=s.index, dtype="object"),
         "sector": sector, "district": district},
        index=s.index,
    )


def district_of(postcodes: pd.Series) -> pd.Series:
    """Outward code (``"B7 4PS" -> "B7"``) of canonical postcodes."""
    return postcodes.astype("string").str.split(" ").str[0]


def sector_of(postcodes: pd.Series) -> pd.Series:
    """Postcode sector (``"B7 4PS" -> "B7 4"``) of canonical postcodes."""
    p = postcodes.astype("string")
    return p.str[:-2]


def codepoint_headers(path: str | Path | None = None) -> list[str]:
    """Long column names of Code-Point Open (second row of its headers file)."""
    headers = pd.read_csv(path or _CODEPOINT_HEADERS, header=None, dtype=str)
    return [str(h).strip() for h in headers.iloc[-1].tolist()]


def read_codepoint(
    paths: str | Path | Iterable[str | Path], headers: str | Path | None = None
) -> pd.DataFrame:
    """Read OS Code-Point Open CSV files (no header row) into the postcodes frame.

    ``headers`` is the product's column-headers file (default: the bundled copy).
    Rows with positional quality 90 (no coordinates) keep NaN easting/northing.
    Coordinates are British National Grid (EPSG:27700) metres.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    names = codepoint_headers(headers)
    parts = [
        pd.read_csv(p, header=None, names=names, dtype=str, keep_default_na=False)
        for p in paths
    ]
    raw = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=names)
    col = {n.lower(): n for n in names}

    def pick(*cands: str) -> pd.Series:
        for c in cands:
            if c.lower() in col:
                return raw[col[c.lower()]]
        return pd.Series([""] * len(raw), dtype=str)

    return _postcode_frame(
        pick("Postcode", "PC"),
        pick("Eastings", "EA"),
        pick("Northings", "NO"),
        pick("Positional_quality_indicator", "PQ"),
        pick("Admin_district_code", "DC"),
        pick("Admin_ward_code", "WC"),
    )


_ONSPD_FIELDS = {
    "postcode": ["pcds", "pcd", "pcd2", "pcd7", "pcd8", "postcode"],
    "easting": ["oseast1m", "east1m", "easting", "oseast100m"],
    "northing": ["osnrth1m", "north1m", "northing", "osnrth100m"],
    "quality": ["osgrdind", "gridind", "quality"],
    "district_code": ["oslaua", "lad25cd", "lad24cd", "lad23cd", "lad22cd", "laua", "district_code"],
    "ward_code": ["osward", "wd25cd", "wd24cd", "wd23cd", "wd22cd", "ward", "ward_code"],
}


def read_onspd(paths: str | Path | Iterable[str | Path]) -> pd.DataFrame:
    """Read ONS Postcode Directory CSV files (header row) into the postcodes frame.

    Recognises the classic column names (``pcds``, ``oseast1m``, ``osnrth1m``,
    ``osgrdind``, ``oslaua``, ``osward``) and the newer ones (``east1m``,
    ``north1m``, ``gridind``, ``ladNNcd``, ``wdNNcd``), case-insensitively.
    Terminated postcodes (``doterm`` set) are kept: old records still use them.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    frames = []
    for p in paths:
        raw = pd.read_csv(p, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        lower = {c.strip().lower(): c for c in raw.columns}

        def pick(field: str, raw=raw, lower=lower) -> pd.Series:
            for c in _ONSPD_FIELDS[field]:
                if c in lower:
                    return raw[lower[c]]
            if field == "postcode":
                raise ValueError(f"{p}: no postcode column (expected one of pcds, pcd, pcd7, pcd8)")
            return pd.Series([""] * len(raw), dtype=str)

        frames.append(_postcode_frame(*(pick(f) for f in POSTCODE_COLUMNS)))
    return pd.concat(frames, ignore_index=True) if frames else _postcode_frame(*[pd.Series([], dtype=str)] * 6)


def read_postcode_file(path: str | Path, headers: str | Path | None = None) -> pd.DataFrame:
    """Read either format, detected from the first line: a header naming a postcode
    column means ONSPD, otherwise Code-Point Open."""
    with open(path, encoding="utf-8-sig") as fh:
        first = fh.readline().strip().lower().replace('"', "").split(",")
    if any(c.strip() in _ONSPD_FIELDS["postcode"] for c in first):
        return read_onspd(path)
    return read_codepoint(path, headers)


def _postcode_frame(pc, east, north, quality, district, ward) -> pd.DataFrame:
    postcode = normalise_postcodes(pc.reset_index(drop=True))
    e = pd.to_numeric(pd.Series(east).reset_index(drop=True).replace("", np.nan), errors="coerce")
    n = pd.to_numeric(pd.Series(north).reset_index(drop=True).replace("", np.nan), errors="coerce")
    q = pd.to_numeric(pd.Series(quality).reset_index(drop=True).replace("", np.nan), errors="coerce")
    # Code-Point quality 90 and ONSPD grid indicator 9 mean "no coordinates" (written as 0 / blank).
    no_xy = (e.fillna(0) <= 0) & (n.fillna(0) <= 0)
    e, n = e.mask(no_xy), n.mask(no_xy)

    def code(s: pd.Series) -> pd.Series:
        s = pd.Series(s).reset_index(drop=True).astype("string").str.strip()
        return s.mask(s == "")

    out = pd.DataFrame({
        "postcode": postcode,
        "easting": e.astype(float),
        "northing": n.astype(float),
        "quality": q.astype("Int64"),
        "district_code": code(district),
        "ward_code": code(ward),
    })
    out = out[out["postcode"].notna()]
    return out.drop_duplicates("postcode", keep="last").reset_index(drop=True)

"""Ingest: a drop folder of agency exports into the store (shared/DATA_CONTRACT.md).

Every row read is either accepted or held with its file, line, field and reason; the counts
reconcile (read = accepted + held). Validation is vectorised per column. Each file is stored in
one transaction, so a failure or a kill leaves whole files only, and re-running completes the job.
Re-ingesting the same rows changes nothing: natural keys are unique per (source, id) and a row
whose content hash is unchanged is not written again.

>>> # wayfinder ingest DROP_DIR --db sqlite:///wayfinder.sqlite --json
"""
from __future__ import annotations

import csv
import io
import json
import re

from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from geo.storage import schema
from geo.model import CONTRACT, REF_KINDS, VOCAB, Column, Contract, FileSpec, normalise_vocab
from geo.storage.store import Store, _rows_of, utcnow

MAX_FIELD = 1_000_000          # characters in one free-text cell
MAX_ID = 128                   # characters in an id
LOCAL_TZ = "Europe/London"
csv.field_size_limit(64 * MAX_FIELD)


class DropError(RuntimeError):
    """The drop itself cannot be read (no folder, no contract file, not CSV, undecodable)."""


@dataclass
class FileReport:
    read: int = 0
    accepted: int = 0
    new: int = 0
    held: int = 0
    warnings: int = 0
    updated: int = 0
    warning_messages: list[str] = field(default_factory=list)
    as_file: str | None = None     # the contract file a mapped export feeds
    filtered: int = 0              # rows a mapping's `where` left out (not read)

    def contract(self) -> dict:
        """The `--json` form: read, accepted, new, held, warnings (and updated; for a mapped
        export also "as", its contract file, and "filtered")."""
        d = asdict(self)
        d.pop("warning_messages")
        as_file = d.pop("as_file")
        filtered = d.pop("filtered")
        if as_file is not None:
            d = {"as": as_file, **d, "filtered": filtered}
        return d


@dataclass
class IngestReport:
    drop: str
    run_id: int
    files: dict[str, FileReport]
    geocoded: int = 0
    mapping: dict | None = None    # with --mapping: {"file", "skipped", "warnings"}

    def to_json(self) -> dict:
        out = {"files": {name: r.contract() for name, r in self.files.items()},
               "run_id": self.run_id, "geocoded": self.geocoded}
        if self.mapping is not None:
            out["mapping"] = self.mapping
        return out

    def __str__(self) -> str:
        lines = [f"drop {self.drop} (run {self.run_id})",
                 f"{'file':<24}{'read':>9}{'accepted':>10}{'new':>9}{'held':>7}{'warnings':>10}"]
        for name, r in self.files.items():
            lines.append(f"{name:<24}{r.read:>9}{r.accepted:>10}{r.new:>9}{r.held:>7}"
                         f"{r.warnings:>10}" + (f"  -> {r.as_file}" if r.as_file else ""))
            if r.filtered:
                lines.append(f"  {r.filtered} rows left out by the mapping's where")
            lines += [f"  warning: {w}" for w in r.warning_messages[:5]]
        if self.mapping is not None:
            lines += [f"skipped {name}: {why}" for name, why in self.mapping["skipped"].items()]
            lines += [f"mapping warning: {w}" for w in self.mapping["warnings"]]
        lines.append(f"geocoded {self.geocoded} new location texts")
        held = sum(r.held for r in self.files.values())
        if held:
            lines.append(f"{held} rows held: list them with `wayfinder held --run {self.run_id}`")
        return "\n".join(lines)


# ---- reading ------------------------------------------------------------------------------------
@dataclass
class RawTable:
    """A file as read: every cell a string, the physical line of each row, and rows that could not
    be split into the header's columns."""

    name: str
    frame: pd.DataFrame            # columns: normalised header names; index: 0..n-1
    lines: np.ndarray              # physical line number (1-based, header = its own line)
    malformed: list[tuple[int, str, list[str]]]   # (line, reason, cells)
    headers: list[str] = field(default_factory=list)   # header names as written (trimmed)
    # a mapped export (geo.storage.mapping): the export's own column for each contract column (reasons
    # name it), the export's rows as read (kept with held rows), and problems the mapping found
    # (e.g. a code outside a values table), which come before the contract's checks
    fields: dict[str, str] = field(default_factory=dict)
    original: pd.DataFrame | None = None
    held_field: pd.Series | None = None
    held_reason: pd.Series | None = None
    as_file: str | None = None
    filtered: int = 0


def find_files(drop: Path, contract: Contract = CONTRACT) -> dict[str, Path]:
    """The contract files in a drop folder, by contract name (CSV or XLSX, any case)."""
    if not drop.exists():
        raise DropError(f"{drop}: no such folder")
    if not drop.is_dir():
        raise DropError(f"{drop}: not a folder")
    found: dict[str, Path] = {}
    names = {spec.name for spec in contract.files}
    for path in sorted(drop.iterdir()):
        stem, suffix = path.stem.lower(), path.suffix.lower()
        if stem in names and suffix in (".csv", ".xlsx") and path.is_file():
            if stem in found:
                raise DropError(f"{drop}: both {found[stem].name} and {path.name}; keep one")
            found[stem] = path
    if not found:
        raise DropError(f"{drop}: no contract file (expected one of "
                        + ", ".join(f"{n}.csv" for n in sorted(names)) + ")")
    return found


def read_table(path: Path, sheet: str | None = None) -> RawTable:
    """Read a CSV (UTF-8, BOM allowed, RFC 4180) or XLSX (first sheet, or `sheet`) as strings.

    CSV files whose records are one physical line each (nearly all exports) are parsed by pandas'
    C parser; files with quoted line breaks or ragged rows fall back to the csv module, which
    reports the physical line of every record.
    """
    if path.suffix.lower() == ".xlsx":
        return _table_from_rows(path.name, _read_xlsx(path, sheet))
    text = _decode(path)
    fast = _fast_csv(path.name, text)
    return fast if fast is not None else _table_from_rows(path.name, _read_csv(path.name, text))


def _header_names(header: list[str]) -> list[str]:
    """Header names trimmed and case-folded; duplicate or empty names get a suffix."""
    seen: dict[str, int] = {}
    names = []
    for h in header:
        h = str(h).strip().lower() or "unnamed"
        seen[h] = seen.get(h, 0) + 1
        names.append(h if seen[h] == 1 else f"{h}.{seen[h]}")
    return names


def _fast_csv(name: str, text: str) -> RawTable | None:
    try:
        # bytes: the C parser reads UTF-8 itself (a text stream went through Python's codec)
        df = pd.read_csv(io.BytesIO(text.encode("utf-8")), header=None, dtype=str, na_filter=False,
                         skip_blank_lines=False, engine="c")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error):
        return None
    physical = text.count("\n") + (1 if text and not text.endswith("\n") else 0)
    if len(df) != physical:            # a quoted line break: line numbers would drift
        return None
    df = df.fillna("")
    lines = np.arange(1, len(df) + 1, dtype=np.int64)
    nonblank = np.zeros(len(df), dtype=bool)
    for _, cells in df.items():      # a row with any cell not only whitespace
        nonblank |= (cells.str.strip() != "").to_numpy()
    if not nonblank.any():
        raise DropError(f"{name}: empty file (no header row)")
    first = int(np.flatnonzero(nonblank)[0])
    header = df.iloc[first].tolist()
    if not any(str(h).strip() for h in header):
        raise DropError(f"{name}: line {first + 1}: empty header row")
    keep = nonblank.copy()
    keep[: first + 1] = False
    body = df[keep]
    body.columns = _header_names(header)
    return RawTable(name, body.reset_index(drop=True), lines[keep], [],
                    [str(h).strip() for h in header])


def _table_from_rows(name: str, rows: list[tuple[int, list[str]]]) -> RawTable:
    rows = [(ln, cells) for ln, cells in rows if any(c.strip() for c in cells)]
    if not rows:
        raise DropError(f"{name}: empty file (no header row)")
    header_line, header = rows[0]
    if not any(h.strip() for h in header):
        raise DropError(f"{name}: line {header_line}: empty header row")
    width = len(header)
    good, lines, malformed = [], [], []
    for ln, cells in rows[1:]:
        if len(cells) <= width:             # a short row: its trailing cells are empty
            good.append(cells + [""] * (width - len(cells)))
            lines.append(ln)
        else:
            malformed.append((ln, f"{len(cells)} cells where the header has {width}", cells))
    names = _header_names(header)
    frame = pd.DataFrame(good, columns=names, dtype=object) if good else \
        pd.DataFrame(columns=names, dtype=object)
    return RawTable(name, frame.fillna(""), np.asarray(lines, dtype=np.int64), malformed,
                    [str(h).strip() for h in header])


def _decode(path: Path) -> str:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DropError(f"{path.name}: line {line}: not UTF-8 text "
                        f"(byte 0x{data[exc.start]:02x}); export it as CSV UTF-8") from None
    if "\x00" in text:
        line = text[:text.index("\x00")].count("\n") + 1
        raise DropError(f"{path.name}: line {line}: NUL byte; this is not a CSV text file")
    return text


def _read_csv(name: str, text: str) -> list[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    out = []
    start = 1
    try:
        for cells in reader:
            out.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DropError(f"{name}: line {reader.line_num}: not valid CSV ({exc})") from None
    return out


def xlsx_sheets(path: Path) -> list[str]:
    """The sheet names of a workbook, in order."""
    import openpyxl
    try:
        wb = openpyxl.load_workbook(path, read_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException ...
        raise DropError(f"{path.name}: not a readable XLSX workbook ({exc})") from None
    try:
        return list(wb.sheetnames)
    finally:
        wb.close()


def _read_xlsx(path: Path, sheet: str | None = None) -> list[tuple[int, list[str]]]:
    import openpyxl
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # zipfile.BadZipFile, KeyError, InvalidFileException ...
        raise DropError(f"{path.name}: not a readable XLSX workbook ({exc})") from None
    try:
        if sheet is not None and sheet not in wb.sheetnames:
            raise DropError(f"{path.name}: no sheet {sheet!r} (sheets: {', '.join(wb.sheetnames)})")
        ws = wb[sheet] if sheet is not None else wb.worksheets[0]
        out = []
        for i, values in enumerate(ws.iter_rows(values_only=True), start=1):
            out.append((i, [_xlsx_cell(v) for v in values]))
        return out
    finally:
        wb.close()


def _xlsx_cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, datetime):
        return v.isoformat(sep="T")
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


# ---- parsing values (vectorised) -----------------------------------------------------------------
_OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"
_ISO = r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
_UK = r"^\d{1,2}/\d{1,2}/\d{4}(?: \d{1,2}:\d{2}(?::\d{2})?)?$"


def parse_datetimes(values: pd.Series) -> pd.Series:
    """ISO 8601 or UK day-first date-times to naive UTC; a value without offset is Europe/London
    local time. Unparseable values become NaT (empty cells too)."""
    s = values.astype(str).str.strip()
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    iso = s.str.match(_ISO)
    has_offset = iso & s.str.contains(_OFFSET, case=False)
    if has_offset.any():
        parsed = pd.to_datetime(s[has_offset], format="ISO8601", utc=True, errors="coerce")
        out[has_offset] = parsed.dt.tz_localize(None)
    local = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    naive_iso = iso & ~has_offset
    if naive_iso.any():
        local[naive_iso] = pd.to_datetime(s[naive_iso].str.replace("T", " "),
                                          format="ISO8601", errors="coerce")
    uk = s.str.match(_UK)
    if uk.any():
        parsed = pd.Series(pd.NaT, index=s[uk].index, dtype="datetime64[ns]")
        for fmt in ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y"):
            todo = parsed.isna()
            if not todo.any():
                break
            parsed[todo] = pd.to_datetime(s[uk][todo], format=fmt, errors="coerce")
        local[uk] = parsed
    has_local = local.notna()
    if has_local.any():
        loc = local[has_local].dt.tz_localize(
            LOCAL_TZ, ambiguous=np.ones(int(has_local.sum()), dtype=bool),
            nonexistent="shift_forward")
        out[has_local] = loc.dt.tz_convert("UTC").dt.tz_localize(None)
    bad_year = (out.dt.year < 1900) | (out.dt.year > 2100)
    return out.mask(bad_year)


def parse_dates(values: pd.Series) -> pd.Series:
    """Dates (ISO or UK day-first); a time part, if any, is dropped. NaT when unparseable."""
    s = values.astype(str).str.strip()
    # a local time part goes before parsing: converting it to UTC would move a summer midnight
    # (an XLSX date cell reads as 2003-07-06T00:00:00) to the day before
    s = s.str.replace(r"^(\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4})[ T]\d{1,2}:\d{2}"
                      r"(?::\d{2}(?:\.\d+)?)?$", r"\1", regex=True)
    iso = pd.to_datetime(s.where(s.str.match(r"^\d{4}-\d{2}-\d{2}$")), format="%Y-%m-%d",
                         errors="coerce")
    uk = pd.to_datetime(s.where(s.str.match(r"^\d{1,2}/\d{1,2}/\d{4}$")), format="%d/%m/%Y",
                        errors="coerce")
    full = parse_datetimes(s.where(~s.str.match(r"^(\d{4}-\d{2}-\d{2}|\d{1,2}/\d{1,2}/\d{4})$"),
                                   ""))
    out = iso.fillna(uk).fillna(full.dt.normalize())
    return out.mask((out.dt.year < 1900) | (out.dt.year > 2100))


_REF = re.compile(r"^\s*(" + "|".join(REF_KINDS) + r")\s*:\s*\S", re.I)


def _short(v: str, n: int = 40) -> str:
    v = str(v)
    return repr(v if len(v) <= n else v[:n] + "...")


class _Problems:
    """The first problem found on each row, with its field and reason."""

    def __init__(self, index: pd.Index):
        self.field = pd.Series("", index=index, dtype=object)
        self.reason = pd.Series("", index=index, dtype=object)

    def add(self, mask: pd.Series, field_name: str, reason: pd.Series | str,
            value: pd.Series | None = None, value_first: bool = False) -> None:
        """Record `reason` for rows in `mask` that have no problem yet. With `value`, the
        offending value (shortened) is quoted after the reason (before it with value_first)."""
        mask = mask.fillna(False).astype(bool)
        if not mask.any():         # most checks find nothing: no need to look at field
            return
        mask = mask & (self.field == "")
        if not mask.any():
            return
        self.field[mask] = field_name
        if isinstance(reason, pd.Series):
            reason = reason.reindex(self.reason.index)[mask]
        if value is not None:
            quoted = value[mask].map(_short)
            reason = quoted + " " + reason if value_first else reason + " " + quoted
        self.reason[mask] = reason

    @property
    def held(self) -> pd.Series:
        return self.field != ""


def validate(spec: FileSpec, raw: pd.DataFrame, drop_name: str
             ) -> tuple[pd.DataFrame, _Problems, list[str]]:
    """Check and normalise every column of one contract file, vectorised.

    Returns the normalised frame (one row per input row), the problems per row and file-level
    warnings. Columns the contract does not name are kept in `extra` (JSON).
    """
    warnings: list[str] = []
    problems = _Problems(raw.index)
    out = pd.DataFrame(index=raw.index)
    for col in spec.columns:
        if col.name not in raw.columns:
            if col.required:
                problems.add(pd.Series(True, index=raw.index), col.name,
                             f"required column {col.name!r} is missing from the header")
            out[col.name] = pd.Series(None, index=raw.index, dtype=object)
            continue
        values = raw[col.name].astype(str).str.strip()
        empty = values == ""
        if col.required:
            problems.add(empty, col.name, "required value is empty")
        limit = MAX_FIELD if col.kind in ("text", "list", "refs", "location") else MAX_ID
        too_long = values.str.len() > limit
        problems.add(too_long, col.name, f"value longer than {limit} characters")
        out[col.name] = _convert(col, values, empty, problems)
    extras = [c for c in raw.columns if c not in spec.column_names]
    if extras:
        warnings.append(f"columns kept as extra attributes: {', '.join(extras[:10])}")
        ex = raw[extras].astype(str)
        out["extra"] = [json.dumps({k: v for k, v in zip(extras, row) if v != ""},
                                   ensure_ascii=False) for row in ex.itertuples(index=False)]
    else:
        out["extra"] = None
    src = out["source"].where(out["source"].notna() & (out["source"] != ""), drop_name) \
        if "source" in out else drop_name
    out["source"] = src
    return out, problems, warnings


def _convert(col: Column, values: pd.Series, empty: pd.Series, problems: _Problems):
    """One column's values converted to its kind; bad non-empty values recorded as problems."""
    if col.kind == "datetime":
        parsed = _distinct_then_take(values, parse_datetimes)
        problems.add(~empty & parsed.isna(), col.name,
                     "not a date-time (ISO 8601 or dd/mm/yyyy hh:mm):", values)
        return parsed
    if col.kind == "date":
        parsed = _distinct_then_take(values, parse_dates)
        problems.add(~empty & parsed.isna(), col.name,
                     "not a date (ISO 8601 or dd/mm/yyyy):", values)
        return parsed.dt.date.where(parsed.notna(), None)
    if col.kind == "vocab":
        norm = _per_distinct(values, lambda u: _vocab_values(u, col.vocab))
        allowed = ", ".join(VOCAB[col.vocab])
        problems.add(~empty & norm.isna(), col.name,
                     f"is not one of: {allowed}", values, value_first=True)
        return norm
    if col.kind in ("int", "float"):
        num = pd.to_numeric(values.where(~empty), errors="coerce")
        bad = ~empty & (num.isna() | ~np.isfinite(num.fillna(0)))
        if col.kind == "int":
            bad |= ~empty & num.notna() & (num.fillna(0) % 1 != 0)
        problems.add(bad, col.name, f"not {'an integer' if col.kind == 'int' else 'a number'}:",
                     values)
        num = num.where(~bad)
        return num.astype("Int64") if col.kind == "int" else num
    if col.kind == "ref":
        problems.add(~empty & ~values.str.match(_REF), col.name,
                     "not a typed reference (child:ID, person:ID, premises:ID, place:TEXT, "
                     "vehicle:REG):", values)
    if col.kind in ("list", "refs"):
        cleaned = _per_distinct(values, lambda u: [";".join(p.strip() for p in v.split(";")
                                                            if p.strip()) for v in u])
        # the column type Series.map gives (str: its values are all strings)
        cleaned = cleaned.infer_objects() if len(cleaned) else cleaned
        return cleaned.where(~empty, None)
    return values.where(~empty, None)


def _per_distinct(values: pd.Series, convert) -> pd.Series:
    """`convert` (a list of distinct strings to a list of values) applied to each value of a
    column of strings, once per distinct value: vocabulary and list cells repeat a few hundred
    forms over a whole file, so the per-value Python work runs on those forms only. Returns an
    object column on `values`' index."""
    def column(distinct: pd.Series) -> pd.Series:
        converted = np.empty(len(distinct), dtype=object)
        converted[:] = convert(distinct.tolist())
        return pd.Series(converted, index=distinct.index, dtype=object)
    return _distinct_then_take(values, column)


def _distinct_then_take(values: pd.Series, parse) -> pd.Series:
    """`parse` (a value-by-value parser of a column: parse_datetimes, parse_dates) run on the
    distinct values only, its result taken back to every row: dates of birth and empty cells
    repeat, and the parsers' regexes, formats and time-zone work then run once per form."""
    codes, distinct = pd.factorize(values, use_na_sentinel=False)
    if len(distinct) == len(values):
        return parse(values)
    parsed = parse(pd.Series(distinct, dtype=values.dtype, name=values.name))
    return pd.Series(parsed.to_numpy()[codes], index=values.index, dtype=parsed.dtype,
                     name=parsed.name)


def _vocab_values(distinct: list[str], vocab: str) -> list:
    """The controlled value (None: not one) of each distinct free-typed value, as
    normalise_vocab gives it; grading letters upper-cased."""
    norm = normalise_vocab(pd.Series(distinct, dtype=object), vocab)
    out = norm.astype(object).where(norm.notna(), None).tolist()
    if vocab in ("intel_eval", "handling"):
        out = [v.upper() if isinstance(v, str) else v for v in out]
    return out


# ---- the job -----------------------------------------------------------------------------------
def row_hash(frame: pd.DataFrame) -> pd.Series:
    """A content hash of each row (hex), for telling changed rows from unchanged ones."""
    h = pd.util.hash_pandas_object(frame.astype(str), index=False).to_numpy()
    # 16 lower-case hex digits per row ("{:016x}"), from one hex string of the big-endian bytes
    hexed = np.frombuffer(h.astype(">u8").tobytes().hex().encode("ascii"), dtype="S16")
    return pd.Series(hexed.astype("U16").astype(object), index=frame.index, dtype=object)


def ingest_drop(store: Store, drop: str | Path, geocode: bool = True,
                mapping=None, contract: Contract = CONTRACT) -> IngestReport:
    """Read, validate and store a drop; returns the per-file report. With `mapping` (a
    column-mapping file, or a list of them read as one; geo.storage.mapping), the drop's exports are
    read through it first.

    Raises DropError (and writes nothing) when the drop itself cannot be read.
    """
    drop = Path(drop)
    mapped = None
    if mapping is not None:
        from geo.storage.mapping import Mapping, read_mapped_drop
        mapped = read_mapped_drop(drop, Mapping.load_all(mapping))  # read all before writing
        jobs = mapped.jobs
    else:
        paths = find_files(drop, contract)
        tables = {name: read_table(path) for name, path in paths.items()}   # read all first
        jobs = [(paths[spec.name].name, spec, tables[spec.name]) for spec in contract.files
                if spec.name in tables]
    if all(len(t.frame) + len(t.malformed) == 0 for _, _, t in jobs):
        what = "contract files" if mapped is None else "files read (after the mapping's where)"
        raise DropError(f"{drop}: the drop is empty (its {len(jobs)} {what} have a header row "
                        "and no records): check the export before ingesting")
    if geocode and _has_location_texts(jobs) and not store.has_reference():
        raise DropError("the store holds no reference data (postcodes and boundaries) to geocode "
                        "against: run `wayfinder reference` first, or ingest with --no-geocode")
    drop_name = drop.resolve().name
    with store.engine.begin() as conn:
        run_id = conn.execute(schema.ingest_runs.insert().values(
            drop=str(drop.resolve()), started_at=utcnow(), status="running")).inserted_primary_key[0]
    ctx = _Context(store, drop_name, run_id, contract)
    report = IngestReport(str(drop), run_id, {})
    if mapped is not None:
        files = [mapping] if isinstance(mapping, (str, Path)) else list(mapping)
        report.mapping = {"files": [str(Path(m).resolve()) for m in files],
                          "skipped": mapped.skipped, "warnings": mapped.warnings}
    for name, spec, table in jobs:
        report.files[name] = ctx.ingest_file(spec, table)
    if geocode:
        from geo.places.geocoding import geocode_stored_texts
        report.geocoded = geocode_stored_texts(store)
    with store.engine.begin() as conn:
        conn.execute(schema.ingest_runs.update().where(schema.ingest_runs.c.id == run_id)
                     .values(finished_at=utcnow(), status="done",
                             report=json.dumps(report.to_json())))
    return report


def _has_location_texts(jobs: list[tuple[str, FileSpec, RawTable]]) -> bool:
    """Whether any location column of the tables read holds a value (texts to geocode)."""
    for _, spec, raw in jobs:
        for col in spec.locations:
            if col in raw.frame.columns and (raw.frame[col].astype(str).str.strip() != "").any():
                return True
    return False


#: SQLite page cache while one file is stored (KiB): the inserts land in unique-key and index
#: b-trees in key order, not insertion order, and with SQLite's default 2 MB cache every insert
#: past the first few thousand re-read its index pages from the OS (a fifth of the insert CPU)
INGEST_CACHE_KIB = 256 * 1024


@contextmanager
def _page_cache(conn):
    """A larger SQLite page cache on `conn` for the duration (restored after: the connection goes
    back to the pool); nothing on other backends. Only where pages are kept changes, not what is
    written."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{INGEST_CACHE_KIB}")
    try:
        yield
    finally:
        try:
            conn.exec_driver_sql(f"PRAGMA cache_size={int(before)}")
        except sa.exc.DBAPIError:      # a broken connection: the error that broke it counts
            pass


class _Context:
    """State shared by the files of one drop (ids accepted earlier in the same drop)."""

    def __init__(self, store: Store, drop_name: str, run_id: int, contract: Contract = CONTRACT):
        self.store, self.drop_name, self.run_id = store, drop_name, run_id
        self.contract, self.tables = contract, schema.tables_of(contract)
        self.accepted: dict[str, pd.DataFrame] = {}

    def ingest_file(self, spec: FileSpec, raw: RawTable) -> FileReport:
        frame, problems, warnings = validate(spec, raw.frame, self.drop_name)
        rep = FileReport(read=len(raw.frame) + len(raw.malformed), as_file=raw.as_file,
                         filtered=raw.filtered)
        if raw.held_reason is not None:      # a mapping's own problems come first
            first = (raw.held_reason != "").to_numpy()
            problems.field[first] = raw.held_field[first].to_numpy()
            problems.reason[first] = raw.held_reason[first].to_numpy()
        for rule in self.contract.rules(spec.name):
            frame = rule(self, frame, problems, warnings)
        key_cols = ["source", *spec.key]
        # a key is claimed by its first row that is not held for another reason
        has_key = frame[list(spec.key)].notna().all(axis=1) & ~problems.held
        dup = has_key & frame[key_cols].where(has_key).duplicated(keep="first")
        if dup.any():
            lines = pd.Series(raw.lines, index=frame.index)
            firsts = frame.loc[has_key & ~dup, key_cols].assign(first=lines[has_key & ~dup])
            where = frame.loc[dup, key_cols].merge(firsts, on=key_cols, how="left")["first"]
            problems.add(dup, spec.key[0], pd.Series(
                [f"duplicate {spec.key[0]} within (source, file): first at line {int(v)}"
                 for v in where], index=frame.index[dup]))
        held = problems.held
        accepted = frame[~held].copy()
        accepted["row_hash"] = row_hash(accepted.drop(columns=["extra"], errors="ignore"))
        accepted["run_id"] = self.run_id
        cells = [dict(zip(raw.frame.columns, r)) for r in raw.frame[held].itertuples(index=False)]
        if raw.original is not None:     # a mapped export: its own row too, under "export"
            export = raw.original[held.to_numpy()]
            cells = [{**c, "export": dict(zip(export.columns, r))}
                     for c, r in zip(cells, export.itertuples(index=False))]
        held_rows = pd.DataFrame({
            "run_id": self.run_id, "file": raw.name, "line": raw.lines[held.to_numpy()],
            "field": problems.field[held].map(lambda f: raw.fields.get(f, f)).to_numpy(),
            "reason": problems.reason[held].to_numpy(),
            "raw": [json.dumps(c, ensure_ascii=False) for c in cells]})
        if raw.malformed:
            held_rows = pd.concat([held_rows, pd.DataFrame({
                "run_id": self.run_id, "file": raw.name,
                "line": [m[0] for m in raw.malformed], "field": "*",
                "reason": [m[1] for m in raw.malformed],
                "raw": [json.dumps(m[2], ensure_ascii=False) for m in raw.malformed]})],
                ignore_index=True)
        table = self.tables[spec.table]
        with self.store.engine.begin() as conn, _page_cache(conn):
            rep.new, rep.updated = self._upsert(conn, table, key_cols, accepted)
            extra_children = getattr(self, "_minimal_children", None)
            if extra_children is not None and len(extra_children):
                self._upsert(conn, schema.children, ["source", "child_id"], extra_children)
            self._minimal_children = None
            self.store.insert_frame(conn, schema.held_rows, held_rows)
        # later files only look up the keys of earlier ones (several exports may feed one file)
        keys = accepted[["source", *spec.key]]
        earlier = self.accepted.get(spec.name)
        self.accepted[spec.name] = keys if earlier is None else \
            pd.concat([earlier, keys], ignore_index=True)
        rep.accepted, rep.held = len(accepted), len(held_rows)
        rep.warnings = len(warnings) + int(getattr(self, "_row_warnings", 0))
        self._row_warnings = 0
        rep.warning_messages = warnings
        assert rep.read == rep.accepted + rep.held
        return rep

    #: up to this many rows, the stored rows are looked up by key (the ``source, key`` unique
    #: index), not read for the whole of their sources: a day's delta against a national store
    KEYED_LOOKUP_ROWS = 20_000

    def _existing(self, conn, table: sa.Table, key_cols: list[str], accepted) -> pd.DataFrame:
        """``key_cols, row_hash`` of the stored rows of ``accepted``'s sources: every such row,
        or, for a small ``accepted`` with one key besides the source, only the rows whose keys
        it holds (all :meth:`_upsert` reads of them)."""
        cols = [table.c[c] for c in key_cols] + [table.c.row_hash]
        if len(key_cols) == 2 and len(accepted) <= self.KEYED_LOOKUP_ROWS:
            key, conds = table.c[key_cols[1]], []
            for src, part in accepted.groupby("source", sort=True)[key_cols[1]]:
                keys = sorted(set(part.astype(str)))
                conds += [(table.c.source == src) & key.in_(keys[i:i + 500])
                          for i in range(0, len(keys), 500)]
        else:
            sources = sorted(set(accepted["source"].unique()))
            conds = [table.c.source.in_(sources[i:i + 500]) for i in range(0, len(sources), 500)]
        parts = [pd.read_sql(sa.select(*cols).where(c), conn) for c in conds]
        return pd.concat(parts, ignore_index=True) if parts else \
            pd.DataFrame(columns=key_cols + ["row_hash"])

    def _upsert(self, conn, table, key_cols, accepted) -> tuple[int, int]:
        """Insert rows whose key is new, update rows whose content changed; returns (new, updated)."""
        if accepted.empty:
            return 0, 0
        existing = self._existing(conn, table, key_cols, accepted)
        if existing.empty:           # a first ingest of these sources: every row is new
            self.store.insert_frame(conn, table, accepted)
            return len(accepted), 0
        merged = accepted[key_cols].astype(str).merge(
            existing.astype({c: str for c in key_cols}), on=key_cols, how="left")
        is_new = merged["row_hash"].isna().to_numpy()
        changed = (~is_new) & (merged["row_hash"].to_numpy() != accepted["row_hash"].to_numpy())
        self.store.insert_frame(conn, table, accepted[is_new])
        self.store.update_frame(conn, table, accepted[changed], key_cols)
        return int(is_new.sum()), int(changed.sum())

    def resolve_children(self, frame: pd.DataFrame, problems: _Problems, warnings: list[str],
                          what: str) -> pd.DataFrame:
        """Resolve child_id to a child record key: this drop's children (same source first), then
        the store's, else a minimal child created from the record (with a warning)."""
        kids = self.accepted.get("children", pd.DataFrame(columns=["source", "child_id"]))
        stored = self.store.table("children", ("source", "child_id", "from_episode"))
        stored_full = stored[~stored["from_episode"].astype(bool)]
        known = pd.concat([kids[["source", "child_id"]], stored_full[["source", "child_id"]]])
        known = known.drop_duplicates()
        key = pd.Series(None, index=frame.index, dtype=object)
        same = frame[["source", "child_id"]].merge(
            known.assign(hit=True), on=["source", "child_id"], how="left")["hit"].fillna(False)
        own = frame["source"].astype(str) + "/" + frame["child_id"].fillna("").astype(str)
        key[same.to_numpy()] = own[same.to_numpy()]
        any_src = known.drop_duplicates("child_id").set_index("child_id")["source"]
        # Arrow's hash lookup: Series.isin on a str column makes a Python scalar of every key
        listed = pd.Series(_rows_of(frame["child_id"], any_src.index) >= 0, index=frame.index)
        other = key.isna() & frame["child_id"].notna() & listed
        if other.any():
            key[other] = frame.loc[other, "child_id"].map(any_src) + "/" + frame.loc[other, "child_id"]
        unknown = key.isna() & frame["child_id"].notna() & ~problems.held
        key[unknown] = own[unknown]
        frame["child_key"] = key
        self._minimal_children = None
        if unknown.any():
            n = frame.loc[unknown, "child_id"].nunique()
            warnings.append(f"{n} child_id values not in children.csv: minimal child records "
                            f"created from {what}")
            self._row_warnings = int(unknown.sum())
            mk = frame.loc[unknown, ["source", "child_id"]].drop_duplicates()
            mk = mk[~mk.set_index(["source", "child_id"]).index.isin(
                stored.set_index(["source", "child_id"]).index)]
            mk = mk.assign(from_episode=True, extra=None)
            mk["row_hash"] = row_hash(mk)
            mk["run_id"] = self.run_id
            self._minimal_children = mk
        return frame



# ---- per-file rules (registered on the contract's declaration, geo.model.CONTRACT) ---------------
@CONTRACT.rule("episodes")
def _episodes(ctx: _Context, frame: pd.DataFrame, problems: _Problems, warnings: list[str]):
    early = frame["returned_at"].notna() & frame["reported_at"].notna() & \
        (frame["returned_at"] < frame["reported_at"])
    problems.add(early, "returned_at", "returned_at is earlier than reported_at")
    return ctx.resolve_children(frame, problems, warnings, "episodes")


@CONTRACT.rule("cse_assessments")
def _cse_assessments(ctx: _Context, frame, problems: _Problems, warnings):
    early = frame["closed_at"].notna() & frame["assessed_at"].notna() & \
        (frame["closed_at"] < frame["assessed_at"])
    problems.add(early, "closed_at", "closed_at is earlier than assessed_at")
    return ctx.resolve_children(frame, problems, warnings, "CSE assessments")


@CONTRACT.rule("education")
def _education(ctx: _Context, frame, problems: _Problems, warnings):
    early = frame["end_date"].notna() & frame["start_date"].notna() & \
        (pd.to_datetime(frame["end_date"]) < pd.to_datetime(frame["start_date"]))
    problems.add(early, "end_date", "end_date is earlier than start_date")
    return ctx.resolve_children(frame, problems, warnings, "education records")


@CONTRACT.rule("populations")
def _populations(ctx: _Context, frame, problems: _Problems, warnings):
    known = set(ctx.store.read_sql(sa.select(schema.areas.c.area_code))["area_code"])
    code = frame["area_code"].astype(str).str.strip().str.upper()
    frame["area_code"] = code.where(frame["area_code"].notna(), None)
    problems.add(frame["area_code"].notna() & ~code.isin(known), "area_code",
                 "is not a ward or LSOA code of the loaded boundaries",
                 frame["area_code"], value_first=True)
    problems.add(frame["count"].notna() & (frame["count"].fillna(0) < 0), "count",
                 "a population count cannot be negative")
    parts = frame[["area_code", "age_band", "year", "sex"]].astype(str)
    frame["population_id"] = parts.agg("|".join, axis=1)
    return frame


@CONTRACT.rule("return_interviews")
def _return_interviews(ctx: _Context, frame, problems: _Problems, warnings):
    eps = ctx.accepted.get("episodes", pd.DataFrame(columns=["source", "episode_id"]))
    stored = ctx.store.table("episodes", ("source", "episode_id"))
    known = pd.concat([eps[["source", "episode_id"]], stored]).drop_duplicates("episode_id")
    key = frame["episode_id"].map(known.set_index("episode_id")["source"])
    problems.add(frame["episode_id"].notna() & key.isna(), "episode_id",
                 "episode_id not found in episodes.csv or the store:", frame["episode_id"])
    frame["episode_key"] = key + "/" + frame["episode_id"]
    return frame


@CONTRACT.rule("links")
def _links(ctx: _Context, frame, problems, warnings):
    parts = frame[["from_ref", "to_ref", "relation", "observed_at", "source_ref"]].astype(str)
    frame["link_id"] = row_hash(parts)
    return frame


@CONTRACT.rule("premises")
def _premises(ctx: _Context, frame, problems, warnings):
    return _coordinates(frame, problems, kind="premises")


@CONTRACT.rule("places")
def _places(ctx: _Context, frame, problems, warnings):
    return _coordinates(frame, problems, kind="places")


def _coordinates(frame: pd.DataFrame, problems: _Problems, kind: str) -> pd.DataFrame:
    """Easting/northing from BNG or WGS84 columns; half a pair is a problem."""
    from geo.places.gazetteer import to_bng
    for a, b in (("easting", "northing"), ("latitude", "longitude")):
        half = frame[a].notna() ^ frame[b].notna()
        problems.add(half, b if frame[a].notna().any() else a, f"{a} and {b} must be given together")
    ll = frame["easting"].isna() & frame["latitude"].notna() & frame["longitude"].notna()
    bad_ll = ll & ~(frame["latitude"].between(49, 61) & frame["longitude"].between(-9, 3))
    problems.add(bad_ll, "latitude", "latitude/longitude outside Great Britain")
    ll &= ~bad_ll
    if ll.any():
        e, n = to_bng(frame.loc[ll, "latitude"].to_numpy(), frame.loc[ll, "longitude"].to_numpy())
        frame.loc[ll, "easting"], frame.loc[ll, "northing"] = e, n
    bad_en = frame["easting"].notna() & ~(frame["easting"].between(0, 700_000)
                                          & frame["northing"].between(0, 1_300_000))
    problems.add(bad_en, "easting", "easting/northing outside the British National Grid")
    if kind == "premises":
        frame["coordinates_from"] = np.where(frame["easting"].notna(), "given", "none")
    return frame.drop(columns=["latitude", "longitude"])


def held_rows(store: Store, run_id: int | None = None) -> pd.DataFrame:
    """Held rows of one ingest run (default: the latest run that held any)."""
    t = schema.held_rows
    q = sa.select(t.c.run_id, t.c.file, t.c.line, t.c.field, t.c.reason)
    if run_id is None:
        with store.engine.connect() as conn:
            run_id = conn.execute(sa.select(sa.func.max(t.c.run_id))).scalar()
    q = q.where(t.c.run_id == run_id).order_by(t.c.file, t.c.line)
    return store.read_sql(q)

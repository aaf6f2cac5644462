"""Column-mapping files: real agency exports read into the contract's shape.

shared/DATA_CONTRACT.md, "Column-mapping files". A mapping is YAML; for each export (a glob inside
the drop folder) it names the contract file it feeds, the default source, and for each contract
column the export's column, a constant or a small transform (join, split, prefix), with date
formats and value tables. `read_mapped_drop` turns every export into the contract-shaped
`RawTable` that geo.storage.ingest validates as it validates a contract file, keeping the export's own file
name, physical line numbers and column names so that every held row points at the export.

>>> m = Mapping.from_dict({"files": [{"match": "compact_*.csv", "as": "episodes.csv",
...     "columns": {"category": {"column": "Type", "values": {"MFH": "missing"}}}}]})
>>> m.entries[0].spec.name, m.entries[0].rules[0].columns
('episodes', ('Type',))
"""
from __future__ import annotations

import fnmatch
import re

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from geo.storage.ingest import DropError, RawTable, read_table, xlsx_sheets
from geo.model import FILES, FILES_BY_NAME, FileSpec

SOURCES = ("column", "constant", "join", "split")
MODIFIERS = ("sep", "prefix", "format", "values")
ENTRY_KEYS = ("match", "as", "source", "columns", "where", "sheet")
LIST_KINDS = ("list", "refs")


class MappingError(DropError):
    """The mapping file cannot be used (not YAML, or a rule that names nothing it can read)."""


def code_key(value: str) -> str:
    """The contract's vocabulary matching: case-folded, spaces, hyphens and underscores equal."""
    return re.sub(r"[\s\-_]+", "_", str(value).strip().lower())


def _scalar(v) -> str:
    """A YAML scalar as the text a cell would hold (True/False as true/false, None as empty)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


@dataclass(frozen=True)
class ColumnRule:
    """How one contract column is made from an export."""

    target: str                      # contract column
    source: str                      # column | constant | join | split
    columns: tuple[str, ...] = ()    # export headers read, as written in the mapping
    constant: str = ""
    sep: str | None = None
    index: int = 0
    prefix: str = ""
    formats: tuple[str, ...] = ()
    values: dict[str, str] | None = None     # code_key(export code) -> contract value

    @property
    def label(self) -> str:
        """The export column(s) a held row names for this contract column."""
        if self.source == "constant":
            return f"{self.target} (constant in the mapping)"
        return " + ".join(self.columns)


@dataclass(frozen=True)
class Entry:
    """One `files:` entry of a mapping."""

    number: int                      # 1-based position in the mapping
    match: str
    spec: FileSpec
    source: str | None
    rules: tuple[ColumnRule, ...]
    where: tuple[tuple[str, tuple[str, ...]], ...] = ()
    sheet: str | None = None
    origin: str = "mapping"          # the mapping file it comes from

    @property
    def label(self) -> str:
        return f"{self.origin} entry {self.number} ({self.match} as {self.as_file})"

    @property
    def as_file(self) -> str:
        return f"{self.spec.name}.csv"

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatchcase(name.lower(), self.match.lower())


@dataclass
class Mapping:
    entries: list[Entry]
    path: Path | None = None

    @classmethod
    def load(cls, path: str | Path) -> "Mapping":
        path = Path(path)
        if not path.is_file():
            raise MappingError(f"{path}: no such mapping file")
        try:
            data = load_yaml(path.read_text(encoding="utf-8-sig"))
        except UnicodeDecodeError:
            raise MappingError(f"{path.name}: not UTF-8 text") from None
        except Exception as exc:     # yaml.YAMLError and its subclasses
            raise MappingError(f"{path.name}: not valid YAML ({' '.join(str(exc).split())})") \
                from None
        m = cls.from_dict(data, path.name)
        m.path = path
        return m

    @classmethod
    def from_dict(cls, data, where: str = "mapping") -> "Mapping":
        if not isinstance(data, dict) or not isinstance(data.get("files"), list) \
                or not data["files"]:
            raise MappingError(f"{where}: expected a `files:` list of entries")
        return cls([_entry(e, i + 1, where) for i, e in enumerate(data["files"])])

    @classmethod
    def load_all(cls, paths) -> "Mapping":
        """Several mapping files read as one, their entries in the order given (one per system
        that exports into the same drop)."""
        if isinstance(paths, (str, Path)):
            return cls.load(paths)
        entries: list[Entry] = []
        for p in paths:
            entries += cls.load(p).entries
        return cls(entries)


def load_yaml(text: str):
    """YAML with only true/false as booleans (so codes such as Y, N, yes, no, on stay text)."""
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    Loader.yaml_implicit_resolvers = {
        k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
        for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|"
                                 r"false|False|FALSE)$"), list("tTfF"))
    return yaml.load(text, Loader=Loader)  # noqa: S506 - a SafeLoader subclass


def _entry(e, number: int, where: str) -> Entry:
    at = f"{where}: entry {number}"
    if not isinstance(e, dict):
        raise MappingError(f"{at}: expected a map with match, as and columns")
    unknown = [k for k in e if k not in ENTRY_KEYS]
    if unknown:
        raise MappingError(f"{at}: unknown key {unknown[0]!r} (expected {', '.join(ENTRY_KEYS)})")
    if not e.get("match") or not e.get("as"):
        raise MappingError(f"{at}: needs `match` (a glob) and `as` (a contract file)")
    target = re.sub(r"\.(csv|xlsx)$", "", str(e["as"]).strip().lower())
    if target not in FILES_BY_NAME:
        raise MappingError(f"{at}: `as: {e['as']}` is not a contract file (expected one of "
                           + ", ".join(f"{s.name}.csv" for s in FILES) + ")")
    spec = FILES_BY_NAME[target]
    at = f"{where}: entry {number} ({e['match']} as {spec.name}.csv)"
    cols = e.get("columns") or {}
    if not isinstance(cols, dict):
        raise MappingError(f"{at}: `columns` must map contract columns to export columns")
    rules = []
    for target_col, rule in cols.items():
        name = str(target_col).strip().lower()
        if name not in spec.column_names:
            raise MappingError(f"{at}: {target_col!r} is not a column of {spec.name}.csv "
                               f"(its columns: {', '.join(spec.column_names)})")
        rules.append(_rule(name, rule, spec, at))
    whr = e.get("where") or {}
    if not isinstance(whr, dict):
        raise MappingError(f"{at}: `where` must map an export column to the values to keep")
    where_t = tuple((str(c), tuple(_scalar(v) for v in (vs if isinstance(vs, list) else [vs])))
                    for c, vs in whr.items())
    source = _scalar(e.get("source")) or None
    sheet = _scalar(e.get("sheet")) or None
    return Entry(number, str(e["match"]), spec, source, tuple(rules), where_t, sheet, where)


def _rule(target: str, rule, spec: FileSpec, at: str) -> ColumnRule:
    at = f"{at}: column {target}"
    if isinstance(rule, (str, int, float)) and not isinstance(rule, bool):
        return ColumnRule(target, "column", (_scalar(rule),))
    if not isinstance(rule, dict):
        raise MappingError(f"{at}: expected an export header or a map with one of "
                           + ", ".join(SOURCES))
    unknown = [k for k in rule if k not in SOURCES + MODIFIERS]
    if unknown:
        raise MappingError(f"{at}: unknown key {unknown[0]!r} (expected one of "
                           + ", ".join(SOURCES + MODIFIERS) + ")")
    given = [k for k in SOURCES if k in rule]
    if len(given) != 1:
        raise MappingError(f"{at}: give exactly one of {', '.join(SOURCES)}"
                           + (f" (found {', '.join(given)})" if given else ""))
    kind = given[0]
    kw: dict = {}
    if kind == "column":
        kw["columns"] = (_scalar(rule["column"]),)
    elif kind == "constant":
        kw["constant"] = _scalar(rule["constant"])
    elif kind == "join":
        parts = rule["join"]
        if not isinstance(parts, list) or not parts:
            raise MappingError(f"{at}: `join` takes a list of export columns")
        kw["columns"] = tuple(_scalar(p) for p in parts)
        kw["sep"] = ", " if rule.get("sep") is None else str(rule["sep"])
    else:
        sp = rule["split"]
        if not isinstance(sp, dict) or "column" not in sp:
            raise MappingError(f"{at}: `split` takes {{column, sep, index}}")
        try:
            kw["index"] = int(sp.get("index", 0))
        except (TypeError, ValueError):
            raise MappingError(f"{at}: split index must be an integer") from None
        kw["columns"] = (_scalar(sp["column"]),)
        kw["sep"] = None if sp.get("sep") in (None, "") else str(sp["sep"])
    fmt = rule.get("format")
    if fmt is not None:
        fmts = fmt if isinstance(fmt, list) else [fmt]
        if not all(isinstance(f, str) and f for f in fmts):
            raise MappingError(f"{at}: `format` is a strptime string or a list of them")
        kw["formats"] = tuple(fmts)
    if rule.get("values") is not None:
        vals = rule["values"]
        if not isinstance(vals, dict):
            raise MappingError(f"{at}: `values` maps export codes to contract values")
        kw["values"] = {code_key(_scalar(k)): _scalar(v).strip() for k, v in vals.items()}
    if rule.get("prefix") is not None:
        kw["prefix"] = _scalar(rule["prefix"])
    return ColumnRule(target, kind, **kw)


# ---- applying a mapping to a drop ---------------------------------------------------------------
@dataclass
class MappedDrop:
    """What a mapping makes of a drop: the tables to ingest, in contract order, as
    (report name, contract file, table); files skipped with the reason; warnings."""

    jobs: list[tuple[str, FileSpec, RawTable]]
    skipped: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_mapped_drop(drop: Path, mapping: Mapping) -> MappedDrop:
    """Read every file of `drop` through `mapping` (nothing is written)."""
    drop = Path(drop)
    if not drop.is_dir():
        raise DropError(f"{drop}: no such folder" if not drop.exists() else f"{drop}: not a folder")
    out = MappedDrop([])
    used: set[str] = set()
    contract_names = {s.name for s in FILES}
    contract_seen: dict[str, str] = {}
    order = {s.name: i for i, s in enumerate(FILES)}
    found: list[tuple[int, str, FileSpec, RawTable]] = []
    for path in sorted(p for p in drop.iterdir() if p.is_file() and not p.name.startswith(".")):
        hits = [e for e in mapping.entries if e.matches(path.name)]
        if not hits:
            stem, suffix = path.stem.lower(), path.suffix.lower()
            if stem in contract_names and suffix in (".csv", ".xlsx"):
                if stem in contract_seen:
                    raise DropError(f"{drop}: both {contract_seen[stem]} and {path.name}; keep one")
                contract_seen[stem] = path.name
                spec = FILES_BY_NAME[stem]
                table = read_table(path)
                table.as_file = f"{stem}.csv"        # every line of the report names its file
                found.append((order[stem], path.name, spec, table))
            else:
                out.skipped[path.name] = "matches no mapping entry and is not a contract file"
            continue
        if path.suffix.lower() not in (".csv", ".xlsx"):
            out.skipped[path.name] = f"matched by {hits[0].label}, but only CSV and XLSX " \
                                     "exports can be read"
            continue
        for entry, sheet, label in _entries_by_sheet(path, hits, out.warnings):
            used.add(entry.label)
            table = apply_entry(entry, read_table(path, sheet), label)
            found.append((order[entry.spec.name], table.name, entry.spec, table))
        if not any(e.label in used for e in hits):
            out.skipped[path.name] = "no sheet named by its mapping entries"
    for e in mapping.entries:
        if e.label not in used and not any(e.matches(p.name) for p in drop.iterdir()):
            out.warnings.append(f"{e.label} matches no file in the drop")
    if not found:
        raise DropError(f"{drop}: no export matches the mapping and no contract file is there")
    found.sort(key=lambda t: (t[0], t[1]))
    names = pd.Series([t[1] for t in found])
    if names.duplicated().any():
        raise DropError(f"{drop}: two tables read as {names[names.duplicated()].iloc[0]}")
    out.jobs = [(name, spec, table) for _, name, spec, table in found]
    return out


def _entries_by_sheet(path: Path, hits: list[Entry], warnings: list[str]
                      ) -> list[tuple[Entry, str | None, str]]:
    """The entries that apply to one export, with the sheet each reads and the name the report
    gives it: the first matching entry, per sheet for a workbook (so one workbook can feed
    several contract files, one sheet each; then the report names `BOOK.xlsx [SHEET]`)."""
    if path.suffix.lower() != ".xlsx":
        return [(hits[0], None, path.name)]
    sheets = xlsx_sheets(path)
    chosen: dict[str, Entry] = {}
    for e in hits:
        sheet = resolve_sheet(sheets, e.sheet)
        if sheet is None:
            warnings.append(f"{path.name}: no sheet matching {e.sheet!r} for {e.label} "
                            f"(sheets: {', '.join(sheets)})")
            continue
        chosen.setdefault(sheet, e)
    several = len(chosen) > 1
    return [(e, s, f"{path.name} [{s}]" if several else path.name) for s, e in chosen.items()]


def resolve_sheet(sheets: list[str], wanted: str | None) -> str | None:
    """A sheet by exact name (case-insensitive), else the first whose name matches the glob;
    the first sheet when none is asked for."""
    if not sheets:
        return None
    if wanted is None:
        return sheets[0]
    for s in sheets:
        if s.strip().lower() == wanted.strip().lower():
            return s
    return next((s for s in sheets if fnmatch.fnmatchcase(s.lower(), wanted.lower())), None)


def apply_entry(entry: Entry, raw: RawTable, name: str) -> RawTable:
    """One export (as read) made into its contract file's shape by one mapping entry."""
    frame = raw.frame
    headers = dict(zip(frame.columns, raw.headers or list(frame.columns)))

    def col(header: str) -> str:
        key = header.strip().lower()
        if key not in frame.columns:
            raise MappingError(f"{name}: {entry.label} names column {header!r}, which is not "
                               f"in its header ({', '.join(raw.headers[:30])})")
        return key

    keep = pd.Series(True, index=frame.index)
    for header, allowed in entry.where:
        keep &= frame[col(header)].astype(str).map(code_key).isin({code_key(v) for v in allowed})
    filtered = int((~keep).sum())
    frame = frame[keep].reset_index(drop=True)
    lines = raw.lines[keep.to_numpy()]
    out = pd.DataFrame(index=frame.index)
    held_field = pd.Series("", index=frame.index, dtype=object)
    held_reason = pd.Series("", index=frame.index, dtype=object)
    used: set[str] = set()
    for rule in entry.rules:
        keys = [col(c) for c in rule.columns]
        used.update(keys)
        values = _source_values(rule, frame, keys)
        kind = entry.spec.column(rule.target).kind
        if rule.values is not None:
            values, bad = _apply_values(values, rule, kind, entry.spec.name)
            first = (bad != "") & (held_reason == "")
            held_field[first] = rule.label
            held_reason[first] = bad[first]
        if rule.formats:
            values = _apply_formats(values, rule.formats, kind)
        if rule.prefix:
            values = _apply_prefix(values, rule.prefix, kind in LIST_KINDS)
        out[rule.target] = values
    fields = {r.target: r.label for r in entry.rules}
    contract = set(entry.spec.column_names)
    for key in frame.columns:
        if key in used:
            continue
        if key in contract and key not in out.columns:   # a contract header the mapping left
            out[key] = frame[key].to_numpy()             # alone is read as that column
            fields[key] = headers.get(key, key)
            continue
        label = headers.get(key, key)                    # others: extra attributes
        while label in out.columns or label.lower() in contract:
            label = f"{label} (export)"
        out[label] = frame[key].to_numpy()
    if entry.source:                                     # a mapped source column wins
        if "source" in out:
            out["source"] = out["source"].where(out["source"].astype(str).str.strip() != "",
                                                entry.source)
        else:
            out["source"] = entry.source
    original = frame.copy()
    original.columns = [headers.get(k, k) for k in frame.columns]
    return RawTable(name, out, lines, raw.malformed, list(out.columns),
                    fields=fields, original=original,
                    held_field=held_field, held_reason=held_reason, as_file=entry.as_file,
                    filtered=filtered)


def _source_values(rule: ColumnRule, frame: pd.DataFrame, keys: list[str]) -> pd.Series:
    if rule.source == "constant":
        return pd.Series(rule.constant, index=frame.index, dtype=object)
    if rule.source == "column":
        return frame[keys[0]].astype(str).str.strip()
    if rule.source == "join":
        parts = frame[keys].astype(str).apply(lambda c: c.str.strip())
        return pd.Series([rule.sep.join(p for p in row if p) for row in
                          parts.itertuples(index=False)], index=frame.index, dtype=object)
    cells = frame[keys[0]].astype(str)

    def part(v: str) -> str:
        bits = [b.strip() for b in (v.split(rule.sep) if rule.sep is not None else v.split())]
        try:
            return bits[rule.index]
        except IndexError:
            return ""
    return cells.map(part)


def unknown_code_reason(code: str, export_column: str, target: str, spec_name: str) -> str:
    return (f"unknown code {code!r} in {export_column!r}: not in the mapping's values for "
            f"{target} ({spec_name}.csv); add it to the mapping")


_UNKNOWN = re.compile(r"^unknown code (?P<code>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\") in "
                      r"(?P<column>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"): not in the mapping's "
                      r"values for (?P<target>\w+) \((?P<file>[\w.]+)\)")


def parse_unknown_code(reason: str) -> dict | None:
    """The code, export column, contract column and file of an unknown-code reason, else None."""
    import ast
    m = _UNKNOWN.match(str(reason))
    if not m:
        return None
    return {"code": ast.literal_eval(m["code"]), "column": ast.literal_eval(m["column"]),
            "target": m["target"], "as": m["file"]}


def _apply_values(values: pd.Series, rule: ColumnRule, kind: str, spec_name: str
                  ) -> tuple[pd.Series, pd.Series]:
    """Codes mapped through the rule's table, item by item for `;` lists. A value already one of
    the table's contract values passes; anything else is a problem naming the export column."""
    table = rule.values or {}
    targets = {code_key(v): v for v in table.values() if v}
    mapped: dict[str, tuple[str, str]] = {}
    for v in pd.unique(values):
        items = [p.strip() for p in v.split(";")] if kind in LIST_KINDS else [v.strip()]
        done, bad = [], ""
        for item in items:
            if not item:
                continue
            k = code_key(item)
            if k in table:
                if table[k]:
                    done.append(table[k])
            elif k in targets:
                done.append(targets[k])
            elif not bad:
                bad = unknown_code_reason(item, rule.label, rule.target, spec_name)
        mapped[v] = (";".join(done), bad)
    return (values.map(lambda v: mapped[v][0]), values.map(lambda v: mapped[v][1]))


def _apply_formats(values: pd.Series, formats: tuple[str, ...], kind: str) -> pd.Series:
    """Dates read with the mapping's strptime formats, in order, to ISO text; a value none of
    them reads is left for the contract's own ISO and UK forms."""
    def one(v: str) -> str:
        if not v:
            return v
        for fmt in formats:
            try:
                d = datetime.strptime(v, fmt)
            except ValueError:
                continue
            if kind == "date":
                return d.date().isoformat()
            return d.isoformat(sep="T")
        return v
    uniq = {v: one(v) for v in pd.unique(values)}
    return values.map(uniq)


def _apply_prefix(values: pd.Series, prefix: str, per_item: bool) -> pd.Series:
    def one(v: str) -> str:
        v = v.strip()
        if not v or v.lower().startswith(prefix.lower()):
            return v
        return prefix + v
    if per_item:
        return values.map(lambda s: ";".join(one(p) for p in s.split(";") if p.strip()))
    return values.map(one)


__all__ = ["Mapping", "MappingError", "Entry", "ColumnRule", "MappedDrop", "read_mapped_drop",
           "apply_entry", "resolve_sheet", "code_key", "load_yaml", "parse_unknown_code",
           "unknown_code_reason", "held_codes", "suggest_code"]


def held_codes(store) -> "pd.DataFrame":
    """Codes held because a mapping's values table does not name them, from the latest ingest
    run of each export file: file, column (the export's), as, target, code, rows, run_id.
    Codes an analyst has since added to the mapping (and re-ingested) drop out."""
    import json

    import sqlalchemy as sa

    from geo.storage import schema
    cols = ["file", "column", "as", "target", "code", "rows", "run_id"]
    runs = store.read_sql(sa.select(schema.ingest_runs.c.id, schema.ingest_runs.c.report)
                          .where(schema.ingest_runs.c.report.is_not(None)))
    latest: dict[str, int] = {}
    for run_id, report in zip(runs["id"], runs["report"]):
        try:
            files = json.loads(report).get("files", {})
        except (TypeError, ValueError):
            continue
        for name in files:
            latest[name] = max(latest.get(name, 0), int(run_id))
    if not latest:
        return pd.DataFrame(columns=cols)
    t = schema.held_rows
    held = store.read_sql(sa.select(t.c.run_id, t.c.file, t.c.reason)
                          .where(t.c.run_id.in_(sorted(set(latest.values()))))
                          .where(t.c.reason.like("unknown code %")))
    rows = []
    for run_id, file, reason in zip(held["run_id"], held["file"], held["reason"]):
        if latest.get(file) != run_id:
            continue
        code = parse_unknown_code(reason)
        if code is not None:
            rows.append({"file": file, **code, "run_id": int(run_id)})
    if not rows:
        return pd.DataFrame(columns=cols)
    out = pd.DataFrame(rows).groupby(["file", "column", "as", "target", "code", "run_id"], sort=True) \
        .size().rename("rows").reset_index()
    return out[cols].sort_values(["file", "column", "rows"], ascending=[True, True, False])


def suggest_code(as_file: str, target: str, code: str) -> str:
    """A contract value for an unknown code when a matching rule finds one (geo.storage.inspector),
    with how it was found, e.g. "none (thesaurus)"; else the allowed values."""
    from geo.storage.inspector import match_code
    from geo.model import VOCAB
    spec = FILES_BY_NAME.get(re.sub(r"\.csv$", "", str(as_file)))
    if spec is None or target not in spec.column_names:
        return ""
    vocab = "issues" if target == "issues" else spec.column(target).vocab
    if vocab is None:
        return ""
    m = match_code(str(code), vocab)
    if m.value is not None:
        return f"{m.value} ({m.how} match)"
    allowed = VOCAB.get(vocab)
    return f"one of {', '.join(allowed)}" if allowed else ""

"""CLI commands of offline geocoding (issue 3): ``geocode``, ``regeocode``, ``review``.

- ``wayfinder geocode IN.csv --column NAME --db URL --out OUT.csv``: geocode one column of any
  CSV against the loaded gazetteer and the stored premises and places (contract).
- ``wayfinder regeocode --db URL``: re-resolve every stored location text after the gazetteer
  changed, keeping analysts' overrides.
- ``wayfinder review --db URL``: list unresolved and low-confidence texts (CSV on stdout);
  ``wayfinder review --db URL --text TEXT --postcode PC | --easting E --northing N |
  --premises ID | --none [--by NAME]`` records an analyst's correction, reused for the same
  text (ignoring case and spacing) on every later geocode, and logged in the audit trail.

``register(app)`` adds the commands to the Typer app of api/cli/__init__.py.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from api.cli.common import DB_HELP
from api.cli.common import fail as _fail
from api.cli.common import store_for as _store
from api.jobs.geocode import GeocodeOverrideError, gazetteer_of, record_override
from api.jobs.geocode import analyst_overrides as _overrides
from geo.storage.protocol import StoreLike

OUT_COLUMNS = ["easting", "northing", "latitude", "longitude", "precision", "confidence", "method",
               "match_id", "ward_code", "lsoa_code"]


def _gazetteer(store: StoreLike):
    try:
        return gazetteer_of(store)
    except GeocodeOverrideError as exc:
        _fail(str(exc))


def geocode_csv(
    infile: Path = typer.Argument(..., help="CSV file (UTF-8, header row) holding location texts"),
    column: str = typer.Option(..., "--column", help="name of the column to geocode (case-insensitive)"),
    out: Path = typer.Option(..., "--out", help="CSV to write: the input plus easting, northing, latitude, "
                             "longitude, precision, confidence, method, match_id, ward_code, lsoa_code"),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Geocode one column of any CSV against the loaded gazetteer, premises and places."""
    import pandas as pd

    from geo.places.geocode import geocode

    if not infile.exists():
        _fail(f"{infile}: no such file")
    try:
        frame = pd.read_csv(infile, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        _fail(f"{infile}: not a readable CSV ({exc})")
    match = [c for c in frame.columns if c.strip().lower() == column.strip().lower()]
    if not match:
        _fail(f"{infile}: no column {column!r} (columns: {', '.join(frame.columns)})")
    store = _store(db)
    gaz = _gazetteer(store)
    result = geocode(frame[match[0]], gaz, overrides=_overrides(store))
    frame = frame.drop(columns=[c for c in OUT_COLUMNS if c in frame.columns])
    for c in OUT_COLUMNS:
        frame[c] = result[c].to_numpy()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(out, index=False)
    except OSError as exc:
        _fail(f"{out}: cannot write ({exc})")
    resolved = int((result["precision"] != "none").sum())
    typer.echo(f"geocoded {len(frame)} rows ({resolved} resolved) -> {out}", err=True)


def regeocode(db: Optional[str] = typer.Option(None, "--db", help=DB_HELP)) -> None:
    """Re-resolve every stored location text against the current gazetteer, keeping overrides."""
    from geo.places.geocoding import geocode_stored_texts

    store = _store(db)
    _gazetteer(store)
    n = geocode_stored_texts(store, refresh=True)
    typer.echo(f"re-geocoded {n} location texts (analysts' overrides kept)")


def review(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    text: Optional[str] = typer.Option(None, "--text", help="the location text to correct, as written"),
    postcode: Optional[str] = typer.Option(None, "--postcode", help="place the text at this postcode"),
    easting: Optional[float] = typer.Option(None, "--easting", help="place the text here (EPSG:27700 m)"),
    northing: Optional[float] = typer.Option(None, "--northing", help="with --easting"),
    premises: Optional[str] = typer.Option(None, "--premises", help="the text names this premises_id"),
    none: bool = typer.Option(False, "--none", help="the text cannot be placed: never guess it"),
    threshold: float = typer.Option(0.6, "--threshold", help="list texts with confidence below this"),
    codes: bool = typer.Option(False, "--codes", help="list only the codes held by a mapping's values "
                               "tables (CSV on stdout, with a suggested contract value)"),
    by: Optional[str] = typer.Option(None, "--by", help="analyst name recorded with the correction "
                                     "(default: $USER)"),
) -> None:
    """List unresolved and low-confidence texts, or record an analyst's correction of one."""
    store = _store(db)
    if text is None:
        if any(v is not None for v in (postcode, easting, northing, premises)) or none:
            _fail("a correction needs --text")
        if codes:
            _list_codes(store, sys.stdout)
            return
        _list_review(store, threshold)
        _list_codes(store, None)
        return
    given = [postcode is not None, easting is not None or northing is not None, premises is not None, none]
    if sum(given) != 1:
        _fail("give exactly one of --postcode, --easting/--northing, --premises, --none")
    if (easting is None) != (northing is None):
        _fail("--easting and --northing go together")
    try:
        precision, e, n = record_override(store, text, postcode, easting, northing, premises, none,
                                          by or os.environ.get("USER") or "analyst")
    except GeocodeOverrideError as exc:
        _fail(str(exc))
    typer.echo(f"recorded: {precision}" + (f" at {e:.0f}, {n:.0f}" if precision != "none" else ""))


def _list_review(store: StoreLike, threshold: float) -> None:
    import pandas as pd

    geo = store.frame("geocodes")
    if geo.empty:
        typer.echo("text,precision,confidence,method,match_id")
        return
    ov = geo["override"].astype(bool) if "override" in geo else pd.Series(False, index=geo.index)
    todo = geo[~ov & ((geo["precision"] == "none") | (geo["confidence"].fillna(0) < threshold))]
    todo = todo.sort_values(["precision", "confidence", "text"])
    todo[["text", "precision", "confidence", "method", "match_id"]].to_csv(sys.stdout, index=False)
    typer.echo(f"{len(todo)} texts to review (unresolved or confidence < {threshold})", err=True)


def _list_codes(store: StoreLike, out) -> None:
    """Codes held by a mapping (geo.storage.mapping.held_codes) with a suggested contract value: as CSV
    on `out`, or (out None) as lines on stderr after the location texts."""
    from geo.storage.mapping import held_codes, suggest_code

    df = held_codes(store)
    df["suggested"] = [suggest_code(a, t, c) for a, t, c in zip(df["as"], df["target"], df["code"])]
    if out is not None:
        df.to_csv(out, index=False)
        typer.echo(f"{len(df)} codes held by mappings", err=True)
        return
    if df.empty:
        return
    typer.echo(f"{len(df)} codes held by a mapping's values (add them to the mapping and "
               "re-ingest; `wayfinder review --codes` for CSV):", err=True)
    for r in df.itertuples(index=False):
        hint = f"; suggested: {r.suggested}" if r.suggested else ""
        typer.echo(f"  {r.file}: {r.column!r} -> {r.target} ({r[2]}): {r.code!r} "
                   f"({r.rows} row{'s' if r.rows != 1 else ''}){hint}", err=True)


def register(app: typer.Typer) -> None:
    """Add ``geocode``, ``regeocode`` and ``review`` to the wayfinder app."""
    app.command("geocode", help="Geocode one column of any CSV against the loaded gazetteer "
                "(OUT.csv = IN.csv plus easting, northing, latitude, longitude, precision, "
                "confidence, method, match_id, ward_code, lsoa_code).")(geocode_csv)
    app.command("regeocode", help="Re-resolve every stored location text after the gazetteer "
                "changed, keeping analysts' overrides.")(regeocode)
    app.command("review", help="List unresolved and low-confidence location texts, or record an "
                "analyst's correction (--text with --postcode, --easting/--northing, --premises "
                "or --none).")(review)

"""The `wayfinder` command line (shared/DATA_CONTRACT.md, "Commands and outputs").

Every command exits 0 on success and non-zero with a one-line reason on stderr when it cannot do
its job. `--db` takes an SQLAlchemy URL; without it, WAYFINDER_DB, then sqlite:///wayfinder.sqlite.
Commands of each domain live in api/cli/<domain>.py and register themselves here; they parse
arguments, call the jobs (api/jobs/) and print.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

app = typer.Typer(help="Wayfinder: geospatial intelligence for safeguarding children who go "
                       "missing and children at risk of sexual exploitation.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

from api.cli.common import DB_HELP, audit_command as _audit, fail, store_for  # noqa: E402


@app.callback()
def _private_files() -> None:
    """Files the commands write (store, exports, packs, keys) are for their owner only."""
    import os
    os.umask(0o077)


@app.command()
def reference(
    codepoint: List[Path] = typer.Option(None, "--codepoint", help="OS Code-Point Open CSV "
                                         "(no header) or ONS Postcode Directory CSV; repeatable"),
    wards: Optional[Path] = typer.Option(None, "--wards", help="ward boundaries (GeoJSON, "
                                         "GeoPackage, shp)"),
    addresses: Optional[Path] = typer.Option(None, "--addresses", help="address register CSV "
                                             "(uprn, address, postcode, easting/northing or "
                                             "latitude/longitude): house addresses resolve to "
                                             "the door"),
    lsoa: Optional[Path] = typer.Option(None, "--lsoa", help="LSOA boundaries"),
    code_field: Optional[str] = typer.Option(None, "--code-field", help="area code property "
                                             "(default: detected, e.g. WD13CD, LSOA11CD)"),
    name_field: Optional[str] = typer.Option(None, "--name-field", help="area name property"),
    mase_areas: Optional[Path] = typer.Option(None, "--mase-areas", help="CSV ward_code, mase_area: "
                                              "the wards of each MASE meeting area"),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Load the postcode gazetteer and ward/LSOA boundaries of any city (and, optionally, an
    address register and the MASE areas)."""
    from geo.places.areas import BoundaryError
    from geo.places.reference import load_reference
    codepoint = codepoint or []
    if addresses is None and mase_areas is None and not (codepoint and wards):
        fail("reference needs --codepoint FILE and --wards FILE (and optionally --addresses, "
             "--mase-areas), or --addresses or --mase-areas alone")
    if bool(codepoint) != (wards is not None):
        fail("--codepoint and --wards go together")
    for p in codepoint:
        if not p.exists():
            fail(f"{p}: no such file")
    store = store_for(db)
    try:
        if codepoint:
            typer.echo(str(load_reference(store, codepoint, wards, lsoa, code_field, name_field)))
        if addresses is not None:
            from geo.places.addresses import load_addresses
            typer.echo(f"loaded {load_addresses(store, addresses)} addresses from {addresses.name}")
    except (BoundaryError, ValueError, OSError) as exc:
        fail(str(exc))
    if mase_areas is not None:
        from geo.meetings.mase import MaseAreaError
        from geo.places.reference import load_mase_areas
        try:
            typer.echo(load_mase_areas(store, mase_areas))
        except MaseAreaError as exc:
            fail(str(exc))


@app.command()
def ingest(
    drop: Path = typer.Argument(..., help="drop folder of contract CSV/XLSX files"),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="print the report as one JSON object"),
    no_geocode: bool = typer.Option(False, "--no-geocode", help="store only; geocode later with "
                                    "`wayfinder regeocode`"),
    mapping: Optional[List[Path]] = typer.Option(None, "--mapping", help="column-mapping file "
                                                 "(YAML) for a drop of real exports; repeatable "
                                                 "(one per system); draft one with `wayfinder "
                                                 "inspect`"),
) -> None:
    """Read a drop, validate it, hold bad rows with reasons, store and geocode the rest."""
    from geo.storage.ingest import DropError, ingest_drop
    store = store_for(db)
    try:
        report = ingest_drop(store, drop, geocode=not no_geocode, mapping=mapping or None)
    except DropError as exc:
        fail(str(exc))
    _audit(store, "collection", f"ingest {drop.name} run {report.run_id}: "
           + ", ".join(f"{n} {r.accepted}" for n, r in report.files.items()))
    if as_json:
        typer.echo(json.dumps(report.to_json()))
    else:
        typer.echo(str(report))


@app.command()
def held(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    run: Optional[int] = typer.Option(None, "--run", help="ingest run id (default: the latest)"),
    as_csv: bool = typer.Option(False, "--csv", help="CSV on stdout"),
) -> None:
    """List rows held by an ingest run, with file, line, field and reason."""
    from geo.storage.ingest import held_rows
    rows = held_rows(store_for(db), run)
    if as_csv:
        rows.to_csv(sys.stdout, index=False)
        return
    if rows.empty:
        typer.echo("no held rows")
        return
    for r in rows.itertuples(index=False):
        typer.echo(f"run {r.run_id}  {r.file}:{r.line}  {r.field}: {r.reason}")
    typer.echo(f"{len(rows)} held rows")


#: the command modules (api/cli/<domain>.py), in the order of `wayfinder --help`; each adds its
#: commands with `register(app)`. Imported by name, so a missing module fails loudly here.
from api.cli import (analyse, audit, cse, erase, geocode, identity, inspect,  # noqa: E402
                     licensing, mase, network, pack, quality, run, scorecard, screen, serve, synth,
                     users)

COMMAND_MODULES = (synth, geocode, identity, analyse, network, serve, users, audit, pack, run, erase,
                   scorecard, inspect, cse, screen, licensing, quality, mase)

for _module in COMMAND_MODULES:
    _module.register(app)

if __name__ == "__main__":
    app()

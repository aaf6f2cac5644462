"""CLI command ``wayfinder inspect FILE [--out MAPPING]``: profile a foreign CSV/XLSX export and
draft a column-mapping file for it (geo.storage.inspector; DATA_CONTRACT.md "Column-mapping files")."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from api.cli.common import fail


def inspect(
    file: Path = typer.Argument(..., help="a CSV or XLSX export"),
    out: Optional[Path] = typer.Option(None, "--out", help="write the drafted mapping (YAML) "
                                       "here; without it the draft goes to stdout after the "
                                       "profile"),
) -> None:
    """Profile an export (columns, types, date formats, value counts, postcodes, identifiers)
    and draft a mapping file for it; every guess it is not sure of is marked `# review`."""
    from geo.storage.ingest import DropError
    from geo.storage.inspector import describe, inspect_file, render
    try:
        profiles, drafts, skipped = inspect_file(file)
    except DropError as exc:
        fail(str(exc))
    text = render(drafts, skipped)
    typer.echo(describe(profiles))
    reviews = text.count("# review")
    if out is None:
        typer.echo("")
        typer.echo(text, nl=False)
    else:
        try:
            out.write_text(text, encoding="utf-8")
        except OSError as exc:
            fail(f"{out}: cannot write ({exc.strerror})")
        typer.echo(f"drafted {len(drafts)} entr{'y' if len(drafts) == 1 else 'ies'} -> {out} "
                   f"({reviews} lines marked # review)")
    if not drafts:
        fail(f"{file.name}: no table in it fits a contract file; map it by hand")


def register(app: typer.Typer) -> None:
    """Add ``inspect`` to the wayfinder CLI."""
    app.command("inspect")(inspect)

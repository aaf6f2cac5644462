"""`wayfinder analyse`: the analyses step of the pipeline (api.jobs.analyse) on the store."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from api.jobs.pipeline import run_analyses

def register(app: typer.Typer) -> None:
    """Add ``analyse`` to the ``wayfinder`` Typer app."""

    @app.command("analyse", help="Spatial analyses: ward/LSOA hot spots (Gi*, local Moran, FDR), "
                 "found-at clusters, premises of concern, monthly trends, emerging hot spots, "
                 "the Knox test, the near-repeat table and the space-time permutation scan "
                 "(space_time.json, space_time_clusters.geojson); writes the contract files into "
                 "--out and stores the results.")
    def analyse_cmd(
        db: Optional[str] = typer.Option(None, "--db", help="SQLAlchemy URL (default WAYFINDER_DB, then sqlite:///wayfinder.sqlite)"),
        out: Path = typer.Option(..., "--out", help="output folder"),
        date_from: Optional[str] = typer.Option(None, "--from", help="first date (inclusive), e.g. 2016-04-01"),
        date_to: Optional[str] = typer.Option(None, "--to", help="last date (exclusive)"),
        seed: int = typer.Option(0, "--seed", help="seed of every permutation test"),
        permutations: int = typer.Option(999, "--permutations", help="conditional permutations"),
    ) -> None:
        from api.cli.common import require_episodes, store_for
        from api.settings import Settings
        store = store_for(db)
        require_episodes(store)
        try:
            import pandas as pd
            start = pd.Timestamp(date_from) if date_from else None
            end = pd.Timestamp(date_to) if date_to else None
            summary = run_analyses(store, Path(out), start, end, seed, permutations, settings=Settings())
        except Exception as exc:  # one-line reason, non-zero exit
            typer.echo(f"wayfinder analyse: {type(exc).__name__}: {' '.join(str(exc).split())}", err=True)
            raise typer.Exit(1)
        from api.cli.common import audit_command
        from api.jobs.exports import record_export_dir
        record_export_dir(store.engine, out)        # erasure finds these files again
        audit_command(store, "combination", f"analyse {date_from or '..'}/{date_to or '..'} -> {out}")
        typer.echo(json.dumps(summary, default=str))

"""``wayfinder quality --db URL [--as-of T] [--json] [--out DIR]``: the data-quality report per
source (``geo.meetings.data_quality``): stale open episodes with their source and age, long-open
missing episodes, episodes of unknown children, return interviews held after the next episode,
and records of one person that disagree between sources (care status, placement, date of
birth). Children are resolved persons (as ``wayfinder scorecard``)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from api.cli.common import DB_HELP, fail, store_for
from api.jobs.quality import LABELS, report_json

def register(app: typer.Typer) -> None:
    @app.command("quality")
    def quality(
        as_of: Optional[str] = typer.Option(None, "--as-of", help="the time the report is as of "
                                            "(default: now; no offset = London time)"),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
        as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
        out: Optional[Path] = typer.Option(None, "--out", help="folder for one CSV per finding"),
    ) -> None:
        """Data quality per source: stale open records, unknown children, late interviews,
        records that disagree between sources."""
        from api.jobs.identity import load_resolved
        from geo.meetings.data_quality import FINDINGS, quality_report
        from geo.periods import PeriodError, parse_instant
        try:
            t = parse_instant(as_of) if as_of else None
        except PeriodError as exc:
            fail(str(exc))
        store = store_for(db)
        try:
            frames = load_resolved(store, ["episodes", "return_interviews"])
        except Exception as exc:  # noqa: BLE001 - an unreadable store is a one-line reason
            fail(f"cannot read the store: {exc}")
        rep = quality_report(frames["episodes"], frames["children"], frames["return_interviews"], t)
        if out is not None:
            try:
                out.mkdir(parents=True, exist_ok=True)
                for k in FINDINGS:
                    rep[k].to_csv(out / f"{k}.csv", index=False)
            except OSError as exc:
                fail(f"cannot write {out}: {exc}")
        if as_json:
            typer.echo(json.dumps(report_json(rep), default=str))
            return
        typer.echo(f"data quality as of {rep['as_of']}")
        for k in FINDINGS:
            typer.echo(f"{rep['totals'][k]:>7}  {LABELS[k]}")
        typer.echo("per source: " + ", ".join(
            f"{s} (" + ", ".join(f"{k} {n}" for k, n in v.items() if n) + ")" for s, v in rep["summary"].items()))
        stale = rep["stale_open_episodes"].head(10)
        for r in stale.itertuples(index=False):
            typer.echo(f"  stale {r.source} {r.episode_key} {r.category} reported {r.reported_at:%Y-%m-%d %H:%M}, "
                       f"open {r.age_hours / 24:.0f} days, {r.later_episodes} later episodes")

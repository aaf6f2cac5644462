"""``wayfinder premises ...``: licensing officers' review records of premises.

- ``premises review ID --decision D --officer NAME [--date D] [--reason TEXT]``: record a review
  (reviewed, no_action, referred, conditions, suspended); an alteration in the audit trail.
- ``premises reviews [ID] [--json]``: the review records, oldest first.

A premises is named by its register id as written in premises.csv, ``/`` and all
(``BCC/PL/018118``). The latest review of each premises is shown in later screenings
(``wayfinder screen``) and in the licensing and COG packs.
"""
from __future__ import annotations

import json
import os
from typing import Optional

import typer

from api.cli.common import DB_HELP, fail, store_for
from api.jobs.licensing import audit_review, review_json

premises_app = typer.Typer(help="Licensing review records of premises.", no_args_is_help=True)


@premises_app.command("review")
def review(
    premises_id: str = typer.Argument(..., help="premises_id as in the register (may hold '/')"),
    decision: str = typer.Option(..., "--decision", help="reviewed, no_action, referred, conditions "
                                 "or suspended"),
    officer: Optional[str] = typer.Option(None, "--officer", help="the licensing officer (default $USER)"),
    date: Optional[str] = typer.Option(None, "--date", help="date of the decision (default: now)"),
    reason: Optional[str] = typer.Option(None, "--reason", help="why, in plain words"),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
) -> None:
    """Record a licensing review decision about a premises."""
    from geo.meetings.reviews import ReviewError, record_review
    store = store_for(db)
    officer = officer or os.environ.get("USER") or ""
    try:
        row = record_review(store, premises_id, decision, date, officer, reason)
    except ReviewError as exc:
        fail(str(exc))
    try:
        audit_review(store.engine, officer, "licensing_officer", "premises review", row)
    except Exception as exc:  # noqa: BLE001 - boundary: the review is stored; say the entry is not
        typer.echo(f"wayfinder: warning: review not recorded in the audit trail: {exc}", err=True)
    typer.echo(f"review {row['id']}: {row['premises_id']} {row['decision']} on "
               f"{row['decided_at']:%Y-%m-%d} by {row['officer']}")


@premises_app.command("reviews")
def reviews(
    premises_id: Optional[str] = typer.Argument(None, help="one premises (default: all)"),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="a JSON list on stdout"),
) -> None:
    """List review records, oldest first."""
    from geo.meetings.reviews import reviews_frame
    df = reviews_frame(store_for(db), premises_id)
    rows = [review_json(r) for r in df.to_dict("records")]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    if not rows:
        typer.echo("no review records")
    for r in rows:
        typer.echo(f"{r['decided_at'][:10]}  {r['premises_id']}  {r['decision']}  {r['officer']}"
                   + (f"  {r['reason']}" if r.get("reason") else ""))


def register(app: typer.Typer) -> None:
    app.add_typer(premises_app, name="premises")

"""CLI group ``wayfinder scorecard {mog,cse}``: the meetings' scorecards as one JSON object
(shared/DATA_CONTRACT.md, "Scorecard measures"). Each meeting's command registers on
``scorecard_app``: ``mog`` here, ``cse`` in api/commands/cse.py."""
from __future__ import annotations

import typer

scorecard_app = typer.Typer(help="Scorecards of the meetings (MOG, CSE) for a period, as of a time.",
                            no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(scorecard_app, name="scorecard")

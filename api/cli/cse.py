"""``wayfinder scorecard cse``: the COG's CSE scorecard for a period, as of a time
(shared/DATA_CONTRACT.md, "Scorecard measures"; geo/meetings/cse.py holds the definitions)."""
from __future__ import annotations

import json
from typing import Optional

import typer

from api.cli.common import DB_HELP, fail, store_for
from api.cli.scorecard import scorecard_app
from api.jobs.scorecard import cse_scorecard_of


@scorecard_app.command("cse")
def scorecard_cse(
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    start: str = typer.Option(..., "--from", help="first day of the period (YYYY-MM-DD)"),
    end: str = typer.Option(..., "--to", help="last day of the period (YYYY-MM-DD)"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="the time the figures are as of "
                                        "(default: the end of the period; London time)"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
) -> None:
    """CSE scorecard: cohort by level, new referrals, days open, risk reduced/increased, CSE
    crimes and non-crimes, repeat victims and suspects, the CSE x missing overlap."""
    from geo.periods import Period, PeriodError
    from network.crime_parties import CSE_FRAMES
    try:
        period = Period.parse(start, end, as_of)
    except PeriodError as exc:
        fail(str(exc))
    store = store_for(db)
    from network.crime_parties import with_identities
    try:
        frames = store.frames(CSE_FRAMES + ("populations",), missing_ok=("persons", "populations"))
        frames, how = with_identities(frames, store.table("identity_links"),
                                      store.table("identity_overrides"))
        card = cse_scorecard_of(frames, period)
    except LookupError as exc:
        fail(str(exc))
    card["identity"] = how
    if as_json:
        typer.echo(json.dumps(card, default=str))
        return
    for k, v in card.items():
        if not isinstance(v, (dict, list)):
            typer.echo(f"{k:32} {'-' if v is None else v}")


def register(app: typer.Typer) -> None:
    """The command registers on ``scorecard_app`` when this module is imported."""

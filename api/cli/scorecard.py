"""CLI group ``wayfinder scorecard {mog,cse}``: the meetings' scorecards as one JSON object
(shared/DATA_CONTRACT.md, "Scorecard measures"). Each meeting's command registers on
``scorecard_app``: ``mog`` here, ``cse`` in api/cli/cse.py.

"Child" in the measures is one resolved person: when the store's identity links do not cover
every child record (identity resolution not run since the last ingest), ``api.jobs.identity.load_resolved``
resolves identities in memory first (``network.identity``, with the analysts' overrides) and
says so on stderr; ``wayfinder identity resolve`` or ``wayfinder network`` stores them.
"""
from __future__ import annotations

import json
from typing import Optional

import typer

from api.cli.common import DB_HELP, fail, store_for
from api.jobs.identity import load_resolved

scorecard_app = typer.Typer(help="Scorecards of the meetings (MOG, CSE) for a period, as of a time.",
                            no_args_is_help=True)


def _period(start: str, end: str, as_of: Optional[str]):
    from geo.periods import Period, PeriodError
    try:
        return Period.parse(start, end, as_of)
    except PeriodError as exc:
        fail(str(exc))


def _table(card: dict, definitions: dict) -> str:
    lines = [f"MOG scorecard {card['period']['from']} to {card['period']['to']} "
             f"(as of {card['period']['as_of']})"]
    width = max(len(k) for k in card)
    for k, v in card.items():
        if k in ("period", "bases") or isinstance(v, (dict, list, str)):
            continue
        shown = "n/a (zero base)" if v is None else (f"{v:.1f}%" if k.endswith("_pct") else v)
        base = card.get("bases", {}).get(k)
        note = definitions.get(k, "")
        if base:
            note += f" [base: {base} = {card.get(base)}]"
        lines.append(f"{k:<{width}}  {str(shown):>16}  {note}")
    pt = card.get("missing_episodes_by_placement_type")
    if pt:
        lines.append("missing episodes by placement type: " + ", ".join(f"{a} {b}" for a, b in pt.items()))
    o = card.get("out_of_area")
    if o:
        share = "n/a" if o["placed_out_pct"] is None else f"{o['placed_out_pct']:.1f}%"
        lines.append(f"placed in the city by other authorities, with an episode: {o['placed_in_children']} "
                     f"children ({o['placed_in_children_missing']} missing)")
        lines.append(f"the city's own looked-after children placed elsewhere: {o['placed_out_children']} of "
                     f"{o['looked_after_children_known_placement']} with a known placement "
                     f"({share})")
    f = card.get("first_time")
    if f:
        lines.append(f"first-time missing: {f['first_time_children']} children, RHI engaged "
                     f"{f['first_time_rhi_engaged']} of {f['first_time_rhi_offered']} offered, "
                     f"{f['first_time_missing_again']} missing again")
    if "multi_setting" in card:
        lines.append(f"children with episodes from more than one setting: {len(card['multi_setting'])}")
    if "by_establishment" in card:
        lines.append(f"children's homes with an episode: {len(card['by_establishment'])}")
    c = card.get("cme")
    if c and c.get("records"):
        lines.append(f"children missing education: {c['cme_children_open_at_as_of']} open at the as-of time, "
                     f"{c['cme_children_in_period']} in the period, {c['cme_children_also_missing']} also missing")
    return "\n".join(lines)


@scorecard_app.command("mog")
def mog(
    start: str = typer.Option(..., "--from", help="first day of the period (YYYY-MM-DD or dd/mm/yyyy)"),
    end: str = typer.Option(..., "--to", help="last day of the period (inclusive)"),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="the time the figures are as of "
                                        "(default: the end of the period; no offset = London time)"),
    host: str = typer.Option("Birmingham", "--host", help="host authority (out-of-area figures)"),
    db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
    extras: bool = typer.Option(True, "--extras/--no-extras", help="also the MOG's other figures "
                                "(per home, out of area both ways, RHI themes, first-time missing, "
                                "more than one setting, CME)"),
) -> None:
    """The MOG scorecard (shared/DATA_CONTRACT.md, "Scorecard measures") for a period."""
    from geo.meetings import scorecards as sc
    from geo.meetings.mog_extras import mog_extras
    from geo.meetings.person_view import person_view
    period = _period(start, end, as_of)
    store = store_for(db)
    try:
        frames = load_resolved(store, ["episodes", "return_interviews", "education"],
                               missing_ok=["education"])
    except Exception as exc:  # noqa: BLE001 - an unreadable store is a one-line reason
        fail(f"cannot read the store: {exc}")
    ep, ch, rhi = frames["episodes"], frames["children"], frames["return_interviews"]
    view = person_view(ch)
    card = sc.mog_scorecard(ep, ch, rhi, period.start, period.end, host, as_of=period.as_of, view=view)
    if extras:
        card.update(mog_extras(ep, ch, rhi, period.start, period.end, period.as_of, host,
                               education=frames.get("education"), view=view))
    if as_json:
        typer.echo(json.dumps(card, default=str))
    else:
        typer.echo(_table(card, sc.MOG_MEASURES))


def register(app: typer.Typer) -> None:
    app.add_typer(scorecard_app, name="scorecard")

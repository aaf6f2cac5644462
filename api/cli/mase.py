"""``wayfinder mase list --db URL --from D --to D [--as-of T] [--area NAME] [--json]``: the
children each MASE meeting area reviews (``geo.meetings.mase``): children at CSE risk by area, with their
episodes in the period and whether they are missing as of T. Areas come from
``wayfinder reference --mase-areas FILE``."""
from __future__ import annotations

import json
from typing import Optional

import typer

from api.cli.common import DB_HELP, fail, store_for


def register(app: typer.Typer) -> None:
    mase = typer.Typer(help="MASE meeting areas and the children each reviews.", no_args_is_help=True)

    @mase.command("list")
    def list_cmd(
        start: str = typer.Option(..., "--from", help="first day of the period"),
        end: str = typer.Option(..., "--to", help="last day of the period (inclusive)"),
        as_of: Optional[str] = typer.Option(None, "--as-of", help="default: the end of the period"),
        area: Optional[str] = typer.Option(None, "--area", help="one MASE area (default: all)"),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
        as_json: bool = typer.Option(False, "--json", help="one JSON object: {area: [children]}"),
    ) -> None:
        """Children at CSE risk per MASE area, with their episodes in the period."""
        from api.cli.scorecard import _period
        from api.jobs.identity import load_resolved
        from geo.meetings.mase import mase_lists
        period = _period(start, end, as_of)
        store = store_for(db)
        areas = store.table("mase_areas")
        if areas.empty:
            fail("no MASE areas loaded: run `wayfinder reference --mase-areas FILE` "
                 "(data/reference/mase_areas_birmingham_illustrative.csv is an illustrative split)")
        if area and area.strip().lower() not in set(areas["mase_area"].str.lower()):
            fail(f"no MASE area {area!r}: one of {', '.join(sorted(areas['mase_area'].unique()))}")
        try:
            frames = load_resolved(store, ["episodes"])
        except Exception as exc:  # noqa: BLE001 - an unreadable store is a one-line reason
            fail(f"cannot read the store: {exc}")
        if frames["episodes"] is None or frames["children"] is None or len(frames["children"]) == 0:
            fail("the store holds no children: run `wayfinder ingest` first")
        lists = mase_lists(frames["episodes"], frames["children"], areas, period.start, period.end,
                           period.as_of, area=area)
        if as_json:
            lists = lists.assign(last_reported=lists["last_reported"].map(
                lambda t: None if t is None or t != t else t.isoformat()))
            typer.echo(json.dumps({"period": period.to_json(),
                                   "areas": {a: g.drop(columns="mase_area").to_dict("records")
                                             for a, g in lists.groupby("mase_area")}}, default=str))
            return
        for a, g in lists.groupby("mase_area"):
            typer.echo(f"{a}: {len(g)} children at CSE risk, {int((g['missing_episodes'] > 0).sum())} missing "
                       f"in the period, {int(g['missing_now'].sum())} missing now")
            for r in g.head(20).itertuples(index=False):
                typer.echo(f"  {r.person_id}  {r.cse_risk.replace('_', ' '):<11} {r.missing_episodes} missing, "
                           f"{r.absent_away_episodes} absent/away" + ("  MISSING NOW" if r.missing_now else ""))

    app.add_typer(mase, name="mase")

"""`wayfinder screen "TEXT"`: licensing screening (api.jobs.screen)."""
from __future__ import annotations

import json
from typing import Optional

import typer

from api.cli.common import DB_HELP, fail, store_for
from api.jobs.screen import record_screening
from api.jobs.screen import ROLES, ScreenError, _result, gazetteer_of, period_bounds, run_screen

def register(app: typer.Typer) -> None:
    @app.command("screen")
    def screen(
        text: str = typer.Argument(..., help="address, postcode, premises name or licence application"),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
        radius: float = typer.Option(250.0, "--radius", help="metres around the place (default 250)"),
        start: Optional[str] = typer.Option(None, "--from", help="first day (default: all records)"),
        end: Optional[str] = typer.Option(None, "--to", help="last day (default: all records)"),
        as_json: bool = typer.Option(False, "--json", help="one JSON object on stdout"),
        role: str = typer.Option("licensing_officer", "--role", help="licensing_officer (minimised, "
                                 "the default) or analyst (exact counts and dates)"),
        by: Optional[str] = typer.Option(None, "--by", help="who screens (audit trail; default $USER)"),
    ) -> None:
        """Licensing screening: the evidence near an address, postcode, premises or application."""
        import os

        if role not in ROLES:
            fail(f"role {role!r} may not screen (one of {', '.join(ROLES)})")
        try:
            lo, hi = period_bounds(start, end)
        except ScreenError as exc:
            fail(str(exc))
        store = store_for(db)
        from api.jobs.geocode import analyst_overrides as _overrides
        from api.settings import Settings
        from geo.meetings.reviews import reviews_frame
        small = Settings().small_count
        try:
            out = run_screen(text, store.frame, lambda n: _result(store, n),
                             lambda: gazetteer_of(store), _overrides(store), radius, lo, hi,
                             role == "analyst", small, reviews=reviews_frame(store))
        except ScreenError as exc:
            fail(str(exc))
        try:
            record_screening(store, by or os.environ.get("USER") or "cli", role, text, out)
        except Exception as exc:  # noqa: BLE001 - boundary: the screening is done; say the entry is not
            typer.echo(f"wayfinder: warning: screening not recorded in the audit trail: {exc}", err=True)
        if as_json:
            typer.echo(json.dumps(out, default=str))
        else:
            typer.echo(out["explanation"])
            for p in out["premises"][:10]:
                typer.echo(f"  {p['distance_m']:>5} m  {p['name']} ({p['premises_type']}, "
                           f"{p.get('status') or '?'})  episodes {p['episodes']}, children "
                           f"{p['children']}, intelligence {p['intelligence']}, CSE {p['cse_incidents']}"
                           + (f", review: {p['review']['decision']}" if p.get("review") else ""))

"""`wayfinder erase`: erasure of a child's or person's records (api.jobs.erase)."""
from __future__ import annotations

import json
from typing import Optional

import sqlalchemy as sa
import typer

from api.jobs.erase import ErasureError, erase_subject

def register(app: typer.Typer) -> None:
    @app.command("erase")
    def erase(kind: str = typer.Argument(..., help="child or person"),
              ref: str = typer.Argument(..., help="record key (police/C0012), person_id or "
                                        "pseudonym (C-3F2A9B10C4)"),
              reason: str = typer.Option(..., "--reason", help="why (recorded in the audit trail)"),
              by: str = typer.Option(..., "--by", help="who authorised the erasure"),
              db: Optional[str] = typer.Option(None, "--db", help="SQLAlchemy URL of the store"),
              as_json: bool = typer.Option(False, "--json", help="print the report as JSON")) -> None:
        """Erase a child's or person's records across the store, in one transaction, with an
        `erasure` audit entry (pseudonymous subject, counts, reason; never the data)."""
        from api.cli.common import fail, store_for
        from api.keys import KeyConfigError, keys_for
        from api.minimise import Minimiser
        from api.tables import create_tables
        store = store_for(db)
        try:
            create_tables(store.engine)
            m = Minimiser(keys_for(store.engine).pseudonym)
            report = erase_subject(store, kind, ref, reason, by, "cli", m)
        except (ErasureError, KeyConfigError) as exc:
            fail(str(exc))
        except sa.exc.SQLAlchemyError as exc:
            fail(f"erasure not done (nothing changed): {str(exc).splitlines()[0]}")
        typer.echo(json.dumps(report.to_json()) if as_json else report.summary())

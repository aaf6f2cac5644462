"""``wayfinder pack {mog,cog,mase}``: meeting packs (standalone offline HTML, optional PDF).

``wayfinder pack mog --db URL --from 2017-01-01 --to 2017-03-31 --out mog.html [--pdf] [--role ROLE]``
``wayfinder pack mase --child police/C00012 --from ... --to ... --out mase.html``

Role minimisation applies (maps.packs.View): without ``--role`` a pack is made for the meeting's
member role (mog_member, cog_member, mase_member): no child names or ids, no exact child locations,
no children's-home locations, counts under 5 as "<5". ``--role analyst`` gives the full view.
Pseudonyms use the per-install secret of the API (api.auth.token_secret), so a pack and the web
page name a child alike. Each pack is recorded in the audit trail as a disclosure (DPA 2018 s.62).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from api.roles import ROUTES


def register(app: typer.Typer) -> None:
    @app.command("pack")
    def pack(
        kind: str = typer.Argument(..., help="mog, cog, mase or licensing", metavar="{mog,cog,mase,licensing}"),
        db: Optional[str] = typer.Option(None, "--db", help="SQLAlchemy URL of the store (default: "
                                         "$WAYFINDER_DB, then sqlite:///wayfinder.sqlite)"),
        start: str = typer.Option(..., "--from", help="first day of the period (YYYY-MM-DD)"),
        end: str = typer.Option(..., "--to", help="last day of the period (YYYY-MM-DD)"),
        child: Optional[str] = typer.Option(None, "--child", help="MASE: the child (person_id, "
                                            "SOURCE/ID record key or child_id)"),
        out: Path = typer.Option(..., "--out", help="FILE.html (standalone, works offline)"),
        pdf: bool = typer.Option(False, "--pdf", help="also print FILE.pdf with headless Chromium"),
        role: Optional[str] = typer.Option(None, "--role", help="role the pack is for (default: the "
                                           "meeting's member role); analyst = full view"),
        tile_url: Optional[str] = typer.Option(None, "--tile-url", help="optional tile server "
                                               "URL template; default: boundaries only"),
        area: Optional[str] = typer.Option(None, "--area", help="MASE: one area's list of children at "
                                           "CSE risk (areas: wayfinder reference --mase-areas)"),
        purpose: Optional[str] = typer.Option(None, "--purpose", help="MASE: why the member asks for "
                                              "this child; the pack then names the child (only), and "
                                              "the disclosure is logged"),
    ) -> None:
        """Meeting packs: MOG, COG, or MASE for one child (--child)."""
        from maps import packs

        def fail(msg: str) -> None:
            typer.echo(f"wayfinder: {' '.join(str(msg).split())}", err=True)
            raise typer.Exit(1)

        kind = kind.lower()
        if kind not in packs.PACK_ROLES:
            fail(f"unknown pack {kind!r}: one of mog, cog, mase, licensing")
        role = role or packs.DEFAULT_ROLE[kind]
        allowed = ROUTES["pack"].roles & packs.PACK_ROLES[kind]   # as GET /packs/{kind}
        if role not in allowed:
            fail(f"role {role!r} may not receive a pack (one of {', '.join(sorted(allowed))})")
        if kind == "mase" and not child and not area:
            fail("the MASE pack needs --child ID (one child) or --area NAME (an area's list)")
        try:
            period = packs.Period.parse(start, end)
        except (ValueError, packs.PackError) as exc:
            fail(f"bad period: {exc}")
        from geo.store import StoreError, open_store

        try:
            store = open_store(db)
        except StoreError as exc:
            fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure to open is a one-line reason
            fail(f"cannot open the store: {exc}")
        secret = None
        try:
            from api.auth import token_secret
            from api.settings import Settings
            from api.tables import create_tables

            settings = Settings()
            create_tables(store.engine)
            secret = token_secret(store.engine, settings.secret)
            view = packs.View(role=role, secret=secret, small=settings.small_count, grid_m=float(settings.grid_m))
        except Exception:  # noqa: BLE001 - packs still minimise with a pack-local key
            view = packs.View(role=role)
        data = packs.load_pack_data(store)
        from api.commands.scorecard import resolve_in_memory
        resolve_in_memory(store, data)      # children are resolved persons, as in the scorecard
        if data.get("episodes") is None or len(data["episodes"]) == 0:
            fail("the store holds no episodes: run `wayfinder ingest` first")
        if kind == "mase" and role == "mase_member" and purpose and purpose.strip():
            from dataclasses import replace
            try:
                view = replace(view, subject=packs.resolve_child(data, child))
            except packs.PackError as exc:
                fail(str(exc))
        try:
            html = packs.build_pack(kind, data, str(period.start.date()), str(period.end.date()),
                                    child=child, view=view, tile_url=tile_url, area=area)
            written = packs.write_pack(html, out, pdf=pdf)
        except packs.PackError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot write {out}: {exc}")
        try:
            from api.audit import AuditEntry, AuditTrail

            trail = AuditTrail(store.engine)
            what = f"pack {kind} {period.start.date()}..{period.end.date()}"
            if child:
                what += " child " + (view.pseudonym(packs.resolve_child(data, child)))
            if area and not child:
                what += f" area {area}"
            if view.subject:
                what += " (named to the member, purpose given)"
            trail.record_now(AuditEntry(action="disclosure", user_name="cli", role=role, route="pack",
                                        what=what + f" -> {out.name}", status=0))
            trail.close()
        except Exception as exc:  # noqa: BLE001 - the pack is written; say the audit entry is not
            typer.echo(f"wayfinder: warning: pack written but not recorded in the audit trail: {exc}", err=True)
        typer.echo(" ".join(str(p) for p in written))

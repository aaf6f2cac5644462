"""``wayfinder pack {mog,cog,mase,licensing}``: meeting packs (standalone offline HTML, optional PDF).

``wayfinder pack mog --db URL --from 2017-01-01 --to 2017-03-31 --out mog.html [--pdf] [--role ROLE]``
``wayfinder pack mase --child police/C00012 --from ... --to ... --out mase.html``

Role minimisation applies (maps.packs.View): without ``--role`` a pack is made for the meeting's
member role (mog_member, cog_member, mase_member): no child names or ids, no exact child locations,
no children's-home locations, counts under 5 as "<5". ``--role analyst`` gives the full view.
Pseudonyms use the install's pseudonym key (api.keys), so a pack and the web page name a child
alike. Each pack is recorded in the audit trail as a disclosure with its purpose and recipients
(DPA 2018 s.62(2)(a), (3)(b)) before the file is written; the file has mode 0600.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from api.roles import PACK_ROLES, pack_allowed


def register(app: typer.Typer) -> None:
    @app.command("pack")
    def pack(
        kind: str = typer.Argument(..., help="mog, cog, mase or licensing", metavar="{mog,cog,mase,licensing}"),
        db: Optional[str] = typer.Option(None, "--db", help="SQLAlchemy URL of the store (default: "
                                         "$WAYFINDER_DB, then sqlite:///wayfinder.sqlite)"),
        start: str = typer.Option(..., "--from", help="first day of the period (YYYY-MM-DD)"),
        end: str = typer.Option(..., "--to", help="last day of the period (YYYY-MM-DD)"),
        child: Optional[str] = typer.Option(None, "--child", help="MASE: the child (person_id, "
                                            "SOURCE/ID record key, child_id or pseudonym)"),
        out: Path = typer.Option(..., "--out", help="FILE.html (standalone, works offline)"),
        pdf: bool = typer.Option(False, "--pdf", help="also print FILE.pdf with headless Chromium"),
        role: Optional[str] = typer.Option(None, "--role", help="role the pack is for (default: the "
                                           "meeting's member role); analyst = full view"),
        tile_url: Optional[str] = typer.Option(None, "--tile-url", help="optional tile server "
                                               "URL template; default: boundaries only"),
        area: Optional[str] = typer.Option(None, "--area", help="MASE: one area's list of children at "
                                           "CSE risk (areas: wayfinder reference --mase-areas)"),
        purpose: Optional[str] = typer.Option(None, "--purpose", help="why the pack is made (audit "
                                              "trail; default: the meeting, e.g. 'MOG meeting pack'); "
                                              "for a mase_member's MASE pack the pack then names the "
                                              "child (only)"),
        recipients: Optional[str] = typer.Option(None, "--recipients", help="who receives it "
                                                 "(audit trail; default: the meeting's members)"),
    ) -> None:
        """Meeting packs: MOG, COG, or MASE for one child (--child).

        The audit entry (a disclosure, with purpose and recipients) is committed before the file
        is written; the file is written with mode 0600. A role gets a pack kind only when it may
        use every route whose data the pack holds (api.roles.PACK_ROLES)."""
        import os

        from maps import packs

        def fail(msg: str) -> None:
            typer.echo(f"wayfinder: {' '.join(str(msg).split())}", err=True)
            raise typer.Exit(1)

        kind = kind.lower()
        kinds = sorted(set(packs.PACK_KINDS) | set(packs.PACK_ROLES))
        if kind not in kinds:
            fail(f"unknown pack {kind!r}: one of {', '.join(kinds)}")
        role = role or packs.DEFAULT_ROLE.get(kind, "analyst")
        if not pack_allowed(kind, role):          # the same rule as GET /packs/{kind}
            allowed = sorted(PACK_ROLES.get(kind, ()))
            fail(f"role {role!r} may not receive a {kind} pack (one of {', '.join(allowed) or 'none'})")
        if kind == "mase" and not child and not area:
            fail("the MASE pack needs --child ID (one child) or --area NAME (an area's list)")
        from maps.web import iso_day
        try:
            period = packs.Period.parse(iso_day(start, "--from"), iso_day(end, "--to"))
        except (ValueError, packs.PackError) as exc:
            fail(f"bad period: {exc}")
        from api.cli.common import db_url
        from geo.storage.store import StoreError, open_store

        try:
            store = open_store(db_url(db))
        except StoreError as exc:
            fail(str(exc))
        except Exception as exc:  # noqa: BLE001 - any failure to open is a one-line reason
            fail(f"cannot open the store: {exc}")
        from api.jobs.pack import disclosure_what, pack_view
        from api.keys import KeyConfigError, keys_for
        from api.settings import Settings
        from api.tables import create_tables

        try:
            settings = Settings()
            create_tables(store.engine)
            view = pack_view(role, keys_for(store.engine, settings.secret).pseudonym, settings)
        except KeyConfigError as exc:
            fail(str(exc))
        data = packs.load_pack_data(store)
        from api.jobs.identity import resolve_in_memory
        resolve_in_memory(store, data)      # children are resolved persons, as in the scorecard
        if data.get("episodes") is None or len(data["episodes"]) == 0:
            fail("the store holds no episodes: run `wayfinder ingest` first")
        pid = None
        if child:
            # the operator holds the store (an analyst's access): a record key or id is resolved
            # here; a pseudonym as well. The audit names the resolved child, by pseudonym.
            pid = next((p for p in data["children"]["person_id"].astype(str).unique()
                        if str(child).startswith("C-") and view.pseudonym(p) == child), None)
            if pid is None:
                try:
                    pid = packs.resolve_child(data, child)
                except packs.PackError as exc:
                    fail(str(exc))
        if kind == "mase" and pid and role == "mase_member" and purpose and purpose.strip():
            from dataclasses import replace
            view = replace(view, subject=pid)     # the member asked with a purpose: named (only)
        try:
            html = packs.build_pack(kind, data, str(period.start.date()), str(period.end.date()),
                                    child=pid, view=view, tile_url=tile_url, area=area)
        except packs.PackError as exc:
            fail(str(exc))
        import getpass

        from api.jobs.audit import AuditEntry, append_entries
        what = disclosure_what(kind, period, pid, area, view)
        try:
            append_entries(store.engine, [AuditEntry(
                action="disclosure", user_name=f"cli:{getpass.getuser()}", role=role, route="pack",
                what=f"{what} -> {out.name}" + (" (+pdf)" if pdf else "")
                + f" to {' '.join((recipients or packs.DEFAULT_ROLE.get(kind, role) + ' meeting members').split())[:200]}",
                purpose=(purpose or f"{kind.upper()} meeting pack")[:300], status=0)])
        except Exception as exc:  # noqa: BLE001 - no audit entry, no pack
            fail(f"pack not written: the audit trail could not record it: {exc}")
        old = os.umask(0o077)             # the pack (and its PDF) readable by its owner only
        try:
            if out.exists():
                os.chmod(out, 0o600)
            written = packs.write_pack(html, out, pdf=pdf)
            for p in written:
                os.chmod(p, 0o600)
        except packs.PackError as exc:
            fail(str(exc))
        except OSError as exc:
            fail(f"cannot write {out}: {exc}")
        finally:
            os.umask(old)
        typer.echo(" ".join(str(p) for p in written))

"""CLI commands of identity resolution: ``wayfinder identity ...``.

``register(app)`` adds an ``identity`` sub-app to the Typer app of ``api/cli/__init__.py``:

- ``identity resolve``: link records into persons (``network.identity``) and store them
  (table ``identity_links``).
- ``identity link REC REC``: analyst override, the two records are the same person.
- ``identity unlink REC [REC]``: analyst override, split REC out into its own person (or, with a
  second record, keep the two apart).
- ``identity list``: the overrides, oldest first.
- ``identity show REC``: the person a record belongs to, its records, weights and evidence.
- ``identity report --out DIR``: children known to more than one source; children missing
  from more than one setting.

Overrides are kept in ``identity_overrides`` and survive re-runs and re-ingest; every merge or
split is written to the audit trail as a ``combination`` event. Records are ``SOURCE/ID`` keys.
"""
from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Optional

import pandas as pd
import typer

from api.cli.common import DB_HELP
from api.cli.common import fail as _fail
from api.cli.common import store_for as _store
from api.jobs.identity import (add_override, identity_records, record_identity_change,
                              resolve_and_save)



def _user(by: Optional[str]) -> str:
    if by:
        return by
    from api.settings import Settings
    try:
        return Settings().user or getpass.getuser()
    except (OSError, KeyError):    # no login name (e.g. in a container)
        return "unknown"


def register(app: typer.Typer) -> None:
    """Add the ``identity`` sub-app to ``app``."""
    ident = typer.Typer(help="Identity resolution: one person per real child or adult across "
                             "police, social care, the return-interview provider and schools.",
                        no_args_is_help=True)

    @ident.command("resolve")
    def resolve_cmd(
        threshold: float = typer.Option(1.0, help="match weight (log2 odds) to link a pair"),
        seed: int = typer.Option(0, help="seed of the random pair sample (u estimation)"),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
        as_json: bool = typer.Option(False, "--json", help="print the summary as JSON"),
    ) -> None:
        """Link the stored child and person records into persons and store the result."""
        store = _store(db)
        try:
            identities = resolve_and_save(store, threshold, seed)
        except (ValueError, KeyError) as exc:
            _fail(f"identity resolution failed: {exc}")
        summary = {
            "records": int(len(identities)),
            "persons": int(identities["person_id"].nunique()),
            "children": int(identities.loc[identities["kind"] == "child", "person_id"].nunique()),
            "adults": int(identities.loc[identities["kind"] == "person", "person_id"].nunique()),
        }
        if as_json:
            typer.echo(json.dumps(summary))
        else:
            typer.echo(f"{summary['records']} records -> {summary['persons']} persons "
                       f"({summary['children']} children, {summary['adults']} adults)")

    @ident.command("link")
    def link_cmd(
        record_a: str = typer.Argument(..., help="record key SOURCE/ID"),
        record_b: str = typer.Argument(..., help="record key SOURCE/ID of the same person"),
        reason: Optional[str] = typer.Option(None, help="why (kept with the override)"),
        by: Optional[str] = typer.Option(None, help="analyst name (default: $WAYFINDER_USER "
                                                    "or the login name)"),
        defer: bool = typer.Option(False, help="store the override only; apply on the next "
                                               "resolve"),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    ) -> None:
        """Force two records to be one person (survives re-runs and re-ingest)."""
        if record_a == record_b:
            _fail("link needs two different records")
        store = _store(db)
        recs = identity_records(store).set_index("record")
        for r in (record_a, record_b):
            if r not in recs.index:
                _fail(f"no child or person record {r!r}")
        if recs.at[record_a, "kind"] != recs.at[record_b, "kind"]:
            _fail(f"{record_a} is a {recs.at[record_a, 'kind']} record and {record_b} a "
                  f"{recs.at[record_b, 'kind']} record; children and adults are never linked")
        user = _user(by)
        add_override(store, record_a, record_b, "link", user, reason)
        record_identity_change(store, user, f"identity link {record_a} {record_b}", "cli identity link")
        if not defer:
            ids = resolve_and_save(store, 1.0, 0).set_index("record")
            typer.echo(f"linked {record_a} and {record_b}: person {ids.at[record_a, 'person_id']}")
        else:
            typer.echo(f"override stored: link {record_a} {record_b}")

    @ident.command("unlink")
    def unlink_cmd(
        record: str = typer.Argument(..., help="record key SOURCE/ID to split out"),
        other: Optional[str] = typer.Argument(None, help="optional second record: keep only "
                                                         "this pair apart"),
        reason: Optional[str] = typer.Option(None, help="why (kept with the override)"),
        by: Optional[str] = typer.Option(None, help="analyst name (default: $WAYFINDER_USER "
                                                    "or the login name)"),
        defer: bool = typer.Option(False, help="store the override only; apply on the next "
                                               "resolve"),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    ) -> None:
        """Split a record out into its own person, and keep it out on re-runs."""
        store = _store(db)
        recs = identity_records(store).set_index("record")
        for r in (record, other):
            if r is not None and r not in recs.index:
                _fail(f"no child or person record {r!r}")
        if other == record:
            _fail("unlink needs two different records")
        user = _user(by)
        add_override(store, record, other, "unlink", user, reason)
        record_identity_change(store, user, f"identity unlink {record}" + (f" {other}" if other else ""),
               "cli identity unlink")
        if not defer:
            ids = resolve_and_save(store, 1.0, 0).set_index("record")
            typer.echo(f"unlinked {record}: person {ids.at[record, 'person_id']}")
        else:
            typer.echo(f"override stored: unlink {record}" + (f" {other}" if other else ""))

    @ident.command("list")
    def list_cmd(
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
        as_json: bool = typer.Option(False, "--json", help="one JSON array"),
    ) -> None:
        """List the analyst overrides, oldest first."""
        store = _store(db)
        ov = store.table("identity_overrides").sort_values(["at", "id"], kind="stable")
        if as_json:
            typer.echo(ov.assign(at=ov["at"].astype(str)).to_json(orient="records"))
            return
        for r in ov.itertuples(index=False):
            other = f" {r.record_b}" if isinstance(r.record_b, str) and r.record_b else ""
            why = f"  ({r.reason})" if isinstance(r.reason, str) and r.reason else ""
            typer.echo(f"{r.at}  {r.by_user or '-'}  {r.action} {r.record_a}{other}{why}")
        typer.echo(f"{len(ov)} overrides")

    @ident.command("show")
    def show_cmd(
        record: str = typer.Argument(..., help="record key SOURCE/ID or person_id"),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
        as_json: bool = typer.Option(False, "--json", help="one JSON object"),
    ) -> None:
        """Show the person a record belongs to: its records, match weights and evidence."""
        store = _store(db)
        links = store.table("identity_links")
        if links.empty:
            _fail("no identities stored; run `wayfinder identity resolve` first")
        hit = links[(links["record"] == record) | (links["person_id"] == record)]
        if hit.empty:
            _fail(f"no record or person {record!r} in the stored identities")
        pid = hit["person_id"].iloc[0]
        members = links[links["person_id"] == pid].sort_values("record")
        if as_json:
            out = {"person_id": pid, "records": [
                {"record": r.record, "kind": r.kind,
                 "match_weight": None if pd.isna(r.match_weight) else r.match_weight,
                 "evidence": json.loads(r.evidence) if isinstance(r.evidence, str) else None}
                for r in members.itertuples(index=False)]}
            typer.echo(json.dumps(out))
            return
        typer.echo(f"person {pid}: {len(members)} record(s)")
        for r in members.itertuples(index=False):
            w = "" if pd.isna(r.match_weight) else f"  weight {r.match_weight:.1f}"
            ev = ""
            if isinstance(r.evidence, str):
                e = json.loads(r.evidence)
                levels = ", ".join(f"{k} {v}" for k, v in e.items()
                                   if k not in ("via", "rule", "weight") and v)
                ev = f"  via {e.get('via')} [{e.get('rule')}: {levels}]"
            typer.echo(f"  {r.record} ({r.kind}){w}{ev}")

    @ident.command("report")
    def report_cmd(
        out: Path = typer.Option(..., "--out", help="folder for the report CSVs"),
        db: Optional[str] = typer.Option(None, "--db", help=DB_HELP),
    ) -> None:
        """Write children_multiple_sources.csv and children_missing_multiple_settings.csv."""
        from network.identity import (children_known_to_multiple_sources,
                                      children_missing_from_multiple_settings)
        store = _store(db)
        links = store.table("identity_links")
        if links.empty:
            _fail("no identities stored; run `wayfinder identity resolve` first")
        links["source"] = links["record"].str.split("/", n=1).str[0]
        out.mkdir(parents=True, exist_ok=True)
        multi = children_known_to_multiple_sources(links)
        multi.to_csv(out / "children_multiple_sources.csv", index=False)
        settings = children_missing_from_multiple_settings(store.frame("episodes"), links)
        settings.to_csv(out / "children_missing_multiple_settings.csv", index=False)
        typer.echo(f"{len(multi)} children known to more than one source; {len(settings)} "
                   f"missing from more than one setting -> {out}")

    app.add_typer(ident, name="identity")

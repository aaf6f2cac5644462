"""``wayfinder audit verify --db URL`` and ``wayfinder audit list``."""
from __future__ import annotations

import typer


def _engine(db):
    from api.tables import create_tables
    from api.cli.common import db_url
    from geo.storage.store import open_store
    store = open_store(db_url(db))
    create_tables(store.engine)
    return store.engine


def register(app: typer.Typer) -> None:
    audit = typer.Typer(help="The hash-chained audit trail (DPA 2018 s.62)")

    @audit.command("verify")
    def verify_(db: str = typer.Option(None, "--db")) -> None:
        """Exit 0 when the chain is intact; otherwise name the first altered or missing entry."""
        from api.jobs.audit import verify
        try:
            res = verify(_engine(db))
        except Exception as exc:
            typer.echo(f"wayfinder audit verify: {str(exc).splitlines()[0]}", err=True)
            raise typer.Exit(2)
        if not res.ok:
            typer.echo(f"wayfinder audit verify: {res.message}", err=True)
            raise typer.Exit(1)
        typer.echo(res.message)

    @audit.command("list")
    def list_(db: str = typer.Option(None, "--db"), limit: int = typer.Option(50, "--limit"),
              action: str = typer.Option(None, "--action")) -> None:
        """The newest entries (tab-separated: id, at, user, role, action, route, what, purpose, count, status)."""
        from sqlalchemy import select
        from api.tables import audit_log
        try:
            engine = _engine(db)
            q = select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
            if action:
                q = q.where(audit_log.c.action == action)
            with engine.connect() as conn:
                rows = conn.execute(q).mappings().all()
        except Exception as exc:
            typer.echo(f"wayfinder audit list: {str(exc).splitlines()[0]}", err=True)
            raise typer.Exit(1)
        for r in rows:
            typer.echo("\t".join("" if r[c] is None else str(r[c]) for c in
                                 ("id", "at", "user_name", "role", "action", "route", "what",
                                  "purpose", "result_count", "status")))

    @audit.command("writer-role")
    def writer_role(db: str = typer.Option(None, "--db"),
                    role: str = typer.Option("wayfinder_audit", "--role", help="role name"),
                    password_stdin: bool = typer.Option(False, "--password-stdin",
                                                        help="read the role's password from stdin")) -> None:
        """PostgreSQL: create the INSERT-only audit role; prints the URL for WAYFINDER_AUDIT_DB."""
        import sys

        from api.jobs.audit import create_writer_role
        password = sys.stdin.readline().rstrip("\n") if password_stdin else None
        try:
            url = create_writer_role(_engine(db), role, password)
        except Exception as exc:
            typer.echo(f"wayfinder audit writer-role: {str(exc).splitlines()[0]}", err=True)
            raise typer.Exit(1)
        typer.echo(url if password is None else url.replace(f":{password}@", ":***@"))

    app.add_typer(audit, name="audit")

    keys = typer.Typer(help="The install's keys (tokens, pseudonyms, audit MACs), outside the store")

    @keys.command("where")
    def keys_where(db: str = typer.Option(None, "--db")) -> None:
        """Print the key directory and the audit anchor of a store."""
        from api.keys import keys_for
        try:
            k = keys_for(_engine(db))
        except Exception as exc:
            typer.echo(f"wayfinder keys where: {str(exc).splitlines()[0]}", err=True)
            raise typer.Exit(1)
        typer.echo(f"keys {k.directory}\nanchor {k.anchor}")

    @keys.command("rotate")
    def keys_rotate(db: str = typer.Option(None, "--db")) -> None:
        """Replace the token key: everybody is signed out; pseudonyms and the audit key stay."""
        from api.jobs.audit import record_command
        from api.keys import rotate_token_key
        try:
            engine = _engine(db)
            path = rotate_token_key(engine)
            record_command(engine, "alteration", "token key rotated (all tokens revoked)")
        except Exception as exc:
            typer.echo(f"wayfinder keys rotate: {str(exc).splitlines()[0]}", err=True)
            raise typer.Exit(1)
        typer.echo(f"new token key in {path}: restart the service; every user signs in again")

    app.add_typer(keys, name="keys")

"""``wayfinder users add NAME --role ROLE --db URL`` (password: one line on stdin), ``users disable``,
``users list``. There are no default accounts or passwords."""
from __future__ import annotations

import sys

import typer

from api.cli.common import fail as _fail

from api.roles import ROLES


def _engine(db):
    from api.tables import create_tables
    from api.cli.common import db_url
    from geo.storage.store import open_store
    store = open_store(db_url(db))
    create_tables(store.engine)
    return store.engine


def _alteration(engine, what: str) -> None:
    from api.jobs.audit import AuditEntry, AuditTrail
    import getpass
    AuditTrail(engine).record_now(AuditEntry("alteration", f"cli:{getpass.getuser()}", "cli",
                                             "wayfinder users", what))


def register(app: typer.Typer) -> None:
    users = typer.Typer(help="Users and roles (analyst, mog_member, cog_member, mase_member, licensing_officer, admin)")

    @users.command("add")
    def add(name: str, role: str = typer.Option(..., "--role", help=", ".join(ROLES)),
            db: str = typer.Option(None, "--db")) -> None:
        """Create a user; the password is read as one line from stdin."""
        from api.service.auth import add_user
        from api.service.errors import BadRequest
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            _fail("no password on stdin (pipe one line)")
        try:
            engine = _engine(db)
            add_user(engine, name, role, password)
            _alteration(engine, f"user {name} added with role {role}")
        except BadRequest as exc:
            _fail(str(exc))
        except Exception as exc:
            _fail(str(exc).splitlines()[0])
        typer.echo(f"user {name} added ({role})")

    @users.command("disable")
    def disable(name: str, db: str = typer.Option(None, "--db")) -> None:
        """Disable a user (their tokens stop working within seconds)."""
        from api.service.auth import set_disabled
        from api.service.errors import BadRequest
        try:
            engine = _engine(db)
            set_disabled(engine, name, True)
            _alteration(engine, f"user {name} disabled")
        except BadRequest as exc:
            _fail(str(exc))
        except Exception as exc:
            _fail(str(exc).splitlines()[0])
        typer.echo(f"user {name} disabled")

    @users.command("list")
    def list_(db: str = typer.Option(None, "--db")) -> None:
        """List users, roles and whether disabled."""
        from api.service.auth import list_users
        try:
            rows = list_users(_engine(db))
        except Exception as exc:
            _fail(str(exc).splitlines()[0])
        for r in rows:
            typer.echo(f"{r['name']}\t{r['role']}\t{'disabled' if r['disabled'] else 'active'}")

    app.add_typer(users, name="users")

"""``wayfinder serve --db URL [--host H] [--port P]``."""
from __future__ import annotations


import typer


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve(db: str = typer.Option(None, "--db", help="SQLAlchemy URL (default WAYFINDER_DB, then sqlite:///wayfinder.sqlite)"),
              host: str = typer.Option("127.0.0.1", "--host"),
              port: int = typer.Option(8000, "--port"),
              workers: int = typer.Option(1, "--workers", help="worker processes (each keeps its own layer cache)")) -> None:
        """Serve the API (layers, tiles, analyses) with roles, minimisation and the audit trail."""
        import os

        import uvicorn

        from api.service.app import create_app
        from api.cli.common import db_url
        url = db_url(db)
        try:
            application = create_app(url)   # also checks the store opens before forking workers
        except Exception as exc:
            typer.echo(f"wayfinder serve: cannot start: {exc}".splitlines()[0], err=True)
            raise typer.Exit(1)
        if workers > 1:
            # the worker processes import web_app and read their settings from the environment:
            # the one way to hand them the store URL (uvicorn takes no factory arguments)
            os.environ["WAYFINDER_DB"] = url
            application.state.wf.audit.close()
            uvicorn.run("api.cli.serve:web_app", factory=True, host=host, port=port,
                        workers=workers, log_level="warning")
            return
        uvicorn.run(application, host=host, port=port, log_level="warning")


def web_app():
    """uvicorn factory for ``--workers N`` (store URL from WAYFINDER_DB)."""
    from api.service.app import create_app
    return create_app()

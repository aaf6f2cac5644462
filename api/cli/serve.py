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
        from geo.store import resolve_url
        url = resolve_url(db)
        try:
            application = create_app(url)   # also checks the store opens before forking workers
        except Exception as exc:
            typer.echo(f"wayfinder serve: cannot start: {exc}".splitlines()[0], err=True)
            raise typer.Exit(1)
        if workers > 1:
            os.environ["WAYFINDER_DB"] = url
            application.state.wf.audit.close()
            uvicorn.run("api.cli.serve:web_app", factory=True, host=host, port=port,
                        workers=workers, log_level="warning")
            return
        _with_web_page(application)
        uvicorn.run(application, host=host, port=port, log_level="warning")


def _with_web_page(application):
    """The web page is mounted by ``create_app`` (``api.service.app.include_web_page``)."""
    return application


def web_app():
    """uvicorn factory for ``--workers N`` (store URL from WAYFINDER_DB)."""
    from api.service.app import create_app
    return _with_web_page(create_app())

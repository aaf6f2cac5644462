"""The real Wayfinder app (api.service.app.create_app) over a real store, with the maps.web router, served by
uvicorn on 127.0.0.1 in a thread, for browser tests."""
from __future__ import annotations

import socket
import threading
import time

import uvicorn


def make_app(url: str):
    from api import roles
    from api.service.app import create_app
    from api.service.routes import web

    # Until api/roles.py lists the page's routes, declare them here (the page and the vendored
    # assets hold no data; packs are person-level disclosures).
    roles.ROUTES.setdefault("web_page", roles.PUBLIC)
    roles.ROUTES.setdefault("web_static", roles.PUBLIC)
    roles.ROUTES.setdefault("pack", roles.Rule(frozenset({"analyst", "mog_member", "cog_member", "mase_member"}),
                                               action="disclosure", person_level=True))
    app = create_app(url)
    if not any(getattr(r, "name", None) == "web_page" for r in app.routes):
        app.include_router(web.router)
    return app


def add_user(app, name: str, role: str, password: str) -> None:
    from api.service.auth import add_user as _add

    try:
        _add(app.state.wf.store.engine, name, role, password)
    except Exception:  # noqa: BLE001 - already there from an earlier test
        pass


class Server:
    def __init__(self, app):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                                    lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.thread.start()
        for _ in range(200):
            if self.server.started:
                return self
            time.sleep(0.05)
        raise RuntimeError("server did not start")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=10)

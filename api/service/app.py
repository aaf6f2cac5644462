"""The Wayfinder service: ``create_app(store_url or store)``.

One dependency (:func:`api.service.dependencies.authorize`) guards every route with the role-by-route
matrix of :mod:`api.roles`; one middleware (:class:`AuditMiddleware`) records every request that
reached a guarded route (allowed or denied) in the hash-chained audit trail (:mod:`api.jobs.audit`),
committing the entry before the response (or the 401/403) is sent.
"""
from __future__ import annotations

import itertools
import json
import logging
import threading
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Depends, FastAPI
from fastapi.security import OAuth2PasswordBearer

from api import roles
from api.jobs.audit import AuditEntry, AuditTrail
from api.service.auth import Authenticator, LoginGuard
from api.service.dependencies import RateLimiter, authorize
from api.service.errors import add_exception_handlers
from api.jobs.layers import LayerCache
from api.minimise import Minimiser
from api.service.model import ERRORS
from api.service.routes.tiles import MVT, cached_tile, stored_tile
from api.service.routes.tiles import warm as warm_tiles
from api.settings import Settings
from api.tables import create_tables
from geo.storage.protocol import StoreLike

log = logging.getLogger("wayfinder.api")

DESCRIPTION = """
Geospatial intelligence for safeguarding children who go missing and children at risk of
sexual exploitation.

**Access**: `POST /auth/token` with an OAuth2 password form returns a short-lived bearer token;
send it as `Authorization: Bearer TOKEN`. Each role sees only the routes and layers of the
role-by-route matrix; non-analyst roles receive minimised data (pseudonyms, counts under 5 as
"<5", points generalised to a 250 m grid, no placement locations). Person-level routes require a
`purpose`. Every consultation, disclosure and denied request is recorded in a hash-chained audit
trail (Data Protection Act 2018 s.62).

**Layers** are OGC API - Features collections (landing page `/`, asked for as JSON; Part 2 `crs`
and `bbox-crs` with CRS84 and EPSG:27700; Part 3 queryables) and Mapbox vector tiles
(`/collections/{id}/tiles/WebMercatorQuad/{z}/{x}/{y}`) so QGIS, GDAL and web maps can add them
directly.
"""

oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


@dataclass
class Service:
    store: StoreLike
    settings: Settings
    auth: Authenticator
    audit: AuditTrail
    minimiser: Minimiser
    layers: LayerCache
    limiter: RateLimiter
    anon_limiter: RateLimiter
    login_guard: LoginGuard


def _open(store_or_url):
    from geo.storage.store import open_store
    if isinstance(store_or_url, str):
        return open_store(store_or_url)
    return store_or_url


def build_service(store_or_url=None, settings: Settings | None = None) -> Service:
    from api.keys import keys_for
    settings = settings or Settings()
    store = _open(store_or_url if store_or_url is not None else settings.db)
    create_tables(store.engine)
    # keys outside the store: tokens, pseudonyms and audit MACs each their own (api.keys)
    keys = keys_for(store.engine, settings.secret)
    minimiser = Minimiser(keys.pseudonym, float(settings.grid_m), settings.small_count)
    audit_engine = store.engine
    if settings.audit_db:         # the INSERT-only role (PostgreSQL)
        import sqlalchemy as sa
        audit_engine = sa.create_engine(settings.audit_db, pool_pre_ping=True)
    svc = Service(
        store=store, settings=settings,
        auth=Authenticator(store.engine, keys.token, settings.token_minutes, settings.user_cache_seconds),
        audit=AuditTrail(audit_engine), minimiser=minimiser,
        layers=LayerCache(store, settings, minimiser, refresh_seconds=settings.refresh_seconds,
                          tile_cache_size=settings.tile_cache_size,
                          tile_cache_bytes=settings.tile_cache_mb * 2**20),
        limiter=RateLimiter(settings.rate_per_minute),
        anon_limiter=RateLimiter(settings.rate_per_minute and max(settings.rate_per_minute, 60)),
        login_guard=LoginGuard(store.engine, settings.login_rate_per_minute, settings.login_account_failures,
                               settings.lockout_seconds,
                               hash_concurrency=settings.login_hash_concurrency))
    # after every layer build: the tiles a chair's map opens on, in the background
    svc.layers.after_build = lambda _: threading.Thread(
        target=warm_tiles, args=(svc,), name="tile-warm", daemon=True).start()
    return svc


#: on every response that has not set its own: data are never cached by browsers or proxies,
#: and never sniffed into another type
DATA_HEADERS = ((b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"),
                (b"referrer-policy", b"no-referrer"))


def _with_security_headers(message: dict) -> dict:
    headers = list(message.get("headers") or [])
    present = {k.lower() for k, _ in headers}
    headers += [(k, v) for k, v in DATA_HEADERS if k not in present]
    return {**message, "headers": headers}


class AuditMiddleware:
    """Records each request that matched a guarded route, once its status is known and *before*
    the response leaves: the ``http.response.start`` message is held until the audit entry is
    committed (DPA 2018 s.62 logs must not be lossy). When the entry cannot be committed the
    request is answered 503 and nothing of the route's response is sent.

    A tile already in the tile cache, asked for by a caller allowed to see it, is answered here
    (:func:`api.service.routes.tiles.cached_tile`: the same authentication, matrix, collection,
    purpose, rate-limit and view checks, and the same audit entry, without the routing and
    dependency machinery), and so is a tile made in advance in the store
    (:func:`api.service.routes.tiles.stored_tile`, the same checks);
    every other request, including every denied one, goes through the app."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        state = {"started": False, "refused": False}

        async def send_audited(message):
            if state["refused"]:
                return                      # the route's response is withheld
            if message["type"] == "http.response.start" and not state["started"]:
                state["started"] = True
                if not await _record(scope, message["status"]):
                    state["refused"] = True
                    await _refuse(send)
                    return
                message = _with_security_headers(message)
            await send(message)

        hit = _cached_tile(scope)
        if hit is None:
            hit = await _stored_tile(scope)
        if hit is not None:          # a cached or stored tile: same checks and audit, no routing
            ctx, data, headers = hit
            scope.setdefault("state", {})["ctx"] = ctx
            await send_audited({"type": "http.response.start", "status": 200,
                                "headers": [(b"content-length", str(len(data)).encode()),
                                            (b"content-type", MVT.encode())]
                                + [(k.lower().encode(), v.encode()) for k, v in headers.items()]})
            await send_audited({"type": "http.response.body", "body": data})
            return
        try:
            await self.app(scope, receive, send_audited)
        except Exception:  # noqa: BLE001 - boundary: audit the 500, then re-raise
            if not state["started"]:
                state["started"] = True
                await _record(scope, 500)
            raise


def _cached_tile(scope):
    """:func:`api.service.routes.tiles.cached_tile`; None (the normal way) also when it fails, e.g. the
    store is unreachable for a user lookup: the normal way then fails, answers and audits it."""
    wf = getattr(getattr(scope.get("app"), "state", None), "wf", None)
    if wf is None:
        return None
    try:
        return cached_tile(wf, scope)
    except Exception:  # noqa: BLE001 - boundary: the fast path falls back, logged
        log.exception("cached tile fast path failed: request handled the normal way")
        return None


async def _stored_tile(scope):
    """:func:`api.service.routes.tiles.stored_tile`; None (the normal way) also when it fails."""
    wf = getattr(getattr(scope.get("app"), "state", None), "wf", None)
    if wf is None:
        return None
    try:
        return await stored_tile(wf, scope)
    except Exception:  # noqa: BLE001 - boundary: the fast path falls back, logged
        log.exception("stored tile fast path failed: request handled the normal way")
        return None


async def _refuse(send) -> None:
    body = json.dumps({"code": 503, "description": "the audit trail could not record this "
                       "request, so it was not answered: try again"}).encode()
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"retry-after", b"5")]})
    await send({"type": "http.response.body", "body": body})


def _what(scope, ctx, wf: Service) -> str:
    if ctx.what:
        return ctx.what
    route = scope.get("route")
    path = getattr(route, "path", scope.get("path", ""))
    params = dict(scope.get("path_params") or {})
    for k, v in params.items():
        if k in ("person_ref",) and not str(v).startswith(("C-", "A-")):
            v = wf.minimiser.pseudonym(v)
        path = path.replace("{" + k + "}", str(v))
    qs = scope.get("query_string", b"").decode("latin-1")
    keep = [p for p in qs.split("&") if p and not p.startswith(("purpose=", "password="))]
    return path + ("?" + "&".join(keep) if keep else "")


def _entry(scope, code: int | None) -> AuditEntry | None:
    """The audit entry of a request, or None when it needs none (public routes, unmatched paths)."""
    app = scope.get("app")
    state = scope.get("state") or {}
    ctx = state.get("ctx") if isinstance(state, dict) else None
    if app is None or ctx is None:
        return None
    rule = ctx.rule
    if rule is not None and rule.public and rule.action != "login":
        return None
    wf: Service = app.state.wf
    action = ctx.action or (rule.action if rule else "denied")
    if code in (401, 403, 429) and action not in ("login",):
        action = "denied"
    return AuditEntry(
        action=action, user_name=ctx.user, role=ctx.role, route=ctx.route,
        what=_what(scope, ctx, wf)[:2000], purpose=(ctx.purpose or None),
        result_count=ctx.result_count if code is not None and code < 400 else None,
        status=code, client=ctx.client or (scope.get("client") or ("",))[0] or None,
        request_id=_request_id(scope), token_id=ctx.token_id)


#: request ids made here: this process's random prefix and a count (unique across workers and
#: restarts as a uuid4 is; 32 hex digits). ``uuid.uuid4()`` read the system's random source on
#: every request, 0.15 ms of the event loop's time per request on this machine kind; a request
#: id is a correlation id, not a secret (a proxy's X-Request-ID is taken as it is).
_RID_PREFIX = uuid.uuid4().hex[:16]
_rid_count = itertools.count(1)


def _new_request_id() -> str:
    return f"{_RID_PREFIX}{next(_rid_count):016x}"


def _request_id(scope) -> str:
    """The request's id: a well-formed ``X-Request-ID`` from the proxy, else a new one (kept in
    the scope so that the response can name it)."""
    state = scope.setdefault("state", {})
    rid = state.get("request_id") if isinstance(state, dict) else None
    if rid:
        return rid
    given = next((v for k, v in scope.get("headers", ()) if k == b"x-request-id"), b"")
    text = given.decode("latin-1")[:64]
    rid = text if text and all(c.isalnum() or c in "-_." for c in text) else _new_request_id()
    if isinstance(state, dict):
        state["request_id"] = rid
    return rid


async def _record(scope, code: int | None) -> bool:
    """Commit the request's audit entry; False when it could not be committed."""
    try:
        entry = _entry(scope, code)
        if entry is None:
            return True
        await scope["app"].state.wf.audit.record_async(entry)
        return True
    except Exception:  # noqa: BLE001 - boundary: no audit entry, no answer (logged)
        log.exception("could not record audit entry: request refused")
        return False


def all_routes(app_or_router):
    """Every route of an app, flattening included routers (FastAPI keeps them nested)."""
    for r in app_or_router.routes:
        inner = getattr(r, "original_router", None)
        if inner is not None:
            yield from all_routes(inner)
        else:
            yield r


def serve_openapi_30(app: FastAPI) -> None:
    """``/openapi.json`` as OpenAPI 3.0.3 (:func:`api.service.ogc.openapi_30`): the version the landing
    page's service-desc link and the oas30 conformance class declare. FastAPI still builds
    (and rebuilds when routes change) its 3.1 description; the 3.0 form follows it."""
    from api.service.ogc import openapi_30

    build = app.openapi
    seen: dict = {}

    def openapi() -> dict:
        spec = build()
        if seen.get("source") is not spec:
            seen["source"], seen["spec"] = spec, openapi_30(spec)
        return seen["spec"]

    app.openapi = openapi


def create_app(store_or_url=None, settings: Settings | None = None) -> FastAPI:
    """The FastAPI app over a store (or an SQLAlchemy URL; default ``WAYFINDER_DB``)."""
    from api.service.routes import (admin, analyses, auth, collections, licensing, network, profiles,
                                    scorecards, tiles, web)
    wf = build_service(store_or_url, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        wf.audit.close()

    docs = bool(getattr(wf.settings, "docs", True))
    app = FastAPI(
        title="Wayfinder", version="0.1.0", description=DESCRIPTION, lifespan=lifespan,
        # swagger-ui and ReDoc load from a CDN: only when WAYFINDER_DOCS is on (development);
        # the OpenAPI description stays at /openapi.json
        docs_url="/docs" if docs else None, redoc_url="/redoc" if docs else None,
        dependencies=[Depends(authorize), Depends(oauth2)],
        responses={k: ERRORS[k] for k in (400, 401, 403, 429)},
        openapi_tags=[
            {"name": "auth", "description": "Tokens"},
            {"name": "OGC API - Features", "description": "Layers as collections"},
            {"name": "tiles", "description": "Mapbox vector tiles and TileJSON"},
            {"name": "analyses", "description": "Hotspots, trends, premises, groups"},
            {"name": "network", "description": "Network views (Cytoscape JSON)"},
            {"name": "children", "description": "Profiles, missing now, worrying cases"},
            {"name": "scorecards", "description": "MOG and CSE scorecards"},
            {"name": "licensing", "description": "Screening and premises reviews"},
            {"name": "admin", "description": "Audit trail and users (admin only)"},
        ])
    app.state.wf = wf
    add_exception_handlers(app)
    app.add_middleware(AuditMiddleware)

    @app.get("/healthz", name="health", tags=["admin"], summary="Liveness",
             responses={200: {"content": {"application/json": {"example": {"status": "ok"}}}}})
    def health() -> dict:
        return {"status": "ok"}

    # the web page and packs (api/service/routes/web.py) last: its routes are named in
    # api.roles.ROUTES like every other
    for module in (auth, collections, tiles, analyses, network, profiles, scorecards, licensing, admin,
                   web):
        app.include_router(module.router)
    serve_openapi_30(app)
    missing = [r.name for r in all_routes(app) if roles.rule_for(r.name) is None]
    if missing:
        log.warning("routes without a rule are refused to everyone: %s", missing)
    return app

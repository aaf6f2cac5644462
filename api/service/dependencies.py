"""FastAPI dependencies: the one access dependency (authentication, the role-by-route matrix,
rate limits, purpose) applied to every route, and query parsing shared by routes."""
from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass

import pandas as pd
from fastapi import Query, Request

from api import roles
from api.service.errors import (BadRequest, Forbidden, NotAuthenticated, NotFound, PurposeRequired,
                        RateLimited)
from api.minimise import view_for


@dataclass
class Context:
    """Who is asking, under which rule; routes fill ``what`` and ``result_count`` for the audit."""
    user: str | None
    role: str | None
    route: str
    rule: roles.Rule | None
    view: str = "none"
    what: str | None = None
    purpose: str | None = None
    result_count: int | None = None
    action: str | None = None
    client: str | None = None
    token_id: str | None = None

    @property
    def analyst(self) -> bool:
        return self.view == "full"


class RateLimiter:
    """Token bucket per key: ``rate`` requests per minute with a burst of the same size."""

    def __init__(self, per_minute: int, max_keys: int = 10_000):
        from api.service.auth import _LRU
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        #: bounded: a flood of new keys evicts the least recently stored
        self._b = _LRU(max_keys)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0 when allowed, else seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._b.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._b.put(key, (tokens - 1, now))
                return 0.0
            self._b.put(key, (tokens, now))
            return (1 - tokens) / self.rate


def service(request: Request):
    return request.app.state.wf


def client_address(request: Request) -> str:
    """The client's address: the TCP peer, or, when the peer is one of the configured
    ``trusted_proxies``, the last address it put in ``X-Forwarded-For`` (forwarded headers from
    anyone else are ignored, so rotating them does not dodge a limit)."""
    return client_of_scope(request.scope, request.app.state.wf.settings)


def client_of_scope(scope, settings) -> str:
    """:func:`client_address` of an ASGI scope."""
    peer = (scope.get("client") or ("unknown",))[0] or "unknown"
    trusted = getattr(settings, "trusted_proxies", "") or ""
    if trusted and peer in {t.strip() for t in trusted.split(",") if t.strip()}:
        fwd = next((v for k, v in scope.get("headers", ()) if k == b"x-forwarded-for"), b"")
        hops = [h.strip() for h in fwd.decode("latin-1").split(",") if h.strip()]
        if hops:
            return hops[-1][:64]
    return peer


_client = client_address


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer TOKEN`` header value, else None."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


async def authorize(request: Request) -> Context | None:
    """Applied to every route: resolves the caller from the bearer token and enforces the
    role-by-route matrix (unknown routes are refused), rate limits and the audit context."""
    wf = request.app.state.wf
    route = request.scope.get("route")
    name = getattr(route, "name", None)
    rule = roles.rule_for(name)
    path = getattr(route, "path", None)      # request.url only when needed: it costs
    ctx = Context(user=None, role=None, route=path if path is not None else request.url.path,
                  rule=rule, client=client_address(request))
    request.state.ctx = ctx
    if rule is not None and rule.public:
        return ctx
    token = bearer_token(request.headers.get("authorization", ""))
    if token is None:
        wait = wf.anon_limiter.take(_client(request))
        if wait:
            raise RateLimited("too many requests: slow down", int(wait) + 1)
        ctx.action = "denied"
        raise NotAuthenticated("not authenticated: send Authorization: Bearer TOKEN "
                               "(POST /auth/token to get one)")
    try:
        user = wf.auth.user_from_token(token)
    except NotAuthenticated:
        ctx.action = "denied"
        raise
    ctx.user, ctx.role, ctx.view = user.name, user.role, view_for(user.role)
    ctx.token_id = wf.auth.token_id(token)
    wait = wf.limiter.take("u:" + user.name)
    if wait:
        raise RateLimited(f"rate limit of {wf.settings.rate_per_minute} requests per minute "
                          "exceeded", int(wait) + 1)
    if rule is None or user.role not in rule.roles:
        ctx.action = "denied"
        raise Forbidden(f"role {user.role} may not use {ctx.route}")
    if rule.param is not None:          # e.g. a pack kind: allowed per value, unknown refused
        value = str(request.path_params.get(rule.param, ""))
        if not rule.allows(user.role, value):
            ctx.action = "denied"
            raise Forbidden(f"role {user.role} may not use {ctx.route} with {rule.param} "
                            f"{value[:40]!r}")
    cid = request.path_params.get("collection_id")
    if cid in roles.COLLECTION_ROLES and not roles.collection_allowed(cid, user.role):
        ctx.action = "denied"         # before the purpose: a refused layer is refused (403)
        raise Forbidden(f"role {user.role} may not see collection {cid}")
    if rule.person_level or roles.needs_purpose(name, request.path_params):
        # the query parameter, or the X-Purpose header (for clients such as GDAL that send the
        # same headers with every request but cannot add a parameter to the links they follow)
        purpose = stated_purpose(request.query_params.get("purpose"),
                                 request.headers.get("x-purpose"))
        if purpose is None:
            raise PurposeRequired("purpose: person-level data need a stated purpose "
                                  "(query parameter purpose, 5-300 characters)")
        ctx.purpose = purpose
    return ctx


def stated_purpose(query: str | None, header: str | None) -> str | None:
    """The purpose a request states (the ``purpose`` query parameter, else the ``X-Purpose``
    header) as recorded, or None when it states none of at least 5 characters."""
    purpose = (query or header or "").strip()
    return purpose[:300] if len(purpose) >= 5 else None


def ctx_of(request: Request) -> Context:
    return request.state.ctx


def require_collection(request: Request, collection_id: str) -> str:
    from api.jobs.layers import LAYERS
    ctx: Context = request.state.ctx
    if collection_id not in LAYERS:
        raise NotFound(f"no collection {collection_id!r}: see GET /collections")
    if not roles.collection_allowed(collection_id, ctx.role or ""):
        ctx.action = "denied"
        raise Forbidden(f"role {ctx.role} may not see collection {collection_id}")
    return collection_id


PURPOSE = Query(..., min_length=5, max_length=300,
                description="Why these person-level data are needed (recorded in the audit "
                            "trail), e.g. 'MASE South case review'.",
                examples=["MASE South case review"])


# -- query parsing -------------------------------------------------------------------------------

def parse_bbox(bbox: str | None) -> tuple[float, float, float, float] | None:
    """The four numbers of ``bbox`` (six: the heights are dropped), lower corner first; whether
    they are in range depends on ``bbox-crs`` (:func:`api.service.ogc.bbox_in`)."""
    if bbox is None or bbox == "":
        return None
    parts = bbox.split(",")
    if len(parts) not in (4, 6):
        raise BadRequest("bbox must be minx,miny,maxx,maxy (longitudes and latitudes, or "
                         "eastings and northings with bbox-crs=EPSG:27700)")
    try:
        vals = [float(p) for p in parts]
    except ValueError:
        raise BadRequest("bbox values must be numbers") from None
    if len(vals) == 6:
        vals = [vals[0], vals[1], vals[3], vals[4]]
    if any(v != v or v in (float("inf"), float("-inf")) for v in vals):
        raise BadRequest("bbox values must be finite numbers")
    x0, y0, x1, y1 = vals
    if y0 > y1:
        raise BadRequest("bbox: the lower corner's y (minlat or min northing) must not exceed "
                         "the upper corner's")
    return x0, y0, x1, y1


def _instant(text: str) -> pd.Timestamp | None:
    if text in ("", ".."):
        return None
    try:
        t = pd.Timestamp(text)
    except (ValueError, TypeError, OverflowError):
        raise BadRequest(f"datetime: {text!r} is not an RFC 3339 date-time or date") from None
    if t is pd.NaT:
        raise BadRequest(f"datetime: {text!r} is not a date-time")
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def _is_date(text: str) -> bool:
    """A calendar date without a time (YYYY-MM-DD)."""
    t = text.strip()
    return len(t) == 10 and t[4] == "-" and t[7] == "-"


def parse_datetime(value: str | None) -> tuple[int | None, int | None] | None:
    """OGC datetime: an instant, ``a/b``, ``../b`` or ``a/..``; returns ns bounds (inclusive).
    A date outside what nanosecond time stamps hold (years 1678-2261; ``-0`` parses as year 0)
    is a 400, not an overflow."""
    try:
        return _parse_datetime(value)
    except (OverflowError, pd.errors.OutOfBoundsDatetime, pd.errors.OutOfBoundsTimedelta):
        raise BadRequest(f"datetime: {value!r} is out of range (years 1678 to 2261)") from None


def _parse_datetime(value: str | None) -> tuple[int | None, int | None] | None:
    if value is None or value == "":
        return None
    if "/" in value:
        a, _, b = value.partition("/")
        lo, hi = _instant(a.strip()), _instant(b.strip())
        if lo is None and hi is None:
            raise BadRequest("datetime: at least one end of the interval must be given")
        if hi is not None and _is_date(b):   # a date-only end includes that whole day
            hi = hi + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    else:
        lo = _instant(value.strip())
        if lo is None:
            raise BadRequest("datetime: give an instant or an interval a/b")
        hi = lo
        if _is_date(value):  # a date: the whole day
            hi = lo + pd.Timedelta(days=1) - pd.Timedelta(1, "ns")
    if lo is not None and hi is not None and lo > hi:
        raise BadRequest("datetime: the interval ends before it starts")
    return (None if lo is None else lo.value, None if hi is None else hi.value)


def parse_date(value: str | None, name: str) -> pd.Timestamp | None:
    if value is None or value == "":
        return None
    try:
        t = pd.Timestamp(dt.date.fromisoformat(value))
    except ValueError:
        raise BadRequest(f"{name} must be a date YYYY-MM-DD") from None
    return t.tz_localize("UTC")

"""Exceptions and their HTTP statuses, in one table (tipg style)."""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


class WayfinderError(Exception):
    """Base class: ``str(exc)`` is the one-line message returned to the client."""


class NotAuthenticated(WayfinderError):
    """No valid bearer token: HTTP 401."""


class Forbidden(WayfinderError):
    """The role may not use this route: HTTP 403."""


class NotFound(WayfinderError):
    """No such collection, feature or record: HTTP 404."""


class BadRequest(WayfinderError):
    """A bad parameter, named in the message: HTTP 400."""


class PurposeRequired(BadRequest):
    """A person-level request without a stated purpose: HTTP 400."""


class RateLimited(WayfinderError):
    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(WayfinderError):
    """The store cannot answer yet (nothing ingested or analysed) or the audit cannot be written: HTTP 503."""


STATUS: dict[type[Exception], int] = {
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    PurposeRequired: 400,
    BadRequest: 400,
    RateLimited: 429,
    Unavailable: 503,
}


def _status_for(exc: Exception) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500


def _body(status: int, message: str, **extra) -> dict:
    return {"code": status, "description": message, **extra}


def add_exception_handlers(app: FastAPI) -> None:
    async def wayfinder_handler(request: Request, exc: WayfinderError):
        status = _status_for(exc)
        headers = {}
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        if isinstance(exc, RateLimited):
            headers["Retry-After"] = str(exc.retry_after)
        return JSONResponse(_body(status, str(exc)), status_code=status, headers=headers)

    async def validation_handler(request: Request, exc: RequestValidationError):
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body"))
            problems.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        message = "invalid request: " + "; ".join(problems)
        return JSONResponse(_body(400, message), status_code=400)

    async def http_handler(request: Request, exc: StarletteHTTPException):
        headers = getattr(exc, "headers", None) or {}
        return JSONResponse(_body(exc.status_code, str(exc.detail)), status_code=exc.status_code,
                            headers=headers)

    app.add_exception_handler(WayfinderError, wayfinder_handler)
    app.add_exception_handler(RequestValidationError, validation_handler)
    app.add_exception_handler(StarletteHTTPException, http_handler)

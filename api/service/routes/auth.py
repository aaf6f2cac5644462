"""POST /auth/token (OAuth2 password form), POST /auth/refresh and GET /auth/me."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api import roles
from api.service.auth import Busy, Locked
from api.service.dependencies import bearer_token, client_address, ctx_of, service
from api.service.errors import NotAuthenticated, RateLimited
from api.service.model import ERRORS, Me, Token

router = APIRouter(tags=["auth"])


@router.post("/auth/token", name="login", response_model=Token,
             summary="Exchange a user name and password for a short-lived bearer token",
             responses={401: ERRORS[401], 429: ERRORS[429]})
def login(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """The limits (per client address, per account) are checked before the password is hashed:
    a locked account or address gets 429 whatever the password."""
    wf = service(request)
    ctx = ctx_of(request)
    name = form.username[:120]
    ctx.user = name
    ctx.what = "token request"
    client = client_address(request)
    guard = wf.login_guard
    wait = guard.check(name, client)
    if wait:
        ctx.what = "login refused: too many failed logins"
        raise RateLimited("too many failed logins for this account or address: wait and try "
                          "again", int(wait) + 1)
    try:
        user = wf.auth.login(name, form.password, guard, client)
    except Locked as exc:
        ctx.what = "login refused: too many failed logins"
        raise RateLimited(str(exc), int(exc.wait) + 1) from None
    except Busy as exc:
        raise RateLimited(str(exc), 2) from None
    if user is None:
        ctx.what = "login failed"
        raise NotAuthenticated("incorrect user name or password, or user disabled")
    ctx.role = user.role
    token, ttl = wf.auth.issue(user)
    ctx.what = "token issued"
    return Token(access_token=token, token_type="bearer", expires_in=ttl, role=user.role)


@router.post("/auth/refresh", name="token_refresh", response_model=Token,
             summary="Renew the caller's token before it expires (the old one is revoked)",
             responses={401: ERRORS[401], 429: ERRORS[429]})
def refresh(request: Request) -> Token:
    wf = service(request)
    ctx = ctx_of(request)
    token = bearer_token(request.headers.get("authorization", ""))
    if token is None:
        raise NotAuthenticated("not authenticated")
    user, new, ttl = wf.auth.refresh(token)
    ctx.what = "token renewed (previous token revoked)"
    return Token(access_token=new, token_type="bearer", expires_in=ttl, role=user.role)


@router.get("/auth/me", name="whoami", response_model=Me, summary="The caller, its role and what it may use",
            responses={401: ERRORS[401]})
def whoami(request: Request) -> Me:
    from api.minimise import view_for
    ctx = ctx_of(request)
    allowed = sorted(n for n, r in roles.ROUTES.items() if not r.public and ctx.role in r.roles)
    cols = sorted(c for c in roles.COLLECTION_ROLES if roles.collection_allowed(c, ctx.role))
    return Me(name=ctx.user, role=ctx.role, view=view_for(ctx.role), routes=allowed, collections=cols)

"""POST /auth/token (OAuth2 password form) and GET /auth/me."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api import roles
from api.dependencies import ctx_of, service
from api.errors import NotAuthenticated, RateLimited
from api.model import ERRORS, Me, Token

router = APIRouter(tags=["auth"])


@router.post("/auth/token", name="login", response_model=Token,
             summary="Exchange a user name and password for a short-lived bearer token",
             responses={401: ERRORS[401], 429: ERRORS[429]})
def login(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    wf = service(request)
    ctx = ctx_of(request)
    ctx.user = form.username[:120]
    ctx.what = "token request"
    client = request.client.host if request.client else "unknown"
    user = wf.auth.login(form.username, form.password)
    if user is None:
        wait = wf.login_limiter.take("login:" + client)
        if wait:
            raise RateLimited("too many failed logins: wait and try again", int(wait) + 1)
        ctx.what = "login failed"
        raise NotAuthenticated("incorrect user name or password, or user disabled")
    ctx.role = user.role
    token, ttl = wf.auth.issue(user)
    ctx.what = "token issued"
    return Token(access_token=token, token_type="bearer", expires_in=ttl, role=user.role)


@router.get("/auth/me", name="whoami", response_model=Me, summary="The caller, its role and what it may use",
            responses={401: ERRORS[401]})
def whoami(request: Request) -> Me:
    from api.minimise import view_for
    ctx = ctx_of(request)
    allowed = sorted(n for n, r in roles.ROUTES.items() if not r.public and ctx.role in r.roles)
    cols = sorted(c for c in roles.COLLECTION_ROLES if roles.collection_allowed(c, ctx.role))
    return Me(name=ctx.user, role=ctx.role, view=view_for(ctx.role), routes=allowed, collections=cols)

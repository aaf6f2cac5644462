"""Users, Argon2 password hashes and short-lived JWT bearer tokens.

There are no default or built-in accounts or passwords: users are created with
``wayfinder users add NAME --role ROLE`` (password from stdin). Tokens are HS256 JWTs signed with a
per-install secret: ``WAYFINDER_SECRET`` when set, otherwise a random 256-bit secret generated
once and kept in the store (``api_setting``). Tokens carry the user name and role and expire after
``token_minutes``; a disabled user's tokens stop working within ``user_cache_seconds``.

Per-request cost (every request is authenticated): a token's signature is checked once and the
verified claims are kept in a bounded LRU keyed by the exact token string (an HMAC check of the same
bytes with the same secret cannot change), but its expiry is checked on every request. The user
behind a token (exists, not disabled, same role) is looked up in the store at most every
``user_cache_seconds`` per user (bounded LRU as well), so disabling a user or changing their role
takes effect within that time; tokens that fail verification are never cached.
"""
from __future__ import annotations

import contextlib

import datetime as dt
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from api.errors import BadRequest, NotAuthenticated
from api.roles import ROLES
from api.tables import api_setting, app_user, create_tables, utcnow

SECRET_KEY = "token_secret"
ALGORITHM = "HS256"
_hasher = PasswordHasher()
# a hash to verify against when the user does not exist (same cost, no user enumeration by timing)
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

MIN_PASSWORD = 12


@dataclass(frozen=True)
class User:
    name: str
    role: str
    disabled: bool = False


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def token_secret(engine: Engine, env_secret: str | None = None) -> str:
    """The signing secret: the environment's, else the store's, generating it on first use."""
    if env_secret:
        return env_secret
    create_tables(engine)
    with engine.begin() as conn:
        value = conn.execute(select(api_setting.c.value).where(api_setting.c.key == SECRET_KEY)).scalar()
        if value:
            return value
        value = secrets.token_urlsafe(32)
        with contextlib.suppress(IntegrityError):   # another process stored one first: use it
            conn.execute(api_setting.insert().values(key=SECRET_KEY, value=value))
    with engine.connect() as conn:
        return conn.execute(select(api_setting.c.value).where(api_setting.c.key == SECRET_KEY)).scalar_one()


# -- user administration (CLI and admin routes) -------------------------------------------------

def add_user(engine: Engine, name: str, role: str, password: str) -> User:
    name = (name or "").strip()
    if not name or len(name) > 120 or any(c.isspace() for c in name):
        raise BadRequest("user name must be 1-120 characters without spaces")
    if role not in ROLES:
        raise BadRequest(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise BadRequest(f"password must be at least {MIN_PASSWORD} characters")
    create_tables(engine)
    try:
        with engine.begin() as conn:
            conn.execute(app_user.insert().values(
                name=name, role=role, password_hash=hash_password(password), disabled=False,
                created_at=utcnow()))
    except IntegrityError:
        raise BadRequest(f"user {name!r} already exists") from None
    return User(name, role)


def set_disabled(engine: Engine, name: str, disabled: bool = True) -> User:
    create_tables(engine)
    with engine.begin() as conn:
        res = conn.execute(update(app_user).where(app_user.c.name == name).values(disabled=disabled))
        if res.rowcount == 0:
            raise BadRequest(f"no user named {name!r}")
        row = conn.execute(select(app_user.c.name, app_user.c.role).where(app_user.c.name == name)).one()
    return User(row.name, row.role, disabled)


def list_users(engine: Engine) -> list[dict]:
    create_tables(engine)
    with engine.connect() as conn:
        rows = conn.execute(select(app_user.c.name, app_user.c.role, app_user.c.disabled,
                                   app_user.c.created_at).order_by(app_user.c.name)).mappings().all()
    return [{"name": r["name"], "role": r["role"], "disabled": bool(r["disabled"]),
             "created_at": r["created_at"].isoformat() if r["created_at"] else None} for r in rows]


# -- tokens ----------------------------------------------------------------------------------------

class _LRU(OrderedDict):
    """A dict that keeps only its ``size`` most recently stored keys."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def put(self, key, value) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class Authenticator:
    def __init__(self, engine: Engine, secret: str, token_minutes: int = 15,
                 cache_seconds: float = 5.0, cache_size: int = 10_000):
        self.engine = engine
        self.secret = secret
        self.token_minutes = token_minutes
        self.cache_seconds = cache_seconds
        #: user name -> (looked up at, User or None), re-read after ``cache_seconds``
        self._cache: _LRU = _LRU(cache_size)
        #: token -> its verified claims (signature and required claims checked once)
        self._tokens: _LRU = _LRU(cache_size)
        self._lock = threading.Lock()

    def _lookup(self, name: str) -> User | None:
        now = time.monotonic()
        hit = self._cache.get(name)
        if hit and now - hit[0] < self.cache_seconds:
            return hit[1]
        with self.engine.connect() as conn:
            row = conn.execute(select(app_user.c.name, app_user.c.role, app_user.c.disabled)
                               .where(app_user.c.name == name)).first()
        user = User(row.name, row.role, bool(row.disabled)) if row else None
        with self._lock:
            self._cache.put(name, (now, user))
        return user

    def _claims(self, token: str) -> dict:
        """The claims of a valid, unexpired token (raises :class:`NotAuthenticated`)."""
        claims = self._tokens.get(token)
        if claims is not None:
            if time.time() >= int(claims["exp"]):    # as PyJWT: expired once now >= exp
                raise NotAuthenticated("token expired: request a new one at POST /auth/token")
            return claims
        try:
            claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM],
                                options={"require": ["sub", "exp", "iat", "role"]})
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("token expired: request a new one at POST /auth/token") from None
        except jwt.PyJWTError:
            raise NotAuthenticated("invalid bearer token") from None
        with self._lock:
            self._tokens.put(token, claims)
        return claims

    def login(self, name: str, password: str) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(app_user.c.name, app_user.c.role, app_user.c.disabled,
                                      app_user.c.password_hash).where(app_user.c.name == name)).first()
        if row is None:
            check_password(_DUMMY_HASH, password)
            return None
        if not check_password(row.password_hash, password) or row.disabled:
            return None
        return User(row.name, row.role)

    def issue(self, user: User) -> tuple[str, int]:
        now = dt.datetime.now(dt.timezone.utc)
        ttl = self.token_minutes * 60
        claims = {"sub": user.name, "role": user.role, "iat": now,
                  "exp": now + dt.timedelta(seconds=ttl), "jti": uuid.uuid4().hex}
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM), ttl

    def user_from_token(self, token: str) -> User:
        claims = self._claims(token)
        user = self._lookup(str(claims["sub"]))
        if user is None or user.disabled:
            raise NotAuthenticated("user unknown or disabled")
        if user.role != claims["role"]:
            raise NotAuthenticated("role changed since the token was issued: log in again")
        return user

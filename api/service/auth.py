"""Users, Argon2 password hashes, short-lived JWT bearer tokens and login limiting.

There are no default or built-in accounts or passwords: users are created with
``wayfinder users add NAME --role ROLE`` (password from stdin). Tokens are HS256 JWTs signed with
the install's token key (``api.keys``: ``WAYFINDER_SECRET`` or ``token.key`` outside the store, at
least 32 characters; separate from the pseudonym key, so rotating it changes no pseudonym).
Tokens carry the user name, role and a token id (``jti``) and expire after ``token_minutes``; the
server refuses any token whose lifetime (``exp - iat``) exceeds ``token_minutes`` or that was
issued in the future, whoever signed it. A signed-in page renews its token before it expires
(``POST /auth/refresh``): the old token is revoked (its id kept in the store's shared
``security_state`` until it would have expired, so every worker process refuses it: at once in the
worker that revoked it, within ``user_cache_seconds`` in the others), so a chair is not signed out
mid-meeting and a stolen token is not renewed twice.
A disabled user's tokens stop working within ``user_cache_seconds``.

Login limiting (:class:`LoginGuard`): the per-account and per-client-address limits are checked
*before* any password is hashed; a locked account or address is answered 429 whatever the
password (right or wrong), and unknown accounts are limited like known ones (no enumeration).
The counts live in the store (``api.service.security_state``), shared by every worker process, bounded
(``max_keys`` rows per kind, stale rows pruned); at most ``hash_concurrency`` Argon2 hashes run at
once per process (each takes 64 MiB: 600 concurrent guesses would otherwise take gigabytes).

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

from api.service.errors import BadRequest, NotAuthenticated
from api.roles import ROLES
from api.service.security_state import Entry, SecurityState
from api.tables import api_setting, app_user, create_tables, utcnow

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
        from api.keys import check_key
        self.engine = engine
        self.secret = check_key(secret, "the token key")
        #: revoked token ids, shared by every worker (api.service.security_state, kind "revoked")
        self.state = SecurityState(engine, max_keys=cache_size * 10)
        self.state.stale_after["revoked"] = 0.0
        #: ids this process knows are revoked, and when others were last checked in the store
        self._revoked: _LRU = _LRU(cache_size)
        self._not_revoked: _LRU = _LRU(cache_size)
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
            if self._is_revoked(str(claims["jti"])):
                raise NotAuthenticated("token revoked: sign in again")
            return claims
        try:
            claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM],
                                options={"require": ["sub", "exp", "iat", "role", "jti"]})
        except jwt.ExpiredSignatureError:
            raise NotAuthenticated("token expired: request a new one at POST /auth/token") from None
        except jwt.PyJWTError:
            raise NotAuthenticated("invalid bearer token") from None
        # the server caps lifetimes whoever signed the token (a 10-year token is refused)
        try:
            iat, exp = int(claims["iat"]), int(claims["exp"])
        except (TypeError, ValueError):
            raise NotAuthenticated("invalid bearer token") from None
        if exp - iat > self.token_minutes * 60 + 5 or iat > time.time() + 60:
            raise NotAuthenticated("invalid bearer token: lifetime longer than the server allows")
        if self._is_revoked(str(claims["jti"]), fresh=True):
            raise NotAuthenticated("token revoked: sign in again")
        with self._lock:
            self._tokens.put(token, claims)
        return claims

    def _is_revoked(self, jti: str, fresh: bool = False) -> bool:
        """Whether the token id was revoked by any worker: known here at once; looked up in the
        store on first sight (``fresh``) and again at most every ``cache_seconds``."""
        if jti in self._revoked:
            return True
        now = time.monotonic()
        seen = self._not_revoked.get(jti)
        if not fresh and seen is not None and now - seen < self.cache_seconds:
            return False
        revoked = self.state.get("revoked", jti) is not None
        with self._lock:
            (self._revoked.put(jti, True) if revoked else self._not_revoked.put(jti, now))
        return revoked

    def token_id(self, token: str) -> str | None:
        """The id (``jti``) of a token already verified by :meth:`user_from_token`."""
        claims = self._tokens.get(token)
        return None if claims is None else str(claims.get("jti"))

    def revoke(self, token: str) -> None:
        """Refuse ``token`` from now on (until it would have expired anyway)."""
        claims = self._claims(token)
        jti = str(claims["jti"])
        self.state.put("revoked", jti, 1.0, float(claims["exp"]))   # every worker: until it expires
        with self._lock:
            self._revoked.put(jti, True)
            self._tokens.pop(token, None)

    def refresh(self, token: str) -> tuple[User, str, int]:
        """A new token for the user of a valid ``token``, which is revoked (one renewal each)."""
        user = self.user_from_token(token)
        self.revoke(token)
        new, ttl = self.issue(user)
        return user, new, ttl

    def login(self, name: str, password: str, guard: "LoginGuard | None" = None,
              client: str = "unknown") -> User | None:
        """The user when ``password`` is right; None otherwise. With ``guard``: at most its
        ``hash_concurrency`` Argon2 hashes run at once (raises :class:`Busy` after waiting), the
        limits are checked again once a hashing slot is held (raises :class:`Locked`: requests
        queued behind the failures that locked an account are refused without hashing), and the
        outcome is counted before the slot is released."""
        if guard is not None:
            with guard.hashing():
                wait = guard.check(name, client)
                if wait:
                    raise Locked(wait)
                user = self.login(name, password)
                if user is None:
                    guard.failed(name, client)
                else:
                    guard.succeeded(name)
                return user
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


# -- login limiting ------------------------------------------------------------------------------

class Busy(RuntimeError):
    """Too many password checks at once: try again shortly."""


class Locked(RuntimeError):
    """The account or client address is over its limit: ``wait`` seconds."""

    def __init__(self, wait: float):
        super().__init__("too many failed logins for this account or address: wait and try again")
        self.wait = wait


class LoginGuard:
    """Limits on password guessing, checked before any hashing, shared by every worker process
    through the store (:class:`api.service.security_state.SecurityState`).

    - per client address: ``per_minute`` failed logins (token bucket, burst of the same size);
    - per account name (known or not): ``account_failures`` failures in a row lock the name for
      ``lockout_seconds``; a success before that resets the count;
    - state is at most ``max_keys`` rows per kind in the store (a flood of new names or addresses
      evicts the oldest, it does not grow the table or memory);
    - at most ``hash_concurrency`` password hashes at once in this process (:meth:`hashing`).
    """

    def __init__(self, engine: Engine, per_minute: int = 20, account_failures: int = 10,
                 lockout_seconds: float = 900.0, max_keys: int = 10_000, hash_concurrency: int = 2,
                 wait_seconds: float = 10.0):
        self.rate = per_minute / 60.0
        self.burst = float(per_minute)
        self.account_failures = account_failures
        self.lockout_seconds = lockout_seconds
        self.wait_seconds = wait_seconds
        self.state = SecurityState(engine, max_keys=max_keys)
        # a bucket is full again after burst / rate seconds; a lockout's count is kept as long
        self.state.stale_after.update({"client": self.burst / self.rate if self.rate > 0 else 0.0,
                                       "account": float(lockout_seconds)})
        self._hashes = threading.BoundedSemaphore(max(1, hash_concurrency))

    def _bucket(self, old: Entry | None, now: float) -> float:
        if old is None:
            return self.burst
        return min(self.burst, old.n + max(0.0, now - old.at) * self.rate)

    def check(self, account: str, client: str) -> float:
        """0 when a login may be tried (and hashed) now, else seconds to wait. Hashes nothing."""
        now = time.time()
        wait = 0.0
        if self.rate > 0:
            tokens = self._bucket(self.state.get("client", client), now)
            if tokens < 1:
                wait = (1 - tokens) / self.rate
        acc = self.state.get("account", account.lower())
        if acc is not None and acc.until > now:
            wait = max(wait, acc.until - now)
        return wait

    def failed(self, account: str, client: str) -> None:
        if self.rate > 0:
            self.state.update("client", client, lambda old, now: Entry(self._bucket(old, now) - 1, now, 0.0))

        def count(old: Entry | None, now: float) -> Entry:
            n = 0 if old is None or (old.until and old.until <= now) else int(old.n)   # a lockout that ended starts afresh
            n += 1
            until = now + self.lockout_seconds if self.account_failures and n >= self.account_failures else 0.0
            return Entry(float(n), now, until)
        self.state.update("account", account.lower(), count)

    def succeeded(self, account: str) -> None:
        self.state.delete("account", account.lower())

    def size(self) -> int:
        return self.state.count("client") + self.state.count("account")

    @contextlib.contextmanager
    def hashing(self):
        if not self._hashes.acquire(timeout=self.wait_seconds):
            raise Busy("too many sign-ins at once: try again shortly")
        try:
            yield
        finally:
            self._hashes.release()

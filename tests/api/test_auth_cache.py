"""Token verification and user lookups are cached per process (bounded), without changing who is
let in: expiry is checked on every request, failed tokens are never cached, and a disabled user
or a changed role is refused once ``user_cache_seconds`` have passed."""
import secrets
import time

import jwt
import pytest
from sqlalchemy import update

from api.service.auth import Authenticator, User, add_user, set_disabled
from api.service.errors import NotAuthenticated
from api.tables import app_user
from geo.storage.store import open_store

SECRET = "s" * 32


@pytest.fixture
def engine(tmp_path):
    eng = open_store(f"sqlite:///{tmp_path / 'auth.sqlite'}").engine
    add_user(eng, "u1", "analyst", secrets.token_urlsafe(16))
    return eng


def test_disabled_user_refused_after_ttl(engine):
    auth = Authenticator(engine, SECRET, cache_seconds=0.3)
    tok, _ = auth.issue(User("u1", "analyst"))
    assert auth.user_from_token(tok).name == "u1"
    set_disabled(engine, "u1")
    time.sleep(0.35)
    with pytest.raises(NotAuthenticated, match="disabled"):
        auth.user_from_token(tok)


def test_role_change_refused_after_ttl(engine):
    auth = Authenticator(engine, SECRET, cache_seconds=0.3)
    tok, _ = auth.issue(User("u1", "analyst"))
    assert auth.user_from_token(tok).role == "analyst"
    with engine.begin() as conn:
        conn.execute(update(app_user).where(app_user.c.name == "u1").values(role="mog_member"))
    time.sleep(0.35)
    with pytest.raises(NotAuthenticated, match="role changed"):
        auth.user_from_token(tok)


def test_expiry_checked_on_every_request(engine, monkeypatch):
    auth = Authenticator(engine, SECRET)
    now = time.time()
    tok = jwt.encode({"sub": "u1", "role": "analyst", "iat": int(now), "exp": int(now) + 60,
                      "jti": "t1"}, SECRET, algorithm="HS256")     # server tokens carry an id
    assert auth.user_from_token(tok).name == "u1" and tok in auth._tokens
    monkeypatch.setattr(time, "time", lambda: now + 61)
    with pytest.raises(NotAuthenticated, match="expired"):
        auth.user_from_token(tok)


def test_failed_tokens_not_cached_and_cache_bounded(engine):
    auth = Authenticator(engine, SECRET, cache_size=2)
    forged = jwt.encode({"sub": "u1", "role": "analyst", "iat": int(time.time()),
                         "exp": int(time.time()) + 60}, "another-secret-of-32-characters!",
                        algorithm="HS256")
    with pytest.raises(NotAuthenticated, match="invalid"):
        auth.user_from_token(forged)
    assert forged not in auth._tokens
    toks = [auth.issue(User("u1", "analyst"))[0] for _ in range(3)]
    for t in toks:
        auth.user_from_token(t)
    assert list(auth._tokens) == toks[1:]

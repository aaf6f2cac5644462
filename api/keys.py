"""The install's keys, held outside the store: one for tokens, one for pseudonyms, one for the
audit trail's MACs (docs/SECURITY.md).

Each key comes from the environment (``WAYFINDER_SECRET`` for tokens, ``WAYFINDER_PSEUDONYM_KEY``,
``WAYFINDER_AUDIT_KEY``) or from a file ``<name>.key`` in the store's key directory, created on
first use with 256 random bits, mode 0600, in a directory of mode 0700. A key shorter than
:data:`MIN_KEY` characters is refused (``WAYFINDER_SECRET=a`` would let anyone forge tokens), and
so is a key file that others may read.

The key directory of a store: ``$WAYFINDER_KEY_DIR/<store>`` when ``WAYFINDER_KEY_DIR`` is set;
otherwise ``<file>.keys/`` beside an SQLite store and ``~/.config/wayfinder/keys/<host_port_db>/``
for PostgreSQL (outside the database: someone who can write the database cannot read them).

Separate keys: rotating the token key (``wayfinder keys rotate --db URL``) signs everybody out and
changes no pseudonym; the pseudonym key is never rotated (the same child keeps the same pseudonym
in every pack and view). A store that kept the single old secret in its ``settings`` table has it
moved to ``pseudonym.key`` (so pseudonyms do not change) and deleted from the store.
"""
from __future__ import annotations

import contextlib
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from api.settings import Settings

MIN_KEY = 32
#: the environment names of the keys (read by api.settings.Settings: secret, pseudonym_key,
#: audit_key)
ENV = {"token": "WAYFINDER_SECRET", "pseudonym": "WAYFINDER_PSEUDONYM_KEY",
       "audit": "WAYFINDER_AUDIT_KEY"}
LEGACY_SETTING = "token_secret"


class KeyConfigError(ValueError):
    """A key is missing, too short or readable by others (one-line reason)."""


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:120] or "store"


def key_dir_for(url, settings: Settings | None = None) -> Path:
    """The key directory of the store at SQLAlchemy URL ``url`` (see the module docstring)."""
    import sqlalchemy as sa
    u = sa.engine.make_url(str(url)) if not hasattr(url, "drivername") else url
    base = (settings or Settings()).key_dir
    if u.drivername.startswith("sqlite"):
        db = u.database or ":memory:"
        if db == ":memory:" or db.startswith("file:"):
            root = Path(base) if base else Path.home() / ".config" / "wayfinder" / "keys"
            return root / f"sqlite-memory-{os.getpid()}"
        p = Path(db).resolve()
        return Path(base) / _slug(str(p)) if base else p.with_name(p.name + ".keys")
    name = f"{u.host or 'local'}_{u.port or 5432}_{u.database or ''}"
    root = Path(base) if base else Path.home() / ".config" / "wayfinder" / "keys"
    return root / _slug(name)


def _check_mode(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyConfigError(f"{path} is readable by others (mode {mode:04o}): chmod 600 {path}")


def ensure_dir(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):
        os.chmod(directory, 0o700)
    return directory


def write_private(path: Path, text: str, exclusive: bool = False) -> None:
    """Write ``text`` to ``path`` with mode 0600 (created so, never briefly world-readable)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_EXCL if exclusive else os.O_TRUNC)
    fd = os.open(path, flags, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def check_key(value: str, what: str) -> str:
    value = (value or "").strip()
    if len(value) < MIN_KEY:
        raise KeyConfigError(f"{what} must be at least {MIN_KEY} characters (e.g. "
                        "python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return value


def load_key(name: str, directory: Path, env: str | None = None, initial: str | None = None) -> str:
    """The key ``name``: from ``env`` (the environment variable's value) when given, else from
    ``directory/<name>.key``, created (with ``initial`` or 256 random bits) on first use."""
    if env:
        return check_key(env, ENV.get(name, name))
    path = ensure_dir(directory) / f"{name}.key"
    if not path.exists():
        with contextlib.suppress(FileExistsError):   # another process created it first
            write_private(path, initial or secrets.token_urlsafe(32), exclusive=True)
    _check_mode(path)
    return check_key(path.read_text(encoding="utf-8"), str(path))


@dataclass(frozen=True)
class Keys:
    token: str
    pseudonym: str
    audit: str
    directory: Path
    #: the anchor file from settings (``WAYFINDER_AUDIT_ANCHOR``), when set
    anchor_file: str | None = None

    @property
    def anchor(self) -> Path:
        """The audit trail's external anchor (append-only file; ``WAYFINDER_AUDIT_ANCHOR``)."""
        return Path(self.anchor_file or self.directory / "audit.anchor")


def _legacy_secret(engine) -> str | None:
    """The single secret older installs kept in the store (for tokens and pseudonyms alike)."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError
    from api.tables import api_setting, create_tables
    try:
        create_tables(engine)
        with engine.connect() as conn:
            return conn.execute(select(api_setting.c.value)
                                .where(api_setting.c.key == LEGACY_SETTING)).scalar()
    except SQLAlchemyError:   # no settings table: nothing to move
        return None


def _forget_legacy(engine) -> None:
    from sqlalchemy import delete
    from api.tables import api_setting
    with contextlib.suppress(Exception), engine.begin() as conn:
        conn.execute(delete(api_setting).where(api_setting.c.key == LEGACY_SETTING))


def keys_for(engine, token_env: str | None = None, settings: Settings | None = None) -> Keys:
    """The keys of the store behind ``engine`` (settings, i.e. the environment, first, then the
    key directory). ``token_env``: the token key of the caller's settings, when given."""
    settings = settings or Settings()
    directory = key_dir_for(engine.url, settings)
    pseudo_env = settings.pseudonym_key
    initial = None
    if not pseudo_env and not (directory / "pseudonym.key").exists():
        initial = _legacy_secret(engine)
        if initial is not None and len(initial) < MIN_KEY:
            initial = None
    keys = Keys(token=load_key("token", directory, token_env or settings.secret),
                pseudonym=load_key("pseudonym", directory, pseudo_env, initial),
                audit=load_key("audit", directory, settings.audit_key),
                directory=directory, anchor_file=settings.audit_anchor)
    if keys.token == keys.pseudonym:
        raise KeyConfigError("the token key and the pseudonym key must differ (rotating one must not "
                        "change the other)")
    if initial is not None or _legacy_secret(engine) is not None:
        _forget_legacy(engine)
    return keys


def rotate_token_key(engine, settings: Settings | None = None) -> Path:
    """Replace the token key file (every token issued so far stops working; pseudonyms and the
    audit key are unchanged). Refused when the token key comes from the environment."""
    settings = settings or Settings()
    if settings.secret:
        raise KeyConfigError("the token key comes from WAYFINDER_SECRET: change it there")
    directory = ensure_dir(key_dir_for(engine.url, settings))
    path = directory / "token.key"
    tmp = directory / "token.key.new"
    write_private(tmp, secrets.token_urlsafe(32))
    os.replace(tmp, path)
    return path

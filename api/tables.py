"""The tables the service writes: users, the audit trail and per-install settings.

They are the lead's (``geo.storage.schema``: ``app_users``, ``audit_log``, ``settings``); this module
names them for the API and can create just these three on a database the store has not migrated
(``create_all(checkfirst=True)`` leaves existing tables alone). Date-times are naive UTC, as in
the rest of the schema.
"""
from __future__ import annotations

import datetime as dt
import weakref

from sqlalchemy.engine import Engine

from geo.storage.schema import app_users as app_user
from geo.storage.schema import audit_log, metadata, security_state
from geo.storage.schema import settings as api_setting

__all__ = ["app_user", "audit_log", "api_setting", "create_tables", "utcnow"]

#: engines whose tables exist (weak: an engine freed and another at the same address is not taken
#: for it, as an ``id()`` key would)
_created: "weakref.WeakSet[Engine]" = weakref.WeakSet()


def create_tables(engine: Engine) -> None:
    if engine in _created:
        return
    metadata.create_all(engine, tables=[app_user, audit_log, api_setting, security_state], checkfirst=True)
    _created.add(engine)


def utcnow() -> dt.datetime:
    """Naive UTC now (the schema stores naive UTC)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)

"""Service settings (pydantic-settings, environment prefix ``WAYFINDER_``).

Examples: ``WAYFINDER_DB=postgresql+psycopg://postgres@127.0.0.1/wayfinder``,
``WAYFINDER_SECRET=...`` (token-signing key, at least 32 characters; when unset, ``token.key``
in the store's key directory, see ``api.keys``), ``WAYFINDER_TOKEN_MINUTES=15``.
"""
from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DB = "sqlite:///wayfinder.sqlite"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WAYFINDER_", extra="ignore")

    db: str = DEFAULT_DB
    #: the public base URL behind the TLS proxy (e.g. https://wayfinder.example.gov.uk) used in
    #: links; unset: links are relative (the request's Host header is never reflected)
    public_url: str | None = None
    secret: str | None = None
    token_minutes: int = 15
    #: OGC API items paging: default and maximum page size
    default_limit: int = 100
    max_limit: int = 10_000
    #: requests per minute per user (or per client address before login); 0 disables
    rate_per_minute: int = 600
    #: failed logins per minute per client address before 429
    login_rate_per_minute: int = 20
    #: failed logins in a row that lock an account name for ``lockout_seconds`` (0: no lockout)
    login_account_failures: int = 10
    lockout_seconds: float = 900.0
    #: password hashes (Argon2, 64 MiB each) at once; more sign-ins wait, then get 429
    login_hash_concurrency: int = 2
    #: addresses of reverse proxies whose X-Forwarded-For is believed (comma-separated); empty:
    #: the client address is the TCP peer's, whatever the headers say
    trusted_proxies: str = ""
    #: PostgreSQL URL of the INSERT-only audit role (``wayfinder audit writer-role``); unset:
    #: the audit trail is written with the store's own connection
    audit_db: str | None = None
    #: the web page hides /docs and /redoc (swagger-ui is vendored, no CDN) when false
    docs: bool = False
    #: street-level grid (metres, British National Grid) to which non-analyst points are snapped
    grid_m: int = 250
    #: counts from 1 to this value minus one are shown as "<N" to non-analysts
    small_count: int = 5
    #: heat grid cell size in metres
    heat_cell_m: int = 500
    #: seconds a cached user lookup stays valid (disable/role changes take effect within this)
    user_cache_seconds: float = 5.0
    #: tiles: extent and buffer
    tile_extent: int = 4096
    tile_buffer: int = 64
    #: maximum features in one vector tile (the rest are dropped and the tile flagged)
    tile_max_features: int = 50_000
    #: encoded tiles kept in memory per process (cleared when the store changes); 0 disables
    tile_cache_size: int = 20_000
    #: ... and at most this many megabytes of them (dense national-scale tiles are megabytes
    #: each: 20,000 of them would not fit in memory)
    tile_cache_mb: int = 512
    #: seconds between checks that the store has changed (layers are rebuilt when it has)
    refresh_seconds: float = 30.0


def get_settings(**overrides) -> Settings:
    return Settings(**overrides)

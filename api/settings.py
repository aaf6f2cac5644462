"""Service settings (pydantic-settings, environment prefix ``WAYFINDER_``).

Examples: ``WAYFINDER_DB=postgresql+psycopg://postgres@127.0.0.1/wayfinder``,
``WAYFINDER_SECRET=...`` (token-signing key, at least 32 characters; when unset, ``token.key``
in the store's key directory, see ``api.keys``), ``WAYFINDER_TOKEN_MINUTES=15``.
"""
from __future__ import annotations

from pydantic import NonNegativeInt, PositiveFloat, PositiveInt
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.storage.store import DEFAULT_URL as DEFAULT_DB


class Settings(BaseSettings):
    """Every ``WAYFINDER_*`` setting, validated (sizes and periods positive; 0 only where it
    disables something), read once where a command or the service starts and passed down."""
    model_config = SettingsConfigDict(env_prefix="WAYFINDER_", extra="ignore")

    db: str = DEFAULT_DB
    #: who runs the identity commands (audit trail); unset: the login name
    user: str | None = None
    #: the public base URL behind the TLS proxy (e.g. https://wayfinder.example.gov.uk) used in
    #: links; unset: links are relative (the request's Host header is never reflected)
    public_url: str | None = None
    #: the token-signing key (at least 32 characters, checked by api.keys); unset: token.key
    secret: str | None = None
    #: the pseudonym and audit-MAC keys (api.keys); unset: pseudonym.key, audit.key
    pseudonym_key: str | None = None
    audit_key: str | None = None
    #: folder of every store's key directory; unset: beside an SQLite store, else ~/.config
    key_dir: str | None = None
    #: the audit trail's external anchor file; unset: audit.anchor in the key directory
    audit_anchor: str | None = None
    token_minutes: PositiveInt = 15
    #: OGC API items paging: default and maximum page size
    default_limit: PositiveInt = 100
    max_limit: PositiveInt = 10_000
    #: requests per minute per user (or per client address before login); 0 disables
    rate_per_minute: NonNegativeInt = 600
    #: failed logins per minute per client address before 429
    login_rate_per_minute: PositiveInt = 20
    #: failed logins in a row that lock an account name for ``lockout_seconds`` (0: no lockout)
    login_account_failures: NonNegativeInt = 10
    lockout_seconds: PositiveFloat = 900.0
    #: password hashes (Argon2, 64 MiB each) at once; more sign-ins wait, then get 429
    login_hash_concurrency: PositiveInt = 2
    #: addresses of reverse proxies whose X-Forwarded-For is believed (comma-separated); empty:
    #: the client address is the TCP peer's, whatever the headers say
    trusted_proxies: str = ""
    #: PostgreSQL URL of the INSERT-only audit role (``wayfinder audit writer-role``); unset:
    #: the audit trail is written with the store's own connection
    audit_db: str | None = None
    #: the web page hides /docs and /redoc (swagger-ui is vendored, no CDN) when false
    docs: bool = False
    #: street-level grid (metres, British National Grid) to which non-analyst points are snapped
    grid_m: PositiveInt = 250
    #: counts from 1 to this value minus one are shown as "<N" to non-analysts
    small_count: PositiveInt = 5
    #: heat grid cell size in metres
    heat_cell_m: PositiveInt = 500
    #: seconds a cached user lookup stays valid (disable/role changes take effect within this)
    user_cache_seconds: PositiveFloat = 5.0
    #: tiles: extent and buffer
    tile_extent: PositiveInt = 4096
    tile_buffer: NonNegativeInt = 64
    #: tiles of each pre-generalised tileset made in advance when it is built (whole zooms,
    #: lowest first, while their tiles add up to at most this many; api.jobs.tilesets.prerender);
    #: 0: every tile made on request from the cells
    tile_prerender_max: NonNegativeInt = 20_000
    #: maximum features in one vector tile (the rest are dropped and the tile flagged)
    tile_max_features: PositiveInt = 50_000
    #: encoded tiles kept in memory per process (cleared when the store changes); 0 disables
    tile_cache_size: NonNegativeInt = 20_000
    #: ... and at most this many megabytes of them (dense national-scale tiles are megabytes
    #: each: 20,000 of them would not fit in memory)
    tile_cache_mb: NonNegativeInt = 512
    #: seconds between checks that the store has changed (layers are rebuilt when it has)
    refresh_seconds: PositiveFloat = 30.0
    #: worker processes for the Monte Carlo replicates of the space-time scan and the near-repeat
    #: table (the same results for any number); 0: the cores available. Default 1: on this
    #: machine kind a second process paid only on a quiet machine and lost at national volume,
    #: where the parent drawing the permutations is the bottleneck (bench/RESULTS_spacetime.md)
    scan_workers: NonNegativeInt = 1
    #: processes of `wayfinder run`: 2 runs the analyses in a second process beside the graph
    #: and groups steps, which neither read nor write what the analyses do (api.jobs.beside);
    #: 1 runs every step in one process. Two processes need the memory of both at once
    pipeline_workers: PositiveInt = 2
    #: from this many episodes the analyses' process waits for the graph's build (the run's
    #: memory peak) before it loads its frames (api.jobs.beside.WAITS): at national scale the two
    #: together held 6.7 GB, and the analyses' lane, shorter than the graph and groups lane there,
    #: still ends first. Below it they start at once: at region scale the analyses are the longer
    #: lane and waiting would lengthen the run (bench/RESULTS_pipeline.md)
    pipeline_hold_episodes: NonNegativeInt = 300_000


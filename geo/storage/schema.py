"""One relational schema for both backends (SQLAlchemy 2 Core).

Points are stored as `easting`/`northing` (EPSG:27700 metres) on every backend; polygons as WKB
in `geometry_wkb` (EPSG:27700). On PostGIS the migration adds a generated `geom` column
(`geometry(Point|MultiPolygon, 27700)`, GiST-indexed) beside them, so spatial SQL (ST_AsMVT,
ST_Intersects) runs in the database while SQLite keeps the same tables and does its spatial work
in Shapely/GeoPandas. Date-times are stored as naive UTC.

Natural keys are unique per (source, id), which makes a re-ingest of the same rows a no-op.
The drop tables are derived from the contract's declaration (geo.model.CONTRACT); the
migrations are checked against this metadata by tests/geo/test_schema_migrations.py.
"""
from __future__ import annotations

import sqlalchemy as sa

from geo.model import CONTRACT, Column, Contract, FileSpec

metadata = sa.MetaData()

SRID = 27700


#: Stored types of the contract's column kinds (a ``size`` makes texts ``String(size)``).
_KIND_TYPES = {"date": sa.Date, "datetime": sa.DateTime, "int": sa.Integer, "float": sa.Float,
               "bool": sa.Boolean}


def _stored(col: Column) -> sa.Column:
    """A contract column as stored. ``source`` is never null: ingest fills it with the drop's
    name."""
    if col.kind in _KIND_TYPES:
        type_ = _KIND_TYPES[col.kind]()
    elif col.size is not None or col.kind == "id":
        type_ = sa.String(col.size or 128)
    else:
        type_ = sa.Text()
    nullable = col.nullable if col.nullable is not None else \
        not (col.required or col.name == "source")
    default = sa.false() if col.kind == "bool" else None
    return sa.Column(col.name, type_, nullable=nullable, server_default=default)


def drop_table(spec: FileSpec, meta: sa.MetaData) -> sa.Table:
    """The table of a contract file, derived from its declaration (geo.model): an ``id``, the
    contract's columns in stored order (FileSpec.stored_columns), then the columns every drop
    table carries (``extra``: JSON of columns the contract does not name; a content hash; the
    run that last wrote the row); natural keys unique per (source, key); declared indexes."""
    return sa.Table(
        spec.table, meta,
        sa.Column("id", sa.Integer, primary_key=True),
        *[_stored(c) for c in spec.stored_columns()],
        sa.Column("extra", sa.Text),
        sa.Column("row_hash", sa.String(32), nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.UniqueConstraint("source", *spec.key, name=f"uq_{spec.table}_key"),
        *[sa.Index(f"ix_{spec.table}_{c}", c) for c in spec.indexes],
    )


def drop_tables(contract: Contract, meta: sa.MetaData) -> dict[str, sa.Table]:
    """The drop tables of a contract, by table name, in ``meta``."""
    return {spec.table: drop_table(spec, meta) for spec in contract.files}


def tables_of(contract: Contract) -> dict[str, sa.Table]:
    """The drop tables of ``contract``: this module's for the production contract, else
    derived into their own metadata (a contract extended with toy files in tests)."""
    return DROP_TABLES if contract is CONTRACT else drop_tables(contract, sa.MetaData())


#: Drop tables by table name, derived from the contract (geo.model.CONTRACT).
DROP_TABLES = drop_tables(CONTRACT, metadata)
children = DROP_TABLES["children"]
persons = DROP_TABLES["persons"]
premises = DROP_TABLES["premises"]
places = DROP_TABLES["places"]
episodes = DROP_TABLES["episodes"]
return_interviews = DROP_TABLES["return_interviews"]
links = DROP_TABLES["links"]
intelligence = DROP_TABLES["intelligence"]
cse_assessments = DROP_TABLES["cse_assessments"]
crimes = DROP_TABLES["crimes"]
education = DROP_TABLES["education"]
populations = DROP_TABLES["populations"]

# ---- reference data -------------------------------------------------------------------------
postcodes = sa.Table(
    "postcodes", metadata,
    sa.Column("postcode", sa.String(8), primary_key=True),   # normalised "B1 1AY"
    sa.Column("easting", sa.Float, nullable=False), sa.Column("northing", sa.Float, nullable=False),
    sa.Column("quality", sa.Integer), sa.Column("country_code", sa.String(9)),
    sa.Column("district_code", sa.String(9)), sa.Column("ward_code", sa.String(9)),
    sa.Column("lsoa_code", sa.String(9)),   # by point in polygon when LSOAs are loaded
)

#: The optional address register (reference data: a council's LLPG/AddressBase, or addresses
#: joined to OS Open UPRN coordinates): house addresses resolve at precision ``address``.
addresses = sa.Table(
    "addresses", metadata,
    sa.Column("uprn", sa.String(32), primary_key=True),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("postcode", sa.String(8), index=True),
    sa.Column("easting", sa.Float, nullable=False), sa.Column("northing", sa.Float, nullable=False),
)

areas = sa.Table(
    "areas", metadata,
    sa.Column("level", sa.String(16), primary_key=True),      # ward | lsoa
    sa.Column("area_code", sa.String(16), primary_key=True),
    sa.Column("area_name", sa.Text, nullable=False),
    sa.Column("geometry_wkb", sa.LargeBinary, nullable=False),  # EPSG:27700
    sa.Column("centroid_e", sa.Float), sa.Column("centroid_n", sa.Float),
    sa.Column("population", sa.Float),  # child population where given, for rates
)

#: wards to MASE (Multi-Agency Sexual Exploitation) meeting areas (``wayfinder reference --mase-areas``)
mase_areas = sa.Table(
    "mase_areas", metadata,
    sa.Column("ward_code", sa.String(16), primary_key=True),
    sa.Column("mase_area", sa.Text, nullable=False),
    sa.Column("ward_name", sa.Text),
)

# ---- geocoding --------------------------------------------------------------------------------
geocodes = sa.Table(
    "geocodes", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("text", sa.Text, nullable=False, unique=True),  # the location text as written
    sa.Column("easting", sa.Float), sa.Column("northing", sa.Float),
    sa.Column("latitude", sa.Float), sa.Column("longitude", sa.Float),
    sa.Column("precision", sa.String(16), nullable=False), sa.Column("confidence", sa.Float),
    sa.Column("method", sa.String(32)), sa.Column("match_id", sa.Text),
    sa.Column("ward_code", sa.String(16)), sa.Column("lsoa_code", sa.String(16)),
    sa.Column("override", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reviewed_by", sa.String(128)), sa.Column("updated_at", sa.DateTime),
)

# ---- ingest bookkeeping -------------------------------------------------------------------------
ingest_runs = sa.Table(
    "ingest_runs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("drop", sa.Text, nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False), sa.Column("finished_at", sa.DateTime),
    sa.Column("status", sa.String(16), nullable=False),   # running | done | failed
    sa.Column("report", sa.Text),                           # JSON, as printed by --json
)

held_rows = sa.Table(
    "held_rows", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("run_id", sa.Integer, nullable=False, index=True),
    sa.Column("file", sa.Text, nullable=False), sa.Column("line", sa.Integer, nullable=False),
    sa.Column("field", sa.Text, nullable=False), sa.Column("reason", sa.Text, nullable=False),
    sa.Column("raw", sa.Text),  # the row as read (JSON), so nothing is lost
)

# ---- identity ---------------------------------------------------------------------------------
identity_links = sa.Table(
    "identity_links", metadata,
    sa.Column("record", sa.String(200), primary_key=True),   # SOURCE/ID
    sa.Column("kind", sa.String(8), nullable=False),          # child | person
    sa.Column("person_id", sa.String(32), nullable=False, index=True),
    sa.Column("match_weight", sa.Float), sa.Column("evidence", sa.Text),
)

identity_overrides = sa.Table(
    "identity_overrides", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("record_a", sa.String(200), nullable=False),
    sa.Column("record_b", sa.String(200)),
    sa.Column("action", sa.String(8), nullable=False),        # link | unlink
    sa.Column("by_user", sa.String(128)), sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("reason", sa.Text),
)

#: Licensing officers' review records of premises (decision, date, officer, reason); premises by
#: register id (premises_id as written in premises.csv, which may hold "/").
premises_reviews = sa.Table(
    "premises_reviews", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("premises_id", sa.String(128), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),     # reviewed | no_action | referred | conditions | suspended
    sa.Column("decided_at", sa.DateTime, nullable=False),
    sa.Column("officer", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
    sa.Index("ix_premises_reviews_premises_id", "premises_id"),
)

# ---- analysis results, users and the audit trail ----------------------------------------------
results = sa.Table(
    "results", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("params", sa.Text),
    sa.Column("rows", sa.Integer),
    sa.Column("payload", sa.LargeBinary, nullable=False),     # Parquet (GeoParquet for layers)
)

app_users = sa.Table(
    "app_users", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(128), nullable=False, unique=True),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime, nullable=False),
    sa.Column("user_name", sa.String(128)), sa.Column("role", sa.String(32)),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("route", sa.Text), sa.Column("what", sa.Text), sa.Column("purpose", sa.Text),
    sa.Column("result_count", sa.Integer), sa.Column("status", sa.Integer),
    # who asked from where, under which token (issue 15): client address, request id, token id
    sa.Column("client", sa.String(64)), sa.Column("request_id", sa.String(64)),
    sa.Column("token_id", sa.String(64)),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

settings = sa.Table(
    "settings", metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

#: state the service's worker processes share (issue 15): login limits per client address and per
#: account, and the ids of revoked tokens. ``kind`` is client, account or revoked; ``n`` the bucket's
#: tokens or the failures in a row; ``at`` the last update and ``until`` a lockout's end or a
#: revoked token's expiry (both Unix seconds). Bounded: expired rows are pruned.
security_state = sa.Table(
    "security_state", metadata,
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("n", sa.Float, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("until", sa.Float, nullable=False),
    sa.Index("ix_security_state_kind_at", "kind", "at"),

)

# ---- pre-generalised tilesets (geo/tilesets.py, api/jobs/tilesets.py) ------------------------------
#: per layer, view and zoom the cells of a dense point layer with their (view's) counts
tileset_cells = sa.Table(
    "tileset_cells", metadata,
    sa.Column("layer", sa.String(64), nullable=False),
    sa.Column("view", sa.String(16), nullable=False),
    sa.Column("z", sa.SmallInteger, nullable=False),
    sa.Column("tx", sa.Integer, nullable=False),
    sa.Column("ty", sa.Integer, nullable=False),
    sa.Column("x", sa.Float, nullable=False),       # cell centre, Web Mercator (EPSG:3857)
    sa.Column("y", sa.Float, nullable=False),
    sa.Column("points", sa.Integer),                # withheld (NULL) when banded
    sa.Column("band", sa.String(8)),                # "<5" for a small count in a minimised view
    sa.Index("ix_tileset_cells_tile", "layer", "view", "z", "tx", "ty"),
)

#: the tiles of a tileset's lower zooms made once when it is built (MVT as ``tile`` makes it from
#: the cells, and its gzip), per tile size (extent) and buffer: one key lookup per request
tileset_tiles = sa.Table(
    "tileset_tiles", metadata,
    sa.Column("layer", sa.String(64), primary_key=True),
    sa.Column("view", sa.String(16), primary_key=True),
    sa.Column("z", sa.SmallInteger, primary_key=True),
    sa.Column("x", sa.Integer, primary_key=True),
    sa.Column("y", sa.Integer, primary_key=True),
    sa.Column("extent", sa.Integer, primary_key=True),
    sa.Column("buffer", sa.Integer, primary_key=True),
    sa.Column("mvt", sa.LargeBinary, nullable=False),
    sa.Column("gz", sa.LargeBinary, nullable=False),
)

#: which store state each stored tileset was built from
tilesets = sa.Table(
    "tilesets", metadata,
    sa.Column("layer", sa.String(64), primary_key=True),
    sa.Column("view", sa.String(16), primary_key=True),
    sa.Column("stamp", sa.String(160), nullable=False),
    sa.Column("cells", sa.Integer, nullable=False),
    sa.Column("built_at", sa.DateTime, nullable=False),
)


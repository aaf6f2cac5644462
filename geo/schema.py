"""One relational schema for both backends (SQLAlchemy 2 Core).

Points are stored as `easting`/`northing` (EPSG:27700 metres) on every backend; polygons as WKB
in `geometry_wkb` (EPSG:27700). On PostGIS the migration adds a generated `geom` column
(`geometry(Point|MultiPolygon, 27700)`, GiST-indexed) beside them, so spatial SQL (ST_AsMVT,
ST_Intersects) runs in the database while SQLite keeps the same tables and does its spatial work
in Shapely/GeoPandas. Date-times are stored as naive UTC.

Natural keys are unique per (source, id), which makes a re-ingest of the same rows a no-op.
"""
from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

SRID = 27700


def _common(*cols: sa.Column) -> list[sa.Column]:
    """Columns every drop table carries: the run that last wrote the row, a content hash, extras."""
    return [
        *cols,
        sa.Column("extra", sa.Text),          # JSON of columns the contract does not name
        sa.Column("row_hash", sa.String(32), nullable=False),
        sa.Column("run_id", sa.Integer),
    ]


children = sa.Table(
    "children", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_common(
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("child_id", sa.String(128), nullable=False),
        sa.Column("given_name", sa.Text), sa.Column("family_name", sa.Text),
        sa.Column("dob", sa.Date), sa.Column("sex", sa.String(16)), sa.Column("ethnicity", sa.Text),
        sa.Column("care_status", sa.String(16)), sa.Column("placement_type", sa.String(32)),
        sa.Column("placement_postcode", sa.Text), sa.Column("responsible_authority", sa.Text),
        sa.Column("cse_risk", sa.String(16)), sa.Column("school", sa.Text),
        sa.Column("police_id", sa.String(128)), sa.Column("carefirst_id", sa.String(128)),
        sa.Column("upn", sa.String(128)),
        sa.Column("placement_authority", sa.Text), sa.Column("establishment", sa.Text),
        sa.Column("from_episode", sa.Boolean, nullable=False, server_default=sa.false()),
    ),
    sa.UniqueConstraint("source", "child_id", name="uq_children_key"),
)

persons = sa.Table(
    "persons", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_common(
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("person_id", sa.String(128), nullable=False),
        sa.Column("given_name", sa.Text), sa.Column("family_name", sa.Text),
        sa.Column("dob", sa.Date), sa.Column("sex", sa.String(16)), sa.Column("role", sa.String(32)),
        sa.Column("address", sa.Text), sa.Column("police_id", sa.String(128)),
    ),
    sa.UniqueConstraint("source", "person_id", name="uq_persons_key"),
)

premises = sa.Table(
    "premises", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_common(
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("premises_id", sa.String(128), nullable=False),
        sa.Column("name", sa.Text, nullable=False), sa.Column("premises_type", sa.String(32)),
        sa.Column("address", sa.Text), sa.Column("postcode", sa.String(16)),
        sa.Column("easting", sa.Float), sa.Column("northing", sa.Float),
        sa.Column("coordinates_from", sa.String(16)),  # given | geocoded | none
        sa.Column("licence_type", sa.String(32)), sa.Column("status", sa.String(16)),
    ),
    sa.UniqueConstraint("source", "premises_id", name="uq_premises_key"),
)

places = sa.Table(
    "places", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_common(
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("name", sa.Text, nullable=False), sa.Column("aliases", sa.Text),
        sa.Column("kind", sa.String(32)), sa.Column("postcode", sa.String(16)),
        sa.Column("easting", sa.Float), sa.Column("northing", sa.Float),
    ),
    sa.UniqueConstraint("source", "name", name="uq_places_key"),
)

episodes = sa.Table(
    "episodes", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_common(
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("episode_id", sa.String(128), nullable=False),
        sa.Column("child_id", sa.String(128), nullable=False),
        sa.Column("child_key", sa.String(200), nullable=False),
        sa.Column("reported_at", sa.DateTime, nullable=False), sa.Column("returned_at", sa.DateTime),
        sa.Column("category", sa.String(32), nullable=False), sa.Column("police_risk", sa.String(16)),
        sa.Column("missing_from", sa.String(16)), sa.Column("reported_by", sa.Text),
        sa.Column("last_seen", sa.Text), sa.Column("found_at", sa.Text),
        sa.Column("found_with", sa.Text), sa.Column("rag", sa.String(8)),
    ),
    sa.UniqueConstraint("source", "episode_id", name="uq_episodes_key"),
    sa.Index("ix_episodes_child_key", "child_key"),
    sa.Index("ix_episodes_reported_at", "reported_at"),
)

return_interviews = sa.Table(
    "return_interviews", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_common(
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("rhi_id", sa.String(128), nullable=False),
        sa.Column("episode_id", sa.String(128), nullable=False),
        sa.Column("episode_key", sa.String(200), nullable=False),
        sa.Column("notified_at", sa.DateTime), sa.Column("offered_at", sa.DateTime),
        sa.Column("held_at", sa.DateTime), sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("triage", sa.String(8)), sa.Column("priority", sa.String(16)),
        sa.Column("push_factors", sa.Text), sa.Column("pull_factors", sa.Text),
        sa.Column("issues", sa.Text), sa.Column("places", sa.Text), sa.Column("associates", sa.Text),
        sa.Column("seraf_score", sa.Integer),
    ),
    sa.UniqueConstraint("source", "rhi_id", name="uq_return_interviews_key"),
    sa.Index("ix_return_interviews_episode_key", "episode_key"),
)

links = sa.Table(
    "links", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_common(
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("link_id", sa.String(32), nullable=False),  # hash of the link's content
        sa.Column("from_ref", sa.Text, nullable=False), sa.Column("to_ref", sa.Text, nullable=False),
        sa.Column("relation", sa.String(32), nullable=False), sa.Column("observed_at", sa.DateTime),
        sa.Column("source_ref", sa.Text), sa.Column("grading", sa.String(16)),
    ),
    sa.UniqueConstraint("source", "link_id", name="uq_links_key"),
)

intelligence = sa.Table(
    "intelligence", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_common(
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("intel_id", sa.String(128), nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.Column("source_eval", sa.String(1)), sa.Column("intel_eval", sa.String(1)),
        sa.Column("handling", sa.String(1)), sa.Column("subjects", sa.Text),
        sa.Column("location", sa.Text), sa.Column("premises_id", sa.String(128)),
        sa.Column("vehicle", sa.String(32)), sa.Column("tags", sa.Text), sa.Column("text", sa.Text),
    ),
    sa.UniqueConstraint("source", "intel_id", name="uq_intelligence_key"),
)

cse_assessments = sa.Table(
    "cse_assessments", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_common(
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("assessment_id", sa.String(128), nullable=False),
        sa.Column("child_id", sa.String(128), nullable=False),
        sa.Column("child_key", sa.String(200), nullable=False),
        sa.Column("assessed_at", sa.DateTime, nullable=False),
        sa.Column("tool", sa.String(16)), sa.Column("score", sa.Integer),
        sa.Column("risk_level", sa.String(8), nullable=False),
        sa.Column("closed_at", sa.DateTime),
    ),
    sa.UniqueConstraint("source", "assessment_id", name="uq_cse_assessments_key"),
    sa.Index("ix_cse_assessments_child_key", "child_key"),
)

crimes = sa.Table(
    "crimes", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_common(
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("crime_id", sa.String(128), nullable=False),
        sa.Column("recorded_at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False), sa.Column("offence", sa.Text),
        sa.Column("cse_marker", sa.String(4)), sa.Column("victims", sa.Text),
        sa.Column("suspects", sa.Text), sa.Column("outcome_code", sa.String(64)),
        sa.Column("location", sa.Text),
    ),
    sa.UniqueConstraint("source", "crime_id", name="uq_crimes_key"),
)

education = sa.Table(
    "education", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_common(
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(128), nullable=False),
        sa.Column("child_id", sa.String(128), nullable=False),
        sa.Column("child_key", sa.String(200), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False), sa.Column("end_date", sa.Date),
        sa.Column("school", sa.Text),
    ),
    sa.UniqueConstraint("source", "record_id", name="uq_education_key"),
    sa.Index("ix_education_child_key", "child_key"),
)

populations = sa.Table(
    "populations", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    *_common(
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("population_id", sa.String(200), nullable=False),
        sa.Column("area_code", sa.String(16), nullable=False),
        sa.Column("age_band", sa.String(16), nullable=False),
        sa.Column("year", sa.Integer), sa.Column("sex", sa.String(8)),
        sa.Column("count", sa.Integer, nullable=False),
    ),
    sa.UniqueConstraint("source", "population_id", name="uq_populations_key"),
)

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

#: Drop tables by contract file name.
DROP_TABLES = {t.name: t for t in (children, persons, premises, places, episodes,
                                   return_interviews, links, intelligence, cse_assessments,
                                   crimes, education, populations)}

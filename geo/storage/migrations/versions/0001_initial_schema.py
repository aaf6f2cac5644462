"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-24
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('app_users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('password_hash', sa.Text(), nullable=False),
    sa.Column('disabled', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )
    op.create_table('areas',
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('area_code', sa.String(length=16), nullable=False),
    sa.Column('area_name', sa.Text(), nullable=False),
    sa.Column('geometry_wkb', sa.LargeBinary(), nullable=False),
    sa.Column('centroid_e', sa.Float(), nullable=True),
    sa.Column('centroid_n', sa.Float(), nullable=True),
    sa.Column('population', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('level', 'area_code')
    )
    op.create_table('audit_log',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('user_name', sa.String(length=128), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=True),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('route', sa.Text(), nullable=True),
    sa.Column('what', sa.Text(), nullable=True),
    sa.Column('purpose', sa.Text(), nullable=True),
    sa.Column('result_count', sa.Integer(), nullable=True),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('children',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('child_id', sa.String(length=128), nullable=False),
    sa.Column('given_name', sa.Text(), nullable=True),
    sa.Column('family_name', sa.Text(), nullable=True),
    sa.Column('dob', sa.Date(), nullable=True),
    sa.Column('sex', sa.String(length=16), nullable=True),
    sa.Column('ethnicity', sa.Text(), nullable=True),
    sa.Column('care_status', sa.String(length=16), nullable=True),
    sa.Column('placement_type', sa.String(length=32), nullable=True),
    sa.Column('placement_postcode', sa.Text(), nullable=True),
    sa.Column('responsible_authority', sa.Text(), nullable=True),
    sa.Column('cse_risk', sa.String(length=16), nullable=True),
    sa.Column('school', sa.Text(), nullable=True),
    sa.Column('police_id', sa.String(length=128), nullable=True),
    sa.Column('carefirst_id', sa.String(length=128), nullable=True),
    sa.Column('upn', sa.String(length=128), nullable=True),
    sa.Column('from_episode', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'child_id', name='uq_children_key')
    )
    op.create_table('episodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('episode_id', sa.String(length=128), nullable=False),
    sa.Column('child_id', sa.String(length=128), nullable=False),
    sa.Column('child_key', sa.String(length=200), nullable=False),
    sa.Column('reported_at', sa.DateTime(), nullable=False),
    sa.Column('returned_at', sa.DateTime(), nullable=True),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('police_risk', sa.String(length=16), nullable=True),
    sa.Column('missing_from', sa.String(length=16), nullable=True),
    sa.Column('reported_by', sa.Text(), nullable=True),
    sa.Column('last_seen', sa.Text(), nullable=True),
    sa.Column('found_at', sa.Text(), nullable=True),
    sa.Column('found_with', sa.Text(), nullable=True),
    sa.Column('rag', sa.String(length=8), nullable=True),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'episode_id', name='uq_episodes_key')
    )
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.create_index('ix_episodes_child_key', ['child_key'], unique=False)
        batch_op.create_index('ix_episodes_reported_at', ['reported_at'], unique=False)

    op.create_table('geocodes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('easting', sa.Float(), nullable=True),
    sa.Column('northing', sa.Float(), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('precision', sa.String(length=16), nullable=False),
    sa.Column('confidence', sa.Float(), nullable=True),
    sa.Column('method', sa.String(length=32), nullable=True),
    sa.Column('match_id', sa.Text(), nullable=True),
    sa.Column('ward_code', sa.String(length=16), nullable=True),
    sa.Column('lsoa_code', sa.String(length=16), nullable=True),
    sa.Column('override', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('reviewed_by', sa.String(length=128), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('text')
    )
    op.create_table('held_rows',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=False),
    sa.Column('file', sa.Text(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('field', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('raw', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('held_rows', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_held_rows_run_id'), ['run_id'], unique=False)

    op.create_table('identity_links',
    sa.Column('record', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('person_id', sa.String(length=32), nullable=False),
    sa.Column('match_weight', sa.Float(), nullable=True),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('record')
    )
    with op.batch_alter_table('identity_links', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_identity_links_person_id'), ['person_id'], unique=False)

    op.create_table('identity_overrides',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('record_a', sa.String(length=200), nullable=False),
    sa.Column('record_b', sa.String(length=200), nullable=True),
    sa.Column('action', sa.String(length=8), nullable=False),
    sa.Column('by_user', sa.String(length=128), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('ingest_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('drop', sa.Text(), nullable=False),
    sa.Column('started_at', sa.DateTime(), nullable=False),
    sa.Column('finished_at', sa.DateTime(), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('report', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('intelligence',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('intel_id', sa.String(length=128), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('source_eval', sa.String(length=1), nullable=True),
    sa.Column('intel_eval', sa.String(length=1), nullable=True),
    sa.Column('handling', sa.String(length=1), nullable=True),
    sa.Column('subjects', sa.Text(), nullable=True),
    sa.Column('location', sa.Text(), nullable=True),
    sa.Column('premises_id', sa.String(length=128), nullable=True),
    sa.Column('vehicle', sa.String(length=32), nullable=True),
    sa.Column('tags', sa.Text(), nullable=True),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'intel_id', name='uq_intelligence_key')
    )
    op.create_table('links',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('link_id', sa.String(length=32), nullable=False),
    sa.Column('from_ref', sa.Text(), nullable=False),
    sa.Column('to_ref', sa.Text(), nullable=False),
    sa.Column('relation', sa.String(length=32), nullable=False),
    sa.Column('observed_at', sa.DateTime(), nullable=True),
    sa.Column('source_ref', sa.Text(), nullable=True),
    sa.Column('grading', sa.String(length=16), nullable=True),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'link_id', name='uq_links_key')
    )
    op.create_table('persons',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('person_id', sa.String(length=128), nullable=False),
    sa.Column('given_name', sa.Text(), nullable=True),
    sa.Column('family_name', sa.Text(), nullable=True),
    sa.Column('dob', sa.Date(), nullable=True),
    sa.Column('sex', sa.String(length=16), nullable=True),
    sa.Column('role', sa.String(length=32), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('police_id', sa.String(length=128), nullable=True),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'person_id', name='uq_persons_key')
    )
    op.create_table('places',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('aliases', sa.Text(), nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=True),
    sa.Column('postcode', sa.String(length=16), nullable=True),
    sa.Column('easting', sa.Float(), nullable=True),
    sa.Column('northing', sa.Float(), nullable=True),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'name', name='uq_places_key')
    )
    op.create_table('postcodes',
    sa.Column('postcode', sa.String(length=8), nullable=False),
    sa.Column('easting', sa.Float(), nullable=False),
    sa.Column('northing', sa.Float(), nullable=False),
    sa.Column('quality', sa.Integer(), nullable=True),
    sa.Column('country_code', sa.String(length=9), nullable=True),
    sa.Column('district_code', sa.String(length=9), nullable=True),
    sa.Column('ward_code', sa.String(length=9), nullable=True),
    sa.Column('lsoa_code', sa.String(length=9), nullable=True),
    sa.PrimaryKeyConstraint('postcode')
    )
    op.create_table('premises',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('premises_id', sa.String(length=128), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('premises_type', sa.String(length=32), nullable=True),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('postcode', sa.String(length=16), nullable=True),
    sa.Column('easting', sa.Float(), nullable=True),
    sa.Column('northing', sa.Float(), nullable=True),
    sa.Column('coordinates_from', sa.String(length=16), nullable=True),
    sa.Column('licence_type', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=True),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'premises_id', name='uq_premises_key')
    )
    op.create_table('results',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('params', sa.Text(), nullable=True),
    sa.Column('rows', sa.Integer(), nullable=True),
    sa.Column('payload', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('return_interviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('rhi_id', sa.String(length=128), nullable=False),
    sa.Column('episode_id', sa.String(length=128), nullable=False),
    sa.Column('episode_key', sa.String(length=200), nullable=False),
    sa.Column('notified_at', sa.DateTime(), nullable=True),
    sa.Column('offered_at', sa.DateTime(), nullable=True),
    sa.Column('held_at', sa.DateTime(), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('triage', sa.String(length=8), nullable=True),
    sa.Column('priority', sa.String(length=16), nullable=True),
    sa.Column('push_factors', sa.Text(), nullable=True),
    sa.Column('pull_factors', sa.Text(), nullable=True),
    sa.Column('issues', sa.Text(), nullable=True),
    sa.Column('places', sa.Text(), nullable=True),
    sa.Column('associates', sa.Text(), nullable=True),
    sa.Column('seraf_score', sa.Integer(), nullable=True),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'rhi_id', name='uq_return_interviews_key')
    )
    with op.batch_alter_table('return_interviews', schema=None) as batch_op:
        batch_op.create_index('ix_return_interviews_episode_key', ['episode_key'], unique=False)

    op.create_table('settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    

    if op.get_bind().dialect.name == "postgresql":
        _add_postgis_columns()


def _add_postgis_columns() -> None:
    """PostGIS only: generated geometry columns (SRID 27700) with GiST indexes beside the
    easting/northing and WKB columns every backend has."""
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    for table in ("premises", "places", "geocodes", "postcodes"):
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN geom geometry(Point, 27700) GENERATED ALWAYS AS "
            "(CASE WHEN easting IS NOT NULL AND northing IS NOT NULL "
            "THEN ST_SetSRID(ST_MakePoint(easting, northing), 27700) END) STORED")
        op.execute(f"CREATE INDEX ix_{table}_geom ON {table} USING GIST (geom)")
    op.execute(
        "ALTER TABLE areas ADD COLUMN geom geometry(MultiPolygon, 27700) GENERATED ALWAYS AS "
        "(ST_Multi(ST_GeomFromWKB(geometry_wkb, 27700))) STORED")
    op.execute("CREATE INDEX ix_areas_geom ON areas USING GIST (geom)")


def downgrade() -> None:
    
    op.drop_table('settings')
    with op.batch_alter_table('return_interviews', schema=None) as batch_op:
        batch_op.drop_index('ix_return_interviews_episode_key')

    op.drop_table('return_interviews')
    op.drop_table('results')
    op.drop_table('premises')
    op.drop_table('postcodes')
    op.drop_table('places')
    op.drop_table('persons')
    op.drop_table('links')
    op.drop_table('intelligence')
    op.drop_table('ingest_runs')
    op.drop_table('identity_overrides')
    with op.batch_alter_table('identity_links', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_identity_links_person_id'))

    op.drop_table('identity_links')
    with op.batch_alter_table('held_rows', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_held_rows_run_id'))

    op.drop_table('held_rows')
    op.drop_table('geocodes')
    with op.batch_alter_table('episodes', schema=None) as batch_op:
        batch_op.drop_index('ix_episodes_reported_at')
        batch_op.drop_index('ix_episodes_child_key')

    op.drop_table('episodes')
    op.drop_table('children')
    op.drop_table('audit_log')
    op.drop_table('areas')
    op.drop_table('app_users')
    

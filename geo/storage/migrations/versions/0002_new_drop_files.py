"""drop files for CSE assessments, crimes, education, populations; placement authority and establishment of children

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('crimes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('crime_id', sa.String(length=128), nullable=False),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('offence', sa.Text(), nullable=True),
    sa.Column('cse_marker', sa.String(length=4), nullable=True),
    sa.Column('victims', sa.Text(), nullable=True),
    sa.Column('suspects', sa.Text(), nullable=True),
    sa.Column('outcome_code', sa.String(length=64), nullable=True),
    sa.Column('location', sa.Text(), nullable=True),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'crime_id', name='uq_crimes_key')
    )
    op.create_table('cse_assessments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('assessment_id', sa.String(length=128), nullable=False),
    sa.Column('child_id', sa.String(length=128), nullable=False),
    sa.Column('child_key', sa.String(length=200), nullable=False),
    sa.Column('assessed_at', sa.DateTime(), nullable=False),
    sa.Column('tool', sa.String(length=16), nullable=True),
    sa.Column('score', sa.Integer(), nullable=True),
    sa.Column('risk_level', sa.String(length=8), nullable=False),
    sa.Column('closed_at', sa.DateTime(), nullable=True),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'assessment_id', name='uq_cse_assessments_key')
    )
    with op.batch_alter_table('cse_assessments', schema=None) as batch_op:
        batch_op.create_index('ix_cse_assessments_child_key', ['child_key'], unique=False)

    op.create_table('education',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('record_id', sa.String(length=128), nullable=False),
    sa.Column('child_id', sa.String(length=128), nullable=False),
    sa.Column('child_key', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=False),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('school', sa.Text(), nullable=True),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'record_id', name='uq_education_key')
    )
    with op.batch_alter_table('education', schema=None) as batch_op:
        batch_op.create_index('ix_education_child_key', ['child_key'], unique=False)

    op.create_table('populations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('population_id', sa.String(length=200), nullable=False),
    sa.Column('area_code', sa.String(length=16), nullable=False),
    sa.Column('age_band', sa.String(length=16), nullable=False),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('sex', sa.String(length=8), nullable=True),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('extra', sa.Text(), nullable=True),
    sa.Column('row_hash', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('source', 'population_id', name='uq_populations_key')
    )
    with op.batch_alter_table('children', schema=None) as batch_op:
        batch_op.add_column(sa.Column('placement_authority', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('establishment', sa.Text(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('children', schema=None) as batch_op:
        batch_op.drop_column('establishment')
        batch_op.drop_column('placement_authority')

    op.drop_table('populations')
    with op.batch_alter_table('education', schema=None) as batch_op:
        batch_op.drop_index('ix_education_child_key')

    op.drop_table('education')
    with op.batch_alter_table('cse_assessments', schema=None) as batch_op:
        batch_op.drop_index('ix_cse_assessments_child_key')

    op.drop_table('cse_assessments')
    op.drop_table('crimes')

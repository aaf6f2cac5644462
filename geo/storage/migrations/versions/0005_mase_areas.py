"""wards to MASE meeting areas (reference data: ward_code, mase_area)

Revision ID: 0003_mase_areas
Revises: 0003_premises_reviews
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_mase_areas'
down_revision = '0003_premises_reviews'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mase_areas',
    sa.Column('ward_code', sa.String(length=16), nullable=False),
    sa.Column('mase_area', sa.Text(), nullable=False),
    sa.Column('ward_name', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('ward_code')
    )


def downgrade() -> None:
    op.drop_table('mase_areas')

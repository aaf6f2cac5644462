"""tileset_tiles: the pre-rendered tiles of a tileset's low and middle zooms (issue 19)

Revision ID: 0009_tiles_prerendered
Revises: 0008_tiles_pregeneralised
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_tiles_prerendered'
down_revision = '0008_tiles_pregeneralised'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tileset_tiles',
    sa.Column('layer', sa.String(length=64), nullable=False),
    sa.Column('view', sa.String(length=16), nullable=False),
    sa.Column('z', sa.SmallInteger(), nullable=False),
    sa.Column('x', sa.Integer(), nullable=False),
    sa.Column('y', sa.Integer(), nullable=False),
    sa.Column('extent', sa.Integer(), nullable=False),
    sa.Column('buffer', sa.Integer(), nullable=False),
    sa.Column('mvt', sa.LargeBinary(), nullable=False),
    sa.Column('gz', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('layer', 'view', 'z', 'x', 'y', 'extent', 'buffer')
    )


def downgrade() -> None:
    op.drop_table('tileset_tiles')

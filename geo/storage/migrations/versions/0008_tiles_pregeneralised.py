"""tileset_cells and tilesets: pre-generalised point tiles per layer, view and zoom (issue 19)

Revision ID: 0008_tiles_pregeneralised
Revises: 0007_security_state
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_tiles_pregeneralised'
down_revision = '0007_security_state'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tileset_cells',
    sa.Column('layer', sa.String(length=64), nullable=False),
    sa.Column('view', sa.String(length=16), nullable=False),
    sa.Column('z', sa.SmallInteger(), nullable=False),
    sa.Column('tx', sa.Integer(), nullable=False),
    sa.Column('ty', sa.Integer(), nullable=False),
    sa.Column('x', sa.Float(), nullable=False),
    sa.Column('y', sa.Float(), nullable=False),
    sa.Column('points', sa.Integer(), nullable=True),
    sa.Column('band', sa.String(length=8), nullable=True)
    )
    op.create_index('ix_tileset_cells_tile', 'tileset_cells', ['layer', 'view', 'z', 'tx', 'ty'],
                    unique=False)
    op.create_table('tilesets',
    sa.Column('layer', sa.String(length=64), nullable=False),
    sa.Column('view', sa.String(length=16), nullable=False),
    sa.Column('stamp', sa.String(length=160), nullable=False),
    sa.Column('cells', sa.Integer(), nullable=False),
    sa.Column('built_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('layer', 'view')
    )


def downgrade() -> None:
    op.drop_table('tilesets')
    op.drop_index('ix_tileset_cells_tile', table_name='tileset_cells')
    op.drop_table('tileset_cells')

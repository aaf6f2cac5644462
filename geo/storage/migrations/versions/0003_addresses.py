"""the optional address register (uprn, address, postcode, coordinates) for address precision

Revision ID: 0003_addresses
Revises: 0002
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_addresses'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('addresses',
    sa.Column('uprn', sa.String(length=32), nullable=False),
    sa.Column('address', sa.Text(), nullable=False),
    sa.Column('postcode', sa.String(length=8), nullable=True),
    sa.Column('easting', sa.Float(), nullable=False),
    sa.Column('northing', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('uprn')
    )
    op.create_index(op.f('ix_addresses_postcode'), 'addresses', ['postcode'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_addresses_postcode'), table_name='addresses')
    op.drop_table('addresses')

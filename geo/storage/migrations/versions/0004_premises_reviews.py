"""licensing officers' review records of premises

Revision ID: 0003_premises_reviews
Revises: 0003_addresses
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_premises_reviews'
down_revision = '0003_addresses'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('premises_reviews',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('premises_id', sa.String(length=128), nullable=False),
    sa.Column('decision', sa.String(length=16), nullable=False),
    sa.Column('decided_at', sa.DateTime(), nullable=False),
    sa.Column('officer', sa.String(length=128), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('premises_reviews', schema=None) as batch_op:
        batch_op.create_index('ix_premises_reviews_premises_id', ['premises_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('premises_reviews', schema=None) as batch_op:
        batch_op.drop_index('ix_premises_reviews_premises_id')
    op.drop_table('premises_reviews')

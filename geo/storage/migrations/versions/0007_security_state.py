"""security_state: login limits and revoked token ids shared by every worker process (issue 15)

Revision ID: 0007_security_state
Revises: 0006_audit_context
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0007_security_state'
down_revision = '0006_audit_context'
branch_labels = None
depends_on = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table('security_state'):   # made by api.tables.create_tables
        return
    op.create_table(
        'security_state',
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('n', sa.Float(), nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.Column('until', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('kind', 'key'),
    )
    op.create_index('ix_security_state_kind_at', 'security_state', ['kind', 'at'])


def downgrade() -> None:
    op.drop_index('ix_security_state_kind_at', table_name='security_state')
    op.drop_table('security_state')

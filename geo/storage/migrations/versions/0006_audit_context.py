"""audit_log: client address, request id and token id of each entry (issue 15)

Revision ID: 0006_audit_context
Revises: 0003_mase_areas
Create Date: 2026-12-01
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_audit_context'
down_revision = '0003_mase_areas'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_log') as batch:
        batch.add_column(sa.Column('client', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('request_id', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('token_id', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('audit_log') as batch:
        batch.drop_column('token_id')
        batch.drop_column('request_id')
        batch.drop_column('client')

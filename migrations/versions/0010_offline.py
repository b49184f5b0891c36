"""save receipts bound to their content

Revision ID: 0010_offline
Revises: 0009_inspection_trust
Create Date: 2026-11-29 07:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0010_offline'
down_revision = '0009_inspection_trust'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('save_receipt', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content_sha256', sa.String(length=64), nullable=False, server_default=''))


def downgrade():
    with op.batch_alter_table('save_receipt', schema=None) as batch_op:
        batch_op.drop_column('content_sha256')

"""offline_start: when the officer started the record, and the phone's reference of a
row added offline (issue 10: 开始检查 and new rows without network)

A record can now be prepared for offline use before the officer starts it (its
started_at is empty until 开始检查 or the first write). Records that exist already
were started when they were created.

Revision ID: 0016_offline_start
Revises: 0015_licence_import
Create Date: 2026-11-29 12:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0016_offline_start'
down_revision = '0015_licence_import'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.add_column(sa.Column('started_at', sa.DateTime(), nullable=True))
    op.execute("UPDATE inspection SET started_at = created_at")
    for table in ('extra_row', 'equipment_row'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('client_ref', sa.String(length=16), server_default='', nullable=False))


def downgrade():
    for table in ('extra_row', 'equipment_row'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('client_ref')
    with op.batch_alter_table('inspection', schema=None) as batch_op:
        batch_op.drop_column('started_at')

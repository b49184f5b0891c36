"""licence_import: the column mapping kept with an import batch (issue 13.4)

Revision ID: 0015_licence_import
Revises: 0014_followthrough
Create Date: 2026-11-29 08:50:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0015_licence_import'
down_revision = '0014_followthrough'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mapping', sa.Text(), server_default='', nullable=False))


def downgrade():
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_column('mapping')

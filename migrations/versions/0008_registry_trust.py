"""import batches keep their problem list; rejected files are purged after a retention period

Revision ID: 0008_registry_trust
Revises: 0007_auth_sessions
Create Date: 2026-11-29 07:45:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_registry_trust'
down_revision = '0007_auth_sessions'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.add_column(sa.Column('problems', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('purged_at', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('import_batch', schema=None) as batch_op:
        batch_op.drop_column('purged_at')
        batch_op.drop_column('problems')

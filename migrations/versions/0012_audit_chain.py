"""audit rows chained after commit: ids from a sequence, chain position in seq

Audit rows are written inside the business transaction without a hash and chained
right after commit (xcapp.audit.services.chain_pending), so no transaction holds
audit_head. Existing rows keep their hashes: their chain position is their id.

Revision ID: 0012_audit_chain
Revises: 0010_offline
Create Date: 2026-11-29 08:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0012_audit_chain'
down_revision = '0010_offline'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.add_column(sa.Column('seq', sa.Integer(), nullable=True))
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=True)
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=True)
    op.execute("UPDATE audit_log SET seq = id")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_audit_log_seq'), ['seq'])
    if op.get_bind().dialect.name == 'postgresql':
        # SQLite: an INTEGER PRIMARY KEY takes the next rowid already.
        op.execute("CREATE SEQUENCE IF NOT EXISTS audit_log_id_seq OWNED BY audit_log.id")
        op.execute("SELECT setval('audit_log_id_seq', COALESCE((SELECT max(id) FROM audit_log), 0) + 1, false)")
        op.execute("ALTER TABLE audit_log ALTER COLUMN id SET DEFAULT nextval('audit_log_id_seq')")


def downgrade():
    # Before downgrading, chain every row (flask audit verify). The old code expects
    # ids without gaps; a PostgreSQL sequence may have left gaps (rolled-back writes).
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("ALTER TABLE audit_log ALTER COLUMN id DROP DEFAULT")
        op.execute("DROP SEQUENCE IF EXISTS audit_log_id_seq")
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_audit_log_seq'), type_='unique')
        batch_op.drop_column('seq')
        batch_op.alter_column('hash', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('prev_hash', existing_type=sa.String(length=64), nullable=False)

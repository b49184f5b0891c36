"""login sessions ended by logout; login failures looked up by client address

Revision ID: 0007_auth_sessions
Revises: 0006_followup
Create Date: 2026-11-29 07:20:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_auth_sessions'
down_revision = '0006_followup'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('ended_session',
    sa.Column('session_id', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('ended_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], name=op.f('fk_ended_session_user_id_user_account')),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_ended_session'))
    )
    with op.batch_alter_table('ended_session', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ended_session_ended_at'), ['ended_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_ended_session_user_id'), ['user_id'], unique=False)

    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_failure_remote_addr'), ['remote_addr'], unique=False)


def downgrade():
    with op.batch_alter_table('login_failure', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_failure_remote_addr'))

    with op.batch_alter_table('ended_session', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ended_session_user_id'))
        batch_op.drop_index(batch_op.f('ix_ended_session_ended_at'))

    op.drop_table('ended_session')

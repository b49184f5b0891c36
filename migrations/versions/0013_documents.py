"""documents: the 责令整改通知书 as issued (number, problems, legal basis)

Revision ID: 0013_documents
Revises: 0012_audit_chain
Create Date: 2026-11-29 09:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0013_documents'
down_revision = '0012_audit_chain'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('rectify_notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action_id', sa.Integer(), nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=80), nullable=False),
    sa.Column('problems', sa.Text(), nullable=False),
    sa.Column('legal_basis', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.Column('updated_by', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['action_id'], ['follow_up_action.id'], name=op.f('fk_rectify_notice_action_id_follow_up_action')),
    sa.ForeignKeyConstraint(['case_id'], ['follow_up_case.id'], name=op.f('fk_rectify_notice_case_id_follow_up_case')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rectify_notice')),
    sa.UniqueConstraint('action_id', name=op.f('uq_rectify_notice_action_id'))
    )
    with op.batch_alter_table('rectify_notice', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_rectify_notice_case_id'), ['case_id'], unique=False)


def downgrade():
    with op.batch_alter_table('rectify_notice', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_rectify_notice_case_id'))
    op.drop_table('rectify_notice')

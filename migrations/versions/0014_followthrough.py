"""followthrough: later and 复查 tasks (kind, round, origin), the inspection method per task,
the licensing authority's decision on a case, the confirmed publication date

Revision ID: 0014_followthrough
Revises: 0013_documents
Create Date: 2026-11-29 08:30:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0014_followthrough'
down_revision = '0013_documents'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=10), server_default='drawn', nullable=False))
        batch_op.add_column(sa.Column('round', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('origin_task_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('method', sa.String(length=10), server_default='onsite', nullable=False))
        batch_op.drop_constraint('uq_task_plan_id', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_task_plan_id'), ['plan_id', 'enterprise_id', 'round'])
        batch_op.create_foreign_key(batch_op.f('fk_task_origin_task_id_task'), 'task', ['origin_task_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_task_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_task_origin_task_id'), ['origin_task_id'], unique=False)
    with op.batch_alter_table('follow_up_case', schema=None) as batch_op:
        batch_op.add_column(sa.Column('decision', sa.String(length=8), server_default='', nullable=False))
        batch_op.add_column(sa.Column('decision_date', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('decision_doc_no', sa.String(length=60), server_default='', nullable=False))
        batch_op.add_column(sa.Column('recheck_task_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_follow_up_case_recheck_task_id_task'), 'task',
                                    ['recheck_task_id'], ['id'])
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.add_column(sa.Column('confirmed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('confirmed_by', sa.String(length=64), server_default='', nullable=False))
        batch_op.add_column(sa.Column('confirmed_at', sa.DateTime(), nullable=True))
    # Results exported before confirmation existed were published by the export, as then
    # understood: their first export date is taken as the confirmed upload date.
    day = "date(first_published_at)" if op.get_bind().dialect.name == "sqlite" else "CAST(first_published_at AS DATE)"
    op.execute(f"UPDATE publication SET confirmed_on = {day}, confirmed_by = 'migration'")


def downgrade():
    with op.batch_alter_table('publication', schema=None) as batch_op:
        batch_op.drop_column('confirmed_at')
        batch_op.drop_column('confirmed_by')
        batch_op.drop_column('confirmed_on')
    with op.batch_alter_table('follow_up_case', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_follow_up_case_recheck_task_id_task'), type_='foreignkey')
        batch_op.drop_column('recheck_task_id')
        batch_op.drop_column('decision_doc_no')
        batch_op.drop_column('decision_date')
        batch_op.drop_column('decision')
    with op.batch_alter_table('task', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_origin_task_id'))
        batch_op.drop_index(batch_op.f('ix_task_kind'))
        batch_op.drop_constraint(batch_op.f('fk_task_origin_task_id_task'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_task_plan_id'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_task_plan_id'), ['plan_id', 'enterprise_id'])
        batch_op.drop_column('method')
        batch_op.drop_column('origin_task_id')
        batch_op.drop_column('round')
        batch_op.drop_column('kind')

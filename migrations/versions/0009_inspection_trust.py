"""inspection trust: voided signatures, late additions to submitted records

Revision ID: 0009_inspection_trust
Revises: 0008_registry_trust
Create Date: 2026-11-29 07:40:00

A replaced officer's signature is kept but voided (已作废, with the reason).
After submission nothing of the record changes in place: the photo of the stamped
form and a self-report handed in later are appended to record_addition with their
own hash, time and author. Existing stamp photos (inspection.stamp_blob_id, no
longer written) are copied there so they stay visible.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_inspection_trust'
down_revision = '0008_registry_trust'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.add_column(sa.Column('voided_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('void_reason', sa.Text(), nullable=False, server_default=''))

    op.create_table('record_addition',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inspection_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('blob_id', sa.Integer(), nullable=True),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('added_at', sa.DateTime(), nullable=False),
    sa.Column('added_by', sa.String(length=64), nullable=False),
    sa.Column('added_by_name', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['blob_id'], ['blob.id'], name=op.f('fk_record_addition_blob_id_blob')),
    sa.ForeignKeyConstraint(['inspection_id'], ['inspection.id'],
                            name=op.f('fk_record_addition_inspection_id_inspection')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_record_addition'))
    )
    with op.batch_alter_table('record_addition', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_record_addition_inspection_id'), ['inspection_id'], unique=False)

    op.execute(
        "INSERT INTO record_addition (inspection_id, kind, blob_id, text, filename, sha256, added_at, added_by, "
        "added_by_name) SELECT inspection.id, 'stamp', blob.id, '', blob.filename, blob.sha256, blob.created_at, "
        "blob.created_by, '' FROM inspection JOIN blob ON blob.id = inspection.stamp_blob_id"
    )


def downgrade():
    with op.batch_alter_table('record_addition', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_record_addition_inspection_id'))
    op.drop_table('record_addition')
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.drop_column('void_reason')
        batch_op.drop_column('voided_at')

"""both answers for a short link: the archive's and the shortener's, and the live re-try schedule

Revision ID: 0002_live_and_archived
Revises: 0001
Create Date: 2026-11-30 15:00:00
"""
from alembic import op
import sqlalchemy as sa
import archiver.db.base


revision = '0002_live_and_archived'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archived_target', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('live_target', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('answers_agree', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('live_retry_at', archiver.db.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('live_retries', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('live_note', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_targets_live_retry_at'), ['live_retry_at'], unique=False)
    # rows written before this revision said "live" for a short code the shortener called dead (or
    # that policy refused) before any target was known: nothing resolved it (issue 8 §4)
    op.execute("UPDATE targets SET resolution_method = NULL WHERE resolution_method = 'live' "
               "AND final_url IS NULL AND status IN ('dead', 'refused')")


def downgrade() -> None:
    with op.batch_alter_table('targets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_targets_live_retry_at'))
        batch_op.drop_column('live_note')
        batch_op.drop_column('live_retries')
        batch_op.drop_column('live_retry_at')
        batch_op.drop_column('answers_agree')
        batch_op.drop_column('live_target')
        batch_op.drop_column('archived_target')

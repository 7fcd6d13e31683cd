"""warc_files.location: where a finished WARC file lives (null: under storage.root; else the object store)

Revision ID: 0007_warc_location
Revises: 0006_run_stages
Create Date: 2026-12-01 00:10:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0007_warc_location'
down_revision = '0006_run_stages'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('warc_files') as batch:
        batch.add_column(sa.Column('location', sa.String(512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('warc_files') as batch:
        batch.drop_column('location')

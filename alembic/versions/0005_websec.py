"""indexes for the web's pages at any size: an activity's links in order, "is this target preserved?" from an index

Revision ID: 0005_websec
Revises: 0003_search_once
Create Date: 2026-11-30 16:30:00
"""
from alembic import op


revision = '0005_websec'
down_revision = '0003_search_once'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_links_activity_id_position', 'links', ['activity_id', 'position', 'target_id'])
    op.create_index('ix_captures_target_evidence', 'captures', ['target_id', 'role', 'http_status', 'not_evidence'])


def downgrade() -> None:
    op.drop_index('ix_captures_target_evidence', table_name='captures')
    op.drop_index('ix_links_activity_id_position', table_name='links')

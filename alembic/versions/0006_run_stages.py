"""runs.stage holds a list of stages (`run --stage resolve,capture`)

Revision ID: 0006_run_stages
Revises: 0005_websec
Create Date: 2026-11-30 23:40:00
"""
import sqlalchemy as sa
from alembic import op


revision = '0006_run_stages'
down_revision = '0005_websec'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.alter_column('stage', existing_type=sa.String(16), type_=sa.String(64), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.alter_column('stage', existing_type=sa.String(64), type_=sa.String(16), existing_nullable=True)

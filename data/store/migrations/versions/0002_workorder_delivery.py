"""work-order delivery state on alerts

A work order whose webhook POST failed stays 'pending' on its alert until a later scoring run
delivers it; attempts and the last error are kept for the Jobs page.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import plantpulse.data.store.types


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('delivery_status', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('delivery_attempts', sa.Integer(), server_default=sa.text('0'), nullable=False))
        batch_op.add_column(sa.Column('delivery_error', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('delivered_at', plantpulse.data.store.types.UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_column('delivered_at')
        batch_op.drop_column('delivery_error')
        batch_op.drop_column('delivery_attempts')
        batch_op.drop_column('delivery_status')

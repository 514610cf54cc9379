"""whole-image class labels of weld images

``weld_labels.class_name``: the class of the whole image, from an upload's class folders or
labels CSV (rows of source 'class', without boxes) or implied by an engineer's review verdict.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('weld_labels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('class_name', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('weld_labels', schema=None) as batch_op:
        batch_op.drop_column('class_name')

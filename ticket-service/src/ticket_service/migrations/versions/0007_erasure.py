"""Requesters can be erased: users.erased_at marks a row whose personal data was overwritten.

Revision ID: 0007_erasure
Revises: 0006_soft_delete
Create Date: 2026-12-05
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0007_erasure"
down_revision: Union[str, None] = "0006_soft_delete"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("users", sa.Column("erased_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("users", "erased_at")

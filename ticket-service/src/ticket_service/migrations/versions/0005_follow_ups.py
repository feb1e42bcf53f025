"""A ticket may follow up an earlier one (closed tickets stay closed).

Revision ID: 0005_follow_ups
Revises: 0004_tenant_disabled
Create Date: 2026-12-20
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0005_follow_ups"
down_revision: Union[str, None] = "0004_tenant_disabled"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("tickets", sa.Column("follow_up_of", sa.BigInteger))


def downgrade() -> None:
    op.drop_column("tickets", "follow_up_of")

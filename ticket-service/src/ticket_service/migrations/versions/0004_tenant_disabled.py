"""Tenants can be disabled: their keys are refused, their data stays.

Revision ID: 0004_tenant_disabled
Revises: 0003_idempotent_activity
Create Date: 2026-12-20
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0004_tenant_disabled"
down_revision: Union[str, None] = "0003_idempotent_activity"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("tenants", sa.Column("disabled_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("tenants", "disabled_at")

"""Idempotency keys on users and comments, as tickets have them.

Revision ID: 0003_idempotent_activity
Revises: 0002_accounts
Create Date: 2026-12-05
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003_idempotent_activity"
down_revision: Union[str, None] = "0002_accounts"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TABLES = ("users", "comments")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("idempotency_key", sa.Text))
        op.add_column(table, sa.Column("request_fingerprint", sa.Text))
        op.create_unique_constraint(f"{table}_tenant_idempotency_key", table,
                                    ["tenant_id", "idempotency_key"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_constraint(f"{table}_tenant_idempotency_key", table)
        op.drop_column(table, "request_fingerprint")
        op.drop_column(table, "idempotency_key")

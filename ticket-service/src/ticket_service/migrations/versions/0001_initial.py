"""Outbox, inbox and the tickets table.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from support_shared.inbox import create_inbox_table
from support_shared.outbox import create_outbox_table

revision: str = "0001"
down_revision: Union[str, None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    create_outbox_table(op)
    create_inbox_table(op)
    op.create_table(
        "tickets",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("user_name", sa.Text, nullable=False),
        sa.Column("user_email", sa.Text, nullable=False),
        sa.Column("priority", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("department", sa.Text),
        sa.Column("confidence_score", sa.Float),
        sa.Column("categorization_method", sa.Text),
        sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("routing_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("idempotency_key", sa.Text),
        sa.Column("request_fingerprint", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="tickets_tenant_idempotency_key"),
        sa.CheckConstraint("status IN ('pending', 'in_progress', 'resolved', 'closed')",
                           name="tickets_status_valid"),
        sa.CheckConstraint("priority IN ('low', 'medium', 'high', 'critical')",
                           name="tickets_priority_valid"),
        sa.CheckConstraint("version >= 1", name="tickets_version_positive"),
    )
    op.create_index("tickets_tenant_id_desc", "tickets", ["tenant_id", sa.text("id DESC")])
    for column in ("status", "department", "priority"):
        op.create_index(f"tickets_tenant_{column}_id_desc", "tickets",
                        ["tenant_id", column, sa.text("id DESC")])
    op.create_index(
        "tickets_fulltext", "tickets",
        [sa.text("to_tsvector('english', title || ' ' || description)")],
        postgresql_using="gin",
    )


def downgrade() -> None:
    op.drop_table("tickets")
    op.drop_table("inbox")
    op.drop_index("outbox_unpublished", table_name="outbox")
    op.drop_table("outbox")

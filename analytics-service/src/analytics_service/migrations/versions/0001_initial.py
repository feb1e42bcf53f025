"""Inbox, event log and the ticket_facts projection with the dashboard indexes.

Revision ID: 0001
Revises:
Create Date: 2025-01-01 00:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg
from support_shared.inbox import create_inbox_table

revision: str = "0001"
down_revision: Union[str, Sequence[str], None] = None
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create the inbox, event_log and ticket_facts."""
    create_inbox_table(op)
    _create_event_log()
    _create_ticket_facts()


def _create_event_log() -> None:
    op.create_table(
        "event_log",
        sa.Column("event_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("ticket_id", sa.BigInteger, nullable=False),
        sa.Column("ticket_version", sa.Integer, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("received_at", TS, nullable=False, server_default=sa.func.now()),
        sa.Column("data", pg.JSONB, nullable=False),
    )
    op.create_index("ix_event_log_tenant_type", "event_log", ["tenant_id", "event_type"])
    op.create_index("ix_event_log_tenant_ticket", "event_log", ["tenant_id", "ticket_id", "occurred_at"])


def _create_ticket_facts() -> None:
    op.create_table(
        "ticket_facts",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("ticket_id", sa.BigInteger, primary_key=True),
        sa.Column("priority", sa.Text),
        sa.Column("requested_priority", sa.Text),
        sa.Column("status", sa.Text, nullable=False, server_default="pending"),
        sa.Column("status_version", sa.Integer, nullable=False, server_default="0"),
        sa.Column("department", sa.Text),
        sa.Column("confidence", sa.Float),
        sa.Column("categorization_method", sa.Text),
        sa.Column("model_version", sa.Text),
        sa.Column("needs_review", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("routing_version", sa.Integer, nullable=False, server_default="0"),
        *(sa.Column(name, TS) for name in (
            "created_at", "categorized_at", "first_routed_at", "routed_at",
            "in_progress_at", "resolved_at", "closed_at", "updated_at",
        )),
        sa.CheckConstraint("confidence IS NULL OR confidence BETWEEN 0 AND 1", name="ck_confidence"),
    )
    op.create_index("ix_ticket_facts_tenant_created", "ticket_facts", ["tenant_id", "created_at"])
    op.create_index("ix_ticket_facts_tenant_department", "ticket_facts", ["tenant_id", "department"])
    op.create_index(
        "ix_ticket_facts_tenant_department_ci", "ticket_facts",
        ["tenant_id", sa.text("lower(department)")],
    )
    op.create_index("ix_ticket_facts_tenant_status", "ticket_facts", ["tenant_id", "status"])
    op.create_index("ix_ticket_facts_tenant_routed", "ticket_facts", ["tenant_id", "first_routed_at"])
    op.create_index("ix_ticket_facts_tenant_resolved", "ticket_facts", ["tenant_id", "resolved_at"])


def downgrade() -> None:
    """Drop everything ``upgrade`` created."""
    op.drop_table("ticket_facts")
    op.drop_table("event_log")
    op.drop_table("inbox")

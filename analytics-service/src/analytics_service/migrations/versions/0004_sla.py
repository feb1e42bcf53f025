"""SLA events (warnings and breaches of ticket-service's clock), kept per ticket.

Revision ID: 0004_sla
Revises: 0003_agents
Create Date: 2026-12-05
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0004_sla"
down_revision: Union[str, None] = "0003_agents"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sla_events",
        sa.Column("event_id", pg.UUID(as_uuid=True), primary_key=True),
        sa.Column("tenant_id", sa.Text, nullable=False),
        sa.Column("ticket_id", sa.BigInteger, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("department", sa.Text),
        sa.Column("priority", sa.Text, nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("occurred_at", TS, nullable=False),
    )
    op.create_index("sla_events_tenant_ticket", "sla_events", ["tenant_id", "ticket_id"])


def downgrade() -> None:
    op.drop_table("sla_events")

"""A delivery names its ticket (``ticket_id``), so an erasure finds the copies of that ticket's
texts in the queued and sent payloads.

Revision ID: 0002_delivery_ticket
Revises: 0001_integration
Create Date: 2026-12-05 18:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002_delivery_ticket"
down_revision: Union[str, Sequence[str], None] = "0001_integration"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("deliveries", sa.Column("ticket_id", sa.BigInteger))
    op.execute("UPDATE deliveries SET ticket_id = (payload->>'ticket_id')::bigint "
               "WHERE payload->>'ticket_id' IS NOT NULL")
    op.create_index("ix_deliveries_tenant_ticket", "deliveries", ["tenant_id", "ticket_id"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_tenant_ticket", table_name="deliveries")
    op.drop_column("deliveries", "ticket_id")

"""Whether a ticket is closed, from ticket.status.updated: closed tickets are not routed.

Revision ID: 0003
Revises: 0002
Create Date: 2025-07-01
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("routed_tickets", sa.Column("closed", sa.Boolean, nullable=False,
                                              server_default=sa.false()))
    op.add_column("routed_tickets", sa.Column("status_version", sa.Integer, nullable=False,
                                              server_default="0"))


def downgrade() -> None:
    op.drop_column("routed_tickets", "status_version")
    op.drop_column("routed_tickets", "closed")

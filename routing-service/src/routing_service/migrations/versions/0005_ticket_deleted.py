"""Whether a ticket was deleted (ticket.deleted): deleted tickets leave every read.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-27
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("routed_tickets", sa.Column("deleted", sa.Boolean, nullable=False,
                                              server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("routed_tickets", "deleted")

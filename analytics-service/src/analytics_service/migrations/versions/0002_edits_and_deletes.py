"""ticket_facts follows edits of the priority (priority_version) and deletes (deleted_at).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-27 00:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: Union[str, Sequence[str], None] = "0001"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("ticket_facts", sa.Column("priority_version", sa.Integer, nullable=False,
                                            server_default="0"))
    op.add_column("ticket_facts", sa.Column("deleted_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("ticket_facts", "deleted_at")
    op.drop_column("ticket_facts", "priority_version")

"""ticket_facts follows each ticket's assignee (ticket.assignment.applied).

Revision ID: 0003_agents
Revises: 0002
Create Date: 2026-12-05 00:00:00

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0003_agents"
down_revision: Union[str, Sequence[str], None] = "0002"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.add_column("ticket_facts", sa.Column("assignee_id", sa.BigInteger))
    op.add_column("ticket_facts", sa.Column("assignee_name", sa.Text))
    op.add_column("ticket_facts", sa.Column("assignment_version", sa.Integer, nullable=False,
                                            server_default="0"))


def downgrade() -> None:
    for column in ("assignment_version", "assignee_name", "assignee_id"):
        op.drop_column("ticket_facts", column)

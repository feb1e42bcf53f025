"""Each tenant's departments, copied from routing-service's department.changed events.

Revision ID: 0003_tenant_departments
Revises: 0002_model_versions
Create Date: 2025-07-01
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision: str = "0003_tenant_departments"
down_revision: Union[str, None] = "0002_model_versions"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table(
        "tenant_departments",
        sa.Column("tenant_id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, primary_key=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("keywords", pg.ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("min_confidence", sa.Float, nullable=False, server_default="0.5"),
        sa.Column("is_triage", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("position", sa.BigInteger, sa.Identity(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("tenant_departments")

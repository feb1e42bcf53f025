"""Departments managed through the API: keywords, a revision number, the last change's time.

Revision ID: 0004
Revises: 0003
Create Date: 2025-07-01
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("departments", sa.Column("keywords", pg.ARRAY(sa.Text), nullable=False,
                                           server_default="{}"))
    op.add_column("departments", sa.Column("version", sa.Integer, nullable=False,
                                           server_default="1"))
    op.add_column("departments", sa.Column("updated_at", sa.DateTime(timezone=True),
                                           nullable=False, server_default=sa.func.now()))
    op.create_check_constraint("departments_version_positive", "departments", "version >= 1")


def downgrade() -> None:
    op.drop_constraint("departments_version_positive", "departments")
    for column in ("updated_at", "version", "keywords"):
        op.drop_column("departments", column)

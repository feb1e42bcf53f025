"""The tenant_settings table and its repository (a tenant without a row has the defaults)."""
from __future__ import annotations

import abc
from typing import Collection

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection

from ..db import TS, metadata
from .domain import TenantSettings

tenant_settings = sa.Table(
    "tenant_settings",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("ai_priority", sa.Text, nullable=False, server_default="suggest"),
    sa.Column("updated_at", TS, nullable=False, server_default=sa.func.now()),
    sa.CheckConstraint("ai_priority IN ('suggest', 'apply')", name="tenant_settings_ai_priority"),
)


class AbstractSettingsRepository(abc.ABC):
    @abc.abstractmethod
    def get_many(self, tenant_ids: Collection[str]) -> dict[str, TenantSettings]:
        """Each tenant's settings (the defaults for a tenant that never set any)."""

    @abc.abstractmethod
    def put(self, tenant_id: str, settings: TenantSettings) -> None:
        """Store the tenant's settings, replacing what it had."""

    def get(self, tenant_id: str) -> TenantSettings:
        return self.get_many([tenant_id])[tenant_id]


class SqlSettingsRepository(AbstractSettingsRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def get_many(self, tenant_ids: Collection[str]) -> dict[str, TenantSettings]:
        found = {tenant: TenantSettings() for tenant in tenant_ids}
        if not found:
            return found
        t = tenant_settings
        rows = self.conn.execute(sa.select(t.c.tenant_id, t.c.ai_priority)
                                 .where(t.c.tenant_id.in_(sorted(found))))
        for row in rows:
            found[row.tenant_id] = TenantSettings(ai_priority=row.ai_priority)
        return found

    def put(self, tenant_id: str, settings: TenantSettings) -> None:
        t = tenant_settings
        stmt = pg.insert(t).values(tenant_id=tenant_id, ai_priority=settings.ai_priority)
        self.conn.execute(stmt.on_conflict_do_update(
            index_elements=[t.c.tenant_id],
            set_={"ai_priority": stmt.excluded.ai_priority, "updated_at": sa.func.now()}))

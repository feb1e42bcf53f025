"""The tenants and API keys tables, their repository, and the accounts' unit of work."""
from __future__ import annotations

import abc
from datetime import timezone

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection, Engine
from support_shared.db import UnitOfWork

from ..config import SERVICE_NAME
from ..db import TS, created_at, metadata
from .domain import ApiKey, Tenant

tenants = sa.Table(
    "tenants",
    metadata,
    sa.Column("tenant_id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False),
    created_at(),
    sa.Column("disabled_at", TS),           # migration 0004
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("tenant_id", sa.Text, sa.ForeignKey("tenants.tenant_id"), nullable=False),
    sa.Column("prefix", sa.Text, nullable=False, unique=True),
    sa.Column("key_hash", sa.Text, nullable=False, unique=True),
    sa.Column("scopes", pg.ARRAY(sa.Text), nullable=False),
    sa.Column("name", sa.Text, nullable=False, server_default=""),
    created_at(),
    sa.Column("revoked_at", TS),
)


def _utc(value):  # type: ignore[no-untyped-def]
    return value.astimezone(timezone.utc) if value is not None else None


def _tenant(row: sa.Row) -> Tenant:
    m = row._mapping
    return Tenant(tenant_id=m["tenant_id"], name=m["name"], created_at=_utc(m["created_at"]),
                  disabled_at=_utc(m["disabled_at"]))


def _key(row: sa.Row) -> ApiKey:
    m = row._mapping
    return ApiKey(id=m["id"], tenant_id=m["tenant_id"], prefix=m["prefix"],
                  key_hash=m["key_hash"], scopes=tuple(m["scopes"]), name=m["name"],
                  created_at=_utc(m["created_at"]), revoked_at=_utc(m["revoked_at"]))


class AbstractAccountRepository(abc.ABC):
    @abc.abstractmethod
    def add_tenant(self, tenant: Tenant) -> bool:
        """Insert; False if the id is taken."""

    @abc.abstractmethod
    def get_tenant(self, tenant_id: str) -> Tenant | None: ...

    @abc.abstractmethod
    def list_tenants(self) -> list[Tenant]: ...

    @abc.abstractmethod
    def save_tenant(self, tenant: Tenant) -> None:
        """Write the tenant's name and disabled time."""

    @abc.abstractmethod
    def add_key(self, key: ApiKey) -> None:
        """Insert and set ``key.id``."""

    @abc.abstractmethod
    def get_key(self, key_id: int, *, for_update: bool = False) -> ApiKey | None: ...

    @abc.abstractmethod
    def key_by_hash(self, key_hash: str) -> ApiKey | None: ...

    @abc.abstractmethod
    def list_keys(self, tenant_id: str | None = None) -> list[ApiKey]: ...

    @abc.abstractmethod
    def save_key(self, key: ApiKey) -> None:
        """Write the revocation time."""


class SqlAccountRepository(AbstractAccountRepository):
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_tenant(self, tenant: Tenant) -> bool:
        stmt = (pg.insert(tenants).values(tenant_id=tenant.tenant_id, name=tenant.name,
                                          created_at=tenant.created_at)
                .on_conflict_do_nothing().returning(tenants.c.tenant_id))
        return self.conn.execute(stmt).scalar_one_or_none() is not None

    def get_tenant(self, tenant_id: str) -> Tenant | None:
        row = self.conn.execute(
            sa.select(tenants).where(tenants.c.tenant_id == tenant_id)).first()
        return _tenant(row) if row else None

    def list_tenants(self) -> list[Tenant]:
        rows = self.conn.execute(sa.select(tenants).order_by(tenants.c.tenant_id))
        return [_tenant(r) for r in rows]

    def save_tenant(self, tenant: Tenant) -> None:
        self.conn.execute(tenants.update().where(tenants.c.tenant_id == tenant.tenant_id)
                          .values(name=tenant.name, disabled_at=tenant.disabled_at))

    def add_key(self, key: ApiKey) -> None:
        stmt = api_keys.insert().values(
            tenant_id=key.tenant_id, prefix=key.prefix, key_hash=key.key_hash,
            scopes=list(key.scopes), name=key.name, created_at=key.created_at,
        ).returning(api_keys.c.id)
        key.id = self.conn.execute(stmt).scalar_one()

    def get_key(self, key_id: int, *, for_update: bool = False) -> ApiKey | None:
        stmt = sa.select(api_keys).where(api_keys.c.id == key_id)
        row = self.conn.execute(stmt.with_for_update() if for_update else stmt).first()
        return _key(row) if row else None

    def key_by_hash(self, key_hash: str) -> ApiKey | None:
        row = self.conn.execute(
            sa.select(api_keys).where(api_keys.c.key_hash == key_hash)).first()
        return _key(row) if row else None

    def list_keys(self, tenant_id: str | None = None) -> list[ApiKey]:
        stmt = sa.select(api_keys)
        if tenant_id is not None:
            stmt = stmt.where(api_keys.c.tenant_id == tenant_id)
        return [_key(r) for r in self.conn.execute(stmt.order_by(api_keys.c.id))]

    def save_key(self, key: ApiKey) -> None:
        self.conn.execute(api_keys.update().where(api_keys.c.id == key.id)
                          .values(revoked_at=key.revoked_at))


class AccountsUnitOfWork(UnitOfWork):
    """One transaction over tenants and keys (no events: accounts never leave this service)."""

    accounts: AbstractAccountRepository

    def _start(self, conn: Connection) -> None:
        self.accounts = SqlAccountRepository(conn)


def unit_of_work(engine: Engine) -> AccountsUnitOfWork:
    """The unit of work every account entrypoint uses."""
    return AccountsUnitOfWork(engine, consumer=SERVICE_NAME)

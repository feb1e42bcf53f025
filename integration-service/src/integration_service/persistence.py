"""Sources, ingestion jobs, their locks and logs, and the unit of work of the service."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection, Engine, Row
from support_shared.db import UnitOfWork
from support_shared.erasure import AbstractErasure, ErasableTable, SqlErasure

from .config import SERVICE_NAME
from .tables import ingestion_jobs, ingestion_locks, ingestion_logs, sources
from .webhook_store import DeliveryRepository, InboundRepository, SubscriptionRepository

ACTIVE_JOB = ("queued", "running")
ZERO_COUNTS = {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}


class SourceRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, tenant_id: str, values: dict[str, Any]) -> Row | None:
        """The new source's row; None when the tenant has one of that name."""
        stmt = (pg.insert(sources).values(tenant_id=tenant_id, **values)
                .on_conflict_do_nothing(constraint="uq_sources_tenant_name").returning(sources))
        return self.conn.execute(stmt).first()

    def get(self, tenant_id: str, name: str, *, lock: bool = False) -> Row | None:
        stmt = sa.select(sources).where(sources.c.tenant_id == tenant_id, sources.c.name == name)
        return self.conn.execute(stmt.with_for_update() if lock else stmt).first()

    def page(self, tenant_id: str, after: int | None, limit: int) -> list[Row]:
        stmt = sa.select(sources).where(sources.c.tenant_id == tenant_id)
        if after is not None:
            stmt = stmt.where(sources.c.seq > after)
        return list(self.conn.execute(stmt.order_by(sources.c.seq).limit(limit)))

    def update(self, tenant_id: str, name: str, values: dict[str, Any]) -> Row | None:
        stmt = (sa.update(sources).where(sources.c.tenant_id == tenant_id, sources.c.name == name)
                .values(**values, updated_at=sa.func.now()).returning(sources))
        return self.conn.execute(stmt).first()

    def delete(self, tenant_id: str, name: str) -> bool:
        stmt = sa.delete(sources).where(sources.c.tenant_id == tenant_id, sources.c.name == name)
        return self.conn.execute(stmt).rowcount > 0

    def store_cursor(self, tenant_id: str, name: str, cursor: str | None) -> None:
        self.conn.execute(sa.update(sources).where(
            sources.c.tenant_id == tenant_id, sources.c.name == name).values(cursor=cursor))

    def claim_due(self, now: datetime, limit: int) -> list[Row]:
        """Scheduled sources whose next sync is due; their next sync moves one period on."""
        due = (sa.select(sources.c.seq).where(sources.c.schedule_minutes.is_not(None),
                                              sources.c.next_sync_at <= now)
               .order_by(sources.c.next_sync_at).limit(limit).with_for_update(skip_locked=True)
               .scalar_subquery())
        stmt = (sa.update(sources).where(sources.c.seq.in_(due))
                .values(next_sync_at=now + sa.func.make_interval(
                    0, 0, 0, 0, 0, sources.c.schedule_minutes))
                .returning(sources.c.tenant_id, sources.c.name))
        return list(self.conn.execute(stmt))


class JobRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def acquire_lock(self, tenant_id: str, source: str, job_id: uuid.UUID, now: datetime,
                     ttl_s: float) -> tuple[bool, uuid.UUID | None]:
        """Take the (tenant, source) lock for ``job_id`` if free or expired, atomically.
        Whether it was taken, and the job that held an expired lock before (or None)."""
        previous = self.conn.execute(sa.select(ingestion_locks.c.job_id).where(
            ingestion_locks.c.tenant_id == tenant_id, ingestion_locks.c.source == source)
        ).scalar()
        stmt = pg.insert(ingestion_locks).values(
            tenant_id=tenant_id, source=source, job_id=job_id,
            expires_at=now + timedelta(seconds=ttl_s))
        stmt = stmt.on_conflict_do_update(
            index_elements=[ingestion_locks.c.tenant_id, ingestion_locks.c.source],
            set_={"job_id": stmt.excluded.job_id, "expires_at": stmt.excluded.expires_at},
            where=ingestion_locks.c.expires_at < now,
        ).returning(ingestion_locks.c.job_id)
        taken = self.conn.execute(stmt).scalar() == job_id
        return taken, (previous if taken else None)

    def renew_lock(self, tenant_id: str, source: str, job_id: uuid.UUID, now: datetime,
                   ttl_s: float) -> bool:
        """Extend the lock ``job_id`` holds; False when it no longer holds it."""
        stmt = (sa.update(ingestion_locks)
                .where(ingestion_locks.c.tenant_id == tenant_id,
                       ingestion_locks.c.source == source, ingestion_locks.c.job_id == job_id)
                .values(expires_at=now + timedelta(seconds=ttl_s)))
        return self.conn.execute(stmt).rowcount == 1

    def release_lock(self, tenant_id: str, source: str, job_id: uuid.UUID) -> None:
        self.conn.execute(sa.delete(ingestion_locks).where(
            ingestion_locks.c.tenant_id == tenant_id, ingestion_locks.c.source == source,
            ingestion_locks.c.job_id == job_id))

    def add(self, job_id: uuid.UUID, tenant_id: str, source: str, trigger: str) -> Row:
        stmt = (sa.insert(ingestion_jobs).values(
            id=job_id, tenant_id=tenant_id, source=source, status="queued", trigger=trigger,
            counts=ZERO_COUNTS).returning(ingestion_jobs))
        return self.conn.execute(stmt).one()

    def get(self, tenant_id: str, job_id: uuid.UUID, *, lock: bool = False) -> Row | None:
        stmt = sa.select(ingestion_jobs).where(ingestion_jobs.c.tenant_id == tenant_id,
                                               ingestion_jobs.c.id == job_id)
        return self.conn.execute(stmt.with_for_update() if lock else stmt).first()

    def abandon(self, job_id: uuid.UUID, now: datetime) -> None:
        """Mark a job whose lock expired (its process died) as abandoned."""
        self.conn.execute(sa.update(ingestion_jobs).where(
            ingestion_jobs.c.id == job_id, ingestion_jobs.c.status.in_(ACTIVE_JOB))
            .values(status="abandoned", finished_at=now))

    def claim_queued(self, now: datetime) -> Row | None:
        """The oldest queued job, now running (``FOR UPDATE SKIP LOCKED``: one worker each)."""
        oldest = (sa.select(ingestion_jobs.c.seq).where(ingestion_jobs.c.status == "queued")
                  .order_by(ingestion_jobs.c.seq).limit(1).with_for_update(skip_locked=True)
                  .scalar_subquery())
        stmt = (sa.update(ingestion_jobs).where(ingestion_jobs.c.seq == oldest)
                .values(status="running", started_at=now).returning(ingestion_jobs))
        return self.conn.execute(stmt).first()

    def update(self, job_id: uuid.UUID, **values: Any) -> Row:
        stmt = (sa.update(ingestion_jobs).where(ingestion_jobs.c.id == job_id)
                .values(**values).returning(ingestion_jobs))
        return self.conn.execute(stmt).one()

    def log(self, job_id: uuid.UUID, level: str, message: str) -> None:
        tenant = sa.select(ingestion_jobs.c.tenant_id).where(ingestion_jobs.c.id == job_id)
        self.conn.execute(sa.insert(ingestion_logs).values(
            tenant_id=tenant.scalar_subquery(), job_id=job_id, level=level,
            message=message[:2000]))

    def logs(self, job_id: uuid.UUID, after: int | None, limit: int) -> list[Row]:
        stmt = sa.select(ingestion_logs).where(ingestion_logs.c.job_id == job_id)
        if after is not None:
            stmt = stmt.where(ingestion_logs.c.seq > after)
        return list(self.conn.execute(stmt.order_by(ingestion_logs.c.seq).limit(limit)))


# What an erasure scrubs here: the payloads of the webhook deliveries of the tickets.
ERASABLE = (ErasableTable("deliveries", documents=("payload",)),)


class IntegrationUnitOfWork(UnitOfWork):
    """Every repository of the schema on one transaction (no outbox: nothing is published)."""

    def _start(self, conn: Connection) -> None:
        self.sources = SourceRepository(conn)
        self.jobs = JobRepository(conn)
        self.subscriptions = SubscriptionRepository(conn)
        self.deliveries = DeliveryRepository(conn)
        self.inbound = InboundRepository(conn)
        self.erasure: AbstractErasure = SqlErasure(conn, ERASABLE, outbox=False)


def unit_of_work(engine: Engine) -> IntegrationUnitOfWork:
    return IntegrationUnitOfWork(engine, consumer=SERVICE_NAME)

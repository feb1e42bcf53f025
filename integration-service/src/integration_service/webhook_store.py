"""Webhook subscriptions, their deliveries, and inbound webhook events waiting for the worker."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection, Row

from .tables import deliveries, inbound_events, subscriptions

_LIVE = sa.not_(subscriptions.c.deleted)


class SubscriptionRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, tenant_id: str, values: dict[str, Any]) -> Row:
        stmt = (sa.insert(subscriptions).values(id=uuid.uuid4(), tenant_id=tenant_id, **values)
                .returning(subscriptions))
        return self.conn.execute(stmt).one()

    def get(self, tenant_id: str, sub_id: uuid.UUID) -> Row | None:
        return self.conn.execute(sa.select(subscriptions).where(
            subscriptions.c.tenant_id == tenant_id, subscriptions.c.id == sub_id, _LIVE)).first()

    def by_id(self, sub_id: uuid.UUID) -> Row | None:
        return self.conn.execute(sa.select(subscriptions).where(
            subscriptions.c.id == sub_id)).first()

    def page(self, tenant_id: str, after: int | None, limit: int) -> list[Row]:
        stmt = sa.select(subscriptions).where(subscriptions.c.tenant_id == tenant_id, _LIVE)
        if after is not None:
            stmt = stmt.where(subscriptions.c.seq > after)
        return list(self.conn.execute(stmt.order_by(subscriptions.c.seq).limit(limit)))

    def update(self, tenant_id: str, sub_id: uuid.UUID, values: dict[str, Any]) -> Row | None:
        stmt = (sa.update(subscriptions)
                .where(subscriptions.c.tenant_id == tenant_id, subscriptions.c.id == sub_id, _LIVE)
                .values(**values, updated_at=sa.func.now()).returning(subscriptions))
        return self.conn.execute(stmt).first()

    def matching(self, tenants: Iterable[str]) -> list[Row]:
        """Active subscriptions of these tenants (the consumer filters by event type)."""
        return list(self.conn.execute(sa.select(
            subscriptions.c.id, subscriptions.c.tenant_id, subscriptions.c.event_types).where(
            subscriptions.c.tenant_id.in_(sorted(set(tenants))), subscriptions.c.active, _LIVE)))

    def record_failure(self, sub_id: uuid.UUID, now: datetime, disable_after_s: float,
                       last_error: str) -> bool:
        """Note a failed attempt; disable the subscription once it has failed without a
        success for ``disable_after_s``. Whether it was disabled now."""
        row = self.conn.execute(
            sa.update(subscriptions).where(subscriptions.c.id == sub_id)
            .values(failing_since=sa.func.coalesce(subscriptions.c.failing_since, now))
            .returning(subscriptions.c.failing_since, subscriptions.c.active)).first()
        if row is None or not row.active:
            return False
        if row.failing_since > now - timedelta(seconds=disable_after_s):
            return False
        reason = (f"disabled at {now.isoformat()}: no delivery succeeded since "
                  f"{row.failing_since.isoformat()} (last: {last_error})")[:500]
        self.conn.execute(sa.update(subscriptions).where(subscriptions.c.id == sub_id)
                          .values(active=False, disabled_reason=reason,
                                  updated_at=sa.func.now()))
        return True

    def record_success(self, sub_id: uuid.UUID) -> None:
        self.conn.execute(sa.update(subscriptions).where(
            subscriptions.c.id == sub_id, subscriptions.c.failing_since.is_not(None))
            .values(failing_since=None))


class DeliveryRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add_many(self, rows: list[dict[str, Any]]) -> int:
        """Insert deliveries; one per (subscription, event) whatever the redeliveries."""
        if not rows:
            return 0
        stmt = pg.insert(deliveries).on_conflict_do_nothing(
            constraint="uq_deliveries_subscription_event")
        return self.conn.execute(stmt, rows).rowcount

    def page(self, sub_id: uuid.UUID, after: int | None, limit: int) -> list[Row]:
        stmt = sa.select(deliveries).where(deliveries.c.subscription_id == sub_id)
        if after is not None:
            stmt = stmt.where(deliveries.c.seq < after)
        return list(self.conn.execute(stmt.order_by(deliveries.c.seq.desc()).limit(limit)))

    def get(self, sub_id: uuid.UUID, delivery_id: uuid.UUID) -> Row | None:
        return self.conn.execute(sa.select(deliveries).where(
            deliveries.c.subscription_id == sub_id, deliveries.c.id == delivery_id)).first()

    def claim_due(self, now: datetime, limit: int, lease_s: float) -> list[Row]:
        """Pending deliveries due now, of active subscriptions, leased for ``lease_s`` (a
        worker that dies mid-send leaves them to be retried when the lease ends)."""
        due = (sa.select(deliveries.c.seq)
               .join(subscriptions, subscriptions.c.id == deliveries.c.subscription_id)
               .where(deliveries.c.status == "pending", deliveries.c.next_attempt_at <= now,
                      subscriptions.c.active, _LIVE)
               .order_by(deliveries.c.next_attempt_at).limit(limit)
               .with_for_update(of=deliveries, skip_locked=True).scalar_subquery())
        stmt = (sa.update(deliveries).where(deliveries.c.seq.in_(due))
                .values(next_attempt_at=now + timedelta(seconds=lease_s),
                        attempts=deliveries.c.attempts + 1)
                .returning(deliveries))
        return list(self.conn.execute(stmt))

    def finish(self, delivery_id: uuid.UUID, **values: Any) -> None:
        self.conn.execute(sa.update(deliveries).where(deliveries.c.id == delivery_id)
                          .values(**values))

    def redeliver(self, sub_id: uuid.UUID, delivery_id: uuid.UUID, now: datetime) -> Row | None:
        stmt = (sa.update(deliveries).where(deliveries.c.subscription_id == sub_id,
                                            deliveries.c.id == delivery_id)
                .values(status="pending", next_attempt_at=now).returning(deliveries))
        return self.conn.execute(stmt).first()


class InboundRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, tenant_id: str, source: str, body: Any) -> uuid.UUID:
        event_id = uuid.uuid4()
        self.conn.execute(sa.insert(inbound_events).values(
            id=event_id, tenant_id=tenant_id, source=source, body=body))
        return event_id

    def claim_due(self, now: datetime, limit: int, lease_s: float) -> list[Row]:
        due = (sa.select(inbound_events.c.seq)
               .where(inbound_events.c.status == "pending",
                      inbound_events.c.next_attempt_at <= now)
               .order_by(inbound_events.c.seq).limit(limit)
               .with_for_update(skip_locked=True).scalar_subquery())
        stmt = (sa.update(inbound_events).where(inbound_events.c.seq.in_(due))
                .values(next_attempt_at=now + timedelta(seconds=lease_s),
                        attempts=inbound_events.c.attempts + 1)
                .returning(inbound_events))
        return list(self.conn.execute(stmt))

    def finish(self, event_id: uuid.UUID, **values: Any) -> None:
        self.conn.execute(sa.update(inbound_events).where(inbound_events.c.id == event_id)
                          .values(**values))

    def get(self, tenant_id: str, event_id: uuid.UUID) -> Row | None:
        return self.conn.execute(sa.select(inbound_events).where(
            inbound_events.c.tenant_id == tenant_id, inbound_events.c.id == event_id)).first()

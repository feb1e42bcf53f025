"""Dashboard read models: SQL aggregates over one tenant's ticket facts, deleted ones left out."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from support_shared.events import PRIORITIES, STATUSES
from support_shared.manifest import PROJECTED_EVENTS

from .persistence import event_log, ticket_facts as tf

METHODS = ("claude", "local_model", "keywords")
EVENT_TYPES = tuple(e.value for e in PROJECTED_EVENTS)
CONFIDENCE_BUCKETS = 10
OPEN_STATUSES = ("pending", "in_progress", "waiting")


def _live(tenant: str) -> sa.ColumnElement[bool]:
    """The tenant's tickets that are not deleted: a deleted ticket leaves every number."""
    return sa.and_(tf.c.tenant_id == tenant, tf.c.deleted_at.is_(None))


def _number(value: Decimal | float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _keyed(keys: Iterable[str], counts: dict[str, int]) -> dict[str, int]:
    """``counts`` with every one of ``keys`` present (0 by default), unknown keys after them."""
    out = {key: 0 for key in keys}
    out.update(counts)
    return out


def _grouped(conn: Connection, column: sa.ColumnElement[Any], tenant: str,
             *where: sa.ColumnElement[bool]) -> dict[str, int]:
    stmt = (
        sa.select(column, sa.func.count())
        .where(_live(tenant), column.is_not(None), *where)
        .group_by(column)
        .order_by(column)
    )
    return {key: count for key, count in conn.execute(stmt)}


def _breakdowns(conn: Connection, tenant: str, *where: sa.ColumnElement[bool]) -> dict[str, Any]:
    return {
        "by_status": _keyed(STATUSES, _grouped(conn, tf.c.status, tenant, *where)),
        "by_department": _grouped(conn, tf.c.department, tenant, *where),
        "by_priority": _keyed(PRIORITIES, _grouped(conn, tf.c.priority, tenant, *where)),
    }


def _duration(conn: Connection, tenant: str, start: sa.Column, end: sa.Column,
              *where: sa.ColumnElement[bool]) -> dict[str, Any]:
    """count / avg / p50 / p95 / max of ``end - start`` in seconds (nulls when no ticket has both)."""
    seconds = sa.cast(sa.func.extract("epoch", end - start), sa.Float)
    stmt = sa.select(
        sa.func.count(),
        sa.func.avg(seconds),
        sa.func.percentile_cont(0.5).within_group(seconds),
        sa.func.percentile_cont(0.95).within_group(seconds),
        sa.func.max(seconds),
    ).where(_live(tenant), start.is_not(None), end.is_not(None), *where)
    count, avg, p50, p95, top = conn.execute(stmt).one()
    return {
        "count": count,
        "avg_seconds": _number(avg, 3),
        "p50_seconds": _number(p50, 3),
        "p95_seconds": _number(p95, 3),
        "max_seconds": _number(top, 3),
    }


def summary(conn: Connection, tenant: str, now: datetime) -> dict[str, Any]:
    since = now - timedelta(hours=24)
    totals = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.count().filter(tf.c.needs_review),
            sa.func.count().filter(tf.c.created_at > since, tf.c.created_at <= now),
            sa.func.count().filter(tf.c.resolved_at > since, tf.c.resolved_at <= now),
        ).where(_live(tenant))
    ).one()
    return {
        "total_tickets": totals[0],
        **_breakdowns(conn, tenant),
        "needs_review": totals[1],
        "created_last_24h": totals[2],
        "resolved_last_24h": totals[3],
    }


def _confidence_distribution(conn: Connection, tenant: str) -> list[dict[str, Any]]:
    # Buckets are [lower, upper); width_bucket puts 1.0 past the end, so it joins the last one.
    bucket = sa.func.least(
        sa.func.width_bucket(tf.c.confidence, 0.0, 1.0, CONFIDENCE_BUCKETS), CONFIDENCE_BUCKETS
    )
    counts = dict(conn.execute(
        sa.select(bucket, sa.func.count())
        .where(_live(tenant), tf.c.confidence.is_not(None))
        .group_by(bucket)
    ).all())
    return [
        {"bucket": f"{(i - 1) / CONFIDENCE_BUCKETS:.1f}-{i / CONFIDENCE_BUCKETS:.1f}",
         "count": counts.get(i, 0)}
        for i in range(1, CONFIDENCE_BUCKETS + 1)
    ]


def routing(conn: Connection, tenant: str) -> dict[str, Any]:
    routed = tf.c.routing_version > 0
    total_routed, average, needs_review = conn.execute(
        sa.select(
            sa.func.count().filter(routed),
            sa.func.avg(tf.c.confidence),
            sa.func.count().filter(tf.c.needs_review),
        ).where(_live(tenant))
    ).one()
    return {
        "total_routed": total_routed,
        "by_department": _grouped(conn, tf.c.department, tenant, routed),
        "by_categorization_method": _keyed(METHODS, _grouped(conn, tf.c.categorization_method, tenant)),
        "average_confidence": _number(average, 4),
        "confidence_distribution": _confidence_distribution(conn, tenant),
        "needs_review": needs_review,
    }


def tickets(conn: Connection, tenant: str) -> dict[str, Any]:
    total, open_ = conn.execute(
        sa.select(sa.func.count(), sa.func.count().filter(tf.c.status.in_(OPEN_STATUSES)))
        .where(_live(tenant))
    ).one()
    events = dict(conn.execute(
        sa.select(event_log.c.event_type, sa.func.count())
        .where(event_log.c.tenant_id == tenant)
        .group_by(event_log.c.event_type)
    ).all())
    return {
        "total": total,
        **_breakdowns(conn, tenant),
        "open": open_,
        "events_processed": _keyed(EVENT_TYPES, events),
    }


def performance(conn: Connection, tenant: str) -> dict[str, Any]:
    return {
        "time_to_categorize": _duration(conn, tenant, tf.c.created_at, tf.c.categorized_at),
        "time_to_route": _duration(conn, tenant, tf.c.created_at, tf.c.first_routed_at),
        "time_to_resolve": _duration(conn, tenant, tf.c.created_at, tf.c.resolved_at),
    }


_TRENDS_SQL = sa.text("""
WITH days AS (
    SELECT d::date AS day FROM generate_series(CAST(:first AS date), CAST(:last AS date),
                                               interval '1 day') AS d
),
created AS (
    SELECT (created_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM ticket_facts
    WHERE tenant_id = :tenant AND deleted_at IS NULL AND created_at >= :start AND created_at < :stop GROUP BY 1
),
routed AS (
    SELECT (first_routed_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM ticket_facts
    WHERE tenant_id = :tenant AND deleted_at IS NULL AND first_routed_at >= :start AND first_routed_at < :stop GROUP BY 1
),
resolved AS (
    SELECT (resolved_at AT TIME ZONE 'UTC')::date AS day, count(*) AS n FROM ticket_facts
    WHERE tenant_id = :tenant AND deleted_at IS NULL AND resolved_at >= :start AND resolved_at < :stop GROUP BY 1
)
SELECT days.day, coalesce(created.n, 0), coalesce(routed.n, 0), coalesce(resolved.n, 0)
FROM days
LEFT JOIN created ON created.day = days.day
LEFT JOIN routed ON routed.day = days.day
LEFT JOIN resolved ON resolved.day = days.day
ORDER BY days.day
""")


def trends(conn: Connection, tenant: str, days: int, today: date) -> dict[str, Any]:
    """Per UTC day, oldest first, the last ``days`` days up to ``today`` (zero days included)."""
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time.min, tzinfo=timezone.utc)
    stop = datetime.combine(today + timedelta(days=1), time.min, tzinfo=timezone.utc)
    rows = conn.execute(_TRENDS_SQL, {"first": first, "last": today, "start": start,
                                      "stop": stop, "tenant": tenant})
    return {
        "days": days,
        "trends": [
            {"date": day.isoformat(), "created": created, "routed": routed, "resolved": resolved}
            for day, created, routed, resolved in rows
        ],
    }


def department(conn: Connection, tenant: str, name: str) -> dict[str, Any]:
    """One department's numbers; ``name`` matches case-insensitively, unknown names give zeros."""
    same = sa.func.lower(tf.c.department) == name.lower()
    stored, total, average, needs_review = conn.execute(
        sa.select(
            sa.func.min(tf.c.department),
            sa.func.count(),
            sa.func.avg(tf.c.confidence),
            sa.func.count().filter(tf.c.needs_review),
        ).where(_live(tenant), same)
    ).one()
    return {
        "department": stored or name,
        "total": total,
        "by_status": _keyed(STATUSES, _grouped(conn, tf.c.status, tenant, same)),
        "by_priority": _keyed(PRIORITIES, _grouped(conn, tf.c.priority, tenant, same)),
        "average_confidence": _number(average, 4),
        "needs_review": needs_review,
        "time_to_resolve": _duration(conn, tenant, tf.c.created_at, tf.c.resolved_at, same),
    }


def agents(conn: Connection, tenant: str) -> dict[str, Any]:
    """Open tickets (not resolved, closed or deleted) per assignee, most loaded first."""
    open_ = _live(tenant) & tf.c.status.not_in(("resolved", "closed"))
    rows = conn.execute(
        sa.select(tf.c.assignee_id, sa.func.max(tf.c.assignee_name), sa.func.count())
        .where(open_, tf.c.assignee_id.is_not(None)).group_by(tf.c.assignee_id)
        .order_by(sa.func.count().desc(), tf.c.assignee_id)).all()
    unassigned = conn.execute(sa.select(sa.func.count())
                              .where(open_, tf.c.assignee_id.is_(None))).scalar_one()
    return {"agents": [{"agent_id": agent_id, "name": name, "open_tickets": count}
                       for agent_id, name, count in rows],
            "unassigned_open": unassigned}

"""Read side: departments with their ticket counts, routing statistics, a ticket's history."""
from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa

from support_shared.web import encode_cursor

from .departments import department_json
from .domain import METHODS, Department, RoutingRecord, department_key
from .persistence import RoutingUnitOfWork
from .tables import routed_tickets, routing_history


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC."""
    return value.astimezone(timezone.utc).isoformat() if value is not None else None


def _department_json(department: Department, ticket_count: int) -> dict[str, Any]:
    return {**department_json(department), "ticket_count": ticket_count}


def _ticket_counts(uow: RoutingUnitOfWork, tenant_id: str) -> dict[str, int]:
    t = routed_tickets
    rows = uow.conn.execute(
        sa.select(t.c.department, sa.func.count())
        .where(t.c.tenant_id == tenant_id, t.c.department.is_not(None), ~t.c.deleted)
        .group_by(t.c.department)
    )
    counts: dict[str, int] = {}
    for name, count in rows:
        counts[department_key(name)] = counts.get(department_key(name), 0) + count
    return counts


def list_departments(tenant_id: str, *, uow: RoutingUnitOfWork, after: int | None = None,
                     limit: int = 50) -> dict[str, Any]:
    """A page of the tenant's departments in creation order, with the next page's cursor."""
    with uow:
        uow.departments.ensure_defaults(tenant_id)
        rows = uow.departments.page(tenant_id, after=after, limit=limit + 1)
        counts = _ticket_counts(uow, tenant_id)
        uow.commit()
    page = rows[:limit]
    return {
        "departments": [_department_json(d, counts.get(department_key(d.name), 0))
                        for _, d in page],
        "next_cursor": encode_cursor(page[-1][0]) if len(rows) > limit else None,
    }


def get_department(tenant_id: str, name: str, *, uow: RoutingUnitOfWork) -> dict[str, Any] | None:
    with uow:
        uow.departments.ensure_defaults(tenant_id)
        department = uow.departments.get(tenant_id, name)
        count = _ticket_counts(uow, tenant_id) if department else {}
        uow.commit()
    if department is None:
        return None
    return _department_json(department, count.get(department_key(department.name), 0))


def statistics(tenant_id: str, *, uow: RoutingUnitOfWork) -> dict[str, Any]:
    """Current assignments (routed_tickets) and how decisions were made (routing_history)."""
    t, h = routed_tickets, routing_history
    routed = t.c.department.is_not(None) & ~t.c.deleted
    with uow:
        assert uow.conn is not None
        totals = uow.conn.execute(
            sa.select(sa.func.count().filter(routed),
                      sa.func.count().filter(routed & t.c.needs_review),
                      sa.func.avg(t.c.confidence).filter(routed))
            .where(t.c.tenant_id == tenant_id)
        ).one()
        by_department = uow.conn.execute(
            sa.select(t.c.department, sa.func.count()).where(t.c.tenant_id == tenant_id, routed)
            .group_by(t.c.department).order_by(t.c.department)
        ).all()
        by_method = dict(uow.conn.execute(
            sa.select(h.c.method, sa.func.count())
            .join(t, (t.c.tenant_id == h.c.tenant_id) & (t.c.ticket_id == h.c.ticket_id))
            .where(h.c.tenant_id == tenant_id, ~t.c.deleted)
            .group_by(h.c.method)
        ).all())
    total, needs_review, average = totals
    return {
        "total_routed": total,
        "by_department": {name: count for name, count in by_department},
        "by_method": {m: by_method.get(m, 0) for m in METHODS},
        "needs_review": needs_review,
        "average_confidence": round(float(average), 4) if average is not None else None,
    }


def _record_json(record: RoutingRecord) -> dict[str, Any]:
    body = dataclasses.asdict(record)
    del body["tenant_id"], body["ticket_id"]
    body["routed_at"] = iso(record.routed_at)
    return body


def ticket_history(tenant_id: str, ticket_id: int, *,
                   uow: RoutingUnitOfWork) -> dict[str, Any] | None:
    """The ticket's current department and every routing decision, oldest first."""
    with uow:
        ticket = uow.tickets.get(tenant_id, ticket_id)
        if ticket is not None and ticket.deleted:
            ticket = None
        records = uow.history.for_ticket(tenant_id, ticket_id) if ticket else []
    if ticket is None:
        return None
    return {
        "ticket_id": ticket_id,
        "current_department": ticket.department,
        "routing_version": ticket.routing_version,
        "needs_review": ticket.needs_review,
        "history": [_record_json(r) for r in records],
    }

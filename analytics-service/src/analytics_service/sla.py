"""Service levels as analytics sees them: the ``sla.warning`` and ``sla.breached`` events of
ticket-service's clock, kept per ticket, and the compliance report per department and priority
(with first-response and resolution times, p50/p90)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Sequence, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection
from support_shared.events import Envelope, EventType, SlaTimerEvent

from .persistence import TS, AnalyticsUnitOfWork, metadata

logger = logging.getLogger(__name__)

sla_events = sa.Table(
    "sla_events",
    metadata,
    sa.Column("event_id", pg.UUID(as_uuid=True), primary_key=True),
    sa.Column("tenant_id", sa.Text, nullable=False),
    sa.Column("ticket_id", sa.BigInteger, nullable=False),
    sa.Column("event_type", sa.Text, nullable=False),     # sla.warning | sla.breached
    sa.Column("kind", sa.Text, nullable=False),           # first_response | resolution
    sa.Column("department", sa.Text),
    sa.Column("priority", sa.Text, nullable=False),
    sa.Column("due_at", TS, nullable=False),
    sa.Column("occurred_at", TS, nullable=False),
)
_ADD = pg.insert(sla_events).on_conflict_do_nothing(index_elements=[sla_events.c.event_id])


def _row(envelope: Envelope) -> dict[str, Any]:
    data = cast(SlaTimerEvent, envelope.payload())
    return {"event_id": envelope.event_id, "tenant_id": envelope.tenant_id,
            "event_type": envelope.event_type.value, "ticket_id": data.ticket_id,
            "kind": data.kind, "department": data.department, "priority": data.priority,
            "due_at": data.due_at, "occurred_at": envelope.occurred_at}


def handle_sla_events(envelopes: Sequence[Envelope], *, uow: AnalyticsUnitOfWork) -> int:
    """Keep each warning and breach once (a tenant event: no ticket version to compare)."""
    with uow:
        fresh = [e for e in uow.inbox.fresh(envelopes)
                 if e.event_type in (EventType.SLA_WARNING, EventType.SLA_BREACHED)]
        if fresh:
            assert uow.conn is not None
            uow.conn.execute(_ADD, [_row(e) for e in fresh])
        uow.commit()
    logger.info("kept %d SLA events of %d", len(fresh), len(envelopes))
    return len(fresh)


# Per (department, priority) and in total (GROUPING SETS): the tickets opened in the window,
# those with a breach, breaches by clock, warnings, and wall-clock minutes from the ticket's
# creation to the first public agent comment and to its resolution.
_REPORT = sa.text("""
WITH t AS (
    SELECT ticket_id, department, priority, created_at, resolved_at FROM ticket_facts
    WHERE tenant_id = :tenant AND deleted_at IS NULL AND created_at >= :since),
reply AS (
    SELECT ticket_id, min(occurred_at) AS at FROM event_log
    WHERE tenant_id = :tenant AND event_type = 'ticket.commented'
      AND data->>'author_kind' = 'agent'
    GROUP BY ticket_id),
s AS (
    SELECT ticket_id,
           count(*) FILTER (WHERE event_type = 'sla.breached' AND kind = 'first_response') AS fr,
           count(*) FILTER (WHERE event_type = 'sla.breached' AND kind = 'resolution') AS res,
           count(*) FILTER (WHERE event_type = 'sla.warning') AS warnings
    FROM sla_events WHERE tenant_id = :tenant GROUP BY ticket_id),
m AS (
    SELECT t.*, s.fr, s.res, s.warnings,
           extract(epoch FROM reply.at - t.created_at) / 60 AS fr_min,
           extract(epoch FROM t.resolved_at - t.created_at) / 60 AS res_min
    FROM t LEFT JOIN reply USING (ticket_id) LEFT JOIN s USING (ticket_id))
SELECT department, priority, GROUPING(department, priority) AS total,
       count(*) AS tickets,
       count(*) FILTER (WHERE coalesce(fr, 0) + coalesce(res, 0) > 0) AS breached_tickets,
       coalesce(sum(fr), 0) AS first_response_breaches,
       coalesce(sum(res), 0) AS resolution_breaches,
       coalesce(sum(warnings), 0) AS warnings,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY fr_min) AS fr_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY fr_min) AS fr_p90,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY res_min) AS res_p50,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY res_min) AS res_p90
FROM m GROUP BY GROUPING SETS ((department, priority), ())
ORDER BY total DESC, department NULLS FIRST, priority
""")


def _minutes(value: float | None) -> float | None:
    return round(float(value), 2) if value is not None else None


def _figures(row: sa.Row) -> dict[str, Any]:
    tickets = int(row.tickets)
    return {
        "tickets": tickets,
        "breached_tickets": int(row.breached_tickets),
        "compliance": (round(1 - int(row.breached_tickets) / tickets, 4) if tickets else None),
        "breaches": {"first_response": int(row.first_response_breaches),
                     "resolution": int(row.resolution_breaches)},
        "warnings": int(row.warnings),
        "first_response_minutes": {"p50": _minutes(row.fr_p50), "p90": _minutes(row.fr_p90)},
        "resolution_minutes": {"p50": _minutes(row.res_p50), "p90": _minutes(row.res_p90)},
    }


def report(conn: Connection, tenant: str, days: int, now: datetime) -> dict[str, Any]:
    """SLA compliance of the tickets opened in the last ``days``: in total and per
    department and priority; compliance is the share of tickets without a breach."""
    rows = conn.execute(_REPORT, {"tenant": tenant, "since": now - timedelta(days=days)}).all()
    total = next((r for r in rows if r.total), None)
    empty = {"tickets": 0, "breached_tickets": 0, "compliance": None,
             "breaches": {"first_response": 0, "resolution": 0}, "warnings": 0,
             "first_response_minutes": {"p50": None, "p90": None},
             "resolution_minutes": {"p50": None, "p90": None}}
    return {
        "days": days,
        "total": _figures(total) if total is not None and total.tickets else empty,
        "groups": [{"department": r.department, "priority": r.priority, **_figures(r)}
                   for r in rows if not r.total],
    }

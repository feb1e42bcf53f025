"""Triage as an action: a person confirms a ticket's department or reroutes it.

Either way the ticket leaves review (``needs_review`` false) and a ``ticket.routed`` event with
a person's method (``manual`` for a confirmation, ``reroute``) is published, which the AI
service keeps as a labelled example.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from support_shared.events import utcnow

from .domain import (DepartmentNotFoundError, RouteResult, RoutingError, TicketNotFoundError,
                     department_key, request_fingerprint)
from .handlers import Clock, record_manual, replay_route, route_result_body
from .persistence import RoutingUnitOfWork

logger = logging.getLogger(__name__)

TriageAction = Literal["confirm", "reroute"]


class TriageConflictError(RoutingError):
    """Confirming a department the ticket is not in."""

    def __init__(self, ticket_id: int, current: str | None, asked: str) -> None:
        super().__init__(f"ticket {ticket_id} is in {current!r}, not {asked!r}: "
                         "reroute it instead")
        self.ticket_id = ticket_id


def triage_ticket(tenant_id: str, ticket_id: int, action: TriageAction,
                  department: str | None, *, uow: RoutingUnitOfWork,
                  correlation_id: str | None = None, idempotency_key: str | None = None,
                  clock: Clock = utcnow) -> RouteResult:
    """Confirm the ticket's department (``department``, if given, must be it) or reroute it to
    ``department``; a reroute to where it is confirms. Idempotent with ``idempotency_key``."""
    fingerprint = request_fingerprint("triage", ticket_id, action, department)
    with uow:
        if idempotency_key and not uow.idempotency.claim(tenant_id, idempotency_key,
                                                         fingerprint):
            return replay_route(uow.idempotency.get(tenant_id, idempotency_key), fingerprint,
                                idempotency_key)
        result = _triage(uow, tenant_id, ticket_id, action, department, clock(), correlation_id)
        if idempotency_key:
            uow.idempotency.answer(tenant_id, idempotency_key, route_result_body(result))
        uow.commit()
    logger.info("ticket %s triaged (%s) in %s; changed=%s", ticket_id, action, result.department,
                result.changed)
    return result


def _triage(uow: RoutingUnitOfWork, tenant_id: str, ticket_id: int, action: TriageAction,
            department: str | None, now: datetime, correlation_id: str | None) -> RouteResult:
    uow.departments.ensure_defaults(tenant_id)
    ticket = uow.tickets.get(tenant_id, ticket_id, lock=True)
    if ticket is None:
        raise TicketNotFoundError(ticket_id)
    previous = ticket.department
    there = department is None or (previous is not None
                                   and department_key(previous) == department_key(department))
    if not there and action == "confirm":
        raise TriageConflictError(ticket_id, previous, department or "")
    if there:
        return record_manual(uow, ticket, ticket.confirm(now), previous, "manual", now,
                             correlation_id)
    assert department is not None
    target = uow.departments.get(tenant_id, department)
    if target is None or not target.active:
        raise DepartmentNotFoundError(department)
    return record_manual(uow, ticket, ticket.route_manual(target, "reroute", at=now), previous,
                         "reroute", now, correlation_id)

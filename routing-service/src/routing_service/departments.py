"""Departments managed through the API: create, edit (deactivation included), list by pages.

Every change is written with a ``department.changed`` event in the same transaction (the
outbox), carrying the department as it now is and its ``version``; it is a tenant event, so
its envelope has no ticket. The routing rules read the departments at each decision, so a
change applies to the next ticket routed.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any, Literal

from support_shared.events import DepartmentChanged, Envelope, EventType, new_event, utcnow

from .assignment.engine import Context, drain

from .domain import (Department, DepartmentExistsError, DepartmentNotFoundError,
                     request_fingerprint)
from .handlers import replayed_answer
from .persistence import RoutingUnitOfWork

logger = logging.getLogger(__name__)


def department_json(department: Department) -> dict[str, Any]:
    body = asdict(department)
    body["keywords"] = list(department.keywords)
    return body


def changed_event(tenant_id: str, department: Department, change: Literal["created", "updated"],
                  *, correlation_id: str | None) -> Envelope:
    payload = DepartmentChanged(**department_json(department), change=change)
    return new_event(EventType.DEPARTMENT_CHANGED, payload, tenant_id=tenant_id, ticket_id=None,
                     ticket_version=None, correlation_id=correlation_id)


def create_department(tenant_id: str, department: Department, *, uow: RoutingUnitOfWork,
                      correlation_id: str | None = None,
                      idempotency_key: str | None = None) -> tuple[dict[str, Any], bool]:
    """Add ``department`` (version 1, not triage); the department as JSON and whether the
    answer is a replay of the first request made with ``idempotency_key``.

    Raises ``DepartmentExistsError`` when the tenant has one of that name (any case)."""
    department = Department(**{**asdict(department), "is_triage": False, "version": 1})
    fingerprint = request_fingerprint("department.create", department_json(department))
    with uow:
        if idempotency_key and not uow.idempotency.claim(tenant_id, idempotency_key,
                                                         fingerprint):
            first = uow.idempotency.get(tenant_id, idempotency_key)
            return replayed_answer(first, fingerprint, idempotency_key), True
        uow.departments.ensure_defaults(tenant_id)
        if not uow.departments.add(tenant_id, department):
            raise DepartmentExistsError(department.name)
        body = department_json(department)
        uow.outbox.add(changed_event(tenant_id, department, "created",
                                     correlation_id=correlation_id))
        if idempotency_key:
            uow.idempotency.answer(tenant_id, idempotency_key, body)
        uow.commit()
    logger.info("tenant %s created department %s", tenant_id, department.name)
    return body, False


def update_department(tenant_id: str, name: str, changes: dict[str, Any], *,
                      uow: RoutingUnitOfWork,
                      correlation_id: str | None = None) -> tuple[Department, bool]:
    """Apply ``changes`` (description, keywords, min_confidence, active) to the department;
    the department as it now is and whether anything changed (no event when nothing did)."""
    with uow:
        uow.departments.ensure_defaults(tenant_id)
        current = uow.departments.get(tenant_id, name, lock=True)
        if current is None:
            raise DepartmentNotFoundError(name)
        edited = current.edited(changes)
        if edited is None:
            uow.commit()
            return current, False
        uow.departments.update(tenant_id, edited)
        uow.outbox.add(changed_event(tenant_id, edited, "updated", correlation_id=correlation_id))
        if edited.assignment_policy != current.assignment_policy:
            # A policy that assigns now takes the tickets waiting in the queue.
            drain(uow, Context(tenant_id, utcnow(), correlation_id), [edited.name])
        uow.commit()
    logger.info("tenant %s changed department %s to version %d (active=%s)", tenant_id,
                edited.name, edited.version, edited.active)
    return edited, True

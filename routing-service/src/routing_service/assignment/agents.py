"""Agents managed through the API: create, edit (status, capacity, departments, skills), list.

An edit that makes an agent unavailable (``away``, ``offline``) hands their open tickets back
to their departments' queues (``ticket.unassigned``), which are then drained by policy; one
that gives room (back to ``available``, more capacity, another department) drains the agent's
departments. All in the transaction of the edit.
"""
from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Any

from support_shared.events import utcnow

from ..domain import DepartmentNotFoundError
from ..persistence import RoutingUnitOfWork
from .domain import Agent, AgentExistsError, AgentNotFoundError
from .engine import Context, drain, unassign

logger = logging.getLogger(__name__)


def agent_json(agent: Agent) -> dict[str, Any]:
    body = asdict(agent)
    del body["tenant_id"]
    body["departments"], body["skills"] = list(agent.departments), list(agent.skills)
    return {"id": body.pop("id"), **body}


def _canonical_departments(uow: RoutingUnitOfWork, tenant_id: str,
                           names: tuple[str, ...]) -> tuple[str, ...]:
    """The departments' own names (any case given), each once; an unknown one raises."""
    found: dict[str, str] = {}
    for name in names:
        department = uow.departments.get(tenant_id, name)
        if department is None:
            raise DepartmentNotFoundError(name)
        found.setdefault(department.name.lower(), department.name)
    return tuple(found.values())


def create_agent(agent: Agent, *, uow: RoutingUnitOfWork,
                 correlation_id: str | None = None) -> Agent:
    """Add ``agent``; their departments' queues are drained (they may take waiting tickets)."""
    with uow:
        uow.departments.ensure_defaults(agent.tenant_id)
        agent.departments = _canonical_departments(uow, agent.tenant_id, agent.departments)
        agent.open_tickets, agent.version = 0, 1
        uow.assignments.lock_tenant(agent.tenant_id)
        agent_id = uow.assignments.add_agent(agent)
        if agent_id is None:
            raise AgentExistsError(agent.email)
        agent.id = agent_id
        drain(uow, Context(agent.tenant_id, utcnow(), correlation_id), agent.departments)
        uow.commit()
    logger.info("tenant %s added agent %s (%s)", agent.tenant_id, agent.id, agent.status)
    return get_agent(agent.tenant_id, agent_id, uow=uow)


def get_agent(tenant_id: str, agent_id: int, *, uow: RoutingUnitOfWork) -> Agent:
    with uow:
        agent = uow.assignments.agent(tenant_id, agent_id)
    if agent is None:
        raise AgentNotFoundError(agent_id)
    return agent


def update_agent(tenant_id: str, agent_id: int, changes: dict[str, Any], *,
                 uow: RoutingUnitOfWork, correlation_id: str | None = None) -> Agent:
    """Apply ``changes``; hand back or take tickets as the new state says."""
    ctx = Context(tenant_id, utcnow(), correlation_id)
    with uow:
        uow.assignments.lock_tenant(tenant_id)
        current = uow.assignments.agent(tenant_id, agent_id)
        if current is None:
            raise AgentNotFoundError(agent_id)
        if "departments" in changes:
            changes = {**changes, "departments": _canonical_departments(
                uow, tenant_id, tuple(changes["departments"]))}
        edited = current.edited(changes)
        if edited is not None:
            uow.assignments.update_agent(edited)
            if current.available and not edited.available:
                _hand_back(uow, ctx, edited)
            drain(uow, ctx, edited.departments)
        uow.commit()
    if edited is not None:
        logger.info("tenant %s changed agent %s to version %d (%s, capacity %d)", tenant_id,
                    agent_id, edited.version, edited.status, edited.capacity)
    return get_agent(tenant_id, agent_id, uow=uow)


def _hand_back(uow: RoutingUnitOfWork, ctx: Context, agent: Agent) -> None:
    """The unavailable ``agent``'s open tickets go back to their departments' queues."""
    assert agent.id is not None
    held = uow.assignments.held_by(ctx.tenant_id, agent.id)
    for waiting in held:
        unassign(uow, ctx, waiting.assignment, waiting.ticket_version, "agent_away", free=False)
    uow.assignments.set_load(ctx.tenant_id, agent.id, 0)
    uow.assignments.save_many([w.assignment for w in held])
    drain(uow, ctx, {w.assignment.department for w in held if w.assignment.department})
    logger.info("agent %s is %s: %d tickets handed back", agent.id, agent.status, len(held))

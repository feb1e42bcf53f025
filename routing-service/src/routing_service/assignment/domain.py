"""Agents, assignments and the policies that choose an agent (plain Python, no I/O).

A policy never chooses an agent who is not ``available`` or who has as many open tickets as
their ``capacity``; a ticket nobody can take waits in its department's queue (oldest first).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Iterable, Literal, Sequence

from ..domain import RoutingError, department_key

Policy = Literal["manual", "round_robin", "least_loaded", "skills"]
POLICIES: tuple[str, ...] = ("manual", "round_robin", "least_loaded", "skills")
AgentStatus = Literal["available", "away", "offline"]
AGENT_STATUSES: tuple[str, ...] = ("available", "away", "offline")
DONE_STATUSES = frozenset({"resolved", "closed"})
AGENT_EDITABLE = frozenset({"name", "departments", "skills", "capacity", "status"})


class AgentNotFoundError(RoutingError):
    def __init__(self, agent_id: int) -> None:
        super().__init__(f"agent {agent_id} not found")
        self.agent_id = agent_id


class AgentExistsError(RoutingError):
    def __init__(self, email: str) -> None:
        super().__init__(f"an agent with email {email!r} already exists")
        self.email = email


class AgentUnavailableError(RoutingError):
    """The agent is away or offline, or has no free capacity."""

    def __init__(self, agent_id: int, reason: str) -> None:
        super().__init__(f"agent {agent_id} cannot take the ticket: {reason}")
        self.agent_id = agent_id
        self.reason = reason


class CapacityExceededError(RuntimeError):
    """A planned assignment did not fit the agent's row (an invariant broke): roll back."""


@dataclass
class Agent:
    tenant_id: str
    name: str
    email: str
    capacity: int
    departments: tuple[str, ...] = ()
    skills: tuple[str, ...] = ()
    status: str = "available"
    open_tickets: int = 0
    version: int = 1
    id: int | None = None

    @property
    def available(self) -> bool:
        return self.status == "available"

    @property
    def has_room(self) -> bool:
        return self.available and self.open_tickets < self.capacity

    def serves(self, department: str) -> bool:
        key = department_key(department)
        return any(department_key(d) == key for d in self.departments)

    def edited(self, changes: dict[str, Any]) -> Agent | None:
        """This agent with ``changes`` as its next version; None when nothing changes."""
        unknown = set(changes) - AGENT_EDITABLE
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        values = {k: tuple(v) if k in ("departments", "skills") else v
                  for k, v in changes.items()}
        if all(getattr(self, k) == v for k, v in values.items()):
            return None
        return replace(self, **values, version=self.version + 1)


@dataclass
class Assignment:
    """A routed ticket's agent (None: waiting in ``department``'s queue); ``open`` until the
    ticket is resolved, closed or deleted."""

    tenant_id: str
    ticket_id: int
    department: str | None = None
    agent_id: int | None = None
    open: bool = True
    assignment_version: int = 0
    status_version: int = 0
    queued_at: datetime | None = None

    @property
    def waiting(self) -> bool:
        return self.open and self.agent_id is None and self.department is not None


@dataclass(frozen=True)
class Waiting:
    """A ticket in a department's queue with what the events and the skills policy need."""

    assignment: Assignment
    ticket_version: int
    tags: tuple[str, ...] = ()


@dataclass
class Plan:
    """What one department's queue drain decided: (ticket, agent) pairs and the new cursor."""

    pairs: list[tuple[Waiting, Agent]] = field(default_factory=list)
    cursor: int | None = None


def ticket_keys(waiting: Waiting) -> set[str]:
    """What a skill may match: the ticket's tags and its category (department)."""
    keys = {t.strip().lower() for t in waiting.tags}
    if waiting.assignment.department:
        keys.add(department_key(waiting.assignment.department))
    return keys


def _round_robin(candidates: Sequence[Agent], cursor: int | None) -> Agent:
    ordered = sorted(candidates, key=lambda a: a.id or 0)
    after = [a for a in ordered if cursor is not None and (a.id or 0) > cursor]
    return (after or ordered)[0]


def _least_loaded(candidates: Sequence[Agent]) -> Agent:
    """The lowest share of capacity in use, then the fewest open tickets, then the oldest."""
    return min(candidates, key=lambda a: (a.open_tickets / a.capacity, a.open_tickets, a.id or 0))


def choose_agent(policy: str, agents: Iterable[Agent], waiting: Waiting,
                 cursor: int | None) -> Agent | None:
    """The agent ``policy`` gives ``waiting`` to, or None (manual, or nobody can take it)."""
    candidates = [a for a in agents if a.has_room]
    if policy == "skills":
        keys = ticket_keys(waiting)
        candidates = [a for a in candidates if keys & {s.strip().lower() for s in a.skills}]
    if policy == "manual" or not candidates:
        return None
    if policy == "round_robin":
        return _round_robin(candidates, cursor)
    return _least_loaded(candidates)


def plan_drain(policy: str, agents: Sequence[Agent], queue: Sequence[Waiting],
               cursor: int | None) -> Plan:
    """Give the queue's tickets, oldest first, to the department's agents as ``policy`` says;
    ``agents`` are updated in place (open_tickets) as the plan fills them."""
    plan = Plan(cursor=cursor)
    for waiting in queue:
        if not any(a.has_room for a in agents):
            break
        agent = choose_agent(policy, agents, waiting, plan.cursor)
        if agent is None:
            continue
        agent.open_tickets += 1
        plan.cursor = agent.id
        plan.pairs.append((waiting, agent))
    return plan

"""Routing rules: departments, the choice of a department for a categorization, manual routing."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Iterable, Literal

Method = Literal["auto", "manual", "reroute"]
METHODS: tuple[str, ...] = ("auto", "manual", "reroute")
MANUAL_METHODS: frozenset[str] = frozenset({"manual", "reroute"})
DEFAULT_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Department:
    """A tenant's department. ``name`` is its identity (never renamed: history keeps it);
    ``version`` counts its revisions, so consumers of ``department.changed`` keep the newest."""

    name: str
    description: str = ""
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    is_triage: bool = False
    active: bool = True
    keywords: tuple[str, ...] = ()
    version: int = 1
    assignment_policy: str = "manual"   # manual, round_robin, least_loaded, skills

    def edited(self, changes: dict[str, Any]) -> Department | None:
        """This department with ``changes`` (description, keywords, min_confidence, active,
        assignment_policy)
        as its next version; None when they change nothing. The triage department stays active:
        routing needs somewhere to send what fits nowhere."""
        unknown = set(changes) - EDITABLE_FIELDS
        if unknown:
            raise ValueError(f"not editable: {sorted(unknown)}")
        values = {k: tuple(v) if k == "keywords" else v for k, v in changes.items()}
        if all(getattr(self, k) == v for k, v in values.items()):
            return None
        if self.is_triage and values.get("active") is False:
            raise TriageDepartmentRequiredError(self.name)
        return replace(self, **values, version=self.version + 1)


EDITABLE_FIELDS = frozenset({"description", "keywords", "min_confidence", "active",
                             "assignment_policy"})


DEFAULT_DEPARTMENTS: tuple[Department, ...] = (
    Department("IT Support", "hardware, software, network, access, email"),
    Department("HR", "leave, benefits, hiring, contracts, training"),
    Department("Facilities", "building, maintenance, cleaning, desks, parking"),
    Department("Finance", "payroll, salary, invoices, expenses, reimbursement, budgets"),
    Department("General", "everything else", min_confidence=0.0, is_triage=True),
)


class RoutingError(Exception):
    """Base of the routing domain errors."""


class DepartmentNotFoundError(RoutingError):
    def __init__(self, name: str) -> None:
        super().__init__(f"department {name!r} not found")
        self.name = name


class DepartmentExistsError(RoutingError):
    def __init__(self, name: str) -> None:
        super().__init__(f"department {name!r} already exists")
        self.name = name


class TriageDepartmentRequiredError(RoutingError):
    def __init__(self, name: str) -> None:
        super().__init__(f"{name!r} is the triage department and cannot be deactivated")
        self.name = name


class TicketNotRoutedError(RoutingError):
    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"ticket {ticket_id} has no department yet: nothing to confirm")
        self.ticket_id = ticket_id


class TicketNotFoundError(RoutingError):
    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"ticket {ticket_id} not found")
        self.ticket_id = ticket_id


class TicketClosedError(RoutingError):
    """ticket-service closed the ticket (as ``ticket.status.updated`` told): it is not routed
    again until it is reopened."""

    def __init__(self, ticket_id: int) -> None:
        super().__init__(f"ticket {ticket_id} is closed: reopen it before routing it again")
        self.ticket_id = ticket_id


class NoTriageDepartmentError(RoutingError):
    """The tenant has no active triage department to fall back to."""


class IdempotencyKeyReusedError(RoutingError):
    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used for a different request")
        self.key = key


def request_fingerprint(*parts: object) -> str:
    """What a request asked for (e.g. ticket, department, method), to tell its retry from
    another request."""
    canonical = json.dumps(list(parts), separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def department_key(name: str) -> str:
    """Case-insensitive identity of a department name (SQL ``lower(name)``; names are trimmed)."""
    return name.strip().lower()


def find_department(departments: Iterable[Department], name: str) -> Department | None:
    key = department_key(name)
    return next((d for d in departments if department_key(d.name) == key), None)


@dataclass(frozen=True)
class RoutingDecision:
    department: str
    needs_review: bool
    reason: str


def choose_department(
    departments: Iterable[Department], category: str, confidence: float
) -> RoutingDecision:
    """The categorized department if active and confident enough, else triage for review."""
    departments = list(departments)
    match = find_department(departments, category)
    if match is not None and match.active and confidence >= match.min_confidence:
        return RoutingDecision(match.name, False,
                               f"categorized as {match.name} with confidence {confidence:.2f}")
    if match is None:
        reason = f"unknown department {category}"
    elif not match.active:
        reason = f"inactive department {match.name}"
    else:
        reason = (f"confidence {confidence:.2f} below {match.min_confidence:.2f}"
                  f" for {match.name}")
    triage = next((d for d in departments if d.is_triage and d.active), None)
    if triage is None:
        raise NoTriageDepartmentError(f"no active triage department ({reason})")
    return RoutingDecision(triage.name, True, reason)


@dataclass(frozen=True)
class RoutingRecord:
    """One routing decision as it enters the history and the ticket.routed event."""

    tenant_id: str
    ticket_id: int
    department: str
    previous_department: str | None
    method: Method
    confidence: float | None
    priority: str | None
    categorization_method: str | None
    needs_review: bool
    reason: str
    routing_version: int
    routed_at: datetime


@dataclass
class RoutedTicket:
    """What routing knows about one ticket and where it is assigned now."""

    tenant_id: str
    ticket_id: int
    title: str | None = None
    ticket_created_at: datetime | None = None
    department: str | None = None
    routing_version: int = 0
    last_method: str | None = None
    confidence: float | None = None
    priority: str | None = None
    categorization_method: str | None = None
    needs_review: bool = False
    ticket_version: int = 1
    categorized_version: int | None = None
    closed: bool = False                # as the newest ticket.status.updated said
    status_version: int = 0             # the ticket_version of that event
    deleted: bool = False               # ticket.deleted: gone from every read, never routed

    @property
    def manually_routed(self) -> bool:
        """A person chose the department: later automatic categorizations do not move it."""
        return self.last_method in MANUAL_METHODS

    def is_stale_categorization(self, ticket_version: int) -> bool:
        return self.categorized_version is not None and ticket_version < self.categorized_version

    def route_auto(self, decision: RoutingDecision, *, confidence: float, priority: str,
                   categorization_method: str, ticket_version: int,
                   at: datetime) -> RoutingRecord:
        self.categorized_version = ticket_version
        self.confidence = confidence
        self.priority = priority
        self.categorization_method = categorization_method
        return self._assign(decision.department, "auto", decision.needs_review,
                            decision.reason, at)

    def route_manual(self, department: Department, method: Method,
                     at: datetime) -> RoutingRecord | None:
        """Assign ``department`` by hand; None when the ticket is already there."""
        if method not in MANUAL_METHODS:
            raise ValueError(f"not a manual method: {method}")
        if not department.active:
            raise DepartmentNotFoundError(department.name)
        if self.department is not None and department_key(self.department) == department_key(
                department.name):
            return None
        # A person decided: the model's score no longer backs this assignment.
        self.confidence = None
        reason = "routed manually" if method == "manual" else "rerouted manually"
        return self._assign(department.name, method, False, reason, at)

    def confirm(self, at: datetime) -> RoutingRecord | None:
        """A person confirms the current department (triage); None when a person already
        decided it and nothing awaits review."""
        if self.department is None:
            raise TicketNotRoutedError(self.ticket_id)
        if self.manually_routed and not self.needs_review:
            return None
        return self._assign(self.department, "manual", False, "confirmed in triage", at)

    def _assign(self, department: str, method: Method, needs_review: bool, reason: str,
                at: datetime) -> RoutingRecord:
        previous = self.department
        self.department = department
        self.routing_version += 1
        self.last_method = method
        self.needs_review = needs_review
        return RoutingRecord(
            tenant_id=self.tenant_id, ticket_id=self.ticket_id, department=department,
            previous_department=previous, method=method, confidence=self.confidence,
            priority=self.priority, categorization_method=self.categorization_method,
            needs_review=needs_review, reason=reason, routing_version=self.routing_version,
            routed_at=at,
        )


@dataclass(frozen=True)
class RouteResult:
    """The answer to a manual routing request; ``replayed`` when it answered an earlier one."""

    ticket_id: int
    department: str
    previous_department: str | None
    method: str
    routing_version: int
    needs_review: bool
    routed_at: datetime
    changed: bool
    replayed: bool = False

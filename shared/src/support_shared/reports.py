"""Response shapes of departments, routing, analytics and the queue panel, as the services answer."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel

from .events import Priority

RouteMethod = Literal["auto", "manual", "reroute"]


class DepartmentFields(BaseModel):
    """A department as created or changed (``version`` counts its revisions)."""

    name: str
    description: str
    keywords: list[str]
    min_confidence: float
    is_triage: bool
    active: bool
    version: int
    assignment_policy: str = "manual"


class Department(DepartmentFields):
    ticket_count: int = Field(description="tickets routed to it now")


class DepartmentList(BaseModel):
    """The tenant's departments in creation order, inactive ones included, a page at a time."""

    departments: list[Department]
    next_cursor: str | None = Field(description="cursor of the next page; null on the last")


class RouteResult(BaseModel):
    ticket_id: int
    department: str
    previous_department: str | None
    method: RouteMethod
    routing_version: int
    needs_review: bool
    routed_at: datetime
    changed: bool = Field(description="false when the ticket already was in that department")


class MethodCounts(BaseModel):
    auto: int
    manual: int
    reroute: int


class RoutingStatistics(BaseModel):
    total_routed: int
    by_department: dict[str, int]
    by_method: MethodCounts
    needs_review: int
    average_confidence: float | None


class RoutingRecord(BaseModel):
    department: str
    previous_department: str | None
    method: RouteMethod
    confidence: float | None
    priority: Priority | None
    categorization_method: str | None
    needs_review: bool
    reason: str
    routing_version: int
    routed_at: datetime


class RoutingHistory(BaseModel):
    """A ticket's current department and every routing decision, oldest first."""

    ticket_id: int
    current_department: str | None
    routing_version: int
    needs_review: bool
    history: list[RoutingRecord]


class StatusCounts(BaseModel):
    pending: int
    in_progress: int
    resolved: int
    closed: int


class PriorityCounts(BaseModel):
    low: int
    medium: int
    high: int
    critical: int


class CategorizationMethodCounts(BaseModel):
    claude: int
    local_model: int
    keywords: int


class EventCounts(BaseModel):
    """Events of each type the analytics projection has processed."""

    model_config = ConfigDict(populate_by_name=True)

    ticket_created: int = Field(alias="ticket.created")
    ticket_categorized: int = Field(alias="ticket.categorized")
    ticket_routed: int = Field(alias="ticket.routed")
    ticket_status_updated: int = Field(alias="ticket.status.updated")
    ticket_updated: int = Field(alias="ticket.updated")
    ticket_commented: int = Field(alias="ticket.commented")
    ticket_deleted: int = Field(alias="ticket.deleted")
    ticket_assignment_applied: int = Field(alias="ticket.assignment.applied")


class DashboardSummary(BaseModel):
    total_tickets: int
    by_status: StatusCounts
    by_department: dict[str, int]
    by_priority: PriorityCounts
    needs_review: int
    created_last_24h: int
    resolved_last_24h: int


class ConfidenceBucket(BaseModel):
    bucket: str = Field(description="[lower, upper) of the confidence, e.g. 0.9-1.0")
    count: int


class DashboardRouting(BaseModel):
    total_routed: int
    by_department: dict[str, int]
    by_categorization_method: CategorizationMethodCounts
    average_confidence: float | None
    confidence_distribution: list[ConfidenceBucket]
    needs_review: int


class TicketAnalytics(BaseModel):
    total: int
    by_status: StatusCounts
    by_department: dict[str, int]
    by_priority: PriorityCounts
    open: int
    events_processed: EventCounts


class Duration(BaseModel):
    """Seconds between two moments of a ticket, over the tickets that have both (else nulls)."""

    count: int
    avg_seconds: float | None
    p50_seconds: float | None
    p95_seconds: float | None
    max_seconds: float | None


class PerformanceAnalytics(BaseModel):
    time_to_categorize: Duration
    time_to_route: Duration
    time_to_resolve: Duration


class TrendDay(BaseModel):
    date: date
    created: int
    routed: int
    resolved: int


class Trends(BaseModel):
    """Per UTC day, oldest first, the last ``days`` days (days without tickets included)."""

    days: int
    trends: list[TrendDay]


class DepartmentAnalytics(BaseModel):
    """One department's numbers (an unknown name gives zeros)."""

    department: str
    total: int
    by_status: StatusCounts
    by_priority: PriorityCounts
    average_confidence: float | None
    needs_review: int
    time_to_resolve: Duration


class QueueDepth(BaseModel):
    """One consumer queue; counters are null until the broker has published its stats."""

    name: str
    service: str
    routing_key: str
    exists: bool
    messages: int | None
    messages_ready: int | None
    messages_unacknowledged: int | None
    consumers: int | None
    dlq: str
    dead_letters: int | None


class QueueTotals(BaseModel):
    messages: int
    dead_letters: int


class UnroutableQueue(BaseModel):
    name: str
    messages: int | None


class QueuePanel(BaseModel):
    available: Literal[True]
    checked_at: datetime
    queues: list[QueueDepth]
    totals: QueueTotals
    unroutable: UnroutableQueue


class QueuePanelUnavailable(BaseModel):
    """The RabbitMQ management API could not be read (still a 200: not the service's failure)."""

    available: Literal[False]
    reason: str
    checked_at: datetime


class QueueDepths(RootModel[QueuePanel | QueuePanelUnavailable]):
    """The dashboard's queue panel, or why the broker's numbers are unavailable."""

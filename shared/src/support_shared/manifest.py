"""The suite's wiring, declared once: services, schemas, env prefixes, processes, subscriptions.

Every other place that needs one of these facts reads it from ``SUITE``: consumers are built
from its subscriptions (``messaging.wiring``), the suite runner starts its processes, the
dashboard watches its queues, the test pipeline drains them, ticketctl finds schemas and
outboxes through it, and ``tests/deploy`` fails when compose or the k8s manifests disagree.
Handlers are named as ``"package.module:function"`` because shared never imports a service.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .events import MANUAL_ROUTED_KEY, EventType, routing_keys

DLQ_SUFFIX = ".dlq"


def queue_name(prefix: str, service: str, routing_key: str) -> str:
    """The durable queue ``service`` consumes ``routing_key`` from."""
    return f"{prefix}{service}.{routing_key}"


def dead_letter_queue(queue: str) -> str:
    return f"{queue}{DLQ_SUFFIX}"


@dataclass(frozen=True)
class Consumes:
    """One subscription: ``service`` takes ``event`` from its own queue into ``handler``."""

    event: EventType
    handler: str   # "package.module:function", a set-based handler of a batch of envelopes
    # The topic keys its queue is bound to; empty: every key the event travels under.
    keys: tuple[str, ...] = ()

    @property
    def routing_key(self) -> str:
        """The event's own key, which names the queue."""
        return self.event.value

    @property
    def bindings(self) -> tuple[str, ...]:
        return self.keys or routing_keys(self.event)


@dataclass(frozen=True)
class Process:
    name: str      # "routing-consumer"
    service: str   # "routing-service"
    command: str   # the service CLI's sub-command: web, relay, consumer (or ticket's clock)


@dataclass(frozen=True)
class Service:
    name: str                  # folder and queue name: "routing-service"
    package: str               # import name: "routing_service"
    short: str                 # process name stem: "routing" -> "routing-web"
    env_prefix: str            # "ROUTING_SERVICE_"
    port: int
    schema: str | None = None  # its PostgreSQL schema; None: no database (the gateway)
    commands: tuple[str, ...] = ("web",)
    consumes: tuple[Consumes, ...] = ()

    @property
    def publishes(self) -> bool:
        """Whether it has an outbox (and so a relay)."""
        return "relay" in self.commands

    @property
    def processes(self) -> list[Process]:
        """One process per command, ``<short>-<command>``; a one-command service: ``<short>``."""
        if len(self.commands) == 1:
            return [Process(self.short, self.name, self.commands[0])]
        return [Process(f"{self.short}-{c}", self.name, c) for c in self.commands]

    def queues(self, prefix: str = "") -> list[str]:
        return [queue_name(prefix, self.name, c.routing_key) for c in self.consumes]


@dataclass(frozen=True)
class Suite:
    services: tuple[Service, ...] = field(default_factory=tuple)

    def service(self, name: str) -> Service:
        for service in self.services:
            if name in (service.name, service.short, service.package):
                return service
        raise KeyError(f"no service {name!r} in the suite manifest")

    @property
    def processes(self) -> list[Process]:
        return [p for s in self.services for p in s.processes]

    def process(self, name: str) -> Process:
        for process in self.processes:
            if process.name == name:
                return process
        raise KeyError(f"no process {name!r} in the suite manifest")

    @property
    def with_schema(self) -> list[Service]:
        return [s for s in self.services if s.schema is not None]

    @property
    def publishers(self) -> list[Service]:
        return [s for s in self.services if s.publishes]

    @property
    def consumers(self) -> list[Service]:
        return [s for s in self.services if s.consumes]

    def subscriptions(self) -> list[tuple[str, Consumes]]:
        """(service, subscription) for every queue of the suite, in declaration order."""
        return [(s.name, c) for s in self.services for c in s.consumes]

    def queues(self, prefix: str = "") -> list[str]:
        return [q for s in self.services for q in s.queues(prefix)]


_E = EventType

# The ticket events analytics projects. ``ticket.routing.applied``, ``ticket.assigned`` and
# ``ticket.unassigned`` would only touch a ticket's updated_at: ``ticket.routed`` and
# ``ticket.assignment.applied`` carry what is counted, so they are not delivered to it.
PROJECTED_EVENTS: tuple[EventType, ...] = tuple(
    e for e in _E if e.about_ticket
    and e not in (_E.TICKET_ROUTING_APPLIED, _E.TICKET_ASSIGNED, _E.TICKET_UNASSIGNED))

# The ticket events an outbound webhook subscription may carry (integration-service).
WEBHOOK_EVENTS: tuple[EventType, ...] = (
    _E.TICKET_CREATED, _E.TICKET_UPDATED, _E.TICKET_COMMENTED, _E.TICKET_STATUS_UPDATED,
    _E.TICKET_ROUTING_APPLIED, _E.TICKET_DELETED, _E.TICKET_ASSIGNMENT_APPLIED,
    _E.SLA_WARNING, _E.SLA_BREACHED,
)

SUITE = Suite(services=(
    Service(
        "ticket-service", "ticket_service", "ticket", "TICKET_SERVICE_", 5001,
        schema="ticket_service", commands=("web", "relay", "consumer", "clock"),
        consumes=(
            Consumes(_E.TICKET_ROUTED, "ticket_service.tickets.handlers:handle_tickets_routed"),
            Consumes(_E.TICKET_ASSIGNED,
                     "ticket_service.tickets.assignment:handle_tickets_assignment"),
            Consumes(_E.TICKET_UNASSIGNED,
                     "ticket_service.tickets.assignment:handle_tickets_assignment"),
        ),
    ),
    Service(
        "ai-categorization-service", "ai_categorization_service", "ai", "AI_SERVICE_", 5002,
        schema="ai_categorization", commands=("web", "relay", "consumer"),
        consumes=(
            Consumes(_E.TICKET_CREATED,
                     "ai_categorization_service.handlers:handle_tickets_created"),
            # Corrections come from people only: manual routings and reroutes.
            Consumes(_E.TICKET_ROUTED, "ai_categorization_service.handlers:handle_tickets_routed",
                     keys=(MANUAL_ROUTED_KEY,)),
            Consumes(_E.DEPARTMENT_CHANGED,
                     "ai_categorization_service.handlers:handle_departments_changed"),
            Consumes(_E.REQUESTER_ERASED,
                     "ai_categorization_service.erasure:handle_requesters_erased"),
        ),
    ),
    Service(
        "routing-service", "routing_service", "routing", "ROUTING_SERVICE_", 5003,
        schema="routing", commands=("web", "relay", "consumer"),
        consumes=(
            Consumes(_E.TICKET_CREATED, "routing_service.handlers:handle_tickets_created"),
            Consumes(_E.TICKET_CATEGORIZED, "routing_service.handlers:handle_tickets_categorized"),
            Consumes(_E.TICKET_STATUS_UPDATED,
                     "routing_service.handlers:handle_tickets_status_updated"),
            Consumes(_E.TICKET_DELETED, "routing_service.handlers:handle_tickets_deleted"),
            Consumes(_E.REQUESTER_ERASED, "routing_service.erasure:handle_requesters_erased"),
            Consumes(_E.TICKET_UPDATED, "routing_service.handlers:handle_tickets_updated"),
        ),
    ),
    Service(
        "analytics-service", "analytics_service", "analytics", "ANALYTICS_SERVICE_", 5004,
        schema="analytics", commands=("web", "consumer"),
        consumes=tuple(Consumes(e, "analytics_service.projection:handle_events")
                       for e in PROJECTED_EVENTS) + (
            Consumes(_E.REQUESTER_ERASED, "analytics_service.erasure:handle_requesters_erased"),
            Consumes(_E.SLA_WARNING, "analytics_service.sla:handle_sla_events"),
            Consumes(_E.SLA_BREACHED, "analytics_service.sla:handle_sla_events"),
        ),
    ),
    Service("api-gateway", "api_gateway", "gateway", "GATEWAY_", 5000),
    # Pull ingestion and webhooks: "worker" runs ingestion jobs and sends webhook deliveries,
    # so a slow receiver never holds the consumer. Tickets are written by ticket-service only.
    Service(
        "integration-service", "integration_service", "integration", "INTEGRATION_SERVICE_",
        5005, schema="integration", commands=("web", "consumer", "worker"),
        consumes=(*(Consumes(e, "integration_service.handlers:handle_ticket_events")
                    for e in WEBHOOK_EVENTS),
                  Consumes(_E.REQUESTER_ERASED,
                           "integration_service.erasure:handle_requesters_erased")),
    ),
))

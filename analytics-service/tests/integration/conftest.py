"""Fixtures of the analytics integration tests: a migrated throwaway schema and event builders."""
from datetime import datetime, timedelta

import pytest

from analytics_service.config import Settings
from analytics_service.persistence import AnalyticsUnitOfWork
from analytics_service.projection import handle_events
from support_shared.db import migrate
from support_shared.events import (
    Envelope,
    EventType,
    TicketCategorized,
    TicketCreated,
    TicketRouted,
    TicketStatusUpdated,
    new_event,
)
from support_shared.service import engine_for


@pytest.fixture
def settings(make_settings) -> Settings:
    return make_settings(Settings, schema="analytics")


@pytest.fixture
def engine(settings):
    eng = engine_for(settings)
    migrate(eng, settings.db_schema, "analytics_service")
    yield eng
    eng.dispose()


@pytest.fixture
def feed(engine):
    """Apply envelopes through the real handler one by one (batches of one); which were new."""

    def apply(*envelopes: Envelope) -> list[bool]:
        return [handle_events([e], uow=AnalyticsUnitOfWork(engine)) == 1 for e in envelopes]

    return apply


class Events:
    """Builders of the four events of one ticket, timed relative to its creation."""

    def __init__(self, ticket_id: int, created_at: datetime, tenant: str = "acme") -> None:
        self.ticket_id = ticket_id
        self.created_at = created_at
        self.tenant = tenant

    def _new(self, event_type, payload, version: int, seconds: float) -> Envelope:
        return new_event(event_type, payload, tenant_id=self.tenant, ticket_id=self.ticket_id,
                         ticket_version=version,
                         occurred_at=self.created_at + timedelta(seconds=seconds))

    def created(self, priority: str = "medium") -> Envelope:
        payload = TicketCreated(title="Printer jam", description="It jams", user_name="Ann",
                                user_email="ann@example.com", priority=priority,
                                created_at=self.created_at)
        return self._new(EventType.TICKET_CREATED, payload, 1, 0)

    def categorized(self, seconds: float, priority: str, confidence: float, method: str) -> Envelope:
        payload = TicketCategorized(department="IT Support", priority=priority,
                                    confidence=confidence, method=method, model_version="m-1")
        return self._new(EventType.TICKET_CATEGORIZED, payload, 1, seconds)

    def routed(self, seconds: float, department: str, confidence: float | None,
               needs_review: bool = False, version: int = 1) -> Envelope:
        payload = TicketRouted(department=department, confidence=confidence, method="auto",
                               needs_review=needs_review, routing_version=version)
        return self._new(EventType.TICKET_ROUTED, payload, 2, seconds)

    def status(self, seconds: float, old: str, new: str, version: int) -> Envelope:
        payload = TicketStatusUpdated(old_status=old, new_status=new)
        return self._new(EventType.TICKET_STATUS_UPDATED, payload, version, seconds)


@pytest.fixture
def events():
    def factory(ticket_id: int, created_at: datetime, tenant: str = "acme") -> Events:
        return Events(ticket_id, created_at, tenant)

    return factory


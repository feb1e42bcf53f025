"""The events routing-service consumes, as the unit tests build them."""
from datetime import datetime, timezone

from support_shared.events import EventType, TicketCategorized, TicketCreated, new_event

CREATED_AT = datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def created(ticket_id=1, tenant="default", version=1):
    payload = TicketCreated(title="Laptop broken", description="screen dead", user_name="Ann",
                            user_email="ann@example.com", priority="high", created_at=CREATED_AT)
    return new_event(EventType.TICKET_CREATED, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=version, correlation_id="req-created")


def categorized(ticket_id=1, department="IT Support", confidence=0.9, tenant="default",
                version=1):
    payload = TicketCategorized(department=department, priority="high", confidence=confidence,
                                method="claude", ticket_created_at=CREATED_AT)
    return new_event(EventType.TICKET_CATEGORIZED, payload, tenant_id=tenant,
                     ticket_id=ticket_id, ticket_version=version, correlation_id="req-cat")

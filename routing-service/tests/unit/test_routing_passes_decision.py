"""An automatic routing passes the AI's decision on to ticket-service; a person's does not."""
from routing_service.handlers import handle_tickets_categorized, handle_tickets_created, route_ticket
from support_shared.events import EventType, TicketCategorized, new_event

from routing_service.testing import CREATED_AT, created


def _categorized():
    payload = TicketCategorized(department="IT Support", priority="critical", confidence=0.9,
                                method="local_model", model_version="v7", urgency=0.95,
                                sentiment="negative", requires_action=True, fallback=True,
                                ticket_created_at=CREATED_AT)
    return new_event(EventType.TICKET_CATEGORIZED, payload, tenant_id="default", ticket_id=1,
                     ticket_version=1)


def test_auto_routing_carries_the_decision_and_manual_routing_does_not(uow):
    handle_tickets_created([created()], uow=uow)
    handle_tickets_categorized([_categorized()], uow=uow)
    route_ticket("default", 1, "HR", "reroute", uow=uow)
    auto, manual = [e.payload() for e in uow.outbox.events
                    if e.event_type == EventType.TICKET_ROUTED]
    assert (auto.priority, auto.model_version, auto.urgency, auto.sentiment,
            auto.requires_action, auto.fallback) == ("critical", "v7", 0.95, "negative", True,
                                                     True)
    assert manual.method == "reroute"
    assert (manual.model_version, manual.sentiment, manual.requires_action, manual.fallback) == (
        None, None, None, False)

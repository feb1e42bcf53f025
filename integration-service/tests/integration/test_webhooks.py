"""Outbound webhooks against a local receiver: events into deliveries (set-based, inbox),
signed POSTs, retries with backoff and the same delivery id, timeouts, disabling, redelivery,
and the documented verifier refusing tampered and replayed deliveries."""
from __future__ import annotations

import json
import logging
import threading
import time
from datetime import datetime, timedelta, timezone

import sqlalchemy as sa

import pytest

from integration_service import signing
from integration_service.handlers import handle_ticket_events
from integration_service.worker import Worker
from support_shared.events import EventType, TicketCreated, new_event

pytestmark = pytest.mark.integration
logger = logging.getLogger(__name__)
TENANT = "acme"
H = {"X-Tenant-ID": TENANT}


def created(ticket_id: int, tenant: str = TENANT):
    payload = TicketCreated(title="Printer", description="Jammed", user_name="Ann",
                            user_email="ann@example.com", priority="high",
                            created_at=datetime.now(timezone.utc))
    return new_event(EventType.TICKET_CREATED, payload, tenant_id=tenant, ticket_id=ticket_id,
                     ticket_version=1)


def subscribe(client, url, events=("ticket.created",), tenant=TENANT):
    resp = client.post("/api/webhooks", json={"url": url, "event_types": list(events)},
                       headers={"X-Tenant-ID": tenant})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


@pytest.fixture
def worker(settings, engine):
    made = Worker(settings, engine)
    yield made
    made.sender.close()


def deliver_until(worker, done, timeout=30.0):
    """Run the delivery loop (real clock) until ``done()``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not done():
        if not worker.sender.run_once():
            time.sleep(0.02)
    assert done(), "deliveries did not finish in time"


def test_matching_events_become_one_delivery_per_subscription_and_duplicates_are_dropped(
        client, uow, receiver):
    hook = subscribe(client, receiver().url)
    subscribe(client, receiver().url, events=("ticket.deleted",))
    subscribe(client, receiver().url, tenant="other")
    one, two = created(1), created(2)
    assert handle_ticket_events([one, two, one], uow=uow()) == 2
    assert handle_ticket_events([one], uow=uow()) == 0           # redelivered: inbox
    deliveries = client.get(f"/api/webhooks/{hook['id']}/deliveries", headers=H).get_json()
    assert [d["status"] for d in deliveries["deliveries"]] == ["pending", "pending"]


def test_an_event_nobody_wants_writes_nothing(client, uow, receiver):
    lonely = created(3)
    assert handle_ticket_events([lonely], uow=uow()) == 0         # no subscription at all
    subscribe(client, receiver().url, events=("ticket.deleted",))
    assert handle_ticket_events([lonely], uow=uow()) == 0         # not this event type
    # Neither call claimed the inbox: a subscription made since takes the event's redelivery.
    subscribe(client, receiver().url)
    assert handle_ticket_events([lonely], uow=uow()) == 1
    assert handle_ticket_events([lonely], uow=uow()) == 0         # now the inbox has it


def test_500_then_200_retries_with_the_same_delivery_id_and_a_valid_signature(
        client, uow, receiver, worker):
    rx = receiver([500, 500, 500, 200])
    hook = subscribe(client, rx.url)
    handle_ticket_events([created(7)], uow=uow())
    deliver_until(worker, lambda: len(rx.received) >= 4)
    ids = {r.headers["X-Webhook-Id"] for r in rx.received}
    assert len(ids) == 1
    for r in rx.received:
        signing.verify(hook["secret"], r.headers["X-Webhook-Signature"], r.body)
        assert json.loads(r.body)["id"] in ids
    gaps = [round(b.at - a.at, 2) for a, b in zip(rx.received, rx.received[1:])]
    # base 0.2 s, doubling, cap 1 s: 0.2, 0.4, 0.8 (plus the poll and send time)
    for gap, wanted in zip(gaps, (0.2, 0.4, 0.8)):
        assert wanted <= gap < wanted + 1.5, gaps
    logger.warning("measured retry gaps (base 0.2 s, cap 1 s): %s", gaps)
    deliveries = client.get(f"/api/webhooks/{hook['id']}/deliveries", headers=H).get_json()
    only = deliveries["deliveries"][0]
    assert (only["status"], only["attempts"], only["last_status_code"]) == ("succeeded", 4, 200)


def test_the_retry_schedule_doubles_up_to_its_cap_and_gives_up_after_the_attempts(
        client, uow, receiver, worker):
    rx = receiver([500] * 10)
    hook = subscribe(client, rx.url)
    handle_ticket_events([created(8)], uow=uow())
    deliver_until(worker, lambda: len(rx.received) >= 6, timeout=40)
    gaps = [round(b.at - a.at, 2) for a, b in zip(rx.received, rx.received[1:])]
    logger.warning("measured retry gaps to the cap (base 0.2 s, cap 1 s, 6 attempts): %s", gaps)
    assert gaps[3] >= 1.0 and gaps[4] >= 1.0 and all(g < 2.5 for g in gaps)
    only = client.get(f"/api/webhooks/{hook['id']}/deliveries",
                      headers=H).get_json()["deliveries"][0]
    assert (only["status"], only["attempts"], only["last_status_code"]) == ("failed", 6, 500)


def test_a_receiver_that_times_out_is_retried_and_does_not_hold_other_deliveries(
        client, uow, receiver, worker):
    slow, fast = receiver(["timeout", 200], slow_s=3.0), receiver()
    slow_hook = subscribe(client, slow.url)
    subscribe(client, fast.url)
    handle_ticket_events([created(9)], uow=uow())
    started = time.monotonic()
    thread = threading.Thread(target=worker.sender.run_once)
    thread.start()
    fast.wait_for(1, timeout=10)
    assert fast.received[0].at - started < 1.0         # not behind the slow receiver
    thread.join(10)
    deliver_until(worker, lambda: len(slow.received) >= 2)
    first = client.get(f"/api/webhooks/{slow_hook['id']}/deliveries",
                       headers=H).get_json()["deliveries"][0]
    assert first["attempts"] == 2


def test_the_verifier_refuses_a_tampered_body_and_a_replayed_old_delivery(
        client, uow, receiver, worker):
    rx = receiver()
    hook = subscribe(client, rx.url)
    handle_ticket_events([created(10)], uow=uow())
    deliver_until(worker, lambda: len(rx.received) >= 1)
    got = rx.received[0]
    header = got.headers["X-Webhook-Signature"]
    signing.verify(hook["secret"], header, got.body)
    with pytest.raises(signing.SignatureError):
        signing.verify(hook["secret"], header, got.body.replace(b"Printer", b"Pwned"))
    with pytest.raises(signing.SignatureError):     # the same delivery replayed 6 minutes later
        signing.verify(hook["secret"], header, got.body, now=time.time() + 360)


def test_a_subscription_failing_for_a_day_is_disabled_and_says_why(
        client, uow, receiver, settings, engine, clock):
    rx = receiver([500] * 5)
    hook = subscribe(client, rx.url)
    handle_ticket_events([created(11)], uow=uow())
    worker = Worker(settings, engine, clock=clock)
    try:
        clock.advance(1)
        worker.sender.run_once()
        clock.advance(86_400)
        with uow() as work:     # make the retry due at the moved clock
            work.deliveries.conn.execute(
                sa.text("UPDATE deliveries SET next_attempt_at = :t"),
                {"t": clock() - timedelta(seconds=1)})
            work.commit()
        worker.sender.run_once()
    finally:
        worker.sender.close()
    now = client.get(f"/api/webhooks/{hook['id']}", headers=H).get_json()
    assert now["active"] is False and "no delivery succeeded since" in now["disabled_reason"]
    enabled = client.patch(f"/api/webhooks/{hook['id']}", json={"active": True},
                           headers=H).get_json()
    assert enabled["active"] and enabled["disabled_reason"] is None


def test_a_delivery_can_be_redelivered_with_the_same_id(client, uow, receiver, worker):
    rx = receiver()
    hook = subscribe(client, rx.url)
    handle_ticket_events([created(12)], uow=uow())
    deliver_until(worker, lambda: len(rx.received) >= 1)
    delivery = client.get(f"/api/webhooks/{hook['id']}/deliveries",
                          headers=H).get_json()["deliveries"][0]
    resp = client.post(f"/api/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver",
                       headers=H)
    assert resp.status_code == 202
    deliver_until(worker, lambda: len(rx.received) >= 2)
    assert rx.received[1].headers["X-Webhook-Id"] == delivery["id"]

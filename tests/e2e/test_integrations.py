"""integration-service through the gateway: outbound webhooks for real ticket events, scopes,
and (once ticket-service has the batch upsert) pull ingestion and inbound webhooks creating
real tickets."""
from __future__ import annotations

import json
import time

import pytest

from integration_service import signing
from integration_service.testing import FakeHelpdesk, WebhookReceiver
from integration_service.testing.helpdesk import ticket
from support_shared.testing.helpers import wait_until
from tests.conftest import ApiClient, RunningSuite

pytestmark = pytest.mark.e2e
SECRET = "e2e-inbound-secret-0123456789"


@pytest.fixture
def admin(running: RunningSuite) -> ApiClient:
    return running.tenant("read,write,admin")


@pytest.fixture
def helpdesk():
    desk = FakeHelpdesk([ticket(n) for n in range(1, 6)], page_size=2)
    yield desk
    desk.close()


def test_a_ticket_event_reaches_a_subscribed_receiver_signed(running, admin):
    receiver = WebhookReceiver()
    try:
        made = admin.post("/api/webhooks", json={"url": receiver.url,
                                                 "event_types": ["ticket.created"]})
        assert made.status_code == 201, made.text
        hook = made.json()
        created = admin.post("/api/tickets", json={
            "title": "Webhook me", "description": "please", "user_name": "Ann",
            "user_email": "ann@example.com"}).json()
        (got, *_) = receiver.wait_for(1, timeout=60)
        signing.verify(hook["secret"], got.headers["X-Webhook-Signature"], got.body)
        body = json.loads(got.body)
        assert (body["type"], body["ticket_id"], body["tenant_id"]) == (
            "ticket.created", created["id"], admin.tenant_id)
        deliveries = wait_until(lambda: [d for d in admin.get(
            f"/api/webhooks/{hook['id']}/deliveries").json()["deliveries"]
            if d["status"] == "succeeded"], timeout=30, message="delivery recorded")
        assert deliveries[0]["id"] == got.headers["X-Webhook-Id"]
    finally:
        receiver.close()


def test_configuration_writes_need_the_admin_scope(running, admin):
    writer = running.tenant("read,write", tenant_id=admin.tenant_id)
    hook = {"url": "https://example.com/hook", "event_types": ["ticket.created"]}
    assert writer.post("/api/webhooks", json=hook).status_code == 403
    assert writer.post("/api/sources", json={"name": "x", "kind": "zendesk",
                                             "base_url": "https://example.com"}).status_code == 403
    assert writer.get("/api/webhooks").status_code == 200
    assert running.anonymous().get("/api/sources").status_code == 401


def test_pull_ingestion_creates_tickets_once_through_the_batch_upsert(
        running, admin, helpdesk):
    made = admin.post("/api/sources", json={"name": "zd", "kind": "zendesk",
                                            "base_url": helpdesk.url, "webhook_secret": SECRET})
    assert made.status_code == 201, made.text
    for expected in ({"created": 5, "updated": 0, "unchanged": 0, "failed": 0},
                     {"created": 0, "updated": 0, "unchanged": 0, "failed": 0}):
        job = admin.post("/api/ingestions", json={"source": "zd"}).json()
        done = wait_until(lambda: (lambda j: j if j["status"] not in ("queued", "running")
                                   else None)(admin.get(f"/api/ingestions/{job['id']}").json()),
                          timeout=90, interval=0.3, message="ingestion finished")
        assert done["status"] == "succeeded", done
        assert done["counts"] == expected
    titles = {t["title"] for t in admin.get("/api/tickets?limit=50").json()["tickets"]}
    assert {f"Ticket {n}" for n in range(1, 6)} <= titles

    raw = json.dumps(ticket(77, subject="Arrived by webhook")).encode()
    resp = admin.post("/api/webhooks/inbound/zd", data=raw, headers={
        "Content-Type": "application/json",
        signing.SIGNATURE_HEADER: signing.sign(SECRET, raw, int(time.time()))})
    assert resp.status_code == 202, resp.text
    wait_until(lambda: any(t["title"] == "Arrived by webhook" for t in admin.get(
        "/api/tickets?limit=50").json()["tickets"]), timeout=60, interval=0.3,
        message="inbound webhook ticket")

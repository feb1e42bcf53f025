"""The AI's decision on the ticket through the gateway: the ticket's AI fields, the list
filters, the stored categorization, the tenant's ai_priority setting, Prefer: wait, and the
fallback status with a Claude that does not answer usefully."""
from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from support_shared.testing.fake_anthropic import FakeAnthropic, text
from support_shared.testing.helpers import wait_until

from ..conftest import ApiClient, RunningSuite, start_suite

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("settle")]

ANGRY = {"title": "Laptop broken again", "description": "This is unacceptable, I am "
         "frustrated: my laptop crashed and will not start. Please fix it.",
         "user_name": "Ann", "user_email": "ann@example.com", "priority": "low"}
THANKS = {"title": "Thanks for the new monitor", "description": "Thank you, works now, great "
          "job. Just FYI, you can close this.", "user_name": "Bo", "user_email": "bo@example.com",
          "priority": "low"}
WAIT_S = 10


def _create(client: ApiClient, body: dict, wait: int | None = WAIT_S, **headers: str):
    if wait is not None:
        headers["Prefer"] = f"wait={wait}"
    return client.post("/api/tickets", json=body, headers=headers, timeout=30)


def _decided(client: ApiClient, ticket_id: int) -> dict | None:
    ticket = client.get(f"/api/tickets/{ticket_id}").json()
    return ticket if ticket["ai_status"] != "pending" else None


def test_prefer_wait_answers_the_routed_ticket_with_the_ai_decision(running):
    client = running.tenant()
    resp = _create(client, ANGRY)
    assert resp.status_code == 201, resp.text
    assert resp.headers["Preference-Applied"] == f"wait={WAIT_S}"
    ticket = resp.json()
    assert ticket["department"] is not None
    assert resp.headers["ETag"] == f'"{ticket["version"]}"' and ticket["version"] == 2
    assert ticket["ai_status"] in ("categorized", "needs_review")
    assert ticket["requested_priority"] == "low"
    ai = ticket["ai"]
    assert ai["method"] in ("local_model", "keywords") and ai["priority"] == "high"
    assert 0 <= ai["confidence"] <= 1 and 0 <= ai["urgency"] <= 1
    assert ai["priority_applied"] is False and ticket["priority"] == "low"   # suggest
    assert (ticket["sentiment"], ticket["requires_action"]) == ("negative", True)
    assert client.get(f"/api/tickets/{ticket['id']}").json() == ticket


def test_without_prefer_or_with_wait_0_the_create_answers_the_pending_ticket(running):
    client = running.tenant()
    for wait in (None, 0):
        resp = _create(client, ANGRY, wait=wait)
        assert resp.status_code == 201
        assert "Preference-Applied" not in resp.headers
        ticket = resp.json()
        assert ticket["department"] is None and ticket["ai_status"] == "pending"
        assert ticket["ai"] is None and ticket["sentiment"] is None
        wait_until(lambda: _decided(client, ticket["id"]), timeout=30, message="decided")


def test_prefer_wait_keeps_idempotency(running):
    client = running.tenant()
    key = uuid.uuid4().hex
    first = _create(client, ANGRY, wait=0, **{"Idempotency-Key": key})
    again = _create(client, ANGRY, **{"Idempotency-Key": key})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.headers["Preference-Applied"] == f"wait={WAIT_S}"
    assert again.json()["id"] == first.json()["id"] and again.json()["department"] is not None
    other = _create(client, THANKS, **{"Idempotency-Key": key})
    assert other.status_code == 422


def test_list_filters_ai_status_sentiment_and_requires_action(running):
    client = running.tenant()
    angry = _create(client, ANGRY).json()
    thanks = _create(client, THANKS).json()
    pending = _create(client, ANGRY, wait=None).json()

    def ids(query: str) -> list[int]:
        resp = client.get(f"/api/tickets?{query}")
        assert resp.status_code == 200, resp.text
        return [t["id"] for t in resp.json()["tickets"]]

    assert (thanks["sentiment"], thanks["requires_action"]) == ("positive", False)
    assert ids("sentiment=negative") == [pending["id"], angry["id"]] or \
        ids("sentiment=negative") == [angry["id"]]      # the last may be decided by now
    assert ids("requires_action=false") == [thanks["id"]]
    assert ids("sentiment=positive&requires_action=false") == [thanks["id"]]
    decided = {angry["id"]: angry["ai_status"], thanks["id"]: thanks["ai_status"]}
    for status in ("categorized", "needs_review"):
        assert set(ids(f"ai_status={status}")) - {pending["id"]} == {
            i for i, s in decided.items() if s == status}
    assert ids("ai_status=fallback") == []
    for bad in ("ai_status=maybe", "sentiment=angry", "requires_action=perhaps"):
        resp = client.get(f"/api/tickets?{bad}")
        assert resp.status_code == 400 and resp.json()["error"]["code"] == "validation_error"


def test_the_categorization_is_readable_through_the_gateway_for_its_tenant_only(running):
    client = running.tenant()
    ticket = _create(client, ANGRY).json()
    path = f"/api/tickets/{ticket['id']}/categorization"
    stored = wait_until(lambda: (r := client.get(path)).status_code == 200 and r.json(),
                        timeout=10, message="categorization stored")
    assert stored["ticket_id"] == ticket["id"]
    assert (stored["priority"], stored["method"], stored["confidence"]) == (
        ticket["ai"]["priority"], ticket["ai"]["method"], ticket["ai"]["confidence"])
    assert stored["requested_priority"] == "low"
    assert running.tenant().get(path).status_code == 404
    assert client.get("/api/tickets/999999999/categorization").status_code == 404
    assert running.anonymous().get(path).status_code == 401


def test_analytics_counts_the_priority_the_ticket_shows_as_the_ai_s(running):
    client = running.tenant()
    ticket = _create(client, ANGRY).json()
    ai_priority = ticket["ai"]["priority"]

    def counted():
        figures = client.get("/api/analytics/tickets").json()
        return figures["by_priority"][ai_priority] == 1 and figures

    wait_until(counted, timeout=20, message="analytics counts the AI's priority")


def test_the_tenant_s_ai_priority_setting(running):
    tenant = running.tenant("read,write")
    admin = running.tenant("read,write,admin", tenant_id=tenant.tenant_id)
    assert tenant.get("/api/settings").json() == {"ai_priority": "suggest"}
    refused = tenant.put("/api/settings", json={"ai_priority": "apply"})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
    for bad in ({"ai_priority": "always"}, {"other": 1}):
        assert admin.put("/api/settings", json=bad).status_code == 400
    resp = admin.put("/api/settings", json={"ai_priority": "apply"})
    assert resp.status_code == 200 and resp.json() == {"ai_priority": "apply"}
    assert tenant.get("/api/settings").json() == {"ai_priority": "apply"}
    assert running.tenant().get("/api/settings").json() == {"ai_priority": "suggest"}

    ticket = _create(tenant, ANGRY).json()
    assert ticket["ai"]["priority_applied"] is True
    assert ticket["priority"] == ticket["ai"]["priority"] == "high"
    assert ticket["requested_priority"] == "low" and ticket["version"] == 2
    history = tenant.get(f"/api/tickets/{ticket['id']}/history").json()
    assert [e["action"] for e in history["history"]] == ["created", "routed"]


@pytest.fixture(scope="module")
def unhelpful_claude(tmp_path_factory, database_url,
                     rabbitmq_url) -> Iterator[RunningSuite]:
    """A suite of its own whose Claude answers without the tool: every ticket falls back."""
    fake = FakeAnthropic(default=text("I think IT Support."))
    with fake as base_url:
        yield from start_suite(tmp_path_factory.mktemp("fallback"), database_url, rabbitmq_url,
                               ANTHROPIC_API_KEY="test-key",
                               AI_SERVICE_ANTHROPIC_BASE_URL=base_url)


def test_a_fallback_decision_shows_as_fallback(unhelpful_claude):
    client = unhelpful_claude.tenant()
    ticket = _create(client, ANGRY).json()
    assert ticket["department"] is not None
    assert ticket["ai"]["method"] in ("local_model", "keywords")
    assert ticket["ai_status"] in ("fallback", "needs_review")
    if ticket["ai_status"] == "needs_review":           # a person's confirmation ends review
        confirm = client.post(f"/api/tickets/{ticket['id']}/triage", json={"action": "confirm"})
        assert confirm.status_code == 200, confirm.text
        wait_until(lambda: client.get(f"/api/tickets/{ticket['id']}").json()["ai_status"]
                   == "fallback", timeout=10, message="review ended")
    listed = client.get("/api/tickets?ai_status=fallback").json()["tickets"]
    assert [t["id"] for t in listed] == [ticket["id"]]

"""Departments through the gateway: an admin creates one with keywords, the AI service learns it
from department.changed, and a ticket is routed into it by the keyword rules and by (a fake)
Claude; deactivation, tenant isolation, scopes, and triage as an action."""
from __future__ import annotations

import uuid
from typing import Iterator

import pytest

from support_shared.testing.fake_anthropic import FakeAnthropic, tool_use
from support_shared.testing.helpers import wait_until
from tests.conftest import ApiClient, RunningSuite, start_suite

pytestmark = pytest.mark.e2e

LEGAL = {"name": "Legal", "description": "Contracts, NDAs and lawsuits",
         "keywords": ["nda", "non-disclosure agreement"], "min_confidence": 0.5}
NDA_TICKET = {"title": "Please countersign the NDA", "description": "The supplier sent the "
              "NDA back; it needs our signature by Friday.", "user_name": "Dana Kim",
              "user_email": "dana.kim@example.com"}


def _preview(client: ApiClient, method: str | None = None) -> dict | None:
    """The AI's decision for the NDA text, once it is Legal (by ``method`` if given)."""
    body = client.post("/api/categorize", json={"title": NDA_TICKET["title"],
                                                "description": NDA_TICKET["description"]}).json()
    if body.get("department") == "Legal" and method in (None, body.get("method")):
        return body
    return None


def _routed(client: ApiClient, ticket_id: int) -> dict | None:
    ticket = client.get(f"/api/tickets/{ticket_id}").json()
    return ticket if ticket.get("department") else None


@pytest.fixture
def admin(running: RunningSuite) -> ApiClient:
    return running.tenant("read,write,admin")


def test_created_department_routes_a_ticket_through_the_keyword_rules(running, admin):
    writer = running.tenant("read,write", tenant_id=admin.tenant_id)
    refused = writer.post("/api/departments", json=LEGAL)
    assert refused.status_code == 403, refused.text

    resp = admin.post("/api/departments", json=LEGAL, headers={"Idempotency-Key": "legal-1"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["keywords"] == LEGAL["keywords"] and resp.json()["version"] == 1
    assert admin.post("/api/departments", json=LEGAL).status_code == 409
    assert running.tenant().get("/api/departments/Legal").status_code == 404

    wait_until(lambda: _preview(admin, "keywords"), timeout=10, message="AI knows Legal")
    ticket = admin.post("/api/tickets", json=NDA_TICKET).json()
    routed = wait_until(lambda: _routed(admin, ticket["id"]), timeout=10, message="routed")
    assert routed["department"] == "Legal"
    history = admin.get(f"/api/routing/history/{ticket['id']}").json()
    assert history["history"][-1]["categorization_method"] == "keywords"
    assert history["needs_review"] is False

    listed = admin.get("/api/departments?limit=100").json()
    legal = next(d for d in listed["departments"] if d["name"] == "Legal")
    assert legal["ticket_count"] == 1

    off = admin.patch("/api/departments/legal", json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False
    wait_until(lambda: _preview(admin) is None, timeout=10, message="AI forgets Legal")


def test_triage_confirm_and_reroute_clear_review(admin):
    strict = {"name": "Audit", "keywords": ["audit"], "min_confidence": 0.99}
    assert admin.post("/api/departments", json=strict).status_code == 201
    wait_until(lambda: admin.post("/api/categorize", json={
        "title": "Audit", "description": "audit request"}).json()["department"] == "Audit",
        timeout=10, message="AI knows Audit")
    ticket = admin.post("/api/tickets", json={**NDA_TICKET, "title": "Audit request",
                                              "description": "Need the audit files"}).json()
    routed = wait_until(lambda: _routed(admin, ticket["id"]), timeout=10, message="routed")
    assert routed["department"] == "General"                 # below Audit's 0.99: triage
    path = f"/api/routing/history/{ticket['id']}"
    assert admin.get(path).json()["needs_review"] is True

    resp = admin.post(f"/api/tickets/{ticket['id']}/triage",
                      json={"action": "reroute", "department": "Audit"})
    assert resp.status_code == 200, resp.text
    assert (resp.json()["department"], resp.json()["needs_review"]) == ("Audit", False)
    assert admin.get(path).json()["needs_review"] is False
    wait_until(lambda: admin.get(f"/api/tickets/{ticket['id']}").json()["department"] == "Audit",
               timeout=10, message="ticket-service shows the reroute")
    bad = admin.post(f"/api/tickets/{ticket['id']}/triage", json={"action": "maybe"})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "validation_error"


@pytest.fixture(scope="module")
def with_claude(tmp_path_factory, database_url,
                rabbitmq_url) -> Iterator[tuple[RunningSuite, FakeAnthropic]]:
    """A suite of its own whose AI service calls a fake Claude that always answers Legal."""
    fake = FakeAnthropic(default=tool_use({"department": "Legal", "priority": "medium",
                                           "confidence": 0.91, "urgency": 0.4}))
    with fake as base_url:
        for running in start_suite(tmp_path_factory.mktemp("claude"), database_url,
                                   rabbitmq_url, ANTHROPIC_API_KEY="test-key",
                                   AI_SERVICE_ANTHROPIC_BASE_URL=base_url):
            yield running, fake


def test_created_department_routes_a_ticket_through_claude(with_claude):
    running, fake = with_claude
    marker = uuid.uuid4().hex[:8]                         # finds this ticket's Claude request
    assert running.post("/api/departments", json=LEGAL).status_code == 201
    wait_until(lambda: _preview(running, "claude"), timeout=10, message="Claude may pick Legal")
    ticket = running.post("/api/tickets", json={**NDA_TICKET, "title": f"Sign {marker}"}).json()
    routed = wait_until(lambda: _routed(running, ticket["id"]), timeout=10, message="routed")
    assert routed["department"] == "Legal"
    history = running.get(f"/api/routing/history/{ticket['id']}").json()
    assert history["history"][-1]["categorization_method"] == "claude"
    asked = [r for r in fake.requests if f"Sign {marker}" in r.user_text]
    assert asked, "Claude was not asked about the ticket"
    tool = asked[-1].body["tools"][0]["input_schema"]["properties"]["department"]
    assert "Legal" in tool["enum"] and "- Legal: Contracts" in asked[-1].system_text

"""The HTTP API on the real database: preview, stored decisions, errors, health."""
import uuid

import pytest
import sqlalchemy as sa

from ai_categorization_service.categorizer import Decision
from ai_categorization_service.persistence import NewCategorization

pytestmark = pytest.mark.integration

DEPARTMENTS = {"IT Support", "HR", "Facilities", "Finance", "General"}


def _count(engine, table):
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()


def test_preview_categorizes_without_storing_or_publishing(client, engine):
    resp = client.post("/api/categorize", json={
        "title": "Laptop will not boot", "description": "Urgent: my laptop shows a black screen"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert set(body) == {"department", "priority", "confidence", "method", "model_version",
                         "urgency"}
    assert body["department"] in DEPARTMENTS
    assert body["method"] in {"local_model", "keywords"}    # no API key in tests
    assert body["priority"] == "high"
    assert 0 <= body["confidence"] <= 1
    assert resp.headers["X-Request-ID"]
    assert _count(engine, "categorizations") == 0
    assert _count(engine, "outbox") == 0


@pytest.mark.parametrize("kwargs, status, code", [
    ({"json": {"description": "no title"}}, 400, "validation_error"),
    ({"json": {"title": "", "description": "empty title"}}, 400, "validation_error"),
    ({"json": {"title": "t", "description": "d", "department": "HR"}}, 400, "validation_error"),
    ({"json": ["not", "an", "object"]}, 400, "validation_error"),
    ({"data": "{not json", "content_type": "application/json"}, 400, "malformed_json"),
    ({"data": "title=x", "content_type": "text/plain"}, 415, "unsupported_media_type"),
])
def test_preview_rejects_bad_bodies(client, kwargs, status, code):
    resp = client.post("/api/categorize", **kwargs)
    assert resp.status_code == status
    assert resp.get_json()["error"]["code"] == code


def test_missing_title_names_the_field(client):
    resp = client.post("/api/categorize", json={"description": "no title"})
    assert resp.get_json()["error"]["details"][0]["field"] == "title"


def test_stored_decision_is_returned_to_its_tenant_only(client, make_uow):
    decision = Decision(department="Finance", priority="high", confidence=0.9, method="claude",
                        model_version="claude-x", urgency=0.7, input_tokens=300,
                        output_tokens=20, latency_ms=640.0)
    event_id = uuid.uuid4()
    with make_uow() as uow:
        uow.categorizations.add_many([NewCategorization("acme", 42, event_id, decision,
                                                        "medium")])
        uow.commit()
    resp = client.get("/api/categorizations/42", headers={"X-Tenant-ID": "acme"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["ticket_id"] == 42 and body["department"] == "Finance"
    assert body["method"] == "claude" and body["requested_priority"] == "medium"
    assert (body["input_tokens"], body["output_tokens"]) == (300, 20)
    assert body["source_event_id"] == str(event_id)
    assert body["created_at"].endswith("+00:00")
    assert client.get("/api/categorizations/42").status_code == 404          # tenant default
    assert client.get("/api/categorizations/42",
                      headers={"X-Tenant-ID": "globex"}).status_code == 404


@pytest.mark.parametrize("path", [
    "/api/categorizations/999", "/api/categorizations/abc", "/api/categorizations/0",
    f"/api/categorizations/{2**70}",
])
def test_unknown_ticket_is_404_json(client, path):
    resp = client.get(path)
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"


def test_health(client):
    resp = client.get("/health")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "healthy"
    assert body["checks"] == {"database": "ok", "rabbitmq": "ok"}

"""The bulk routes through the gateway: a large batch body, and an export relayed as it streams."""
import json
import threading

from flask import Response

from ..conftest import READ_KEY, bearer


def test_a_batch_body_over_64_kib_reaches_ticket_service_unchanged(services, client):
    body = json.dumps({"tickets": [{"description": "x" * 1000}] * 1000}).encode()
    resp = client.post("/api/tickets/batch", data=body,
                       headers={"Content-Type": "application/json"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    [call] = services["ticket-service"].calls_to("/api/tickets/batch")
    assert call.body == body


def test_other_routes_keep_the_64_kib_limit(services, client):
    resp = client.post("/api/tickets", data=b"{" + b" " * 70_000 + b"}",
                       headers={"Content-Type": "application/json"})
    assert resp.status_code == 413
    assert not services["ticket-service"].calls


def test_the_batch_needs_the_write_scope(services, client):
    resp = client.post("/api/tickets/batch", json={"tickets": []}, headers=bearer(READ_KEY))
    assert resp.status_code == 403


def test_the_export_is_relayed_while_ticket_service_still_writes(services, client):
    more = threading.Event()

    def reply(_req):
        def body():
            yield b'{"first": 1}\n'
            more.wait(10)
            yield b'{"second": 2}\n'
        return Response(body(), mimetype="application/x-ndjson")

    services["ticket-service"].replies[("GET", "/api/tickets/export")] = reply
    resp = client.get("/api/tickets/export?format=jsonl&updated_since=2026-01-01T00:00:00Z",
                      buffered=False)
    try:
        assert resp.status_code == 200
        assert resp.mimetype == "application/x-ndjson"
        chunks = resp.iter_encoded()
        assert next(chunks) == b'{"first": 1}\n'   # before ticket-service finished
        more.set()
        assert b"".join(chunks) == b'{"second": 2}\n'
    finally:
        more.set()
        resp.close()
    [call] = services["ticket-service"].calls_to("/api/tickets/export")
    assert call.query == "format=jsonl&updated_since=2026-01-01T00:00:00Z"

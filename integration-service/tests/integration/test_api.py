"""The HTTP API on real PostgreSQL: sources (credentials encrypted, never returned), jobs,
409 on a second start, tenant isolation, private targets, inbound webhook signatures."""
from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa

from integration_service import signing

pytestmark = pytest.mark.integration
H = {"X-Tenant-ID": "acme"}
SECRET = "inbound-secret-0123456789"


def test_credentials_are_stored_encrypted_and_never_returned(client, add_source, helpdesk,
                                                             engine, settings):
    body = add_source("zd", helpdesk.url, credentials={"type": "bearer", "token": "tok-SECRET"},
                      webhook_secret=SECRET)
    assert body["has_credentials"] and body["has_webhook_secret"]
    for resp in (client.get("/api/sources/zd", headers=H), client.get("/api/sources", headers=H),
                 client.patch("/api/sources/zd", json={"schedule_minutes": 5}, headers=H)):
        assert resp.status_code == 200
        assert b"tok-SECRET" not in resp.data and SECRET.encode() not in resp.data
    with engine.connect() as conn:
        raw = conn.execute(sa.text(f'SELECT secrets, config::text FROM "{settings.db_schema}"'
                                   '.sources')).one()
    assert b"tok-SECRET" not in bytes(raw[0]) and "tok-SECRET" not in raw[1]


def test_source_validation_duplicates_and_tenant_isolation(client, add_source, helpdesk):
    add_source("zd", helpdesk.url)
    again = client.post("/api/sources", json={"name": "zd", "kind": "zendesk",
                                              "base_url": helpdesk.url}, headers=H)
    assert again.status_code == 409
    bad = client.post("/api/sources", json={"name": "Bad Name", "kind": "zendesk",
                                            "base_url": helpdesk.url}, headers=H)
    assert bad.status_code == 400
    unknown = client.post("/api/sources", json={"name": "x", "kind": "zendesk",
                                                "base_url": helpdesk.url,
                                                "field_map": {"assignee": "a"}}, headers=H)
    assert unknown.status_code == 400
    other = {"X-Tenant-ID": "other"}
    assert client.get("/api/sources/zd", headers=other).status_code == 404
    assert client.post("/api/ingestions", json={"source": "zd"}, headers=other).status_code == 404


def test_private_targets_are_refused_unless_allow_listed(make_settings, engine, tickets):
    from integration_service.app import create_app
    from integration_service.config import Settings
    from integration_service.crypto import new_key
    from support_shared.testing.clients import trusted

    strict = make_settings(Settings, schema="integration_strict", credentials_key=new_key(),
                           internal_token=tickets.token)
    app = trusted(create_app(strict))
    from support_shared.db import migrate
    migrate(app.extensions["support_shared.dependencies"].engine, strict.db_schema,
            "integration_service")
    client = app.test_client()
    for url in ("http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "http://10.0.0.1/"):
        resp = client.post("/api/webhooks", json={"url": url, "event_types": ["ticket.created"]},
                           headers=H)
        assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "target_refused"
        resp = client.post("/api/sources", json={"name": "s", "kind": "zendesk", "base_url": url},
                           headers=H)
        assert resp.status_code == 422


def test_a_second_start_is_409_and_a_job_has_status_logs_and_cancel(client, add_source,
                                                                     helpdesk):
    add_source("zd", helpdesk.url)
    first = client.post("/api/ingestions", json={"source": "zd"}, headers=H)
    assert first.status_code == 202
    job = first.get_json()
    assert job["status"] == "queued" and job["counts"]["created"] == 0
    second = client.post("/api/ingestions", json={"source": "zd"}, headers=H)
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "ingestion_running"
    assert client.get(f"/api/ingestions/{job['id']}", headers=H).get_json()["id"] == job["id"]
    logs = client.get(f"/api/ingestions/{job['id']}/logs", headers=H).get_json()
    assert logs["logs"][0]["message"] == "queued (api)"
    cancelled = client.post(f"/api/ingestions/{job['id']}/cancel", headers=H).get_json()
    assert cancelled["status"] == "cancelled"
    assert client.post("/api/ingestions", json={"source": "zd"}, headers=H).status_code == 202
    other = {"X-Tenant-ID": "other"}
    assert client.get(f"/api/ingestions/{job['id']}", headers=other).status_code == 404
    assert client.get("/api/ingestions/not-a-uuid", headers=H).status_code == 404


def test_webhook_subscriptions_crud_and_pagination(client, receiver):
    url = receiver().url
    made = [client.post("/api/webhooks", json={"url": url, "event_types": ["ticket.created"]},
                        headers=H).get_json() for _ in range(3)]
    assert all(m["secret"].startswith("whsec_") for m in made)
    page = client.get("/api/webhooks?limit=2", headers=H).get_json()
    assert len(page["webhooks"]) == 2 and page["next_cursor"]
    rest = client.get(f"/api/webhooks?limit=2&cursor={page['next_cursor']}", headers=H).get_json()
    assert [w["id"] for w in page["webhooks"] + rest["webhooks"]] == [m["id"] for m in made]
    assert "secret" not in page["webhooks"][0]
    patched = client.patch(f"/api/webhooks/{made[0]['id']}",
                           json={"event_types": ["ticket.deleted"], "active": False}, headers=H)
    assert patched.get_json()["event_types"] == ["ticket.deleted"]
    bad = client.post("/api/webhooks", json={"url": url, "event_types": ["ticket.nope"]},
                      headers=H)
    assert bad.status_code == 400
    assert client.delete(f"/api/webhooks/{made[0]['id']}", headers=H).status_code == 204
    assert client.get(f"/api/webhooks/{made[0]['id']}", headers=H).status_code == 404
    assert client.get(f"/api/webhooks/{made[1]['id']}",
                      headers={"X-Tenant-ID": "other"}).status_code == 404


def inbound(client, raw: bytes, header: str, source: str = "zd"):
    return client.post(f"/api/webhooks/inbound/{source}", data=raw, headers={
        **H, "Content-Type": "application/json", signing.SIGNATURE_HEADER: header})


def count_inbound(engine, settings) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f'SELECT count(*) FROM "{settings.db_schema}"'
                                    '.inbound_events')).scalar()


def test_inbound_webhooks_need_a_fresh_valid_signature_and_are_upserted_by_the_worker(
        client, add_source, helpdesk, engine, settings, tickets):
    add_source("zd", helpdesk.url, webhook_secret=SECRET)
    raw = json.dumps({"id": 99, "subject": "From a webhook", "description": "x",
                      "via": {"source": {"from": {"name": "Ann",
                                                  "address": "ann@example.com"}}}}).encode()
    assert inbound(client, raw, signing.sign("wrong-secret-000000000", raw)).status_code == 401
    stale = signing.sign(SECRET, raw, int(time.time()) - 301)
    assert inbound(client, raw, stale).status_code == 401
    assert inbound(client, raw + b" ", signing.sign(SECRET, raw)).status_code == 401
    assert inbound(client, raw, "").status_code == 401
    assert inbound(client, raw, signing.sign(SECRET, raw), source="nope").status_code == 401
    assert count_inbound(engine, settings) == 0                       # nothing stored
    ok = inbound(client, raw, signing.sign(SECRET, raw))
    assert ok.status_code == 202 and ok.get_json()["status"] == "accepted"
    assert inbound(client, b"[1]", signing.sign(SECRET, b"[1]")).status_code == 400
    from integration_service.worker import Worker
    worker = Worker(settings, engine)
    try:
        assert worker.housekeeping() == 1
    finally:
        worker.sender.close()
    assert tickets.created_ids("acme") == ["99"]

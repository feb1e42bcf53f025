"""Keys through the whole suite: 401 and 403 on every public operation, revocation within the
cache TTL, ticketctl's key commands against the real ticket-service."""
from __future__ import annotations

import re
import time

import pytest
from click.testing import CliRunner

from support_shared.testing.helpers import wait_until
from tests.conftest import ApiClient
from ticketctl.cli import cli

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("settle")]

SAMPLES = {"ticket_id": "1", "user_id": "1", "agent_id": "1", "name": "HR", "queue": "nothing.dlq",
           "job_id": "00000000-0000-4000-8000-000000000001",
           "webhook_id": "00000000-0000-4000-8000-000000000002",
           "delivery_id": "00000000-0000-4000-8000-000000000003", "source": "desk"}


def _scoped_operations(running) -> list[tuple[str, str, str]]:
    """Every documented operation but health: method, sample path, the scope it documents."""
    doc = running.get("/openapi.json").json()
    ops = []
    for path, item in doc["paths"].items():
        if path == "/api/health":
            continue
        concrete = re.sub(r"{(\w+)}", lambda m: SAMPLES[m.group(1)], path)
        ops += [(method.upper(), concrete, op["x-required-scope"]) for method, op in item.items()]
    return ops


def _operations(running) -> list[tuple[str, str]]:
    return [(method, path) for method, path, _scope in _scoped_operations(running)]


def test_every_operation_needs_a_key(running):
    anonymous = running.anonymous()
    ops = _operations(running)
    assert len(ops) >= 25
    for method, path in ops:
        resp = anonymous.request(method, path, json={})
        assert resp.status_code == 401, (method, path, resp.text)
        assert resp.json()["error"]["code"] == "unauthorized"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_key_is_401_on_every_operation(running):
    stranger = ApiClient(running.base_url, "tts_00000000_" + "x" * 43)
    for method, path in _operations(running):
        resp = stranger.request(method, path, json={})
        assert resp.status_code == 401, (method, path)
        assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]


def test_a_read_key_reads_but_never_writes(running):
    reader = running.tenant("read")
    scopes = set()
    for method, path, scope in _scoped_operations(running):
        scopes.add(scope)
        resp = reader.request(method, path, json={})
        if scope == "read":
            assert method == "GET" and resp.status_code != 403, (method, path)
        else:
            assert resp.status_code == 403, (method, path, resp.text)
            assert resp.json()["error"]["details"] == {"required_scope": scope}
    assert scopes == {"read", "write", "admin", "operator"}


def test_a_write_key_reads_too(running):
    """Write implies read (docs/api.md): every write answers with what it wrote, so a
    'write-only' key would read through no-op writes anyway."""
    writer = running.tenant("write")
    created = writer.post("/api/tickets", json={
        "title": "Printer jam", "description": "Paper stuck in tray 2", "user_name": "W",
        "user_email": "w@example.com"})
    assert created.status_code == 201
    tid = created.json()["id"]
    assert writer.get(f"/api/tickets/{tid}").json() == writer.patch(
        f"/api/tickets/{tid}", json={"priority": "medium"}).json()
    assert writer.get("/api/tickets").status_code == 200
    for path in ("/api/admin/dlq/nothing.dlq", "/api/dashboard/queues"):
        assert writer.get(path).status_code == 403, path


def test_public_paths_answer_without_a_key(running):
    anonymous = running.anonymous()
    assert anonymous.get("/api/health").status_code == 200
    assert anonymous.get("/openapi.json").status_code == 200
    assert anonymous.get("/docs").status_code == 200
    assert anonymous.get("/internal/keys").status_code == 404      # never exposed


def test_a_revoked_key_is_refused_within_the_cache_ttl(running):
    client = running.tenant("read")
    assert client.get("/api/tickets").status_code == 200

    running.ctl("keys", "revoke", str(client.key_id))
    revoked_at = time.monotonic()
    wait_until(lambda: client.get("/api/tickets").status_code == 401, timeout=5,
               message="revoked key refused")
    assert time.monotonic() - revoked_at < 2.5          # GATEWAY_AUTH_CACHE_TTL_S=1 here
    listed = running.ctl("keys", "list", "--tenant", client.tenant_id)
    assert [k["revoked_at"] is not None for k in listed] == [True]


def test_the_x_api_key_header_is_accepted(running):
    client = running.tenant("read")
    resp = running.anonymous().get("/api/tickets", headers={"X-API-Key": client.key})
    assert resp.status_code == 200


def test_ensure_dev_keeps_a_working_key(running, tmp_path):
    path = tmp_path / "dev-api-key"
    env = {"TICKET_SERVICE_URL": running.env["TICKET_SERVICE_URL"],
           "INTERNAL_API_TOKEN": running.env["INTERNAL_API_TOKEN"]}
    first = CliRunner().invoke(cli, ["keys", "ensure-dev", "--file", str(path)], env=env)
    second = CliRunner().invoke(cli, ["keys", "ensure-dev", "--file", str(path)], env=env)
    assert first.exit_code == second.exit_code == 0, first.output + second.output
    key = path.read_text().strip()
    assert key in first.stdout and "nothing to do" in second.stdout
    dev = ApiClient(running.base_url, key)
    assert dev.get("/api/tickets").status_code == 200
    tenants = [t["tenant_id"] for t in running.ctl("tenants", "list")]
    assert "default" in tenants

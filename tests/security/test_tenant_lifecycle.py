"""Tenants can be disabled (keys stop, data stays), enabled again, and removed with their data
in every service for an erasure request (``ticketctl tenants disable|enable|remove``)."""
from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from click.testing import CliRunner

from support_shared.manifest import SUITE
from support_shared.testing.helpers import wait_until
from ticketctl.cli import cli as ticketctl_cli

pytestmark = [pytest.mark.e2e]

TICKET = {"title": "Erase me", "description": "personal data of a leaving customer",
          "user_name": "Eve Example", "user_email": "eve@example.com"}


def ctl(running, *args: str, ok: bool = True) -> Any:
    """ticketctl with every service's internal address (removal calls each of them)."""
    env = {f"{s.env_prefix}URL": running.env[f"{s.env_prefix}URL"] for s in SUITE.with_schema}
    env["INTERNAL_API_TOKEN"] = running.env["INTERNAL_API_TOKEN"]
    result = CliRunner().invoke(ticketctl_cli, [*args, "--json"], env=env)
    assert (result.exit_code == 0) == ok, result.output
    return json.loads(result.stdout) if ok else result.output


def _routed_and_counted(client) -> int:
    tid = client.post("/api/tickets", json=TICKET).json()["id"]
    wait_until(lambda: client.get(f"/api/routing/history/{tid}").status_code == 200,
               timeout=20, message="routed")
    wait_until(lambda: client.get("/api/dashboard/summary").json()["total_tickets"] >= 1,
               timeout=20, message="counted by analytics")
    return tid


def test_a_disabled_tenants_keys_stop_and_its_data_stays(running):
    client = running.tenant("read,write")
    tid = _routed_and_counted(client)
    assert ctl(running, "tenants", "disable", client.tenant_id)["status"] == "disabled"
    # the gateway caches a verification for GATEWAY_AUTH_CACHE_TTL_S (1 s in this suite)
    wait_until(lambda: client.get(f"/api/tickets/{tid}").status_code == 401, timeout=5,
               interval=0.2, message="the disabled tenant's key refused")
    assert client.post("/api/tickets", json=TICKET).status_code == 401
    assert ctl(running, "tenants", "enable", client.tenant_id)["status"] == "enabled"
    wait_until(lambda: client.get(f"/api/tickets/{tid}").status_code == 200, timeout=5,
               interval=0.2, message="the key accepted again")
    assert client.get(f"/api/tickets/{tid}").json()["title"] == TICKET["title"]


def _leftovers(running, tenant_id: str, tid: int) -> dict[str, int]:
    """What each service still answers about the tenant, asked on its internal port."""
    trusted = {"X-Internal-Token": running.env["INTERNAL_API_TOKEN"]}
    who = {"X-Tenant-ID": tenant_id, **trusted}
    env = running.env
    return {
        "ticket": requests.get(f"{env['TICKET_SERVICE_URL']}/api/tickets/{tid}", headers=who,
                               timeout=10).status_code,
        "tenant": requests.get(f"{env['TICKET_SERVICE_URL']}/internal/tenants/{tenant_id}",
                               headers=trusted, timeout=10).status_code,
        "routing": requests.get(f"{env['ROUTING_SERVICE_URL']}/api/routing/history/{tid}",
                                headers=who, timeout=10).status_code,
        "categorization": requests.get(f"{env['AI_SERVICE_URL']}/api/categorizations/{tid}",
                                       headers=who, timeout=10).status_code,
        "analytics": requests.get(f"{env['ANALYTICS_SERVICE_URL']}/api/dashboard/summary",
                                  headers=who, timeout=10).json()["total_tickets"],
        "source": requests.get(f"{env['INTEGRATION_SERVICE_URL']}/api/sources/desk",
                               headers=who, timeout=10).status_code,
    }


def _with_source(client) -> None:
    """An integration source, so that integration-service holds some of the tenant's rows."""
    made = client.post("/api/sources", json={"name": "desk", "kind": "zendesk",
                                             "base_url": "http://127.0.0.1:9"})
    assert made.status_code == 201, made.text


def test_removal_erases_the_tenant_in_every_service_and_nobody_else(running):
    leaving = running.tenant("read,write,admin")
    staying = running.tenant("read,write,admin")
    tid, kept = _routed_and_counted(leaving), _routed_and_counted(staying)
    _with_source(leaving)
    _with_source(staying)
    assert "disable" in ctl(running, "tenants", "remove", leaving.tenant_id, "--yes", ok=False)
    assert "--yes" in ctl(running, "tenants", "remove", leaving.tenant_id, ok=False)
    assert _leftovers(running, leaving.tenant_id, tid) == {
        "ticket": 200, "tenant": 200, "routing": 200, "categorization": 200, "analytics": 1,
        "source": 200}

    ctl(running, "tenants", "disable", leaving.tenant_id)
    running.wait_idle()
    results = ctl(running, "tenants", "remove", leaving.tenant_id, "--yes")
    assert {r["service"] for r in results} == {s.name for s in SUITE.with_schema}
    assert all(r["rows"] > 0 for r in results), results
    assert results[-1]["service"] == "ticket-service"
    assert _leftovers(running, leaving.tenant_id, tid) == {
        "ticket": 404, "tenant": 404, "routing": 404, "categorization": 404, "analytics": 0,
        "source": 404}
    assert leaving.get(f"/api/tickets/{tid}").status_code == 401
    assert _leftovers(running, staying.tenant_id, kept) == {
        "ticket": 200, "tenant": 200, "routing": 200, "categorization": 200, "analytics": 1,
        "source": 200}
    again = ctl(running, "tenants", "remove", leaving.tenant_id, "--yes", ok=False)
    assert "not found" in again

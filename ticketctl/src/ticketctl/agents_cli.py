"""``ticketctl agents list|create|update``: a tenant's agents (routing-service).

Through routing-service's own address (``ROUTING_SERVICE_URL``), acting for ``--tenant`` as the
gateway does, like ``ticketctl departments``. Setting an agent ``away`` or ``offline`` hands
their open tickets back to their departments' queues; ``available`` lets them take waiting ones.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

import click

from support_shared.commands import to_json

from . import render
from .config import CtlSettings
from .departments_cli import DepartmentsClient


class AgentsClient(DepartmentsClient):
    """A tenant's agents, in routing-service's API."""

    def list_agents(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = self._call("GET", "/api/agents", params=params)
            found += page["agents"]
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    def create_agent(self, fields: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/api/agents", json=fields)

    def update_agent(self, agent_id: int, changes: dict[str, Any]) -> dict[str, Any]:
        return self._call("PATCH", f"/api/agents/{agent_id}", json=changes)


@contextmanager
def _client(tenant_id: str) -> Iterator[AgentsClient]:
    client = AgentsClient(click.get_current_context().find_object(CtlSettings), tenant_id)
    try:
        yield client
    finally:
        client.close()


def _names(value: str | None) -> list[str] | None:
    return None if value is None else [v.strip() for v in value.split(",") if v.strip()]


def _show(agent: dict[str, Any], as_json: bool, verb: str) -> None:
    click.echo(to_json(agent) if as_json else
               f"{verb} agent {agent['id']} {agent['name']} ({agent['status']}, "
               f"{agent['open_tickets']}/{agent['capacity']} open)")


_TENANT = click.option("--tenant", "tenant_id", default="default", show_default=True,
                       help="The tenant whose agents these are.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_DEPARTMENTS = click.option("--departments", help="Comma-separated department names.")
_SKILLS = click.option("--skills", help="Comma-separated skills (matched to tags, category).")
_CAPACITY = click.option("--capacity", type=click.IntRange(0, 10_000),
                         help="The most open tickets at once.")
_STATUS = click.option("--status", type=click.Choice(["available", "away", "offline"]))


@click.group("agents")
def agents_group() -> None:
    """A tenant's agents (ROUTING_SERVICE_URL: routing-service's internal address)."""


@agents_group.command("list")
@_TENANT
@_JSON
def agents_list(tenant_id: str, as_json: bool) -> None:
    """Every agent of the tenant with their load."""
    with _client(tenant_id) as client:
        agents = client.list_agents()
    if as_json:
        click.echo(to_json(agents))
        return
    rows = [(a["id"], a["name"], a["email"], a["status"], a["open_tickets"], a["capacity"],
             ", ".join(a["departments"]), ", ".join(a["skills"])) for a in agents]
    click.echo(render.table(("ID", "NAME", "EMAIL", "STATUS", "OPEN", "CAPACITY",
                             "DEPARTMENTS", "SKILLS"), rows, numeric=(0, 4, 5)))


@agents_group.command("create")
@click.argument("name")
@click.argument("email")
@_DEPARTMENTS
@_SKILLS
@_CAPACITY
@_STATUS
@_TENANT
@_JSON
def agents_create(name: str, email: str, departments: str | None, skills: str | None,
                  capacity: int | None, status: str | None, tenant_id: str,
                  as_json: bool) -> None:
    """Add agent NAME with EMAIL (409-refused if the tenant has an agent with that email)."""
    fields = {"name": name, "email": email, "departments": _names(departments),
              "skills": _names(skills), "capacity": capacity, "status": status}
    with _client(tenant_id) as client:
        created = client.create_agent({k: v for k, v in fields.items() if v is not None})
    _show(created, as_json, "created")


@agents_group.command("update")
@click.argument("agent_id", type=click.IntRange(1))
@click.option("--name")
@_DEPARTMENTS
@_SKILLS
@_CAPACITY
@_STATUS
@_TENANT
@_JSON
def agents_update(agent_id: int, name: str | None, departments: str | None,
                  skills: str | None, capacity: int | None, status: str | None,
                  tenant_id: str, as_json: bool) -> None:
    """Change agent AGENT_ID: only the options given (``--status away`` hands tickets back)."""
    changes = {"name": name, "departments": _names(departments), "skills": _names(skills),
               "capacity": capacity, "status": status}
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        raise click.UsageError("give at least one of --name, --departments, --skills, "
                               "--capacity, --status")
    with _client(tenant_id) as client:
        updated = client.update_agent(agent_id, changes)
    _show(updated, as_json, "updated")

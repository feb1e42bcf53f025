"""``ticketctl departments list|create|update|deactivate``: a tenant's departments.

Through routing-service's own address (``ROUTING_SERVICE_URL``, 127.0.0.1:5003 by default),
acting for ``--tenant`` as the gateway does (``X-Tenant-ID``; ``INTERNAL_API_TOKEN`` is sent
when set). Every change is published as ``department.changed``: routing and the AI service use
it for the next ticket, without a restart.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator
from urllib.parse import quote

import click

from support_shared.commands import to_json

from . import render
from .accounts import InternalClient
from .config import CtlSettings


class DepartmentsClient(InternalClient):
    """A tenant's departments, in routing-service's API."""

    def __init__(self, settings: CtlSettings, tenant_id: str) -> None:
        super().__init__(settings, settings.routing_service_url)
        self.session.headers["X-Tenant-ID"] = tenant_id

    def list(self) -> list[dict[str, Any]]:
        """Every department, following the pages."""
        found: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"limit": 200, **({"cursor": cursor} if cursor else {})}
            page = self._call("GET", "/api/departments", params=params)
            found += page["departments"]
            cursor = page.get("next_cursor")
            if not cursor:
                return found

    def create(self, fields: dict[str, Any]) -> dict[str, Any]:
        return self._call("POST", "/api/departments", json=fields)

    def update(self, name: str, changes: dict[str, Any]) -> dict[str, Any]:
        return self._call("PATCH", f"/api/departments/{quote(name, safe='')}", json=changes)

    def close(self) -> None:
        self.session.close()


@contextmanager
def _client(tenant_id: str) -> Iterator[DepartmentsClient]:
    client = DepartmentsClient(click.get_current_context().find_object(CtlSettings), tenant_id)
    try:
        yield client
    finally:
        client.close()


def _keywords(value: str | None) -> list[str] | None:
    return None if value is None else [k.strip() for k in value.split(",") if k.strip()]


def _show(department: dict[str, Any], as_json: bool, verb: str) -> None:
    click.echo(to_json(department) if as_json else
               f"{verb} department {department['name']} (version {department['version']}, "
               f"{'active' if department['active'] else 'inactive'})")


_TENANT = click.option("--tenant", "tenant_id", default="default", show_default=True,
                       help="The tenant whose departments these are.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def _fields(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed([
        click.option("--description", help="What the department handles (Claude reads it)."),
        click.option("--keywords", help="Comma-separated words and phrases for the keyword "
                                        "rules (replaces the list)."),
        click.option("--min-confidence", type=click.FloatRange(0, 1),
                     help="Below this a categorization goes to triage for review."),
        click.option("--assignment-policy",
                     type=click.Choice(["manual", "round_robin", "least_loaded", "skills"]),
                     help="How the department's tickets find agents."),
    ]):
        command = option(command)
    return command


@click.group("departments")
def departments_group() -> None:
    """A tenant's departments (ROUTING_SERVICE_URL: routing-service's internal address)."""


@departments_group.command("list")
@_TENANT
@_JSON
def departments_list(tenant_id: str, as_json: bool) -> None:
    """Every department of the tenant, inactive ones included."""
    with _client(tenant_id) as client:
        departments = client.list()
    if as_json:
        click.echo(to_json(departments))
        return
    rows = [(d["name"], "yes" if d["active"] else "no", "yes" if d["is_triage"] else "",
             f"{d['min_confidence']:.2f}", d["ticket_count"],
             d.get("assignment_policy", "manual"), ", ".join(d["keywords"]))
            for d in departments]
    click.echo(render.table(("NAME", "ACTIVE", "TRIAGE", "MIN_CONF", "TICKETS", "POLICY",
                             "KEYWORDS"), rows, numeric=(3, 4)))


@departments_group.command("create")
@click.argument("name")
@_fields
@_TENANT
@_JSON
def departments_create(name: str, description: str | None, keywords: str | None,
                       min_confidence: float | None, assignment_policy: str | None,
                       tenant_id: str, as_json: bool) -> None:
    """Add department NAME (409-refused if the tenant has one of that name)."""
    fields = {"name": name, "description": description, "keywords": _keywords(keywords),
              "min_confidence": min_confidence, "assignment_policy": assignment_policy}
    with _client(tenant_id) as client:
        created = client.create({k: v for k, v in fields.items() if v is not None})
    _show(created, as_json, "created")


@departments_group.command("update")
@click.argument("name")
@_fields
@click.option("--active/--inactive", default=None, help="Reactivate or deactivate.")
@_TENANT
@_JSON
def departments_update(name: str, description: str | None, keywords: str | None,
                       min_confidence: float | None, assignment_policy: str | None,
                       active: bool | None, tenant_id: str, as_json: bool) -> None:
    """Change department NAME: only the options given."""
    changes = {"description": description, "keywords": _keywords(keywords),
               "min_confidence": min_confidence, "active": active,
               "assignment_policy": assignment_policy}
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        raise click.UsageError("give at least one of --description, --keywords, "
                               "--min-confidence, --assignment-policy, --active/--inactive")
    with _client(tenant_id) as client:
        updated = client.update(name, changes)
    _show(updated, as_json, "updated")


@departments_group.command("deactivate")
@click.argument("name")
@_TENANT
@_JSON
def departments_deactivate(name: str, tenant_id: str, as_json: bool) -> None:
    """Deactivate department NAME: no new tickets go there; its history keeps the name."""
    with _client(tenant_id) as client:
        updated = client.update(name, {"active": False})
    _show(updated, as_json, "deactivated")

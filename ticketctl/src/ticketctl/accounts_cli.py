"""``ticketctl tenants ...`` and ``ticketctl keys ...``: tenants and their API keys."""
from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import click

from support_shared.commands import to_json

from . import render
from .accounts import AccountsClient, ensure_dev_key
from .config import CtlSettings, service_urls
from .errors import NotConfirmed, TicketctlError

SCOPES = ("read", "write", "admin")
AUTH_CACHE_NOTE = ("; gateways refuse its keys as soon as their cached verification expires "
                   "(GATEWAY_AUTH_CACHE_TTL_S, 10 s by default)")


@contextmanager
def _client() -> Iterator[AccountsClient]:
    client = AccountsClient(click.get_current_context().find_object(CtlSettings))
    try:
        yield client
    finally:
        client.close()


def _scopes(value: str) -> list[str]:
    scopes = [s.strip().lower() for s in value.split(",") if s.strip()]
    unknown = sorted(set(scopes) - set(SCOPES))
    if not scopes or unknown:
        raise click.BadParameter(f"comma-separated, from {', '.join(SCOPES)}")
    return scopes


def _key_rows(keys: list[dict[str, Any]]) -> str:
    if not keys:
        return "no API keys"
    rows = [(k["id"], k["tenant_id"], k["prefix"], ",".join(k["scopes"]), k["name"],
             k["created_at"][:19], (k["revoked_at"] or "")[:19]) for k in keys]
    return render.table(("ID", "TENANT", "PREFIX", "SCOPES", "NAME", "CREATED", "REVOKED"),
                        rows, numeric=(0,))


@click.group("tenants")
def tenants_group() -> None:
    """Tenants (TICKET_SERVICE_URL: ticket-service's internal address)."""


@tenants_group.command("create")
@click.argument("tenant_id")
@click.option("--name", help="Display name (default: the id).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tenants_create(tenant_id: str, name: str | None, as_json: bool) -> None:
    """Create tenant TENANT_ID (a-z, 0-9, '-', '_'); nothing else is seeded."""
    with _client() as client:
        tenant = client.create_tenant(tenant_id, name)
    click.echo(to_json(tenant) if as_json else f"created tenant {tenant['tenant_id']}")


@tenants_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tenants_list(as_json: bool) -> None:
    """Every tenant."""
    with _client() as client:
        tenants = client.list_tenants()
    if as_json:
        click.echo(to_json(tenants))
        return
    rows = [(t["tenant_id"], t["name"], t["created_at"][:19]) for t in tenants]
    click.echo(render.table(("TENANT", "NAME", "CREATED"), rows) if rows else "no tenants")


def _set_enabled(tenant_id: str, enabled: bool, as_json: bool) -> None:
    with _client() as client:
        tenant = client.set_tenant_enabled(tenant_id, enabled)
    click.echo(to_json(tenant) if as_json else
               f"tenant {tenant_id} {tenant['status']}" + ("" if enabled else AUTH_CACHE_NOTE))


@tenants_group.command("disable")
@click.argument("tenant_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tenants_disable(tenant_id: str, as_json: bool) -> None:
    """Refuse every key of TENANT_ID (its data stays; ``enable`` undoes it)."""
    _set_enabled(tenant_id, False, as_json)


@tenants_group.command("enable")
@click.argument("tenant_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tenants_enable(tenant_id: str, as_json: bool) -> None:
    """Accept TENANT_ID's (unrevoked) keys again."""
    _set_enabled(tenant_id, True, as_json)


@tenants_group.command("remove")
@click.argument("tenant_id")
@click.option("--yes", is_flag=True, help="Really delete every row of the tenant.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def tenants_remove(tenant_id: str, yes: bool, as_json: bool) -> None:
    """Erase TENANT_ID's data in every service (an erasure request); disable it first.

    Each service deletes the tenant's rows from its own schema (its internal
    ``DELETE /internal/tenants/<id>/data``); ticket-service, holding the tenant and its keys,
    goes last, so a run cut short can simply be repeated.
    """
    if not yes:
        raise NotConfirmed(f"removing {tenant_id} deletes all its data for good: add --yes")
    with _client() as client:
        if client.get_tenant(tenant_id)["status"] != "disabled":
            raise TicketctlError(f"tenant {tenant_id} is enabled: `ticketctl tenants disable "
                                 f"{tenant_id}` first, and let its events drain")
        results = [client.erase_tenant(url, tenant_id) for url in service_urls()]
    if as_json:
        click.echo(to_json(results))
        return
    for result in results:
        click.echo(f"{result['service']}: {result['rows']} rows deleted")
    click.echo(f"tenant {tenant_id} removed")


@click.group("keys")
def keys_group() -> None:
    """API keys of tenants (TICKET_SERVICE_URL: ticket-service's internal address)."""


@keys_group.command("create")
@click.option("--tenant", "tenant_id", required=True, help="The tenant the key acts for.")
@click.option("--scopes", default="read", show_default=True, type=_scopes,
              help="Comma-separated: read, write, admin.")
@click.option("--name", default="", help="A label, e.g. who uses the key.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (includes the key).")
def keys_create(tenant_id: str, scopes: list[str], name: str, as_json: bool) -> None:
    """Issue a key; it is printed once and never stored in clear."""
    with _client() as client:
        issued = client.create_key(tenant_id, scopes, name)
    if as_json:
        click.echo(to_json(issued))
        return
    click.echo(f"key id {issued['id']} for tenant {issued['tenant_id']} "
               f"({','.join(issued['scopes'])}):", err=True)
    click.echo(issued["key"])
    click.echo("store it now: it cannot be shown again", err=True)


@keys_group.command("list")
@click.option("--tenant", "tenant_id", help="Only this tenant's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def keys_list(tenant_id: str | None, as_json: bool) -> None:
    """Keys by id and prefix (never the keys themselves)."""
    with _client() as client:
        keys = client.list_keys(tenant_id)
    click.echo(to_json(keys) if as_json else _key_rows(keys))


@keys_group.command("revoke")
@click.argument("key_id", type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def keys_revoke(key_id: int, as_json: bool) -> None:
    """Revoke KEY_ID; gateways refuse it within their cache TTL (10 s by default)."""
    with _client() as client:
        key = client.revoke_key(key_id)
    click.echo(to_json(key) if as_json else
               f"revoked key {key['id']} ({key['prefix']}) of tenant {key['tenant_id']}")


@keys_group.command("ensure-dev")
@click.option("--file", "path", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("var/dev-api-key"), show_default=True)
@click.option("--tenant", "tenant_id", default="default", show_default=True)
def keys_ensure_dev(path: Path, tenant_id: str) -> None:
    """Make sure FILE holds a working admin key (tenant created if needed); idempotent."""
    with _client() as client:
        key, created = ensure_dev_key(client, path, tenant_id)
    if created:
        click.echo(f"development API key for tenant {tenant_id} (read,write,admin), "
                   f"written to {path}:\n{key}")
    else:
        click.echo(f"{path} holds a valid development API key; nothing to do")

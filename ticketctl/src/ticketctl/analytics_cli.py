"""``ticketctl analytics rebuild``: replay analytics-service's event_log into its projection.

The database is found as ``ticketctl outbox status`` finds the services' databases:
``ANALYTICS_SERVICE_DATABASE_URL`` and ``ANALYTICS_SERVICE_DB_SCHEMA`` (default ``analytics``).
"""
from __future__ import annotations

import os
from typing import Mapping

import click
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError

from analytics_service.rebuild import RebuildError, RebuildReport, format_report, rebuild
from support_shared.db import make_engine

from . import render
from .accounts_cli import _failures
from .errors import TicketctlError, Unavailable
from .outbox import DEFAULT_DATABASE_URL, OutboxTarget

ENV_PREFIX = "ANALYTICS_SERVICE_"
DEFAULT_SCHEMA = "analytics"


def analytics_target(env: Mapping[str, str]) -> OutboxTarget:
    return OutboxTarget("analytics-service",
                        env.get(f"{ENV_PREFIX}DATABASE_URL") or DEFAULT_DATABASE_URL,
                        env.get(f"{ENV_PREFIX}DB_SCHEMA") or DEFAULT_SCHEMA)


def run_rebuild(target: OutboxTarget, *, dry_run: bool, force: bool,
                lock_timeout_s: float) -> RebuildReport:
    try:
        engine = make_engine(target.database_url, target.schema, pool_size=1)
    except (ValueError, ArgumentError) as exc:
        raise TicketctlError(f"bad configuration: {exc}") from exc
    try:
        return rebuild(engine, dry_run=dry_run, force=force, lock_timeout_s=lock_timeout_s)
    except RebuildError as exc:
        raise TicketctlError(f"{target.database} schema {target.schema}: {exc}") from exc
    except (OperationalError, InterfaceError) as exc:
        first = str(exc.orig or exc).strip().splitlines()[0]
        raise Unavailable(f"analytics database unavailable ({target.database}): {first}") from exc
    finally:
        engine.dispose()


@click.group("analytics")
def analytics_group() -> None:
    """Rebuild analytics-service's projection (ANALYTICS_SERVICE_DATABASE_URL, _DB_SCHEMA)."""


@analytics_group.command("rebuild")
@click.option("--dry-run", is_flag=True, help="Rebuild and compare, then roll back.")
@click.option("--force", is_flag=True, help="Replace the projection even if the counts differ.")
@click.option("--lock-timeout", "lock_timeout_s", default=10.0, show_default=True,
              type=click.FloatRange(0.1, 3600), help="Give up if the tables stay busy this "
                                                     "many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
@_failures
def analytics_rebuild(ctx: click.Context, dry_run: bool, force: bool, lock_timeout_s: float,
                      as_json: bool) -> None:
    """Replay the event_log into fresh ticket_facts in one locked transaction and compare the
    dashboard counts before and after. Counts differ: exit 1, and the old projection stays
    unless --force."""
    target = analytics_target(os.environ)
    report = run_rebuild(target, dry_run=dry_run, force=force, lock_timeout_s=lock_timeout_s)
    if as_json:
        click.echo(render.to_json({"database": target.database, "schema": target.schema,
                                   **report.to_dict()}))
    else:
        click.echo(f"analytics-service: {target.database} schema {target.schema}\n"
                   + format_report(report))
    if not report.matches:
        ctx.exit(1)

"""``ticketctl analytics rebuild``: replay analytics-service's event_log into its projection.

The work and the report are analytics-service's own (``analytics_service.rebuild``); its
database is found through the suite manifest, as the service reads it
(``ANALYTICS_SERVICE_DATABASE_URL`` and ``ANALYTICS_SERVICE_DB_SCHEMA``).
"""
from __future__ import annotations

import click

from analytics_service.rebuild import format_report, rebuild

from . import render
from .database import connected, target

SERVICE = "analytics-service"


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
def analytics_rebuild(ctx: click.Context, dry_run: bool, force: bool, lock_timeout_s: float,
                      as_json: bool) -> None:
    """Replay the event_log into fresh ticket_facts in one locked transaction and compare the
    dashboard counts before and after. Counts differ: exit 1, and the old projection stays
    unless --force."""
    where = target(SERVICE)
    with connected(where, "analytics database") as engine:
        report = rebuild(engine, dry_run=dry_run, force=force, lock_timeout_s=lock_timeout_s)
    if as_json:
        click.echo(render.to_json({"database": where.database, "schema": where.schema,
                                   **report.to_dict()}))
    else:
        click.echo(f"{SERVICE}: {where.database} schema {where.schema}\n" + format_report(report))
    if not report.matches:
        ctx.exit(1)

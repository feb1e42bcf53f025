"""``rebuild``: replay the event_log into ticket_facts and compare the dashboard counts.

One click command, run as ``analytics-service rebuild`` and mounted as ``ticketctl analytics
rebuild``; the database is the service's own (``ANALYTICS_SERVICE_DATABASE_URL``,
``ANALYTICS_SERVICE_DB_SCHEMA``). Exit codes: 0 counts match, 1 they differ or the rebuild was
refused, 2 the database could not be reached.
"""
from __future__ import annotations

import click
from support_shared.commands import Operation, open_database, safe_url, to_json

from .config import SERVICE_NAME, Settings
from .rebuild import format_report, rebuild


@click.command("rebuild", cls=Operation)
@click.option("--dry-run", is_flag=True, help="Rebuild and compare, then roll back.")
@click.option("--force", is_flag=True, help="Replace the projection even if the counts differ.")
@click.option("--lock-timeout", "lock_timeout_s", default=10.0, show_default=True,
              type=click.FloatRange(0.1, 3600), help="Give up if the tables stay busy this "
                                                     "many seconds.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def rebuild_command(ctx: click.Context, dry_run: bool, force: bool, lock_timeout_s: float,
                    as_json: bool) -> None:
    """Replay the event_log into fresh ticket_facts in one locked transaction and compare the
    dashboard counts before and after. Counts differ: exit 1, and the old projection stays
    unless --force."""
    settings = Settings()
    database = safe_url(settings.database_url)
    with open_database(settings.database_url, settings.db_schema,
                       "analytics database") as engine:
        report = rebuild(engine, dry_run=dry_run, force=force, lock_timeout_s=lock_timeout_s)
    if as_json:
        click.echo(to_json({"database": database, "schema": settings.db_schema,
                            **report.to_dict()}))
    else:
        click.echo(f"{SERVICE_NAME}: {database} schema {settings.db_schema}\n"
                   + format_report(report))
    if not report.matches:
        ctx.exit(1)

"""The ``ticketctl`` command line: the root group, and thin click commands over the dlq, outbox
and status modules; the other groups live in ``*_cli.py``.

Exit codes: 0 done; 1 refused, not found, or partly failed (the message says which);
2 a broker, management API or database could not be reached (or a usage error, as click does).
Every expected failure is raised as is and turned into its exit code once, here, by the table
``errors.EXIT_CODES``.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import Any, Iterator

import click
from pydantic import ValidationError

from ai_categorization_service.model_cli import model_group
from analytics_service.rebuild_cli import rebuild_command
from support_shared.commands import Failure, to_json
from support_shared.messaging import dlq
from support_shared.messaging.dead_letters import Unavailable as BrokerUnavailable
from support_shared.messaging.management import Management

from . import outbox, render, status
from .accounts_cli import keys_group, tenants_group
from .departments_cli import departments_group
from .agents_cli import agents_group
from .config import CtlSettings
from .database import PUBLISHERS, targets
from .errors import EXIT_REFUSED, EXIT_UNREACHABLE, EXPECTED, NotConfirmed, exit_code
from .import_cli import import_cmd, seed_demo_cmd
from .export_cli import export_cmd

CONNECTION_NAME = "ticketctl"


class RootGroup(click.Group):
    """The root group: an expected failure anywhere below becomes its message and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EXPECTED as exc:
            raise Failure(str(exc), exit_code(exc)) from exc


def _settings(ctx: click.Context) -> CtlSettings:
    return ctx.find_object(CtlSettings)


@contextmanager
def _management(settings: CtlSettings) -> Iterator[Management]:
    management = Management(settings.management_url, settings.vhost, settings.http_timeout_s)
    try:
        yield management
    finally:
        management.close()


@click.group(cls=RootGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log what is done (to stderr).")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Operate the Ticket Triage Suite: status, dead-letter queues, outbox backlogs, tenants and
    API keys, bulk import and demo tickets, the AI models, and analytics rebuilds.

    Reads the same environment as the services: RABBITMQ_URL, EVENT_EXCHANGE,
    DEAD_LETTER_EXCHANGE, QUEUE_PREFIX, <SERVICE>_DATABASE_URL / _DB_SCHEMA, plus
    RABBITMQ_MANAGEMENT_URL and GATEWAY_URL.
    """
    logging.getLogger("ticketctl").setLevel(logging.INFO if verbose else logging.WARNING)
    # pika logs every failed connection attempt; the command reports it once, plainly.
    logging.getLogger("pika").setLevel(logging.WARNING if verbose else logging.CRITICAL)
    try:
        ctx.obj = CtlSettings()
    except ValidationError as exc:
        raise Failure(f"invalid configuration in the environment:\n{exc}", EXIT_REFUSED) from exc


@cli.group("dlq")
def dlq_group() -> None:
    """Inspect, replay and purge dead-letter queues."""


@dlq_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def dlq_list(ctx: click.Context, as_json: bool) -> None:
    """Every *.dlq of the configured DLX, and the unroutable queue, with message counts."""
    settings = _settings(ctx)
    with _management(settings) as management, \
            dlq.broker_connection(settings.rabbitmq_url, CONNECTION_NAME) as connection:
        depths = dlq.list_dead_letter_queues(connection, management, settings.topology,
                                             settings.queue_prefix)
    click.echo(to_json([render.depth_dict(d) for d in depths]) if as_json
               else render.render_dlq_list(depths))


@dlq_group.command("show")
@click.argument("queue")
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000),
              help="How many messages to show.")
@click.option("--body", "with_body", is_flag=True, help="Include the message bodies (JSON only).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def dlq_show(ctx: click.Context, queue: str, limit: int, with_body: bool, as_json: bool) -> None:
    """Peek at the first messages of QUEUE without removing them."""
    settings = _settings(ctx)
    dlq.check_dead_letter_queue(queue, settings.topology)
    with dlq.broker_connection(settings.rabbitmq_url, CONNECTION_NAME) as connection:
        messages = dlq.peek(connection, queue, settings.topology, limit)
    if as_json:
        click.echo(to_json([m.to_dict(include_body=with_body) for m in messages]))
    else:
        click.echo(render.render_messages(queue, messages))


@dlq_group.command("replay")
@click.argument("queue")
@click.option("--all", "replay_all", is_flag=True, help="Replay every message.")
@click.option("--message-id", help="Replay only this message (message id or event id).")
@click.option("--limit", type=click.IntRange(1), help="Replay (or, with --message-id, look at) "
              "at most this many messages.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def dlq_replay(ctx: click.Context, queue: str, replay_all: bool, message_id: str | None,
               limit: int | None, as_json: bool) -> None:
    """Move dead messages from QUEUE back to the queue they came from."""
    if replay_all and message_id:
        raise click.UsageError("choose --all or --message-id, not both")
    if not (replay_all or message_id or limit):
        raise click.UsageError("say what to replay: --all, --limit N or --message-id ID")
    settings = _settings(ctx)
    dlq.check_dead_letter_queue(queue, settings.topology)
    with dlq.broker_connection(settings.rabbitmq_url, CONNECTION_NAME) as connection:
        result = dlq.replay(connection, queue, settings.topology, message_id=message_id,
                            limit=limit)
    click.echo(to_json(render.replay_dict(result)) if as_json
               else render.render_replay(result, settings.topology.unroutable_queue))
    if message_id and result.replayed == 0 and result.failed == 0:
        raise Failure(f"message {message_id} not found in {queue}", EXIT_REFUSED)
    if result.failed:
        ctx.exit(EXIT_REFUSED)


@dlq_group.command("purge")
@click.argument("queue")
@click.option("--yes", is_flag=True, help="Really delete the messages.")
@click.pass_context
def dlq_purge(ctx: click.Context, queue: str, yes: bool) -> None:
    """Delete every message in QUEUE (a *.dlq or the unroutable queue)."""
    settings = _settings(ctx)
    dlq.check_dead_letter_queue(queue, settings.topology)
    if not yes:
        raise NotConfirmed(f"refusing to purge {queue} without --yes")
    with dlq.broker_connection(settings.rabbitmq_url, CONNECTION_NAME) as connection:
        removed = dlq.purge(connection, queue, settings.topology)
    click.echo(render.render_purge(queue, removed))


@cli.group("outbox")
def outbox_group() -> None:
    """Outbox backlogs of the publishing services."""


@outbox_group.command("status")
@click.option("--service", "services", multiple=True, type=click.Choice(PUBLISHERS),
              help="Only this service (repeatable); default all publishing services.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def outbox_status_cmd(ctx: click.Context, services: tuple[str, ...], as_json: bool) -> None:
    """Backlog, oldest unpublished age (s) and rows with failed attempts, per service."""
    reports = outbox.read_outboxes(targets(os.environ, services))
    click.echo(to_json([r.to_dict() for r in reports]) if as_json
               else render.render_outbox(reports))
    ctx.exit(_outbox_exit_code(reports))


def _outbox_exit_code(reports: list[outbox.OutboxReport]) -> int:
    if any(r.unreachable for r in reports):
        return EXIT_UNREACHABLE
    return EXIT_REFUSED if any(r.error for r in reports) else 0


def _queue_rows(settings: CtlSettings) -> tuple[list[status.QueueRow] | None, str | None]:
    try:
        with _management(settings) as management, \
                dlq.broker_connection(settings.rabbitmq_url, CONNECTION_NAME) as connection:
            rows = status.queue_overview(connection, management, settings.topology,
                                         settings.queue_prefix)
    except BrokerUnavailable as exc:
        return None, str(exc)
    return rows, None


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def status_cmd(ctx: click.Context, as_json: bool) -> None:
    """Gateway health per service, queue depths with consumers and DLQ depth, outbox backlogs."""
    settings = _settings(ctx)
    health = status.fetch_gateway_health(settings.gateway_url, settings.http_timeout_s)
    rows, queue_error = _queue_rows(settings)
    reports = outbox.read_outboxes(targets(os.environ))
    if as_json:
        click.echo(to_json({
            "gateway": render.health_dict(health),
            "queues": [r.to_dict() for r in rows] if rows is not None else None,
            "queues_error": queue_error,
            "outbox": [r.to_dict() for r in reports],
        }))
    else:
        click.echo(render.render_status(health, rows, queue_error, reports))
    if not health.reachable or queue_error is not None:
        ctx.exit(EXIT_UNREACHABLE)
    ctx.exit(_outbox_exit_code(reports) or (0 if health.healthy else EXIT_REFUSED))


@cli.group("analytics")
def analytics_group() -> None:
    """analytics-service's own commands (ANALYTICS_SERVICE_DATABASE_URL, _DB_SCHEMA)."""


# Each service's own commands are its CLI's; ticketctl mounts them.
analytics_group.add_command(rebuild_command)
cli.add_command(model_group)
cli.add_command(tenants_group)
cli.add_command(keys_group)
cli.add_command(departments_group)
cli.add_command(agents_group)
for _command in (import_cmd, seed_demo_cmd, export_cmd):
    cli.add_command(_command)


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``ticketctl``): log records go to stderr as plain lines."""
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
    cli.main(args=argv, prog_name="ticketctl")

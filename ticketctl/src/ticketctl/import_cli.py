"""``ticketctl import FILE.csv`` and ``ticketctl seed-demo N``: tickets through the gateway."""
from __future__ import annotations

import functools
import random
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

import click
import requests
from pydantic import EmailStr, TypeAdapter, ValidationError

from support_shared.commands import to_json

from . import render
from support_shared.exchange import SOURCE_PATTERN

from .batch_import import DEFAULT_SOURCE, BatchImporter, run_batch_import
from .config import CtlSettings
from .demo import demo_requests
from .errors import Unavailable
from .importer import GatewayImporter, ImportResult, RowFailure, TicketRequest, run_import
from .sources import ColumnMapping, count_rows, csv_requests, read_header

DEV_KEY_FILE = Path("var/dev-api-key")
ROW_TIMEOUT_S = 30.0
BATCH_TIMEOUT_S = 120.0
SHOWN_FAILURES = 20


def _email(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        return str(TypeAdapter(EmailStr).validate_python(value))
    except ValidationError as exc:
        raise click.BadParameter(f"not an e-mail address: {value!r}") from exc


def _gateway_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options shared by every command that creates tickets through the gateway."""
    options = [
        click.option("--api-key", envvar="TICKETCTL_API_KEY", show_envvar=True,
                     help="A key with the write scope (default: the key in --api-key-file)."),
        click.option("--api-key-file", type=click.Path(dir_okay=False, path_type=Path),
                     default=DEV_KEY_FILE, show_default=True,
                     help="Read the key from this file when --api-key is not given."),
        click.option("--concurrency", default=4, show_default=True, type=click.IntRange(1, 64),
                     help="Requests in flight at once."),
        click.option("--timeout", "timeout_s", type=click.FloatRange(0.1, 600),
                     help=f"Seconds per request (default {ROW_TIMEOUT_S:g}; "
                          f"{BATCH_TIMEOUT_S:g} per batch)."),
        click.option("--retries", default=8, show_default=True, type=click.IntRange(0, 100),
                     help="Retries per row on 429/502/503/504, in-flight 409 and lost "
                          "connections (Retry-After is respected)."),
        click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON."),
    ]
    return functools.reduce(lambda f, option: option(f), reversed(options), command)


def _api_key(api_key: str | None, path: Path) -> str:
    if api_key:
        return api_key.strip()
    try:
        key = path.read_text().strip()
    except OSError:
        key = ""
    if not key:
        raise click.UsageError(f"no API key: pass --api-key, set TICKETCTL_API_KEY, or write "
                               f"one to {path} (`ticketctl keys ensure-dev`)")
    return key


def _check_gateway(settings: CtlSettings) -> None:
    """Fail at once (exit 2) when nothing answers at GATEWAY_URL, rather than row by row."""
    url = settings.gateway_url.rstrip("/") + "/api/health"
    try:
        requests.get(url, timeout=settings.http_timeout_s).close()
    except requests.RequestException as exc:
        raise Unavailable(f"gateway at {settings.gateway_url} unreachable: {exc}") from exc


def _send(ctx: click.Context, items: Iterable[TicketRequest | RowFailure], total: int,
          label: str, opts: dict[str, Any]) -> ImportResult:
    settings: CtlSettings = ctx.find_object(CtlSettings)
    key = _api_key(opts["api_key"], opts["api_key_file"])
    _check_gateway(settings)
    importer = GatewayImporter(settings.gateway_url, key,
                               timeout_s=opts["timeout_s"] or ROW_TIMEOUT_S,
                               retries=opts["retries"])
    with click.progressbar(length=total, label=label, file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        return run_import(items, importer, concurrency=opts["concurrency"], progress=bar.update)


def _send_batches(ctx: click.Context, items: Iterable[TicketRequest | RowFailure], total: int,
                  label: str, source: str, batch_size: int,
                  opts: dict[str, Any]) -> ImportResult:
    settings: CtlSettings = ctx.find_object(CtlSettings)
    key = _api_key(opts["api_key"], opts["api_key_file"])
    _check_gateway(settings)
    importer = BatchImporter(settings.gateway_url, key, source=source,
                             timeout_s=opts["timeout_s"] or BATCH_TIMEOUT_S,
                             retries=opts["retries"])
    with click.progressbar(length=total, label=label, file=sys.stderr,
                           show_pos=True, show_eta=True) as bar:
        return run_batch_import(items, importer, batch_size=batch_size,
                                concurrency=opts["concurrency"], progress=bar.update)


def _summary(ctx: click.Context, result: ImportResult, source: dict[str, Any],
             as_json: bool) -> None:
    if as_json:
        click.echo(to_json({**source, **result.to_dict()}))
    else:
        what = ", ".join(f"{k} {v}" for k, v in source.items())
        rows = [("created", result.created), ("already present", result.present),
                *([("updated", result.updated)] if result.updated else []),
                ("failed", result.failed)]
        lines = [f"{what}: {result.done} row(s) in {result.seconds:.1f} s, "
                 f"{result.rate:.1f} rows/s", render.table(("", "ROWS"), rows, numeric=(1,))]
        failures = sorted(result.failures, key=lambda f: f.row)
        lines += [f"row {f.row}: {f.reason}" for f in failures[:SHOWN_FAILURES]]
        if len(failures) > SHOWN_FAILURES:
            lines.append(f"... and {len(failures) - SHOWN_FAILURES} more (--json lists all)")
        click.echo("\n".join(lines))
    if result.interrupted:
        click.echo("interrupted: run the same command again to finish; the rows already sent "
                   "come back as already present, not as duplicates", err=True)
    if result.failed or result.interrupted:
        ctx.exit(1)


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--description-column", default="Document", show_default=True,
              help="Column holding the ticket text.")
@click.option("--title-column", help="Column holding the title (default: the first words of "
                                     "the description).")
@click.option("--priority-column", help="Column holding low/medium/high/critical "
                                        "(default: the API's default, medium).")
@click.option("--user-name", default=ColumnMapping.user_name, show_default=True,
              help="Requester name of every ticket.")
@click.option("--user-email", default=ColumnMapping.user_email, show_default=True,
              callback=_email, help="Requester e-mail of every ticket.")
@click.option("--limit", type=click.IntRange(1), help="Only the first N data rows.")
@click.option("--source", default=DEFAULT_SOURCE, show_default=True,
              help="The source the tickets are filed under (batch upsert; [a-z0-9_.-]).")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 1000),
              help="Rows per request (POST /api/tickets/batch).")
@click.option("--one-by-one", is_flag=True,
              help="A POST /api/tickets per row (with its Idempotency-Key) instead of batches.")
@_gateway_options
@click.pass_context
def import_cmd(ctx: click.Context, file: Path, description_column: str,
               title_column: str | None, priority_column: str | None, user_name: str,
               user_email: str, limit: int | None, source: str, batch_size: int,
               one_by_one: bool, **opts: Any) -> None:
    """Create a ticket per row of FILE (CSV with a header row) through GATEWAY_URL.

    Rows go in batches (POST /api/tickets/batch), each row with an external id made of its
    content and its row number: running the same import again (say, after an interruption)
    creates no duplicates and changes nothing (--one-by-one: the same with a create and an
    Idempotency-Key per row). Rows that fail are listed by number (1 = the
    first row after the header); the exit code is then 1.
    """
    mapping = ColumnMapping(description_column, title_column, priority_column,
                            user_name, user_email)
    header = read_header(file)
    missing = [c for c in mapping.columns() if c not in header]
    if missing:
        raise click.BadParameter(f"no column {', '.join(map(repr, missing))} in {file} "
                                 f"(columns: {', '.join(header)})", param_hint="FILE")
    if not re.fullmatch(SOURCE_PATTERN, source):
        raise click.BadParameter("1-64 characters of a-z, 0-9, _ . -", param_hint="--source")
    items, total = csv_requests(file, mapping, limit), count_rows(file, limit)
    if one_by_one:
        result = _send(ctx, items, total, f"importing {file.name}", opts)
    else:
        result = _send_batches(ctx, items, total, f"importing {file.name}", source, batch_size,
                               opts)
    _summary(ctx, result, {"file": str(file)}, opts["as_json"])


@click.command("seed-demo")
@click.argument("count", type=click.IntRange(1, 100_000))
@click.option("--seed", type=int, help="Same seed, same tickets (and no duplicates when run "
                                       "again); default: a random seed, printed.")
@_gateway_options
@click.pass_context
def seed_demo_cmd(ctx: click.Context, count: int, seed: int | None, **opts: Any) -> None:
    """Create COUNT realistic demo tickets (IT, HR, Facilities, Finance, general questions)."""
    if seed is None:
        seed = random.SystemRandom().randrange(1_000_000)
        click.echo(f"seed {seed} (repeat with --seed {seed})", err=True)
    result = _send(ctx, demo_requests(count, seed), count, "seeding demo tickets", opts)
    _summary(ctx, result, {"seed": seed}, opts["as_json"])

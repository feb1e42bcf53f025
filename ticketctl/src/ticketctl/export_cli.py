"""``ticketctl export``: the tenant's changed tickets into a file, resumable from a cursor."""
from __future__ import annotations

import csv
import io
import json
import logging
from datetime import datetime
from pathlib import Path
from typing import Any, Iterator

import click
import requests

from support_shared.commands import to_json

from .config import CtlSettings
from .errors import TicketctlError, Unavailable
from .import_cli import DEV_KEY_FILE, _api_key

logger = logging.getLogger(__name__)

EXPORT_PATH = "/api/tickets/export"
PAGE_LIMIT = 10_000


class ExportFailed(TicketctlError):
    """The gateway refused the export (bad cursor, bad key, a service down)."""


def last_cursor(path: Path, fmt: str) -> str | None:
    """The cursor of the last complete record in an earlier export file, if any."""
    if not path.exists():
        return None
    cursor = None
    with path.open(encoding="utf-8", newline="") as handle:
        if fmt == "csv":
            for row in csv.DictReader(handle):
                cursor = row.get("cursor") or cursor
        else:
            for line in handle:
                if line.endswith("\n") and line.strip():
                    cursor = json.loads(line).get("cursor") or cursor
    return cursor


def _records(session: requests.Session, url: str, params: dict[str, Any], fmt: str,
             timeout_s: float) -> Iterator[Any]:
    """The records of one export response as they arrive: CSV rows (the header first, quoted
    line breaks kept) or JSON lines."""
    with session.get(url, params=params, stream=True, timeout=timeout_s) as resp:
        if resp.status_code != 200:
            raise ExportFailed(f"HTTP {resp.status_code}: {resp.text[:500]}")
        resp.raw.decode_content = True
        resp.raw.auto_close = False     # the text wrapper reads to the end itself
        text = io.TextIOWrapper(resp.raw, encoding="utf-8", newline="")
        if fmt == "csv":
            yield from csv.reader(text)
        else:
            yield from (line for line in text if line.strip())


@click.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="The file to write (appended to with --resume).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl",
              show_default=True)
@click.option("--updated-since", type=click.DateTime(["%Y-%m-%dT%H:%M:%S%z",
                                                      "%Y-%m-%dT%H:%M:%S"]),
              help="Only tickets changed since then (UTC unless a zone is given).")
@click.option("--cursor", help="Resume after the record that carried this cursor.")
@click.option("--resume", is_flag=True, help="Resume after the last record of --output.")
@click.option("--api-key", envvar="TICKETCTL_API_KEY", show_envvar=True)
@click.option("--api-key-file", type=click.Path(dir_okay=False, path_type=Path),
              default=DEV_KEY_FILE, show_default=True)
@click.option("--timeout", "timeout_s", default=120.0, show_default=True,
              type=click.FloatRange(0.1, 3600), help="Seconds without data before giving up.")
@click.pass_context
def export_cmd(ctx: click.Context, output: Path, fmt: str, updated_since: datetime | None,
               cursor: str | None, resume: bool, api_key: str | None, api_key_file: Path,
               timeout_s: float) -> None:
    """Write the tenant's tickets changed since a time (or a cursor) to OUTPUT, up to now.

    Every record carries the cursor that resumes after it, so an interrupted export goes on
    with --resume (or --cursor) and neither skips nor repeats a ticket; a ticket comes again
    only when it changed after it was written.
    """
    settings: CtlSettings = ctx.find_object(CtlSettings)
    if resume:
        cursor = last_cursor(output, fmt) or cursor
    params: dict[str, Any] = {"format": fmt, "limit": PAGE_LIMIT}
    if cursor:
        params["cursor"] = cursor
    elif updated_since is not None:
        params["updated_since"] = (updated_since if updated_since.tzinfo else
                                   updated_since.astimezone()).isoformat()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {_api_key(api_key, api_key_file)}"
    url = settings.gateway_url.rstrip("/") + EXPORT_PATH
    written = _write_all(session, url, params, output, fmt, resume and output.exists(),
                         timeout_s)
    click.echo(to_json({"file": str(output), "written": written,
                        "cursor": params.get("cursor")}))


def _write_all(session: requests.Session, url: str, params: dict[str, Any], output: Path,
               fmt: str, append: bool, timeout_s: float) -> int:
    """Request page after page, each record straight to the file, until a short page."""
    written = 0
    with output.open("a" if append else "w", encoding="utf-8", newline="") as out:
        rows = csv.writer(out)
        header_done = append and output.stat().st_size > 0
        while True:
            count = 0
            try:
                for n, record in enumerate(_records(session, url, params, fmt, timeout_s)):
                    if fmt == "csv" and n == 0:
                        if not header_done:
                            rows.writerow(record)
                            header_done = True
                        continue
                    if fmt == "csv":
                        rows.writerow(record)
                        params["cursor"] = record[-1]
                    else:
                        out.write(record if record.endswith("\n") else record + "\n")
                        params["cursor"] = json.loads(record)["cursor"]
                    params.pop("updated_since", None)
                    count += 1
            except requests.RequestException as exc:
                raise Unavailable(f"export interrupted after {written + count} record(s): "
                                  f"{exc}; run again with --resume") from exc
            finally:
                out.flush()
            written += count
            if count < params["limit"]:
                return written

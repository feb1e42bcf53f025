"""What every service's operator commands share: expected failures and their exit codes, a
service database opened with its failures named, and plain text tables and JSON for output.

A service's own click commands (``ai-categorization-service``'s ``model`` group,
``analytics-service``'s ``rebuild``) raise ``CommandError``; ``Operation`` and
``OperationGroup`` show it as ``Error: <message>`` with its exit code, whether the command
runs on its own or mounted in ``ticketctl``.
"""
from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import click
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError, ProgrammingError

from .db import make_engine

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2
DASH = "-"


class CommandError(Exception):
    """An expected failure of an operator command: the message is shown, no traceback."""

    exit_code = EXIT_REFUSED


class Unreachable(CommandError):
    """A database, broker or service could not be reached."""

    exit_code = EXIT_UNREACHABLE


class Failure(click.ClickException):
    """Shown as ``Error: <message>`` on stderr, ending the command with ``exit_code``."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class Operation(click.Command):
    """A command whose ``CommandError`` becomes its message and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CommandError as exc:
            raise Failure(str(exc), exc.exit_code) from exc


class OperationGroup(click.Group):
    """A group whose commands' ``CommandError`` becomes its message and exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CommandError as exc:
            raise Failure(str(exc), exc.exit_code) from exc


def safe_url(database_url: str) -> str:
    """The URL without its password, for output."""
    try:
        return sa.engine.make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<invalid URL>"


def first_line(exc: BaseException) -> str:
    """The first line of a database error (the driver's message, not SQLAlchemy's trailer)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def open_database(database_url: str, schema: str, what: str, **options: Any
                  ) -> Iterator[Engine]:
    """An engine on ``schema``; an unreachable database is ``Unreachable`` and a missing table
    a ``CommandError``, both naming ``what`` ("AI service database") and where it is."""
    try:
        engine = make_engine(database_url, schema, pool_size=1, **options)
    except (ValueError, ArgumentError) as exc:
        raise CommandError(f"bad {what} settings: {exc}") from exc
    try:
        yield engine
    except (OperationalError, InterfaceError) as exc:
        raise Unreachable(f"{what} unavailable ({safe_url(database_url)}): "
                          f"{first_line(exc)}") from exc
    except ProgrammingError as exc:
        raise CommandError(f"{what} schema {schema!r} not migrated? {first_line(exc)}") from exc
    finally:
        engine.dispose()


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, default=str, ensure_ascii=False)


def cell(value: Any) -> str:
    """One value as a table cell: empty is a dash, floats to one decimal."""
    if value is None or value == "":
        return DASH
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
          numeric: Sequence[int] = ()) -> str:
    """Columns padded to their widest cell; ``numeric`` columns right-aligned."""
    cells = [list(headers)] + [[cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [row[i].rjust(widths[i]) if i in numeric else row[i].ljust(widths[i])
                 for i in range(len(headers))]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)

"""Outbox backlogs of the publishing services, each read from its own schema with its own settings.

The (service, env prefix, default schema) table mirrors the services' ``config.py`` so that
ticketctl imports nothing from them; the env vars are the ones the services read.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError, ProgrammingError

from support_shared.db import make_engine
from support_shared.relay import OutboxStatus, outbox_status

DEFAULT_DATABASE_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/ticket_triage"


@dataclass(frozen=True)
class OutboxSource:
    service: str
    env_prefix: str
    default_schema: str


SOURCES: tuple[OutboxSource, ...] = (
    OutboxSource("ticket-service", "TICKET_SERVICE_", "ticket_service"),
    OutboxSource("ai-categorization-service", "AI_SERVICE_", "ai_categorization"),
    OutboxSource("routing-service", "ROUTING_SERVICE_", "routing"),
)
SERVICE_NAMES: tuple[str, ...] = tuple(s.service for s in SOURCES)


@dataclass(frozen=True)
class OutboxTarget:
    service: str
    database_url: str
    schema: str

    @property
    def database(self) -> str:
        """The URL without its password, for output."""
        try:
            return sa.engine.make_url(self.database_url).render_as_string(hide_password=True)
        except ArgumentError:
            return "<invalid URL>"


def targets(env: Mapping[str, str], services: Iterable[str] | None = None) -> list[OutboxTarget]:
    """Where each (selected) service's outbox lives: ``<PREFIX>DATABASE_URL`` and
    ``<PREFIX>DB_SCHEMA``, else the services' defaults."""
    wanted = set(services) if services else set(SERVICE_NAMES)
    return [
        OutboxTarget(
            source.service,
            env.get(f"{source.env_prefix}DATABASE_URL") or DEFAULT_DATABASE_URL,
            env.get(f"{source.env_prefix}DB_SCHEMA") or source.default_schema,
        )
        for source in SOURCES
        if source.service in wanted
    ]


@dataclass(frozen=True)
class OutboxReport:
    service: str
    database: str
    schema: str
    status: OutboxStatus | None = None
    error: str | None = None
    unreachable: bool = False

    def to_dict(self) -> dict[str, object]:
        return {
            "service": self.service,
            "database": self.database,
            "schema": self.schema,
            "backlog": self.status.backlog if self.status else None,
            "oldest_unpublished_age_s": (
                round(self.status.oldest_unpublished_age_s, 3)
                if self.status and self.status.oldest_unpublished_age_s is not None else None
            ),
            "failing": self.status.failing if self.status else None,
            "error": self.error,
        }


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_outbox(target: OutboxTarget) -> OutboxReport:
    """Backlog, oldest unpublished age and rows with failed attempts of one service's outbox."""
    report = dict(service=target.service, database=target.database, schema=target.schema)
    try:
        engine = make_engine(target.database_url, target.schema, pool_size=1)
    except (ValueError, ArgumentError) as exc:
        return OutboxReport(**report, error=f"bad configuration: {exc}")
    try:
        with engine.connect() as conn:
            return OutboxReport(**report, status=outbox_status(conn))
    except (OperationalError, InterfaceError) as exc:
        return OutboxReport(**report, error=f"database unavailable: {_first_line(exc)}",
                            unreachable=True)
    except ProgrammingError as exc:
        return OutboxReport(**report, error=f"no outbox in schema {target.schema!r} "
                                            f"(not migrated?): {_first_line(exc)}")
    finally:
        engine.dispose()


def read_outboxes(targets_: Iterable[OutboxTarget]) -> list[OutboxReport]:
    return [read_outbox(t) for t in targets_]

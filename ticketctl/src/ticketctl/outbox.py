"""Outbox backlogs of the publishing services, each read from its own schema with its own settings.

Which services publish, their env prefixes and default schemas come from the suite manifest
(``support_shared.manifest.SUITE``); the env vars are the ones the services read.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError, ProgrammingError

from support_shared.config import ServiceSettings
from support_shared.db import make_engine
from support_shared.manifest import SUITE, Service
from support_shared.relay import OutboxStatus, outbox_status

DEFAULT_DATABASE_URL: str = ServiceSettings.model_fields["database_url"].default
SERVICE_NAMES: tuple[str, ...] = tuple(s.name for s in SUITE.publishers)


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


def target(service: Service, env: Mapping[str, str]) -> OutboxTarget:
    """Where ``service``'s schema lives: ``<PREFIX>DATABASE_URL`` and ``<PREFIX>DB_SCHEMA``,
    else the services' defaults."""
    assert service.schema is not None, f"{service.name} has no database"
    return OutboxTarget(service.name,
                        env.get(f"{service.env_prefix}DATABASE_URL") or DEFAULT_DATABASE_URL,
                        env.get(f"{service.env_prefix}DB_SCHEMA") or service.schema)


def targets(env: Mapping[str, str], services: Iterable[str] | None = None) -> list[OutboxTarget]:
    """Where each (selected) publishing service's outbox lives."""
    wanted = set(services) if services else set(SERVICE_NAMES)
    return [target(s, env) for s in SUITE.publishers if s.name in wanted]


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

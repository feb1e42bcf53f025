"""Where each service's database is (the suite manifest's env prefix and schema, the env vars
the service itself reads) and how ticketctl opens it, failures named."""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Mapping

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError, ProgrammingError

from support_shared.config import ServiceSettings
from support_shared.db import make_engine
from support_shared.manifest import SUITE, Service

from .errors import TicketctlError, Unavailable

DEFAULT_DATABASE_URL: str = ServiceSettings.model_fields["database_url"].default
PUBLISHERS: tuple[str, ...] = tuple(s.name for s in SUITE.publishers)


@dataclass(frozen=True)
class DatabaseTarget:
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


def target(service: Service | str, env: Mapping[str, str] | None = None) -> DatabaseTarget:
    """Where ``service``'s schema lives: ``<PREFIX>DATABASE_URL`` and ``<PREFIX>DB_SCHEMA``,
    else the services' defaults."""
    service = SUITE.service(service) if isinstance(service, str) else service
    env = os.environ if env is None else env
    if service.schema is None:
        raise TicketctlError(f"{service.name} has no database")
    return DatabaseTarget(service.name,
                          env.get(f"{service.env_prefix}DATABASE_URL") or DEFAULT_DATABASE_URL,
                          env.get(f"{service.env_prefix}DB_SCHEMA") or service.schema)


def targets(env: Mapping[str, str], services: Iterable[str] | None = None) -> list[DatabaseTarget]:
    """Where each (selected) publishing service's database, and so its outbox, lives."""
    wanted = set(services) if services else set(PUBLISHERS)
    return [target(s, env) for s in SUITE.publishers if s.name in wanted]


def first_line(exc: BaseException) -> str:
    """The first line of a database error (the driver's message, not SQLAlchemy's trailer)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def connected(where: DatabaseTarget, what: str, **options: Any) -> Iterator[Engine]:
    """An engine on ``where``; an unreachable database is ``Unavailable`` and a missing table a
    refusal, both naming ``what`` ("AI service database") and where it is."""
    try:
        engine = make_engine(where.database_url, where.schema, pool_size=1, **options)
    except (ValueError, ArgumentError) as exc:
        raise TicketctlError(f"bad {what} settings: {exc}") from exc
    try:
        yield engine
    except (OperationalError, InterfaceError) as exc:
        raise Unavailable(f"{what} unavailable ({where.database}): {first_line(exc)}") from exc
    except ProgrammingError as exc:
        raise TicketctlError(f"{what} schema {where.schema!r} not migrated? "
                             f"{first_line(exc)}") from exc
    finally:
        engine.dispose()

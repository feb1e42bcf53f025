"""Where each service's database is: the suite manifest's env prefix and schema, the env vars
the service itself reads."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Mapping

from support_shared.commands import first_line, safe_url
from support_shared.config import ServiceSettings
from support_shared.manifest import SUITE, Service

from .errors import TicketctlError

__all__ = ["DatabaseTarget", "first_line", "target", "targets"]

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
        return safe_url(self.database_url)


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


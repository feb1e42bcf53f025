"""Outbox backlogs of the publishing services (the suite manifest's), each read from its own
schema with the settings the service reads (``database.targets``)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from sqlalchemy.exc import ArgumentError, InterfaceError, OperationalError, ProgrammingError

from support_shared.db import make_engine
from support_shared.relay import OutboxStatus, outbox_status

from .database import DatabaseTarget, first_line


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


def read_outbox(target: DatabaseTarget) -> OutboxReport:
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
        return OutboxReport(**report, error=f"database unavailable: {first_line(exc)}",
                            unreachable=True)
    except ProgrammingError as exc:
        return OutboxReport(**report, error=f"no outbox in schema {target.schema!r} "
                                            f"(not migrated?): {first_line(exc)}")
    finally:
        engine.dispose()


def read_outboxes(targets_: Iterable[DatabaseTarget]) -> list[OutboxReport]:
    return [read_outbox(t) for t in targets_]

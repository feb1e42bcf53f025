"""Settings of the ticket service (env prefix ``TICKET_SERVICE_``)."""
from __future__ import annotations

from pydantic import AliasChoices, Field
from support_shared.config import service_settings


class Settings(service_settings("ticket-service")):
    """The manifest's settings of ticket-service, plus its own."""

    # Creates arriving together share one transaction, up to this many (0: one each).
    group_commit_max: int = Field(64, ge=0, le=1000)
    # A create's request thread only waits for the group commit, so more threads make larger
    # batches (measured: 106 -> 244 creates/s at 100 connections with 16). WEB_THREADS sizes
    # the other services.
    web_threads: int = Field(16, validation_alias=AliasChoices("TICKET_SERVICE_WEB_THREADS"),
                             ge=1, le=256)
    # Up to twice this many connections per worker: one per thread plus the writer's.
    db_pool_size: int = Field(9, ge=1, le=100)
    # A batch upsert writes up to 1,000 tickets (and their search index entries, audit and
    # events) per statement: its transaction gets this statement timeout instead.
    batch_statement_timeout_ms: int = Field(60_000, ge=1000, le=600_000)
    # The SLA clock sleeps until the next due moment, at most this long (it then sees timers
    # created meanwhile): a breach fires at most this late with the suite idle.
    sla_poll_seconds: float = Field(1.0, gt=0, le=60)


SERVICE_NAME = Settings.service_name

"""Gateway settings: where the services live, timeouts and circuit breaker limits (no database)."""
from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from support_shared.config import CommonSettings

TICKET_SERVICE = "ticket-service"
AI_SERVICE = "ai-categorization-service"
ROUTING_SERVICE = "routing-service"
ANALYTICS_SERVICE = "analytics-service"
INTEGRATION_SERVICE = "integration-service"
SERVICES: tuple[str, ...] = (TICKET_SERVICE, AI_SERVICE, ROUTING_SERVICE, ANALYTICS_SERVICE,
                             INTEGRATION_SERVICE)


class GatewaySettings(CommonSettings):
    """Own fields read ``GATEWAY_*``; service URLs read their plain names (``TICKET_SERVICE_URL``).

    A ``CommonSettings`` subclass, not ``ServiceSettings``: the gateway owns no schema, so it
    has no database fields to ignore. ``port`` is the one web field ``run_web`` needs beyond them.
    """

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", populate_by_name=True, extra="ignore")

    port: int = Field(5000, ge=1, le=65535)
    # The gateway mostly waits on the services: more threads per worker than they need
    # (measured: 47 -> 71 creates/s at 100 connections). WEB_THREADS sizes the services.
    web_threads: int = Field(16, validation_alias=AliasChoices("GATEWAY_WEB_THREADS"),
                             ge=1, le=256)
    ticket_service_url: str = Field(
        "http://127.0.0.1:5001", validation_alias=AliasChoices("TICKET_SERVICE_URL"))
    ai_service_url: str = Field(
        "http://127.0.0.1:5002", validation_alias=AliasChoices("AI_SERVICE_URL"))
    routing_service_url: str = Field(
        "http://127.0.0.1:5003", validation_alias=AliasChoices("ROUTING_SERVICE_URL"))
    analytics_service_url: str = Field(
        "http://127.0.0.1:5004", validation_alias=AliasChoices("ANALYTICS_SERVICE_URL"))
    integration_service_url: str = Field(
        "http://127.0.0.1:5005", validation_alias=AliasChoices("INTEGRATION_SERVICE_URL"))
    # Bearer credential of GET /metrics (metrics_auth); empty: the gateway serves no /metrics.
    metrics_token: str = Field("", repr=False)
    connect_timeout_s: float = Field(1.0, gt=0, le=30)
    read_timeout_s: float = Field(5.0, gt=0, le=120)
    categorize_timeout_s: float = Field(15.0, gt=0, le=120)
    # Batch writes and streamed exports: seconds without a byte from ticket-service.
    bulk_timeout_s: float = Field(60.0, gt=0, le=600)
    health_timeout_s: float = Field(2.0, gt=0, le=30)
    broker_check_ttl_s: float = Field(2.0, ge=0, le=60)
    breaker_fail_max: int = Field(5, ge=1, le=1000)
    breaker_reset_s: float = Field(15.0, gt=0, le=3600)
    pool_maxsize: int = Field(64, ge=1, le=1024)
    # Verified API keys are cached this long: a revoked key keeps working for up to this TTL.
    auth_cache_ttl_s: float = Field(10.0, ge=0, le=300)
    auth_cache_size: int = Field(10_000, ge=1, le=1_000_000)
    # Per API key (per client address for the public paths), across every route and worker
    # sharing the storage: "<n>/second|minute|hour|day", several separated by ";".
    rate_limit: str = Field("600/minute", min_length=1, max_length=200)
    # redis://host:port[/db]: shared by every worker and gateway replica. "memory://" keeps a
    # counter per worker process (each worker then allows the full limit): only on request.
    ratelimit_storage_url: str = Field("redis://127.0.0.1:6379/0", min_length=1, max_length=500)
    # Failed authentications (401) per client address before it gets 429 (auth_failures).
    auth_failure_limit: str = Field("30/minute", min_length=1, max_length=200)
    ratelimit_key_prefix: str = Field("gateway", max_length=100)
    # sliding-window-counter: O(1) per request, close to a moving window; moving-window keeps
    # one timestamp per request in the window (exact, but its cost grows with the limit).
    ratelimit_strategy: Literal["sliding-window-counter", "fixed-window", "moving-window"] = (
        "sliding-window-counter")

    def service_urls(self) -> dict[str, str]:
        """Base URL of every downstream service, by service name."""
        return {
            TICKET_SERVICE: self.ticket_service_url,
            AI_SERVICE: self.ai_service_url,
            ROUTING_SERVICE: self.routing_service_url,
            ANALYTICS_SERVICE: self.analytics_service_url,
            INTEGRATION_SERVICE: self.integration_service_url,
        }

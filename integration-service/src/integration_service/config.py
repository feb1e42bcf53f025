"""Settings of integration-service: the manifest's (env prefix ``INTEGRATION_SERVICE_``) plus
its keys, where ticket-service lives, and the worker's limits and retry schedule."""
from __future__ import annotations

from pydantic import AliasChoices, Field
from support_shared.config import service_settings


class Settings(service_settings("integration-service")):
    # Fernet keys (comma-separated, newest first: MultiFernet decrypts with any, encrypts with
    # the first) for source credentials and secrets at rest. Empty: writes of secrets refused.
    credentials_key: str = Field("", repr=False)
    # ticket-service, the only writer of tickets: the batch upsert endpoint (internal).
    ticket_service_url: str = Field(
        "http://127.0.0.1:5001",
        validation_alias=AliasChoices("TICKET_SERVICE_URL"))
    # Hosts/addresses/CIDRs a source or webhook may point at although private, loopback or
    # link-local (comma-separated, e.g. "127.0.0.1,10.1.0.0/16,helpdesk.internal").
    allow_private_targets: str = ""
    http_connect_timeout_s: float = Field(3.0, gt=0, le=60)
    http_read_timeout_s: float = Field(10.0, gt=0, le=300)
    # The worker: concurrent deliveries, and how often it looks for work.
    worker_concurrency: int = Field(8, ge=1, le=128)
    worker_poll_seconds: float = Field(1.0, gt=0, le=60)
    # A job holds its (tenant, source) lock this long past its last heartbeat (each page).
    job_lock_seconds: float = Field(60.0, ge=1, le=3600)
    # Ingestion HTTP retries (429/503 honour Retry-After, capped; 5xx and network errors back off).
    fetch_max_attempts: int = Field(5, ge=1, le=20)
    fetch_backoff_s: float = Field(1.0, ge=0, le=60)
    fetch_backoff_cap_s: float = Field(60.0, ge=0, le=3600)
    # Webhook deliveries: the n-th retry waits base * 2**(n-1), at most cap; a subscription
    # failing without a success for disable_after_s is disabled.
    delivery_backoff_s: float = Field(30.0, ge=0, le=3600)
    delivery_backoff_cap_s: float = Field(3600.0, ge=0, le=86400)
    delivery_max_attempts: int = Field(30, ge=1, le=100)
    delivery_lease_s: float = Field(60.0, ge=1, le=3600)
    disable_after_s: float = Field(86400.0, ge=1, le=30 * 86400)
    # Inbound webhooks: the signature's timestamp may be this far from now.
    signature_tolerance_s: int = Field(300, ge=1, le=3600)


SERVICE_NAME = Settings.service_name

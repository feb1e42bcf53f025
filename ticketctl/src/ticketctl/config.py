"""ticketctl settings: the broker and naming settings the services read, plus operator URLs."""
from __future__ import annotations

import os
from pathlib import Path

import pika
from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from support_shared.config import CommonSettings
from support_shared.manifest import SUITE
from support_shared.messaging.topology import Topology


def service_urls() -> list[str]:
    """Internal address of every service with a schema (``<PREFIX>URL``, else the manifest's
    local port), ticket-service last: it holds the tenants and their keys."""
    services = sorted(SUITE.with_schema, key=lambda s: s.name == "ticket-service")
    return [os.environ.get(f"{s.env_prefix}URL") or f"http://127.0.0.1:{s.port}"
            for s in services]


class CtlSettings(CommonSettings):
    """``RABBITMQ_URL``, ``EVENT_EXCHANGE``, ``DEAD_LETTER_EXCHANGE``, ``QUEUE_PREFIX`` as the
    services read them, plus ``RABBITMQ_MANAGEMENT_URL``, ``GATEWAY_URL``, ticket-service's
    internal address and credential (``INTERNAL_API_TOKEN``, else the file
    ``INTERNAL_API_TOKEN_FILE`` names; for tenants and keys) and the HTTP timeout.

    The services' databases are not here: each is found through the suite manifest's env
    prefix (``outbox.target``), as the service itself reads it.
    """

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore")

    management_url: str = Field(
        "http://guest:guest@127.0.0.1:15672",
        validation_alias=AliasChoices("RABBITMQ_MANAGEMENT_URL"),
    )
    gateway_url: str = Field(
        "http://127.0.0.1:5000", validation_alias=AliasChoices("GATEWAY_URL")
    )
    ticket_service_url: str = Field(
        "http://127.0.0.1:5001", validation_alias=AliasChoices("TICKET_SERVICE_URL")
    )
    routing_service_url: str = Field(
        "http://127.0.0.1:5003", validation_alias=AliasChoices("ROUTING_SERVICE_URL")
    )
    # Read when INTERNAL_API_TOKEN is empty: where `make run` / `make up` write the credential.
    internal_token_file: Path = Field(
        Path("var/internal-token"), validation_alias=AliasChoices("INTERNAL_API_TOKEN_FILE"))
    http_timeout_s: float = Field(
        5.0, gt=0, le=120,
        validation_alias=AliasChoices("TICKETCTL_HTTP_TIMEOUT"),
    )

    def internal_credential(self) -> str:
        """``INTERNAL_API_TOKEN``, else the contents of ``internal_token_file``, else empty."""
        if self.internal_token:
            return self.internal_token
        try:
            return self.internal_token_file.read_text().strip()
        except OSError:
            return ""

    @property
    def vhost(self) -> str:
        """The virtual host named in ``RABBITMQ_URL`` (``/`` when it names none)."""
        return pika.URLParameters(self.rabbitmq_url).virtual_host

    @property
    def topology(self) -> Topology:
        return Topology.from_settings(self)

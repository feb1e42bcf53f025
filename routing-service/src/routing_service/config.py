"""Settings of the routing-service processes (env prefix ROUTING_SERVICE_)."""
from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from support_shared.config import ServiceSettings

SERVICE_NAME = "routing-service"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="ROUTING_SERVICE_", populate_by_name=True, extra="ignore"
    )

    db_schema: str = "routing"
    port: int = 5003

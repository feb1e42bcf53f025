"""Settings of the analytics service (env prefix ``ANALYTICS_SERVICE_``)."""
from __future__ import annotations

from pydantic_settings import SettingsConfigDict
from support_shared.config import ServiceSettings

SERVICE_NAME = "analytics-service"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="ANALYTICS_SERVICE_", populate_by_name=True, extra="ignore"
    )

    db_schema: str = "analytics"
    port: int = 5004

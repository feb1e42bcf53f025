"""Settings of the routing-service processes: the manifest's (env prefix ROUTING_SERVICE_)."""
from __future__ import annotations

from support_shared.config import service_settings


class Settings(service_settings("routing-service")):
    """Nothing of its own beyond what every service with a schema reads."""


SERVICE_NAME = Settings.service_name

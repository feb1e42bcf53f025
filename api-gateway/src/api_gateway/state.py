"""What one gateway app holds: its settings, a client per service and the health checker."""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .clients import ServiceClient
from .config import GatewaySettings
from .health import HealthChecker

EXTENSION = "api_gateway"


@dataclass
class Gateway:
    settings: GatewaySettings
    clients: dict[str, ServiceClient]
    health: HealthChecker

    def close(self) -> None:
        """Release pooled connections and the health threads (tests, shutdown)."""
        for client in self.clients.values():
            client.close()
        self.health.close()


def gateway() -> Gateway:
    """The running app's gateway state."""
    return current_app.extensions[EXTENSION]

"""Command line of the analytics service: ``analytics-service migrate|web|consumer``."""
from __future__ import annotations

from support_shared.service import ServiceSpec
from support_shared.service import main as service_main

from .config import SERVICE_NAME, Settings
from .consumer import build_consumer

SPEC = ServiceSpec(
    name=SERVICE_NAME,
    package="analytics_service",
    settings=Settings,
    app_factory="analytics_service.app:create_app()",
    consumer=build_consumer,
    publishes=False,
)


def main(argv: list[str] | None = None) -> None:
    service_main(SPEC, argv)

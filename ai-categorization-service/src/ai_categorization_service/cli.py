"""Command line: ``ai-categorization-service migrate|web|consumer|relay``."""
from __future__ import annotations

from support_shared.service import ServiceSpec
from support_shared.service import main as service_main

from .config import SERVICE_NAME, Settings
from .consumer import build_consumer

SPEC = ServiceSpec(
    name=SERVICE_NAME,
    package="ai_categorization_service",
    settings=Settings,
    app_factory="ai_categorization_service.app:create_app()",
    consumer=build_consumer,
    publishes=True,
)


def main() -> None:
    service_main(SPEC)

"""Command line of every ticket-service process: ``ticket-service migrate|web|consumer|relay``."""
from __future__ import annotations

from support_shared.service import ServiceSpec
from support_shared.service import main as service_main

from .config import SERVICE_NAME, Settings
from .consumer import build_consumer

SPEC = ServiceSpec(SERVICE_NAME, Settings, consumer=build_consumer)


def main() -> None:
    service_main(SPEC)

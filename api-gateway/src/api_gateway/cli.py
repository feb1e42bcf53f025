"""``api-gateway web|migrate``: the gateway under gunicorn like every service, minus a database."""
from __future__ import annotations

import argparse
import logging

from support_shared.logging import configure_logging
from support_shared.service import ServiceSpec, run_web

from .config import GatewaySettings

logger = logging.getLogger(__name__)

SPEC = ServiceSpec("api-gateway", GatewaySettings)


def main(argv: list[str] | None = None) -> None:
    """Own entry point: ``support_shared.service.main`` would offer a ``migrate`` that needs a
    database. ``migrate`` is accepted and does nothing, so scripts can loop over every package."""
    parser = argparse.ArgumentParser(prog=SPEC.name, description="Run the API gateway.")
    parser.add_argument("command", choices=["web", "migrate"])
    args = parser.parse_args(argv)
    settings = GatewaySettings()
    configure_logging(SPEC.name, settings.log_level, settings.log_format)
    if args.command == "migrate":
        logger.info("api-gateway has no database: nothing to migrate")
        return
    run_web(SPEC, settings)

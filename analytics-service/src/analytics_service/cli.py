"""Command line of the analytics service: ``analytics-service migrate|web|consumer|rebuild``."""
from __future__ import annotations

import sys

from support_shared.logging import configure_logging
from support_shared.service import ServiceSpec
from support_shared.service import main as service_main

from .config import SERVICE_NAME, Settings
from .consumer import build_consumer
from .rebuild_cli import rebuild_command

SPEC = ServiceSpec(
    SERVICE_NAME, Settings, consumer=build_consumer,
    more_commands="also: rebuild (replay the event log into ticket_facts and compare the "
                  "dashboard counts; see `analytics-service rebuild --help`)",
)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["rebuild"]:
        settings = Settings()
        configure_logging(SERVICE_NAME, settings.log_level, settings.log_format)
        rebuild_command.main(args[1:], prog_name=f"{SERVICE_NAME} rebuild")
    service_main(SPEC, argv)

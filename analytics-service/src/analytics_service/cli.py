"""Command line of the analytics service: ``analytics-service migrate|web|consumer|rebuild``."""
from __future__ import annotations

import argparse
import json
import sys

from sqlalchemy.exc import InterfaceError, OperationalError
from support_shared.logging import configure_logging
from support_shared.service import ServiceSpec, engine_for
from support_shared.service import main as service_main

from .config import SERVICE_NAME, Settings
from .consumer import build_consumer
from .rebuild import RebuildError, format_report, rebuild

SPEC = ServiceSpec(
    SERVICE_NAME, Settings, consumer=build_consumer,
    more_commands="also: rebuild (replay the event log into ticket_facts and compare the "
                  "dashboard counts; see `analytics-service rebuild --help`)",
)

def rebuild_main(argv: list[str]) -> int:
    """``analytics-service rebuild``: 0 counts match, 1 they differ or refused, 2 unreachable."""
    parser = argparse.ArgumentParser(
        prog=f"{SERVICE_NAME} rebuild",
        description="Replay the event_log into ticket_facts and compare the dashboard counts.")
    parser.add_argument("--dry-run", action="store_true", help="roll back in any case")
    parser.add_argument("--force", action="store_true", help="commit even if counts differ")
    parser.add_argument("--lock-timeout", type=float, default=10.0, metavar="S",
                        help="give up if the tables stay busy this long (default 10)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    args = parser.parse_args(argv)
    settings = Settings()
    configure_logging(SERVICE_NAME, settings.log_level, settings.log_format)
    engine = engine_for(settings)
    try:
        report = rebuild(engine, dry_run=args.dry_run, force=args.force,
                         lock_timeout_s=args.lock_timeout)
    except RebuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OperationalError, InterfaceError) as exc:
        print(f"error: database unavailable: {exc.orig}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()
    print(json.dumps(report.to_dict(), indent=2) if args.json else format_report(report))
    return 0 if report.matches else 1


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["rebuild"]:
        sys.exit(rebuild_main(args[1:]))
    service_main(SPEC, argv)

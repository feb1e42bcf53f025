"""Structured logging with the request/correlation id of the work in hand on every record."""
from __future__ import annotations

import contextvars
import logging
import sys

from pythonjsonlogger.json import JsonFormatter

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None
)


class _ContextFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        # A record may name its own id (``extra={"correlation_id": ...}``: the relay logs each
        # outbox row's, gunicorn's access log the response's); otherwise the work in hand's.
        if getattr(record, "correlation_id", None) is None:
            record.correlation_id = correlation_id.get()
        return True


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Send every log record to stderr, as JSON lines unless ``fmt`` is ``text``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter(service))
    if fmt == "text":
        handler.setFormatter(
            logging.Formatter(
                "%(asctime)s %(levelname)s %(service)s %(name)s [%(correlation_id)s] %(message)s"
            )
        )
    else:
        handler.setFormatter(
            JsonFormatter(
                "%(asctime)s %(levelname)s %(service)s %(name)s %(correlation_id)s %(message)s",
                rename_fields={"asctime": "ts", "levelname": "level", "name": "logger"},
            )
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("pika").setLevel(logging.WARNING)

"""Gunicorn settings for every web process: JSON error and access logs with the request id (set up
in the master before fork) and the Prometheus multiprocess directory the workers share."""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from datetime import timedelta
from typing import Any

from gunicorn import glogging

from support_shared.logging import configure_logging

SERVICE = os.environ.get("SERVICE_NAME", "web")
# Spelled out, not imported from support_shared.metrics: importing that module imports
# prometheus_client, which chooses single- or multi-process storage once, at import, from this
# variable. It has to be set before that happens.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
QUIET_PATHS = frozenset({"/health", "/metrics"})   # successful probes and scrapes log at DEBUG
# Which answers are logged at INFO: "all", or "errors" (a 2xx/3xx at DEBUG). The gateway logs
# every public request; behind it a service's own line would repeat the gateway's (same request
# id) at 3-6% of the service's CPU, so internal services log their errors only by default.
ACCESS_LOG_ENV = "WEB_ACCESS_LOG"
ACCESS_LOG = os.environ.get(ACCESS_LOG_ENV) or ("all" if SERVICE == "api-gateway" else "errors")

configure_logging(SERVICE, os.environ.get("LOG_LEVEL", "INFO"),
                  os.environ.get("LOG_FORMAT", "json"))

# `<service> web` (support_shared.service.run_web) prepares the directory; a gunicorn started
# by hand with this config gets a fresh temporary one, removed when the master exits.
_OWN_METRICS_DIR: str | None = None
if not os.environ.get(MULTIPROC_ENV):
    _OWN_METRICS_DIR = tempfile.mkdtemp(prefix=f"metrics-{SERVICE}-")
    os.environ[MULTIPROC_ENV] = _OWN_METRICS_DIR


def _status_code(status: Any) -> int:
    if isinstance(status, str):
        status = status.split(None, 1)[0]
    try:
        return int(status)
    except (TypeError, ValueError):
        return 0


def _header(headers: Any, name: str) -> str | None:
    items = headers.items() if hasattr(headers, "items") else headers or ()
    for key, value in items:
        if key.lower() == name:
            return value
    return None


class JsonLogger(glogging.Logger):
    """Gunicorn's error and access logs through the root handler ``configure_logging`` set up
    (JSON lines with service and correlation id) instead of gunicorn's own text handlers."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in [h for h in log.handlers if getattr(h, "_gunicorn", False)]:
                log.removeHandler(handler)
            log.propagate = True

    def access(self, resp: Any, req: Any, environ: dict, request_time: timedelta) -> None:
        """One record per response; the request id is the one the app answered with."""
        if not self.access_log_enabled:
            return
        status = _status_code(resp.status)
        method, path = environ.get("REQUEST_METHOD", "-"), environ.get("PATH_INFO", "-")
        quiet = status < 400 and (ACCESS_LOG == "errors" or path in QUIET_PATHS)
        level = logging.DEBUG if quiet else logging.INFO
        if not self.access_log.isEnabledFor(level):
            return
        duration_ms = round(request_time.total_seconds() * 1000, 2)
        self.access_log.log(
            level, "%s %s %s %.1fms", method, path, status, duration_ms,
            extra={
                "correlation_id": _header(resp.headers, "x-request-id"),
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "bytes": getattr(resp, "sent", None),
                "remote_addr": environ.get("REMOTE_ADDR"),
            },
        )


logger_class = JsonLogger
accesslog = "-"   # enables access(); JsonLogger drops gunicorn's handler for it


def child_exit(server: Any, worker: Any) -> None:
    """A worker died: drop its live gauges (in-progress requests); its counters still count."""
    from support_shared.metrics import mark_process_dead

    mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    if _OWN_METRICS_DIR is not None:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)

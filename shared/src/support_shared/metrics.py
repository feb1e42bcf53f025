"""Prometheus metrics: definitions, /metrics exposition (multiprocess-aware), worker endpoints.

Web processes run under gunicorn with several workers: ``support_shared.service.run_web`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before gunicorn starts, every worker writes its
samples there, and whichever worker answers ``GET /metrics`` aggregates all of them. Consumer and
relay processes are single processes: they serve their own registry on ``METRICS_PORT`` when set.
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable, Iterator, NamedTuple
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
    start_http_server,
    values,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_DIR_ENV = "METRICS_DIR"
METRICS_PORT_ENV = "METRICS_PORT"
UNMATCHED_ROUTE = "<unmatched>"
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the text format every Prometheus version reads

disable_created_metrics()  # no *_created series: they double the output and nobody graphs them

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_HANDLER_BUCKETS = _LATENCY_BUCKETS + (60.0, 120.0)   # a Claude call with retries can take a minute

# Every metric has labels, so no sample (and no multiprocess file) exists before first use.
HTTP_REQUESTS = Counter(
    "http_requests_total", "HTTP requests answered, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "http_request_duration_seconds",
    "Time to build the response, by method, route template and status.",
    ["method", "route", "status"], buckets=_LATENCY_BUCKETS,
)
HTTP_IN_PROGRESS = Gauge(
    "http_requests_in_progress", "Requests being handled right now, by method and route template.",
    ["method", "route"], multiprocess_mode="livesum",
)
EVENTS_CONSUMED = Counter(
    "events_consumed_total",
    "Messages a consumer settled, by event type and outcome (ack, dead_lettered, requeued).",
    ["event_type", "outcome"],
)
HANDLER_LATENCY = Histogram(
    "event_handler_duration_seconds",
    "Time from decoding a message to settling it (handler with its in-place retries, then ack,"
    " dead-letter or requeue), by event type.",
    ["event_type"], buckets=_HANDLER_BUCKETS,
)
EVENTS_PUBLISHED = Counter(
    "events_published_total",
    "Outbox rows the relay published and the broker confirmed, by routing key.",
    ["routing_key"],
)
PUBLISH_FAILURES = Counter(
    "event_publish_failures_total",
    "Relay publishes the broker refused or that failed with the connection, by routing key.",
    ["routing_key"],
)
CATEGORIZATIONS = Counter(
    "categorizations_total",
    "Tickets categorized from ticket.created, by method (claude, local_model, keywords).",
    ["method"],
)

CIRCUIT_OPEN = Gauge(
    "circuit_breaker_open",
    "1 while a circuit breaker is open or half-open, 0 while closed, by breaker (the gateway's"
    " per service, the AI service's claude).",
    ["breaker"], multiprocess_mode="livemax",
)
CIRCUIT_OPENINGS = Counter(
    "circuit_breaker_openings_total", "Times a circuit breaker opened, by breaker.", ["breaker"],
)
PIPELINE_LATENCY = Histogram(
    "ticket_pipeline_seconds",
    "From a ticket's creation to its first routing stored on it (create -> categorize -> route"
    " -> applied), observed by ticket-service's consumer.",
    ["outcome"], buckets=(0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0),
)


def record_request(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_LATENCY.labels(method, route, str(status)).observe(seconds)


def record_consumed(event_type: str, outcome: str, seconds: float | None = None,
                    count: int = 1) -> None:
    """``count`` messages of ``event_type`` settled with ``outcome``, each taking ``seconds``."""
    EVENTS_CONSUMED.labels(event_type, outcome).inc(count)
    if seconds is not None:
        histogram = HANDLER_LATENCY.labels(event_type)
        for _ in range(count):
            histogram.observe(seconds)


def record_circuit(breaker: str, is_open: bool, opened: bool = False) -> None:
    CIRCUIT_OPEN.labels(breaker).set(1 if is_open else 0)
    if opened:
        CIRCUIT_OPENINGS.labels(breaker).inc()


def record_pipeline(seconds: float) -> None:
    PIPELINE_LATENCY.labels("routed").observe(max(seconds, 0.0))


def multiprocess_dir() -> str | None:
    """The directory the processes of this web server share, when multiprocess mode is on.

    prometheus_client chose the storage when it was imported; a variable set later (by a test,
    say) does not switch this process's metrics to files, so it does not switch the scrape either.
    """
    if values.ValueClass is values.MutexValue:
        return None
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_dir(service: str, port: int, base: str | None = None) -> Path:
    """Create (or empty) ``<base>/<service>-<port>`` for one gunicorn process group.

    ``base`` defaults to ``$METRICS_DIR`` or ``<tmp>/ticket-triage-metrics``. Samples from a
    previous run would add stale counts (and dead workers' gauges), so the directory starts empty.
    """
    root = Path(base or os.environ.get(METRICS_DIR_ENV)
                or Path(tempfile.gettempdir()) / "ticket-triage-metrics")
    path = root / f"{service}-{port}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


class _Forward:
    """Collects what the process-wide default registry holds (single-process mode)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def scrape_registry(extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """A registry for one scrape: every worker's samples (or this process's) plus ``extra``."""
    registry = CollectorRegistry()
    path = multiprocess_dir()
    if path:
        multiprocess.MultiProcessCollector(registry, path=path)
    else:
        registry.register(_Forward())
    for collector in extra:
        registry.register(collector)
    return registry


def exposition(extra: Iterable[Collector] = ()) -> bytes:
    """The Prometheus text format of one scrape."""
    return generate_latest(scrape_registry(extra))


def mark_process_dead(pid: int) -> None:
    """Drop a dead worker's live gauges (gunicorn ``child_exit``); its counters stay counted."""
    path = multiprocess_dir()
    if path:
        multiprocess.mark_process_dead(pid, path)


class BacklogStatus(NamedTuple):
    backlog: int
    oldest_age_s: float | None
    failing: int


class OutboxCollector:
    """Outbox gauges read from the database at scrape time, cached for ``ttl_s``.

    A read failing with one of ``errors`` (database down) leaves the gauges out of that scrape
    instead of failing the whole of /metrics. Computed by the web process rather than counted
    by the relay, so they are right even while the relay is down (the case they exist for).
    """

    def __init__(self, read: Callable[[], BacklogStatus], *,
                 errors: tuple[type[BaseException], ...], ttl_s: float = 5.0) -> None:
        self.read = read
        self.ttl_s = ttl_s
        self.errors = errors
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._value: BacklogStatus | None = None

    def _status(self) -> BacklogStatus | None:
        with self._lock:
            if time.monotonic() - self._at > self.ttl_s:
                try:
                    self._value = self.read()
                except self.errors as exc:
                    logger.warning("outbox gauges unavailable: %s", exc)
                    self._value = None
                self._at = time.monotonic()
            return self._value

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        if status is None:  # no sample rather than a wrong one; alert on absent() if needed
            return
        yield GaugeMetricFamily("outbox_backlog", "Outbox rows not yet published.",
                                value=status.backlog)
        yield GaugeMetricFamily("outbox_oldest_unpublished_age_seconds",
                                "Age of the oldest unpublished outbox row (0 when none).",
                                value=status.oldest_age_s or 0.0)
        yield GaugeMetricFamily("outbox_failing_rows",
                                "Unpublished outbox rows the broker refused at least once.",
                                value=status.failing)


def metrics_port() -> int | None:
    """``METRICS_PORT`` as a port number; ``None`` (no endpoint) when unset, empty or 0."""
    raw = os.environ.get(METRICS_PORT_ENV, "").strip()
    if not raw or raw == "0":
        return None
    port = int(raw)
    if not 0 < port < 65536:
        raise ValueError(f"{METRICS_PORT_ENV}={raw} is not a port")
    return port


def start_worker_endpoint(host: str) -> WSGIServer | None:
    """Serve this process's metrics on ``host:$METRICS_PORT`` from a daemon thread.

    For consumer and relay processes; returns the server (``None`` when the port is unset).
    """
    port = metrics_port()
    if port is None:
        return None
    server, _thread = start_http_server(port, addr=host)
    logger.info("metrics on http://%s:%d/metrics", host, server.server_port)
    return server

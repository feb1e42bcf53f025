"""Create many tickets through the gateway's public API: bounded threads, retries, idempotency.

Each ticket is a ``TicketRequest`` carrying its own ``Idempotency-Key``, so sending it again
(a retry, or a whole re-run after an interruption) never makes a second ticket: the API
answers with the first ticket and ``Idempotent-Replayed: true``. Answers:

- 201: created; 200 or ``Idempotent-Replayed: true``: already present.
- 429, 502, 503, 504, a 409 with ``Retry-After`` (the same key still in flight), a timeout or
  a lost connection: retried with backoff (the server's ``Retry-After`` when it gives one).
- 401/403: the key is wrong for every row: the import stops (``ImportRefused``).
- any other answer: that row failed; the others go on.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import requests
from tenacity import (RetryCallState, Retrying, retry_if_exception_type, retry_if_result,
                      stop_after_attempt, wait_exponential_jitter)

from .answers import error_text, retry_after_seconds, retryable
from .errors import TicketctlError

logger = logging.getLogger(__name__)

TICKETS_PATH = "/api/tickets"
CREATED, PRESENT, FAILED = "created", "present", "failed"


class ImportRefused(TicketctlError):
    """The gateway refused the API key (401/403): no row can succeed."""


class _Stopped(Exception):
    """The import is being stopped: a retry wait ends early."""


@dataclass(frozen=True)
class TicketRequest:
    row: int                          # 1 = the first data row
    idempotency_key: str
    body: dict[str, Any]


@dataclass(frozen=True)
class RowFailure:
    row: int
    reason: str


@dataclass(frozen=True)
class RowOutcome:
    row: int
    status: str                       # created | present | updated | failed
    reason: str = ""
    ticket_id: int | None = None


@dataclass
class ImportResult:
    created: int = 0
    present: int = 0
    failures: list[RowFailure] = field(default_factory=list)
    seconds: float = 0.0
    interrupted: bool = False
    updated: int = 0                  # batch import: rows whose ticket changed

    @property
    def failed(self) -> int:
        return len(self.failures)

    @property
    def done(self) -> int:
        return self.created + self.present + self.updated + self.failed

    @property
    def rate(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def record(self, outcome: RowOutcome | RowFailure) -> None:
        if isinstance(outcome, RowFailure):
            self.failures.append(outcome)
        elif outcome.status == CREATED:
            self.created += 1
        elif outcome.status == PRESENT:
            self.present += 1
        elif outcome.status == "updated":
            self.updated += 1
        else:
            self.failures.append(RowFailure(outcome.row, outcome.reason))

    def to_dict(self) -> dict[str, Any]:
        return {"created": self.created, "already_present": self.present,
                "updated": self.updated, "failed": self.failed,
                "interrupted": self.interrupted, "seconds": round(self.seconds, 3),
                "rows_per_second": round(self.rate, 2),
                "failures": [{"row": f.row, "reason": f.reason}
                             for f in sorted(self.failures, key=lambda f: f.row)]}


class GatewayImporter:
    """POSTs ``TicketRequest``s to ``{gateway}/api/tickets``, a ``requests.Session`` per thread."""

    def __init__(self, gateway_url: str, api_key: str, *, timeout_s: float = 30.0,
                 retries: int = 8, max_wait_s: float = 60.0,
                 sleep: Callable[[float], None] | None = None) -> None:
        self.url = gateway_url.rstrip("/") + TICKETS_PATH
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.retries = retries
        self.max_wait_s = max_wait_s
        self.sleep = sleep
        self._stopping = threading.Event()
        self._backoff = wait_exponential_jitter(multiplier=0.5, max=max_wait_s)
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.headers.update({"Authorization": f"Bearer {self.api_key}",
                                    "User-Agent": "ticketctl-import"})
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def stop(self) -> None:
        """Cut short every retry wait; rows waiting to retry end as failed ("stopped")."""
        self._stopping.set()

    def _pause(self, seconds: float) -> None:
        if self.sleep is not None:
            self.sleep(seconds)
        if self._stopping.wait(0 if self.sleep is not None else seconds):
            raise _Stopped

    def _wait(self, state: RetryCallState) -> float:
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            told = retry_after_seconds(outcome.result().headers.get("Retry-After"))
            if told is not None:
                return min(told, self.max_wait_s)
        return self._backoff(state)

    def _post(self, request: TicketRequest) -> requests.Response:
        return self._session().post(self.url, json=request.body, timeout=self.timeout_s,
                                    headers={"Idempotency-Key": request.idempotency_key})

    def send(self, request: TicketRequest) -> RowOutcome:
        """One row, retried as the module doc says; raises ``ImportRefused`` on 401/403."""
        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=self._wait,
            retry=(retry_if_result(retryable)
                   | retry_if_exception_type((requests.ConnectionError, requests.Timeout))),
            retry_error_callback=lambda state: state.outcome.result(),  # last answer (or raise)
            sleep=self._pause,
            before_sleep=lambda state: logger.info("row %s: retry %s", request.row,
                                                   state.attempt_number),
        )
        try:
            resp = retrying(self._post, request)
        except requests.RequestException as exc:
            return RowOutcome(request.row, FAILED, f"no answer after {self.retries + 1} "
                                                    f"attempt(s): {exc}")
        except _Stopped:
            return RowOutcome(request.row, FAILED, "stopped while waiting to retry")
        return self._outcome(request, resp)

    def _outcome(self, request: TicketRequest, resp: requests.Response) -> RowOutcome:
        if resp.status_code in (401, 403):
            raise ImportRefused(f"the gateway refused the API key: {error_text(resp)}")
        if resp.status_code in (200, 201):
            try:
                ticket_id = resp.json().get("id")
            except (ValueError, AttributeError):
                ticket_id = None
            replayed = (resp.status_code == 200
                        or resp.headers.get("Idempotent-Replayed", "").lower() == "true")
            return RowOutcome(request.row, PRESENT if replayed else CREATED, ticket_id=ticket_id)
        reason = error_text(resp)
        if retryable(resp):
            reason += f" (still, after {self.retries + 1} attempt(s))"
        return RowOutcome(request.row, FAILED, reason)

    def close(self) -> None:
        with self._lock:
            for session in self._sessions:
                session.close()
            self._sessions.clear()


def run_import(items: Iterable[TicketRequest | RowFailure], importer: GatewayImporter, *,
               concurrency: int = 4,
               progress: Callable[[int], None] = lambda n: None) -> ImportResult:
    """Send every request on ``concurrency`` threads (at most 2 x that many queued), counting
    outcomes; rows already known bad (``RowFailure``) are only counted. ``progress(1)`` after
    each row. On Ctrl-C nothing more is sent, retry waits end, the rows in flight are counted
    and the result comes back ``interrupted``. On ``ImportRefused`` (or any other error)
    nothing more is sent either, and the error goes on."""
    result = ImportResult()
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="import")
    pending: set[Future[RowOutcome]] = set()
    unsettled: set[Future[RowOutcome]] = set()      # submitted, not counted yet

    def settle(done: Iterable[Future[RowOutcome]]) -> None:
        for future in done:
            unsettled.discard(future)
            result.record(future.result())
            progress(1)

    try:
        for item in items:
            if isinstance(item, RowFailure):
                result.record(item)
                progress(1)
                continue
            future = pool.submit(importer.send, item)
            pending.add(future)
            unsettled.add(future)
            if len(pending) >= 2 * concurrency:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                settle(done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            settle(done)
    except KeyboardInterrupt:
        result.interrupted = True
        importer.stop()
        for future in unsettled:
            future.cancel()
        _settle_quietly(unsettled, result)
    except BaseException:
        importer.stop()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        importer.close()
        result.seconds = time.monotonic() - started
    return result


def _settle_quietly(futures: Iterable[Future[RowOutcome]], result: ImportResult) -> None:
    """Count the rows still in flight once they end (cancelled ones are not counted)."""
    for future in futures:
        if future.cancelled():
            continue
        try:
            result.record(future.result())
        except ImportRefused:
            continue

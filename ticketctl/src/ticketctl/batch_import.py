"""Import through the batch upsert (``POST /api/tickets/batch``): many rows per request.

Each row is an item with ``source`` and ``external_id`` (its idempotency key, or its id
column), so a batch is safe to send again: a retry or a re-run of the whole import finds the
tickets it made and answers ``unchanged`` (counted as already present). A batch is retried on
429/502/503/504, a timeout or a lost connection; 401/403 stops the import
(``ImportRefused``); any other whole-batch answer fails that batch's rows; an item's error
fails only its row.
"""
from __future__ import annotations

import logging
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from itertools import islice
from typing import Any, Callable, Iterable, Iterator

import requests
from tenacity import (Retrying, retry_if_exception_type, retry_if_result, stop_after_attempt)

from .answers import error_text, retryable
from .importer import (CREATED, FAILED, PRESENT, GatewayImporter, ImportRefused, ImportResult,
                       RowFailure, RowOutcome, TicketRequest, _Stopped)

logger = logging.getLogger(__name__)

BATCH_PATH = "/api/tickets/batch"
DEFAULT_SOURCE = "ticketctl-import"
UPDATED = "updated"
_STATUS = {"created": CREATED, "unchanged": PRESENT, "updated": UPDATED}


class BatchImporter(GatewayImporter):
    """POSTs batches of ``TicketRequest``s as items of ``source``, keyed by their
    idempotency keys."""

    def __init__(self, gateway_url: str, api_key: str, *, source: str = DEFAULT_SOURCE,
                 **options: Any) -> None:
        super().__init__(gateway_url, api_key, **options)
        self.url = gateway_url.rstrip("/") + BATCH_PATH
        self.source = source

    def item(self, request: TicketRequest) -> dict[str, Any]:
        return {**request.body, "source": self.source, "external_id": request.idempotency_key}

    def _post_batch(self, body: dict[str, Any]) -> requests.Response:
        return self._session().post(self.url, json=body, timeout=self.timeout_s)

    def send_batch(self, requests_: list[TicketRequest]) -> list[RowOutcome]:
        """One batch, retried as the module doc says; one outcome per row."""
        retrying = Retrying(
            stop=stop_after_attempt(self.retries + 1), wait=self._wait,
            retry=(retry_if_result(retryable)
                   | retry_if_exception_type((requests.ConnectionError, requests.Timeout))),
            retry_error_callback=lambda state: state.outcome.result(),
            sleep=self._pause,
            before_sleep=lambda state: logger.info("batch from row %s: retry %s",
                                                   requests_[0].row, state.attempt_number))
        body = {"tickets": [self.item(r) for r in requests_]}
        try:
            resp = retrying(self._post_batch, body)
        except requests.RequestException as exc:
            return _all_failed(requests_, f"no answer after {self.retries + 1} attempt(s): "
                                          f"{exc}")
        except _Stopped:
            return _all_failed(requests_, "stopped while waiting to retry")
        if resp.status_code in (401, 403):
            raise ImportRefused(f"the gateway refused the API key: {error_text(resp)}")
        if resp.status_code != 200:
            return _all_failed(requests_, error_text(resp))
        return [_outcome(r, result) for r, result in zip(requests_, resp.json()["results"])]


def _all_failed(requests_: list[TicketRequest], reason: str) -> list[RowOutcome]:
    return [RowOutcome(r.row, FAILED, reason) for r in requests_]


def _outcome(request: TicketRequest, result: dict[str, Any]) -> RowOutcome:
    status = _STATUS.get(result["status"])
    if status is None:
        error = result.get("error") or {}
        details = "; ".join(f"{d.get('field')}: {d.get('message')}"
                            for d in error.get("details") or [] if isinstance(d, dict))
        reason = f"{error.get('code')}: {error.get('message')}" + (f" ({details})"
                                                                     if details else "")
        return RowOutcome(request.row, FAILED, reason)
    return RowOutcome(request.row, status, ticket_id=result.get("id"))


def _batches(items: Iterable[TicketRequest | RowFailure], size: int
             ) -> Iterator[list[TicketRequest | RowFailure]]:
    it = iter(items)
    while chunk := list(islice(it, size)):
        yield chunk


def run_batch_import(items: Iterable[TicketRequest | RowFailure], importer: BatchImporter, *,
                     batch_size: int = 1000, concurrency: int = 2,
                     progress: Callable[[int], None] = lambda n: None) -> ImportResult:
    """Send the rows in batches of ``batch_size``, ``concurrency`` batches in flight; Ctrl-C
    and errors end it as ``importer.run_import`` does."""
    result = ImportResult()
    started = time.monotonic()
    pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="import")
    pending: set[Future[list[RowOutcome]]] = set()

    def settle(done: Iterable[Future[list[RowOutcome]]]) -> None:
        for future in done:
            outcomes = future.result()
            for outcome in outcomes:
                result.record(outcome)
            progress(len(outcomes))

    try:
        for chunk in _batches(items, batch_size):
            known_bad = [i for i in chunk if isinstance(i, RowFailure)]
            for failure in known_bad:
                result.record(failure)
            progress(len(known_bad))
            sendable = [i for i in chunk if isinstance(i, TicketRequest)]
            if sendable:
                pending.add(pool.submit(importer.send_batch, sendable))
            if len(pending) >= concurrency:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                settle(done)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            settle(done)
    except KeyboardInterrupt:
        result.interrupted = True
        importer.stop()
        for future in pending:
            future.cancel()
    except BaseException:
        importer.stop()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        importer.close()
        result.seconds = time.monotonic() - started
    return result

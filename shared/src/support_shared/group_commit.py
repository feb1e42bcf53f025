"""Group commit: concurrent requests hand their writes to one writer that commits them together.

A web worker serves many requests at once, and each create used to be its own transaction:
its own round trips, its own COMMIT and WAL flush. A ``GroupCommitter`` queues the requests'
items; one writer thread takes everything waiting (up to ``max_batch``), applies it with
``apply_batch`` in one transaction, and only after that returns (committed) answers each caller.
Nothing is acknowledged before its commit. There is no batching window: while the writer is
busy, the next batch gathers by itself, so an idle service answers as fast as before.

When ``apply_batch`` raises, the whole batch rolled back; each item is then applied alone with
``apply_one``, so one bad item costs only its own request (the same fallback as the consumers').
"""
from __future__ import annotations

import logging
import os
import queue
import threading
from concurrent.futures import Future
from typing import Any, Callable, Generic, Sequence, TypeVar

logger = logging.getLogger(__name__)

_STOP = object()  # queued by close(): the writer ends after what was queued before it
T = TypeVar("T")
R = TypeVar("R")


class GroupCommitTimeout(TimeoutError):
    """The writer did not answer in time; the item may still commit later."""


class GroupCommitter(Generic[T, R]):
    """One writer thread per process applying queued items in batches.

    ``apply_batch(items)`` returns one outcome per item, in order: a result, or the exception
    that item alone raised (its caller gets it raised). The thread starts at the first
    ``submit`` in each process, so building one before gunicorn forks is safe.
    """

    def __init__(self, apply_batch: Callable[[list[T]], Sequence[R | BaseException]],
                 apply_one: Callable[[T], R], *, max_batch: int = 64,
                 timeout_s: float = 30.0, name: str = "group-commit") -> None:
        if max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._apply_batch = apply_batch
        self._apply_one = apply_one
        self.max_batch = max_batch
        self.timeout_s = timeout_s
        self.name = name
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid: int | None = None
        self.batches = 0  # how many batches were applied (observability and tests)
        self.items = 0

    def submit(self, item: T) -> R:
        """Apply ``item`` with others waiting; return its result once committed, or raise."""
        future: Future[R] = Future()
        self._ensure_writer()
        self._queue.put((item, future))
        try:
            return future.result(timeout=self.timeout_s)
        except TimeoutError as exc:
            if future.done():   # the item's own exception was a TimeoutError
                raise
            raise GroupCommitTimeout(
                f"{self.name}: no answer from the writer in {self.timeout_s:g} s") from exc

    def _ensure_writer(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive() and self._pid == os.getpid():
                return
            if self._pid != os.getpid():   # a forked child: the parent's queue is not ours
                self._queue = queue.SimpleQueue()
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def close(self, timeout_s: float = 5.0) -> None:
        """Let the writer finish what is queued, then stop it (a later submit starts another)."""
        with self._lock:
            thread = self._thread
            if thread is None or not thread.is_alive() or self._pid != os.getpid():
                return
            self._queue.put(_STOP)
        thread.join(timeout_s)

    def _take(self) -> tuple[list[tuple[T, Future[R]]], bool]:
        """The next batch, and whether a stop was asked for behind it."""
        first = self._queue.get()
        if first is _STOP:
            return [], True
        taken = [first]
        while len(taken) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is _STOP:
                return taken, True
            taken.append(item)
        return taken, False

    def _run(self) -> None:
        stop = False
        while not stop:
            taken, stop = self._take()
            if taken:
                self._apply([item for item, _ in taken], [future for _, future in taken])

    def _apply(self, items: list[T], futures: list[Future[R]]) -> None:
        try:
            outcomes = self._apply_batch(items)
        except Exception as exc:  # noqa: BLE001 - each item is retried alone and answered
            logger.warning("%s: batch of %d failed (%r); applying one at a time", self.name,
                           len(items), exc)
            for item, future in zip(items, futures):
                self._apply_alone(item, future)
            return
        if len(outcomes) != len(items):
            error = RuntimeError(f"{self.name}: {len(outcomes)} outcomes for {len(items)} items")
            for future in futures:
                future.set_exception(error)
            return
        self.batches += 1
        self.items += len(items)
        for future, outcome in zip(futures, outcomes):
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _apply_alone(self, item: T, future: Future[R]) -> None:
        try:
            result = self._apply_one(item)
        except Exception as exc:  # noqa: BLE001 - handed to the caller, who raises it
            future.set_exception(exc)
        else:
            self.batches += 1
            self.items += 1
            future.set_result(result)

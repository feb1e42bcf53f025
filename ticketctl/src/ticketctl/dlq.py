"""Dead-letter queue operations for the CLI: ``support_shared.messaging.dlq`` (shared with the
gateway's admin API), raising ticketctl's errors so each failure ends with its exit code."""
from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar

import pika

from support_shared.messaging import dead_letters as shared_errors
from support_shared.messaging import dlq as shared
from support_shared.messaging.dlq import (  # noqa: F401 (the CLI's names for them)
    DLQ_SUFFIX, Outcome, QueueDepth, ReplayResult, is_dead_letter_queue, original_queue_of,
)

from .errors import QueueNotFound, QueueRefused, Unavailable

T = TypeVar("T")

_OURS = ((shared_errors.QueueRefused, QueueRefused), (shared_errors.QueueNotFound, QueueNotFound),
         (shared_errors.Unavailable, Unavailable))


@contextmanager
def ticketctl_errors() -> Iterator[None]:
    """Re-raise the shared library's dead-letter errors as the CLI's (same message)."""
    try:
        yield
    except shared_errors.DeadLetterError as exc:
        for theirs, ours in _OURS:
            if isinstance(exc, theirs):
                raise ours(str(exc)) from exc
        raise


def _translated(func: Callable[..., T]) -> Callable[..., T]:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        with ticketctl_errors():
            return func(*args, **kwargs)

    return wrapper


@contextmanager
def broker_connection(url: str, name: str = "ticketctl") -> Iterator[pika.BlockingConnection]:
    with ticketctl_errors(), shared.broker_connection(url, name) as connection:
        yield connection


check_dead_letter_queue = _translated(shared.check_dead_letter_queue)
queue_depths = _translated(shared.queue_depths)
list_dead_letter_queues = _translated(shared.list_dead_letter_queues)
peek = _translated(shared.peek)
replay = _translated(shared.replay)
purge = _translated(shared.purge)

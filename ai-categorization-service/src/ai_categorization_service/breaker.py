"""A circuit breaker for slow remote calls, using pybreaker's state machine outside its lock."""
from __future__ import annotations

import logging
import time
from typing import Callable, TypeVar

import pybreaker

from .categorizer import CircuitOpenError

logger = logging.getLogger(__name__)

T = TypeVar("T")


class _Failed(Exception):
    """Replays a failed call's outcome into pybreaker."""


class _OpenedAt(pybreaker.CircuitBreakerListener):
    def __init__(self, owner: "CircuitBreaker") -> None:
        self.owner = owner

    def state_change(self, cb: pybreaker.CircuitBreaker, old_state, new_state) -> None:
        if new_state.name == pybreaker.STATE_OPEN:
            self.owner.opened_at = time.monotonic()
            logger.warning("circuit %s opened after %d failures; skipping it for %.0fs",
                           cb.name, cb.fail_max, cb.reset_timeout)
        elif new_state.name == pybreaker.STATE_CLOSED:
            logger.info("circuit %s closed again", cb.name)


class CircuitBreaker:
    """Fails fast with ``CircuitOpenError`` after ``fail_max`` consecutive failures.

    ``pybreaker.CircuitBreaker.call`` holds one lock for the whole call, which would queue
    every thread of a web worker behind one slow request. Here the call runs unlocked and
    only its outcome is fed to pybreaker. After ``reset_timeout_s`` calls go through again
    (half-open): one success closes the circuit, a failure opens it for another period.
    """

    def __init__(self, name: str, *, fail_max: int, reset_timeout_s: float,
                 counted: tuple[type[BaseException], ...]) -> None:
        self.counted = counted
        self.opened_at = 0.0
        self._breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max, reset_timeout=reset_timeout_s, name=name,
            throw_new_error_on_trip=False, listeners=[_OpenedAt(self)],
        )

    @property
    def state(self) -> str:
        return self._breaker.current_state

    def call(self, func: Callable[[], T]) -> T:
        """Run ``func`` unless the circuit is open; count the ``counted`` errors it raises."""
        if self._is_open():
            raise CircuitOpenError(f"circuit {self._breaker.name} is open")
        try:
            result = func()
        except self.counted as exc:
            self._record(exc)
            raise
        self._record(None)
        return result

    def _is_open(self) -> bool:
        if self._breaker.current_state != pybreaker.STATE_OPEN:
            return False
        return time.monotonic() - self.opened_at < self._breaker.reset_timeout

    def _record(self, exc: BaseException | None) -> None:
        def replay() -> None:
            if exc is not None:
                raise _Failed(str(exc))

        try:
            self._breaker.call(replay)
        except (_Failed, pybreaker.CircuitBreakerError):
            pass  # the outcome is recorded; the caller already has the real error

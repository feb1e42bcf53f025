"""A pybreaker circuit breaker used for its bookkeeping only, never around the network call.

``pybreaker.CircuitBreaker.call`` holds one lock for the whole guarded call, so every request
to a service would wait for the one before it (pybreaker issue #55). Here the gateway asks
``retry_after()`` before calling, makes the call without any lock, then ``record()``s the
outcome through pybreaker, which keeps the counting and the open/half-open/closed rules.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import pybreaker

logger = logging.getLogger(__name__)


class _Failed(Exception):
    """Replays a failed call into pybreaker's state machine."""


def _replay(failed: bool) -> None:
    if failed:
        raise _Failed


class _LogTransitions(pybreaker.CircuitBreakerListener):
    def state_change(self, cb: pybreaker.CircuitBreaker, old_state: object,
                     new_state: object) -> None:
        logger.warning("circuit %s: %s -> %s", cb.name,
                       getattr(old_state, "name", None), getattr(new_state, "name", None))


class Breaker:
    def __init__(self, name: str, fail_max: int, reset_timeout_s: float) -> None:
        self._storage = pybreaker.CircuitMemoryStorage(pybreaker.STATE_CLOSED)
        self.breaker = pybreaker.CircuitBreaker(
            fail_max=fail_max,
            reset_timeout=reset_timeout_s,
            state_storage=self._storage,
            name=name,
            listeners=[_LogTransitions()],
            throw_new_error_on_trip=False,
        )

    @property
    def state(self) -> str:
        return self.breaker.current_state

    def retry_after(self) -> float | None:
        """Seconds until the next trial call; ``None`` when a call may go ahead now."""
        if self.breaker.current_state != pybreaker.STATE_OPEN:
            return None
        opened_at = self._storage.opened_at
        if opened_at is None:
            return None
        elapsed = (datetime.now(timezone.utc) - opened_at).total_seconds()
        remaining = self.breaker.reset_timeout - elapsed
        return remaining if remaining > 0 else None

    def record(self, failed: bool) -> None:
        """Count one finished call: failures open the circuit, a success closes a half-open one."""
        try:
            self.breaker.call(_replay, failed)
        except _Failed:
            pass  # counted by pybreaker; the caller reports the real error
        except pybreaker.CircuitBreakerError:
            pass  # concurrent calls opened the circuit meanwhile: this outcome changes nothing

"""The circuit breaker for calls to a remote service: closed, open, half-open with one trial."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Literal, TypeVar

from .metrics import record_circuit

logger = logging.getLogger(__name__)

T = TypeVar("T")
State = Literal["closed", "open", "half-open"]


class CircuitOpenError(Exception):
    """The circuit is open (or its one trial call is under way): the call was not attempted."""

    def __init__(self, name: str, retry_after_s: float) -> None:
        super().__init__(f"circuit {name} open for another {retry_after_s:.1f}s")
        self.name = name
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Permit:
    """Leave to make one call; its outcome counts only in the breaker period that issued it."""

    period: int
    trial: bool


class CircuitBreaker:
    """Fails fast after ``fail_max`` consecutive failures, for ``reset_timeout_s`` seconds.

    Callers ask ``allow()`` before the call, make the call without any lock held (a lock around
    it would queue every thread of a worker behind one slow request), then ``record()`` its
    outcome, or ``release()`` a permit whose call says nothing about the service's health.
    When the open period ends, exactly one caller gets the trial permit (half-open); the others
    fail fast as if open until its outcome closes the circuit or opens it for another period.
    Outcomes of calls let through before the last state change are ignored.
    """

    def __init__(self, name: str, *, fail_max: int, reset_timeout_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if fail_max < 1 or reset_timeout_s <= 0:
            raise ValueError("fail_max must be >= 1 and reset_timeout_s > 0")
        self.name = name
        self.fail_max = fail_max
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._period = 0            # incremented on every close and open
        self._open = False
        self._opened_at = 0.0
        self._failures = 0
        self._trial_out = False     # the half-open trial permit is held by a caller
        record_circuit(name, False)  # the series exists (0) before the first opening

    @property
    def state(self) -> State:
        with self._lock:
            if not self._open:
                return "closed"
            return "half-open" if self._remaining() <= 0 else "open"

    def retry_after(self) -> float | None:
        """Seconds until a call would be let through; ``None`` when one would be now."""
        with self._lock:
            if not self._open:
                return None
            remaining = self._remaining()
            if remaining > 0:
                return remaining
            return 0.0 if self._trial_out else None

    def allow(self) -> Permit:
        """A permit for one call, or ``CircuitOpenError`` if the call must not be made."""
        with self._lock:
            if not self._open:
                return Permit(self._period, trial=False)
            remaining = self._remaining()
            if remaining > 0 or self._trial_out:
                raise CircuitOpenError(self.name, max(remaining, 0.0))
            self._trial_out = True
            return Permit(self._period, trial=True)

    def record(self, permit: Permit, *, failed: bool) -> None:
        """Count a finished call: failures open the circuit, a successful trial closes it."""
        with self._lock:
            if permit.period != self._period:
                return          # let through before the circuit last opened or closed
            if permit.trial:
                self._trial_out = False
                self._set_open(failed)
            elif failed:
                self._failures += 1
                if self._failures >= self.fail_max:
                    self._set_open(True)
            else:
                self._failures = 0

    def release(self, permit: Permit) -> None:
        """Give back a permit whose call neither failed nor succeeded for the breaker's purpose."""
        with self._lock:
            if permit.trial and permit.period == self._period:
                self._trial_out = False

    def call(self, func: Callable[[], T], *, counted: tuple[type[BaseException], ...]) -> T:
        """Run ``func`` if allowed; the ``counted`` errors it raises are failures, others none."""
        permit = self.allow()
        try:
            result = func()
        except counted:
            self.record(permit, failed=True)
            raise
        except BaseException:
            self.release(permit)   # a bug is not the service's failure; re-raised as it is
            raise
        self.record(permit, failed=False)
        return result

    def _remaining(self) -> float:
        return self._opened_at + self.reset_timeout_s - self._clock()

    def _set_open(self, is_open: bool) -> None:
        was_open, self._open = self._open, is_open
        self._period += 1
        self._failures = 0
        record_circuit(self.name, is_open, opened=is_open and not was_open)
        if is_open:
            self._opened_at = self._clock()
            logger.warning("circuit %s opened; calls fail fast for %.1fs", self.name,
                           self.reset_timeout_s)
        elif was_open:
            logger.info("circuit %s closed again", self.name)

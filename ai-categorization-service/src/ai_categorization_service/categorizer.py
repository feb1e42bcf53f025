"""What a categorization decides, the categorizer interface, and the fall-through chain."""
from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, Literal, Sequence

from support_shared.events import Priority

if TYPE_CHECKING:
    from .departments import Department

logger = logging.getLogger(__name__)

Method = Literal["claude", "local_model", "keywords"]


@dataclass(frozen=True)
class Decision:
    department: str
    priority: Priority
    confidence: float
    method: Method
    model_version: str | None = None
    urgency: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_ms: float | None = None
    # Claude was configured (first in the chain) but a fallback decided.
    fallback: bool = False


class CategorizationError(Exception):
    """A categorizer could not decide; the chain falls through to the next one."""


class NoDecision(CategorizationError):
    """The categorizer abstains by design (no rule of its own applies): the chain goes on to
    the next one without a warning, since nothing failed."""


class InvalidResponseError(CategorizationError):
    """The categorizer's backend answered something that is not a usable decision."""


class InvalidLabelError(InvalidResponseError):
    """A department or priority outside the allowed set (never routed anywhere)."""


class ModelUnavailableError(CategorizationError):
    """The local model could not be loaded."""


class Categorizer(ABC):
    """Decides department and priority of one ticket."""

    name: ClassVar[str]
    # Errors that mean "this categorizer cannot decide now"; anything else is a bug and propagates.
    failures: ClassVar[tuple[type[Exception], ...]] = (CategorizationError,)

    @abstractmethod
    def categorize(
        self, title: str, description: str, requested_priority: Priority | None = None, *,
        departments: Sequence[Department] | None = None,
    ) -> Decision:
        """Return a decision or raise one of ``failures``.

        ``departments``: the tenant's active departments to choose among (None: the
        categorizer's own default set)."""

    def warm_up(self) -> None:
        """Load slow resources now rather than on the first ticket (nothing by default)."""

    def prepare(self, tickets: Sequence[tuple[str, str]]) -> None:
        """Tickets (title, description) about to be categorized one by one (a consumer batch):
        a categorizer that decides faster in bulk may decide them all now (nothing by default)."""


class ChainCategorizer(Categorizer):
    """Asks each categorizer in order; falls through on that categorizer's own failures.

    The decision's ``latency_ms`` is the wall time of the whole chain, failed attempts
    included: the time the ticket waited for its category.
    """

    name = "chain"

    def __init__(self, categorizers: Sequence[Categorizer]) -> None:
        if not categorizers:
            raise ValueError("a chain needs at least one categorizer")
        self.categorizers = tuple(categorizers)

    @property
    def methods(self) -> list[str]:
        return [c.name for c in self.categorizers]

    def warm_up(self) -> None:
        """Load what each categorizer loads lazily (the local model), before the first ticket."""
        for categorizer in self.categorizers:
            categorizer.warm_up()

    def prepare(self, tickets: Sequence[tuple[str, str]]) -> None:
        for categorizer in self.categorizers:
            categorizer.prepare(tickets)

    def categorize(
        self, title: str, description: str, requested_priority: Priority | None = None, *,
        departments: Sequence[Department] | None = None,
    ) -> Decision:
        started = time.perf_counter()
        *fallible, last = self.categorizers
        wanted = self.categorizers[0].name
        for categorizer in fallible:
            try:
                decision = categorizer.categorize(title, description, requested_priority,
                                                  departments=departments)
            except NoDecision as exc:
                logger.debug("categorizer %s abstains (%s)", categorizer.name, exc)
                continue
            except categorizer.failures as exc:
                logger.warning("categorizer %s failed (%s: %s); falling back",
                               categorizer.name, type(exc).__name__, exc)
                continue
            return _with_latency(decision, started, wanted)
        return _with_latency(last.categorize(title, description, requested_priority,
                                             departments=departments), started, wanted)


def _with_latency(decision: Decision, started: float, wanted: str) -> Decision:
    fallback = wanted == "claude" and decision.method != "claude"
    return replace(decision, latency_ms=round((time.perf_counter() - started) * 1000, 3),
                   fallback=fallback)


def clamp(value: float, low: float = 0.0, high: float = 1.0) -> float:
    return max(low, min(high, value))

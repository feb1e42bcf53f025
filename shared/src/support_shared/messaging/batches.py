"""One consumer batch in one database transaction: optimistic first, isolated when it must be.

The first try runs each subscription's handler on all of its envelopes of the batch, in one
transaction without savepoints. When a handler raises, or leaves its unit of work
uncommitted after writing (``SharedTransaction.dirty``), that try is rolled back and the
batch runs again isolated: each subscription's part in a savepoint, and when that part fails,
each of its messages alone (a batch of one) in a savepoint of its own, so each message gets
its own outcome (``ack``, ``dead_lettered`` or ``crashed``). Transient and AMQP errors end
the batch: the caller handles its messages one at a time with in-place retries.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from pika.exceptions import AMQPError
from sqlalchemy.engine import Engine

from ..db import shared_transaction
from ..events import Envelope
from ..logging import correlation_id
from .errors import TRANSIENT_ERRORS, PermanentError

logger = logging.getLogger(__name__)

BatchHandler = Callable[[Sequence[Envelope]], None]


@dataclass
class Delivery:
    """One received message and, once handled, its outcome."""

    queue: str
    subscription: Any   # consumer.Subscription
    method: Any
    props: Any
    body: bytes
    envelope: Envelope | None = None
    outcome: str = "ack"
    error: BaseException | None = field(default=None, repr=False)


class NeedsIsolationError(Exception):
    """An optimistic batch must be rolled back and run again isolated."""


def apply_batch(engine: Engine, batch: list[Delivery]) -> None:
    """Every delivery's handler in one transaction; raises only what fails them all."""
    try:
        with shared_transaction(engine, savepoints=False) as shared:
            for part in _parts(batch):
                _run(part, isolated=False)
            if shared.dirty:
                raise NeedsIsolationError("a unit of work left uncommitted after writing")
        return
    except NeedsIsolationError as exc:
        logger.debug("batch of %d again isolated: %s", len(batch), exc)
    for d in batch:
        d.outcome, d.error = "ack", None
    with shared_transaction(engine) as shared:
        for part in _parts(batch):
            savepoint = shared.conn.begin_nested()
            try:
                _run(part, isolated=False)
            except NeedsIsolationError:
                savepoint.rollback()
                if len(part) > 1:
                    logger.warning("a batch of %d %s failed; handling them one at a time",
                                   len(part), part[0].subscription.routing_key)
                for d in part:
                    one = shared.conn.begin_nested()
                    _run([d], isolated=True)
                    (one.commit if d.outcome == "ack" else one.rollback)()
            else:
                savepoint.commit()


def _parts(batch: list[Delivery]) -> list[list[Delivery]]:
    """The batch split by subscription, in order of first appearance."""
    parts: dict[int, list[Delivery]] = {}
    for d in batch:
        parts.setdefault(id(d.subscription), []).append(d)
    return list(parts.values())


def _run(part: list[Delivery], *, isolated: bool) -> None:
    """Call the part's handler. Not ``isolated``, any failure but a transient or AMQP one
    becomes ``NeedsIsolationError``; ``isolated`` (a part of one), the delivery's outcome."""
    envelopes = [d.envelope for d in part if d.envelope is not None]
    handler: BatchHandler = part[0].subscription.handler
    token = correlation_id.set(envelopes[0].correlation_id if len(envelopes) == 1 else None)
    try:
        handler(envelopes)
    except TRANSIENT_ERRORS:
        raise
    except AMQPError:
        raise
    except PermanentError as exc:
        if not isolated:
            raise NeedsIsolationError(repr(exc)) from exc
        part[0].outcome, part[0].error = "dead_lettered", exc
    except Exception as exc:  # outer boundary: logged with its traceback when settled
        if not isolated:
            raise NeedsIsolationError(repr(exc)) from exc
        part[0].outcome, part[0].error = "crashed", exc
    finally:
        correlation_id.reset(token)

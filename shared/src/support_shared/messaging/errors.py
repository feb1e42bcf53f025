"""What a handler raises to tell the consumer how a message failed."""
from __future__ import annotations

from sqlalchemy.exc import InterfaceError, OperationalError


class PermanentError(Exception):
    """Processing this message can never succeed; send it to the DLQ now."""


class TransientError(Exception):
    """Processing failed for a reason that may pass (a dependency is down); retry later."""


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (TransientError, OperationalError, InterfaceError)

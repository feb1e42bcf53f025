"""Expected failures of operator commands and the one table of the exit codes they end with.

The root group (``cli.py``) turns any of them into ``Error: <message>`` on stderr and the exit
code below; commands and their helpers just raise. Exit codes: 1 refused, not found or partly
failed; 2 a broker, management API, service or database could not be reached (2 is also click's
usage error).
"""
from __future__ import annotations

from support_shared.commands import EXIT_REFUSED, EXIT_UNREACHABLE, CommandError, Unreachable
from support_shared.messaging import dead_letters


class TicketctlError(Exception):
    """An expected failure of ticketctl's own: the message is shown, no traceback."""


class Unavailable(TicketctlError):
    """ticket-service, the gateway or a database did not answer (or refused our login)."""


class NotConfirmed(TicketctlError):
    """A destructive operation was asked for without ``--yes``."""


# Expected failure -> exit code; the first class that matches wins (subclasses first).
EXIT_CODES: tuple[tuple[type[Exception], int], ...] = (
    (Unavailable, EXIT_UNREACHABLE),
    (dead_letters.Unavailable, EXIT_UNREACHABLE),       # broker or management API
    (dead_letters.DeadLetterError, EXIT_REFUSED),       # not a DLQ, no such queue
    (TicketctlError, EXIT_REFUSED),
    # The services' own commands (model, analytics rebuild) and their errors.
    (Unreachable, EXIT_UNREACHABLE),
    (CommandError, EXIT_REFUSED),
)
EXPECTED: tuple[type[Exception], ...] = tuple(cls for cls, _ in EXIT_CODES)


def exit_code(exc: BaseException) -> int:
    """The exit code an expected failure ends the command with."""
    return next(code for cls, code in EXIT_CODES if isinstance(exc, cls))

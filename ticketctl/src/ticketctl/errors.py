"""Expected failures of operator commands, each with the exit code the CLI ends with."""
from __future__ import annotations

EXIT_REFUSED = 1
EXIT_UNREACHABLE = 2


class TicketctlError(Exception):
    """An expected failure: the CLI prints the message, no traceback, and exits ``exit_code``."""

    exit_code = EXIT_REFUSED


class Unavailable(TicketctlError):
    """The broker, the management API or a database did not answer (or refused our login)."""

    exit_code = EXIT_UNREACHABLE


class QueueNotFound(TicketctlError):
    """The named queue does not exist on the broker."""


class QueueRefused(TicketctlError):
    """The operation is only allowed on dead-letter queues (``*.dlq``) or the unroutable queue."""


class NotConfirmed(TicketctlError):
    """A destructive operation was asked for without ``--yes``."""

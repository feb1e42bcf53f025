"""``Prefer: wait=N`` (RFC 7240) on a create: answer once the ticket is routed, or after N s.

The wait polls the ticket row with short read-only transactions (no connection is held idle
in a transaction between polls); the web workers are gevent-based, so a waiting request
sleeps in its greenlet, not in a thread.
"""
from __future__ import annotations

import re
import time
from typing import Callable

from .domain import Ticket

MAX_WAIT_S = 10
PREFER_HEADER = "Prefer"
APPLIED_HEADER = "Preference-Applied"
# First poll soon (routing often takes a few hundred ms), then back off to this interval.
FIRST_POLL_S = 0.05
MAX_POLL_S = 0.5
_WAIT = re.compile(r"^\s*wait\s*=\s*\"?(\d{1,6})\"?\s*$", re.IGNORECASE)


def requested_wait(header: str | None) -> int | None:
    """The ``wait`` preference in seconds, at most ``MAX_WAIT_S``; None when absent or not
    understood (RFC 7240: a preference the server does not understand is ignored)."""
    if not header:
        return None
    for preference in header.split(","):
        token = preference.split(";", 1)[0]
        match = _WAIT.match(token)
        if match:
            return min(int(match.group(1)), MAX_WAIT_S)
    return None


def wait_until_routed(read: Callable[[], Ticket | None], seconds: float, *,
                      clock: Callable[[], float] = time.monotonic,
                      sleep: Callable[[float], None] = time.sleep) -> Ticket | None:
    """Poll ``read`` (one short transaction each) until the ticket has a department; the
    routed ticket, or None when ``seconds`` passed first (or the ticket is gone)."""
    deadline = clock() + seconds
    interval = FIRST_POLL_S
    while True:
        ticket = read()
        if ticket is None or ticket.department is not None:
            return ticket
        left = deadline - clock()
        if left <= 0:
            return None
        sleep(min(interval, left))
        interval = min(interval * 2, MAX_POLL_S)

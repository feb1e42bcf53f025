"""The gunicorn worker every web process runs: gevent (a greenlet per connection, so idle and slow
clients cost memory, not threads), read deadlines per connection, psycopg2 made cooperative, and
the JSON error shape on requests gunicorn refuses itself.

Deadlines: the request line and headers must arrive within ``keepalive`` seconds of the previous
request (or of the connect), or the connection is closed without an answer; every later read
(the body) waits at most ``WEB_READ_TIMEOUT_S`` (default 10) for the next bytes, then the app
answers 408 and the connection closes (``support_shared.web`` turns the timeout into a 408).
"""
from __future__ import annotations

import json
import os
import resource
from typing import Any

import gevent
from gunicorn import util
from gunicorn.workers.ggevent import GeventWorker

READ_TIMEOUT_ENV = "WEB_READ_TIMEOUT_S"
DEFAULT_READ_TIMEOUT_S = 10.0
# gunicorn's reasons, as our error codes ("Request Header Fields Too Large" -> ...).
_CODES = {400: "bad_request", 403: "forbidden", 414: "uri_too_long", 417: "expectation_failed",
          431: "request_header_fields_too_large", 500: "internal_error", 501: "not_implemented"}


def json_error(status: int, reason: str, message: str) -> bytes:
    """A complete HTTP/1.1 answer in the suite's error shape, closing the connection."""
    code = _CODES.get(status, reason.lower().replace(" ", "_") or "error")
    body = json.dumps({"error": {"code": code, "message": message or reason,
                                 "details": None}}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


def write_json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """Drop-in for ``gunicorn.util.write_error`` (gunicorn 27 renders every request it refuses,
    from ``Worker.handle_error``, through that one function)."""
    util.write_nonblock(sock, json_error(int(status_int), reason, mesg))


def make_psycopg2_cooperative() -> None:
    """Wait for PostgreSQL through the gevent hub instead of blocking the whole worker."""
    try:
        import psycopg2.extensions
        import psycopg2.extras
    except ImportError:     # the gateway has no database driver
        return
    # wait_select polls with select.select, which monkey.patch_all made cooperative.
    psycopg2.extensions.set_wait_callback(psycopg2.extras.wait_select)


def raise_fd_limit() -> None:
    """Every idle client holds a descriptor: allow as many as the hard limit does."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY
                                                    else max(soft, 65536), hard))


class GreenWorker(GeventWorker):
    """gunicorn's gevent worker with a read deadline on every connection and JSON refusals."""

    read_timeout_s = DEFAULT_READ_TIMEOUT_S

    def init_process(self) -> None:
        self.read_timeout_s = float(os.environ.get(READ_TIMEOUT_ENV, DEFAULT_READ_TIMEOUT_S))
        util.write_error = write_json_error
        raise_fd_limit()
        super().init_process()   # patches, then loads the app (so psycopg2 is imported after)

    def patch(self) -> None:
        super().patch()
        make_psycopg2_cooperative()

    def timeout_ctx(self) -> gevent.Timeout:
        """Deadline for a request line and headers (silent: the connection just closes)."""
        return gevent.Timeout(self.cfg.keepalive, False)

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        client.setblocking(1)
        # Above the header deadline, so a stalled header ends quietly through timeout_ctx;
        # a stalled body raises socket timeout inside the app (answered 408).
        client.settimeout(max(self.read_timeout_s, self.cfg.keepalive + 1))
        super(GeventWorker, self).handle(listener, client, addr)

"""One pooled, time-limited, circuit-broken HTTP client per downstream service.

urllib3 directly (a keep-alive connection pool per service): the gateway only relays bytes,
and ``requests``' request preparation, session merging and hooks were about a fifth of its CPU
per forwarded call.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Iterator

import orjson
import urllib3
from urllib3.exceptions import (HTTPError, MaxRetryError, NewConnectionError, ProtocolError,
                                TimeoutError as UrllibTimeoutError)
from urllib3.util.retry import Retry

from support_shared.breaker import CircuitBreaker, CircuitOpenError
from support_shared.internal import TOKEN_HEADER

from .config import GatewaySettings
from .errors import ServerError, UpstreamFailure, answered_unavailable

logger = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What says "the service is in trouble"; a 4xx is the client's problem and never counts.
BREAKER_FAILURES = (UrllibTimeoutError, NewConnectionError, ProtocolError)
# Writes are never retried, so a POST is never sent twice by the gateway. Reads get one retry
# when the connection cannot be opened; never on a read error or a status (a 429/503 carrying
# Retry-After is the client's to honour).
_NO_RETRY = Retry(total=0, connect=0, read=False, redirect=0, status=0, other=0,
                  raise_on_redirect=False, raise_on_status=False,
                  respect_retry_after_header=False)
_CONNECT_RETRY = Retry(total=1, connect=1, read=False, redirect=0, status=0, other=0,
                       raise_on_redirect=False, raise_on_status=False,
                       respect_retry_after_header=False)


@dataclass(frozen=True)
class UpstreamResponse:
    """A service's answer, read in full."""

    status_code: int
    headers: Any                     # urllib3's HTTPHeaderDict: case-insensitive
    content: bytes

    def json(self) -> Any:
        """The body as JSON; raises ``ValueError`` when it is not."""
        return orjson.loads(self.content)


@dataclass(frozen=True)
class StreamedResponse:
    """A service's answer whose body is still to be read: ``chunks()`` relays it."""

    status_code: int
    headers: Any
    raw: Any                         # urllib3's HTTPResponse, preload_content=False

    def chunks(self, size: int = 64 * 1024) -> Iterator[bytes]:
        """The body as it arrives; the connection goes back to the pool at the end."""
        try:
            yield from self.raw.stream(size)
        finally:
            self.raw.release_conn()


def _unwrap(exc: HTTPError) -> HTTPError:
    """The error behind a spent retry budget (a refused connection, a timeout)."""
    while isinstance(exc, MaxRetryError) and isinstance(exc.reason, HTTPError):
        exc = exc.reason
    return exc


class ServiceClient:
    """Calls one service; raises ``UpstreamFailure`` for anything but a <500 answer."""

    def __init__(self, name: str, base_url: str, settings: GatewaySettings) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.connect_timeout_s = settings.connect_timeout_s
        self.read_timeout_s = settings.read_timeout_s
        self.breaker = CircuitBreaker(name, fail_max=settings.breaker_fail_max,
                                      reset_timeout_s=settings.breaker_reset_s)
        # The internal credential goes with every call (forwarded, key checks, health probes).
        self._credential = ({TOKEN_HEADER: settings.internal_token} if settings.internal_token
                            else {})
        # No proxies, no cookies, no redirects: nothing of one caller's answer reaches the next.
        self._pool = urllib3.connection_from_url(self.base_url, maxsize=settings.pool_maxsize,
                                                 block=False)

    def url(self, path: str, query: str = "") -> str:
        return f"{self.base_url}{path}?{query}" if query else f"{self.base_url}{path}"

    def _send(self, method: str, path: str, query: str, body: bytes | None,
              headers: dict[str, str] | None, timeout: urllib3.Timeout,
              retries: Retry) -> UpstreamResponse:
        target = f"{path}?{query}" if query else path
        try:
            resp = self._pool.urlopen(method, target, body=body,
                                      headers={**(headers or {}), **self._credential},
                                      timeout=timeout, retries=retries, redirect=False,
                                      assert_same_host=False, preload_content=True)
        except HTTPError as exc:
            raise _unwrap(exc) from exc
        return UpstreamResponse(resp.status, resp.headers, resp.data)

    def request(self, method: str, path: str, *, query: str = "", body: bytes | None = None,
                headers: dict[str, str] | None = None,
                read_timeout_s: float | None = None) -> UpstreamResponse:
        """Send one request through the breaker; a 4xx/2xx/3xx answer is returned as is."""
        try:
            permit = self.breaker.allow()
        except CircuitOpenError as exc:
            raise UpstreamFailure(self.name, exc) from exc
        retries = _CONNECT_RETRY if method.upper() in IDEMPOTENT_METHODS else _NO_RETRY
        timeout = urllib3.Timeout(connect=self.connect_timeout_s,
                                  read=read_timeout_s or self.read_timeout_s)
        try:
            resp = self._send(method, path, query, body, headers, timeout, retries)
        except HTTPError as exc:
            if isinstance(exc, BREAKER_FAILURES):
                self.breaker.record(permit, failed=True)
            else:
                self.breaker.release(permit)
            raise UpstreamFailure(self.name, exc) from exc
        if resp.status_code >= 500:
            self.breaker.record(permit, failed=not answered_unavailable(resp))
            raise UpstreamFailure(self.name, ServerError(resp))
        self.breaker.record(permit, failed=False)
        return resp

    def stream(self, path: str, *, query: str = "", headers: dict[str, str] | None = None,
               read_timeout_s: float | None = None) -> StreamedResponse:
        """A GET whose body is relayed as it arrives (an export): the status and headers are
        read, the body is not. Breaker and errors as ``request``; a 5xx is read in full."""
        try:
            permit = self.breaker.allow()
        except CircuitOpenError as exc:
            raise UpstreamFailure(self.name, exc) from exc
        target = f"{path}?{query}" if query else path
        timeout = urllib3.Timeout(connect=self.connect_timeout_s,
                                  read=read_timeout_s or self.read_timeout_s)
        try:
            resp = self._pool.urlopen("GET", target, headers={**(headers or {}),
                                                              **self._credential},
                                      timeout=timeout, retries=_CONNECT_RETRY, redirect=False,
                                      assert_same_host=False, preload_content=False)
        except HTTPError as exc:
            exc = _unwrap(exc)
            self.breaker.record(permit, failed=isinstance(exc, BREAKER_FAILURES))
            raise UpstreamFailure(self.name, exc) from exc
        if resp.status >= 500:
            self.breaker.record(permit, failed=True)
            raise UpstreamFailure(self.name, ServerError(
                UpstreamResponse(resp.status, resp.headers, resp.data)))
        self.breaker.record(permit, failed=False)
        return StreamedResponse(resp.status, resp.headers, resp)

    def probe(self, path: str, timeout_s: float,
              headers: dict[str, str] | None = None) -> UpstreamResponse:
        """A health probe: no retry, bypasses the breaker and never counts toward it.

        Raises urllib3's ``HTTPError`` when the service cannot be reached in time.
        """
        timeout = urllib3.Timeout(connect=min(self.connect_timeout_s, timeout_s), read=timeout_s)
        return self._send("GET", path, "", None, headers, timeout, _NO_RETRY)

    def close(self) -> None:
        self._pool.close()


def build_clients(settings: GatewaySettings) -> dict[str, ServiceClient]:
    return {name: ServiceClient(name, url, settings)
            for name, url in settings.service_urls().items()}

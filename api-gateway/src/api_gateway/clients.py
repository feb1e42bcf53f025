"""One pooled, time-limited, circuit-broken HTTP client per downstream service."""
from __future__ import annotations

import logging
from http.cookiejar import DefaultCookiePolicy

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .breaker import Breaker
from .config import GatewaySettings
from .errors import CircuitOpenError, ServerError, UpstreamFailure

logger = logging.getLogger(__name__)

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# What says "the service is in trouble"; a 4xx is the client's problem and never counts.
BREAKER_FAILURES = (requests.ConnectionError, requests.Timeout,
                    requests.exceptions.ChunkedEncodingError)


def _session(pool_maxsize: int, retry: Retry) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # no proxies or .netrc between the gateway and the services
    # One session serves every caller: never keep a cookie from one answer for the next request.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=pool_maxsize, max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class ServiceClient:
    """Calls one service; raises ``UpstreamFailure`` for anything but a <500 answer.

    Reads (GET/HEAD/OPTIONS) get one retry when the connection cannot be opened; writes get
    none, so a POST is never sent twice by the gateway.
    """

    def __init__(self, name: str, base_url: str, settings: GatewaySettings) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.connect_timeout_s = settings.connect_timeout_s
        self.read_timeout_s = settings.read_timeout_s
        self.breaker = Breaker(name, settings.breaker_fail_max, settings.breaker_reset_s)
        # read=False re-raises read errors as they are, so a read timeout stays a Timeout (a
        # spent read budget would surface as MaxRetryError, which requests calls ConnectionError).
        no_retry = Retry(total=0, read=False)
        # Status retries off too: urllib3 would otherwise retry a 429/503 carrying Retry-After.
        connect_retry = Retry(total=1, connect=1, read=False, redirect=0, status=0, other=0,
                              respect_retry_after_header=False)
        self._once = _session(settings.pool_maxsize, no_retry)
        self._reads = _session(settings.pool_maxsize, connect_retry)

    def url(self, path: str, query: str = "") -> str:
        return f"{self.base_url}{path}?{query}" if query else f"{self.base_url}{path}"

    def request(self, method: str, path: str, *, query: str = "", body: bytes | None = None,
                headers: dict[str, str] | None = None,
                read_timeout_s: float | None = None) -> requests.Response:
        """Send one request through the breaker; a 4xx/2xx/3xx answer is returned as is."""
        wait = self.breaker.retry_after()
        if wait is not None:
            raise UpstreamFailure(self.name, CircuitOpenError(wait))
        session = self._reads if method.upper() in IDEMPOTENT_METHODS else self._once
        timeout = (self.connect_timeout_s, read_timeout_s or self.read_timeout_s)
        try:
            resp = session.request(method, self.url(path, query), data=body, headers=headers,
                                   timeout=timeout, allow_redirects=False)
        except requests.RequestException as exc:
            if isinstance(exc, BREAKER_FAILURES):
                self.breaker.record(failed=True)
            raise UpstreamFailure(self.name, exc) from exc
        if resp.status_code >= 500:
            self.breaker.record(failed=True)
            raise UpstreamFailure(self.name, ServerError(resp))
        self.breaker.record(failed=False)
        return resp

    def probe(self, path: str, timeout_s: float,
              headers: dict[str, str] | None = None) -> requests.Response:
        """A health probe: no retry, bypasses the breaker and never counts toward it."""
        timeout = (min(self.connect_timeout_s, timeout_s), timeout_s)
        return self._once.get(self.url(path), headers=headers, timeout=timeout,
                              allow_redirects=False)

    def close(self) -> None:
        self._once.close()
        self._reads.close()


def build_clients(settings: GatewaySettings) -> dict[str, ServiceClient]:
    return {name: ServiceClient(name, url, settings)
            for name, url in settings.service_urls().items()}

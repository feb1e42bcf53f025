"""Which URLs the service may call: sources and webhook receivers on the public internet,
never a private, loopback, link-local or otherwise non-global address unless allow-listed.

The check resolves the host and looks at every address it resolves to (a name pointing at
127.0.0.1 is refused like 127.0.0.1 itself). Redirects are never followed automatically: the
callers treat a 3xx as the answer (webhooks) or check the next URL here first (pagination).
"""
from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable, Iterable
from urllib.parse import urlsplit

Resolver = Callable[[str, int], list[str]]
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TargetRefusedError(ValueError):
    """The URL is not http(s), or resolves to an address the service must not call."""


# getaddrinfo has no timeout of its own: a name whose DNS server never answers would hold the
# request past the gateway's deadline. Lookups run on a small pool and are given this long.
RESOLVE_TIMEOUT_S = 2.0
_LOOKUPS = ThreadPoolExecutor(max_workers=4, thread_name_prefix="resolve")


def _getaddrinfo(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to; ``OSError`` when it does not within the timeout."""
    try:
        return _LOOKUPS.submit(_getaddrinfo, host, port).result(timeout=RESOLVE_TIMEOUT_S)
    except FutureTimeout as exc:
        raise OSError(f"no answer within {RESOLVE_TIMEOUT_S:g} s") from exc


class TargetPolicy:
    """``allow``: hosts, addresses or networks (``"127.0.0.1,10.0.0.0/8,helpdesk.local"``)."""

    def __init__(self, allow: str | Iterable[str] = "", resolver: Resolver = resolve) -> None:
        items = [a.strip() for a in (allow.split(",") if isinstance(allow, str) else allow)]
        self.networks: list[IpNetwork] = []
        self.hosts: set[str] = set()
        for item in filter(None, items):
            try:
                self.networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                self.hosts.add(item.lower())
        self.resolver = resolver

    def _allowed(self, address: IpAddress) -> bool:
        return address.is_global or any(address in net for net in self.networks)

    def check(self, url: str) -> None:
        """Raise ``TargetRefusedError`` unless ``url`` may be called."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise TargetRefusedError("only http and https URLs with a host")
        host = parts.hostname.lower()
        if host in self.hosts:
            return
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            addresses = self.resolver(host, port)
        except (OSError, UnicodeError) as exc:
            raise TargetRefusedError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise TargetRefusedError(f"{host} resolves to no address")
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            mapped = getattr(address, "ipv4_mapped", None)
            if not self._allowed(mapped or address):
                raise TargetRefusedError(
                    f"{host} resolves to {address}, a private, loopback or link-local address "
                    f"(allow it in INTEGRATION_SERVICE_ALLOW_PRIVATE_TARGETS)")

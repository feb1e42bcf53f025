"""A throwaway vhost with the suite's broker users (messaging.permissions), for tests."""
from __future__ import annotations

import contextlib
import secrets
from dataclasses import dataclass
from typing import Iterator
from urllib.parse import quote, urlsplit

import requests

from ..messaging import permissions
from .helpers import MANAGEMENT_URL


@dataclass(frozen=True)
class BrokerUsers:
    vhost: str
    user_prefix: str
    passwords: dict[str, str]
    amqp_host: str = "127.0.0.1:5672"

    def url(self, user: str) -> str:
        """The AMQP URL of ``user`` (``"routing-service"``, ``"operator"``, ``"admin"``)."""
        name = self.user_prefix + user
        return (f"amqp://{quote(name, safe='')}:{quote(self.passwords[name], safe='')}"
                f"@{self.amqp_host}/{quote(self.vhost, safe='')}")


@contextlib.contextmanager
def throwaway_broker_users(suffix: str, rabbitmq_url: str, *, exchange: str = "tickets",
                           dlx: str = "tickets.dlx", queue_prefix: str = "",
                           management_url: str = MANAGEMENT_URL) -> Iterator[BrokerUsers]:
    """Vhost ``ops-<suffix>`` and users ``<suffix>-<user>`` with random passwords; both deleted
    afterwards (with everything the vhost holds)."""
    users = permissions.users(exchange=exchange, dlx=dlx, queue_prefix=queue_prefix,
                              user_prefix=f"{suffix}-")
    access = BrokerUsers(f"ops-{suffix}", f"{suffix}-",
                         {u.name: secrets.token_urlsafe(16) for u in users},
                         urlsplit(rabbitmq_url).netloc.rpartition("@")[2])
    base = management_url.rstrip("/")
    try:
        permissions.apply(management_url, users, access.vhost, access.passwords)
        yield access
    finally:
        session = requests.Session()
        session.trust_env = False
        session.delete(f"{base}/api/vhosts/{quote(access.vhost, safe='')}", timeout=10)
        for user in users:
            session.delete(f"{base}/api/users/{quote(user.name, safe='')}", timeout=10)
        session.close()

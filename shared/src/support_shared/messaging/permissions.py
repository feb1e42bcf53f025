"""RabbitMQ users and permissions derived from the suite manifest: one user per service.

Least privilege, per vhost (RabbitMQ permissions are configure / write / read regexes):
- a service user (named like the service) configures nothing: the topology is declared by the
  ``migrate`` step with the admin user, and its processes only check it (``RABBITMQ_DECLARE=false``);
  it reads only its own queues (not their DLQs) and writes only to the exchanges it must use:
  ``tickets`` when it has a relay, ``tickets.dlx`` when it consumes (a consumer dead-letters a
  poison message itself, with the reason in the headers);
- ``operator``: the DLQ tools (gateway admin API, ticketctl): reads the DLQs and the unroutable
  queue, writes to ``tickets`` and the default exchange (replay), configures nothing;
- ``monitoring``: queue depths through the management API (tag ``monitoring``), no AMQP rights;
- ``admin``: everything (``migrate``, the console); never given to a long-running process.

A service added to ``SUITE`` gets its user here with no other change. ``definitions`` renders a
RabbitMQ definitions file (``deploy/rabbitmq/definitions.json`` is one, checked by a test);
``apply`` creates the users on a running broker through the management API.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
from dataclasses import dataclass
from typing import Any, Iterable
from urllib.parse import quote

from ..manifest import SUITE, Suite, dead_letter_queue
from .management import Management, direct_session

NOTHING = "^$"
OPERATOR = "operator"
MONITORING = "monitoring"
ADMIN = "admin"


@dataclass(frozen=True)
class BrokerUser:
    name: str
    configure: str
    write: str
    read: str
    tags: str = ""


def exactly(names: Iterable[str]) -> str:
    """A regex matching exactly ``names`` (nothing when there are none)."""
    names = sorted(set(names))
    return f"^({'|'.join(_escape(n) for n in names)})$" if names else NOTHING


def _escape(name: str) -> str:
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", name)


def users(suite: Suite = SUITE, *, exchange: str = "tickets", dlx: str = "tickets.dlx",
          queue_prefix: str = "", user_prefix: str = "") -> list[BrokerUser]:
    """Every broker user of ``suite``: one per service that uses the broker, operator, admin."""
    result = []
    for service in suite.services:
        if not (service.consumes or service.publishes):
            continue
        writes = ([exchange] if service.publishes else []) + ([dlx] if service.consumes else [])
        result.append(BrokerUser(f"{user_prefix}{service.name}", NOTHING, exactly(writes),
                                 exactly(service.queues(queue_prefix))))
    dead = [dead_letter_queue(q) for q in suite.queues(queue_prefix)]
    result.append(BrokerUser(f"{user_prefix}{OPERATOR}", NOTHING,
                             exactly(["amq.default", exchange]),
                             exactly([*dead, f"{exchange}.unroutable"]), tags="management"))
    # Reads queue depths through the management API (the analytics dashboard and its /metrics).
    result.append(BrokerUser(f"{user_prefix}{MONITORING}", NOTHING, NOTHING, NOTHING,
                             tags="monitoring"))
    result.append(BrokerUser(f"{user_prefix}{ADMIN}", ".*", ".*", ".*", tags="administrator"))
    return result


def password_env(user: str) -> str:
    """The variable holding ``user``'s password: ``RABBITMQ_PASSWORD_TICKET_SERVICE``..."""
    return "RABBITMQ_PASSWORD_" + re.sub(r"[^A-Z0-9]", "_", user.upper())


def dev_password(user: str) -> str:
    """The development default (like the compose database roles'): the user's own name."""
    return user


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's ``rabbit_password_hashing_sha256``: base64(salt + sha256(salt + password))."""
    salt = secrets.token_bytes(4) if salt is None else salt
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def hash_matches(stored: str, password: str) -> bool:
    salt = base64.b64decode(stored)[:4]
    return secrets.compare_digest(password_hash(password, salt), stored)


def definitions(broker_users: list[BrokerUser], vhost: str = "/",
                passwords: dict[str, str] | None = None) -> dict[str, Any]:
    """A RabbitMQ definitions document (``load_definitions``) with the users, the vhost and
    the permissions; passwords from ``passwords``, else ``$RABBITMQ_PASSWORD_<USER>``, else
    the development default."""
    passwords = passwords or {}

    def password(name: str) -> str:
        return passwords.get(name) or os.environ.get(password_env(name)) or dev_password(name)

    return {
        "users": [{"name": u.name, "password_hash": password_hash(password(u.name)),
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": u.tags}
                  for u in broker_users],
        "vhosts": [{"name": vhost}],
        "permissions": [{"user": u.name, "vhost": vhost, "configure": u.configure,
                         "write": u.write, "read": u.read} for u in broker_users],
    }


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"


def apply(management_url: str, broker_users: list[BrokerUser], vhost: str,
          passwords: dict[str, str], timeout_s: float = 10.0) -> None:
    """Create (or update) the vhost, ``broker_users`` and their permissions on a running broker
    through the management API at ``management_url`` (an administrator's credentials)."""
    admin = Management(management_url, vhost, timeout_s, session=direct_session())
    v = quote(vhost, safe="")
    try:
        _put(admin, f"vhosts/{v}", {})
        for u in broker_users:
            _put(admin, f"users/{quote(u.name, safe='')}",
                 {"password": passwords[u.name], "tags": u.tags})
            _put(admin, f"permissions/{v}/{quote(u.name, safe='')}",
                 {"configure": u.configure, "write": u.write, "read": u.read})
    finally:
        admin.close()


def _put(admin: Management, path: str, body: dict[str, Any]) -> None:
    resp = admin.session.put(f"{admin.base}/api/{path}", json=body, auth=admin.auth,
                             timeout=admin.timeout)
    resp.raise_for_status()


def main(argv: list[str] | None = None) -> None:
    """``python -m support_shared.messaging.permissions [--vhost /] [--out FILE]``: print (or
    write) the definitions file of the suite's users; passwords from ``RABBITMQ_PASSWORD_<USER>``."""
    parser = argparse.ArgumentParser(prog="python -m support_shared.messaging.permissions",
                                     description=main.__doc__)
    parser.add_argument("--vhost", default="/")
    parser.add_argument("--queue-prefix", default=os.environ.get("QUEUE_PREFIX", ""))
    parser.add_argument("--exchange", default=os.environ.get("EVENT_EXCHANGE", "tickets"))
    parser.add_argument("--dlx", default=os.environ.get("DEAD_LETTER_EXCHANGE", "tickets.dlx"))
    parser.add_argument("--out", default="-")
    args = parser.parse_args(argv)
    text = render(definitions(users(exchange=args.exchange, dlx=args.dlx,
                                    queue_prefix=args.queue_prefix), args.vhost))
    if args.out == "-":
        os.write(1, text.encode())
    else:
        with open(args.out, "w", encoding="utf-8") as out:
            out.write(text)


if __name__ == "__main__":
    main()

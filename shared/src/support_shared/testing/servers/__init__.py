"""Throwaway PostgreSQL and RabbitMQ servers for fault tests: own data dir, own ports, killable.

Fault tests stop, kill and freeze servers; the machine's shared servers (5432, 5672) must never
be touched, so each test session starts its own from the installed binaries::

    with ThrowawayPostgres() as pg, ThrowawayRabbit() as rabbit:
        env = {"DATABASE_URL": pg.url, "RABBITMQ_URL": rabbit.url}
        rabbit.kill(); rabbit.start()      # a crash: durable quorum queues survive
        pg.restart()                       # pg_ctl restart -m fast

``ThrowawayRabbitCluster`` (three nodes joined in a cluster) and ``ThrowawayPostgresPair`` (a
primary with a synchronous streaming standby) are the same servers, replicated.

Every wait is bounded; a server that does not come up raises ``ServerError`` with its log's
tail. ``initdb`` refuses root, so as root the PostgreSQL commands run as the ``postgres``
user (``runuser``). RabbitMQ runs as the current user with its own ``HOME`` (Erlang cookie),
node name, ports and an env file of its own, so ``/etc/rabbitmq/rabbitmq-env.conf`` (the
shared node's name) is ignored; it registers in the machine's epmd like any other node.
"""
from __future__ import annotations

from .common import ServerError, ServerUnavailable, free_port, port_open
from .postgres import ThrowawayPostgres
from .postgres_replica import ThrowawayPostgresPair
from .rabbit import ThrowawayRabbit
from .rabbit_cluster import ThrowawayRabbitCluster

__all__ = ["ServerError", "ServerUnavailable", "ThrowawayPostgres", "ThrowawayPostgresPair",
           "ThrowawayRabbit", "ThrowawayRabbitCluster", "free_port", "port_open"]

"""A throwaway three-node RabbitMQ cluster: own node names, ports, data dirs, one cookie.

    with ThrowawayRabbitCluster() as cluster:
        env = {"RABBITMQ_URL": cluster.url}          # the three node URLs, comma-separated
        node = cluster.leader_node(queue)            # which node leads a quorum queue
        node.kill(); node.start()                    # a crash, then the node rejoins

The nodes form the cluster by themselves (peer discovery from a list of the node names in
each ``rabbitmq.conf``): node 1 boots first, then nodes 2 and 3 boot side by side and join it.
No ``rabbitmqctl join_cluster`` round trips (each one boots an Erlang VM: slow on a busy
machine). Everything is declared after that, so a quorum queue gets a member on every node
(the default initial group size is the cluster's size). ``pause_minority``: a node cut off
from the other two stops serving instead of splitting the cluster.
"""
from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

from .common import ServerError
from .rabbit import ThrowawayRabbit

CONF = ("cluster_partition_handling = pause_minority",
        "cluster_formation.peer_discovery_backend = classic_config",
        # Node 1 is up before the others boot: no need to wait 5-60 s for a seed to win.
        "cluster_formation.randomized_startup_delay_range.min = 0",
        "cluster_formation.randomized_startup_delay_range.max = 1")


class ThrowawayRabbitCluster:
    """``size`` ``ThrowawayRabbit`` nodes sharing one Erlang cookie, joined into one cluster."""

    def __init__(self, size: int = 3, *, timeout_s: float = 180.0) -> None:
        cookie = uuid.uuid4().hex.upper()
        self.nodes = [ThrowawayRabbit(timeout_s=timeout_s, cookie=cookie) for _ in range(size)]
        peers = tuple(f"cluster_formation.classic_config.nodes.{i} = {node.node}"
                      for i, node in enumerate(self.nodes, 1))
        for node in self.nodes:
            node.extra_conf = CONF + peers

    @property
    def url(self) -> str:
        """Every node's AMQP URL, comma-separated (the ``RABBITMQ_URL`` of a cluster)."""
        return ",".join(node.url for node in self.nodes)

    def start(self) -> None:
        first, *others = self.nodes
        first.start()
        with ThreadPoolExecutor(len(others)) as pool:
            for started in [pool.submit(node.start) for node in others]:
                started.result()
        running = self.running_nodes()
        if sorted(running) != sorted(n.node for n in self.nodes):
            raise ServerError(f"cluster formed of {running}, not of every node")

    def running_nodes(self) -> list[str]:
        """The cluster's running nodes, as one live node sees them."""
        status = json.loads(self._any_running().ctl_command("cluster_status", "--formatter",
                                                            "json"))
        return list(status.get("running_nodes", []))

    def _any_running(self) -> ThrowawayRabbit:
        for node in self.nodes:
            if node.running:
                return node
        raise ServerError("no node of the cluster is running")

    def queues(self, *columns: str) -> list[dict[str, object]]:
        """``rabbitmqctl list_queues`` with ``columns`` (``name``, ``leader``, ``members``...)."""
        out = self._any_running().ctl_command("list_queues", "-q", "--formatter", "json",
                                              *columns)
        return list(json.loads(out or "[]"))

    def leader_node(self, queue: str) -> ThrowawayRabbit:
        """The node that leads quorum queue ``queue``."""
        for row in self.queues("name", "leader"):
            if row["name"] == queue:
                return self.node_named(str(row["leader"]))
        raise ServerError(f"no queue {queue}")

    def node_named(self, name: str) -> ThrowawayRabbit:
        return next(node for node in self.nodes if node.node == name)

    def ensure_running(self) -> None:
        for node in self.nodes:
            node.ensure_running()

    def destroy(self) -> None:
        for node in self.nodes:
            node.destroy()

    def __enter__(self) -> "ThrowawayRabbitCluster":
        try:
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.destroy()

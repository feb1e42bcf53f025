"""A three-node RabbitMQ cluster under a steady 20 creates/s: the node that leads the queues is
SIGKILLed and restarted 10 s later, then another node hangs (SIGSTOP) for 30 s. Every accepted
ticket is categorized, routed and counted exactly once, and the queues drain.

The services get the three node URLs (``RABBITMQ_URL``, comma-separated) and reconnect to
another node; the quorum queues have a member on every node and elect a new leader. The
figures give how long the pipeline (tickets routed) stood still after each fault.
"""
from __future__ import annotations

import os
import threading
import time
from collections import Counter

import pytest

from support_shared.testing.helpers import wait_until
from support_shared.testing.progress import ProgressSampler

pytestmark = [pytest.mark.faults, pytest.mark.heavy, pytest.mark.timeout(1200)]

# 20 creations/s; a machine whose gateway cannot take that may set a lower rate (the figures
# line reports the rate used).
RATE = float(os.environ.get("FAULTS_CLUSTER_RATE", "20"))
KILL_AT, DOWN_FOR, FREEZE_AFTER, FROZEN_FOR, TAIL = 5.0, 10.0, 2.0, 30.0, 5.0


def _leading(cluster, queues: list[str]):
    """The node leading most of ``queues``, among the running ones."""
    rows = {r["name"]: r["leader"] for r in cluster.queues("name", "leader")}
    counts = Counter(rows[q] for q in queues if q in rows)
    running = {n.node for n in cluster.nodes if n.running}
    name = next(n for n, _ in counts.most_common() if n in running)
    return cluster.node_named(name), counts


def test_cluster_survives_a_crashed_leader_and_a_hung_node(cluster_suite, rabbit_cluster,
                                                            figures):
    suite, cluster = cluster_suite, rabbit_cluster
    members = {r["name"]: r["members"] for r in cluster.queues("name", "members")}
    assert all(len(members[q]) == 3 for q in suite.queues), members  # quorum on all three
    since = suite.baseline()
    killed, leaders_before = _leading(cluster, suite.queues)
    at: dict[str, float] = {}
    frozen: list = []

    def restart() -> None:
        killed.start()                    # same data dir: it rejoins and catches up
        node, _ = _leading(cluster, suite.queues)   # rabbitmqctl: seconds, off the load loop
        frozen.append(node if node is not killed else
                      next(n for n in cluster.nodes if n is not killed))
        at["up"] = time.monotonic()

    starter = threading.Thread(target=restart)

    def fault(elapsed: float) -> None:   # runs between requests; must not block the load
        now = time.monotonic()
        if elapsed >= KILL_AT and "kill" not in at:
            killed.kill()                 # SIGKILL: sockets reset, its Ra members gone
            at["kill"] = now
        elif "kill" in at and starter.ident is None and now - at["kill"] >= DOWN_FOR:
            starter.start()
        elif "up" in at and "freeze" not in at and now - at["up"] >= FREEZE_AFTER:
            frozen[0].freeze()            # SIGSTOP: sockets open, nothing answers
            at["freeze"] = time.monotonic()
        elif "freeze" in at and "thaw" not in at and now - at["freeze"] >= FROZEN_FOR:
            frozen[0].thaw()
            at["thaw"] = time.monotonic()

    def routed() -> int:
        return suite.sql("ticket", "SELECT count(*) FROM tickets WHERE id > :i AND department "
                         "IS NOT NULL", i=since.max_ticket_id)[0][0]

    def done(_elapsed: float) -> bool:
        return "thaw" in at and time.monotonic() - at["thaw"] >= TAIL

    try:
        with ProgressSampler(routed) as progress:
            load = suite.run_load(RATE, 300, on_tick=fault, until=done)
            end = time.monotonic()
    finally:
        starter.join(120)
        for node in frozen:
            node.thaw()
    assert {"kill", "up", "freeze", "thaw"} <= set(at), f"load too short for the faults: {at}"
    wait_until(lambda: len(cluster.running_nodes()) == 3, timeout=120, interval=1,
               message="all three nodes running in the cluster again")
    audit = suite.audit(load.ids, since, timeout=300)
    figures("rabbit-cluster", sent=load.sent, accepted=len(load.accepted), lost=len(audit.lost),
            duplicated=audit.duplicated, rate=RATE,
            queues_led_by_killed=leaders_before[killed.node],
            node_down_s=round(at["up"] - at["kill"], 1),
            stalled_after_kill_s=progress.stall_after(at["kill"], at["freeze"]),
            stalled_after_freeze_s=progress.stall_after(at["freeze"], end),
            frozen_s=round(at["thaw"] - at["freeze"], 1),
            max_post_latency_s=round(load.max_latency_s, 2))
    # The broker is not on the path of POST /api/tickets: every request is accepted.
    assert load.statuses == {201: load.sent}, load.errors[:5]
    audit.assert_exactly_once()
    assert not any(suite.depths(suite.queues).values())

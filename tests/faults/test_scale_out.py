"""Consumers join and leave under steady load: two more AI and two more routing consumers start,
then one of each is SIGKILLed. Throughput rises when they join, no consumer holds more
unacknowledged messages than its prefetch, nothing is lost or applied twice, and a ticket's
later versions are never overwritten by earlier ones.

The AI provider (a local fake) takes ``DELAY_S`` per call, so one AI consumer categorizes
fewer tickets per second than the load creates and a backlog builds: competing consumers on
the same quorum queues must take it down. Meanwhile tickets go through their lifecycle
(three status changes each, one right after the other), so the competing routing and
analytics consumers see several versions of one ticket at once.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time

import pytest

from support_shared.testing.fake_anthropic import FakeAnthropic, tool_use
from support_shared.testing.helpers import wait_until
from support_shared.testing.progress import ProgressSampler
from support_shared.testing.servers import ServerError

pytestmark = [pytest.mark.faults, pytest.mark.heavy, pytest.mark.timeout(480)]

RATE, DELAY_S, ALONE_S, TOGETHER_S, AFTER_KILL_S = 10, 0.2, 20.0, 20.0, 15.0
LIFECYCLE = ("in_progress", "resolved", "closed")
EXTRA = [("ai-categorization-service", "consumer"), ("ai-categorization-service", "consumer"),
         ("routing-service", "consumer"), ("routing-service", "consumer")]
GOOD = tool_use({"department": "IT Support", "priority": "high", "confidence": 0.93,
                 "urgency": 0.7}, delay_s=DELAY_S)


class ChannelWatch:
    """Samples every consuming channel's unacknowledged messages (``rabbitmqctl``)."""

    def __init__(self, rabbit) -> None:
        self.rabbit = rabbit
        self.worst: dict[str, int] = {"unacked": 0, "prefetch": 0, "consumers": 0}
        self.over: list[dict] = []
        self.samples = 0
        self.failures: list[str] = []

    def sample(self) -> None:
        try:
            out = self.rabbit.ctl_command("list_channels", "-q", "--formatter", "json", "name",
                                          "consumer_count", "prefetch_count",
                                          "messages_unacknowledged", timeout=30)
        except (ServerError, subprocess.TimeoutExpired) as exc:
            self.failures.append(repr(exc))
            return
        for ch in json.loads(out or "[]"):
            if not ch["consumer_count"]:
                continue
            if ch["messages_unacknowledged"] > ch["prefetch_count"] * ch["consumer_count"]:
                self.over.append(ch)
            if ch["messages_unacknowledged"] > self.worst["unacked"]:
                self.worst = {"unacked": ch["messages_unacknowledged"],
                              "prefetch": ch["prefetch_count"],
                              "consumers": ch["consumer_count"]}
        self.samples += 1


def _lifecycle(suite, tid: int) -> None:
    for status in LIFECYCLE:
        resp = suite.request("PUT", f"/api/tickets/{tid}/status", json={"status": status})
        assert resp.status_code == 200, resp.text


def test_consumers_join_and_leave_under_load(suite, throwaway_rabbit, figures):
    since, marks = suite.baseline(), suite.log_marks()
    ai_env = {**suite.env, "ANTHROPIC_API_KEY": "test"}
    at: dict[str, float] = {}
    extra: list = []
    watch = ChannelWatch(throwaway_rabbit)
    stop = threading.Event()
    closed: list[int] = []

    def watcher() -> None:       # rabbitmqctl and logs take time: off the load loop
        while not stop.is_set():
            watch.sample()
            if "join" in at and "joined" not in at and all(
                    "consuming " in _tail(path, marks) for path in
                    suite.suite.log_dir.glob("extra-*.log")):
                at["joined"] = time.monotonic()   # every extra consumer is consuming
            stop.wait(1.0)

    def updater() -> None:   # the newest routed ticket through its lifecycle (closed is final)
        while not stop.is_set():
            newest = suite.sql("ticket", "SELECT coalesce(max(id), 0) FROM tickets "
                               "WHERE department IS NOT NULL")[0][0]
            if newest > since.max_ticket_id and newest not in closed:
                _lifecycle(suite, newest)
                closed.append(newest)
            stop.wait(0.5)

    def fault(elapsed: float) -> None:
        if elapsed >= ALONE_S and "join" not in at:
            extra.extend(suite.add_process(svc, cmd, env=ai_env) for svc, cmd in EXTRA)
            at["join"] = time.monotonic()
        elif "joined" in at and "kill" not in at and time.monotonic() - at["joined"] >= TOGETHER_S:
            for proc in (extra[0], extra[2]):     # one AI, one routing consumer, mid-work
                os.killpg(proc.pid, signal.SIGKILL)
            at["kill"] = time.monotonic()

    def done(_elapsed: float) -> bool:
        return "kill" in at and time.monotonic() - at["kill"] >= AFTER_KILL_S

    def categorized() -> int:
        return suite.sql("ai", "SELECT count(*) FROM categorizations WHERE ticket_id > :i",
                         i=since.max_ticket_id)[0][0]

    fake = FakeAnthropic(default=GOOD)
    with fake as base_url:
        ai_env["AI_SERVICE_ANTHROPIC_BASE_URL"] = base_url
        try:
            restarted = suite.log_marks()
            suite.suite.restart("ai-consumer", env=ai_env)
            wait_until(lambda: "consuming " in suite.logs(since=restarted).get(
                "ai-consumer.log", ""), timeout=120, interval=1,
                message="the AI consumer consuming (it trains its model first)")
            started = time.monotonic()
            threads = [threading.Thread(target=watcher), threading.Thread(target=updater)]
            with ProgressSampler(categorized, interval=0.5) as progress:
                for t in threads:
                    t.start()
                load = suite.run_load(RATE, 300, on_tick=fault, until=done)
                end = time.monotonic()
                stop.set()
                for t in threads:
                    t.join(90)
            audit = suite.audit(load.ids, since, timeout=240)
        finally:
            stop.set()
            suite.suite.restart("ai-consumer")   # back to the suite's own settings
    alone = progress.rate(started + 5, at["join"])
    together = progress.rate(at["joined"], at["kill"])
    after_kill = progress.rate(at["kill"] + 2, end)
    facts = {r.ticket_id: (r.status, r.department) for r in suite.sql(
        "analytics", "SELECT ticket_id, status, department FROM ticket_facts "
        "WHERE ticket_id = ANY(:ids)", ids=closed)}
    figures("scale-out", sent=load.sent, accepted=len(load.accepted), lost=len(audit.lost),
            duplicated=audit.duplicated, rate=RATE, ai_delay_s=DELAY_S,
            categorized_per_s_1_consumer=alone, categorized_per_s_3_consumers=together,
            categorized_per_s_after_kill=after_kill, lifecycles=len(closed),
            extra_consumers_up_s=round(at["joined"] - at["join"], 1),
            max_unacked_per_channel=watch.worst["unacked"],
            prefetch=watch.worst["prefetch"], channel_samples=watch.samples)
    assert load.statuses == {201: load.sent}, load.errors[:5]
    audit.assert_exactly_once()
    assert together > alone * 1.5, (alone, together)
    assert not watch.over, watch.over[:3]
    assert watch.samples >= 5, watch.failures[:3]
    # Every lifecycle ended closed everywhere: no earlier version overwrote a later one.
    assert closed and all(facts.get(t, (None,))[0] == "closed" for t in closed), facts
    statuses = {suite.request("GET", f"/api/tickets/{t}").json()["status"] for t in closed}
    assert statuses == {"closed"}
    wait_until(lambda: not any(suite.depths(suite.queues).values()), timeout=60,
               message="queues drained")


def _tail(path, marks) -> str:
    """What ``path`` logged since ``marks`` (all of it if it is newer)."""
    with open(path, "rb") as fh:
        fh.seek(marks.get(path, 0))
        return fh.read().decode(errors="replace")

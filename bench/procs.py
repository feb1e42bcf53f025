"""The suite's processes from a pids file (``var/run/suite.json`` format) and their memory:
every process of each one's process group (gunicorn master + workers), RSS and PSS from /proc."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Proc:
    name: str       # suite process name ("ticket-web"); workers get "ticket-web[worker]"
    pid: int
    rss_mb: float
    pss_mb: float | None


def load_pids(path: Path) -> dict[str, int]:
    """{process name: pid (its process group id)} of the live processes in ``path``."""
    entries = json.loads(path.read_text())
    return {e["name"]: e["pid"] for e in entries if Path(f"/proc/{e['pid']}").exists()}


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, process group) of ``pid``."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[2])


def _kb(path: Path, key: str) -> float | None:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        return None
    return None


def group_members(pgid: int) -> list[int]:
    members = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None and stat[1] == pgid:
                members.append(int(entry))
    return sorted(members)


def snapshot(pids: dict[str, int]) -> list[Proc]:
    """Every member of every suite process group, the group leader first."""
    procs = []
    for name, pgid in pids.items():
        for pid in group_members(pgid):
            rss = _kb(Path(f"/proc/{pid}/status"), "VmRSS")
            if rss is None:
                continue
            pss = _kb(Path(f"/proc/{pid}/smaps_rollup"), "Pss")
            label = name if pid == pgid else f"{name}[worker]"
            procs.append(Proc(label, pid, round(rss / 1024, 1),
                              round(pss / 1024, 1) if pss is not None else None))
    return procs


def memory_report(pids: dict[str, int]) -> dict[str, Any]:
    """Per process and per suite process name (master + workers summed)."""
    procs = snapshot(pids)
    by_name: dict[str, dict[str, float]] = {}
    for p in procs:
        base = p.name.split("[")[0]
        total = by_name.setdefault(base, {"processes": 0, "rss_mb": 0.0, "pss_mb": 0.0,
                                          "max_rss_mb": 0.0})
        total["processes"] += 1
        total["rss_mb"] = round(total["rss_mb"] + p.rss_mb, 1)
        total["pss_mb"] = round(total["pss_mb"] + (p.pss_mb or 0.0), 1)
        total["max_rss_mb"] = max(total["max_rss_mb"], p.rss_mb)
    return {
        "processes": [p.__dict__ for p in procs],
        "by_name": by_name,
        "max_process_rss_mb": max((p.rss_mb for p in procs), default=None),
        "total_pss_mb": round(sum(p.pss_mb or 0.0 for p in procs), 1),
    }


# The process allowed more memory than the others (the learned categorizer's libraries).
AI_CONSUMER = "ai-consumer"


def memory_peaks(*reports: dict[str, Any]) -> dict[str, Any]:
    """The largest RSS of any process, and of any process but the AI consumer, over the
    snapshots ``reports`` (memory_report results)."""
    procs = [p for r in reports for p in r.get("processes", [])]
    others = [p for p in procs if p["name"].split("[")[0] != AI_CONSUMER]
    top = max(procs, key=lambda p: p["rss_mb"], default=None)
    top_other = max(others, key=lambda p: p["rss_mb"], default=None)
    return {"max_process_rss_mb": top["rss_mb"] if top else None,
            "max_process": top["name"] if top else None,
            "max_rss_mb_but_ai_consumer": top_other["rss_mb"] if top_other else None,
            "max_process_but_ai_consumer": top_other["name"] if top_other else None}


CLK_TCK = os.sysconf("SC_CLK_TCK")
# The servers the suite depends on (shared with whoever else uses them), by listening port.
# Redis holds the gateway's rate-limit counters (counted from round four's second part on).
INFRA_PORTS = {"postgresql": 5432, "rabbitmq": 5672, "redis": 6379}


def _cpu_s(pid: int) -> float:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = raw[raw.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK   # utime + stime


def listener_pid(port: int) -> int | None:
    """The process listening on TCP ``port`` (from /proc/net/tcp* and the processes' fds)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{cols[9]}]")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
            if any(os.readlink(f"/proc/{entry}/fd/{fd}") in inodes for fd in fds):
                return int(entry)
        except OSError:
            continue
    return None


def infra_pids() -> dict[str, int]:
    """{server name: pid of the process listening on its port}; the servers found."""
    found = {name: listener_pid(port) for name, port in INFRA_PORTS.items()}
    return {name: pid for name, pid in found.items() if pid is not None}


def cpu_seconds(pids: dict[str, int], infra: dict[str, int]) -> dict[str, float]:
    """CPU seconds used so far by each suite process group (live workers included), and by
    each server in ``infra`` with its child processes (PostgreSQL backends)."""
    out: dict[str, float] = {name: 0.0 for name in [*pids, *infra]}
    groups = {pgid: name for name, pgid in pids.items()}
    parents = {pid: name for name, pid in infra.items()}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        stat = _stat(pid)
        if stat is None:
            continue
        name = groups.get(stat[1]) or parents.get(pid) or parents.get(stat[0])
        if name is not None:
            out[name] += _cpu_s(pid)
    return out


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]   # idle + iowait
    return float(sum(values) - idle), float(sum(values))


class CpuWindow:
    """CPU used by each process and by the whole machine between ``__init__`` and ``stop()``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.infra = infra_pids()
        self.start = cpu_seconds(pids, self.infra)
        self.machine = machine_busy()
        self.load_before = os.getloadavg()

    def stop(self, wall_s: float, per: int = 0) -> dict[str, Any]:
        end = cpu_seconds(self.pids, self.infra)
        busy, total = machine_busy()
        used = {k: round(end.get(k, 0.0) - self.start.get(k, 0.0), 2) for k in end}
        out: dict[str, Any] = {
            "load_average_before": [round(x, 2) for x in self.load_before],
            "machine_busy_share": round((busy - self.machine[0])
                                        / max(total - self.machine[1], 1), 3),
            "cpu_s": dict(sorted(used.items(), key=lambda kv: -kv[1])),
            "cores_used": round(sum(used.values()) / wall_s, 2) if wall_s else None,
        }
        if per:
            out["cpu_ms_per_ticket"] = {k: round(1000 * v / per, 2)
                                        for k, v in out["cpu_s"].items()}
            # every suite process, PostgreSQL and RabbitMQ together
            out["cpu_ms_per_ticket_total"] = round(1000 * sum(used.values()) / per, 2)
        return out

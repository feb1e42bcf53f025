"""The targets of the issue, checked against a run's results, as rows and as a text table."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

Row = dict[str, Any]


def _get(results: dict[str, Any], path: str) -> Any:
    node: Any = results
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


@dataclass(frozen=True)
class Target:
    label: str
    key: str                  # dotted path in the results (latest.json: "results" + key)
    unit: str
    target: str               # "-": shown for information, no verdict
    check: Callable[[Any], bool] = lambda v: True
    # why the value can be missing although its phase ran: (results) -> text, or None
    missing: Callable[[dict[str, Any]], str | None] = lambda r: None


def _not_recovered(results: dict[str, Any]) -> str | None:
    return _get(results, "burst.recovery") if "burst" in results else None


def _not_drained(phase: str) -> Callable[[dict[str, Any]], str | None]:
    def why(results: dict[str, Any]) -> str | None:
        return "unknown: not drained by the deadline" if phase in results else None
    return why


# The targets of the performance issue, in its order, then figures shown for information.
TARGETS: list[Target] = [
    Target("CPU per ticket, all processes, end to end (drain)",
           "drain.resources.cpu_ms_per_ticket_total", "ms", "<= 4", lambda v: v <= 4),
    Target("drain: created->categorized->routed->counted", "drain.tickets_per_s", "/s",
           ">= 400", lambda v: v >= 400),
    Target("create at 100 conn: rate", "create.ok_per_s", "/s", ">= 500", lambda v: v >= 500),
    Target("create at 100 conn: p99", "create.latency_ms.p99", "ms", "<= 200",
           lambda v: v <= 200),
    Target("create at 100 conn: errors", "create.errors", "", "0", lambda v: v == 0),
    Target("create at 100 conn: lost", "create.lost", "", "0", lambda v: v == 0,
           _not_drained("create")),
    Target("steady 100/s: create p50", "steady.latency_ms.p50", "ms", "<= 10",
           lambda v: v <= 10),
    Target("steady 100/s: create p95", "steady.latency_ms.p95", "ms", "<= 50",
           lambda v: v <= 50),
    Target("steady 100/s: create->routed p95", "steady.created_to_routed_ms.p95", "ms",
           "<= 200", lambda v: v <= 200),
    Target("burst: recovery (create->routed p95 <= 200 ms)", "burst.recovery_s", "s", "<= 30",
           lambda v: v <= 30, _not_recovered),
    Target("memory: largest process RSS", "memory.max_process_rss_mb", "MB", "<= 150",
           lambda v: v <= 150),
    Target("memory: largest RSS but the AI consumer", "memory.max_rss_mb_but_ai_consumer", "MB",
           "<= 60", lambda v: v <= 60),
    Target("create: p50", "create.latency_ms.p50", "ms", "-"),
    Target("create: drained after load", "create.drained_after_s", "s", "-"),
    Target("GET ticket: req/s", "reads.get_by_id.requests_per_s", "/s", "-"),
    Target("GET ticket: p99", "reads.get_by_id.latency_ms.p99", "ms", "-"),
    Target("GET list filtered: req/s", "reads.list_filtered.requests_per_s", "/s", "-"),
    Target("GET list filtered: p99", "reads.list_filtered.latency_ms.p99", "ms", "-"),
    Target("steady: create->routed p50", "steady.created_to_routed_ms.p50", "ms", "-"),
    Target("steady: create->routed p99", "steady.created_to_routed_ms.p99", "ms", "-"),
    Target("steady: unrouted at the deadline", "steady.unrouted_at_deadline", "", "-"),
    Target("steady: client errors (timeouts)", "steady.socket_error_total", "", "-"),
    Target("burst: creates/s during the burst", "burst.burst.ok_per_s", "/s", "-"),
    Target("burst: create p99 during the burst", "burst.burst.latency_ms.p99", "ms", "-"),
    Target("burst: low stream create->routed p95", "burst.low_stream.created_to_routed_ms.p95",
           "ms", "-"),
    Target("burst: lost", "burst.lost", "", "-"),
]


def rows(results: dict[str, Any]) -> list[Row]:
    out = []
    for t in TARGETS:
        label, value, why = t.label, _get(results, t.key), None
        if value is None:
            why = t.missing(results)
            verdict = "not run" if why is None else ("FAIL" if t.target != "-" else "")
        else:
            verdict = "" if t.target == "-" else ("pass" if t.check(value) else "FAIL")
        if t.key.startswith("drain.") and _get(results, "drain.done") is False:
            if t.key == "drain.tickets_per_s":
                label, verdict = label + " (unfinished: routed/s)", "FAIL"
            else:   # CPU of unfinished tickets is partly missing
                label += " (drain unfinished: too low)"
        out.append({"measure": label, "key": t.key, "value": value, "unit": t.unit,
                    "target": t.target, "result": verdict, "note": why})
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _value(row: Row) -> str:
    if row["value"] is None:
        return row.get("note") or "-"   # why a figure is missing
    return f"{_fmt(row['value'])} {row['unit']}".strip()


def table(results_rows: list[Row]) -> str:
    header = ("measure", "value", "target", "result")
    lines = [[r["measure"], _value(r), r["target"], r["result"]] for r in results_rows]
    widths = [max(len(str(x[i])) for x in [list(header), *lines]) for i in range(4)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)


def markdown(results_rows: list[Row]) -> str:
    out = ["| measure | value | target | result |", "| --- | --- | --- | --- |"]
    for r in results_rows:
        out.append(f"| {r['measure']} | {_value(r)} | {r['target']} | {r['result']} |")
    return "\n".join(out)


def _cpu_table(resources: dict[str, Any], title: str) -> list[str]:
    per = resources.get("cpu_ms_per_ticket", {})
    out = [f"| process | {title} |", "| --- | --- |"]
    out += [f"| {name} | {ms} |" for name, ms in per.items() if ms]
    out.append(f"| **total** | **{round(sum(per.values()), 1)}** |")
    return out


def _memory_table(results: dict[str, Any]) -> list[str]:
    idle = results.get("memory_idle", {}).get("by_name", {})
    after = results.get("memory_after", {}).get("by_name", {})
    out = ["| process | processes | RSS idle (MB, sum) | RSS after (MB, sum) "
           "| largest RSS after (MB) | PSS after (MB) |", "| --- | --- | --- | --- | --- | --- |"]
    for name in after or idle:
        a, i = after.get(name, {}), idle.get(name, {})
        out.append(f"| {name} | {a.get('processes', i.get('processes'))} | {i.get('rss_mb')} | "
                   f"{a.get('rss_mb')} | {a.get('max_rss_mb')} | {a.get('pss_mb')} |")
    return out


def details_markdown(run: dict[str, Any]) -> str:
    """Targets, CPU per ticket, memory and queue peaks of one run, for docs/performance.md."""
    results = run["results"]
    parts = [markdown(run["targets"])]
    if "drain" in results:
        parts.append("\n".join(_cpu_table(results["drain"]["resources"],
                                          "CPU ms per ticket (drain: create + whole pipeline)")))
    if "create" in results:
        parts.append("\n".join(_cpu_table(results["create"]["resources"],
                                          "CPU ms per ticket (during the create load)")))
    parts.append("\n".join(_memory_table(results)))
    for phase in ("create", "steady", "burst", "drain"):
        queues = results.get(phase, {}).get("queues") or {}
        if queues:
            rows = [f"| {q} | {v['max_ready']} | {v['peak_at_s']} | {v['last_nonempty_at_s']} |"
                    for q, v in queues.items()]
            parts.append(f"Queues during {phase}:\n\n| queue | max ready | peak at s | "
                         "last non-empty at s |\n| --- | --- | --- | --- |\n" + "\n".join(rows))
    return "\n\n".join(parts) + "\n"

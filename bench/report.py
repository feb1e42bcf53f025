"""The targets of the issue, checked against a run's results, as rows and as a text table."""
from __future__ import annotations

from typing import Any, Callable

Row = dict[str, Any]


def _get(results: dict[str, Any], path: str) -> Any:
    node: Any = results
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


# (label, path in the results, unit, target text, check)
TARGETS: list[tuple[str, str, str, str, Callable[[Any], bool]]] = [
    ("create: tickets/s at 100 conn", "create.ok_per_s", "/s", ">= 1500", lambda v: v >= 1500),
    ("create: p50 latency", "create.latency_ms.p50", "ms", "-", lambda v: True),
    ("create: p99 latency", "create.latency_ms.p99", "ms", "<= 100", lambda v: v <= 100),
    ("create: non-2xx", "create.non_2xx", "", "0", lambda v: v == 0),
    ("create: socket errors", "create.socket_error_total", "", "0", lambda v: v == 0),
    ("create: lost (not routed)", "create.lost", "", "0", lambda v: v == 0),
    ("create: unrouted at the deadline", "create.unrouted_at_deadline", "", "-",
     lambda v: True),
    ("create: drained after load", "create.drained_after_s", "s", "-", lambda v: True),
    ("GET ticket: req/s", "reads.get_by_id.requests_per_s", "/s", "-", lambda v: True),
    ("GET ticket: p99", "reads.get_by_id.latency_ms.p99", "ms", "-", lambda v: True),
    ("GET list filtered: req/s", "reads.list_filtered.requests_per_s", "/s", "-", lambda v: True),
    ("GET list filtered: p99", "reads.list_filtered.latency_ms.p99", "ms", "-", lambda v: True),
    ("steady: create p50", "steady.latency_ms.p50", "ms", "<= 10", lambda v: v <= 10),
    ("steady: create p95", "steady.latency_ms.p95", "ms", "<= 50", lambda v: v <= 50),
    ("steady: create->routed p50", "steady.created_to_routed_ms.p50", "ms", "-", lambda v: True),
    ("steady: create->routed p95", "steady.created_to_routed_ms.p95", "ms", "<= 200",
     lambda v: v <= 200),
    ("steady: create->routed p99", "steady.created_to_routed_ms.p99", "ms", "-", lambda v: True),
    ("steady: unrouted at the deadline", "steady.unrouted_at_deadline", "", "-",
     lambda v: True),
    ("steady: client errors (timeouts)", "steady.socket_error_total", "", "-", lambda v: True),
    ("drain: tickets/s end to end", "drain.tickets_per_s", "/s", ">= 1000", lambda v: v >= 1000),
    ("memory: largest process RSS", "memory.max_process_rss_mb", "MB", "<= 150",
     lambda v: v <= 150),
]


def rows(results: dict[str, Any]) -> list[Row]:
    out = []
    for label, path, unit, target, check in TARGETS:
        value = _get(results, path)
        verdict = "-" if value is None else ("" if target == "-" else
                                             ("pass" if check(value) else "FAIL"))
        if path.startswith("drain.") and _get(results, "drain.done") is False:
            label, verdict = label + " (unfinished: routed/s)", "FAIL"
        out.append({"measure": label, "value": value, "unit": unit, "target": target,
                    "result": verdict if value is not None else "not run"})
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}" if value >= 100 else f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(results_rows: list[Row]) -> str:
    header = ("measure", "value", "target", "result")
    lines = [[r["measure"], f"{_fmt(r['value'])} {r['unit']}".strip(), r["target"], r["result"]]
             for r in results_rows]
    widths = [max(len(str(x[i])) for x in [list(header), *lines]) for i in range(4)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    out = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    out += [fmt.format(*line) for line in lines]
    return "\n".join(out)


def markdown(results_rows: list[Row]) -> str:
    out = ["| measure | value | target | result |", "| --- | --- | --- | --- |"]
    for r in results_rows:
        out.append(f"| {r['measure']} | {_fmt(r['value'])} {r['unit']} | {r['target']} | "
                   f"{r['result']} |")
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
    for phase in ("create", "steady", "drain"):
        queues = results.get(phase, {}).get("queues") or {}
        if queues:
            rows = [f"| {q} | {v['max_ready']} | {v['peak_at_s']} | {v['last_nonempty_at_s']} |"
                    for q, v in queues.items()]
            parts.append(f"Queues during {phase}:\n\n| queue | max ready | peak at s | "
                         "last non-empty at s |\n| --- | --- | --- | --- |\n" + "\n".join(rows))
    return "\n\n".join(parts) + "\n"

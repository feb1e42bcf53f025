"""Output of every command: aligned text tables and blocks for people, JSON for scripts."""
from __future__ import annotations

from typing import Any, Sequence

from support_shared.commands import DASH, table
from support_shared.commands import cell as _cell
from support_shared.messaging.dlq import QueueDepth, ReplayResult, original_queue_of
from support_shared.messaging.dead_letters import DeadMessage

from .outbox import OutboxReport
from .status import GatewayHealth, QueueRow

# dlq list -------------------------------------------------------------------------------------

def depth_dict(depth: QueueDepth) -> dict[str, Any]:
    return {"queue": depth.name, "messages": depth.messages, "consumers": depth.consumers,
            "original_queue": original_queue_of(depth.name)}


def render_dlq_list(depths: Sequence[QueueDepth]) -> str:
    if not depths:
        return "no dead-letter queues found"
    rows = [(d.name, d.messages, d.consumers, original_queue_of(d.name) or "(unroutable)")
            for d in depths]
    total = sum(d.messages for d in depths)
    body = table(("QUEUE", "MESSAGES", "CONSUMERS", "FROM"), rows, numeric=(1, 2))
    return f"{body}\n\n{total} dead message(s) in {len(depths)} queue(s)"


# dlq show -------------------------------------------------------------------------------------

def _deaths(message: DeadMessage) -> str:
    if not message.deaths:
        return DASH
    return "; ".join(f"{d.reason or '?'} x{d.count} from {d.queue or '?'}" for d in message.deaths)


def render_message(index: int, message: DeadMessage) -> str:
    head = (f"[{index}] event {_cell(message.event_id)}  {_cell(message.event_type)}  "
            f"ticket {_cell(message.ticket_id)}  tenant {_cell(message.tenant_id)}")
    fields = [
        ("message-id", message.message_id),
        ("x-error-type", message.error_type),
        ("x-error-reason", message.error_reason),
        ("x-original-queue", message.original_queue),
        ("x-failed-at", message.failed_at),
        ("x-death", _deaths(message)),
        ("x-replay-count", message.replay_count),
        ("replay to", message.target.describe() if message.target else None),
    ]
    width = max(len(name) for name, _ in fields)
    return "\n".join([head] + [f"    {name.ljust(width)}  {_cell(v)}" for name, v in fields])


def render_messages(queue: str, messages: Sequence[DeadMessage]) -> str:
    if not messages:
        return f"{queue}: no messages"
    blocks = [render_message(i, m) for i, m in enumerate(messages, start=1)]
    footer = f"{len(messages)} message(s) shown from {queue}; all were put back"
    return "\n\n".join(blocks + [footer])


# dlq replay / purge ---------------------------------------------------------------------------

def replay_dict(result: ReplayResult) -> dict[str, Any]:
    return {
        "queue": result.queue,
        "replayed": result.replayed,
        "skipped": result.skipped,
        "failed": result.failed,
        "messages": [
            {"message_id": o.message.message_id, "event_id": o.message.event_id,
             "status": o.status, "target": o.target.describe() if o.target else None,
             "error": o.error}
            for o in result.outcomes
        ],
    }


def render_replay(result: ReplayResult, unroutable_queue: str | None = None) -> str:
    lines = []
    for o in result.outcomes:
        if o.status == "skipped" and o.error == "not selected":
            continue
        where = f" -> {o.target.describe()}" if o.target else ""
        why = f"  ({o.error})" if o.error else ""
        ident = o.message.event_id or o.message.message_id or "?"
        lines.append(f"{o.status:<8}  {ident}{where}{why}")
    lines.append(f"replayed {result.replayed}, skipped {result.skipped}, failed {result.failed}"
                 f" (from {result.queue})")
    if result.replayed and result.queue == unroutable_queue:
        lines.append(f"note: a message whose routing key still has no binding is back in "
                     f"{unroutable_queue}; check with `ticketctl dlq list`")
    return "\n".join(lines)


def render_purge(queue: str, removed: int) -> str:
    return f"purged {removed} message(s) from {queue}"


# outbox status --------------------------------------------------------------------------------

def render_outbox(reports: Sequence[OutboxReport]) -> str:
    rows = []
    for r in reports:
        s = r.status
        rows.append((r.service, r.schema,
                     s.backlog if s else None,
                     s.oldest_unpublished_age_s if s else None,
                     s.failing if s else None,
                     r.error))
    return table(("SERVICE", "SCHEMA", "BACKLOG", "OLDEST_AGE_S", "FAILING", "ERROR"),
                 rows, numeric=(2, 3, 4))


# status ---------------------------------------------------------------------------------------

def health_dict(health: GatewayHealth) -> dict[str, Any]:
    return {"url": health.url, "status": health.status, "http_status": health.http_status,
            "checks": health.checks, "error": health.error}


def render_health(health: GatewayHealth) -> str:
    code = f" (HTTP {health.http_status})" if health.http_status else ""
    error = f": {health.error}" if health.error else ""
    lines = [f"Gateway {health.url}: {health.status}{code}{error}"]
    if health.checks:
        width = max(len(k) for k in health.checks)
        lines += [f"  {name.ljust(width)}  {state}" for name, state in health.checks.items()]
    return "\n".join(lines)


def render_queues(rows: Sequence[QueueRow]) -> str:
    if not rows:
        return "no queues found"
    return table(("QUEUE", "MESSAGES", "CONSUMERS", "DLQ_MESSAGES"),
                 [(r.name, r.messages, r.consumers, r.dlq_messages) for r in rows],
                 numeric=(1, 2, 3))


def render_status(health: GatewayHealth, queues: Sequence[QueueRow] | None, queue_error: str | None,
                  outbox: Sequence[OutboxReport]) -> str:
    queue_part = render_queues(queues) if queues is not None else f"unavailable: {queue_error}"
    return "\n\n".join([
        render_health(health),
        "Queues\n" + queue_part,
        "Outbox\n" + render_outbox(outbox),
    ])

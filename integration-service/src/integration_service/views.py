"""JSON views of the service's rows (secrets never appear in them)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Row
from support_shared.web import encode_cursor

from .mapping import effective_maps


def source_json(row: Row) -> dict[str, Any]:
    config = row.config
    fields, priorities = effective_maps(row.kind, config)
    return {
        "name": row.name, "kind": row.kind, "base_url": config["base_url"],
        "path": config.get("path", ""), "pagination": config.get("pagination") or {},
        "field_map": fields, "defaults": config.get("defaults") or {},
        "priority_map": priorities,
        "has_credentials": bool(config.get("has_credentials")),
        "has_webhook_secret": bool(config.get("has_webhook_secret")),
        "schedule_minutes": row.schedule_minutes, "cursor": row.cursor,
        "next_sync_at": row.next_sync_at, "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def job_json(row: Row) -> dict[str, Any]:
    return {
        "id": str(row.id), "source": row.source, "status": row.status, "trigger": row.trigger,
        "pages": row.pages, "counts": row.counts, "errors": row.errors, "cursor": row.cursor,
        "created_at": row.created_at, "started_at": row.started_at,
        "finished_at": row.finished_at,
    }


def subscription_json(row: Row) -> dict[str, Any]:
    return {
        "id": str(row.id), "url": row.url, "event_types": list(row.event_types),
        "active": row.active, "description": row.description,
        "disabled_reason": row.disabled_reason, "failing_since": row.failing_since,
        "created_at": row.created_at, "updated_at": row.updated_at,
    }


def delivery_json(row: Row) -> dict[str, Any]:
    return {
        "id": str(row.id), "event_id": str(row.event_id), "event_type": row.event_type,
        "status": row.status, "attempts": row.attempts,
        "last_status_code": row.last_status_code, "last_error": row.last_error,
        "next_attempt_at": row.next_attempt_at if row.status == "pending" else None,
        "created_at": row.created_at, "delivered_at": row.delivered_at,
    }


def page_json(key: str, rows: list[Row], limit: int, view: Any) -> dict[str, Any]:
    """A page of ``limit`` rows (one more was read to know whether a next page exists)."""
    more = len(rows) > limit
    rows = rows[:limit]
    return {key: [view(r) for r in rows],
            "next_cursor": encode_cursor(rows[-1].seq) if more and rows else None}

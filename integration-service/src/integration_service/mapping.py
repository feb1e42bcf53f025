"""Field mapping: a source's record (any JSON object) -> one item of ticket-service's batch
upsert (``source`` and ``external_id`` always set)."""
from __future__ import annotations

from typing import Any

ZENDESK_FIELD_MAP = {
    "external_id": "id", "title": "subject", "description": "description",
    "priority": "priority", "tags": "tags", "external_updated_at": "updated_at",
    "user_name": "via.source.from.name", "user_email": "via.source.from.address",
}
ZENDESK_PRIORITIES = {"urgent": "critical", "high": "high", "normal": "medium", "low": "low"}
MAX_EXTERNAL_ID = 200


class MappingError(ValueError):
    """The record cannot become a batch item (no external id)."""


def dig(record: Any, path: str) -> Any:
    """The value at a dotted path (``"requester.email"``, ``"items.0.id"``); None if absent."""
    value = record
    for key in filter(None, path.split(".")):
        if isinstance(value, dict):
            value = value.get(key)
        elif isinstance(value, list) and key.isdigit() and int(key) < len(value):
            value = value[int(key)]
        else:
            return None
    return value


def effective_maps(kind: str, config: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """The field map and priority map in force: a Zendesk source starts from the defaults."""
    fields = dict(ZENDESK_FIELD_MAP) if kind == "zendesk" else {}
    priorities = dict(ZENDESK_PRIORITIES) if kind == "zendesk" else {}
    fields.update(config.get("field_map") or {})
    priorities.update(config.get("priority_map") or {})
    return fields, priorities


def map_record(record: Any, *, source: str, kind: str, config: dict[str, Any]) -> dict[str, Any]:
    fields, priorities = effective_maps(kind, config)
    item: dict[str, Any] = dict(config.get("defaults") or {})
    for field, path in fields.items():
        value = dig(record, path)
        if value is not None:
            item[field] = value
    external_id = item.get("external_id")
    if external_id is None or external_id == "":
        raise MappingError(f"no external id at {fields.get('external_id', '(unmapped)')!r}")
    item["external_id"] = str(external_id)[:MAX_EXTERNAL_ID]
    if isinstance(item.get("priority"), str):
        item["priority"] = priorities.get(item["priority"].lower(), item["priority"].lower())
    if isinstance(item.get("tags"), list):
        item["tags"] = list(dict.fromkeys(str(t) for t in item["tags"]))
    item["source"] = source
    return item


def dedupe(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One item per external id (a record repeated within a page: the last copy wins)."""
    return list({item["external_id"]: item for item in items}.values())

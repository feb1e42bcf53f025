"""A fake of ticket-service's batch upsert, speaking the contract of docs/integrations.md:
``POST /api/tickets/batch`` (internal token, tenant header), upsert on (tenant, source,
external_id), per-item results and counts."""
from __future__ import annotations

import threading
from typing import Any

from .server import LocalServer, Reply, Request, json_reply

REQUIRED = ("title", "description", "user_name", "user_email")
FIELDS = (*REQUIRED, "priority", "tags", "external_updated_at")


class FakeTicketService:
    def __init__(self, token: str) -> None:
        self.token = token
        self.tickets: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.calls: list[tuple[str, list[dict[str, Any]]]] = []
        self.faults: list[int] = []
        self.missing = False            # answer 404, as before the batch branch is merged
        self.lock = threading.Lock()
        self.server = LocalServer(self.respond)

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self.server.close()

    def respond(self, request: Request) -> Reply:
        if request.method != "POST" or request.path != "/api/tickets/batch" or self.missing:
            return json_reply(404, {"error": {"code": "not_found", "message": "no route"}})
        if request.headers.get("X-Internal-Token") != self.token:
            return json_reply(401, {"error": {"code": "unauthorized", "message": "token"}})
        with self.lock:
            if self.faults:
                return json_reply(self.faults.pop(0), {"error": {"code": "fault",
                                                                 "message": "injected"}})
            tenant = request.headers.get("X-Tenant-ID", "default")
            items = request.json()["tickets"]
            self.calls.append((tenant, items))
            results = [self._upsert(tenant, index, item) for index, item in enumerate(items)]
        counts = {k: sum(r["status"] == k for r in results)
                  for k in ("created", "updated", "unchanged")}
        counts["failed"] = sum(r["status"] == "error" for r in results)
        return json_reply(200, {"results": results, "counts": counts})

    def _upsert(self, tenant: str, index: int, item: dict[str, Any]) -> dict[str, Any]:
        key = (tenant, item.get("source", ""), item.get("external_id", ""))
        fields = {k: item[k] for k in FIELDS if k in item}
        current = self.tickets.get(key)
        if current is None:
            missing = [k for k in REQUIRED if not item.get(k)]
            if missing:
                return {"index": index, "status": "error", "error": {
                    "code": "validation_error", "message": f"missing {', '.join(missing)}"}}
            self.tickets[key] = {"id": len(self.tickets) + 1, "version": 1, **fields}
            return {"index": index, "status": "created", "id": self.tickets[key]["id"],
                    "version": 1}
        if all(current.get(k) == v for k, v in fields.items()):
            return {"index": index, "status": "unchanged", "id": current["id"],
                    "version": current["version"]}
        current.update(fields, version=current["version"] + 1)
        return {"index": index, "status": "updated", "id": current["id"],
                "version": current["version"]}

    def created_ids(self, tenant: str = "default") -> list[str]:
        return sorted(k[2] for k in self.tickets if k[0] == tenant)

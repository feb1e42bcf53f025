"""Tenants and API keys through ticket-service's internal endpoints (``/internal/...``).

Those endpoints are only reachable where ticket-service listens (127.0.0.1 locally, the
internal network in compose): run ticketctl there, with the suite's internal credential
(``INTERNAL_API_TOKEN``, or the file ``var/internal-token`` that ``make run``/``make up`` write).
"""
from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
from support_shared.internal import TOKEN_HEADER

from .config import CtlSettings
from .errors import TicketctlError, Unavailable

logger = logging.getLogger(__name__)

DEV_TENANT = "default"
DEV_SCOPES = ("read", "write", "admin")


class Refused(TicketctlError):
    """ticket-service answered with a 4xx: the message is its error message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class InternalClient:
    """HTTP to one internal service with the internal credential: a 4xx is ``Refused`` with
    the service's message, no answer or a 5xx is ``Unavailable``."""

    def __init__(self, settings: CtlSettings, base_url: str | None = None) -> None:
        self.base = (base_url or settings.ticket_service_url).rstrip("/")
        self.timeout = settings.http_timeout_s
        self.session = requests.Session()
        self.session.trust_env = False
        token = settings.internal_credential()
        if token:
            self.session.headers[TOKEN_HEADER] = token

    def _call(self, method: str, path: str, *, base: str | None = None, **kw: Any) -> Any:
        base = base or self.base
        try:
            resp = self.session.request(method, base + path, timeout=self.timeout, **kw)
        except requests.RequestException as exc:
            raise Unavailable(f"the service at {base} is unreachable: {exc}") from exc
        try:
            body = resp.json()
        except ValueError:
            body = None
        if resp.status_code >= 500 or not isinstance(body, dict):
            raise Unavailable(f"{base} answered HTTP {resp.status_code} on {path}")
        error = body.get("error") or {}
        if resp.status_code == 401 and error.get("code") == "unauthorized":
            raise Unavailable(f"{base} refused ticketctl's internal credential: set "
                              "INTERNAL_API_TOKEN (or INTERNAL_API_TOKEN_FILE) to the suite's")
        if resp.status_code >= 400:
            raise Refused(resp.status_code, str(error.get("code", "")),
                          str(error.get("message", f"HTTP {resp.status_code}")))
        return body


class AccountsClient(InternalClient):
    """Tenants and API keys, in ticket-service's internal API."""

    def create_tenant(self, tenant_id: str, name: str | None = None) -> dict[str, Any]:
        payload = {"tenant_id": tenant_id, **({"name": name} if name else {})}
        return self._call("POST", "/internal/tenants", json=payload)

    def list_tenants(self) -> list[dict[str, Any]]:
        return self._call("GET", "/internal/tenants")["tenants"]

    def get_tenant(self, tenant_id: str) -> dict[str, Any]:
        return self._call("GET", f"/internal/tenants/{quote(tenant_id, safe='')}")

    def set_tenant_enabled(self, tenant_id: str, enabled: bool) -> dict[str, Any]:
        action = "enable" if enabled else "disable"
        return self._call("POST", f"/internal/tenants/{quote(tenant_id, safe='')}/{action}")

    def erase_tenant(self, base_url: str, tenant_id: str) -> dict[str, Any]:
        """``DELETE /internal/tenants/<id>/data`` on the service at ``base_url``."""
        return self._call("DELETE", f"/internal/tenants/{quote(tenant_id, safe='')}/data",
                          base=base_url.rstrip("/"))

    def create_key(self, tenant_id: str, scopes: list[str], name: str = "") -> dict[str, Any]:
        return self._call("POST", "/internal/keys",
                          json={"tenant_id": tenant_id, "scopes": scopes, "name": name})

    def list_keys(self, tenant_id: str | None = None) -> list[dict[str, Any]]:
        params = {"tenant_id": tenant_id} if tenant_id else None
        return self._call("GET", "/internal/keys", params=params)["keys"]

    def revoke_key(self, key_id: int) -> dict[str, Any]:
        return self._call("POST", f"/internal/keys/{key_id}/revoke")

    def verify_key(self, key: str) -> dict[str, Any] | None:
        try:
            return self._call("POST", "/internal/keys/verify", json={"key": key})
        except Refused as exc:
            if exc.status in (400, 401):
                return None
            raise

    def close(self) -> None:
        self.session.close()


def ensure_tenant(client: AccountsClient, tenant_id: str) -> bool:
    """Create ``tenant_id`` unless it exists; True if it was created."""
    try:
        client.create_tenant(tenant_id)
    except Refused as exc:
        if exc.code != "tenant_exists":
            raise
        return False
    return True


def _write_secret(path: Path, key: str) -> None:
    """Write ``key`` readable by the owner only, replacing the file in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    os.replace(tmp, path)


def ensure_dev_key(client: AccountsClient, path: Path,
                   tenant_id: str = DEV_TENANT) -> tuple[str, bool]:
    """The development admin key in ``path``; a new one (tenant created if needed) unless the
    file already holds a key that verifies with every scope. Returns (key, created)."""
    if path.exists():
        key = path.read_text().strip()
        found = client.verify_key(key) if key else None
        if found is not None and set(DEV_SCOPES) <= set(found.get("scopes", [])):
            logger.info("%s holds a valid key of tenant %s", path, found.get("tenant_id"))
            return key, False
    ensure_tenant(client, tenant_id)
    issued = client.create_key(tenant_id, list(DEV_SCOPES), name="dev")
    _write_secret(path, issued["key"])
    logger.info("issued dev key %s for tenant %s into %s", issued["id"], tenant_id, path)
    return issued["key"], True

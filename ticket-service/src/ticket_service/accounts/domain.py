"""Tenants and their API keys: key format, hashing, scopes, and the errors the rules raise."""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from support_shared.api_keys import KEY_PATTERN, KEY_PREFIX

from ..tickets.domain import DomainError

SCOPES: tuple[str, ...] = ("read", "write", "admin")
_TENANT_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_KEY_RE = KEY_PATTERN     # one definition, shared with the gateway's pre-check


class TenantExistsError(DomainError):
    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        super().__init__(f"tenant {tenant_id!r} already exists")


class TenantNotFoundError(DomainError):
    def __init__(self, tenant_id: str) -> None:
        self.tenant_id = tenant_id
        super().__init__(f"tenant {tenant_id!r} not found")


class KeyNotFoundError(DomainError):
    def __init__(self, key_id: int) -> None:
        self.key_id = key_id
        super().__init__(f"API key {key_id} not found")


def check_tenant_id(tenant_id: str) -> str:
    """Tenant ids travel in headers and events: lower-case letters, digits, ``-``, ``_``."""
    if not _TENANT_RE.match(tenant_id):
        raise ValueError("a tenant id is 1-63 of a-z, 0-9, '-', '_' and starts with a letter "
                         "or digit")
    return tenant_id


def normalize_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """Known scopes, each once, in canonical order; at least one."""
    wanted = {s.strip().lower() for s in scopes if s.strip()}
    unknown = wanted - set(SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}; choose from {', '.join(SCOPES)}")
    if not wanted:
        raise ValueError("give at least one scope")
    return tuple(s for s in SCOPES if s in wanted)


def hash_key(key: str) -> str:
    """What is stored and looked up: a key has 256 random bits, so plain SHA-256 suffices."""
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> tuple[str, str]:
    """A fresh ``tts_<prefix8>_<secret>`` key and its prefix (which identifies it in lists)."""
    prefix = secrets.token_hex(4)
    return f"{KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def looks_like_key(key: str) -> bool:
    """Cheap shape check, so garbage never reaches the database."""
    return bool(_KEY_RE.match(key))


@dataclass
class Tenant:
    tenant_id: str
    name: str
    created_at: datetime
    disabled_at: datetime | None = None     # set: every key of the tenant is refused

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None


@dataclass
class ApiKey:
    tenant_id: str
    prefix: str
    key_hash: str
    scopes: tuple[str, ...]
    name: str
    created_at: datetime
    revoked_at: datetime | None = None
    id: int | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def revoke(self, now: datetime) -> bool:
        """Revoke once; False if it already was."""
        if self.revoked_at is not None:
            return False
        self.revoked_at = now
        return True

"""Account commands: create tenants, issue, list, revoke and verify their API keys."""
from __future__ import annotations

import logging
from typing import Iterable

from support_shared.events import utcnow

from .domain import (ApiKey, KeyNotFoundError, Tenant, TenantExistsError, TenantNotFoundError,
                     check_tenant_id, hash_key, looks_like_key, new_key, normalize_scopes)
from .persistence import AccountsUnitOfWork

logger = logging.getLogger(__name__)


def create_tenant(tenant_id: str, name: str | None, *, uow: AccountsUnitOfWork) -> Tenant:
    """A new tenant; nothing else is seeded (routing-service copies departments lazily)."""
    tenant = Tenant(tenant_id=check_tenant_id(tenant_id), name=name or tenant_id,
                    created_at=utcnow())
    with uow:
        if not uow.accounts.add_tenant(tenant):
            raise TenantExistsError(tenant_id)
        uow.commit()
    logger.info("created tenant %s", tenant_id)
    return tenant


def get_tenant(tenant_id: str, *, uow: AccountsUnitOfWork) -> Tenant:
    with uow:
        tenant = uow.accounts.get_tenant(tenant_id)
    if tenant is None:
        raise TenantNotFoundError(tenant_id)
    return tenant


def set_tenant_enabled(tenant_id: str, enabled: bool, *, uow: AccountsUnitOfWork) -> Tenant:
    """Disable a tenant (its keys are refused from now on, its data stays) or enable it again;
    doing it twice is fine."""
    with uow:
        tenant = uow.accounts.get_tenant(tenant_id)
        if tenant is None:
            raise TenantNotFoundError(tenant_id)
        if tenant.enabled != enabled:
            tenant.disabled_at = None if enabled else utcnow()
            uow.accounts.save_tenant(tenant)
            logger.info("%s tenant %s", "enabled" if enabled else "disabled", tenant_id)
        uow.commit()
    return tenant


def list_tenants(*, uow: AccountsUnitOfWork) -> list[Tenant]:
    with uow:
        return uow.accounts.list_tenants()


def create_key(tenant_id: str, scopes: Iterable[str], name: str = "", *,
               uow: AccountsUnitOfWork) -> tuple[ApiKey, str]:
    """Issue a key for the tenant; the plain key is returned once and never stored."""
    wanted = normalize_scopes(scopes)
    plain, prefix = new_key()
    key = ApiKey(tenant_id=tenant_id, prefix=prefix, key_hash=hash_key(plain), scopes=wanted,
                 name=name, created_at=utcnow())
    with uow:
        if uow.accounts.get_tenant(tenant_id) is None:
            raise TenantNotFoundError(tenant_id)
        uow.accounts.add_key(key)
        uow.commit()
    logger.info("issued API key %s (%s) for tenant %s with scopes %s", key.id, prefix,
                tenant_id, ",".join(wanted))
    return key, plain


def list_keys(tenant_id: str | None = None, *, uow: AccountsUnitOfWork) -> list[ApiKey]:
    with uow:
        return uow.accounts.list_keys(tenant_id)


def revoke_key(key_id: int, *, uow: AccountsUnitOfWork) -> ApiKey:
    """Revoke a key (again is fine); gateways stop accepting it within their cache TTL."""
    with uow:
        key = uow.accounts.get_key(key_id, for_update=True)
        if key is None:
            raise KeyNotFoundError(key_id)
        if key.revoke(utcnow()):
            uow.accounts.save_key(key)
            logger.info("revoked API key %s of tenant %s", key_id, key.tenant_id)
        uow.commit()
    return key


def verify_key(plain: str, *, uow: AccountsUnitOfWork) -> ApiKey | None:
    """The active key ``plain`` is, or None (unknown, malformed, revoked, or its tenant is
    disabled or gone)."""
    if not looks_like_key(plain):
        return None
    with uow:
        key = uow.accounts.key_by_hash(hash_key(plain))
        tenant = uow.accounts.get_tenant(key.tenant_id) if key is not None else None
    if key is None or not key.active or tenant is None or not tenant.enabled:
        return None
    return key
